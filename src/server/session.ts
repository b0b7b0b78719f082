/**
 * One connected client, over either transport. A session is small on purpose: a handful
 * of scalar fields; the metadata Map is created on first use, rooms live in the adapter,
 * there is no timer per client (the heartbeat sweep reads `lastSeen`).
 *
 * Inbound packets are handled one by one. When a step goes async (middleware, an async
 * custom rate limiter), later packets wait in a bounded queue so order is preserved.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AdapterClient, EncodedMessage } from '../adapter/adapter.js';
import { CloseCode, type Packet, PacketType, type StelarError } from '../protocol/index.js';
import type { SessionRecoveryState } from './recovery.js';
import type { Transport, TransportSink } from './transport.js';
import type { IIPTracker, TransportProtocol } from './types.js';

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
  onSlowConsumer(session: Session, buffered: number): void;
  countSent(n: number): void;
  roomsOf(id: string): ReadonlySet<string>;
  readonly maxBufferedBytes: number;
}

type TransportFactory = (sink: TransportSink) => Transport;

/** Upgrade headers with no use once the WebSocket is open (slimRequest drops them). */
const HANDSHAKE_ONLY_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
]);

/** Close codes an application may send: 1000, or the registered/private ranges 3000-4999. */
export function assertCloseCode(code: number): void {
  if (!Number.isInteger(code) || (code !== 1000 && (code < 3000 || code > 4999))) {
    throw new RangeError(`close code must be 1000 or 3000-4999, got ${code}`);
  }
}

export class Session implements TransportSink, AdapterClient {
  /** Changes only before acceptance, when a recovered session takes back its old id. */
  id: string;
  readonly remoteAddress: string;
  readonly openedAt: number;
  connectedAt = 0;
  lastSeen: number;
  state: SessionState = SessionState.AWAITING_CONNECT;
  /** When a close was started (the sweep terminates sessions stuck closing). */
  closingSince = 0;
  /** The tracker this connection was counted in (it may be swapped at runtime). */
  ipTracker: IIPTracker | null = null;
  /** Set when the client asked for connection-state recovery and the server has it on. */
  recovery: SessionRecoveryState | null = null;
  readonly transport: Transport;
  #host: SessionHost;
  #req: IncomingMessage | RequestInfo | null;
  #metadata: Map<string, unknown> | null = null;
  /** Packets waiting behind an async step; null when nothing is pending. */
  #queue: Buffer[] | null = null;
  #queuedBytes = 0;

  constructor(host: SessionHost, id: string, remoteAddress: string, req: IncomingMessage | null, makeTransport: TransportFactory) {
    this.#host = host;
    this.id = id;
    this.remoteAddress = remoteAddress;
    this.#req = req;
    this.openedAt = this.lastSeen = Date.now();
    this.transport = makeTransport(this);
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
  slimRequest(): void {
    const req = this.#req;
    if (!req) return;
    const headers: IncomingHttpHeaders = {};
    for (const name in req.headers) {
      if (!HANDSHAKE_ONLY_HEADERS.has(name)) headers[name] = req.headers[name];
    }
    this.#req = { method: req.method, url: req.url, headers, httpVersion: req.httpVersion };
  }

  /** The rooms this client is in (a fresh empty Set when none: nothing shared to mutate). */
  get rooms(): ReadonlySet<string> {
    const rooms = this.#host.roomsOf(this.id);
    return rooms.size ? rooms : new Set<string>();
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
    return this.state === SessionState.OPEN;
  }

  // ---- sending ----------------------------------------------------------------------------

  /** Writes one packet; false when the session is closing or now over its buffer cap. */
  sendPacket(packet: Packet): boolean {
    if (this.state >= SessionState.CLOSING || !this.transport.isOpen || this.#backlogged()) return false;
    this.transport.sendPacket(packet);
    if (packet.type !== PacketType.PONG) this.#host.countSent(1);
    return true;
  }

  /** Writes shared pre-encoded bytes (broadcast). Only accepted clients receive them. */
  sendEncoded(message: EncodedMessage): boolean {
    const recovery = this.recovery;
    if (this.state !== SessionState.OPEN || !this.transport.isOpen || this.#backlogged()) {
      if (recovery && message.offset !== undefined) recovery.lost = true;
      return false;
    }
    if (recovery && message.offset !== undefined && recovery.skipUpTo !== null && !recovery.passes(message.offset)) return true;
    if (recovery && message.offset !== undefined && message.withOffset) {
      // Recorded: this session gets the variant carrying the offset (shared by all such sessions).
      recovery.sent = message.offset;
      message = message.withOffset();
    }
    this.transport.sendEncoded(message);
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
    this.sendPacket({ type: PacketType.ERROR, event: err.code, data: { message: err.message, ...extra } });
    if (err.closeCode) this.close(err.closeCode, err.message);
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.state >= SessionState.CLOSING) return;
    this.state = SessionState.CLOSING;
    this.closingSince = Date.now();
    this.#queue = null;
    this.transport.close(code, reason);
  }

  terminate(): void {
    if (this.state === SessionState.CLOSED) return;
    if (this.state < SessionState.CLOSING) {
      this.state = SessionState.CLOSING;
      this.closingSince = Date.now();
    }
    this.#queue = null;
    this.transport.terminate();
  }

  // ---- TransportSink ----------------------------------------------------------------------

  onPacket(bytes: Buffer): void {
    this.lastSeen = Date.now();
    if (this.state >= SessionState.CLOSING) return;
    // During the handshake nothing but Pings is allowed, and those are answered at once
    // (the dispatcher refuses anything else): only an accepted session queues.
    if (this.#queue && this.state !== SessionState.HANDSHAKE) {
      this.#enqueue(bytes);
      return;
    }
    this.#run(bytes);
  }

  onInvalid(err: StelarError): void {
    this.lastSeen = Date.now();
    if (this.state < SessionState.CLOSING) this.#host.onInvalid(this, err);
  }

  onProtocolError(err: StelarError): void {
    if (this.state < SessionState.CLOSING) {
      this.state = SessionState.CLOSING;
      this.closingSince = Date.now();
    }
    this.#host.onProtocolError(this, err);
  }

  onAutoReply(): void {
    // Pongs are written below the session, so they skip sendPacket's check: check here, or a
    // ping flood from a peer that never reads would grow the socket's buffer without bound.
    if (this.state < SessionState.CLOSING) this.#backlogged();
  }

  onClose(code: number, reason: string): void {
    if (this.state === SessionState.CLOSED) return;
    this.state = SessionState.CLOSED;
    this.#queue = null;
    this.#host.onClosed(this, code, reason);
  }

  // ---- ordered inbound processing ---------------------------------------------------------

  #run(bytes: Buffer): void {
    const pending = this.#host.handlePacket(this, bytes);
    if (pending && !this.#queue) {
      this.#queue = [];
      pending.then(() => this.#drain(), () => this.#drain());
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
    if (!queue || this.state >= SessionState.CLOSING) return;
    for (let i = 0; i < queue.length; i++) {
      if (this.state >= SessionState.CLOSING) return;
      if (this.#queue) {
        // An async step started again: the rest waits behind it, in order.
        for (let j = i; j < queue.length; j++) this.#enqueue(queue[j]);
        return;
      }
      this.#run(queue[i]);
    }
  }
}
