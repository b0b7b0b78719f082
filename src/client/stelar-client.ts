/**
 * StelarClient's core: the public API, composed of small parts. Platform-agnostic (no Node
 * imports): a `ClientPlatform` supplies the transport, so the same class runs in Node
 * (WebSocket or TCP) and in browsers.
 *
 *   context.ts   options, logger, target url, listeners, errors and hooks (shared by all parts)
 *   session.ts   state machine, transport per attempt, Connect handshake, heartbeat, reconnection
 *   outbound.ts  sending, the offline queue, requests waiting for their answer and their timeouts
 *   inbound.ts   dispatch of the server's packets
 *   rooms.ts     remembered rooms, re-joined after reconnections
 *   recovery.ts  connection-state recovery (what to resume, replayed events held until 'connect')
 */
import { PacketType, type PresenceData, type PresenceResult, ReservedEvent } from '../protocol/index.js';
import { Answers } from './answers.js';
import { ClientContext } from './context.js';
import type { Listener } from './emitter.js';
import { Inbound } from './inbound.js';
import type {
  AckInfo,
  AckListener,
  AnyListener,
  ClientError,
  ClientReservedEvents,
  ConnectInfo,
  DisconnectInfo,
  RequestHandler,
  ServerRequestInfo,
} from './listeners.js';
import { type ClientState, copyOptions, type ResolvedClientOptions, type StelarClientOptions } from './options.js';
import { type EmitOptions, Outbound, type RequestOptions } from './outbound.js';
import { Recovery } from './recovery.js';
import { RoomSet } from './rooms.js';
import { Session } from './session.js';
import { bytesOf, type ClientPlatform } from './transport.js';
import type { UrlList } from './url.js';

// Event maps: event name -> payload type. `any` keeps untyped use free of casts.
export type EventMap = Record<string, any>;
export type DefaultEventMap = EventMap;
export type EventNames<M extends EventMap> = keyof M & string;
/**
 * A listener for `event`: the client's own events (`ClientReservedEvents`) have their fixed
 * arguments whatever the map says (a server event with such a name reaches only `onAll`);
 * other events get their payload from the map `M`.
 */
export type EventHandler<M extends EventMap, K, P extends object = PresenceData> = K extends keyof ClientReservedEvents
  ? ClientReservedEvents<P>[K]
  : (data: M[K & keyof M]) => void;

export type { AckInfo, AckListener, AnyListener, ClientError, ClientReservedEvents, ConnectInfo, DisconnectInfo, RequestHandler, ServerRequestInfo };

/**
 * `connect(callback)`'s callback. It is called with no argument (the `connect` event carries
 * `{ recovered }`), and typed so that a one-parameter function that accepts `undefined` fits too,
 * as in `await new Promise((resolve) => client.connect(resolve))`.
 */
export type ConnectCallback = (value?: undefined) => void;
export type { AckCallback, EmitOptions, RequestOptions } from './outbound.js';

/**
 * `S`: events the server sends, `C`: events the client sends, `P`: the metadata fields the
 * server's presence shows (what `presence()` and the `presence_join`/`presence_leave` events carry).
 */
export class StelarClientCore<S extends EventMap = DefaultEventMap, C extends EventMap = DefaultEventMap, P extends object = PresenceData> {
  #ctx: ClientContext;
  #rooms = new RoomSet();
  #recovery = new Recovery();
  #session: Session;
  #outbound: Outbound;
  #inbound: Inbound;
  #answers: Answers;

  constructor(url: UrlList, options: StelarClientOptions | undefined, platform: ClientPlatform) {
    this.#ctx = new ClientContext(url, options, platform, this);
    // The session calls back into parts built after it; nothing runs before connect().
    this.#session = new Session(
      this.#ctx,
      this.#rooms,
      this.#recovery,
      {
        onPacket: (bytes) => this.#inbound.onPacketBytes(bytes),
        flushQueue: (transport) => this.#outbound.flush(transport),
        failInFlight: (code) => this.#outbound.failInFlight(code),
        cancelAll: () => this.#outbound.cancelAll(),
        deliver: (event, data, isBinary, offset) => this.#inbound.deliver(event, data, isBinary, offset),
        onDrain: () => this.#outbound.onDrain(),
      },
      options?.heartbeatInterval !== undefined,
    );
    this.#outbound = new Outbound(this.#ctx, this.#session);
    this.#answers = new Answers(this.#ctx, this.#session);
    this.#inbound = new Inbound(this.#ctx, this.#session, this.#outbound, this.#rooms, this.#recovery, this.#answers);
  }

  // ---------------------------------------------------------------- listeners

  on<K extends keyof ClientReservedEvents | EventNames<S>>(event: K, handler: EventHandler<S, K, P>): this;
  on(event: string, handler: Listener): this {
    this.#ctx.listeners.events.on(event, handler);
    return this;
  }

  once<K extends keyof ClientReservedEvents | EventNames<S>>(event: K, handler: EventHandler<S, K, P>): this;
  once(event: string, handler: Listener): this {
    this.#ctx.listeners.events.once(event, handler);
    return this;
  }

  off<K extends keyof ClientReservedEvents | EventNames<S>>(event: K, handler: EventHandler<S, K, P>): this;
  off(event: string, handler: Listener): this {
    this.#ctx.listeners.events.off(event, handler);
    return this;
  }

  /** Every event from the server, as `(event, data)`, after the event's own listeners. */
  onAll(handler: AnyListener): this {
    this.#ctx.listeners.addAny(handler);
    return this;
  }

  offAll(handler?: AnyListener): this {
    this.#ctx.listeners.removeAny(handler);
    return this;
  }

  /**
   * ACK Responses named `name`: answers to this client's requests and unsolicited ones
   * (id 0, e.g. `ctx.ack('error', ...)` in server middleware). `info.ok` is false when the
   * server's handler failed; `data` is then `{ message, code }`.
   */
  onAck(name: string, handler: AckListener): this {
    this.#ctx.listeners.addAck(name, handler);
    return this;
  }

  offAck(name: string, handler?: AckListener): this {
    this.#ctx.listeners.removeAck(name, handler);
    return this;
  }

  /**
   * Answers the server's requests named `name` (`server.request(id, name, data)` or
   * `ctx.request(name, data)`): the return value, or what its promise resolves to, is the
   * answer; a throw or rejection fails the request with `{ message, code }`. One handler per
   * name (a second call replaces it). A request with no handler is answered with
   * STELAR_ERR_NO_ACK_HANDLER.
   */
  onRequest<K extends EventNames<S>>(name: K, handler: (data: S[K], info: ServerRequestInfo) => unknown): this;
  onRequest(name: string, handler: RequestHandler): this {
    this.#ctx.listeners.setRequest(name, handler);
    return this;
  }

  offRequest(name: string): this {
    this.#ctx.listeners.removeRequest(name);
    return this;
  }

  /** Without an argument: every listener, `onAll`, `onAck` and `onRequest` ones included. */
  removeAllListeners(event?: string): this {
    this.#ctx.listeners.clear(event);
    return this;
  }

  listenerCount(event: string): number {
    return this.#ctx.listeners.events.listenerCount(event);
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends an event. Returns true when handed to the connection now, false when the
   * connection's backlog reached its high-water mark (the message is sent anyway: wait for the
   * `drain` event before sending more), when it was queued (offline; `drain` follows the
   * reconnection), cancelled by `onBeforeEmit`, or refused (too large).
   * `opts.ack` turns it into a request: a callback gets `(err, data)`, a string names the
   * server's ack handler and the answer goes to `onAck(name)` listeners.
   */
  emit<K extends EventNames<C>>(event: K, data?: C[K], opts?: EmitOptions): boolean {
    this.#checkEvent(event);
    if (opts?.ack !== undefined) return this.#outbound.emitWithAck(event, data, opts);
    return this.#outbound.emit(event, data);
  }

  emitBinary<K extends EventNames<C>>(event: K, data: Uint8Array | ArrayBuffer | ArrayBufferView): boolean {
    this.#checkEvent(event);
    const bytes = bytesOf(data);
    if (!bytes) throw new TypeError('emitBinary needs a Uint8Array, Buffer, ArrayBuffer or typed array (use sendFile for a Blob)');
    return this.#outbound.emitBinary(event, bytes);
  }

  /**
   * Sends a file's bytes as a binary event (default event 'file'). Node: a Buffer, a path or
   * a Blob; browser: a Blob/File or bytes. Bytes are sent at once; a path or Blob after it
   * has been read, so a later `emit` may overtake it.
   */
  sendFile(file: unknown, event = 'file'): Promise<boolean> {
    this.#checkEvent(event);
    const bytes = bytesOf(file);
    if (bytes) return Promise.resolve(this.emitBinary(event as EventNames<C>, bytes));
    return this.#ctx.platform.readFile(file).then((read) => this.emitBinary(event as EventNames<C>, read));
  }

  /** `sendFile` with the event 'image' by default. */
  sendImage(image: unknown, event = 'image'): Promise<boolean> {
    return this.sendFile(image, event);
  }

  /**
   * Request/response: resolves with the value returned by the server's `onAck(ackName)`;
   * rejects with ACK_TIMEOUT after `ackTimeout`, with the server's error (message kept), or
   * CONNECTION_CLOSED when the connection drops before the answer. Made offline, it waits in
   * the queue with its timeout already running.
   */
  request<R = any, K extends EventNames<C> = EventNames<C>>(event: K, data?: C[K], ackName?: string, opts?: RequestOptions): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#checkEvent(event);
      this.#outbound.request(event, data, ackName ?? event, opts?.timeout, resolve as (v: unknown) => void, reject);
    });
  }

  /**
   * Who is in `room`, across every server of a cluster: `{ room, count, members: [{ id, data }],
   * truncated }`, `data` holding the metadata fields the server shows. Only for a member of the
   * room (else it rejects with `STELAR_ERR_NOT_IN_ROOM`) on a server with the `presence`
   * option; one at a time (a second while the first is unanswered: `STELAR_ERR_PRESENCE_BUSY`).
   * A request like any other: offline it waits in the queue, `opts.timeout` bounds the wait.
   */
  presence(room: string, opts?: RequestOptions): Promise<PresenceResult<P>> {
    return new Promise<PresenceResult<P>>((resolve, reject) => {
      this.#checkRoom(room);
      const event = ReservedEvent.PRESENCE;
      this.#outbound.request(event, { room }, event, opts?.timeout, resolve as (v: unknown) => void, reject);
    });
  }

  // ---------------------------------------------------------------- rooms

  /** Joins now if connected, else at the next connection; remembered and re-joined after every reconnect. */
  joinRoom(room: string): this {
    this.#checkRoom(room);
    if (!this.#rooms.join(room)) return this;
    if (this.#session.isOpen) this.#session.control({ type: PacketType.JOIN_ROOM, event: room });
    return this;
  }

  leaveRoom(room: string): this {
    this.#checkRoom(room);
    // Listed until the server confirms: it may refuse the leave (onClientLeaveRoom).
    this.#rooms.leave(room, this.#session.isOpen);
    if (this.#session.isOpen) this.#session.control({ type: PacketType.LEAVE_ROOM, event: room });
    this.#session.settleRoom(room);
    return this;
  }

  /** Rooms this client asked for (and the server did not refuse or remove it from). */
  getRooms(): string[] {
    return this.#rooms.list();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts connecting (no-op if already under way). `callback` runs once, on the next successful connection. */
  connect(callback?: ConnectCallback): this {
    this.#session.connect(callback);
    return this;
  }

  /**
   * Closes the connection (code 1000) and stops: no reconnection, every timer cleared, waiting
   * and queued requests rejected with CONNECTION_CLOSED, the queue and remembered rooms emptied.
   * Listeners stay (use removeAllListeners). 'disconnect' fires if a session was open.
   */
  disconnect(): this {
    this.#session.disconnect();
    return this;
  }

  // ---------------------------------------------------------------- state and metrics

  isConnected(): boolean {
    return this.#session.state === 'connected';
  }

  getState(): ClientState {
    return this.#session.state;
  }

  /** True when the current session is the previous one resumed (connection-state recovery). */
  isRecovered(): boolean {
    return this.#recovery.recovered;
  }

  getId(): string | null {
    return this.#session.id;
  }

  getUrl(): string {
    return this.#ctx.target.url;
  }

  /** Every server address, normalised (one, or several for failover), in the order they are tried. */
  getUrls(): string[] {
    return this.#ctx.targets.map((t) => t.url);
  }

  /**
   * One address or a list (failover). Takes effect at the next connection attempt, from the
   * first address. Throws INVALID_URL at once for a bad url.
   */
  setUrl(url: UrlList): this {
    this.#ctx.setUrl(url);
    return this;
  }

  /** Events, requests and answers to the server's requests handed to a transport (not pings). */
  getMessagesSent(): number {
    return this.#outbound.sent + this.#answers.sent;
  }

  getMessagesReceived(): number {
    return this.#inbound.received;
  }

  getLastError(): ClientError | null {
    return this.#ctx.lastError;
  }

  /** `Date.now()` of the last successful connection, null before the first. */
  getConnectTime(): number | null {
    return this.#session.connectTime;
  }

  getQueueSize(): number {
    return this.#outbound.queueSize;
  }

  /**
   * Bytes handed to the connection and not yet written to the network (0 while there is no
   * connection; the offline queue is `getQueueSize()`). Above the high-water mark `emit`
   * answers false until `drain`.
   */
  get bufferedAmount(): number {
    return this.#session.bufferedAmount;
  }

  // ---------------------------------------------------------------- runtime options

  /**
   * Changes options without reconnecting. Timeouts, limits, hooks (merged: pass
   * `{ hooks: { onX: undefined } }` to remove one) and the queue size apply at once, the
   * heartbeat restarts with the new interval; mode, tls, headers and url apply at the next
   * connection. `reconnection: false` cancels a pending reconnection.
   */
  updateOptions(patch: StelarClientOptions): this {
    const next = this.#ctx.updateOptions(patch);
    if (patch.heartbeatInterval !== undefined) this.#session.useUserHeartbeat();
    this.#outbound.resizeQueue(next.messageQueueSize);
    if (!next.reconnection) this.#session.cancelReconnect();
    return this;
  }

  /** A copy of the options in effect (changing it changes nothing); heartbeatInterval is the one in use. */
  getOptions(): ResolvedClientOptions {
    return { ...copyOptions(this.#ctx.options), heartbeatInterval: this.#session.heartbeatInterval };
  }

  // ---------------------------------------------------------------- argument checks

  #checkEvent(event: unknown): void {
    if (typeof event !== 'string' || event === '') throw new TypeError('event name must be a non-empty string');
  }

  #checkRoom(room: unknown): void {
    if (typeof room !== 'string' || room === '') throw new TypeError('room name must be a non-empty string');
  }
}
