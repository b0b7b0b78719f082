/**
 * Node-only encoder for the packets a server sends most (replies, events, errors): the
 * packet and its framing (the WebSocket frame header or the TCP length prefix) in one
 * Buffer, written once. The browser-safe `encodePacket` builds the packet with TextEncoder
 * and the WebSocket side then copies it behind a frame header: two allocations and a copy
 * per reply. Output is byte-for-byte what `encodePacket` (+ `buildFrame` for WebSocket)
 * gives; test/server/wire-encoder checks it.
 */
import { MAX_ACK_ID, MAX_EVENT_NAME_BYTES, type Packet, PACKET_HEADER_SIZE, PacketType } from '../protocol/index.js';

/** FIN + binary opcode: one unfragmented binary message per packet. */
const WS_FIN_BINARY = 0x82;

/**
 * The framed packet, or null for the types this fast path does not handle (binary
 * payloads, ACK requests, rooms): the caller then uses `encodePacket`.
 */
export function encodeFramed(packet: Packet, tcp: boolean): Buffer | null {
  const type = packet.type;
  let head: number;
  if (type === PacketType.ACK_RESPONSE) {
    head = 5;
    const ackId = packet.ackId ?? 0;
    if (!Number.isInteger(ackId) || ackId < 0 || ackId > MAX_ACK_ID) {
      throw new RangeError(`ackId must be an integer from 0 to ${MAX_ACK_ID}, got ${ackId}`);
    }
  } else if (type === PacketType.JSON || type === PacketType.ERROR || type === PacketType.CONNECT || type === PacketType.DISCONNECT) {
    head = 0;
  } else {
    return null;
  }
  const event = packet.event;
  const eventLength = event.length === 0 ? 0 : Buffer.byteLength(event);
  if (eventLength > MAX_EVENT_NAME_BYTES) throw new RangeError('event name longer than 65535 bytes');
  // JSON.stringify gives undefined for undefined, functions and symbols: no body, as encodePacket.
  const text = packet.data === undefined ? undefined : JSON.stringify(packet.data);
  const bodyLength = text === undefined ? 0 : Buffer.byteLength(text);
  const packetLength = PACKET_HEADER_SIZE + eventLength + head + bodyLength;

  let o: number;
  let out: Buffer;
  if (tcp) {
    out = Buffer.allocUnsafe(4 + packetLength);
    out.writeUInt32BE(4 + packetLength, 0);
    o = 4;
  } else if (packetLength < 126) {
    out = Buffer.allocUnsafe(2 + packetLength);
    out[0] = WS_FIN_BINARY;
    out[1] = packetLength;
    o = 2;
  } else if (packetLength <= 0xffff) {
    out = Buffer.allocUnsafe(4 + packetLength);
    out[0] = WS_FIN_BINARY;
    out[1] = 126;
    out.writeUInt16BE(packetLength, 2);
    o = 4;
  } else {
    out = Buffer.allocUnsafe(10 + packetLength);
    out[0] = WS_FIN_BINARY;
    out[1] = 127;
    out.writeUInt32BE(Math.floor(packetLength / 0x100000000), 2);
    out.writeUInt32BE(packetLength >>> 0, 6);
    o = 10;
  }
  out[o] = type;
  out.writeUInt16BE(eventLength, o + 1);
  o += PACKET_HEADER_SIZE;
  if (eventLength > 0) o += out.write(event, o, eventLength, 'utf8');
  if (type === PacketType.ACK_RESPONSE) {
    out.writeUInt32BE(packet.ackId ?? 0, o);
    out[o + 4] = packet.ok === false ? 1 : 0;
    o += 5;
  }
  if (bodyLength > 0) out.write(text!, o, bodyLength, 'utf8');
  return out;
}
