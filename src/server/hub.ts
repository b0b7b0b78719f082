/**
 * The hub is the registry of live clients and what works over all of them: admission
 * (connection limits), the id index of accepted clients, the sweep (handshake, heartbeat
 * and close deadlines, one timer for all), and fan-out (broadcast, toId). It is the
 * adapter's host: the adapter reaches local clients through it.
 * It knows nothing about sockets, HTTP or packets' meaning: transports are handed to it
 * ready-made, and what a packet means is the dispatcher's business.
 */
import type { IncomingMessage } from 'node:http';
import type {
  Adapter,
  AdapterHost,
  ClientAnswer,
  ClientRequest,
  ClientSummary,
  PresencePart,
  PresenceQuery,
  StelarStats,
  TransportProtocol,
} from '../contracts/index.js';
import { CONNECT_HEADER, ErrorCode, StelarError } from '../protocol/index.js';
import { isBase64Char } from '../websocket/handshake.js';
import { eventMessage, eventPacketType } from '../wire/index.js';
import type { SendOptions } from './context.js';
import { channels, type ServerDiagnostics } from './diagnostics.js';
import { runHook } from './hooks.js';
import { InboundGuard } from './inbound-guard.js';
import { IPConnectionTracker } from './ip-tracker.js';
import type { ClientRegistry } from './lifecycle.js';
import { ConnectionRate } from './connection-rate.js';
import { admitConnection, handshakePacketLimit } from './limits.js';
import { type LocalMembers, listLocal } from './presence/local.js';
import type { ResolvedConfig } from './options.js';
import { failed, type OutgoingRequests, type SettleFn } from './outgoing-requests.js';
import type { RateLimits } from './rate-limiter.js';
import type { RecordTarget, SessionRecovery } from './recovery.js';
import { Session, type SessionHost, SessionState } from './session.js';
import { snapshotStats, type StatsCounters } from './stats.js';
import type { Transport, TransportSink } from './transport.js';
import type { IIPTracker } from './types.js';

/** How long a close may take before the sweep destroys the socket. */
const CLOSE_GRACE_MS = 10_000;
/**
 * How long a refused connection (4002/4003) gets to read its Error and close before its
 * socket is destroyed: enough for the bytes to leave, short enough that a peer at its cap
 * cannot pile up descriptors by never answering the close.
 */
export const REFUSED_GRACE_MS = 1000;
/** How often the sweep also prunes idle rate-limit buckets and the IP tracker. */
const CLEANUP_EVERY_MS = 10_000;
const ID_ATTEMPTS = 3;

/** Base64 characters and pads only (Buffer.from(…, 'base64') would skip anything else silently). */
function isBase64(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!isBase64Char(c) && c !== 0x3d) return false;
  }
  return true;
}

export interface HubParts {
  config: ResolvedConfig;
  adapter: Adapter;
  counters: StatsCounters;
  rateLimits: RateLimits;
  diagnostics: ServerDiagnostics;
  /** Requests the server sent to clients and their answers. */
  outgoing: OutgoingRequests;
}

export class Hub implements AdapterHost, ClientRegistry {
  readonly #config: ResolvedConfig;
  readonly #adapter: Adapter;
  readonly #counters: StatsCounters;
  readonly #rateLimits: RateLimits;
  readonly #diagnostics: ServerDiagnostics;
  readonly #outgoing: OutgoingRequests;
  /** Set once while the server is being built (recovery needs the adapter initialised with this hub). */
  #recovery: SessionRecovery | null = null;
  readonly #defaultTracker: IPConnectionTracker;
  /** Admitted sessions (any state until their socket is gone), with the IP tracker that counted them. */
  readonly #sessions = new Map<Session, IIPTracker>();
  /** Refused sessions still saying goodbye (Error packet + close in flight), with their destroy timer. */
  readonly #refused = new Map<Session, NodeJS.Timeout>();
  readonly #connectionRate = new ConnectionRate();
  /** Accepted clients by id: O(1) `toId`. */
  readonly #clients = new Map<string, Session>();
  /** Unfinished inbound frames: the global budget and the minimum rate. */
  readonly #inbound: InboundGuard;
  #idle: Array<() => void> = [];
  #lastCleanup = Date.now();
  /** What presence lists from: the adapter's membership on this node and the accepted clients. */
  readonly #localMembers: LocalMembers = {
    members: (room) => this.#adapter.getRoomMembers(room),
    isMember: (id, room) => this.#adapter.isMember(id, room),
    client: (id) => this.#clients.get(id),
  };

  constructor(parts: HubParts) {
    this.#config = parts.config;
    this.#adapter = parts.adapter;
    this.#counters = parts.counters;
    this.#rateLimits = parts.rateLimits;
    this.#diagnostics = parts.diagnostics;
    this.#outgoing = parts.outgoing;
    this.#defaultTracker = new IPConnectionTracker(() => this.#config.maxConnectionsPerIP);
    this.#inbound = new InboundGuard(parts.config);
  }

  /** Recorded fan-out (connection-state recovery); called once, by the composition root. */
  useRecovery(recovery: SessionRecovery | null): void {
    this.#recovery = recovery;
  }

  get logger() {
    return this.#config.logger;
  }
  get #ipTracker(): IIPTracker {
    return this.#config.customIPTracker ?? this.#defaultTracker;
  }
  get sessionCount(): number {
    return this.#sessions.size + this.#refused.size;
  }

  // ---- AdapterHost ------------------------------------------------------------------------

  getClient(id: string): Session | undefined {
    return this.#clients.get(id);
  }
  clients(): IterableIterator<Session> {
    return this.#clients.values();
  }
  countSent(n: number): void {
    this.#counters.sent(n);
  }
  presence(query: PresenceQuery): Promise<PresencePart> {
    return listLocal(this.#localMembers, query);
  }
  requestClient(id: string, request: ClientRequest, timeoutMs: number): Promise<ClientAnswer> | null {
    const session = this.#clients.get(id);
    if (!session) return null;
    return new Promise((resolve) => {
      try {
        this.#outgoing.send(session, request, timeoutMs, resolve);
      } catch (err) {
        resolve(failed(ErrorCode.ACK_FAILED, `the request could not be encoded: ${String(err)}`));
      }
    });
  }

  // ---- admission and the registry ---------------------------------------------------------

  /**
   * The client's Connect carried in its upgrade request (docs/PROTOCOL.md, "Connect in the
   * upgrade"), when it is usable: base64 only, within the limit a Connect frame has before
   * acceptance (checked on the encoded length, before decoding). null = none, or not taken:
   * the client then sends it as its first frame, as any client may.
   */
  upgradeConnect(req: IncomingMessage | null): string | null {
    const value = req?.headers[CONNECT_HEADER];
    if (typeof value !== 'string' || value.length === 0) return null;
    if (value.length > Math.ceil(handshakePacketLimit(this.#config) / 3) * 4 || !isBase64(value)) return null;
    return value;
  }

  /** Wraps a freshly opened transport in a session and admits it (or refuses it, politely). */
  open(
    protocol: TransportProtocol,
    remoteAddress: string,
    req: IncomingMessage | null,
    host: SessionHost,
    makeTransport: (sink: TransportSink) => Transport,
  ): Session {
    const session = new Session(host, this.#newId(), remoteAddress, req, makeTransport);
    // Until accepted, a peer is held to the Connect's limit at the framing layer too: a frame
    // announcing more is refused from its header, not buffered first (lifecycle lifts it).
    const c = this.#config;
    session.transport.limitInbound(c.maxFrameSize, handshakePacketLimit(c));
    this.#inbound.watch(session);
    const tracker = this.#ipTracker;
    // Every attempt is charged, refused or not: hammering a full server keeps an address out.
    const tooFast = this.#connectionRate.admit(this.#config.connectionRateLimit, remoteAddress);
    const capped = admitConnection(this.#config, this.#sessions.size, tracker, remoteAddress, protocol);
    const refusal = capped ?? tooFast;
    if (refusal) {
      const reason = capped === null ? 'connection_rate' : capped.code === ErrorCode.SERVER_FULL ? 'max_connections' : 'max_connections_per_ip';
      this.#counters.refused(protocol, reason);
      const timer = setTimeout(() => session.terminate(), REFUSED_GRACE_MS);
      timer.unref();
      this.#refused.set(session, timer);
      session.fail(refusal);
      return session;
    }
    this.#sessions.set(session, tracker);
    this.#guard(() => tracker.add(remoteAddress));
    // Its Connect came with the upgrade: handled now, as if it were the first frame.
    const connect = this.upgradeConnect(req);
    if (connect !== null) {
      session.onPacket(Buffer.from(connect, 'base64'));
      session.connectTakenFromUpgrade();
    }
    return session;
  }

  #newId(): string {
    for (let i = 0; i < ID_ATTEMPTS; i++) {
      const id = String(this.#config.generateClientId());
      if (id && !this.#clients.has(id)) return id;
    }
    throw new StelarError(ErrorCode.CONNECTION_CLOSED, 'generateClientId returned an empty or duplicate id');
  }

  has(id: string): boolean {
    return this.#clients.has(id);
  }

  register(session: Session): void {
    this.#clients.set(session.id, session);
  }

  unregister(session: Session): boolean {
    if (this.#clients.get(session.id) !== session) return false;
    this.#clients.delete(session.id);
    return true;
  }

  /** A session's socket is gone. True when it had been admitted (not refused at the door). */
  closed(session: Session): boolean {
    this.#inbound.forget(session);
    const timer = this.#refused.get(session);
    if (timer) {
      clearTimeout(timer);
      this.#refused.delete(session);
      this.#checkIdle();
      return false;
    }
    const tracker = this.#sessions.get(session);
    if (!tracker) return false;
    this.#sessions.delete(session);
    this.#guard(() => tracker.remove(session.remoteAddress));
    return true;
  }

  /** Call after the departure was handled: wakes `whenIdle` waiters when the last session is gone. */
  settled(): void {
    this.#checkIdle();
  }

  // ---- fan-out ----------------------------------------------------------------------------

  /** Fan-out to everyone, or to a room; the packet is encoded once. Returns local recipients. */
  broadcast(event: string, data: unknown, opts: SendOptions = {}): number {
    const c = this.#config;
    if (c.hooks.onBeforeBroadcast && opts.internal !== true) {
      const ok = runHook(c.hooks, 'onBeforeBroadcast', { event, data, excludeId: opts.exceptId, room: opts.room, binary: opts.binary === true }, c.logger);
      if (!ok) return 0;
    }
    const target: RecordTarget = { rooms: opts.room === undefined ? undefined : [opts.room], exceptId: opts.exceptId };
    const message = eventMessage(event, data, opts.binary);
    const recovery = this.#recovery;
    const sent = this.#adapter.broadcast(recovery ? recovery.record(message, target) : message, target);
    this.#counters.sent(sent);
    this.#counters.observe?.broadcast(sent);
    if (channels.broadcast.hasSubscribers) this.#diagnostics.broadcast(message.packet, message.bytes.length, opts, sent);
    return sent;
  }

  /** One client by id: O(1) locally; otherwise the adapter may know where it is. */
  toId(id: string, event: string, data: unknown, binary = false): boolean {
    const session = this.#clients.get(id);
    const recovery = this.#recovery;
    // With recovery on, toId is recorded too, so it takes the adapter's path even for a local client.
    if (session && !recovery) return session.sendPacket({ type: eventPacketType(data, binary), event, data });
    const message = eventMessage(event, data, binary);
    const sent = this.#adapter.sendTo(id, recovery ? recovery.record(message, { toId: id }) : message);
    if (sent) this.#counters.sent(1);
    if (channels.broadcast.hasSubscribers) this.#diagnostics.broadcast(message.packet, message.bytes.length, { toId: id }, sent ? 1 : 0);
    return sent;
  }

  /**
   * Asks one client by id (a server -> client request): O(1) locally; otherwise the adapter
   * may know where it is (`requestRemote`). Throws only what encoding the data throws.
   */
  request(id: string, request: ClientRequest, timeoutMs: number, settle: SettleFn): void {
    const session = this.#clients.get(id);
    if (session) return this.#outgoing.send(session, request, timeoutMs, settle);
    const adapter = this.#adapter;
    const remote = adapter.requestRemote;
    if (!remote) return settle(failed(ErrorCode.NOT_CONNECTED, `client ${id} is not connected`));
    // Encoded here first, so a value that cannot be sent fails the same way for every client.
    JSON.stringify(request.data);
    this.#outgoing.wait(() => remote.call(adapter, id, request, timeoutMs), request.event, timeoutMs, settle);
  }

  // ---- information ------------------------------------------------------------------------

  getClients(room?: string): ClientSummary[] {
    const out: ClientSummary[] = [];
    const a = this.#adapter;
    const ids = room === undefined ? this.#clients.keys() : a.getRoomMembers(room);
    for (const id of ids) {
      const s = this.#clients.get(id);
      if (!s) continue;
      out.push({
        id,
        protocol: s.protocol,
        remoteAddress: s.remoteAddress,
        rooms: [...a.roomsOf(id)],
        metadata: s.metadataObject(),
        connectedAt: s.connectedAt,
      });
    }
    return out;
  }

  stats(): StelarStats {
    return snapshotStats(this.#counters, {
      activeConnections: this.#clients.size,
      totalRooms: this.#adapter.roomCount(),
      rateLimiterEntries: this.#rateLimits.size(),
    });
  }

  // ---- timers and shutdown ----------------------------------------------------------------

  /** One pass over every session: handshake and heartbeat deadlines, stuck closes. */
  sweep(now: number): void {
    const c = this.#config;
    for (const s of this.#sessions.keys()) {
      if (s.state < SessionState.OPEN) {
        if (now - s.openedAt > c.connectTimeout) {
          this.#counters.refused(s.protocol, 'connect_timeout');
          const what = s.state === SessionState.AWAITING_CONNECT ? 'no Connect' : 'handshake (middleware) not finished';
          s.fail(new StelarError(ErrorCode.CONNECT_TIMEOUT, `${what} within ${c.connectTimeout} ms`));
        }
      } else if (s.state === SessionState.OPEN) {
        if (now - s.lastSeen > c.heartbeatTimeout) {
          s.fail(new StelarError(ErrorCode.HEARTBEAT_TIMEOUT, `no message for ${c.heartbeatTimeout} ms`));
        }
      } else if (s.state === SessionState.CLOSING && now - s.closingSince > CLOSE_GRACE_MS) {
        s.terminate();
      }
    }
    this.#inbound.sweep(now);
    if (now - this.#lastCleanup >= CLEANUP_EVERY_MS) {
      this.#lastCleanup = now;
      this.#rateLimits.cleanup();
      this.#connectionRate.cleanup();
      const tracker = this.#ipTracker;
      this.#guard(() => tracker.cleanup());
    }
  }

  /** Starts a close on every session (accepted or handshaking). */
  closeAll(code: number, reason: string): void {
    for (const s of this.#sessions.keys()) s.close(code, reason);
  }

  terminateAll(): void {
    for (const s of [...this.#sessions.keys(), ...this.#refused.keys()]) s.terminate();
  }

  /** Resolves once no session is left (they close on their own), or after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<void> {
    if (this.sessionCount === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#idle = this.#idle.filter((f) => f !== done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.#idle.push(done);
    });
  }

  #checkIdle(): void {
    if (this.sessionCount !== 0 || this.#idle.length === 0) return;
    for (const done of this.#idle.slice()) done();
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#config.logger.error('IP tracker failed:', err);
    }
  }
}
