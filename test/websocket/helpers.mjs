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

// ---- raw HTTP over net, for handshake tests ----
import net from 'node:net';

export const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** The header lines of an upgrade request; `headers` entries set to null are left out. */
export function upgradeRequest({ path = '/', method = 'GET', headers = {}, extraLines = [] } = {}) {
  const base = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': RFC_KEY,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = [`${method} ${path} HTTP/1.1`];
  for (const [k, v] of Object.entries(base)) if (v !== null) lines.push(`${k}: ${v}`);
  lines.push(...extraLines);
  return lines.join('\r\n') + '\r\n\r\n';
}

function parseHead(text) {
  const [statusLine, ...lines] = text.split('\r\n');
  const headers = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), statusLine, headers };
}

/**
 * Sends `text` on a fresh socket. Resolves once the response head is in (`socket` still
 * open for a 101) or the socket closed; `closed` resolves when the server closes it.
 */
export function rawExchange(port, text) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const closed = new Promise((r) => socket.once('close', r));
    const guard = setTimeout(() => finish(new Error('no response within 8 s')), 8000);
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      socket.off('data', onData);
      if (err) {
        socket.destroy();
        return reject(err);
      }
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? { status: 0, headers: {}, statusLine: '' } : parseHead(text.slice(0, end));
      resolve({ ...head, body: end === -1 ? text : text.slice(end + 4), rest: end === -1 ? data : data.subarray(end + 4), socket, closed });
    };
    const onData = (chunk) => {
      data = Buffer.concat([data, chunk]);
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end !== -1) {
        const { status, headers } = parseHead(text.slice(0, end));
        const bodyLength = Number(headers['content-length'] ?? 0);
        if (status === 101 || data.length - end - 4 >= bodyLength) finish();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.on('close', () => finish());
    socket.on('connect', () => socket.write(text));
  });
}

export function listen(server) {
  return new Promise((resolve) => {
    if (typeof server.address === 'function' && server.address()) return resolve(server.address().port);
    server.once('listening', () => resolve(server.address().port));
  });
}
