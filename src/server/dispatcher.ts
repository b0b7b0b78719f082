/**
 * From packet to handler. Decides what each packet type means in each session state,
 * applies the per-message checks (size, event name, rate limit) and runs handlers,
 * ACK handlers and room operations. Handler failures are logged, never thrown upward.
 */
import type { LoggerLike } from '../logger.js';
import { decodePacket, ErrorCode, isStelarError, type Packet, PacketType, PROTOCOL_VERSION, StelarError } from '../protocol/index.js';
import { StelarContext } from './context.js';
import { runHook } from './hooks.js';
import type { Hub } from './hub.js';
import { validName } from './limits.js';
import { type Middleware, runMiddleware } from './middleware.js';
import type { RateVerdict } from './rate-limiter.js';
import { type Session, SessionState } from './session.js';

export type EventHandler = (ctx: StelarContext<any, any>, ...rest: any[]) => unknown;
export type AckHandler = (ctx: StelarContext<any, any>) => unknown;

/** Everything registered through on / onAll / onAck / onConnection / onDisconnect / use. */
export class Handlers {
  readonly events = new Map<string, EventHandler[]>();
  readonly all: EventHandler[] = [];
  readonly acks = new Map<string, AckHandler>();
  readonly connection: EventHandler[] = [];
  readonly disconnect: EventHandler[] = [];
  readonly middleware: Middleware<any>[] = [];

  addEvent(event: string, handler: EventHandler): void {
    const list = this.events.get(event);
    if (list) list.push(handler);
    else this.events.set(event, [handler]);
  }
}

/** Calls a handler; sync throws and async rejections are logged. Returns its result. */
export function invokeHandler(handler: EventHandler, ctx: StelarContext, logger: LoggerLike, what: string, ...rest: unknown[]): unknown {
  try {
    const result = handler(ctx, ...rest);
    if (result instanceof Promise) result.catch((err: unknown) => logger.error(`${what} handler failed:`, err));
    return result;
  } catch (err) {
    logger.error(`${what} handler threw:`, err);
    return undefined;
  }
}

/** `invokeHandler` for on(event): the log label is only built when the handler fails (per-message path). */
function invokeEventHandler(handler: EventHandler, ctx: StelarContext, logger: LoggerLike, event: string): void {
  try {
    const result = handler(ctx);
    if (result instanceof Promise) result.catch((err: unknown) => logger.error(`on('${event}') handler failed:`, err));
  } catch (err) {
    logger.error(`on('${event}') handler threw:`, err);
  }
}

/** Reads just the event name of a packet too big to decode in full. */
function peekEvent(bytes: Buffer): string {
  if (bytes.length < 3) return '';
  const len = bytes.readUInt16BE(1);
  return bytes.toString('utf8', 3, Math.min(3 + len, bytes.length, 3 + 1024));
}

/** The ackId and ack name of an ACK Request too big to decode in full (null if not one). */
function peekAck(bytes: Buffer, event: string): { ackId: number; name: string } | null {
  if (bytes.length < 3 || bytes[0] !== PacketType.ACK_REQUEST) return null;
  const at = 3 + bytes.readUInt16BE(1);
  if (bytes.length < at + 6) return null;
  const nameLen = bytes.readUInt16BE(at + 4);
  const name = nameLen === 0 ? event : bytes.toString('utf8', at + 6, Math.min(at + 6 + nameLen, bytes.length, at + 6 + 1024));
  return { ackId: bytes.readUInt32BE(at), name };
}

export class Dispatcher {
  readonly #hub: Hub;

  constructor(hub: Hub) {
    this.#hub = hub;
  }

  handle(session: Session, bytes: Buffer): void | Promise<void> {
    const c = this.#hub.config;
    if (bytes.length > c.maxPayloadSize) return this.#tooLarge(session, bytes);
    let packet: Packet;
    try {
      packet = decodePacket(bytes);
    } catch (err) {
      const e = isStelarError(err) ? err : new StelarError(ErrorCode.PACKET_UNEXPECTED, String(err));
      return this.#hub.onInvalid(session, e);
    }
    if (session.state === SessionState.OPEN) return this.#handleOpen(session, packet);
    if (packet.type === PacketType.PING) return this.#pong(session, packet);
    if (packet.type === PacketType.CONNECT && session.state === SessionState.AWAITING_CONNECT) {
      return this.#handshake(session, packet);
    }
    this.#hub.onInvalid(session, new StelarError(ErrorCode.PACKET_UNEXPECTED, 'the first packet must be Connect', 1002));
  }

  #tooLarge(session: Session, bytes: Buffer): void {
    const c = this.#hub.config;
    const event = peekEvent(bytes);
    runHook(c.hooks, 'onPayloadTooLarge', { clientId: session.id, event, size: bytes.length, max: c.maxPayloadSize, protocol: session.protocol }, c.logger);
    const err = new StelarError(ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${bytes.length} bytes exceeds maxPayloadSize ${c.maxPayloadSize}`);
    // Like any refused request, an oversized one is answered, so the caller does not wait for its timeout.
    const ack = session.state === SessionState.OPEN ? peekAck(bytes, event) : null;
    if (ack && ack.ackId !== 0) {
      session.sendPacket({ type: PacketType.ACK_RESPONSE, event: ack.name, ackId: ack.ackId, ok: false, data: { message: err.message, code: err.code } });
    }
    session.fail(err, {
      event,
      size: bytes.length,
      max: c.maxPayloadSize,
    });
  }

  #pong(session: Session, packet: Packet): void {
    session.sendPacket({ type: PacketType.PONG, event: packet.event, data: packet.data });
  }

  // ---- handshake --------------------------------------------------------------------------

  #handshake(session: Session, packet: Packet): void | Promise<void> {
    const hub = this.#hub;
    const data = packet.data as { v?: unknown; auth?: unknown; recovery?: unknown } | undefined;
    if (data && typeof data === 'object' && data.v !== undefined && data.v !== PROTOCOL_VERSION) {
      session.fail(new StelarError(ErrorCode.PACKET_UNEXPECTED, `unsupported protocol version ${String(data.v)}`, 1002));
      return;
    }
    session.state = SessionState.HANDSHAKE;
    if (hub.recovery && data && typeof data === 'object') session.recovery = hub.recovery.negotiate(data.recovery);
    const ctx = new StelarContext(hub, session, 'connection', data && typeof data === 'object' ? data.auth : undefined);
    const chain = hub.handlers.middleware;
    if (chain.length === 0) return hub.accept(session, ctx);
    const verdict = runMiddleware(chain, ctx, () => session.state !== SessionState.HANDSHAKE);
    const finish = (v: true | StelarError): void => {
      if (session.state !== SessionState.HANDSHAKE) return; // closed meanwhile
      if (v === true) hub.accept(session, ctx);
      else session.fail(v);
    };
    if (verdict instanceof Promise) return verdict.then(finish);
    finish(verdict);
  }

  // ---- accepted clients -------------------------------------------------------------------

  #handleOpen(session: Session, packet: Packet): void | Promise<void> {
    switch (packet.type) {
      case PacketType.PING:
        return this.#pong(session, packet);
      case PacketType.JSON:
      case PacketType.BINARY:
      case PacketType.ACK_REQUEST:
        return this.#message(session, packet);
      case PacketType.JOIN_ROOM:
      case PacketType.LEAVE_ROOM:
        return this.#limited(session, packet, '');
      case PacketType.DISCONNECT:
        // WebSocket clients close with a close frame, but a Disconnect means the same.
        session.close(1000, 'client disconnected');
        return;
      default:
        // Pong, ACK response, Error, a repeated Connect: proof of life, nothing to do.
        return;
    }
  }

  #message(session: Session, packet: Packet): void | Promise<void> {
    const hub = this.#hub;
    const c = hub.config;
    if (!validName(packet.event, c.maxEventNameLength)) {
      hub.counters.messagesReceived++;
      const err = new StelarError(ErrorCode.PACKET_INVALID_EVENT, `event name must be a non-empty string of at most ${c.maxEventNameLength} bytes`);
      hub.reportInvalid(session, err);
      this.#refuseAck(session, packet, err);
      session.fail(err);
      return;
    }
    return this.#limited(session, packet, packet.event);
  }

  /** Counts the message, asks the rate limiter, then routes it (later if the limiter is async). */
  #limited(session: Session, packet: Packet, event: string): void | Promise<void> {
    const hub = this.#hub;
    hub.counters.messagesReceived++;
    const verdict = hub.rateLimits.check(session.id, event);
    if (verdict instanceof Promise) {
      return verdict.then(
        (v) => this.#route(session, packet, v),
        (err: unknown) => {
          // A broken custom limiter must not become an open door nor a crash: log and allow.
          hub.logger.error('custom rate limiter failed:', err);
          this.#route(session, packet, null);
        },
      );
    }
    this.#route(session, packet, verdict);
  }

  #route(session: Session, packet: Packet, verdict: RateVerdict): void {
    if (session.state !== SessionState.OPEN) return;
    if (verdict) return this.#rateLimited(session, packet, verdict);
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

  #rateLimited(session: Session, packet: Packet, scope: NonNullable<RateVerdict>): void {
    const c = this.#hub.config;
    const event = packet.event;
    const disconnect = runHook(c.hooks, 'onRateLimitExceeded', { clientId: session.id, event, protocol: session.protocol, ip: session.remoteAddress, scope }, c.logger);
    const err = new StelarError(ErrorCode.RATE_LIMITED, `rate limit exceeded (${scope})`, disconnect ? undefined : 0);
    this.#refuseAck(session, packet, err);
    session.fail(err, { event, scope });
  }

  /** A refused ACK request also gets an error ACK response, so the caller's promise settles. */
  #refuseAck(session: Session, packet: Packet, err: StelarError): void {
    if (packet.type !== PacketType.ACK_REQUEST) return;
    session.sendPacket({ type: PacketType.ACK_RESPONSE, event: packet.ackName ?? packet.event, ackId: packet.ackId, ok: false, data: { message: err.message, code: err.code } });
  }

  #event(session: Session, packet: Packet): void {
    const hub = this.#hub;
    const list = hub.handlers.events.get(packet.event);
    const all = hub.handlers.all;
    if (!list && all.length === 0) return; // nobody listens: no context to build
    const ctx = new StelarContext(hub, session, packet.event, packet.data);
    const logger = hub.logger;
    for (const h of all) invokeHandler(h, ctx, logger, 'onAll');
    if (list) for (const h of list) invokeEventHandler(h, ctx, logger, packet.event);
  }

  #ack(session: Session, packet: Packet): void {
    const hub = this.#hub;
    const name = packet.ackName ?? packet.event;
    const ctx = new StelarContext(hub, session, packet.event, packet.data, packet.ackId, name);
    const handler = hub.handlers.acks.get(name);
    // An onAck handler's result is the answer, even undefined; a plain handler's only when it
    // returns something (it may answer later through ctx.ack / ctx.send instead).
    const always = handler !== undefined;
    const settle = (v: unknown): void => {
      if (!always && v === undefined) return;
      try {
        StelarContext.reply(ctx, true, v);
      } catch (err) {
        // The value cannot be encoded (circular, nested past the stack, BigInt...). Thrown here it
        // would escape the socket's data handler (or reject unheard) and end the process.
        hub.logger.error(`the answer to "${name}" could not be encoded:`, err);
        session.sendPacket({ type: PacketType.ACK_RESPONSE, event: name, ackId: packet.ackId, ok: false, data: { message: 'the answer could not be encoded', code: ErrorCode.ACK_FAILED } });
      }
    };
    const answer = (value: unknown): void => {
      if (value instanceof Promise) value.then(settle, (err: unknown) => StelarContext.reply(ctx, false, StelarContext.errorBody(err)));
      else settle(value);
    };
    if (handler) {
      let result: unknown;
      try {
        result = handler(ctx);
      } catch (err) {
        StelarContext.reply(ctx, false, StelarContext.errorBody(err));
        return;
      }
      return answer(result);
    }
    const list = hub.handlers.events.get(packet.event);
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
      answer(result);
    }
  }

  #room(session: Session, room: string, join: boolean): void {
    const hub = this.#hub;
    const refusal = join ? hub.joinRoom(session, room) : hub.leaveRoom(session, room);
    if (refusal) session.fail(refusal, { room });
    else session.sendPacket({ type: join ? PacketType.JOIN_ROOM : PacketType.LEAVE_ROOM, event: room });
  }
}
