/**
 * StelarContext: what every handler receives. One small object per message, with its
 * methods on the prototype, so creating it costs a few field writes. It is also the
 * "client" object handed to middleware, `onConnection` and `onDisconnect`.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { PacketType, thrownBody } from '../protocol/index.js';
import { eventPacketType } from '../wire/index.js';
import type { AnsweredFn } from './diagnostics.js';
import { assertCloseCode, type RequestInfo, type Session, SessionState } from './session.js';
import type { ClientInfo, ClientSummary, DefaultEvents, EventMap, ServerRequestOptions, TransportProtocol } from './types.js';

type BinaryLike = Uint8Array | ArrayBuffer;

export interface SendOptions {
  room?: string;
  exceptId?: string;
  binary?: boolean;
  /** The library's own send (presence notifications): not shown to `onBeforeBroadcast`. */
  internal?: boolean;
}

/** The little a context needs from the server: fan-out, rooms and the client list. */
export interface ContextHost {
  /** Fan-out to everyone, or to a room; returns local recipients. */
  broadcast(event: string, data: unknown, opts: SendOptions): number;
  toId(id: string, event: string, data: unknown): boolean;
  /** null = the client is in the room (now); else why not. */
  joinRoom(session: Session, room: string): Error | null;
  /** null = the client is not in the room (now); else why it may not leave. */
  leaveRoom(session: Session, room: string): Error | null;
  roomsOf(id: string): ReadonlySet<string>;
  getClients(room?: string): ClientSummary[];
  /** The connection's credentials expire at `at` (epoch ms; null: never). */
  setExpiry(session: Session, at: number | null): void;
  expiresAt(session: Session): number | null;
  /** Settles when the connection's backlog is below the high-water mark (rejects once it is closed). */
  drained(session: Session): Promise<void>;
  /** Asks this session's client (a server -> client request); the promise of its answer. */
  request(session: Session, event: string, data: unknown, options: ServerRequestOptions | undefined): Promise<unknown>;
}

/** `ctx.setExpiry`'s argument as epoch ms (null: no expiry); throws a TypeError for anything else. */
function expiryTime(at: Date | number | null): number | null {
  if (at === null) return null;
  const ms = at instanceof Date ? at.getTime() : at;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new TypeError('setExpiry needs a Date, a time in ms since the epoch (as Date.now() gives), or null');
  }
  return ms;
}

/**
 * `ctx.clientInfo`: the spec's shape and nothing more (id, protocol, remoteAddress, rooms,
 * metadata, connectedAt), read live from the session through getters. Frozen; the session
 * itself (its state machine, transport, close methods) is not reachable from it.
 */
class ClientInfoView implements ClientInfo {
  readonly #session: Session;
  constructor(session: Session) {
    this.#session = session;
    Object.freeze(this);
  }
  get id(): string {
    return this.#session.id;
  }
  get protocol(): TransportProtocol {
    return this.#session.protocol;
  }
  get remoteAddress(): string {
    return this.#session.remoteAddress;
  }
  /** A copy of the client's rooms at the moment it is read (join and leave through the context). */
  get rooms(): Set<string> {
    return this.#session.rooms;
  }
  /** The live metadata Map (`ctx.setMetadata` writes here). */
  get metadata(): Map<string, unknown> {
    return this.#session.metadata;
  }
  get connectedAt(): number {
    return this.#session.connectedAt;
  }
  toJSON(): { id: string; protocol: TransportProtocol; remoteAddress: string; rooms: string[]; metadata: Record<string, unknown>; connectedAt: number } {
    const s = this.#session;
    return { id: s.id, protocol: s.protocol, remoteAddress: s.remoteAddress, rooms: [...s.rooms], metadata: s.metadataObject(), connectedAt: s.connectedAt };
  }
}
Object.freeze(ClientInfoView.prototype);

export class StelarContext<TData = any, SE extends EventMap = DefaultEvents> {
  /** The message's payload (a Buffer for binary events; the Connect `auth` in middleware). */
  readonly data: TData;
  /**
   * The event this context was created for: 'connection' in middleware at the handshake and
   * in onConnection, 'refresh' in middleware checking fresh credentials, 'disconnect', 'drain'.
   */
  readonly eventName: string;
  readonly #host: ContextHost;
  readonly #session: Session;
  /** ACK request id (0 = not an ACK request) and the ack name to answer with. */
  readonly #ackId: number;
  readonly #ackName: string;
  #answered = false;
  #clientInfo: ClientInfoView | null = null;
  /** Told once when the ACK response is sent (the server's in-flight count, diagnostics' ack:end). */
  #onAnswered: AnsweredFn | null = null;

  constructor(host: ContextHost, session: Session, eventName: string, data: TData, ackId = 0, ackName = eventName) {
    this.#host = host;
    this.#session = session;
    this.eventName = eventName;
    this.data = data;
    this.#ackId = ackId;
    this.#ackName = ackName;
  }

  get id(): string {
    return this.#session.id;
  }
  /** The raw socket (net.Socket, or tls.TLSSocket with TLS). */
  get socket(): Socket {
    return this.#session.socket;
  }
  /**
   * The WebSocket upgrade request; null for TCP. Middleware sees the full IncomingMessage;
   * once the client is accepted only method, url, headers and httpVersion are kept.
   */
  get req(): IncomingMessage | RequestInfo | null {
    return this.#session.req;
  }
  get clientInfo(): ClientInfo {
    return (this.#clientInfo ??= new ClientInfoView(this.#session));
  }
  get protocol(): TransportProtocol {
    return this.#session.protocol;
  }
  get remoteAddress(): string {
    return this.#session.remoteAddress;
  }
  /** True while this context is an ACK request nobody has answered yet. */
  get awaitingAck(): boolean {
    return this.#ackId !== 0 && !this.#answered;
  }

  /**
   * The epoch ms at which this connection's credentials expire (`setExpiry`), or null.
   * During a refresh, middleware reads the expiry of the credentials being replaced.
   */
  get expiresAt(): number | null {
    return this.#host.expiresAt(this.#session);
  }

  /**
   * Bytes sent to this client and not yet handed to the kernel (queued for this tick's write
   * plus the socket's own buffer).
   */
  get bufferedAmount(): number {
    return this.#session.transport.bufferedAmount;
  }

  // ---- sending ----------------------------------------------------------------------------

  /**
   * Sends an event to this client. false: the connection's backlog reached its high-water
   * mark (the message is queued and sent anyway: wait for `drained()` or `onDrain` before
   * sending more), or the message could not be written (the connection is closing).
   */
  emit<K extends keyof SE & string>(event: K, data?: SE[K]): boolean {
    return this.#session.emitPacket({ type: eventPacketType(data), event, data });
  }

  /**
   * Resolves once this connection's backlog is below the high-water mark: at once when it is,
   * else when it drains. Rejects with STELAR_ERR_CONNECTION_CLOSED when the connection is
   * closed first. `if (!ctx.emit(...)) await ctx.drained();` keeps a producer's memory flat.
   */
  drained(): Promise<void> {
    return this.#host.drained(this.#session);
  }

  /** Answers the pending ACK request with `data`; outside a request it is `emit`. */
  send<K extends keyof SE & string>(event: K, data?: SE[K]): boolean {
    if (this.awaitingAck) return StelarContext.reply(this, true, data, event);
    return this.emit(event, data);
  }

  /** `emit` as a binary message; the same false. */
  emitBinary(event: string, data: BinaryLike): boolean {
    return this.#session.emitPacket({ type: PacketType.BINARY, event, data });
  }

  /** Sends to every client except this one (or except `excludeId` when given). */
  broadcast<K extends keyof SE & string>(event: K, data?: SE[K], excludeId: string = this.id): number {
    return this.#host.broadcast(event, data, { exceptId: excludeId });
  }

  broadcastBinary(event: string, data: BinaryLike, excludeId: string = this.id): number {
    return this.#host.broadcast(event, data, { exceptId: excludeId, binary: true });
  }

  /** Sends to a room (this client included, if it is a member, unless excluded). */
  to<K extends keyof SE & string>(room: string, event: K, data?: SE[K], excludeId?: string): number {
    return this.#host.broadcast(event, data, { room, exceptId: excludeId });
  }

  toId<K extends keyof SE & string>(id: string, event: K, data?: SE[K]): boolean {
    return this.#host.toId(id, event, data);
  }

  /**
   * Asks this client (an ACK Request from the server) and resolves with its answer: what its
   * `onRequest(name)` handler returned. Rejects with a StelarError: the client's own error,
   * STELAR_ERR_NO_ACK_HANDLER, STELAR_ERR_ACK_TIMEOUT, STELAR_ERR_CONNECTION_CLOSED,
   * STELAR_ERR_NOT_CONNECTED (not accepted yet, e.g. in middleware) or STELAR_ERR_REQUEST_LIMIT.
   */
  request<R = any, K extends keyof SE & string = keyof SE & string>(event: K, data?: SE[K], options?: ServerRequestOptions): Promise<R> {
    return this.#host.request(this.#session, event, data, options) as Promise<R>;
  }

  // ---- rooms and metadata -----------------------------------------------------------------

  /** true when the client is (now) in the room; false when a limit or hook refused it. */
  joinRoom(room: string): boolean {
    const already = this.#host.roomsOf(this.id).has(room);
    const ok = this.#host.joinRoom(this.#session, room) === null;
    if (ok && !already) this.#tellClient(PacketType.JOIN_ROOM, room);
    return ok;
  }

  leaveRoom(room: string): boolean {
    const was = this.#host.roomsOf(this.id).has(room);
    const ok = this.#host.leaveRoom(this.#session, room) === null;
    if (ok && was) this.#tellClient(PacketType.LEAVE_ROOM, room);
    return ok;
  }

  /**
   * A room change made by the server is announced with the same packet that confirms a
   * client's own join/leave, so the client's room list stays true (and is re-joined after a
   * reconnect). Before acceptance the client has no session yet: nothing is sent.
   */
  #tellClient(type: typeof PacketType.JOIN_ROOM | typeof PacketType.LEAVE_ROOM, room: string): void {
    if (this.#session.state === SessionState.OPEN) this.#session.sendPacket({ type, event: room });
  }

  getClients(room?: string): ClientSummary[] {
    return this.#host.getClients(room);
  }

  setMetadata(key: string, value: unknown): this {
    this.#session.metadata.set(key, value);
    return this;
  }

  getMetadata<T = unknown>(key: string): T | undefined {
    return this.#session.getMetadata(key) as T | undefined;
  }

  // ---- credentials ------------------------------------------------------------------------

  /**
   * When this connection's credentials expire: a `Date` or epoch ms (a JWT's `exp * 1000`),
   * or null for never. Before then a client that can refresh is asked for fresh credentials,
   * which the middleware chain checks again (`eventName === 'refresh'`) without dropping the
   * connection; at that time a client that could not refresh, did not answer, or was refused
   * is closed with 4010 (`STELAR_ERR_AUTH_EXPIRED`). Usually called from middleware; from any
   * handler it applies at once.
   */
  setExpiry(at: Date | number | null): this {
    this.#host.setExpiry(this.#session, expiryTime(at));
    return this;
  }

  // ---- ACK and lifecycle ------------------------------------------------------------------

  /**
   * Answers the pending ACK request (once). Outside a request, or after it was answered,
   * it sends an unsolicited ACK response with id 0 named `name` (e.g. a refusal in middleware).
   */
  ack(name: string, data?: unknown): boolean {
    if (this.awaitingAck) return StelarContext.reply(this, true, data, name);
    return this.#session.sendPacket({ type: PacketType.ACK_RESPONSE, event: name, ackId: 0, ok: true, data });
  }

  /** Closes this client's connection. */
  disconnect(code = 1000, reason = ''): void {
    assertCloseCode(code);
    this.#session.close(code, reason);
  }

  /** Sends the ACK response of `ctx`'s request, at most once. Used by the dispatcher too. */
  static reply(ctx: StelarContext, ok: boolean, data: unknown, name: string = ctx.#ackName): boolean {
    if (ctx.#ackId === 0 || ctx.#answered) return false;
    ctx.#answered = true;
    let sent = false;
    try {
      sent = ctx.#session.sendPacket({ type: PacketType.ACK_RESPONSE, event: name, ackId: ctx.#ackId, ok, data });
      return sent;
    } finally {
      // Also when the answer cannot be encoded: the dispatcher sends the error answer at once.
      const told = ctx.#onAnswered;
      ctx.#onAnswered = null;
      told?.(ok, data, sent);
    }
  }

  /** The id of `ctx`'s ACK request (0 = none). Used by the dispatcher. */
  static ackIdOf(ctx: StelarContext): number {
    return ctx.#ackId;
  }

  /** Calls `fn` once, when `ctx`'s ACK response is sent. Used by the dispatcher. */
  static onAnswered(ctx: StelarContext, fn: AnsweredFn): void {
    ctx.#onAnswered = fn;
  }

  /** The ACK error body for a thrown value: `{ message, code }`. */
  static errorBody(err: unknown): { message: string; code: string } {
    return thrownBody(err);
  }
}
