/**
 * Encode once, write many. A `WireMessage` holds one packet's bytes behind the TCP length
 * prefix (one allocation: the TCP frame is free, the packet bytes are a view of it); the
 * WebSocket frame is derived at most once, on first use. The very same bytes then go to
 * every recipient, on this node or (as packet bytes) on others.
 *
 * Connection-state recovery: a recorded message carries its history `offset`, and sessions
 * that negotiated recovery receive a variant whose event field is `event NUL offset`
 * (docs/PROTOCOL.md, "Recovery"). That variant is spliced from the plain packet bytes (a
 * copy, no JSON re-encoding), once per message per node, and then shared the same way.
 *
 * permessage-deflate: connections that keep no compression context take one compressed frame
 * per compressor (one per window size in use), built on first use and shared the same way.
 */
import {
  decodePacket,
  encodePacket,
  MAX_EVENT_NAME_BYTES,
  type Packet,
  PACKET_HEADER_SIZE,
  PacketType,
  peekEventLength,
  TCP_PREFIX_SIZE,
} from '../protocol/index.js';
import { buildFrame, type Compressor, compressedFrame, Opcode, type SharedMessage } from '../websocket/index.js';
import { allocTcpFrame } from './frames.js';

/** A message encoded once and written as the same bytes to every recipient. */
export interface EncodedMessage extends SharedMessage {
  readonly packet: Packet;
  /** The packet bytes without any framing (what a cluster adapter publishes). */
  readonly bytes: Uint8Array;
  /** The unmasked WebSocket binary frame, built on first use and then shared. */
  wsFrame(): Buffer;
  /** The TCP frame (4-byte length prefix + packet), built on first use and then shared. */
  tcpFrame(): Uint8Array;
  /** Connection-state recovery: the message's position in the history, when it was recorded. */
  readonly offset?: string;
  /** The same message with its offset in the event field, for sessions using recovery (built once). */
  withOffset?(): EncodedMessage;
  /** Several messages written as one (a `MessageRun`): the messages, for whoever counts them. */
  readonly parts?: readonly EncodedMessage[];
}

/** Separates the event name from its offset in the event field. */
export const OFFSET_SEPARATOR = '\u0000';

export class WireMessage implements EncodedMessage {
  readonly offset: string | undefined;
  /** Prefix + packet in one allocation. */
  readonly #tcp: Uint8Array;
  #ws: Buffer | null = null;
  /** Compressed frames by compressor: [compressor, frame, compressor, frame, ...] (usually one pair). */
  #deflated: Array<Compressor | Buffer> | null = null;
  #packet: Packet | null;
  #tagged: EncodedMessage | null = null;

  private constructor(frame: Uint8Array, offset: string | undefined, packet: Packet | null) {
    this.#tcp = frame;
    this.offset = offset;
    this.#packet = packet;
  }

  /**
   * Encodes `packet` once (the TCP prefix reserved in the same allocation). Small encodings
   * are views into a shared slab; a message may be kept long (recovery history), and a kept
   * view would pin its whole 16 KiB slab, so the message takes its own copy.
   */
  static fromPacket(packet: Packet): WireMessage {
    return new WireMessage(encodePacket(packet, TCP_PREFIX_SIZE).slice(), undefined, packet);
  }

  /** Copies packet `bytes` once, behind a length prefix. The packet is decoded only if asked for. */
  static fromBytes(bytes: Uint8Array, offset?: string, packet?: Packet): WireMessage {
    const frame = allocTcpFrame(bytes.length);
    frame.set(bytes, TCP_PREFIX_SIZE);
    return new WireMessage(frame, offset, packet ?? null);
  }

  /** Wraps a whole TCP frame (its prefix already written). */
  static fromFrame(frame: Uint8Array): WireMessage {
    return new WireMessage(frame, undefined, null);
  }

  get packet(): Packet {
    return (this.#packet ??= decodePacket(this.bytes));
  }

  get bytes(): Uint8Array {
    return this.#tcp.subarray(TCP_PREFIX_SIZE);
  }

  wsFrame(): Buffer {
    // An unmasked server frame is identical for every socket, so it is built once.
    return (this.#ws ??= buildFrame(Opcode.BINARY, this.bytes));
  }

  wsCompressedFrame(compressor: Compressor): Buffer {
    const list = (this.#deflated ??= []);
    for (let i = 0; i < list.length; i += 2) if (list[i] === compressor) return list[i + 1] as Buffer;
    const frame = compressedFrame(compressor, this.bytes);
    list.push(compressor, frame);
    return frame;
  }

  tcpFrame(): Uint8Array {
    return this.#tcp;
  }

  /** The same bytes (shared, not copied) recorded at `offset`. */
  recordedAt(offset: string): WireMessage {
    const copy = new WireMessage(this.#tcp, offset, this.#packet);
    copy.#ws = this.#ws;
    copy.#deflated = this.#deflated;
    return copy;
  }

  withOffset(): EncodedMessage {
    if (this.offset === undefined) return this;
    return (this.#tagged ??= tagOffset(this.bytes, this.offset) ?? this);
  }
}

/** `message` recorded at `offset`: its bytes shared when it is a WireMessage, copied otherwise. */
export function recordedAt(message: EncodedMessage, offset: string): EncodedMessage {
  return message instanceof WireMessage ? message.recordedAt(offset) : WireMessage.fromBytes(message.bytes, offset, message.packet);
}

/**
 * `type | len | event | body` -> `type | len' | event NUL offset | body`. Null when the event
 * field would overflow its u16 length (the plain message is sent then: no offset, no harm).
 */
export function tagOffset(bytes: Uint8Array, offset: string): EncodedMessage | null {
  const eventLen = peekEventLength(bytes);
  const suffix = Buffer.from(OFFSET_SEPARATOR + offset, 'latin1');
  const newLen = eventLen + suffix.length;
  if (newLen > MAX_EVENT_NAME_BYTES) return null;
  const head = PACKET_HEADER_SIZE + eventLen;
  const frame = allocTcpFrame(bytes.length + suffix.length);
  const out = frame.subarray(TCP_PREFIX_SIZE);
  out[0] = bytes[0];
  out[1] = newLen >> 8;
  out[2] = newLen & 0xff;
  out.set(bytes.subarray(PACKET_HEADER_SIZE, head), PACKET_HEADER_SIZE);
  out.set(suffix, head);
  out.set(bytes.subarray(head), head + suffix.length);
  return WireMessage.fromFrame(frame);
}

/**
 * The packet type an event is sent as: bytes (Buffer, Uint8Array, any ArrayBuffer view or an
 * ArrayBuffer) always travel as a Binary packet, so `to(room, 'file', buffer)` never base64s or
 * JSON-expands them; everything else is JSON.
 */
export function eventPacketType(data: unknown, binary = false): PacketType {
  return binary || data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? PacketType.BINARY : PacketType.JSON;
}

/** An event, encoded once for every recipient. */
export function eventMessage(event: string, data: unknown, binary = false): WireMessage {
  return WireMessage.fromPacket({ type: eventPacketType(data, binary), event, data });
}
