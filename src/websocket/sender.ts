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
import { isControlOpcode, MAX_CONTROL_PAYLOAD } from './opcodes.js';

export interface FrameOptions {
  /** Mask the payload (client role). Default false. */
  mask?: boolean;
  /** Last frame of the message. Default true. */
  fin?: boolean;
  /** Use this 4-byte key instead of a random one (tests and known vectors only). */
  maskKey?: Uint8Array;
}

export type FramePayload = Buffer | Uint8Array | string;

const POOL_SIZE = 8192;
let keyPool: Buffer = Buffer.alloc(0);
let keyOffset = 0;

/** A fresh random masking key (a view into the pool: use it before the next call). */
export function randomMaskKey(): Buffer {
  if (keyOffset + 4 > keyPool.length) {
    keyPool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    keyOffset = 0;
  }
  const key = keyPool.subarray(keyOffset, keyOffset + 4);
  keyOffset += 4;
  return key;
}

/** Bytes of the header of a frame carrying `length` payload bytes. */
export function frameHeaderSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length <= 0xffff ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `out` at offset 0 and returns where the payload starts. The one
 * place that lays out a header: the sender here and the server's one-allocation packet
 * framing (src/wire/frames.ts) both use it.
 */
export function writeFrameHeader(out: Buffer, opcode: number, length: number, fin: boolean, key: Uint8Array | null): number {
  out[0] = (fin ? 0x80 : 0) | opcode;
  const maskBit = key ? 0x80 : 0;
  let offset: number;
  if (length < 126) {
    out[1] = maskBit | length;
    offset = 2;
  } else if (length <= 0xffff) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(length, 2);
    offset = 4;
  } else {
    out[1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    out.writeUInt32BE(length >>> 0, 6);
    offset = 10;
  }
  if (key) {
    out[offset] = key[0]!;
    out[offset + 1] = key[1]!;
    out[offset + 2] = key[2]!;
    out[offset + 3] = key[3]!;
    offset += 4;
  }
  return offset;
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

  const key = masked ? (options.maskKey ?? randomMaskKey()) : null;
  const out = Buffer.allocUnsafe(frameHeaderSize(length, masked) + length);
  const start = writeFrameHeader(out, opcode, length, fin, key);
  if (isString) out.write(payload, start, 'utf8');
  else out.set(payload, start);
  if (key) applyMask(out.subarray(start), (key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!);
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
