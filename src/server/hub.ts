/**
 * The hub holds the server's live state: sessions, the id index of accepted clients, the
 * adapter (rooms), counters and limiters. It admits and retires sessions and performs
 * every send, so the context, the dispatcher and the public API share one code path.
 * It knows nothing about sockets or HTTP: transports are handed to it ready-made.
 */
import type { IncomingMessage } from 'node:http';
import type { Adapter, AdapterHost } from '../adapter/adapter.js';
import { CloseCode, ErrorCode, type Packet, PacketType, PROTOCOL_VERSION, StelarError } from '../protocol/index.js';
import { eventMessage, eventPacketType } from './broadcast.js';
import { StelarContext } from './context.js';
import { Dispatcher, Handlers, invokeHandler } from './dispatcher.js';
import { runHook } from './hooks.js';
import { IPConnectionTracker } from './ip-tracker.js';
import { admitConnection, checkRoomJoin } from './limits.js';
import type { ResolvedConfig } from './options.js';
import { RateLimits } from './rate-limiter.js';
import { type RecordTarget, type RestoreResult, SessionRecovery } from './recovery.js';
import { Session, type SessionHost, SessionState } from './session.js';
import { snapshotStats, StatsCounters } from './stats.js';
import type { Transport, TransportSink } from './transport.js';
import type { ClientSummary, IIPTracker, StelarStats, TransportProtocol } from './types.js';

export interface SendOptions {
  room?: string;
  exceptId?: string;
  binary?: boolean;
}

/** How long a close may take before the sweep destroys the socket. */
const CLOSE_GRACE_MS = 10_000;
/** How often the sweep also prunes idle rate-limit buckets and the IP tracker. */
const CLEANUP_EVERY_MS = 10_000;
const ID_ATTEMPTS = 3;

export class Hub implements AdapterHost, SessionHost {
  readonly config: ResolvedConfig;
  readonly adapter: Adapter;
  readonly counters = new StatsCounters();
  readonly rateLimits: RateLimits;
  readonly handlers = new Handlers();
  /** Connection-state recovery, when the `recovery` option is on. */
  readonly recovery: SessionRecovery | null;
  readonly #dispatcher: Dispatcher;
  readonly #defaultTracker: IPConnectionTracker;
  /** Admitted sessions (any state until their socket is gone). */
  readonly #sessions = new Set<Session>();
  /** Refused sessions still saying goodbye (Error packet + close in flight). */
  readonly #refused = new Set<Session>();
  /** Accepted clients by id: O(1) `toId`. */
  readonly #clients = new Map<string, Session>();
  #idle: Array<() => void> = [];
  #lastCleanup = Date.now();

  constructor(config: ResolvedConfig, adapter: Adapter) {
    this.config = config;
    this.adapter = adapter;
    this.rateLimits = new RateLimits(config, (err) => config.logger.error('rate limiter failed:', err));
    this.#defaultTracker = new IPConnectionTracker(() => this.config.maxConnectionsPerIP);
    this.#dispatcher = new Dispatcher(this);
    adapter.init(this);
    this.recovery = config.recovery ? new SessionRecovery(config.recovery, adapter, config.logger) : null;
  }

  get logger() {
    return this.config.logger;
  }
  get maxBufferedBytes(): number {
    return this.config.maxBufferedBytes;
  }
  get ipTracker(): IIPTracker {
    return this.config.customIPTracker ?? this.#defaultTracker;
  }
  get clientCount(): number {
    return this.#clients.size;
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

  // ---- session lifecycle ------------------------------------------------------------------

  /** Wraps a freshly opened transport in a session and admits it (or refuses it, politely). */
  open(protocol: TransportProtocol, remoteAddress: string, req: IncomingMessage | null, makeTransport: (sink: TransportSink) => Transport): Session {
    const session = new Session(this, this.#newId(), remoteAddress, req, makeTransport);
    const tracker = this.ipTracker;
    const refusal = admitConnection(this.config, this.#sessions.size, tracker, remoteAddress, protocol);
    if (refusal) {
      this.#refused.add(session);
      session.fail(refusal);
      return session;
    }
    this.#sessions.add(session);
    session.ipTracker = tracker;
    this.#guard(() => tracker.add(remoteAddress));
    return session;
  }

  #newId(): string {
    for (let i = 0; i < ID_ATTEMPTS; i++) {
      const id = String(this.config.generateClientId());
      if (id && !this.#clients.has(id)) return id;
    }
    throw new StelarError(ErrorCode.CONNECTION_CLOSED, 'generateClientId returned an empty or duplicate id');
  }

  /** Middleware accepted: the client gets its id and becomes addressable (after a restore, maybe async). */
  accept(session: Session, ctx: StelarContext): void | Promise<void> {
    if (session.state !== SessionState.HANDSHAKE) return;
    const restoring = this.recovery?.restore(session);
    if (restoring instanceof Promise) return restoring.then((outcome) => this.#admit(session, ctx, outcome));
    this.#admit(session, ctx, restoring);
  }

  #admit(session: Session, ctx: StelarContext, restored: RestoreResult | undefined): void {
    if (session.state !== SessionState.HANDSHAKE) {
      if (restored?.ok) restored.take(); // closed while the store answered: release it
      return;
    }
    // Synchronous from here on: a recovered session's replay cannot be overtaken by live messages.
    const admission = this.recovery?.admit(session, restored, (id) => this.#clients.has(id)) ?? null;
    session.state = SessionState.OPEN;
    session.connectedAt = Date.now();
    session.slimRequest();
    this.#clients.set(session.id, session);
    this.counters.totalConnections++;
    if (session.protocol === 'ws') this.counters.wsConnections++;
    else this.counters.tcpConnections++;
    const c = this.config;
    session.sendPacket({
      type: PacketType.CONNECT,
      event: '',
      data: {
        v: PROTOCOL_VERSION, id: session.id, heartbeatInterval: c.heartbeatInterval, heartbeatTimeout: c.heartbeatTimeout, maxPayloadSize: c.maxPayloadSize,
        ...admission?.fields,
      },
    });
    if (admission) this.counters.messagesSent += admission.replay();
    if (c.hooks.onClientConnect) {
      runHook(c.hooks, 'onClientConnect', { clientId: session.id, ip: session.remoteAddress, protocol: session.protocol, metadata: session.metadata }, c.logger);
    }
    for (const handler of this.handlers.connection) {
      if (session.state !== SessionState.OPEN) break;
      invokeHandler(handler, ctx, c.logger, 'onConnection');
    }
  }

  onClosed(session: Session, code: number, reason: string): void {
    if (this.#refused.delete(session)) return this.#checkIdle();
    if (!this.#sessions.delete(session)) return;
    const tracker = session.ipTracker;
    if (tracker) this.#guard(() => tracker.remove(session.remoteAddress));
    if (this.#clients.get(session.id) === session) this.#retire(session, code, reason);
    this.#checkIdle();
  }

  /** A client that was accepted is gone: hooks and handlers see its rooms one last time. */
  #retire(session: Session, code: number, reason: string): void {
    const id = session.id;
    const c = this.config;
    // Saved first, with the history position of this very moment: whatever is sent from here
    // on (disconnect handlers included) is not written to it and must be replayed.
    this.recovery?.save(session, this.adapter.roomsOf(id), code);
    this.#clients.delete(id);
    if (session.protocol === 'ws') this.counters.wsConnections--;
    else this.counters.tcpConnections--;
    if (c.hooks.onClientDisconnect) {
      runHook(c.hooks, 'onClientDisconnect', {
        clientId: id, ip: session.remoteAddress, protocol: session.protocol, rooms: session.rooms, metadata: session.metadata, code, reason,
      }, c.logger);
    }
    if (this.handlers.disconnect.length) {
      const ctx = new StelarContext(this, session, 'disconnect', { code, reason });
      for (const handler of this.handlers.disconnect) invokeHandler(handler, ctx, c.logger, 'onDisconnect', { code, reason });
    }
    this.adapter.removeAll(id);
    this.rateLimits.forget(id);
  }

  // ---- SessionHost ------------------------------------------------------------------------

  handlePacket(session: Session, bytes: Buffer): void | Promise<void> {
    return this.#dispatcher.handle(session, bytes);
  }

  onInvalid(session: Session, err: StelarError): void {
    this.reportInvalid(session, err);
    session.fail(err);
  }

  onProtocolError(session: Session, err: StelarError): void {
    // The transport already told the peer (close frame / Disconnect); only report it.
    this.reportInvalid(session, err);
  }

  reportInvalid(session: Session, err: StelarError): void {
    const c = this.config;
    c.logger.debug(`invalid message from ${session.id}: ${err.message}`);
    runHook(c.hooks, 'onInvalidMessage', { clientId: session.id, reason: err.message, code: err.code, protocol: session.protocol }, c.logger);
  }

  onSlowConsumer(session: Session, buffered: number): void {
    if (session.state >= SessionState.CLOSING) return;
    const c = this.config;
    c.logger.warn(`client ${session.id} is not reading (${buffered} bytes queued): disconnecting`);
    runHook(c.hooks, 'onSlowConsumer', { clientId: session.id, protocol: session.protocol, bufferedBytes: buffered, max: c.maxBufferedBytes }, c.logger);
    session.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
  }

  countSent(n: number): void {
    this.counters.messagesSent += n;
  }

  roomsOf(id: string): ReadonlySet<string> {
    return this.adapter.roomsOf(id);
  }

  // ---- sending ----------------------------------------------------------------------------

  /** Fan-out to everyone, or to a room; the packet is encoded once. Returns local recipients. */
  broadcast(event: string, data: unknown, opts: SendOptions = {}): number {
    const c = this.config;
    if (c.hooks.onBeforeBroadcast) {
      const ok = runHook(c.hooks, 'onBeforeBroadcast', { event, data, excludeId: opts.exceptId, room: opts.room, binary: opts.binary === true }, c.logger);
      if (!ok) return 0;
    }
    const target: RecordTarget = { rooms: opts.room === undefined ? undefined : [opts.room], exceptId: opts.exceptId };
    let message = eventMessage(event, data, opts.binary);
    if (this.recovery) message = this.recovery.record(message, target);
    const sent = this.adapter.broadcast(message, target);
    this.counters.messagesSent += sent;
    return sent;
  }

  /** One client by id: O(1) locally; otherwise the adapter may know where it is. */
  toId(id: string, event: string, data: unknown, binary = false): boolean {
    const session = this.#clients.get(id);
    // With recovery on, toId is recorded too, so it takes the adapter's path even for a local client.
    if (session && !this.recovery) return session.sendPacket({ type: eventPacketType(data, binary), event, data });
    let message = eventMessage(event, data, binary);
    if (this.recovery) message = this.recovery.record(message, { toId: id });
    const sent = this.adapter.sendTo(id, message);
    if (sent) this.counters.messagesSent++;
    return sent;
  }

  sendPacket(id: string, packet: Packet): boolean {
    return this.#clients.get(id)?.sendPacket(packet) ?? false;
  }

  // ---- rooms ------------------------------------------------------------------------------

  /** null = the client is in the room (joined now or already); else why not. */
  joinRoom(session: Session, room: string): StelarError | null {
    const a = this.adapter;
    if (session.state >= SessionState.CLOSING) return new StelarError(ErrorCode.NOT_CONNECTED, 'client is disconnected');
    if (typeof room === 'string' && a.isMember(session.id, room)) return null;
    const refusal = checkRoomJoin(this.config, {
      clientId: session.id,
      room,
      protocol: session.protocol,
      currentRooms: a.roomsOf(session.id).size,
      totalRooms: a.roomCount(),
      roomExists: typeof room === 'string' && a.hasRoom(room),
      metadata: () => session.metadata,
    });
    if (refusal) return refusal;
    a.addToRoom(session.id, room);
    return null;
  }

  /** null = the client is not in the room (left now or was not); else why it may not leave. */
  leaveRoom(session: Session, room: string): StelarError | null {
    const a = this.adapter;
    if (typeof room !== 'string' || !a.isMember(session.id, room)) return null;
    const c = this.config;
    if (c.hooks.onClientLeaveRoom) {
      const ok = runHook(c.hooks, 'onClientLeaveRoom', { clientId: session.id, room, metadata: session.metadata, protocol: session.protocol }, c.logger);
      if (!ok) return new StelarError(ErrorCode.ROOM_REJECTED, `leaving room "${room}" was refused`);
    }
    a.removeFromRoom(session.id, room);
    return null;
  }

  // ---- information ------------------------------------------------------------------------

  getClients(room?: string): ClientSummary[] {
    const out: ClientSummary[] = [];
    const ids = room === undefined ? this.#clients.keys() : this.adapter.getRoomMembers(room);
    for (const id of ids) {
      const s = this.#clients.get(id);
      if (!s) continue;
      out.push({ id, protocol: s.protocol, remoteAddress: s.remoteAddress, rooms: [...this.adapter.roomsOf(id)], metadata: s.metadataObject(), connectedAt: s.connectedAt });
    }
    return out;
  }

  stats(): StelarStats {
    return snapshotStats(this.counters, {
      activeConnections: this.#clients.size,
      totalRooms: this.adapter.roomCount(),
      rateLimiterEntries: this.rateLimits.size(),
    });
  }

  // ---- timers and shutdown ----------------------------------------------------------------

  /** One pass over every session: handshake and heartbeat deadlines, stuck closes. */
  sweep(now: number): void {
    const c = this.config;
    for (const s of this.#sessions) {
      if (s.state < SessionState.OPEN) {
        if (now - s.openedAt > c.connectTimeout) {
          s.fail(new StelarError(ErrorCode.CONNECT_TIMEOUT, `no Connect within ${c.connectTimeout} ms`));
        }
      } else if (s.state === SessionState.OPEN) {
        if (now - s.lastSeen > c.heartbeatTimeout) {
          s.fail(new StelarError(ErrorCode.HEARTBEAT_TIMEOUT, `no message for ${c.heartbeatTimeout} ms`));
        }
      } else if (s.state === SessionState.CLOSING && now - s.closingSince > CLOSE_GRACE_MS) {
        s.terminate();
      }
    }
    for (const s of this.#refused) if (now - s.closingSince > CLOSE_GRACE_MS) s.terminate();
    if (now - this.#lastCleanup >= CLEANUP_EVERY_MS) {
      this.#lastCleanup = now;
      this.rateLimits.cleanup();
      const tracker = this.ipTracker;
      this.#guard(() => tracker.cleanup());
    }
  }

  /** Starts a close on every session (accepted, handshaking or refused). */
  closeAll(code: number, reason: string): void {
    for (const s of this.#sessions) s.close(code, reason);
  }

  terminateAll(): void {
    for (const s of [...this.#sessions, ...this.#refused]) s.terminate();
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
      this.config.logger.error('IP tracker failed:', err);
    }
  }
}
