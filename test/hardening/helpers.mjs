// Hostile peers for the hardening suite. Everything here talks to the server over raw `net`
// sockets and builds its bytes by hand (frames, lengths, handshakes), so a case can send
// exactly what an attacker would, including what no well-behaved library can produce.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { StelarServer } from '../../dist/index.js';
import { decodePacket, encodePacket, PacketType } from '../../dist/protocol/index.js';
import { waitUntil } from '../support/waits.mjs';

export { PacketType, encodePacket, decodePacket, once };
export const HOST = '127.0.0.1';
/** Failure guard for every wait (never a timing assertion). */
export const GUARD = 10_000;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const tick = () => new Promise((resolve) => setImmediate(resolve));

v8.setFlagsFromString('--expose-gc');
/** A full GC (memory figures are compared after one, so garbage does not count as growth). */
export const gc = runInNewContext('gc');

/** Bytes held outside the JS heap (Buffers included), after a full GC. */
export function externalBytes() {
  gc();
  return process.memoryUsage().external;
}

/**
 * A started server on ephemeral ports, quiet, TCP on, no signal handling (tests share a process).
 * No per-address connection rate: every case connects from 127.0.0.1, many sessions in a few
 * seconds; that limit is tested on addresses of its own (connection-churn.test.mjs).
 */
export async function startServer(options = {}) {
  const server = new StelarServer({ port: 0, host: HOST, tcpPort: 0, logger: false, gracefulShutdown: false, connectionRateLimit: false, ...options });
  await server.start();
  return server;
}

/** Polls `fn` until it returns truthy; throws after `timeout` (a guard, not an assertion). */
export const until = (fn, what = 'condition', timeout = GUARD) => waitUntil(fn, what, timeout);

/** Rejects after `ms` with a message (races a promise against a guard). */
export function guard(promise, what, ms = GUARD) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---- WebSocket frames, built by hand ---------------------------------------------------------

/**
 * One frame. `mask`: true (random key) or false. `length` overrides the declared length
 * (a lie), `form` forces the 7/16/64-bit length encoding, `lengthBytes` writes the 8 bytes of
 * a 64-bit length verbatim.
 */
export function frame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = true, length, form, lengthBytes } = {}) {
  const data = Buffer.from(payload);
  const len = length ?? data.length;
  const kind = lengthBytes ? 64 : (form ?? (len < 126 ? 7 : len <= 0xffff ? 16 : 64));
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (kind === 7) head.push(maskBit | len);
  else if (kind === 16) head.push(maskBit | 126, (len >> 8) & 0xff, len & 0xff);
  else {
    head.push(maskBit | 127);
    if (lengthBytes) head.push(...lengthBytes);
    else for (let i = 7; i >= 0; i--) head.push(Number((BigInt(len) >> BigInt(i * 8)) & 0xffn));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  for (let i = 0; i < data.length; i++) data[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), key, data]);
}

export const Op = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

export function closeBody(code, reason = '') {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

/** A packet as one masked binary frame (what a client sends on WebSocket). */
export const packetFrame = (packet) => frame({ opcode: Op.BINARY, payload: encodePacket(packet) });

/** Parses frames a server sends (unmasked), at any chunking. */
class ServerFrameReader {
  #buf = Buffer.alloc(0);
  constructor(onFrame) {
    this.onFrame = onFrame;
  }
  push(chunk) {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b[1] & 0x80) !== 0;
      if (masked) off += 4;
      if (b.length < off + len) return;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= b[off - 4 + (i & 3)];
      this.#buf = b.subarray(off + len);
      this.onFrame({ fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, masked, payload });
    }
  }
}

// ---- a raw peer: socket + what it received ---------------------------------------------------

class RawPeer {
  constructor(socket) {
    this.socket = socket;
    this.packets = [];
    this.countOnly = null;
    this.counts = new Map();
    this.bytesIn = 0;
    this.waiters = new Set();
    this.ended = false;
    this.closedAt = 0;
    socket.on('error', (err) => (this.socketError = err));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
        this._wake();
      }),
    );
    socket.on('end', () => {
      this.ended = true;
      this._wake();
    });
  }
  _packet(p) {
    // A test may consume packets itself (`onPacket` returning true), and bulk traffic
    // (`countOnly` events) is counted, not kept, so floods do not fill the test's memory.
    if (this.onPacket?.(p) === true) return this._wake();
    if (this.countOnly?.has(p.event)) this.counts.set(p.event, (this.counts.get(p.event) ?? 0) + 1);
    else this.packets.push(p);
    this._wake();
  }
  /** How many packets of a `countOnly` event arrived. */
  count(event) {
    return this.counts.get(event) ?? 0;
  }
  _wake() {
    for (const w of [...this.waiters]) w();
  }
  /** Resolves when `pred()` is truthy (checked on every inbound event); rejects on the guard. */
  waitUntil(pred, what, timeout = GUARD) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let v;
        try {
          v = pred();
        } catch (err) {
          done();
          reject(err);
          return;
        }
        if (v) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.summary())}`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
  /** The first packet matching `pred` (kept in `packets`). */
  packet(pred, what = 'packet', timeout) {
    return this.waitUntil(() => this.packets.find(pred), what, timeout);
  }
  next(type, event) {
    return this.packet((p) => p.type === type && (event === undefined || p.event === event), `packet type ${type} ${event ?? ''}`);
  }
  /** Resolves once the socket is fully closed. */
  async whenClosed(timeout = GUARD) {
    await guard(this.closed, 'socket close', timeout);
  }
  destroy() {
    this.socket.destroy();
    return this.closed;
  }
  write(bytes) {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }
  summary() {
    return {
      packets: this.packets.length,
      last: this.packets.slice(-5).map((p) => [p.type, p.event]),
      counts: Object.fromEntries(this.counts),
      ended: this.ended,
      destroyed: this.socket.destroyed,
    };
  }
}

export class RawWs extends RawPeer {
  constructor(socket, head, rest) {
    super(socket);
    this.head = head;
    this.frames = [];
    this.closeFrame = null;
    this.textFrames = 0;
    const reader = new ServerFrameReader((f) => {
      // Control frames are kept for inspection; data frames only as packets (floods stay cheap).
      if (f.opcode >= Op.CLOSE) this.frames.push(f);
      if (f.opcode === Op.CLOSE) {
        this.closeFrame = { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString() };
      } else if (f.opcode === Op.BINARY && f.fin) {
        try {
          this._packet(decodePacket(f.payload));
        } catch (err) {
          this.undecodable = err;
        }
      } else if (f.opcode === Op.TEXT) this.textFrames++;
      this._wake();
    });
    this.reader = reader;
    socket.on('data', (chunk) => {
      this.bytesIn += chunk.length;
      reader.push(chunk);
    });
    if (rest?.length) {
      this.bytesIn += rest.length;
      reader.push(rest);
    }
  }
  send(packet) {
    this.write(packetFrame(packet));
  }
  sendFrame(opts) {
    this.write(frame(opts));
  }
  connect(auth) {
    this.send({ type: PacketType.CONNECT, event: '', data: auth === undefined ? { v: 1 } : { v: 1, auth } });
    return this.next(PacketType.CONNECT).then((p) => ((this.id = p.data.id), p.data));
  }
  /** The close frame the server sent (waits for it). */
  async closeCode(timeout) {
    await this.waitUntil(() => this.closeFrame, 'close frame', timeout);
    return this.closeFrame.code;
  }
  /** Answers the server's close frame the way a client should, then waits for TCP to end. */
  async finishClose() {
    if (!this.socket.destroyed) this.write(frame({ opcode: Op.CLOSE, payload: this.closeFrame ? closeBody(this.closeFrame.code) : Buffer.alloc(0) }));
    await this.whenClosed();
  }
}

export class RawTcp extends RawPeer {
  constructor(socket) {
    super(socket);
    this.disconnect = null;
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      this.bytesIn += chunk.length;
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (buf.length < len) break;
        const p = decodePacket(buf.subarray(4, len));
        buf = buf.subarray(len);
        if (p.type === PacketType.DISCONNECT) this.disconnect = p.data;
        this._packet(p);
      }
    });
  }
  send(packet) {
    this.write(encodePacket(packet, 4));
  }
  connect(auth) {
    this.send({ type: PacketType.CONNECT, event: '', data: auth === undefined ? { v: 1 } : { v: 1, auth } });
    return this.next(PacketType.CONNECT).then((p) => ((this.id = p.data.id), p.data));
  }
  async closeCode(timeout) {
    await this.waitUntil(() => this.disconnect, 'Disconnect packet', timeout);
    return this.disconnect.code;
  }
  async finishClose() {
    if (!this.socket.destroyed) this.socket.end();
    await this.whenClosed();
  }
}

/** `allowHalfOpen`: do not end our side when the server ends its own (a peer that lingers). */
export function tcpSocket(port, { allowHalfOpen = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port, allowHalfOpen });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export async function rawTcp(port, opts) {
  return new RawTcp(await tcpSocket(port, opts));
}

/** A valid upgrade request head for `port` (tests edit it to break it). */
export function upgradeRequest(port, { path = '/', key = randomBytes(16).toString('base64'), headers = {}, method = 'GET' } = {}) {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${HOST}:${port}`, 'Upgrade: websocket', 'Connection: Upgrade'];
  if (key !== null) lines.push(`Sec-WebSocket-Key: ${key}`);
  lines.push('Sec-WebSocket-Version: 13');
  for (const [k, v] of Object.entries(headers)) {
    if (v === null) {
      const i = lines.findIndex((l) => l.toLowerCase().startsWith(`${k.toLowerCase()}:`));
      if (i !== -1) lines.splice(i, 1);
    } else for (const one of [].concat(v)) lines.push(`${k}: ${one}`);
  }
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Sends raw request bytes and reads the HTTP response head: { status, headers, body, socket, rest }. */
export async function rawHttp(port, request) {
  const socket = await tcpSocket(port);
  socket.on('error', () => {});
  socket.write(request);
  return readHead(socket);
}

function readHead(socket) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`no HTTP response; got ${JSON.stringify(buf.toString())}`)), GUARD);
    const onData = (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      cleanup();
      socket.pause();
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers, socket, rest: buf.subarray(end + 4), statusLine: lines[0] });
    };
    const onClose = () => fail(Object.assign(new Error(`closed before a response (${buf.length} bytes)`), { closedEarly: true }));
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const fail = (err) => {
      cleanup();
      reject(err);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Opens a WebSocket by hand (no Connect packet yet). Throws if the server does not answer 101. */
export async function rawWs(port, opts = {}) {
  const key = randomBytes(16).toString('base64');
  const res = await rawHttp(port, upgradeRequest(port, { ...opts, key }));
  if (res.status !== 101) {
    res.socket.destroy();
    throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
  }
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  if (res.headers['sec-websocket-accept'] !== accept) throw new Error('bad Sec-WebSocket-Accept');
  const ws = new RawWs(res.socket, res.headers, res.rest);
  res.socket.resume();
  return ws;
}

/** A WebSocket or TCP peer that completed the session handshake. */
export async function session(server, protocol = 'ws') {
  const peer = protocol === 'tcp' ? await rawTcp(server.getTcpPort()) : await rawWs(server.getPort());
  await peer.connect();
  return peer;
}

/**
 * The server still serves well-behaved clients: one of each transport connects, gets an
 * ACK answered, and leaves cleanly. Needs an `onAck('hardening:probe')` on the server
 * (installed by `probe(server)`).
 */
export async function assertServes(server) {
  for (const protocol of ['ws', 'tcp']) {
    const peer = await session(server, protocol);
    peer.send({ type: PacketType.ACK_REQUEST, event: 'hardening:probe', ackId: 7, data: { protocol } });
    const res = await peer.packet((p) => p.type === PacketType.ACK_RESPONSE && p.ackId === 7, `probe answer over ${protocol}`);
    if (!res.ok || res.data?.protocol !== protocol) throw new Error(`probe failed over ${protocol}: ${JSON.stringify(res)}`);
    await peer.destroy();
  }
}

export function probe(server) {
  server.onAck('hardening:probe', (ctx) => ctx.data);
  return server;
}

/** Waits until the server has `n` accepted clients (e.g. 0 once hostile peers are gone). */
export function clientsDrop(server, n = 0) {
  return until(() => server.getStats().activeConnections === n, `activeConnections === ${n} (is ${server.getStats().activeConnections})`);
}

export { selfSignedCert } from '../support/tls.mjs';

const SHUTDOWN_FIXTURE = fileURLToPath(new URL('./fixtures/shutdown-server.mjs', import.meta.url));

/**
 * Starts the shutdown fixture (a StelarServer in its own process, for real signals); resolves
 * once it listens. `lines` collects its JSON output, `exited` its exit. A fixture that never
 * gets ready is killed before the error is thrown.
 */
export async function shutdownServerProcess(opts = {}) {
  const child = spawn(process.execPath, [SHUTDOWN_FIXTURE, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) !== -1) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  try {
    const ready = await guard(
      until(() => lines.find((l) => l.type === 'ready'), 'ready'),
      'the server process',
    );
    return { child, lines, exited, ...ready };
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
}
