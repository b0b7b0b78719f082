// Test helpers for the websocket layer: an independent frame writer (so tests do not
// trust the code under test to build their input) and a Receiver driver that feeds the
// same bytes at every split point and records what comes out.
import { Receiver } from '../../dist/websocket/index.js';

export const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/**
 * Builds one frame by hand. `mask` is a 4-byte Buffer, `true` (fixed test key) or falsy.
 * `length` overrides the declared length (to lie about it); `form` forces 7/16/64-bit.
 */
export function rawFrame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = null, length, form } = {}) {
  const data = Buffer.from(payload);
  const len = length ?? data.length;
  const key = mask === true ? Buffer.from([0x11, 0x22, 0x33, 0x44]) : mask || null;
  const kind = form ?? (len < 126 ? 7 : len <= 0xffff ? 16 : 64);
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = key ? 0x80 : 0;
  if (kind === 7) head.push(maskBit | len);
  else if (kind === 16) head.push(maskBit | 126, (len >> 8) & 0xff, len & 0xff);
  else {
    const big = BigInt(len);
    head.push(maskBit | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(i * 8)) & 0xffn));
  }
  const body = Buffer.from(data);
  if (key) {
    head.push(...key);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  }
  return Buffer.concat([Buffer.from(head), body]);
}

/** A client-to-server frame (masked). */
export const cf = (opcode, payload, extra = {}) => rawFrame({ opcode, payload, mask: true, ...extra });
/** A server-to-client frame (unmasked). */
export const sf = (opcode, payload, extra = {}) => rawFrame({ opcode, payload, ...extra });

export function closeBody(code, reason = '') {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

/** A fresh Receiver whose callbacks append to `events`. */
export function recorder(opts = {}) {
  const events = [];
  const receiver = new Receiver({
    isServer: true,
    ...opts,
    onMessage: (data, isBinary) => events.push(['message', isBinary ? data.toString('hex') : data.toString('utf8'), isBinary]),
    onPing: (data) => events.push(['ping', data.toString('hex')]),
    onPong: (data) => events.push(['pong', data.toString('hex')]),
    onClose: (code, reason) => events.push(['close', code, reason]),
    onError: (err) => events.push(['error', err.code, err.closeCode, err.name]),
  });
  return { receiver, events };
}

/** Feeds `pieces` (copied: the receiver unmasks in place) and returns the events. */
export function feed(pieces, opts) {
  const { receiver, events } = recorder(opts);
  for (const p of pieces) receiver.write(Buffer.from(p));
  return events;
}

/**
 * Every way of cutting `bytes` in two (plus one byte at a time) must give the same events.
 * `offsets` limits the cut points for big inputs.
 */
export function eachSplit(bytes, opts, offsets) {
  const results = [];
  const cuts = offsets ?? Array.from({ length: bytes.length + 1 }, (_, i) => i);
  for (const k of cuts) results.push({ how: `split at ${k}`, events: feed([bytes.subarray(0, k), bytes.subarray(k)], opts) });
  if (!offsets) {
    const ones = [];
    for (let i = 0; i < bytes.length; i++) ones.push(bytes.subarray(i, i + 1));
    results.push({ how: 'byte by byte', events: feed(ones, opts) });
  }
  return results;
}

export function once(emitter, event, timeoutMs = 8000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`timed out waiting for '${event}'`));
    }, timeoutMs);
    const on = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    emitter.once(event, on);
  });
}
