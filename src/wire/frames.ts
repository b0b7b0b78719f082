/**
 * The Node-side framing of packets: a packet and its transport framing (the WebSocket frame
 * header or the TCP length prefix) laid out in one Buffer, written once.
 *
 * The browser-safe `encodePacket` builds a packet with TextEncoder and the WebSocket side
 * then copies it behind a frame header: two allocations and a copy per reply. The server's
 * most frequent packets (replies, events, errors) take this path instead. The frame header is
 * written by the WebSocket sender's own `writeFrameHeader`; the TCP prefix by `writeTcpPrefix`
 * below, the one Node-side writer of it. Output is byte for byte what `encodePacket`
 * (+ `buildFrame` for WebSocket) gives; test/server/wire-encoder checks it.
 */
import { MAX_ACK_ID, MAX_EVENT_NAME_BYTES, type Packet, PACKET_HEADER_SIZE, PacketType, TCP_PREFIX_SIZE } from '../protocol/index.js';
import { frameHeaderSize, Opcode, writeFrameHeader } from '../websocket/index.js';

/** Writes the TCP length prefix (the whole frame's length, prefix included) at `frame[0..4)`. */
export function writeTcpPrefix(frame: Uint8Array): void {
  const n = frame.length;
  frame[0] = n >>> 24;
  frame[1] = (n >>> 16) & 0xff;
  frame[2] = (n >>> 8) & 0xff;
  frame[3] = n & 0xff;
}

/** A zeroed TCP frame with room for a packet of `packetSize` bytes, its prefix already written. */
export function allocTcpFrame(packetSize: number): Uint8Array {
  const frame = new Uint8Array(TCP_PREFIX_SIZE + packetSize);
  writeTcpPrefix(frame);
  return frame;
}

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

  let out: Buffer;
  let o: number;
  if (tcp) {
    out = Buffer.allocUnsafe(TCP_PREFIX_SIZE + packetLength);
    writeTcpPrefix(out);
    o = TCP_PREFIX_SIZE;
  } else {
    out = Buffer.allocUnsafe(frameHeaderSize(packetLength, false) + packetLength);
    o = writeFrameHeader(out, Opcode.BINARY, packetLength, true, null);
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
