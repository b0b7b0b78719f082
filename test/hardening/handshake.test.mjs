// Hostile upgrade requests and peers that stall before their session starts. Each refusal is
// checked for its exact HTTP status, that the server closed the socket, and that a
// well-behaved client is served afterwards.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../dist/index.js';
import {
  assertServes,
  clientsDrop,
  guard,
  packetFrame,
  PacketType,
  probe,
  rawHttp,
  rawTcp,
  rawWs,
  RawWs,
  selfSignedCert,
  startServer,
  tcpSocket,
  upgradeRequest,
} from './helpers.mjs';

/** Sends `request`, expects `status` (and `headers`), then the server closing the socket. */
async function expectRefusal(port, request, status, headers = {}) {
  const res = await rawHttp(port, request);
  assert.equal(res.status, status, res.statusLine);
  for (const [k, v] of Object.entries(headers)) assert.equal(res.headers[k], v);
  assert.equal(res.headers['sec-websocket-accept'], undefined);
  res.socket.resume();
  await guard(new Promise((resolve) => (res.socket.destroyed ? resolve() : res.socket.once('close', resolve))), 'the server to close');
}

describe('upgrade requests', () => {
  test('malformed or refused handshakes get the exact status and a closed socket', async (t) => {
    const server = probe(await startServer({ allowedOrigins: ['https://good.example'] }));
    const port = server.getPort();
    const req = (opts) => upgradeRequest(port, opts);
    try {
      await t.test('missing Sec-WebSocket-Key -> 400', () => expectRefusal(port, req({ key: null }), 400));
      await t.test('duplicate Sec-WebSocket-Key -> 400', () => expectRefusal(port, req({ headers: { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } }), 400));
      await t.test('odd-length Sec-WebSocket-Key (23 chars) -> 400', () => expectRefusal(port, req({ key: 'dGhlIHNhbXBsZSBub25jZQ=' }), 400));
      await t.test('Sec-WebSocket-Key of 15 bytes -> 400', () => expectRefusal(port, req({ key: Buffer.alloc(15, 1).toString('base64') }), 400));
      await t.test('Sec-WebSocket-Key that is not base64 -> 400', () => expectRefusal(port, req({ key: 'dGhlIHNhbXBsZSBub25j!!==' }), 400));
      await t.test('disallowed Origin -> 403 (no WebSocket, no packet)', () => expectRefusal(port, req({ headers: { Origin: 'https://evil.example' } }), 403));
      await t.test('no Origin at all with an allow-list: accepted (only browsers send one; it guards browsers)', async () => {
        const res = await rawHttp(port, req());
        assert.equal(res.status, 101);
        res.socket.destroy();
      });
      const version = (v) => req({ headers: { 'Sec-WebSocket-Version': null } }).replace(/\r\n\r\n$/, `\r\nSec-WebSocket-Version: ${v}\r\n\r\n`);
      await t.test('Sec-WebSocket-Version 8 -> 426 naming 13', () => expectRefusal(port, version('8'), 426, { 'sec-websocket-version': '13' }));
      await t.test('Sec-WebSocket-Version missing -> 426', () =>
        expectRefusal(port, req({ headers: { 'Sec-WebSocket-Version': null } }), 426, { 'sec-websocket-version': '13' }),
      );
      await t.test('POST upgrade -> 405 Allow: GET', () => expectRefusal(port, req({ method: 'POST' }), 405, { allow: 'GET' }));
      await t.test('PUT upgrade -> 405 Allow: GET', () => expectRefusal(port, req({ method: 'PUT' }), 405, { allow: 'GET' }));
      await t.test('5000 headers -> 431', () => {
        const many = {};
        for (let i = 0; i < 5000; i++) many[`X-H${i}`] = 'v';
        return expectRefusal(port, req({ headers: { Origin: 'https://good.example', ...many } }), 431);
      });
      await t.test('a 1 MiB header line -> 431', () => expectRefusal(port, req({ headers: { 'X-Big': 'a'.repeat(1 << 20) } }), 431));
      await t.test('a 1 MiB request line -> 431', () => expectRefusal(port, req({ path: `/?${'a'.repeat(1 << 20)}` }), 431));
      await t.test('allowed Origin with a Connect frame in the same write: accepted, the early bytes are used', async () => {
        const res = await rawHttp(
          port,
          Buffer.concat([
            Buffer.from(req({ headers: { Origin: 'https://good.example' } })),
            packetFrame({ type: PacketType.CONNECT, event: '', data: { v: 1 } }),
          ]),
        );
        assert.equal(res.status, 101);
        const ws = new RawWs(res.socket, res.headers, res.rest);
        res.socket.resume();
        const hello = await ws.next(PacketType.CONNECT);
        assert.equal(typeof hello.data.id, 'string');
        await ws.destroy();
      });
      await clientsDrop(server, 0);
      server.updateConfig({ allowedOrigins: null });
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });
});

describe('stalled peers', { concurrency: true }, () => {
  const CONNECT_TIMEOUT = 1500;

  test('slowloris: an upgrade request trickled one byte a second is dropped (408) after connectTimeout (regression: ~10-40 s)', async () => {
    const server = probe(await startServer({ connectTimeout: CONNECT_TIMEOUT }));
    try {
      const socket = await tcpSocket(server.getPort());
      const started = Date.now();
      const bytes = Buffer.from(upgradeRequest(server.getPort()));
      let received = '';
      socket.on('data', (d) => (received += d));
      socket.on('error', () => {});
      const closed = new Promise((resolve) => socket.once('close', resolve));
      let sent = 0;
      const timer = setInterval(() => {
        if (!socket.destroyed && sent < bytes.length) socket.write(bytes.subarray(sent, ++sent));
      }, 1000);
      try {
        await guard(closed, 'the server to drop the trickling request', CONNECT_TIMEOUT + 6000);
      } finally {
        clearInterval(timer);
      }
      assert.ok(Date.now() - started >= CONNECT_TIMEOUT - 50, 'not before connectTimeout');
      assert.ok(sent < bytes.length, `dropped after ${sent} of ${bytes.length} bytes`);
      assert.match(received, /^HTTP\/1\.1 408 /);
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });

  test('an upgraded WebSocket that never sends Connect: Error STELAR_ERR_CONNECT_TIMEOUT, close 4004', async () => {
    const server = probe(await startServer({ connectTimeout: CONNECT_TIMEOUT }));
    try {
      const started = Date.now();
      const ws = await rawWs(server.getPort());
      const err = await ws.next(PacketType.ERROR);
      assert.equal(err.event, ErrorCode.CONNECT_TIMEOUT);
      assert.equal(await ws.closeCode(), 4004);
      assert.ok(Date.now() - started >= CONNECT_TIMEOUT - 50);
      await ws.finishClose();
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });

  test('a Connect frame trickled one byte every 200 ms over WebSocket: 4004 all the same', async () => {
    const server = probe(await startServer({ connectTimeout: CONNECT_TIMEOUT }));
    try {
      const ws = await rawWs(server.getPort());
      const bytes = packetFrame({ type: PacketType.CONNECT, event: '', data: { v: 1, auth: { pad: 'x'.repeat(200) } } });
      let sent = 0;
      const timer = setInterval(() => ws.write(bytes.subarray(sent, ++sent)), 200);
      try {
        assert.equal(await ws.closeCode(CONNECT_TIMEOUT + 6000), 4004);
      } finally {
        clearInterval(timer);
      }
      assert.equal(
        ws.packets.some((p) => p.type === PacketType.CONNECT),
        false,
      );
      await ws.finishClose();
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });

  test('a TCP peer that never sends Connect: Error STELAR_ERR_CONNECT_TIMEOUT, Disconnect 4004', async () => {
    const server = probe(await startServer({ connectTimeout: CONNECT_TIMEOUT }));
    try {
      const started = Date.now();
      const tcp = await rawTcp(server.getTcpPort());
      const err = await tcp.next(PacketType.ERROR);
      assert.equal(err.event, ErrorCode.CONNECT_TIMEOUT);
      assert.equal(await tcp.closeCode(), 4004);
      assert.ok(Date.now() - started >= CONNECT_TIMEOUT - 50);
      await tcp.finishClose();
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });

  test('a TCP peer that only pings before Connect is still cut at connectTimeout (pings are not a session)', async () => {
    const server = probe(await startServer({ connectTimeout: CONNECT_TIMEOUT }));
    try {
      const tcp = await rawTcp(server.getTcpPort());
      const timer = setInterval(() => tcp.send({ type: PacketType.PING, event: '', data: Buffer.from('k') }), 100);
      try {
        assert.equal(await tcp.closeCode(CONNECT_TIMEOUT + 6000), 4004);
      } finally {
        clearInterval(timer);
      }
      assert.ok(
        tcp.packets.some((p) => p.type === PacketType.PONG),
        'pings were answered meanwhile',
      );
      await tcp.finishClose();
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });

  test('TLS: connections that never start their TLS handshake are dropped after connectTimeout on both ports (regression: 120 s)', async () => {
    const server = await startServer({ connectTimeout: CONNECT_TIMEOUT, tls: selfSignedCert() });
    try {
      const started = Date.now();
      const sockets = await Promise.all([tcpSocket(server.getPort()), tcpSocket(server.getTcpPort())]);
      await Promise.all(
        sockets.map((s) =>
          guard(
            new Promise((resolve) => {
              s.on('error', () => {});
              s.once('close', resolve);
            }),
            'the server to drop the silent TLS connection',
            CONNECT_TIMEOUT + 8000,
          ),
        ),
      );
      assert.ok(Date.now() - started >= CONNECT_TIMEOUT - 50, 'not before connectTimeout');
    } finally {
      await server.stop();
    }
  });
});
