/**
 * The packet codec: one wire format for both transports and for the browser.
 * No Node-only APIs here (Uint8Array, DataView, TextEncoder/TextDecoder only).
 *
 *   packet = type:u8 | eventLen:u16be | event:utf8[eventLen] | body
 *
 * On TCP a packet is preceded by totalLen:u32be (the whole frame, prefix included);
 * on WebSocket one binary message carries exactly one packet. See docs/PROTOCOL.md.
 */
import { ErrorCode } from './codes.js';
import { StelarError } from './errors.js';

export const PROTOCOL_VERSION = 1;
/**
 * WebSocket only, optional (docs/PROTOCOL.md, "Connect in the upgrade"): the client's Connect
 * packet, base64, in the upgrade request; a server that takes it from there answers with this
 * header set to `1` in its 101, and the client then sends no Connect frame.
 */
export const CONNECT_HEADER = 'x-stelar-connect';
/**
 * WebSocket only: a refused upgrade (403, 503) names its `STELAR_ERR_*` code in this response
 * header, so a client that can read headers reports that code (docs/PROTOCOL.md).
 */
export const ERROR_HEADER = 'x-stelar-error';

export const PacketType = {
  JSON: 0,
  BINARY: 1,
  PING: 2,
  PONG: 3,
  ACK_REQUEST: 4,
  ACK_RESPONSE: 5,
  CONNECT: 6,
  DISCONNECT: 7,
  JOIN_ROOM: 8,
  LEAVE_ROOM: 9,
  ERROR: 10,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** Bytes before the event name: type (1) + event length (2). */
export const PACKET_HEADER_SIZE = 3;
/** Bytes of the TCP length prefix. */
export const TCP_PREFIX_SIZE = 4;
/** ACK ids are u32; 0 is reserved for an ACK response nobody asked for (e.g. `ctx.ack` in middleware). */
export const MAX_ACK_ID = 0xffffffff;
export const MAX_EVENT_NAME_BYTES = 0xffff;

export interface Packet {
  type: PacketType;
  /** Event name; the room for JOIN/LEAVE, the ack name for ACK_RESPONSE, the error code for ERROR; '' otherwise. */
  event: string;
  /** JSON value for JSON/ACK/CONNECT/DISCONNECT/ERROR; the raw bytes for BINARY/PING/PONG. */
  data?: unknown;
  /** ACK_REQUEST / ACK_RESPONSE correlation id (u32). */
  ackId?: number;
  /** ACK_REQUEST: the server-side ack handler to run (defaults to `event`). */
  ackName?: string;
  /** ACK_RESPONSE: false when `data` is an error `{ message, code }`. */
  ok?: boolean;
}

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the text (an event name may start with one), not a marker to strip.
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);

// ---- encoding ------------------------------------------------------------------------------
// A small packet costs its fixed steps, not its bytes: `new Uint8Array(n)` is an allocation
// outside the JS heap (a backing store of its own that the GC tracks), and `encode()` is a call
// out of JS that allocates its result, copied once more into the packet. So small outputs are
// carved out of a shared slab (as Node's Buffer pool does), a JSON body is written straight
// into it with `encodeInto`, and short ASCII names, which are their own UTF-8, are copied by a
// plain loop. TextEncoder turns lone surrogates into U+FFFD on every path.

/** Outputs up to this many bytes (counting a JSON body at its worst, 3 bytes per UTF-16 unit) are views into a shared slab. */
const POOLED_MAX = 4096;
const SLAB_SIZE = 16 * 1024;
let slab = new ArrayBuffer(0);
let slabUsed = 0;

/** Where in the slab up to `max` bytes may be written (a fresh slab when the rest is too small). */
function reserve(max: number): number {
  if (slabUsed + max > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  return slabUsed;
}

/** The `size` bytes at `at` become an output; nothing else is ever handed that part of the slab. */
function commit(at: number, size: number): Uint8Array {
  slabUsed = at + ((size + 7) & ~7); // 8-byte steps keep every view aligned, as Node's pool does
  return new Uint8Array(slab, at, size);
}

/** `size` zeroed bytes that nothing else uses. */
function allocate(size: number): Uint8Array {
  return size > POOLED_MAX ? new Uint8Array(size) : commit(reserve(size), size);
}

/** Names up to this length are checked and copied in JS when ASCII; a longer one is cheaper through TextEncoder. */
const ASCII_LOOP_MAX = 64;

/** A name ready to be written: the string itself when it is short ASCII (1 byte per char), else its UTF-8 bytes. */
type Utf8 = string | Uint8Array;

function utf8(text: string): Utf8 {
  const n = text.length;
  if (n > ASCII_LOOP_MAX) return encoder.encode(text);
  for (let i = 0; i < n; i++) if (text.charCodeAt(i) >= 0x80) return encoder.encode(text);
  return text;
}

/** Writes a name or payload at `o` and returns where it ends. */
function put(out: Uint8Array, o: number, field: Utf8): number {
  const n = field.length;
  if (typeof field === 'string') {
    for (let i = 0; i < n; i++) out[o + i] = field.charCodeAt(i);
  } else if (n > 0) {
    out.set(field, o);
  }
  return o + n;
}

/** The JSON text of a body ('' for none). */
function jsonText(value: unknown): string {
  if (value === undefined) return '';
  // JSON.stringify returns undefined for functions/symbols: send "no data" rather than the string "undefined".
  return JSON.stringify(value) ?? '';
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value === undefined || value === null) return EMPTY;
  throw new TypeError('binary packet data must be a Uint8Array, Buffer, ArrayBuffer or view');
}

function checkAckId(ackId: number): void {
  // Written as a u32, it would silently wrap (2^32 -> 0, i.e. "unsolicited").
  if (!Number.isInteger(ackId) || ackId < 0 || ackId > MAX_ACK_ID) {
    throw new RangeError(`ackId must be an integer from 0 to ${MAX_ACK_ID}, got ${ackId}`);
  }
}

function writeU32(out: Uint8Array, o: number, value: number): void {
  out[o] = value >>> 24;
  out[o + 1] = (value >>> 16) & 0xff;
  out[o + 2] = (value >>> 8) & 0xff;
  out[o + 3] = value & 0xff;
}

/**
 * Encodes a packet. With `prefix = 4` the TCP length prefix is written in the same
 * allocation, so the TCP transport never copies a packet to frame it. `room` bytes are left
 * zeroed in front of it all, for a frame header the caller writes in place (the client's
 * masked WebSocket frames): the prefix, or the packet, starts at `room`.
 *
 * Small results are views into a shared slab (like Node's pooled Buffers): use their
 * `byteOffset` and `byteLength`, not their whole `buffer`.
 */
export function encodePacket(packet: Packet, prefix: 0 | 4 = 0, room = 0): Uint8Array {
  const type = packet.type;
  const event = utf8(packet.event);
  if (event.length > MAX_EVENT_NAME_BYTES) throw new RangeError('event name longer than 65535 bytes');
  let head = 0; // fixed body fields before the payload
  let name: Utf8 = ''; // ACK_REQUEST: the ack name ('' = the event)
  let payload: Uint8Array = EMPTY; // BINARY, PING, PONG
  let json = ''; // the other bodies, as text
  switch (type) {
    case PacketType.BINARY:
    case PacketType.PING:
    case PacketType.PONG:
      payload = toBytes(packet.data);
      break;
    case PacketType.JOIN_ROOM:
    case PacketType.LEAVE_ROOM:
      break;
    case PacketType.ACK_REQUEST:
      name = packet.ackName && packet.ackName !== packet.event ? utf8(packet.ackName) : '';
      if (name.length > MAX_EVENT_NAME_BYTES) throw new RangeError('ack name longer than 65535 bytes');
      head = 6;
      json = jsonText(packet.data);
      checkAckId(packet.ackId ?? 0);
      break;
    case PacketType.ACK_RESPONSE:
      head = 5;
      json = jsonText(packet.data);
      checkAckId(packet.ackId ?? 0);
      break;
    case PacketType.JSON:
    case PacketType.CONNECT:
    case PacketType.DISCONNECT:
    case PacketType.ERROR:
      json = jsonText(packet.data);
      break;
    default:
      throw new RangeError(`unknown packet type ${String(type)}`);
  }
  // Everything up to the body; the body comes last, so its UTF-8 length may be learnt by writing it.
  const fixed = room + prefix + PACKET_HEADER_SIZE + event.length + head + name.length;
  let out: Uint8Array;
  const worst = fixed + json.length * 3;
  if (json.length > 0 && worst <= POOLED_MAX) {
    const at = reserve(worst);
    const { written } = encoder.encodeInto(json, new Uint8Array(slab, at + fixed, json.length * 3));
    out = commit(at, fixed + written);
  } else {
    if (json.length > 0) payload = encoder.encode(json);
    out = allocate(fixed + payload.length);
    put(out, fixed, payload);
  }
  let o = room;
  if (prefix) {
    writeU32(out, o, out.length - room);
    o += TCP_PREFIX_SIZE;
  }
  out[o] = type;
  out[o + 1] = event.length >>> 8;
  out[o + 2] = event.length & 0xff;
  o = put(out, o + PACKET_HEADER_SIZE, event);
  if (type === PacketType.ACK_REQUEST) {
    writeU32(out, o, packet.ackId ?? 0);
    out[o + 4] = name.length >>> 8;
    out[o + 5] = name.length & 0xff;
    put(out, o + 6, name);
  } else if (type === PacketType.ACK_RESPONSE) {
    writeU32(out, o, packet.ackId ?? 0);
    out[o + 4] = packet.ok === false ? 1 : 0;
  }
  return out;
}

function truncated(what: string): StelarError {
  return new StelarError(ErrorCode.PACKET_TRUNCATED, `packet truncated: ${what}`);
}

/** Node's Buffer has a latin1 slicer (equal to UTF-8 for ASCII); in a browser this is absent. */
type MaybeLatin1 = Uint8Array & { latin1Slice?: (start: number, end: number) => string };
/** Up to this length, ASCII text is built char by char (cheaper than a view plus a TextDecoder call). */
const SHORT_TEXT = 32;

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/**
 * Decodes bytes[start, end) as strict UTF-8. Pure ASCII (event names, most JSON) is its own
 * UTF-8, so it skips the TextDecoder: short runs are built directly from the indices, long
 * ones use Buffer's latin1 slicer when the input is a Node Buffer. Anything else (or any
 * byte >= 0x80) goes through the strict decoder, which rejects invalid UTF-8.
 */
function decodeText(bytes: Uint8Array, start: number, end: number, what: string): string {
  if (start >= end) return '';
  if (end - start <= SHORT_TEXT) {
    if (isAscii(bytes, start, end)) {
      let text = '';
      for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]!);
      return text;
    }
  } else {
    const latin1 = (bytes as MaybeLatin1).latin1Slice;
    if (typeof latin1 === 'function' && isAscii(bytes, start, end)) return latin1.call(bytes, start, end);
  }
  try {
    return strictDecoder.decode(bytes.subarray(start, end));
  } catch {
    throw new StelarError(ErrorCode.PACKET_INVALID_UTF8, `${what} is not valid UTF-8`);
  }
}

/**
 * Recently decoded names (event and ACK names), by a hash of their bytes: a server sees the
 * same few names over and over, so a hit returns the very same string (already flat, its hash
 * already computed for the Map lookups that follow) after comparing at most SHORT_TEXT bytes,
 * and a miss costs one small copy. Only strictly valid names get in (decodeText throws first);
 * bounded: NAME_SLOTS entries of at most SHORT_TEXT bytes.
 */
const NAME_SLOTS = 64;
const nameBytes: (Uint8Array | null)[] = new Array<Uint8Array | null>(NAME_SLOTS).fill(null);
const nameText: string[] = new Array<string>(NAME_SLOTS).fill('');

function decodeName(bytes: Uint8Array, start: number, end: number, what: string): string {
  const len = end - start;
  if (len === 0 || len > SHORT_TEXT) return decodeText(bytes, start, end, what);
  const slot = (len * 31 + bytes[start]! * 7 + bytes[end - 1]!) & (NAME_SLOTS - 1);
  const known = nameBytes[slot];
  if (known !== null && known !== undefined && known.length === len) {
    let i = 0;
    while (i < len && known[i] === bytes[start + i]) i++;
    if (i === len) return nameText[slot]!;
  }
  const text = decodeText(bytes, start, end, what);
  const copy = new Uint8Array(len);
  for (let i = 0; i < len; i++) copy[i] = bytes[start + i]!;
  nameBytes[slot] = copy;
  nameText[slot] = text;
  return text;
}

/**
 * How deep a peer's JSON may nest by default. JSON.parse of a 10 MiB `[[[[…` builds millions
 * of nested arrays (seconds of CPU, hundreds of MB); real messages nest a handful of levels.
 */
export const DEFAULT_MAX_JSON_DEPTH = 128;

/**
 * True when the JSON text in bytes[start, end) opens more than `maxDepth` arrays/objects at
 * once. One linear pass over the bytes, skipping strings; a text no longer than `maxDepth`
 * cannot nest deeper than that, so short payloads (almost every message) are not scanned.
 */
export function jsonNestsDeeper(bytes: Uint8Array, start: number, maxDepth: number): boolean {
  const end = bytes.length;
  if (end - start <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
}

function decodeJson(bytes: Uint8Array, start: number, maxDepth: number): unknown {
  if (start >= bytes.length) return undefined;
  if (jsonNestsDeeper(bytes, start, maxDepth)) {
    throw new StelarError(ErrorCode.PACKET_INVALID_JSON, `payload nests deeper than ${maxDepth} levels`);
  }
  const text = decodeText(bytes, start, bytes.length, 'JSON payload');
  try {
    return JSON.parse(text);
  } catch {
    // Also catches the RangeError of absurdly deep nesting.
    throw new StelarError(ErrorCode.PACKET_INVALID_JSON, 'payload is not valid JSON');
  }
}

function readU32(bytes: Uint8Array, o: number): number {
  return bytes[o] * 0x1000000 + ((bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]);
}

/**
 * Checks the 3-byte header (a known type, an event field inside the bytes) and returns where
 * the event field ends. Shared by `decodePacket` and `decodeHeader`. Big-endian fields are
 * read byte by byte: a DataView per packet costs more than the reads.
 */
function checkHeader(bytes: Uint8Array): number {
  if (bytes.length < PACKET_HEADER_SIZE) throw truncated(`${bytes.length} bytes is shorter than the 3-byte header`);
  const type = bytes[0];
  if (type > PacketType.ERROR) throw new StelarError(ErrorCode.PACKET_UNKNOWN_TYPE, `unknown packet type ${type}`);
  const eventLen = (bytes[1] << 8) | bytes[2];
  const end = PACKET_HEADER_SIZE + eventLen;
  if (end > bytes.length) throw truncated(`event name of ${eventLen} bytes runs past the end`);
  return end;
}

/**
 * Decodes one packet (without the TCP prefix). Binary payloads are views into
 * `bytes` (zero-copy; a Buffer in gives Buffers out). Throws StelarError only.
 * `maxJsonDepth` bounds how deep the JSON body may nest (checked before parsing).
 * `event`: the event name when the caller already decoded it from these very bytes
 * (`decodeHeader`), so it is not decoded twice.
 */
export function decodePacket(bytes: Uint8Array, maxJsonDepth: number = DEFAULT_MAX_JSON_DEPTH, event?: string): Packet {
  let o = checkHeader(bytes);
  const type = bytes[0];
  const packet: Packet = { type: type as PacketType, event: event ?? decodeName(bytes, PACKET_HEADER_SIZE, o, 'event name') };
  switch (type) {
    case PacketType.BINARY:
    case PacketType.PING:
    case PacketType.PONG:
      packet.data = bytes.subarray(o);
      break;
    case PacketType.JOIN_ROOM:
    case PacketType.LEAVE_ROOM:
      break;
    case PacketType.ACK_REQUEST: {
      if (o + 6 > bytes.length) throw truncated('ACK request header');
      packet.ackId = readU32(bytes, o);
      const nameLen = (bytes[o + 4] << 8) | bytes[o + 5];
      o += 6;
      if (o + nameLen > bytes.length) throw truncated('ACK name runs past the end');
      packet.ackName = nameLen === 0 ? packet.event : decodeName(bytes, o, o + nameLen, 'ACK name');
      o += nameLen;
      packet.data = decodeJson(bytes, o, maxJsonDepth);
      break;
    }
    case PacketType.ACK_RESPONSE:
      if (o + 5 > bytes.length) throw truncated('ACK response header');
      packet.ackId = readU32(bytes, o);
      packet.ok = bytes[o + 4] === 0;
      packet.data = decodeJson(bytes, o + 5, maxJsonDepth);
      break;
    default:
      packet.data = decodeJson(bytes, o, maxJsonDepth);
  }
  return packet;
}

/**
 * The type and event name of a packet, strictly decoded (the body is left alone): what the
 * server needs to count and rate-limit a packet before it spends any work on its body.
 * Throws StelarError like `decodePacket`.
 */
export function decodeHeader(bytes: Uint8Array): { type: PacketType; event: string } {
  return { type: bytes[0] as PacketType, event: decodeEventName(bytes) };
}

/**
 * `decodeHeader(bytes).event` without the object: the server's per-message header read (the
 * type it has already peeked). Checks the header and decodes the name strictly; throws
 * StelarError like `decodePacket`.
 */
export function decodeEventName(bytes: Uint8Array): string {
  const end = checkHeader(bytes);
  return decodeName(bytes, PACKET_HEADER_SIZE, end, 'event name');
}

// ---- header peeks ---------------------------------------------------------------------------
// Reading a field of a packet without decoding it: for packets too large to decode, for
// routing, and for splicing the event field (recovery offsets). The header layout is known
// here and nowhere else.

/** Reads the type byte without decoding, for fast routing and metrics (-1 when empty). */
export function peekPacketType(bytes: Uint8Array): number {
  return bytes.length > 0 ? bytes[0] : -1;
}

/** The declared byte length of the event field (0 when the header is incomplete). */
export function peekEventLength(bytes: Uint8Array): number {
  return bytes.length < PACKET_HEADER_SIZE ? 0 : (bytes[1] << 8) | bytes[2];
}

/** Decodes the text of bytes[start, end) without throwing (lossy: for logs and hooks). */
function lossyText(bytes: Uint8Array, start: number, end: number): string {
  if (start >= end) return '';
  return new TextDecoder('utf-8').decode(bytes.subarray(start, end));
}

/** The event name of a packet, at most `maxBytes` of it, never throwing (e.g. an oversized packet). */
export function peekEvent(bytes: Uint8Array, maxBytes = 1024): string {
  if (bytes.length < PACKET_HEADER_SIZE) return '';
  const end = Math.min(PACKET_HEADER_SIZE + peekEventLength(bytes), bytes.length, PACKET_HEADER_SIZE + maxBytes);
  return lossyText(bytes, PACKET_HEADER_SIZE, end);
}

/**
 * The ackId and ack name of an ACK Request without decoding its body (null when the bytes
 * are not an ACK Request or its header is cut short). The name falls back to `event`.
 */
export function peekAck(bytes: Uint8Array, event: string, maxBytes = 1024): { ackId: number; name: string } | null {
  if (bytes.length < PACKET_HEADER_SIZE || bytes[0] !== PacketType.ACK_REQUEST) return null;
  const at = PACKET_HEADER_SIZE + peekEventLength(bytes);
  if (bytes.length < at + 6) return null;
  const nameLen = (bytes[at + 4] << 8) | bytes[at + 5];
  const name = nameLen === 0 ? event : lossyText(bytes, at + 6, Math.min(at + 6 + nameLen, bytes.length, at + 6 + maxBytes));
  return { ackId: readU32(bytes, at), name };
}

/**
 * The ackId of an ACK Request or ACK Response, read from its fixed fields without decoding
 * anything else; -1 when the bytes are neither, or too short to hold the id.
 */
export function peekAckId(bytes: Uint8Array): number {
  const type = bytes.length < PACKET_HEADER_SIZE ? -1 : bytes[0];
  if (type !== PacketType.ACK_REQUEST && type !== PacketType.ACK_RESPONSE) return -1;
  const at = PACKET_HEADER_SIZE + peekEventLength(bytes);
  return bytes.length < at + 4 ? -1 : readU32(bytes, at);
}
