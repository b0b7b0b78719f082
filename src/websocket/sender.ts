/**
 * Frame building (RFC 6455 section 5.2), for both roles.
 *
 * `buildFrame` returns the whole frame in one Buffer: an unmasked (server) frame built once
 * can be written to any number of sockets unchanged, which is what broadcast relies on.
 * `frameHeader` returns only the header, so a connection can write a large payload after
 * it without copying it into a new buffer.
 *
 * Client frames are masked with a fresh 4-byte key per frame. Keys come from a pool of
 * CSPRNG bytes refilled 8 KiB at a time, so sending does not make a syscall per frame.
 */
import { randomFillSync } from 'node:crypto';
import { ErrorCode } from '../protocol/codes.js';
import { StelarError } from '../protocol/errors.js';
import { isValidWireCloseCode, MAX_CLOSE_REASON_BYTES, NO_STATUS_CODE } from './close-codes.js';
import { applyMask } from './mask.js';
import { isControlOpcode, MAX_CONTROL_PAYLOAD, RSV1 } from './opcodes.js';

export interface FrameOptions {
  /** Mask the payload (client role). Default false. */
  mask?: boolean;
  /** Last frame of the message. Default true. */
  fin?: boolean;
  /** Use this 4-byte key instead of a random one (tests and known vectors only). */
  maskKey?: Uint8Array;
  /** Set RSV1: the payload is a permessage-deflate compressed message (RFC 7692). Default false. */
  compressed?: boolean;
}

export type FramePayload = Buffer | Uint8Array | string;

const POOL_SIZE = 8192;
let keyPool: Buffer = Buffer.alloc(0);
let keyOffset = 0;

function refillKeys(): void {
  keyPool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
  keyOffset = 0;
}

/** A fresh random masking key (a view into the pool: use it before the next call). */
export function randomMaskKey(): Buffer {
  if (keyOffset + 4 > keyPool.length) refillKeys();
  const key = keyPool.subarray(keyOffset, keyOffset + 4);
  keyOffset += 4;
  return key;
}

/** A fresh random masking key as one big-endian int (no view allocated). */
function nextMaskKey(): number {
  if (keyOffset + 4 > keyPool.length) refillKeys();
  const p = keyPool;
  const o = keyOffset;
  keyOffset += 4;
  return (p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!;
}

/** Bytes of the header of a frame carrying `length` payload bytes. */
export function frameHeaderSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length <= 0xffff ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `out` at offset 0 and returns where the payload starts (`opcode`
 * may carry RSV1 for a compressed message). The one
 * place that lays out a header: the sender here and the server's one-allocation packet
 * framing (src/wire/frames.ts) both use it.
 */
export function writeFrameHeader(out: Uint8Array, opcode: number, length: number, fin: boolean, key: Uint8Array | null): number {
  return writeHeader(out, 0, opcode, length, fin, key !== null, key ? (key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]! : 0);
}

/** The header at `out[at]`, the masking key (when `masked`) given as one big-endian int; returns where the payload starts. */
function writeHeader(out: Uint8Array, at: number, opcode: number, length: number, fin: boolean, masked: boolean, key: number): number {
  out[at] = (fin ? 0x80 : 0) | opcode;
  const maskBit = masked ? 0x80 : 0;
  let o = at;
  if (length < 126) {
    out[o + 1] = maskBit | length;
    o += 2;
  } else if (length <= 0xffff) {
    out[o + 1] = maskBit | 126;
    out[o + 2] = length >>> 8;
    out[o + 3] = length & 0xff;
    o += 4;
  } else {
    out[o + 1] = maskBit | 127;
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    out[o + 2] = high >>> 24;
    out[o + 3] = (high >>> 16) & 0xff;
    out[o + 4] = (high >>> 8) & 0xff;
    out[o + 5] = high & 0xff;
    out[o + 6] = low >>> 24;
    out[o + 7] = (low >>> 16) & 0xff;
    out[o + 8] = (low >>> 8) & 0xff;
    out[o + 9] = low & 0xff;
    o += 10;
  }
  if (masked) {
    out[o] = key >>> 24;
    out[o + 1] = (key >>> 16) & 0xff;
    out[o + 2] = (key >>> 8) & 0xff;
    out[o + 3] = key & 0xff;
    o += 4;
  }
  return o;
}

/** The most bytes a client-role (masked) frame header takes: 10 (64-bit length) + the 4-byte key. */
export const MASKED_HEADER_ROOM = 14;

/**
 * A client-role frame built in place, without a second allocation or a copy: `bytes` holds
 * the payload from `room` (at least MASKED_HEADER_ROOM) to its end, with `room` free bytes in
 * front (what `encodePacket(p, 0, room)` gives). The header and a fresh masking key are
 * written right before the payload and the payload is masked in place. Returns the frame, a
 * view of `bytes` ending where it ends.
 */
export function maskFrameInPlace(opcode: number, bytes: Uint8Array, room: number): Uint8Array {
  const length = bytes.length - room;
  checkControl(opcode, length, true);
  const start = room - frameHeaderSize(length, true);
  if (start < 0) throw new RangeError(`a masked frame header needs ${MASKED_HEADER_ROOM} bytes of room`);
  const key = nextMaskKey();
  writeHeader(bytes, start, opcode, length, true, true, key);
  applyMask(bytes, key, room);
  return bytes.subarray(start);
}

function checkControl(opcode: number, length: number, fin: boolean): void {
  if (!isControlOpcode(opcode)) return;
  if (length > MAX_CONTROL_PAYLOAD) {
    throw new StelarError(ErrorCode.WS_CONTROL_TOO_LONG, 'control frame payload is longer than 125 bytes');
  }
  if (!fin) throw new StelarError(ErrorCode.WS_CONTROL_FRAGMENTED, 'control frames must not be fragmented');
}

/** The header of an unmasked frame carrying `length` payload bytes (server role). */
export function frameHeader(opcode: number, length: number, fin = true): Buffer {
  checkControl(opcode, length, fin);
  const out = Buffer.allocUnsafe(frameHeaderSize(length, false));
  writeFrameHeader(out, opcode, length, fin, null);
  return out;
}

/** One complete frame in one Buffer. */
export function buildFrame(opcode: number, payload: FramePayload, options: FrameOptions = {}): Buffer {
  const fin = options.fin ?? true;
  const masked = options.mask === true || options.maskKey !== undefined;
  const isString = typeof payload === 'string';
  const length = isString ? Buffer.byteLength(payload) : payload.length;
  checkControl(opcode, length, fin);

  const given = options.maskKey;
  const key = given ? (given[0]! << 24) | (given[1]! << 16) | (given[2]! << 8) | given[3]! : masked ? nextMaskKey() : 0;
  const out = Buffer.allocUnsafe(frameHeaderSize(length, masked) + length);
  const start = writeHeader(out, 0, options.compressed === true ? opcode | RSV1 : opcode, length, fin, masked, key);
  if (isString) out.write(payload, start, 'utf8');
  else out.set(payload, start);
  if (masked) applyMask(out.subarray(start), key);
  return out;
}

/**
 * The body of a close frame: 2-byte code then the UTF-8 reason. Code 1005 ("no status")
 * gives an empty body, which is how an endpoint closes without naming a code.
 */
export function closePayload(code: number, reason: string | Uint8Array = ''): Buffer {
  if (code === NO_STATUS_CODE) return Buffer.alloc(0);
  if (!isValidWireCloseCode(code)) {
    throw new StelarError(ErrorCode.WS_INVALID_CLOSE_CODE, `close code ${code} may not be sent`);
  }
  const reasonLength = typeof reason === 'string' ? Buffer.byteLength(reason) : reason.length;
  if (reasonLength > MAX_CLOSE_REASON_BYTES) {
    throw new StelarError(ErrorCode.WS_INVALID_CLOSE_PAYLOAD, 'close reason is longer than 123 bytes');
  }
  // alloc (not allocUnsafe): every byte is written below, but never send stale memory by mistake.
  const out = Buffer.alloc(2 + reasonLength);
  out.writeUInt16BE(code, 0);
  if (typeof reason === 'string') out.write(reason, 2, 'utf8');
  else out.set(reason, 2);
  return out;
}
