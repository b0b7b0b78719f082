/**
 * One connected client, over either transport. A session is small on purpose: a handful
 * of scalar fields; the metadata Map is created on first use, rooms live in the adapter,
 * there is no timer per client (the heartbeat sweep reads `lastSeen`).
 *
 * The session owns its state machine: its fields are private and every move between states
 * happens in `#moveTo`, called from the few methods that name a transition
 * (`beginHandshake`, `open`, `close`/`terminate`, and the transport's reports).
 *
 *   AWAITING_CONNECT --Connect--> HANDSHAKE --accepted--> OPEN --close--> CLOSING --gone--> CLOSED
 *        any state ------------------- close / protocol error / socket gone ------------------^
 *
 * Inbound packets are handled one by one. When a step goes async (middleware, an async
 * custom rate limiter), later packets wait in a bounded queue so order is preserved.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AdapterClient, EncodedMessage, RateLimitConfig, TransportProtocol } from '../contracts/index.js';
import { CloseCode, CONNECT_HEADER, ErrorCode, type Packet, PacketType, peekPacketType, StelarError } from '../protocol/index.js';
import { runDeferredWrites } from '../net/write-batcher.js';
import { channels, type ServerDiagnostics } from './diagnostics.js';
import type { SessionRecoveryState } from './recovery.js';
import type { StatsCounters } from './stats.js';
import type { Transport, TransportSink } from './transport.js';

export const SessionState = {
  /** Transport open, waiting for the client's Connect. */
  AWAITING_CONNECT: 0,
  /** Connect received, middleware running. */
  HANDSHAKE: 1,
  /** Accepted: the client has its id. */
  OPEN: 2,
  CLOSING: 3,
  CLOSED: 4,
} as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

/** The part of the upgrade request kept after middleware (the full request is dropped). */
export interface RequestInfo {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  httpVersion?: string;
}

/** What a session needs from the server. */
export interface SessionHost {
  /** Handles one packet; a Promise means "wait before the next one". */
  handlePacket(session: Session, bytes: Buffer): void | Promise<void>;
  onInvalid(session: Session, err: StelarError): void;
  onProtocolError(session: Session, err: StelarError): void;
  onClosed(session: Session, code: number, reason: string): void;
  /** The close began (a close handshake under way): nothing the peer sends is read from now on. */
  onClosing?(session: Session): void;
  onSlowConsumer(session: Session, buffered: number): void;
  /** The server's counters: what a session writes and the errors it reports are counted here. */
  readonly counters: StatsCounters;
  /** The session's backlog fell below the high-water mark after a send answered false. */
  onDrain(session: Session): void;
  roomsOf(id: string): ReadonlySet<string>;
  readonly maxBufferedBytes: number;
  /** Where diagnostics messages about this session are published (read only while a channel has subscribers). */
  readonly diagnostics: ServerDiagnostics;
  /** Pings (WebSocket ping frames and Ping packets together) allowed per window; null = no limit. */
  readonly pingLimit: RateLimitConfig | null;
}

type TransportFactory = (sink: TransportSink) => Transport;

/** Upgrade headers with no use once the WebSocket is open (slimRequest drops them). */
const HANDSHAKE_ONLY_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  CONNECT_HEADER, // the Connect it carried was handled at the upgrade
]);

/**
 * Timestamps are kept as milliseconds since this module loaded, not as `Date.now()` values:
 * a field holding a number past 2^31 is a separate heap number (16 bytes) in V8, one per
 * timestamp per idle client, while small integers live in the field itself. The getters add
 * the epoch back. (After 24.8 days of uptime new values are heap numbers again: only the
 * saving ends, nothing else changes.)
 */
const EPOCH = Date.now();
function now(): number {
  const t = Date.now() - EPOCH;
  // `| 0` makes the small-integer form explicit (a plain subtraction of two doubles is stored as
  // a heap number); a value outside int32 (24.8 days of uptime, or a clock set far back) stays
  // as it is, never wrapped.
  const i = t | 0;
  return i === t ? i : t;
}

/** Close codes an application may send: 1000, or the registered/private ranges 3000-4999. */
export function assertCloseCode(code: number): void {
  if (!Number.isInteger(code) || (code !== 1000 && (code < 3000 || code > 4999))) {
    throw new RangeError(`close code must be 1000 or 3000-4999, got ${code}`);
  }
}

/**
 * The Connect came in the upgrade request. A proxy that drops our 101's acknowledgement
 * makes the client send it again as its first frame: that repeat is ignored, once.
 */
const REPEAT_CONNECT = 1;
/** The client's Connect said it answers requests for fresh credentials (`refresh: true`). */
const CAN_REFRESH = 2;

export class Session implements TransportSink, AdapterClient {
  readonly remoteAddress: string;
  readonly transport: Transport;
  #id: string;
  #state: SessionState = SessionState.AWAITING_CONNECT;
  /** Since EPOCH, like every timestamp here; -1 = not yet. */
  #openedAt: number;
  #connectedAt = -1;
  #lastSeen: number;
  /** When a close was started (the sweep terminates sessions stuck closing). */
  #closingSince = -1;
  /** Set when the client asked for connection-state recovery and the server has it on. */
  #recovery: SessionRecoveryState | null = null;
  #host: SessionHost;
  #req: IncomingMessage | RequestInfo | null;
  #metadata: Map<string, unknown> | null = null;
  /** Invalid packets seen so far (the dispatcher closes the session past a cap). */
  #invalidPackets = 0;
  /** Packets waiting behind an async step; null when nothing is pending. */
  #queue: Buffer[] | null = null;
  #queuedBytes = 0;
  /** Ping budget: pings counted in the window that started at `#pingWindowStart`. */
  #pings = 0;
  #pingWindowStart = 0;
  /** REPEAT_CONNECT | CAN_REFRESH: two booleans in one small integer (one slot per idle client). */
  #flags = 0;

  constructor(host: SessionHost, id: string, remoteAddress: string, req: IncomingMessage | null, makeTransport: TransportFactory) {
    this.#host = host;
    this.#id = id;
    this.remoteAddress = remoteAddress;
    this.#req = req;
    this.#openedAt = this.#lastSeen = now();
    this.transport = makeTransport(this);
  }

  get id(): string {
    return this.#id;
  }
  get state(): SessionState {
    return this.#state;
  }
  /** ms timestamp of the transport's opening. */
  get openedAt(): number {
    return EPOCH + this.#openedAt;
  }
  /** ms timestamp of acceptance (0 until then). */
  get connectedAt(): number {
    return this.#connectedAt < 0 ? 0 : EPOCH + this.#connectedAt;
  }
  /**
   * When the peer last showed life: sent anything (any packet counts), or, while the transport
   * paused its reads (the peer is not reading our backlog, so what it sends waits unread),
   * read some of that backlog. The heartbeat sweep reads this once per period: a peer that
   * took bytes since the sweep's previous look counts as alive, so a slow reader is never cut
   * only because we stopped listening; a peer that neither sends nor reads for
   * heartbeatTimeout is (4005).
   */
  get lastSeen(): number {
    const t = this.transport;
    if (t.readsPaused && t.peerTookSinceLastLook()) this.#lastSeen = now();
    return EPOCH + this.#lastSeen;
  }
  /** ms timestamp of the start of the close (0 while not closing). */
  get closingSince(): number {
    return this.#closingSince < 0 ? 0 : EPOCH + this.#closingSince;
  }
  get recovery(): SessionRecoveryState | null {
    return this.#recovery;
  }

  /** Counts one invalid packet from the peer; returns how many it has sent. */
  noteInvalid(): number {
    return ++this.#invalidPackets;
  }

  // ---- transitions ------------------------------------------------------------------------

  /** The single place the state changes. Never moves backwards; CLOSED is final. */
  #moveTo(next: SessionState): boolean {
    if (next <= this.#state) return false;
    this.#state = next;
    if (next >= SessionState.CLOSING) this.#queue = null;
    if (next === SessionState.CLOSING) {
      this.#closingSince = now();
      this.#host.onClosing?.(this);
    }
    return true;
  }

  /**
   * The client's Connect arrived: middleware runs next. `recovery` is what it negotiated;
   * `canRefresh`: it said it answers requests for fresh credentials.
   */
  beginHandshake(recovery: SessionRecoveryState | null, canRefresh = false): boolean {
    if (this.#state !== SessionState.AWAITING_CONNECT) return false;
    this.#recovery = recovery;
    if (canRefresh) this.#flags |= CAN_REFRESH;
    return this.#moveTo(SessionState.HANDSHAKE);
  }

  /** The client answers requests for fresh credentials (its Connect said `refresh: true`). */
  get canRefresh(): boolean {
    return (this.#flags & CAN_REFRESH) !== 0;
  }

  /**
   * Accepted: the client goes live under `id` (its own, or the one recovery gave back) and
   * the upgrade request is slimmed to what handlers may still read.
   */
  open(id: string): boolean {
    if (this.#state !== SessionState.HANDSHAKE) return false;
    this.#id = id;
    this.#connectedAt = now();
    this.#slimRequest();
    return this.#moveTo(SessionState.OPEN);
  }

  get protocol(): TransportProtocol {
    return this.transport.protocol;
  }

  get socket() {
    return this.transport.socket;
  }

  get req(): IncomingMessage | RequestInfo | null {
    return this.#req;
  }

  /**
   * After middleware: keep method/url/headers, let the request object go. The headers that
   * only served the WebSocket handshake are dropped (a few hundred bytes per idle client).
   */
  #slimRequest(): void {
    const req = this.#req;
    if (!req) return;
    const headers: IncomingHttpHeaders = {};
    for (const name in req.headers) {
      if (!HANDSHAKE_ONLY_HEADERS.has(name)) headers[name] = req.headers[name];
    }
    this.#req = { method: req.method, url: req.url, headers, httpVersion: req.httpVersion };
  }

  /** The rooms this client is in: a copy, so nobody outside can change the adapter's membership. */
  get rooms(): Set<string> {
    return new Set(this.#host.roomsOf(this.#id));
  }

  /** Created on first access: clients that never use metadata never pay for a Map. */
  get metadata(): Map<string, unknown> {
    return (this.#metadata ??= new Map());
  }

  getMetadata(key: string): unknown {
    return this.#metadata?.get(key);
  }

  metadataObject(): Record<string, unknown> {
    return this.#metadata ? Object.fromEntries(this.#metadata) : {};
  }

  get isOpen(): boolean {
    return this.#state === SessionState.OPEN;
  }

  // ---- sending ----------------------------------------------------------------------------

  /** Writes one packet; false when the session is closing or now over its buffer cap. */
  sendPacket(packet: Packet): boolean {
    if (this.#state >= SessionState.CLOSING || !this.transport.isOpen || this.#backlogged()) return false;
    const size = this.transport.sendPacket(packet);
    this.#host.counters.packetOut(this.transport.protocol, packet.type, size);
    if (packet.type !== PacketType.PONG && channels.messageOut.hasSubscribers) this.#host.diagnostics.messageOut(this, packet, size);
    return true;
  }

  /**
   * `sendPacket` for the application's own sends (`ctx.emit`): false also once the backlog
   * reached the high-water mark. The packet is queued and sent either way; a producer waits
   * for drain (`ctx.drained()`, `server.onDrain`) before it sends more.
   */
  emitPacket(packet: Packet): boolean {
    return this.sendPacket(packet) && this.transport.writableNeedDrain !== true;
  }

  /** Writes shared pre-encoded bytes (broadcast). Only accepted clients receive them. */
  sendEncoded(message: EncodedMessage): boolean {
    const recovery = this.#recovery;
    const transport = this.transport;
    if (this.#state !== SessionState.OPEN || !transport.isOpen || this.#backlogged()) {
      if (recovery && message.offset !== undefined) recovery.lost = true;
      return false;
    }
    // The common case, once per recipient of a broadcast: no recovery, or an unrecorded message.
    if (recovery === null || message.offset === undefined) {
      transport.sendEncoded(message);
      this.#host.counters.encodedOut(transport.protocol, message);
      return true;
    }
    if (recovery.skipUpTo !== null && !recovery.passes(message.offset)) return true;
    if (message.withOffset) {
      // Recorded: this session gets the variant carrying the offset (shared by all such sessions).
      recovery.sent = message.offset;
      message = message.withOffset();
    }
    transport.sendEncoded(message);
    this.#host.counters.encodedOut(transport.protocol, message);
    return true;
  }

  /**
   * The backlog is measured before a write, so one large message never trips it by itself:
   * only bytes the client has left unread past the cap do. Memory per client is therefore
   * bounded by maxBufferedBytes plus one message.
   */
  #backlogged(): boolean {
    const buffered = this.transport.bufferedAmount;
    if (buffered <= this.#host.maxBufferedBytes) return false;
    // A consumer this far behind would make us hold its backlog forever: cut it loose.
    this.#host.onSlowConsumer(this, buffered);
    return true;
  }

  /** Error packet `{ event: code, data: { message, ...extra } }`, then close if the error says so. */
  fail(err: StelarError, extra?: Record<string, unknown>): void {
    this.#host.counters.error(err.code);
    this.sendPacket({ type: PacketType.ERROR, event: err.code, data: { message: err.message, ...extra } });
    if (err.closeCode) this.close(err.closeCode, err.message);
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    // A room broadcast made before this close still reaches this client (it is handed over
    // at the flush, see MemoryAdapter), and before the close frame.
    runDeferredWrites();
    if (!this.#moveTo(SessionState.CLOSING)) return;
    this.transport.close(code, reason);
  }

  terminate(): void {
    if (this.#state === SessionState.CLOSED) return;
    this.#moveTo(SessionState.CLOSING);
    this.#queue = null;
    this.transport.terminate();
  }

  // ---- TransportSink ----------------------------------------------------------------------

  /** The upgrade request carried this client's Connect, which was handled already. */
  connectTakenFromUpgrade(): void {
    this.#flags |= REPEAT_CONNECT;
  }

  onPacket(bytes: Buffer): void {
    this.#lastSeen = now();
    if (this.#state >= SessionState.CLOSING) return;
    if ((this.#flags & REPEAT_CONNECT) !== 0) {
      this.#flags &= ~REPEAT_CONNECT;
      if (peekPacketType(bytes) === PacketType.CONNECT) return;
    }
    if (peekPacketType(bytes) === PacketType.PING && this.#overPingBudget()) return;
    // During the handshake nothing but Pings is allowed, and those are answered at once
    // (the dispatcher refuses anything else): only an accepted session queues.
    if (this.#queue && this.#state !== SessionState.HANDSHAKE) {
      this.#enqueue(bytes);
      return;
    }
    this.#run(bytes);
  }

  onInvalid(err: StelarError): void {
    this.#lastSeen = now();
    if (this.#state < SessionState.CLOSING) this.#host.onInvalid(this, err);
  }

  onProtocolError(err: StelarError): void {
    this.#moveTo(SessionState.CLOSING);
    this.#host.onProtocolError(this, err);
  }

  onAutoReply(): void {
    // Pongs are written below the session, so they skip sendPacket's check: check here, or a
    // ping flood from a peer that never reads would grow the socket's buffer without bound.
    if (this.#state < SessionState.CLOSING && !this.#overPingBudget()) this.#backlogged();
  }

  /**
   * Counts one ping (a WebSocket ping frame or a Ping packet) in a fixed window. Past the
   * budget the peer gets Error STELAR_ERR_RATE_LIMITED and close 4008 (back off, then
   * reconnect): pings are not application traffic and the rate limit does not see them.
   */
  #overPingBudget(): boolean {
    const limit = this.#host.pingLimit;
    if (!limit) return false;
    const t = now();
    // No ping counted yet: the first one opens the first window.
    if (this.#pings === 0 || t - this.#pingWindowStart >= limit.windowMs) {
      this.#pingWindowStart = t;
      this.#pings = 0;
    }
    if (++this.#pings <= limit.maxPoints) return false;
    if (channels.rateLimit.hasSubscribers) this.#host.diagnostics.rateLimit(this, '', 'ping', true);
    this.fail(new StelarError(ErrorCode.RATE_LIMITED, `too many pings: more than ${limit.maxPoints} in ${limit.windowMs} ms`, CloseCode.RATE_LIMITED));
    return true;
  }

  onDrain(): void {
    if (this.#state < SessionState.CLOSING) this.#host.onDrain(this);
  }

  onClose(code: number, reason: string): void {
    if (!this.#moveTo(SessionState.CLOSED)) return;
    this.#host.onClosed(this, code, reason);
  }

  // ---- ordered inbound processing ---------------------------------------------------------

  #run(bytes: Buffer): void {
    const pending = this.#host.handlePacket(this, bytes);
    if (pending && !this.#queue) {
      this.#queue = [];
      pending.then(
        () => this.#drain(),
        () => this.#drain(),
      );
    }
  }

  #enqueue(bytes: Buffer): void {
    this.#queuedBytes += bytes.length;
    if (this.#queuedBytes > this.#host.maxBufferedBytes) {
      this.close(CloseCode.POLICY_VIOLATION, 'too many messages while the previous one is pending');
      return;
    }
    this.#queue?.push(bytes);
  }

  #drain(): void {
    const queue = this.#queue;
    this.#queue = null;
    this.#queuedBytes = 0;
    if (!queue || this.#state >= SessionState.CLOSING) return;
    for (let i = 0; i < queue.length; i++) {
      if (this.#state >= SessionState.CLOSING) return;
      if (this.#queue) {
        // An async step started again: the rest waits behind it, in order.
        for (let j = i; j < queue.length; j++) this.#enqueue(queue[j]);
        return;
      }
      this.#run(queue[i]);
    }
  }
}
