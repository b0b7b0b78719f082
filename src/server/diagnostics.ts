/**
 * The server's diagnostics channels (`node:diagnostics_channel`): what a tracer (OpenTelemetry,
 * an APM agent) or a metrics exporter subscribes to from outside, without patching anything.
 * Named and shaped the way undici names its own (`undici:request:create`): `stelar:<what>:<when>`.
 *
 * The rules every publish here keeps (docs/API.md, "Diagnostics channels"):
 * - Nothing is built while nobody listens: each call site reads the channel's `hasSubscribers`
 *   first, so an unobserved server pays one property read per event, and no allocation.
 * - A message is a fresh plain object of strings, numbers and booleans (plus the server, to
 *   tell instances apart): no session, socket, context, packet or payload is handed out, so a
 *   subscriber cannot change what the server does by writing to what it received.
 * - A subscriber that throws does not interrupt the server: `publish` catches it, the other
 *   subscribers still run and the server goes on. Node then re-throws the error on the next
 *   tick as an uncaught exception (that is diagnostics_channel's rule, not ours), which ends
 *   the process unless it has an 'uncaughtException' handler: subscribers must not throw.
 * - Per-delivery fan-out is not published: a broadcast is one `stelar:broadcast` message with
 *   its recipient count, however many clients get it.
 */
import dc from 'node:diagnostics_channel';
import type { TransportProtocol } from '../contracts/index.js';
import type { Packet } from '../protocol/index.js';
import type { RateLimitScope } from './extension-types.js';

/** The channel names, as `diagnostics_channel.subscribe(name, fn)` takes them. */
export const DiagnosticsChannel = {
  /** A client was accepted (it has its id). */
  CONNECTION_OPEN: 'stelar:connection:open',
  /** An accepted client is gone. */
  CONNECTION_CLOSE: 'stelar:connection:close',
  /** An application message passed the checks (name, size, rate limits) and was decoded; its handlers run next. */
  MESSAGE_IN: 'stelar:message:in',
  /** A packet written to one client (replies, ctx.emit, toId, ACK answers, errors, room confirmations); not Pongs, not broadcasts. */
  MESSAGE_OUT: 'stelar:message:out',
  /** A broadcast or room send, encoded once: one message per send, with its recipient count. */
  BROADCAST: 'stelar:broadcast',
  /** An ACK request's handler is about to run (published with runStores, around the handler). */
  ACK_START: 'stelar:ack:start',
  /** The ACK request was answered: the same object as its ack:start, with the outcome added. */
  ACK_END: 'stelar:ack:end',
  /** A message (or a ping) was refused by a rate limit. */
  RATE_LIMIT: 'stelar:rate-limit',
  /** A client fell behind by more than maxBufferedBytes and is being closed (4006). */
  SLOW_CONSUMER: 'stelar:slow-consumer',
} as const;
export type DiagnosticsChannelName = (typeof DiagnosticsChannel)[keyof typeof DiagnosticsChannel];

/** Packet types by name (`PacketType` numbers, spelled out for span attributes and logs). */
const PACKET_NAMES = ['json', 'binary', 'ping', 'pong', 'ack-request', 'ack-response', 'connect', 'disconnect', 'join-room', 'leave-room', 'error'] as const;
export type DiagnosticsPacketType = (typeof PACKET_NAMES)[number];

// ---- message shapes ------------------------------------------------------------------------

/** Fields every per-client message has. */
export interface DiagnosticsClientFields {
  /** The StelarServer that published it (compare with `===` when a process runs several). */
  server: object;
  clientId: string;
  protocol: TransportProtocol;
}
export interface ConnectionOpenMessage extends DiagnosticsClientFields {
  remoteAddress: string;
  /** The client resumed an earlier session (connection-state recovery): same id, rooms, metadata. */
  recovered: boolean;
}
export interface ConnectionCloseMessage extends DiagnosticsClientFields {
  remoteAddress: string;
  /** The close code (WebSocket close code, or the TCP Disconnect's; 1006 when the socket just went). */
  code: number;
  reason: string;
  /** Milliseconds from acceptance to now. */
  duration: number;
}
export interface MessageInMessage extends DiagnosticsClientFields {
  type: 'json' | 'binary' | 'ack-request' | 'join-room' | 'leave-room';
  /** The event name (the room, for join-room / leave-room). */
  event: string;
  /** Bytes of the packet, without the transport's framing (the same for ws and tcp). */
  size: number;
  /** For an ACK request: its id (the same as its ack:start's). */
  ackId?: number;
}
export interface MessageOutMessage extends DiagnosticsClientFields {
  type: DiagnosticsPacketType;
  /** The event name; the ack name for an ACK response, the error code for an Error packet, the room for a room confirmation. */
  event: string;
  /** Bytes of the packet, without the transport's framing. */
  size: number;
  /** For an ACK response: the request's id (0 for an unsolicited answer). */
  ackId?: number;
}
export interface BroadcastMessage {
  server: object;
  type: 'json' | 'binary';
  event: string;
  /** Bytes of the packet, encoded once for every recipient. */
  size: number;
  /** The room sent to (undefined: everyone). */
  room?: string;
  /** The client left out (the sender, for ctx.broadcast). */
  exceptId?: string;
  /** Set for a `toId` that went through the adapter (the client is on another node, or recovery records it). */
  toId?: string;
  /** Clients of this node the message was written to (for a `toId`: 1 when the adapter took it). */
  recipients: number;
}
export interface AckStartMessage extends DiagnosticsClientFields {
  /** The request's event (what `on(event)` handlers see). */
  event: string;
  /** The ack name answered with (what `onAck(name)` matches; the event unless the client named one). */
  ackName: string;
  ackId: number;
}
/** ack:end receives the very object ack:start did, with these fields filled in. */
export interface AckEndMessage extends AckStartMessage {
  /** The answer was a success (`ok: true` ACK response); false for a thrown or rejected handler, no handler, an encoding failure. */
  ok: boolean;
  /** The answer was written to the client; false when it had gone (or was closing) by then. */
  sent: boolean;
  /** For `ok: false`: the error the client receives. */
  error?: { code: string; message: string };
  /** Milliseconds from ack:start to the answer (performance.now() based). */
  duration: number;
}
export interface RateLimitMessage extends DiagnosticsClientFields {
  remoteAddress: string;
  /** The refused message's event ('' for pings). */
  event: string;
  /** The limit that refused it: the tiers of `onRateLimitExceeded`, 'bytes' (byteRateLimit) or 'ping' (pingLimit). */
  scope: RateLimitScope | 'ping';
  /** The client is being disconnected (4008) for it; false when `onRateLimitExceeded` returned false (the message is still dropped). */
  disconnect: boolean;
}
export interface SlowConsumerMessage extends DiagnosticsClientFields {
  /** Bytes queued for the client when the cap was found exceeded. */
  bufferedBytes: number;
  /** maxBufferedBytes. */
  max: number;
}

/** Channel name -> the message it publishes (for typed subscribers). */
export interface DiagnosticsMessages {
  'stelar:connection:open': ConnectionOpenMessage;
  'stelar:connection:close': ConnectionCloseMessage;
  'stelar:message:in': MessageInMessage;
  'stelar:message:out': MessageOutMessage;
  'stelar:broadcast': BroadcastMessage;
  'stelar:ack:start': AckStartMessage;
  'stelar:ack:end': AckEndMessage;
  'stelar:rate-limit': RateLimitMessage;
  'stelar:slow-consumer': SlowConsumerMessage;
}

// ---- the channels ----------------------------------------------------------------------------

/**
 * The channel objects, created once for the process (diagnostics_channel hands every caller of
 * the same name the same channel). Call sites read `channels.x.hasSubscribers` before calling
 * the matching ServerDiagnostics method.
 */
export const channels = {
  connectionOpen: dc.channel(DiagnosticsChannel.CONNECTION_OPEN),
  connectionClose: dc.channel(DiagnosticsChannel.CONNECTION_CLOSE),
  messageIn: dc.channel(DiagnosticsChannel.MESSAGE_IN),
  messageOut: dc.channel(DiagnosticsChannel.MESSAGE_OUT),
  broadcast: dc.channel(DiagnosticsChannel.BROADCAST),
  ackStart: dc.channel(DiagnosticsChannel.ACK_START),
  ackEnd: dc.channel(DiagnosticsChannel.ACK_END),
  rateLimit: dc.channel(DiagnosticsChannel.RATE_LIMIT),
  slowConsumer: dc.channel(DiagnosticsChannel.SLOW_CONSUMER),
};

/** True when an ACK request must be traced (someone listens to its start or its end). */
export function tracingAcks(): boolean {
  return channels.ackStart.hasSubscribers || channels.ackEnd.hasSubscribers;
}

/** What the messages are read from: a session, seen through the few fields published. */
export interface DiagnosticsClient {
  readonly id: string;
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  /** ms timestamp of acceptance. */
  readonly connectedAt: number;
}

/** Told once when an ACK request is answered: the answer's outcome, and whether it was written. */
export type AnsweredFn = (ok: boolean, data: unknown, sent: boolean) => void;

/** An ACK request being traced: ack:start's message, and what to call when it is answered. */
export interface AckTrace {
  message: AckStartMessage;
  onAnswered: AnsweredFn;
}

/** An error body as the client gets it, copied into plain strings. */
function errorOf(data: unknown): { code: string; message: string } {
  const d = data as { code?: unknown; message?: unknown } | null | undefined;
  return { code: String(d?.code ?? ''), message: String(d?.message ?? '') };
}

/**
 * One per server: builds the messages (with the server they come from) and publishes them.
 * Every method assumes its caller checked the channel's `hasSubscribers`.
 */
export class ServerDiagnostics {
  readonly #server: object;

  constructor(server: object) {
    this.#server = server;
  }

  connectionOpen(c: DiagnosticsClient, recovered: boolean): void {
    const message: ConnectionOpenMessage = { server: this.#server, clientId: c.id, protocol: c.protocol, remoteAddress: c.remoteAddress, recovered };
    channels.connectionOpen.publish(message);
  }

  connectionClose(c: DiagnosticsClient, code: number, reason: string): void {
    const message: ConnectionCloseMessage = {
      server: this.#server,
      clientId: c.id,
      protocol: c.protocol,
      remoteAddress: c.remoteAddress,
      code,
      reason,
      duration: c.connectedAt === 0 ? 0 : Date.now() - c.connectedAt,
    };
    channels.connectionClose.publish(message);
  }

  messageIn(c: DiagnosticsClient, packet: Packet, size: number): void {
    const message: MessageInMessage = {
      server: this.#server,
      clientId: c.id,
      protocol: c.protocol,
      type: PACKET_NAMES[packet.type] as MessageInMessage['type'],
      event: packet.event,
      size,
    };
    if (packet.ackId !== undefined) message.ackId = packet.ackId;
    channels.messageIn.publish(message);
  }

  messageOut(c: DiagnosticsClient, packet: Packet, size: number): void {
    const message: MessageOutMessage = {
      server: this.#server,
      clientId: c.id,
      protocol: c.protocol,
      type: PACKET_NAMES[packet.type],
      event: packet.event,
      size,
    };
    if (packet.ackId !== undefined) message.ackId = packet.ackId;
    channels.messageOut.publish(message);
  }

  /** `sent`: what the fan-out returned (local recipients; for a toId, whether the adapter took it). */
  broadcast(packet: Packet, size: number, target: { room?: string; exceptId?: string; toId?: string }, sent: number): void {
    const message: BroadcastMessage = {
      server: this.#server,
      type: PACKET_NAMES[packet.type] as BroadcastMessage['type'],
      event: packet.event,
      size,
      recipients: sent,
    };
    if (target.room !== undefined) message.room = target.room;
    if (target.exceptId !== undefined) message.exceptId = target.exceptId;
    if (target.toId !== undefined) message.toId = target.toId;
    channels.broadcast.publish(message);
  }

  /**
   * An ACK request starts: the ack:start message (the caller publishes it with `runStores`
   * around the handler) and the function that publishes ack:end on the same object once the
   * request is answered, after telling `answered` (the in-flight count).
   */
  ackStart(c: DiagnosticsClient, ackId: number, ackName: string, event: string, answered: (() => void) | undefined): AckTrace {
    const message: AckStartMessage = { server: this.#server, clientId: c.id, protocol: c.protocol, event, ackName, ackId };
    const started = performance.now();
    const onAnswered: AnsweredFn = (ok, data, sent) => {
      answered?.();
      if (!channels.ackEnd.hasSubscribers) return;
      const end = message as AckEndMessage;
      end.ok = ok;
      end.sent = sent;
      if (!ok) end.error = errorOf(data);
      end.duration = performance.now() - started;
      channels.ackEnd.publish(end);
    };
    return { message, onAnswered };
  }

  rateLimit(c: DiagnosticsClient, event: string, scope: RateLimitScope | 'ping', disconnect: boolean): void {
    const message: RateLimitMessage = { server: this.#server, clientId: c.id, protocol: c.protocol, remoteAddress: c.remoteAddress, event, scope, disconnect };
    channels.rateLimit.publish(message);
  }

  slowConsumer(c: DiagnosticsClient, bufferedBytes: number, max: number): void {
    const message: SlowConsumerMessage = { server: this.#server, clientId: c.id, protocol: c.protocol, bufferedBytes, max };
    channels.slowConsumer.publish(message);
  }
}
