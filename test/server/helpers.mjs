// Raw test clients for the server tests: WebSocket through the `ws` package, TCP through
// `net` with a small length-prefix reader. They speak the session protocol by hand so the
// server is tested without depending on StelarClient.
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { StelarServer } from '../../dist/index.js';
import { decodePacket, encodePacket, PacketType } from '../../dist/protocol/index.js';
import { waitUntil } from '../support/waits.mjs';

export { PacketType, encodePacket, decodePacket };
export const HOST = '127.0.0.1';
export const TIMEOUT = 5000;

/** A started server on ephemeral ports, quiet, with TCP on. */
export async function startServer(options = {}) {
  const server = new StelarServer({ port: 0, host: HOST, tcpPort: 0, logger: false, ...options });
  await server.start();
  return server;
}

export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `fn` until it returns truthy (failure guard: TIMEOUT). */
export const until = (fn, what = 'condition', timeout = TIMEOUT) => waitUntil(fn, what, timeout);

class TestClient {
  constructor(protocol) {
    this.protocol = protocol;
    this.id = undefined;
    this.connectData = undefined;
    this.inbox = [];
    this.waiters = [];
    this.nextAckId = 1;
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      this._resolveClosed = resolve;
    });
  }

  _onPacket(bytes) {
    const packet = decodePacket(bytes);
    this.inbox.push(packet);
    for (const w of this.waiters.slice()) w();
  }

  _onClose(code, reason) {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason };
    this._resolveClosed(this.closeInfo);
    for (const w of this.waiters.slice()) w();
  }

  /** Resolves with (and removes) the first packet matching `pred`. Rejects on timeout or close. */
  waitFor(pred, what = 'packet', timeout = TIMEOUT) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.inbox.findIndex(pred);
        if (i !== -1) {
          cleanup();
          resolve(this.inbox.splice(i, 1)[0]);
        } else if (this.closeInfo) {
          cleanup();
          reject(new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; inbox: ${JSON.stringify(this.inbox.map((p) => [p.type, p.event]))}`));
      }, timeout);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  next(type, event) {
    return this.waitFor((p) => p.type === type && (event === undefined || p.event === event), `type ${type} ${event ?? ''}`);
  }

  /** The next event (JSON or binary) named `event`: its data. */
  async event(event) {
    const p = await this.waitFor((p) => (p.type === PacketType.JSON || p.type === PacketType.BINARY) && p.event === event, `event ${event}`);
    return p.data;
  }

  has(pred) {
    return this.inbox.some(pred);
  }

  sendPacket(packet) {
    this._write(encodePacket(packet, this.protocol === 'tcp' ? 4 : 0));
  }

  sendConnect(auth) {
    this.sendPacket({ type: PacketType.CONNECT, event: '', data: auth === undefined ? { v: 1 } : { v: 1, auth } });
  }

  /** Sends Connect and waits for the server's Connect (or an Error/close). */
  async handshake(auth) {
    this.sendConnect(auth);
    const p = await this.next(PacketType.CONNECT);
    this.connectData = p.data;
    this.id = p.data.id;
    return p.data;
  }

  emit(event, data) {
    this.sendPacket({ type: PacketType.JSON, event, data });
  }

  emitBinary(event, data) {
    this.sendPacket({ type: PacketType.BINARY, event, data });
  }

  /** ACK request; resolves with the ACK response packet. */
  async request(event, data, ackName) {
    const ackId = this.nextAckId++;
    this.sendPacket({ type: PacketType.ACK_REQUEST, event, data, ackId, ackName });
    return this.waitFor((p) => p.type === PacketType.ACK_RESPONSE && p.ackId === ackId, `ack ${ackId}`);
  }

  /** Join and wait for the echo or an Error about that room: returns the packet. */
  join(room) {
    this.sendPacket({ type: PacketType.JOIN_ROOM, event: room });
    return this.waitFor((p) => (p.type === PacketType.JOIN_ROOM && p.event === room) || (p.type === PacketType.ERROR && p.data?.room === room), `join ${room}`);
  }

  leave(room) {
    this.sendPacket({ type: PacketType.LEAVE_ROOM, event: room });
    return this.waitFor(
      (p) => (p.type === PacketType.LEAVE_ROOM && p.event === room) || (p.type === PacketType.ERROR && p.data?.room === room),
      `leave ${room}`,
    );
  }

  ping(body = Buffer.from('hb')) {
    this.sendPacket({ type: PacketType.PING, event: '', data: body });
  }
}

class WsTestClient extends TestClient {
  constructor(ws) {
    super('ws');
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      if (isBinary) this._onPacket(data);
      else this.textMessages = (this.textMessages ?? 0) + 1;
    });
    ws.on('close', (code, reason) => this._onClose(code, reason.toString()));
    ws.on('error', () => {});
  }
  _write(bytes) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes, { binary: true });
  }
  sendText(text) {
    this.ws.send(text);
  }
  close(code = 1000) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code);
    else this.ws.terminate();
    return this.closed;
  }
  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}

class TcpTestClient extends TestClient {
  constructor(socket) {
    super('tcp');
    this.socket = socket;
    let buffered = Buffer.alloc(0);
    let disconnect = null;
    socket.on('data', (chunk) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 4) {
        const len = buffered.readUInt32BE(0);
        if (buffered.length < len) break;
        const packet = buffered.subarray(4, len);
        buffered = buffered.subarray(len);
        if (packet[0] === PacketType.DISCONNECT) {
          const d = decodePacket(packet).data;
          disconnect = { code: d?.code, reason: d?.reason ?? '' };
          this.disconnectPacket = disconnect;
          continue;
        }
        this._onPacket(packet);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this._onClose(disconnect?.code ?? 1006, disconnect?.reason ?? ''));
  }
  _write(bytes) {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }
  writeRaw(bytes) {
    this.socket.write(bytes);
  }
  close(code = 1000) {
    if (!this.socket.destroyed) {
      this.sendPacket({ type: PacketType.DISCONNECT, event: '', data: { code, reason: 'bye' } });
      this.socket.end();
    }
    return this.closed;
  }
  terminate() {
    this.socket.destroy();
    return this.closed;
  }
}

/** Opens a raw WebSocket to the server (no handshake packet yet). Rejects on HTTP refusal with the status. */
export function openWs(port, { path = '/', headers, origin, secure = false, ca } = {}) {
  const url = `${secure ? 'wss' : 'ws'}://${HOST}:${port}${path}`;
  const ws = new WebSocket(url, { headers, origin, ca, rejectUnauthorized: ca ? true : undefined, servername: ca ? 'localhost' : undefined });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(new WsTestClient(ws)));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

export function openTcp(port, { secure = false, ca } = {}) {
  return new Promise((resolve, reject) => {
    const socket = secure ? tls.connect({ host: HOST, port, ca, servername: 'localhost' }) : net.connect({ host: HOST, port });
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      resolve(new TcpTestClient(socket));
    });
    socket.once('error', reject);
  });
}

/** Opens a client of `protocol` on `server` and completes the handshake. */
export async function connect(server, protocol = 'ws', { auth, ...opts } = {}) {
  const client = protocol === 'tcp' ? await openTcp(server.getTcpPort(), opts) : await openWs(server.getPort(), opts);
  await client.handshake(auth);
  return client;
}

export async function closeAll(...clients) {
  await Promise.all(clients.filter(Boolean).map((c) => c.terminate()));
}

export { selfSignedCert } from '../support/tls.mjs';

/** GET/OPTIONS over http(s); resolves { status, headers, body (parsed JSON when possible) }. */
export async function httpRequest(port, path, { method = 'GET', headers = {}, secure = false, ca } = {}) {
  const mod = secure ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = mod.request({ host: HOST, port, path, method, headers, ca, servername: secure ? 'localhost' : undefined, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let body = text;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export { once };
