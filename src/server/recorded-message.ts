/**
 * Encoded messages that carry a history offset (connection-state recovery), and messages
 * rebuilt from packet bytes that arrived from another node.
 *
 * A session that negotiated recovery receives recorded events with the offset appended to
 * the event field: `event NUL offset` (docs/PROTOCOL.md, "Recovery"). That variant is spliced
 * from the plain packet bytes (a copy, no JSON re-encoding), once per message per node, and
 * then shared by every such session exactly like the plain frames.
 */
import type { EncodedMessage } from '../adapter/adapter.js';
import { decodePacket, MAX_EVENT_NAME_BYTES, type Packet, PACKET_HEADER_SIZE, TCP_PREFIX_SIZE } from '../protocol/index.js';
import { buildFrame, Opcode } from '../websocket/index.js';

/** Separates the event name from its offset in the event field. */
export const OFFSET_SEPARATOR = '\u0000';

/** A message made from packet bytes (no framing). The packet is decoded only if someone asks. */
export class PacketBytesMessage implements EncodedMessage {
  readonly offset: string | undefined;
  /** Prefix + packet in one allocation: the TCP frame is free, `bytes` is a view. */
  readonly #tcp: Uint8Array;
  #ws: Buffer | null = null;
  #packet: Packet | null;
  #tagged: EncodedMessage | null = null;

  /** `frame` is a whole TCP frame (its length prefix written by the caller). */
  private constructor(frame: Uint8Array, offset?: string, packet?: Packet) {
    this.#tcp = frame;
    this.offset = offset;
    this.#packet = packet ?? null;
  }

  /** Copies `bytes` once, behind a length prefix. */
  static fromBytes(bytes: Uint8Array, offset?: string, packet?: Packet): PacketBytesMessage {
    const frame = prefixed(bytes.length);
    frame.set(bytes, TCP_PREFIX_SIZE);
    return new PacketBytesMessage(frame, offset, packet);
  }

  static fromFrame(frame: Uint8Array): PacketBytesMessage {
    return new PacketBytesMessage(frame);
  }

  get packet(): Packet {
    return (this.#packet ??= decodePacket(this.bytes));
  }

  get bytes(): Uint8Array {
    return this.#tcp.subarray(TCP_PREFIX_SIZE);
  }

  wsFrame(): Buffer {
    return (this.#ws ??= buildFrame(Opcode.BINARY, this.bytes));
  }

  tcpFrame(): Uint8Array {
    return this.#tcp;
  }

  withOffset(): EncodedMessage {
    if (this.offset === undefined) return this;
    return (this.#tagged ??= tagOffset(this.bytes, this.offset) ?? this);
  }
}

/** Gives an already encoded message an offset, keeping its plain frames (shared, not copied). */
export class OffsetMessage implements EncodedMessage {
  readonly offset: string;
  readonly #base: EncodedMessage;
  #tagged: EncodedMessage | null = null;

  constructor(base: EncodedMessage, offset: string) {
    this.#base = base;
    this.offset = offset;
  }

  get packet(): Packet {
    return this.#base.packet;
  }
  get bytes(): Uint8Array {
    return this.#base.bytes;
  }
  wsFrame(): Buffer {
    return this.#base.wsFrame();
  }
  tcpFrame(): Uint8Array {
    return this.#base.tcpFrame();
  }
  withOffset(): EncodedMessage {
    return (this.#tagged ??= tagOffset(this.#base.bytes, this.offset) ?? this.#base);
  }
}

/**
 * `type | len | event | body` -> `type | len' | event NUL offset | body`. Null when the event
 * field would overflow its u16 length (the plain message is sent then: no offset, no harm).
 */
export function tagOffset(bytes: Uint8Array, offset: string): EncodedMessage | null {
  const eventLen = (bytes[1] << 8) | bytes[2];
  const suffix = Buffer.from(OFFSET_SEPARATOR + offset, 'latin1');
  const newLen = eventLen + suffix.length;
  if (newLen > MAX_EVENT_NAME_BYTES) return null;
  const head = PACKET_HEADER_SIZE + eventLen;
  const frame = prefixed(bytes.length + suffix.length);
  const out = frame.subarray(TCP_PREFIX_SIZE);
  out[0] = bytes[0];
  out[1] = newLen >> 8;
  out[2] = newLen & 0xff;
  out.set(bytes.subarray(PACKET_HEADER_SIZE, head), PACKET_HEADER_SIZE);
  out.set(suffix, head);
  out.set(bytes.subarray(head), head + suffix.length);
  return PacketBytesMessage.fromFrame(frame);
}

/** A zeroed TCP frame for a packet of `size` bytes, its length prefix already written. */
function prefixed(size: number): Uint8Array {
  const frame = new Uint8Array(TCP_PREFIX_SIZE + size);
  new DataView(frame.buffer).setUint32(0, frame.length);
  return frame;
}
