/**
 * Encode once, write many. A broadcast encodes its packet a single time (with the TCP
 * prefix reserved in the same allocation); the WebSocket frame and the TCP frame are each
 * derived at most once, on first use, and the very same bytes go to every recipient.
 */
import type { EncodedMessage } from '../adapter/adapter.js';
import { encodePacket, type Packet, PacketType, TCP_PREFIX_SIZE } from '../protocol/index.js';
import { buildFrame, Opcode } from '../websocket/index.js';

class SharedMessage implements EncodedMessage {
  readonly packet: Packet;
  readonly #tcp: Uint8Array;
  #ws: Buffer | null = null;

  constructor(packet: Packet) {
    this.packet = packet;
    this.#tcp = encodePacket(packet, TCP_PREFIX_SIZE);
  }

  get bytes(): Uint8Array {
    return this.#tcp.subarray(TCP_PREFIX_SIZE);
  }

  wsFrame(): Buffer {
    // An unmasked server frame is identical for every socket, so it is built once.
    return (this.#ws ??= buildFrame(Opcode.BINARY, this.bytes));
  }

  tcpFrame(): Uint8Array {
    return this.#tcp;
  }
}

export function encodeMessage(packet: Packet): EncodedMessage {
  return new SharedMessage(packet);
}

/**
 * The packet type an event is sent as: bytes (Buffer, Uint8Array, any ArrayBuffer view or an
 * ArrayBuffer) always travel as a Binary packet, so `to(room, 'file', buffer)` never base64s or
 * JSON-expands them; everything else is JSON.
 */
export function eventPacketType(data: unknown, binary = false): PacketType {
  return binary || data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? PacketType.BINARY : PacketType.JSON;
}

export function eventMessage(event: string, data: unknown, binary = false): EncodedMessage {
  return new SharedMessage({ type: eventPacketType(data, binary), event, data });
}
