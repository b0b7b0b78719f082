/**
 * The session and its connection: the state machine (disconnected -> connecting -> connected
 * -> reconnecting ...), one transport per attempt, the Connect handshake, the heartbeat, and
 * reconnection with backoff. See docs/ARCHITECTURE.md, "The session protocol".
 *
 * Life of a connection:
 *   connect() -> transport opens -> we send Connect { v, auth?, recovery?, refresh? } -> the server's
 *   Connect { id, heartbeatInterval, maxPayloadSize } -> re-join remembered rooms and wait for
 *   their echoes -> the offline queue goes out in order -> state 'connected', 'connect' event.
 * Messages emitted before that point are queued, so nothing can overtake the queue.
 * On close: in-flight requests fail, 'disconnect' { code, reason } if a session existed, then
 * reconnect with backoff unless the close code's advice is 'stop', reconnection is off, or
 * the attempts are used up ('reconnect_failed').
 * While open, the server may ask for fresh credentials (a Connect `{ refresh }`, only when our
 * Connect said `refresh: true`): the `auth` option is read again (a function is called) and
 * sent back in a Connect `{ v, auth }` on the same connection (docs/PROTOCOL.md).
 */
import {
  CloseCode,
  encodePacket,
  ErrorCode,
  type Packet,
  PacketType,
  PROTOCOL_VERSION,
  reconnectAdvice,
  type ReconnectAdvice,
  StelarError,
} from '../protocol/index.js';
import type { AnswerLink } from './answers.js';
import { reconnectDelay } from './backoff.js';
import type { ClientContext } from './context.js';
import type { ClientConnectionCloseMessage, ClientConnectionOpenMessage } from './diagnostics.js';
import type { InboundSession } from './inbound.js';
import type { ClientState } from './options.js';
import type { OutboundLink } from './outbound.js';
import type { HeldEvent, Recovery } from './recovery.js';
import type { RoomSet } from './rooms.js';
import { startInterval, startTimer, type TimerHandle } from './timers.js';
import { type ClientTransport, encodeLaidOut } from './transport.js';

/** What the session drives in the other parts of the client (the core wires them). */
export interface SessionParts {
  /** One packet arrived on the current transport. */
  onPacket(bytes: Uint8Array): void;
  /** The session is ready: send the offline queue on `transport`; returns how many it held. */
  flushQueue(transport: ClientTransport | null): number;
  /** The connection closed: requests already sent fail, queued ones keep waiting. */
  failInFlight(code: number): void;
  /** `disconnect()`: every request fails, the queue is emptied. */
  cancelAll(): void;
  /** An event held while a resumed session was not yet announced. */
  deliver(...event: HeldEvent): void;
  /** The transport's backlog fell below its high-water mark (after a send answered false). */
  onDrain(): void;
}

export class Session implements OutboundLink, InboundSession, AnswerLink {
  #ctx: ClientContext;
  #rooms: RoomSet;
  #recovery: Recovery;
  #parts: SessionParts;
  #state: ClientState = 'disconnected';
  /** True once the user chose a heartbeat interval; otherwise the server's value wins. */
  #heartbeatFromUser: boolean;

  #transport: ClientTransport | null = null;
  /** Bumped on every attempt and by disconnect(): handlers of older transports go quiet. */
  #generation = 0;
  /** The server's Connect arrived on the current transport. */
  #open = false;
  #id: string | null = null;
  #serverHeartbeat: number | undefined;
  #serverMaxPayload: number | undefined;
  /** Close info from a Disconnect packet or a local decision, used when the transport only says 1005/1006. */
  #closeInfo: { code: number; reason: string } | null = null;
  #attempt = 0;
  #connectCallbacks: Array<() => void> = [];
  #connectTime: number | null = null;

  #connectTimer: TimerHandle | undefined;
  #reconnectTimer: TimerHandle | undefined;
  #roomsTimer: TimerHandle | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastInbound = 0;

  constructor(ctx: ClientContext, rooms: RoomSet, recovery: Recovery, parts: SessionParts, heartbeatFromUser: boolean) {
    this.#ctx = ctx;
    this.#rooms = rooms;
    this.#recovery = recovery;
    this.#parts = parts;
    this.#heartbeatFromUser = heartbeatFromUser;
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The server's Connect arrived on the current transport (session packets may go out). */
  get isOpen(): boolean {
    return this.#open;
  }

  get id(): string | null {
    return this.#id;
  }

  /** `Date.now()` of the last successful connection, null before the first. */
  get connectTime(): number | null {
    return this.#connectTime;
  }

  get online(): ClientTransport | null {
    return this.#state === 'connected' ? this.#transport : null;
  }

  /** The heartbeat interval in effect: the user's when set, else the one the server announced, else the default. */
  get heartbeatInterval(): number {
    const own = this.#ctx.options.heartbeatInterval;
    return this.#heartbeatFromUser ? own : (this.#serverHeartbeat ?? own);
  }

  get serverMaxPayload(): number | undefined {
    return this.#serverMaxPayload;
  }

  /** Bytes handed to the current transport and not yet written to the network (0 without one). */
  get bufferedAmount(): number {
    return this.#transport?.bufferedAmount ?? 0;
  }

  /** Changes with every connection attempt (and disconnect()): what was said on an older one is stale. */
  get generation(): number {
    return this.#generation;
  }

  /** The current transport if it is still the one of `generation` and its session is open. */
  transportFor(generation: number): ClientTransport | null {
    return generation === this.#generation && this.#open ? this.#transport : null;
  }

  // ---------------------------------------------------------------- driven by the public API

  connect(callback?: () => void): void {
    if (callback !== undefined) {
      if (typeof callback !== 'function') throw new TypeError('connect callback must be a function');
      if (this.#state === 'connected') queueMicrotask(() => this.#runConnectCallbacks([callback]));
      else this.#connectCallbacks.push(callback);
    }
    if (this.#state !== 'disconnected') return;
    this.#attempt = 0;
    this.#openTransport('connecting');
  }

  disconnect(): void {
    const hadSession = this.#open;
    if (hadSession && this.#ctx.platform.channels?.connectionClose.hasSubscribers) this.#publishClose(CloseCode.NORMAL, 'client disconnect');
    this.#generation++;
    this.#clearTimers();
    const transport = this.#transport;
    this.#transport = null;
    this.#open = false;
    this.#rooms.stopWaiting();
    this.#connectCallbacks = [];
    transport?.close(CloseCode.NORMAL, 'client disconnect');
    this.#parts.cancelAll();
    this.#rooms.clear();
    this.#id = null;
    // A deliberate disconnect ends the session for good: nothing to resume.
    this.#recovery.reset();
    this.#setState('disconnected');
    if (hadSession) this.#ctx.emitReserved('disconnect', { code: CloseCode.NORMAL, reason: 'client disconnect' });
  }

  /** The user chose a heartbeat interval: it wins over the server's from now on. */
  useUserHeartbeat(): void {
    this.#heartbeatFromUser = true;
    if (this.#open) this.#startHeartbeat();
  }

  /** `reconnection: false` at runtime: a pending reconnection is cancelled. */
  cancelReconnect(): void {
    if (this.#state !== 'reconnecting' || this.#reconnectTimer === undefined) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#setState('disconnected');
  }

  // ---------------------------------------------------------------- driven by inbound packets

  touch(): void {
    this.#lastInbound = Date.now();
  }

  /** Session packets (Connect, Ping/Pong, rooms): never queued, never counted as messages. */
  control(packet: Packet): void {
    const transport = this.#transport;
    if (transport) transport.sendPacketBytes(encodeLaidOut(packet, transport.layout));
  }

  close(code: number, reason: string): void {
    this.#transport?.close(code, reason);
  }

  closedByServer(code: number, reason: string): void {
    this.#closeInfo = { code, reason };
    this.#transport?.close(code === CloseCode.NO_STATUS ? CloseCode.NORMAL : code, reason);
  }

  settleRoom(room: string): void {
    if (this.#rooms.settle(room)) this.#finishConnect();
  }

  onServerConnect(data: unknown): void {
    const body = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
    if (this.#open) {
      // On an open session a server Connect is a request for fresh credentials (or nothing).
      if (typeof body.refresh === 'number') this.#answerRefresh();
      return;
    }
    this.#open = true;
    this.#id = typeof body.id === 'string' || typeof body.id === 'number' ? String(body.id) : null;
    this.#serverHeartbeat = typeof body.heartbeatInterval === 'number' && body.heartbeatInterval > 0 ? body.heartbeatInterval : undefined;
    this.#serverMaxPayload = typeof body.maxPayloadSize === 'number' && body.maxPayloadSize > 0 ? body.maxPayloadSize : undefined;
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#connectTime = Date.now();
    this.#attempt = 0;
    const refused = this.#recovery.onConnect(body, this.#id, this.#ctx.options.recovery);
    if (refused !== null) this.#ctx.emitReserved('recovery_failed', { reason: refused });
    this.#startHeartbeat();
    if (this.#rooms.size === 0) return this.#finishConnect();
    // Re-join first and wait for the echoes, so queued messages see the rooms in place.
    for (const room of this.#rooms.startRejoin()) this.control({ type: PacketType.JOIN_ROOM, event: room });
    const generation = this.#generation;
    this.#roomsTimer = startTimer(() => {
      if (generation !== this.#generation) return;
      this.#roomsTimer = undefined;
      this.#ctx.logger.warn(`no answer to re-joining ${this.#rooms.awaiting().join(', ')}; sending the queue anyway`);
      this.#finishConnect();
    }, this.#ctx.options.ackTimeout);
  }

  // ---------------------------------------------------------------- internals

  #openTransport(state: 'connecting' | 'reconnecting'): void {
    const ctx = this.#ctx;
    const generation = ++this.#generation;
    this.#open = false;
    this.#closeInfo = null;
    this.#setState(state);
    const live = (): boolean => generation === this.#generation;
    const options = ctx.options;
    this.#connectTimer = startTimer(() => {
      if (!live()) return;
      this.#connectTimer = undefined;
      const err = new StelarError(ErrorCode.CONNECT_TIMEOUT, `no session with ${ctx.target.url} within ${options.connectTimeout} ms`);
      ctx.report(err, 'connect');
      this.#closeInfo = { code: CloseCode.ABNORMAL, reason: err.message };
      this.#transport?.terminate();
    }, options.connectTimeout);
    try {
      this.#transport = ctx.platform.createTransport(
        {
          target: ctx.target,
          maxFrameSize: options.maxFrameSize,
          connectTimeout: options.connectTimeout,
          tls: options.tls,
          rejectUnauthorized: options.rejectUnauthorized,
          perMessageDeflate: options.perMessageDeflate,
          headers: options.headers,
          logger: ctx.logger,
          // Built up front only when nothing has to run first (an auth callback runs at open).
          connect: typeof options.auth === 'function' ? undefined : () => encodePacket(this.#connectPacket(options.auth)),
        },
        {
          onOpen: (connectSent) => live() && !connectSent && this.#sendConnect(generation),
          onData: (bytes) => live() && this.#parts.onPacket(bytes),
          onDrain: () => live() && this.#parts.onDrain(),
          onError: (err) => live() && ctx.report(err, 'transport'),
          onClose: (code, reason) => live() && this.#onTransportClose(code, reason),
        },
      );
    } catch (err) {
      // A transport that cannot even be created: same path as a failed connection, one turn later.
      ctx.report(err, 'transport');
      startTimer(() => live() && this.#onTransportClose(CloseCode.ABNORMAL, ''), 0);
    }
  }

  #sendConnect(generation: number): void {
    const auth = this.#ctx.options.auth;
    const send = (value: unknown): void => {
      if (generation === this.#generation) this.control(this.#connectPacket(value));
    };
    if (typeof auth !== 'function') return send(auth);
    // A function runs on every (re)connection, so a refreshed token is sent each time.
    Promise.resolve()
      .then(() => (auth as () => unknown)())
      .then(send, (err: unknown) => {
        if (generation !== this.#generation) return;
        this.#ctx.report(err, 'connect');
        // Our own close with 1000: the advice is 'stop', an auth callback failing is not retried.
        this.#transport?.close(CloseCode.NORMAL, 'auth callback failed');
      });
  }

  /**
   * The server asked for fresh credentials: the `auth` option is read again (a function is
   * called, as before a connection) and sent in a Connect on this connection. A failing auth
   * function sends nothing: the server closes at the expiry (4010) and the client reconnects.
   */
  #answerRefresh(): void {
    const generation = this.#generation;
    Promise.resolve()
      .then(() => {
        const auth = this.#ctx.options.auth;
        return typeof auth === 'function' ? (auth as () => unknown)() : auth;
      })
      .then(
        (auth) => {
          if (generation === this.#generation && this.#open) this.control({ type: PacketType.CONNECT, event: '', data: { v: PROTOCOL_VERSION, auth } });
        },
        (err: unknown) => {
          if (generation === this.#generation) this.#ctx.report(err, 'connect');
        },
      );
  }

  /** The client's Connect: `{ v, auth?, recovery?, refresh? }`. */
  #connectPacket(auth: unknown): Packet {
    const data: { v: number; auth?: unknown; recovery?: unknown; refresh?: true } = { v: PROTOCOL_VERSION };
    if (auth !== undefined) data.auth = auth;
    // Credentials can be sent again on request only by a client that has some.
    if (this.#ctx.options.auth !== undefined) data.refresh = true;
    const recovery = this.#recovery.connectField(this.#ctx.options.recovery);
    if (recovery !== undefined) data.recovery = recovery;
    return { type: PacketType.CONNECT, event: '', data };
  }

  #finishConnect(): void {
    if (!this.#open || this.#state === 'connected') return;
    if (this.#roomsTimer !== undefined) clearTimeout(this.#roomsTimer);
    this.#roomsTimer = undefined;
    this.#rooms.stopWaiting();
    const count = this.#parts.flushQueue(this.#transport);
    const generation = this.#generation;
    this.#setState('connected');
    if (count > 0) this.#ctx.hook('onQueueDrained', { count });
    if (generation !== this.#generation) return; // a hook disconnected
    if (this.#ctx.platform.channels?.connectionOpen.hasSubscribers) this.#publishOpen();
    this.#ctx.emitReserved('connect', { recovered: this.#recovery.recovered });
    const callbacks = this.#connectCallbacks;
    this.#connectCallbacks = [];
    this.#runConnectCallbacks(callbacks);
    const held = this.#recovery.takeHeld();
    if (held) for (const item of held) if (generation === this.#generation) this.#parts.deliver(...item);
  }

  // Diagnostics (src/client/diagnostics.ts): called only while the channel has subscribers.
  #publishOpen(): void {
    const { client, target, platform } = this.#ctx;
    const message: ClientConnectionOpenMessage = { client, url: target.url, mode: target.mode, clientId: this.#id ?? '', recovered: this.#recovery.recovered };
    platform.channels?.connectionOpen.publish(message);
  }

  #publishClose(code: number, reason: string): void {
    const { client, target, platform } = this.#ctx;
    const message: ClientConnectionCloseMessage = { client, url: target.url, mode: target.mode, clientId: this.#id, code, reason };
    platform.channels?.connectionClose.publish(message);
  }

  #runConnectCallbacks(callbacks: Array<() => void>): void {
    for (const cb of callbacks) {
      try {
        cb();
      } catch (err) {
        this.#ctx.report(err, 'handler');
      }
    }
  }

  #onTransportClose(code: number, reason: string): void {
    if ((code === CloseCode.ABNORMAL || code === CloseCode.NO_STATUS) && this.#closeInfo) ({ code, reason } = this.#closeInfo);
    const hadSession = this.#open;
    this.#transport = null;
    this.#open = false;
    this.#rooms.stopWaiting();
    this.#rooms.dropLeaving();
    this.#clearTimers();
    // The session is gone, so no answer can come: fail what was sent, keep what is still queued.
    this.#parts.failInFlight(code);
    const advice = reconnectAdvice(code);
    // Options are read where they are used: a listener called above may have changed them.
    const exhausted = this.#attempt >= this.#ctx.options.reconnectionAttempts;
    const retry = this.#ctx.options.reconnection && advice !== 'stop' && !exhausted;
    // Failover: a server that refused, could not be reached, or sent us away ('backoff': going
    // away, full, restarting) is left for the next address; a session that merely dropped
    // tries its own server once more first (a blip should not move it, nor lose its recovery).
    if (retry && (!hadSession || advice === 'backoff')) this.#ctx.nextTarget();
    const attempt = retry ? this.#scheduleReconnect(advice) : 0;
    if (!retry) this.#setState('disconnected');
    const generation = this.#generation;
    if (hadSession && this.#ctx.platform.channels?.connectionClose.hasSubscribers) this.#publishClose(code, reason);
    if (hadSession) this.#ctx.emitReserved('disconnect', { code, reason });
    this.#id = null;
    if (generation !== this.#generation || (retry && this.#reconnectTimer === undefined)) return; // a listener took over
    if (retry) this.#ctx.emitReserved('reconnecting', attempt);
    else if (exhausted && this.#ctx.options.reconnection && advice !== 'stop') {
      this.#attempt = 0;
      this.#ctx.emitReserved('reconnect_failed');
    }
  }

  #scheduleReconnect(advice: ReconnectAdvice): number {
    const attempt = ++this.#attempt;
    const options = this.#ctx.options;
    const delay = reconnectDelay(
      {
        attempt,
        baseDelay: options.reconnectionDelay,
        maxDelay: options.maxReconnectionDelay,
        advice,
        custom: options.customReconnectDelay,
        hook: options.hooks.onReconnectDelay,
      },
      (err) => this.#ctx.report(err, 'hook'),
    );
    this.#setState('reconnecting');
    // Not unref'd on purpose: a Node process whose only job is this client must stay up while
    // it reconnects (disconnect() or reconnection: false end it).
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#openTransport('reconnecting');
    }, delay);
    return attempt;
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const interval = this.heartbeatInterval;
    if (!(interval > 0)) return;
    this.#lastInbound = Date.now();
    this.#heartbeat = startInterval(() => {
      if (!this.#open) return;
      // Each Ping gets a Pong: two intervals of silence means the server (or the path) is gone.
      if (Date.now() - this.#lastInbound > 2 * interval) {
        const err = new StelarError(ErrorCode.HEARTBEAT_TIMEOUT, `no data from the server for ${Date.now() - this.#lastInbound} ms`);
        this.#ctx.report(err, 'heartbeat');
        this.#closeInfo = { code: CloseCode.HEARTBEAT_TIMEOUT, reason: 'server heartbeat timeout' };
        this.#transport?.terminate();
        return;
      }
      this.control({ type: PacketType.PING, event: '' });
    }, interval);
  }

  #clearTimers(): void {
    for (const timer of [this.#connectTimer, this.#reconnectTimer, this.#roomsTimer]) if (timer !== undefined) clearTimeout(timer);
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#connectTimer = this.#reconnectTimer = this.#roomsTimer = this.#heartbeat = undefined;
  }

  #setState(to: ClientState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#ctx.hook('onStateChange', { from, to });
  }
}
