/**
 * From packet to handler. Decides what each packet type means in each session state,
 * applies the per-message checks (size, event name, rate limit) and runs handlers,
 * ACK handlers and room operations. Handler failures are logged, never thrown upward.
 * The Connect packet is handed to the lifecycle (src/server/lifecycle.ts).
 */
import {
  CloseCode,
  decodeEventName,
  decodePacket,
  ErrorCode,
  isReservedEvent,
  isStelarError,
  type Packet,
  PacketType,
  peekAck,
  peekAckId,
  peekEvent,
  peekPacketType,
  ReservedEvent,
  StelarError,
} from '../protocol/index.js';
import { type ContextHost, StelarContext } from './context.js';
import { channels, type ServerDiagnostics, tracingAcks } from './diagnostics.js';
import { type Handlers, invokeEventHandler, invokeHandler } from './handlers.js';
import { runHook } from './hooks.js';
import type { InFlightRequests } from './in-flight.js';
import type { ClientLifecycle } from './lifecycle.js';
import { handshakePacketLimit, validName } from './limits.js';
import type { ResolvedConfig } from './options.js';
import type { Presence } from './presence/presence.js';
import type { OutgoingRequests } from './outgoing-requests.js';
import type { RateLimits, RateVerdict } from './rate-limiter.js';
import type { CredentialRefresh } from './refresh.js';
import type { RoomPolicy } from './rooms.js';
import { type Session, SessionState } from './session.js';
import type { StatsCounters } from './stats.js';

/** What the dispatcher works with: each part is owned elsewhere and handed in. */
export interface DispatcherParts {
  config: ResolvedConfig;
  handlers: Handlers;
  rateLimits: RateLimits;
  rooms: RoomPolicy;
  lifecycle: ClientLifecycle;
  /** Answers to the server's requests for fresh credentials (a Connect on an open session). */
  refresh: CredentialRefresh;
  counters: StatsCounters;
  contextHost: ContextHost;
  diagnostics: ServerDiagnostics;
  /** Started, unanswered ACK requests (graceful shutdown waits for them and refuses new ones). */
  inFlight?: InFlightRequests;
  /** Answers the reserved `$stelar:presence` request. */
  presence?: Presence | null;
  /** Requests the server sent to clients: their answers (ACK Responses) settle them. */
  outgoing?: OutgoingRequests;
  /** A peer's bad packet: logged and reported to `onInvalidMessage` (the caller tells the peer). */
  reportInvalid(session: Session, err: StelarError): void;
}

function asStelarError(err: unknown): StelarError {
  return isStelarError(err) ? err : new StelarError(ErrorCode.PACKET_UNEXPECTED, String(err));
}

export class Dispatcher {
  readonly #p: DispatcherParts;

  constructor(parts: DispatcherParts) {
    this.#p = parts;
  }

  /**
   * A refused packet: reported, then the peer gets the Error (and the close, if the error says
   * so); a refused ACK Request gets its error ACK Response first, so its caller settles.
   */
  #invalid(session: Session, bytes: Buffer, err: StelarError): void {
    this.#p.reportInvalid(session, err);
    this.#refuseAck(session, bytes, err);
    session.fail(err);
  }

  handle(session: Session, bytes: Buffer): void | Promise<void> {
    const c = this.#p.config;
    if (session.state === SessionState.OPEN) {
      if (bytes.length > c.maxPayloadSize) return this.#tooLarge(session, bytes, c.maxPayloadSize, 0);
      return this.#handleOpen(session, bytes);
    }
    // Before acceptance nobody is trusted yet: a small limit of its own, closing at once.
    const max = handshakePacketLimit(c);
    if (bytes.length > max) return this.#tooLarge(session, bytes, max, CloseCode.MESSAGE_TOO_BIG);
    // Only Connect (once) and Ping belong here: anything else is refused from its type byte.
    const type = peekPacketType(bytes);
    const allowed = type === PacketType.PING || (type === PacketType.CONNECT && session.state === SessionState.AWAITING_CONNECT);
    if (!allowed && type >= 0 && type <= PacketType.ERROR) return this.#unexpected(session, bytes);
    let packet: Packet;
    try {
      packet = decodePacket(bytes, c.maxJsonDepth);
    } catch (err) {
      return this.#invalid(session, bytes, asStelarError(err));
    }
    if (packet.type === PacketType.PING) return this.#pong(session, packet);
    return this.#p.lifecycle.handshake(session, packet);
  }

  #unexpected(session: Session, bytes: Buffer): void {
    const what = session.state === SessionState.AWAITING_CONNECT ? 'the first packet must be Connect' : 'only Ping is allowed until the session is accepted';
    this.#invalid(session, bytes, new StelarError(ErrorCode.PACKET_UNEXPECTED, what, CloseCode.PROTOCOL_ERROR));
  }

  #tooLarge(session: Session, bytes: Buffer, max: number, closeCode: number): void {
    const c = this.#p.config;
    const event = peekEvent(bytes);
    runHook(c.hooks, 'onPayloadTooLarge', { clientId: session.id, event, size: bytes.length, max, protocol: session.protocol }, c.logger);
    const limit = closeCode === 0 ? 'maxPayloadSize' : 'the limit before acceptance (maxHandshakePayloadSize)';
    const err = new StelarError(ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${bytes.length} bytes exceeds ${limit} ${max}`, closeCode);
    // Like any refused request, an oversized one is answered, so the caller does not wait for its timeout;
    // an oversized answer to one of our requests fails that request now.
    this.#refuseAck(session, bytes, err, event);
    this.#answerFailed(session, bytes, err);
    session.fail(err, { event, size: bytes.length, max });
  }

  #pong(session: Session, packet: Packet): void {
    session.sendPacket({ type: PacketType.PONG, event: packet.event, data: packet.data });
  }

  // ---- accepted clients -------------------------------------------------------------------

  /**
   * Messages are judged on their header first: the event name is checked, the packet counted
   * and rate-limited (by count and by bytes) before its body is decoded, so refused and
   * flooding packets cost a header read, not a JSON parse.
   */
  #handleOpen(session: Session, bytes: Buffer): void | Promise<void> {
    const type = peekPacketType(bytes);
    switch (type) {
      case PacketType.JSON:
      case PacketType.BINARY:
      case PacketType.ACK_REQUEST:
      case PacketType.JOIN_ROOM:
      case PacketType.LEAVE_ROOM:
        return this.#message(session, bytes, type);
      case PacketType.CONNECT:
        return this.#refresh(session, bytes);
      default:
        return this.#control(session, bytes);
    }
  }

  /**
   * Ping, Disconnect, the answers to our requests, and what a client should not send: a Pong,
   * an Error, a repeated Connect, or an ACK Response that answers nothing we asked are proof of
   * life and nothing more, ignored without reading their body. (An unknown type byte is the
   * one exception: it still closes the connection, 1002.)
   */
  #control(session: Session, bytes: Buffer): void {
    const type = peekPacketType(bytes);
    if (type === PacketType.ACK_RESPONSE) return this.#clientAnswer(session, bytes);
    if (type !== PacketType.PING && type !== PacketType.DISCONNECT && type >= 0 && type <= PacketType.ERROR) return;
    const packet = this.#decode(session, bytes);
    if (!packet) return;
    if (packet.type === PacketType.PING) return this.#pong(session, packet);
    // WebSocket clients close with a close frame, but a Disconnect means the same.
    session.close(1000, 'client disconnected');
  }

  /** The client's ACK Response: it settles the request of ours with that id (if it is still waiting). */
  #clientAnswer(session: Session, bytes: Buffer): void {
    const outgoing = this.#p.outgoing;
    const ackId = peekAckId(bytes);
    if (!outgoing || ackId <= 0 || !outgoing.isWaiting(session, ackId)) return;
    let packet: Packet;
    try {
      packet = decodePacket(bytes, this.#p.config.maxJsonDepth);
    } catch (err) {
      const e = asStelarError(err);
      outgoing.answer(session, ackId, false, { message: `the client's answer was refused: ${e.message}`, code: e.code });
      return this.#badPacket(session, bytes, e);
    }
    outgoing.answer(session, ackId, packet.ok !== false, packet.data);
  }

  /** An answer of ours that was refused before it could be read (too large) fails its request. */
  #answerFailed(session: Session, bytes: Buffer, err: StelarError): void {
    const ackId = peekPacketType(bytes) === PacketType.ACK_RESPONSE ? peekAckId(bytes) : -1;
    if (ackId > 0) this.#p.outgoing?.answer(session, ackId, false, { message: `the client's answer was refused: ${err.message}`, code: err.code });
  }

  /**
   * A Connect on an open session: the answer to our request for fresh credentials, read only
   * when one was asked for (with the handshake's size limit); any other is a sign of life and
   * nothing else, as always (its header is all that is read).
   */
  #refresh(session: Session, bytes: Buffer): void | Promise<void> {
    const refresh = this.#p.refresh;
    if (!refresh.awaitsAnswer(session)) return;
    const max = handshakePacketLimit(this.#p.config);
    if (bytes.length > max) return this.#tooLarge(session, bytes, max, CloseCode.MESSAGE_TOO_BIG);
    const packet = this.#decode(session, bytes);
    if (packet) return refresh.answer(session, packet);
  }

  #message(session: Session, bytes: Buffer, type: number): void | Promise<void> {
    const { config: c, counters, rateLimits } = this.#p;
    let event: string;
    try {
      event = decodeEventName(bytes);
    } catch (err) {
      counters.received();
      return this.#badPacket(session, bytes, asStelarError(err));
    }
    const isRoom = type === PacketType.JOIN_ROOM || type === PacketType.LEAVE_ROOM;
    if (!isRoom && !validName(event, c.maxEventNameLength)) {
      counters.received();
      const err = new StelarError(ErrorCode.PACKET_INVALID_EVENT, `event name must be a non-empty string of at most ${c.maxEventNameLength} bytes`);
      return this.#badPacket(session, bytes, err);
    }
    if (type === PacketType.ACK_REQUEST && peekAckId(bytes) === 0) {
      counters.received();
      const err = new StelarError(ErrorCode.PACKET_INVALID_ACK_ID, 'ackId 0 is reserved for unsolicited answers: a request needs an id from 1 to 4294967295');
      return this.#badPacket(session, bytes, err);
    }
    if (!rateLimits.checkBytes(session.id, bytes.length)) {
      counters.received();
      return this.#rateLimited(session, bytes, event, 'bytes');
    }
    return this.#limited(session, bytes, isRoom ? '' : event, event);
  }

  /** Counts the message, asks the rate limiter, then decodes and routes it (later if the limiter is async). */
  #limited(session: Session, bytes: Buffer, limitKey: string, event: string): void | Promise<void> {
    const { counters, rateLimits, config } = this.#p;
    counters.received();
    const verdict = rateLimits.check(session.id, limitKey);
    if (verdict instanceof Promise) {
      return verdict.then(
        (v) => this.#route(session, bytes, event, v),
        (err: unknown) => {
          // A broken custom limiter must not become an open door nor a crash: log and allow.
          config.logger.error('custom rate limiter failed:', err);
          this.#route(session, bytes, event, null);
        },
      );
    }
    this.#route(session, bytes, event, verdict);
  }

  #route(session: Session, bytes: Buffer, event: string, verdict: RateVerdict): void {
    if (session.state !== SessionState.OPEN) return;
    if (verdict) return this.#rateLimited(session, bytes, event, verdict);
    const packet = this.#decode(session, bytes, event);
    if (!packet) return;
    if (channels.messageIn.hasSubscribers) this.#p.diagnostics.messageIn(session, packet, bytes.length);
    switch (packet.type) {
      case PacketType.JSON:
      case PacketType.BINARY:
        return this.#event(session, packet);
      case PacketType.ACK_REQUEST:
        return this.#ack(session, packet);
      case PacketType.JOIN_ROOM:
        return this.#room(session, packet.event, true);
      case PacketType.LEAVE_ROOM:
        return this.#room(session, packet.event, false);
    }
  }

  /** The whole packet of an accepted client (JSON depth bounded); null = refused as malformed. */
  #decode(session: Session, bytes: Buffer, event?: string): Packet | null {
    try {
      return decodePacket(bytes, this.#p.config.maxJsonDepth, event);
    } catch (err) {
      this.#badPacket(session, bytes, asStelarError(err));
      return null;
    }
  }

  /**
   * A packet the server refuses as malformed: reported, answered (an ACK request with an
   * error response, so its caller settles), and counted: past `maxInvalidPackets` the
   * session is closed (1008), so a peer cannot make the server answer errors forever.
   */
  #badPacket(session: Session, bytes: Buffer, err: StelarError): void {
    this.#p.reportInvalid(session, err);
    this.#refuseAck(session, bytes, err);
    if (session.noteInvalid() > this.#p.config.maxInvalidPackets) {
      session.fail(
        new StelarError(err.code, `${err.message} (more than ${this.#p.config.maxInvalidPackets} invalid packets: closing)`, CloseCode.POLICY_VIOLATION),
      );
      return;
    }
    session.fail(err);
  }

  #rateLimited(session: Session, bytes: Buffer, event: string, scope: NonNullable<RateVerdict>): void {
    const c = this.#p.config;
    this.#p.counters.rateLimited(session.protocol, scope);
    const disconnect = runHook(
      c.hooks,
      'onRateLimitExceeded',
      { clientId: session.id, event, protocol: session.protocol, ip: session.remoteAddress, scope },
      c.logger,
    );
    if (channels.rateLimit.hasSubscribers) this.#p.diagnostics.rateLimit(session, event, scope, disconnect);
    const err = new StelarError(ErrorCode.RATE_LIMITED, `rate limit exceeded (${scope})`, disconnect ? undefined : 0);
    this.#refuseAck(session, bytes, err, event);
    session.fail(err, { event, scope });
  }

  /**
   * Every ACK Request the server refuses is answered with an error ACK Response carrying its
   * ackId (0 included) and the refusal's code, whatever else is sent, so the caller's pending
   * call settles. Read from the header only: the body may be what was refused.
   */
  #refuseAck(session: Session, bytes: Buffer, err: StelarError, event?: string): void {
    if (peekPacketType(bytes) !== PacketType.ACK_REQUEST) return;
    const ack = peekAck(bytes, event ?? peekEvent(bytes));
    if (ack) this.#refuseAckId(session, ack.ackId, ack.name, err);
  }

  /** A refused ACK request also gets an error ACK response, so the caller's promise settles. */
  #refuseAckId(session: Session, ackId: number, name: string, err: StelarError): void {
    session.sendPacket({ type: PacketType.ACK_RESPONSE, event: name, ackId, ok: false, data: { message: err.message, code: err.code } });
  }

  #event(session: Session, packet: Packet): void {
    // Reserved names are the protocol's: never the application's handlers (none is a plain event yet).
    if (isReservedEvent(packet.event)) return;
    const { handlers, contextHost, config } = this.#p;
    const list = handlers.events.get(packet.event);
    const all = handlers.all;
    if (!list && all.length === 0) return; // nobody listens: no context to build
    const ctx = new StelarContext(contextHost, session, packet.event, packet.data);
    const logger = config.logger;
    const observe = this.#p.counters.observe;
    const timed = observe?.sampleEvent() === true;
    const start = timed ? performance.now() : 0;
    for (const h of all) invokeHandler(h, ctx, logger, 'onAll');
    if (list) for (const h of list) invokeEventHandler(h, ctx, logger, packet.event);
    if (timed) observe.handlersRan('event', start);
  }

  #ack(session: Session, packet: Packet): void {
    const { contextHost, inFlight, counters } = this.#p;
    if (inFlight?.draining) {
      const err = new StelarError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down: request not started');
      return this.#refuseAckId(session, packet.ackId ?? 0, packet.ackName ?? packet.event, err);
    }
    const name = packet.ackName ?? packet.event;
    const ctx = new StelarContext(contextHost, session, packet.event, packet.data, packet.ackId, name);
    const observe = counters.observe;
    const release = inFlight?.begin(session);
    const answered = observe === null ? release : observe.ackTimer(session.protocol, release);
    const start = observe === null ? 0 : performance.now();
    if (tracingAcks()) {
      // Traced: the handler runs inside ack:start's runStores, so a store a tracer bound to that
      // channel (an AsyncLocalStorage holding its span) is current in the handler and what it awaits.
      const trace = this.#p.diagnostics.ackStart(session, packet.ackId ?? 0, name, packet.event, answered);
      StelarContext.onAnswered(ctx, trace.onAnswered);
      channels.ackStart.runStores(trace.message, this.#runAck, this, session, packet, ctx, name);
    } else {
      if (answered) StelarContext.onAnswered(ctx, answered);
      this.#runAck(session, packet, ctx, name);
    }
    if (observe !== null) observe.handlersRan('ack', start);
  }

  /** Calls the request's onAck handler, or its plain handlers, and answers with what they return. */
  #runAck(session: Session, packet: Packet, ctx: StelarContext, name: string): void {
    if (isReservedEvent(packet.event)) return this.#reserved(session, packet, ctx, name);
    const { handlers } = this.#p;
    const handler = handlers.acks.get(name);
    // An onAck handler's result is the answer, even undefined; a plain handler's only when it
    // returns something (it may answer later through ctx.ack / ctx.send instead).
    if (handler) {
      let result: unknown;
      try {
        result = handler(ctx);
      } catch (err) {
        StelarContext.reply(ctx, false, StelarContext.errorBody(err));
        return;
      }
      return this.#answer(session, ctx, name, true, result);
    }
    const list = handlers.events.get(packet.event);
    if (!list) {
      StelarContext.reply(ctx, false, { message: `no handler for "${name}"`, code: ErrorCode.NO_ACK_HANDLER });
      return;
    }
    // Plain handlers answer with ctx.ack()/ctx.send(), or by returning a value.
    for (const h of list) {
      let result: unknown;
      try {
        result = h(ctx);
      } catch (err) {
        StelarContext.reply(ctx, false, StelarContext.errorBody(err));
        continue;
      }
      this.#answer(session, ctx, name, false, result);
    }
  }

  /** A request for a reserved event: answered by the library (docs/PROTOCOL.md, "Reserved events"). */
  #reserved(session: Session, packet: Packet, ctx: StelarContext, name: string): void {
    const presence = this.#p.presence;
    let result: unknown;
    try {
      if (packet.event !== ReservedEvent.PRESENCE || !presence) throw new StelarError(ErrorCode.NO_ACK_HANDLER, `no handler for "${packet.event}"`);
      result = presence.request(session, packet.data);
    } catch (err) {
      StelarContext.reply(ctx, false, StelarContext.errorBody(err));
      return;
    }
    this.#answer(session, ctx, name, true, result);
  }

  /**
   * A handler's result as the answer: a synchronous one at once (no Promise, no closure per
   * request), a Promise when it settles. `always`: undefined answers too (an onAck handler).
   */
  #answer(session: Session, ctx: StelarContext, name: string, always: boolean, value: unknown): void {
    if (value instanceof Promise) {
      value.then(
        (v: unknown) => this.#settle(session, ctx, name, always, v),
        (err: unknown) => StelarContext.reply(ctx, false, StelarContext.errorBody(err)),
      );
      return;
    }
    this.#settle(session, ctx, name, always, value);
  }

  #settle(session: Session, ctx: StelarContext, name: string, always: boolean, value: unknown): void {
    if (!always && value === undefined) return;
    try {
      StelarContext.reply(ctx, true, value);
    } catch (err) {
      // The value cannot be encoded (circular, nested past the stack, BigInt...). Thrown here it
      // would escape the socket's data handler (or reject unheard) and end the process.
      this.#p.config.logger.error(`the answer to "${name}" could not be encoded:`, err);
      this.#refuseAckId(session, StelarContext.ackIdOf(ctx), name, new StelarError(ErrorCode.ACK_FAILED, 'the answer could not be encoded'));
    }
  }

  #room(session: Session, room: string, join: boolean): void {
    const rooms = this.#p.rooms;
    const refusal = join ? rooms.joinRoom(session, room) : rooms.leaveRoom(session, room);
    if (refusal) session.fail(refusal, { room });
    else session.sendPacket({ type: join ? PacketType.JOIN_ROOM : PacketType.LEAVE_ROOM, event: room });
  }
}
