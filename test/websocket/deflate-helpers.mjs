// Helpers for the permessage-deflate tests: compression done by the test itself (node:zlib,
// as RFC 7692 section 7.2 describes it, not through the code under test), a raw upgraded
// socket that offers the extension, and a reader of the server's frames.
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { rawExchange, rawFrame, upgradeRequest } from './helpers.mjs';

const SYNC = { finishFlush: constants.Z_SYNC_FLUSH };
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** A message's compressed payload (section 7.2.1): deflate, sync flush, the trailing 00 00 ff ff removed. */
export function deflateMessage(data, options = {}) {
  const out = deflateRawSync(Buffer.from(data), { ...SYNC, ...options });
  if (!out.subarray(-4).equals(TRAILER)) throw new Error('a sync flush ends with 00 00 ff ff');
  return out.subarray(0, -4);
}

/** The inflated payload of a compressed message (section 7.2.2). */
export function inflateMessage(payload) {
  return inflateRawSync(Buffer.concat([payload, TRAILER]), SYNC);
}

/** A masked client frame with RSV1 set: a compressed message (first frame). */
export const compressedFrame = (opcode, payload, extra = {}) => rawFrame({ opcode, payload, mask: true, rsv: 4, ...extra });

/** Parses unmasked server frames out of `buffer`; returns [frames, rest]. */
export function parseFrames(buffer) {
  const frames = [];
  let at = 0;
  for (;;) {
    if (buffer.length - at < 2) break;
    const b0 = buffer[at];
    let length = buffer[at + 1] & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (buffer.length - offset < 2) break;
      length = buffer.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (buffer.length - offset < 8) break;
      length = Number(buffer.readBigUInt64BE(offset));
      offset += 8;
    }
    if (buffer.length - offset < length) break;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, payload: Buffer.from(buffer.subarray(offset, offset + length)) });
    at = offset + length;
  }
  return [frames, buffer.subarray(at)];
}

/**
 * Upgrades a raw socket, offering `extensions` (omit the header with null). Resolves with the
 * response and a recorder of the frames the server sends: `frames` (in order), `closeCode`,
 * and `waitFor(n)` / `waitClosed()`.
 */
export async function rawSession(port, extensions = 'permessage-deflate', path = '/') {
  const headers = { Host: `127.0.0.1:${port}` };
  if (extensions !== null) headers['Sec-WebSocket-Extensions'] = extensions;
  const res = await rawExchange(port, upgradeRequest({ path, headers }));
  const frames = [];
  let pending = Buffer.alloc(0);
  let closeCode = null;
  let gone = false;
  const waiters = new Set();
  const check = () => {
    for (const w of waiters) if (w()) waiters.delete(w);
  };
  const onData = (chunk) => {
    let got;
    [got, pending] = parseFrames(Buffer.concat([pending, chunk]));
    for (const f of got) {
      if (f.opcode === 0x8) {
        closeCode = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
        // Answer it, as a client does: the server then drops TCP at once.
        if (!res.socket.destroyed) res.socket.write(rawFrame({ opcode: 0x8, payload: f.payload.subarray(0, 2), mask: true }));
      } else frames.push(f);
    }
    check();
  };
  if (res.status === 101) {
    onData(res.rest);
    res.socket.on('data', onData);
    res.socket.on('close', () => {
      gone = true;
      check();
    });
  }
  const until = (predicate, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`timed out waiting for ${what}`));
      }, 8000);
      const w = () => {
        if (!predicate()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      if (!w()) waiters.add(w);
    });
  return {
    res,
    socket: res.socket,
    frames,
    get closeCode() {
      return closeCode;
    },
    waitFor: (n) => until(() => frames.length >= n || gone, `${n} frames`),
    waitClosed: () => until(() => gone, 'the socket to close').then(() => closeCode),
  };
}

/** The payload of a server frame as the application sent it (inflated when RSV1 is set). */
export const messageOf = (frame) => (frame.rsv & 4 ? inflateMessage(frame.payload) : frame.payload);
