/**
 * StelarClient's core: the session protocol, reconnection, offline queue, acks and hooks.
 * Platform-agnostic (no Node imports): a `ClientPlatform` supplies the transport, so the
 * same class runs in Node (WebSocket or TCP) and in browsers. See docs/ARCHITECTURE.md,
 * "The session protocol", for what rides on the packets.
 *
 * Life of a connection:
 *   connect() -> transport opens -> we send Connect { v, auth? } -> the server's Connect
 *   { id, heartbeatInterval, maxPayloadSize } -> re-join remembered rooms and wait for their
 *   echoes -> send the offline queue in order -> state 'connected', 'connect' event.
 * Messages emitted before that point are queued, so nothing can overtake the queue.
 * On close: in-flight requests fail, 'disconnect' { code, reason } if a session existed, then
 * reconnect with backoff unless the close code's advice is 'stop', reconnection is off, or
 * the attempts are used up ('reconnect_failed').
 */
import { createLogger, type LoggerLike } from '../logger.js';
import {
  CloseCode,
  decodePacket,
  encodePacket,
  ErrorCode,
  type Packet,
  PacketType,
  PROTOCOL_VERSION,
  reconnectAdvice,
  type ReconnectAdvice,
  StelarError,
} from '../protocol/index.js';
import { AckTracker, type PendingAck } from './acks.js';
import { reconnectDelay } from './backoff.js';
import type { Listener } from './emitter.js';
import {
  type AckInfo,
  type AckListener,
  type AnyListener,
  type ClientReservedEvents,
  type DisconnectInfo,
  ListenerRegistry,
} from './listeners.js';
import {
  type ClientHooks,
  type ClientState,
  copyOptions,
  type ErrorContext,
  type ResolvedClientOptions,
  resolveOptions,
  type StelarClientOptions,
} from './options.js';
import { BoundedQueue } from './queue.js';
import { startInterval, startTimer, type TimerHandle } from './timers.js';
import { bytesOf, type ClientPlatform, type ClientTransport } from './transport.js';
import { type ClientTarget, resolveTarget, type UrlInput } from './url.js';

/** A history offset as the server writes it: `epoch:position` (docs/PROTOCOL.md, Recovery). */
const OFFSET_RE = /^[A-Za-z0-9]{1,32}:\d{1,20}(?:-\d{1,20})?$/;

// Event maps: event name -> payload type. `any` keeps untyped use free of casts.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = Record<string, any>;
export type DefaultEventMap = EventMap;
export type EventNames<M extends EventMap> = keyof M & string;

export type { AckInfo, AckListener, AnyListener, ClientReservedEvents, DisconnectInfo };

export type AckCallback = (error: StelarError | null, data?: unknown) => void;
export interface EmitOptions {
  /** A callback `(err, data)` for the answer, or the name of the server's ack handler (answer goes to `onAck(name)`). */
  ack?: AckCallback | string;
  /** Server ack handler for the callback form; default: the event name. */
  ackName?: string;
  /** Overrides `ackTimeout` for this message (ms). */
  timeout?: number;
}
export interface RequestOptions {
  timeout?: number;
}

interface QueueEntry {
  event: string;
  packet: Packet;
  /** Encoded once when queued (the size check needs it); re-encoded only if the prefix differs. */
  bytes: Uint8Array;
  prefix: 0 | 4;
  pending: PendingAck | undefined;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));
const APP_CODE_RE = /^[\w.:-]{1,64}$/;

/** An error sent by the server (Error packet or failed ACK), its code kept when it is one of ours. */
function remoteError(data: unknown, fallbackCode: ErrorCode, fallbackMessage: string): StelarError {
  const body = (data && typeof data === 'object' ? data : {}) as { message?: unknown; code?: unknown };
  const message = typeof body.message === 'string' ? body.message : typeof data === 'string' ? data : fallbackMessage;
  // An application's own code (e.g. 'NOT_FOUND' thrown by an onAck handler) is kept as sent,
  // so callers can branch on it; anything that is not a short string falls back.
  const code = typeof body.code === 'string' && (KNOWN_CODES.has(body.code) || APP_CODE_RE.test(body.code)) ? (body.code as ErrorCode) : fallbackCode;
  return new StelarError(code, message, 0);
}

export class StelarClientCore<S extends EventMap = DefaultEventMap, C extends EventMap = DefaultEventMap> {
  #platform: ClientPlatform;
  #options: ResolvedClientOptions;
  #logger: LoggerLike;
  /** True once the user chose a heartbeat interval; otherwise the server's value wins. */
  #heartbeatFromUser: boolean;
  #input: UrlInput;
  #target: ClientTarget;
  #state: ClientState = 'disconnected';

  #listeners: ListenerRegistry;

  #transport: ClientTransport | null = null;
  /** Bumped on every attempt and by disconnect(): handlers of older transports go quiet. */
  #generation = 0;
  /** The server's Connect arrived on the current transport. */
  #sessionOpen = false;
  #id: string | null = null;
  #serverHeartbeat: number | undefined;
  #serverMaxPayload: number | undefined;
  /** Close info from a Disconnect packet or a local decision, used when the transport only says 1005/1006. */
  #closeInfo: { code: number; reason: string } | null = null;
  #attempt = 0;
  #connectCallbacks: Array<() => void> = [];

  #queue: BoundedQueue<QueueEntry>;
  #acks = new AckTracker();
  /** Remembered rooms: re-joined after every reconnection. */
  #rooms = new Set<string>();
  /** Rooms re-joined at connect whose echo has not come back yet. */
  #awaitingRooms: Set<string> | null = null;

  #connectTimer: TimerHandle | undefined;
  #reconnectTimer: TimerHandle | undefined;
  #roomsTimer: TimerHandle | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastInbound = 0;

  #sent = 0;
  #received = 0;
  #lastError: Error | null = null;
  #connectTime: number | null = null;

  // Connection-state recovery (option `recovery`): what to resume, and the current outcome.
  /** Id, token and last processed offset of the session to resume after a drop. */
  #resume: { id: string; token: string; offset: string | null } | null = null;
  #resumeSent = false;
  #recovered = false;
  /** Replayed events received before 'connect' of a recovered session: delivered right after it. */
  #held: Array<[string, unknown, boolean, string | null]> | null = null;

  constructor(url: UrlInput, options: StelarClientOptions | undefined, platform: ClientPlatform) {
    this.#platform = platform;
    this.#options = resolveOptions(options ?? {});
    this.#checkMode(this.#options);
    this.#heartbeatFromUser = options?.heartbeatInterval !== undefined;
    this.#logger = createLogger(this.#options.logger, 'warn', '[stelar-client]');
    this.#input = url;
    this.#target = resolveTarget(url, this.#options.mode, this.#options.tls !== false);
    this.#queue = new BoundedQueue(this.#options.messageQueueSize);
    this.#listeners = new ListenerRegistry(
      (err, event) => {
        // A throwing 'error' listener must not feed itself.
        if (event === 'error') this.#logger.error(`an 'error' listener threw:`, err);
        else this.#report(err, 'handler');
      },
      (err) => this.#report(err, 'handler'),
    );
  }

  // ---------------------------------------------------------------- listeners

  on<K extends keyof ClientReservedEvents>(event: K, handler: ClientReservedEvents[K]): this;
  on<K extends EventNames<S>>(event: K, handler: (data: S[K]) => void): this;
  on(event: string, handler: Listener): this {
    this.#listeners.events.on(event, handler);
    return this;
  }

  once<K extends keyof ClientReservedEvents>(event: K, handler: ClientReservedEvents[K]): this;
  once<K extends EventNames<S>>(event: K, handler: (data: S[K]) => void): this;
  once(event: string, handler: Listener): this {
    this.#listeners.events.once(event, handler);
    return this;
  }

  off<K extends keyof ClientReservedEvents>(event: K, handler: ClientReservedEvents[K]): this;
  off<K extends EventNames<S>>(event: K, handler: (data: S[K]) => void): this;
  off(event: string, handler: Listener): this {
    this.#listeners.events.off(event, handler);
    return this;
  }

  /** Every event from the server, as `(event, data)`, after the event's own listeners. */
  onAll(handler: AnyListener): this {
    this.#listeners.addAny(handler);
    return this;
  }

  offAll(handler?: AnyListener): this {
    this.#listeners.removeAny(handler);
    return this;
  }

  /**
   * ACK Responses named `name`: answers to this client's requests and unsolicited ones
   * (id 0, e.g. `ctx.ack('error', ...)` in server middleware). `info.ok` is false when the
   * server's handler failed; `data` is then `{ message, code }`.
   */
  onAck(name: string, handler: AckListener): this {
    this.#listeners.addAck(name, handler);
    return this;
  }

  offAck(name: string, handler?: AckListener): this {
    this.#listeners.removeAck(name, handler);
    return this;
  }

  /** Without an argument: every listener, `onAll` and `onAck` ones included. */
  removeAllListeners(event?: string): this {
    this.#listeners.clear(event);
    return this;
  }

  listenerCount(event: string): number {
    return this.#listeners.events.listenerCount(event);
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends an event. Returns true when handed to the connection now, false when it was
   * queued (offline), cancelled by `onBeforeEmit`, or refused (too large).
   * `opts.ack` turns it into a request: a callback gets `(err, data)`, a string names the
   * server's ack handler and the answer goes to `onAck(name)` listeners.
   */
  emit<K extends EventNames<C>>(event: K, data?: C[K], opts?: EmitOptions): boolean {
    this.#checkEvent(event);
    if (opts?.ack !== undefined) return this.#emitWithAck(event, data, opts);
    // Bytes always travel as a Binary packet (as on the server), never as JSON of a Buffer.
    const bytes = bytesOf(data);
    if (bytes) return this.#send({ type: PacketType.BINARY, event, data: bytes }, bytes, true, undefined);
    return this.#send({ type: PacketType.JSON, event, data }, data, false, undefined);
  }

  emitBinary<K extends EventNames<C>>(event: K, data: Uint8Array | ArrayBuffer | ArrayBufferView): boolean {
    this.#checkEvent(event);
    const bytes = bytesOf(data);
    if (!bytes) throw new TypeError('emitBinary needs a Uint8Array, Buffer, ArrayBuffer or typed array (use sendFile for a Blob)');
    return this.#send({ type: PacketType.BINARY, event, data: bytes }, bytes, true, undefined);
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
    return this.#platform.readFile(file).then((read) => this.emitBinary(event as EventNames<C>, read));
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
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request<R = any, K extends EventNames<C> = EventNames<C>>(event: K, data?: C[K], ackName?: string, opts?: RequestOptions): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#checkEvent(event);
      this.#startRequest(event, data, ackName ?? event, opts?.timeout, resolve as (v: unknown) => void, reject);
    });
  }

  // ---------------------------------------------------------------- rooms

  /** Joins now if connected, else at the next connection; remembered and re-joined after every reconnect. */
  joinRoom(room: string): this {
    this.#checkRoom(room);
    if (this.#rooms.has(room)) return this;
    this.#rooms.add(room);
    if (this.#sessionOpen) this.#control({ type: PacketType.JOIN_ROOM, event: room });
    return this;
  }

  leaveRoom(room: string): this {
    this.#checkRoom(room);
    this.#rooms.delete(room);
    if (this.#sessionOpen) this.#control({ type: PacketType.LEAVE_ROOM, event: room });
    if (this.#awaitingRooms?.delete(room) && this.#awaitingRooms.size === 0) this.#finishConnect();
    return this;
  }

  /** Rooms this client asked for (and the server did not refuse or remove it from). */
  getRooms(): string[] {
    return [...this.#rooms];
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts connecting (no-op if already under way). `callback` runs once, on the next successful connection. */
  connect(callback?: () => void): this {
    if (callback !== undefined) {
      if (typeof callback !== 'function') throw new TypeError('connect callback must be a function');
      if (this.#state === 'connected') queueMicrotask(() => this.#runConnectCallbacks([callback]));
      else this.#connectCallbacks.push(callback);
    }
    if (this.#state !== 'disconnected') return this;
    this.#attempt = 0;
    this.#open('connecting');
    return this;
  }

  /**
   * Closes the connection (code 1000) and stops: no reconnection, every timer cleared, waiting
   * and queued requests rejected with CONNECTION_CLOSED, the queue and remembered rooms emptied.
   * Listeners stay (use removeAllListeners). 'disconnect' fires if a session was open.
   */
  disconnect(): this {
    const hadSession = this.#sessionOpen;
    this.#generation++;
    this.#clearTimers();
    const transport = this.#transport;
    this.#transport = null;
    this.#sessionOpen = false;
    this.#awaitingRooms = null;
    this.#connectCallbacks = [];
    transport?.close(CloseCode.NORMAL, 'client disconnect');
    const closed = (entry: PendingAck): StelarError =>
      new StelarError(ErrorCode.CONNECTION_CLOSED, `request "${entry.event}" cancelled: the client disconnected`);
    this.#acks.rejectWhere(() => true, closed);
    this.#queue.drain();
    this.#rooms.clear();
    this.#id = null;
    // A deliberate disconnect ends the session for good: nothing to resume.
    this.#resume = null;
    this.#held = null;
    this.#recovered = false;
    this.#setState('disconnected');
    if (hadSession) this.#emitReserved('disconnect', { code: CloseCode.NORMAL, reason: 'client disconnect' });
    return this;
  }

  // ---------------------------------------------------------------- state and metrics

  isConnected(): boolean {
    return this.#state === 'connected';
  }

  getState(): ClientState {
    return this.#state;
  }

  /** True when the current session is the previous one resumed (connection-state recovery). */
  isRecovered(): boolean {
    return this.#recovered;
  }

  getId(): string | null {
    return this.#id;
  }

  getUrl(): string {
    return this.#target.url;
  }

  /** Takes effect at the next connection attempt. Throws INVALID_URL at once for a bad url. */
  setUrl(url: UrlInput): this {
    this.#target = resolveTarget(url, this.#options.mode, this.#options.tls !== false);
    this.#input = url;
    return this;
  }

  getMessagesSent(): number {
    return this.#sent;
  }

  getMessagesReceived(): number {
    return this.#received;
  }

  getLastError(): Error | null {
    return this.#lastError;
  }

  /** `Date.now()` of the last successful connection, null before the first. */
  getConnectTime(): number | null {
    return this.#connectTime;
  }

  getQueueSize(): number {
    return this.#queue.size;
  }

  // ---------------------------------------------------------------- runtime options

  /**
   * Changes options without reconnecting. Timeouts, limits, hooks (merged: pass
   * `{ hooks: { onX: undefined } }` to remove one) and the queue size apply at once, the
   * heartbeat restarts with the new interval; mode, tls, headers and url apply at the next
   * connection. `reconnection: false` cancels a pending reconnection.
   */
  updateOptions(patch: StelarClientOptions): this {
    const next = resolveOptions(patch, this.#options);
    this.#checkMode(next);
    const target =
      next.mode !== this.#options.mode || (next.tls !== false) !== (this.#options.tls !== false)
        ? resolveTarget(this.#input, next.mode, next.tls !== false)
        : this.#target;
    const previous = this.#options;
    this.#options = next;
    this.#target = target;
    if (next.logger !== previous.logger) this.#logger = createLogger(next.logger, 'warn', '[stelar-client]');
    if (patch.heartbeatInterval !== undefined) {
      this.#heartbeatFromUser = true;
      if (this.#sessionOpen) this.#startHeartbeat();
    }
    if (next.messageQueueSize !== this.#queue.capacity) this.#dropped(this.#queue.resize(next.messageQueueSize));
    if (!next.reconnection && this.#state === 'reconnecting' && this.#reconnectTimer !== undefined) {
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      this.#setState('disconnected');
    }
    return this;
  }

  /** A copy of the current options (changing it changes nothing). */
  getOptions(): ResolvedClientOptions {
    return copyOptions(this.#options);
  }

  // ================================================================ internals: connection

  #open(state: 'connecting' | 'reconnecting'): void {
    const generation = ++this.#generation;
    this.#sessionOpen = false;
    this.#closeInfo = null;
    this.#setState(state);
    const live = (): boolean => generation === this.#generation;
    const options = this.#options;
    this.#connectTimer = startTimer(() => {
      if (!live()) return;
      this.#connectTimer = undefined;
      const err = new StelarError(ErrorCode.CONNECT_TIMEOUT, `no session with ${this.#target.url} within ${options.connectTimeout} ms`);
      this.#report(err, 'connect');
      this.#closeInfo = { code: CloseCode.ABNORMAL, reason: err.message };
      this.#transport?.terminate();
    }, options.connectTimeout);
    try {
      this.#transport = this.#platform.createTransport(
        {
          target: this.#target,
          maxFrameSize: options.maxFrameSize,
          connectTimeout: options.connectTimeout,
          tls: options.tls,
          rejectUnauthorized: options.rejectUnauthorized,
          headers: options.headers,
          logger: this.#logger,
        },
        {
          onOpen: () => live() && this.#sendConnect(generation),
          onData: (bytes) => live() && this.#onPacketBytes(bytes),
          onError: (err) => live() && this.#report(err, 'transport'),
          onClose: (code, reason) => live() && this.#onTransportClose(code, reason),
        },
      );
    } catch (err) {
      // A transport that cannot even be created: same path as a failed connection, one turn later.
      this.#report(err, 'transport');
      startTimer(() => live() && this.#onTransportClose(CloseCode.ABNORMAL, ''), 0);
    }
  }

  #sendConnect(generation: number): void {
    const auth = this.#options.auth;
    const send = (value: unknown): void => {
      if (generation !== this.#generation) return;
      const data: { v: number; auth?: unknown; recovery?: unknown } = { v: PROTOCOL_VERSION };
      if (value !== undefined) data.auth = value;
      const resume = this.#resume;
      this.#resumeSent = false;
      if (this.#options.recovery) {
        this.#resumeSent = resume !== null && resume.offset !== null;
        data.recovery = this.#resumeSent ? { id: resume!.id, token: resume!.token, offset: resume!.offset } : {};
      }
      this.#control({ type: PacketType.CONNECT, event: '', data });
    };
    if (typeof auth !== 'function') return send(auth);
    // A function runs on every (re)connection, so a refreshed token is sent each time.
    Promise.resolve()
      .then(() => (auth as () => unknown)())
      .then(send, (err: unknown) => {
        if (generation !== this.#generation) return;
        this.#report(err, 'connect');
        // Our own close with 1000: the advice is 'stop', an auth callback failing is not retried.
        this.#transport?.close(CloseCode.NORMAL, 'auth callback failed');
      });
  }

  #onServerConnect(data: unknown): void {
    if (this.#sessionOpen) return;
    const body = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
    this.#sessionOpen = true;
    this.#id = typeof body.id === 'string' || typeof body.id === 'number' ? String(body.id) : null;
    this.#serverHeartbeat = typeof body.heartbeatInterval === 'number' && body.heartbeatInterval > 0 ? body.heartbeatInterval : undefined;
    this.#serverMaxPayload = typeof body.maxPayloadSize === 'number' && body.maxPayloadSize > 0 ? body.maxPayloadSize : undefined;
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#connectTime = Date.now();
    this.#attempt = 0;
    this.#onRecoveryOutcome(body);
    this.#startHeartbeat();
    if (this.#rooms.size === 0) return this.#finishConnect();
    // Re-join first and wait for the echoes, so queued messages see the rooms in place.
    this.#awaitingRooms = new Set(this.#rooms);
    for (const room of this.#rooms) this.#control({ type: PacketType.JOIN_ROOM, event: room });
    const generation = this.#generation;
    this.#roomsTimer = startTimer(() => {
      if (generation !== this.#generation) return;
      this.#roomsTimer = undefined;
      this.#logger.warn(`no answer to re-joining ${[...(this.#awaitingRooms ?? [])].join(', ')}; sending the queue anyway`);
      this.#finishConnect();
    }, this.#options.ackTimeout);
  }

  #finishConnect(): void {
    if (!this.#sessionOpen || this.#state === 'connected') return;
    if (this.#roomsTimer !== undefined) clearTimeout(this.#roomsTimer);
    this.#roomsTimer = undefined;
    this.#awaitingRooms = null;
    const entries = this.#queue.drain();
    const prefix = this.#transport?.framePrefix ?? 0;
    for (const entry of entries) {
      if (entry.pending) entry.pending.queued = undefined;
      this.#writeMessage(entry.prefix === prefix ? entry.bytes : encodePacket(entry.packet, prefix));
    }
    const generation = this.#generation;
    this.#setState('connected');
    if (entries.length > 0) this.#hook('onQueueDrained', { count: entries.length });
    if (generation !== this.#generation) return; // a hook disconnected
    this.#emitReserved('connect', { recovered: this.#recovered });
    const callbacks = this.#connectCallbacks;
    this.#connectCallbacks = [];
    this.#runConnectCallbacks(callbacks);
    const held = this.#held;
    this.#held = null;
    if (held) for (const [event, data, isBinary, offset] of held) if (generation === this.#generation) this.#deliver(event, data, isBinary, offset);
  }

  /** Reads the recovery fields of the server's Connect (when the client asked for recovery). */
  #onRecoveryOutcome(body: Record<string, unknown>): void {
    const asked = this.#resumeSent;
    this.#resumeSent = false;
    const granted = this.#options.recovery ? (body.recovery as { token?: unknown; offset?: unknown; reason?: unknown } | undefined) : undefined;
    this.#recovered = asked && body.recovered === true && granted !== undefined;
    this.#held = this.#recovered ? [] : null;
    if (granted && typeof granted === 'object' && typeof granted.token === 'string' && this.#id !== null) {
      this.#resume = { id: this.#id, token: granted.token, offset: typeof granted.offset === 'string' ? granted.offset : null };
    } else this.#resume = null;
    if (asked && !this.#recovered) {
      const reason = granted && typeof granted.reason === 'string' ? granted.reason : 'not_supported';
      this.#emitReserved('recovery_failed', { reason });
    }
  }

  #runConnectCallbacks(callbacks: Array<() => void>): void {
    for (const cb of callbacks) {
      try {
        cb();
      } catch (err) {
        this.#report(err, 'handler');
      }
    }
  }

  #onTransportClose(code: number, reason: string): void {
    if ((code === CloseCode.ABNORMAL || code === CloseCode.NO_STATUS) && this.#closeInfo) ({ code, reason } = this.#closeInfo);
    const hadSession = this.#sessionOpen;
    this.#transport = null;
    this.#sessionOpen = false;
    this.#awaitingRooms = null;
    this.#clearTimers();
    // The session is gone, so no answer can come: fail what was sent, keep what is still queued.
    this.#acks.rejectWhere(
      (entry) => entry.queued === undefined,
      (entry) => new StelarError(ErrorCode.CONNECTION_CLOSED, `connection closed (${code}) before the answer to "${entry.event}"`),
    );
    const advice = reconnectAdvice(code);
    const exhausted = this.#attempt >= this.#options.reconnectionAttempts;
    const retry = this.#options.reconnection && advice !== 'stop' && !exhausted;
    const attempt = retry ? this.#scheduleReconnect(advice) : 0;
    if (!retry) this.#setState('disconnected');
    const generation = this.#generation;
    if (hadSession) this.#emitReserved('disconnect', { code, reason });
    this.#id = null;
    if (generation !== this.#generation || (retry && this.#reconnectTimer === undefined)) return; // a listener took over
    if (retry) this.#emitReserved('reconnecting', attempt);
    else if (exhausted && this.#options.reconnection && advice !== 'stop') {
      this.#attempt = 0;
      this.#emitReserved('reconnect_failed');
    }
  }

  #scheduleReconnect(advice: ReconnectAdvice): number {
    const attempt = ++this.#attempt;
    const options = this.#options;
    const delay = reconnectDelay(
      {
        attempt,
        baseDelay: options.reconnectionDelay,
        maxDelay: options.maxReconnectionDelay,
        advice,
        custom: options.customReconnectDelay,
        hook: options.hooks.onReconnectDelay,
      },
      (err) => this.#report(err, 'hook'),
    );
    this.#setState('reconnecting');
    // Not unref'd on purpose: a Node process whose only job is this client must stay up while
    // it reconnects (disconnect() or reconnection: false end it).
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#open('reconnecting');
    }, delay);
    return attempt;
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const interval = this.#heartbeatFromUser ? this.#options.heartbeatInterval : (this.#serverHeartbeat ?? this.#options.heartbeatInterval);
    if (!(interval > 0)) return;
    this.#lastInbound = Date.now();
    this.#heartbeat = startInterval(() => {
      if (!this.#sessionOpen) return;
      // Each Ping gets a Pong: two intervals of silence means the server (or the path) is gone.
      if (Date.now() - this.#lastInbound > 2 * interval) {
        const err = new StelarError(ErrorCode.HEARTBEAT_TIMEOUT, `no data from the server for ${Date.now() - this.#lastInbound} ms`);
        this.#report(err, 'heartbeat');
        this.#closeInfo = { code: CloseCode.HEARTBEAT_TIMEOUT, reason: 'server heartbeat timeout' };
        this.#transport?.terminate();
        return;
      }
      this.#control({ type: PacketType.PING, event: '' });
    }, interval);
  }

  #clearTimers(): void {
    for (const timer of [this.#connectTimer, this.#reconnectTimer, this.#roomsTimer]) if (timer !== undefined) clearTimeout(timer);
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#connectTimer = this.#reconnectTimer = this.#roomsTimer = this.#heartbeat = undefined;
  }

  // ================================================================ internals: inbound

  #onPacketBytes(bytes: Uint8Array): void {
    this.#lastInbound = Date.now();
    let packet: Packet;
    try {
      packet = decodePacket(bytes);
    } catch (err) {
      this.#report(err, 'protocol');
      const closeCode = err instanceof StelarError ? err.closeCode : CloseCode.PROTOCOL_ERROR;
      if (closeCode) this.#transport?.close(closeCode, 'undecodable packet');
      return;
    }
    switch (packet.type) {
      case PacketType.CONNECT:
        return this.#onServerConnect(packet.data);
      case PacketType.JSON:
        return this.#onEvent(packet.event, packet.data, false);
      case PacketType.BINARY:
        return this.#onEvent(packet.event, this.#platform.binary(packet.data as Uint8Array), true);
      case PacketType.PING:
        return this.#control({ type: PacketType.PONG, event: '', data: packet.data });
      case PacketType.PONG:
        return; // counted as life above
      case PacketType.ACK_RESPONSE:
        return this.#onAckResponse(packet);
      case PacketType.ACK_REQUEST:
        // The protocol has no server->client requests; answer rather than leave it hanging.
        return this.#control({
          type: PacketType.ACK_RESPONSE,
          event: packet.event,
          ackId: packet.ackId,
          ok: false,
          data: { message: 'the client does not answer requests', code: ErrorCode.NO_ACK_HANDLER },
        });
      case PacketType.JOIN_ROOM:
        // Also sent when the server itself put this client in a room: remember it for reconnects.
        this.#rooms.add(packet.event);
        this.#emitReserved('room_joined', packet.event);
        if (this.#awaitingRooms?.delete(packet.event) && this.#awaitingRooms.size === 0) this.#finishConnect();
        return;
      case PacketType.LEAVE_ROOM:
        this.#rooms.delete(packet.event);
        this.#emitReserved('room_left', packet.event);
        return;
      case PacketType.ERROR:
        return this.#onServerError(packet.event, packet.data);
      case PacketType.DISCONNECT: {
        const body = (packet.data ?? {}) as { code?: unknown; reason?: unknown };
        const code = typeof body.code === 'number' ? body.code : CloseCode.NO_STATUS;
        this.#closeInfo = { code, reason: typeof body.reason === 'string' ? body.reason : '' };
        this.#transport?.close(code === CloseCode.NO_STATUS ? CloseCode.NORMAL : code, this.#closeInfo.reason);
        return;
      }
    }
  }

  #onEvent(event: string, data: unknown, isBinary: boolean): void {
    let offset: string | null = null;
    if (this.#resume) {
      // Recorded messages carry their history offset after a NUL in the event field.
      const cut = event.lastIndexOf('\u0000');
      if (cut >= 0 && OFFSET_RE.test(event.slice(cut + 1))) {
        offset = event.slice(cut + 1);
        event = event.slice(0, cut);
      }
    }
    if (this.#held) this.#held.push([event, data, isBinary, offset]);
    else this.#deliver(event, data, isBinary, offset);
  }

  #deliver(event: string, data: unknown, isBinary: boolean, offset: string | null): void {
    this.#received++;
    this.#hook('onMessage', { event, data, isBinary });
    this.#listeners.dispatchEvent(event, data);
    // Processed: a resumed session continues after this one.
    if (offset !== null && this.#resume) this.#resume.offset = offset;
  }

  #onAckResponse(packet: Packet): void {
    this.#received++;
    const ok = packet.ok !== false;
    const ackId = packet.ackId ?? 0;
    const pending = ackId !== 0 ? this.#acks.take(ackId) : undefined;
    if (pending) {
      if (ok) pending.resolve(packet.data);
      else pending.reject(remoteError(packet.data, ErrorCode.ACK_FAILED, `request "${pending.event}" failed on the server`));
    }
    const heard = this.#listeners.dispatchAck(packet.data, { ok, ackId, name: packet.event });
    if (!heard && !pending) this.#logger.debug(`ACK response "${packet.event}" (id ${ackId}) with no request or onAck listener`);
  }

  #onServerError(code: string, data: unknown): void {
    const { message } = remoteError(data, ErrorCode.ACK_FAILED, code || 'server error');
    // The Error packet's event is its code; kept as sent, even a custom one from middleware.
    const error = new StelarError((code || ErrorCode.ACK_FAILED) as ErrorCode, message, 0);
    const room = (data as { room?: unknown } | null)?.room;
    if (typeof room === 'string') {
      // A refused join is forgotten, so it is not retried on every reconnection.
      this.#rooms.delete(room);
      if (this.#awaitingRooms?.delete(room) && this.#awaitingRooms.size === 0) this.#finishConnect();
    }
    this.#report(error, 'server');
  }

  // ================================================================ internals: outbound

  #emitWithAck(event: string, data: unknown, opts: EmitOptions): boolean {
    const ack = opts.ack;
    if (typeof ack === 'function') {
      return this.#startRequest(event, data, opts.ackName ?? event, opts.timeout, (value) => ack(null, value), (err) => ack(err));
    }
    if (typeof ack !== 'string' || ack === '') throw new TypeError('opts.ack must be a callback or an ack name');
    // Named form: the answer reaches onAck(name) listeners; a failure is reported, not thrown.
    return this.#startRequest(event, data, ack, opts.timeout, () => {}, (err) => this.#report(err, 'ack'));
  }

  #startRequest(
    event: string,
    data: unknown,
    ackName: string,
    timeout: number | undefined,
    resolve: (value: unknown) => void,
    reject: (error: StelarError) => void,
  ): boolean {
    if (typeof ackName !== 'string' || ackName === '') throw new TypeError('ackName must be a non-empty string');
    const ms = timeout ?? this.#options.ackTimeout;
    if (!(ms > 0)) throw new RangeError('ack timeout must be > 0');
    const pending: PendingAck = { id: this.#acks.allocate(), event, ackName, resolve, reject, timer: undefined, queued: undefined };
    const packet: Packet = { type: PacketType.ACK_REQUEST, event, ackName, ackId: pending.id, data };
    return this.#send(packet, data, false, pending, ms);
  }

  /** The shared path of every app message: hook, size check, then the wire or the queue. */
  #send(packet: Packet, hookData: unknown, isBinary: boolean, pending: PendingAck | undefined, timeout = 0): boolean {
    const event = packet.event;
    if (this.#hook('onBeforeEmit', { event, data: hookData, isBinary }) === false) {
      pending?.reject(new StelarError(ErrorCode.ACK_FAILED, `request "${event}" cancelled by the onBeforeEmit hook`));
      return false;
    }
    const online = this.#state === 'connected' ? this.#transport : null;
    // Encoded once, with the prefix of the transport it will most likely go out on.
    const prefix: 0 | 4 = online ? online.framePrefix : this.#options.mode === 'tcp' ? 4 : 0;
    const bytes = encodePacket(packet, prefix);
    const limit = Math.min(this.#options.maxPayloadSize, this.#serverMaxPayload ?? Infinity);
    const size = bytes.length - prefix;
    if (size > limit) {
      const err = new StelarError(ErrorCode.PAYLOAD_TOO_LARGE, `"${event}" is ${size} bytes encoded, above the ${limit}-byte limit`);
      if (pending) pending.reject(err);
      this.#report(err, 'emit', !pending);
      return false;
    }
    if (pending) {
      this.#acks.add(pending);
      pending.timer = startTimer(() => this.#onAckTimeout(pending, timeout), timeout);
    }
    if (online) {
      this.#writeMessage(bytes);
      return true;
    }
    const entry: QueueEntry = { event, packet, bytes, prefix, pending };
    if (pending) pending.queued = entry;
    const dropped = this.#queue.push(entry);
    if (dropped.length === 1 && dropped[0] === entry) {
      // A queue of size 0: nothing is kept while offline.
      this.#dropped(dropped);
      return false;
    }
    this.#hook('onMessageQueued', { event, queueSize: this.#queue.size, dropped: dropped.map((d) => d.event) });
    this.#dropped(dropped);
    return false;
  }

  #onAckTimeout(pending: PendingAck, ms: number): void {
    if (!this.#acks.take(pending.id)) return;
    if (pending.queued) this.#queue.remove(pending.queued as QueueEntry);
    const where = pending.queued ? ' (still queued: the client was offline)' : '';
    pending.queued = undefined;
    const err = new StelarError(ErrorCode.ACK_TIMEOUT, `request "${pending.event}" (ack "${pending.ackName}") got no answer within ${ms} ms${where}`);
    this.#report(err, 'ack', false);
    pending.reject(err);
  }

  /** Queue entries dropped for lack of room: failed requests, and the application is told. */
  #dropped(entries: QueueEntry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) {
      const err = new StelarError(ErrorCode.QUEUE_FULL, `offline queue full (${this.#queue.capacity}): dropped "${entry.event}"`);
      if (entry.pending && this.#acks.take(entry.pending.id)) {
        entry.pending.queued = undefined;
        entry.pending.reject(err);
      }
      this.#report(err, 'queue', false);
    }
  }

  #writeMessage(bytes: Uint8Array): void {
    const transport = this.#transport;
    if (!transport) return;
    transport.sendPacketBytes(bytes);
    this.#sent++;
  }

  /** Session packets (Connect, Ping/Pong, rooms): never queued, never counted as messages. */
  #control(packet: Packet): void {
    const transport = this.#transport;
    if (transport) transport.sendPacketBytes(encodePacket(packet, transport.framePrefix));
  }

  // ================================================================ internals: helpers

  #setState(to: ClientState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#hook('onStateChange', { from, to });
  }

  #emitReserved(event: keyof ClientReservedEvents, ...args: unknown[]): void {
    this.#listeners.events.emit(event, ...args);
  }

  /**
   * Records an error, tells the onError hook, and (unless `asEvent` is false) emits 'error'.
   * Nothing throws when no 'error' listener exists: the logger gets it instead.
   */
  #report(raw: unknown, context: ErrorContext, asEvent = true): void {
    const error = raw instanceof Error ? raw : new Error(String(raw));
    this.#lastError = error;
    const onError = this.#options.hooks.onError;
    if (onError) {
      try {
        onError({ error, context });
      } catch (err) {
        this.#logger.error('the onError hook threw:', err);
      }
    }
    if (!asEvent) return;
    if (!this.#listeners.events.emit('error', error)) this.#logger.warn(`${context} error:`, error.message);
  }

  #hook<K extends keyof ClientHooks>(name: K, info: Parameters<NonNullable<ClientHooks[K]>>[0]): unknown {
    const fn = this.#options.hooks[name] as ((arg: typeof info) => unknown) | undefined;
    if (!fn) return undefined;
    try {
      return fn(info);
    } catch (err) {
      this.#report(err, 'hook');
      return undefined;
    }
  }

  #checkEvent(event: unknown): void {
    if (typeof event !== 'string' || event === '') throw new TypeError('event name must be a non-empty string');
  }

  #checkRoom(room: unknown): void {
    if (typeof room !== 'string' || room === '') throw new TypeError('room name must be a non-empty string');
  }

  #checkMode(options: ResolvedClientOptions): void {
    if (!this.#platform.modes.includes(options.mode)) {
      throw new TypeError(`mode '${options.mode}' is not available on this platform (${this.#platform.name}); use ${this.#platform.modes.join(' or ')}`);
    }
  }
}
