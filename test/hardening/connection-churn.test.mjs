// Issue 12, items 3 and 6: what one address can do by opening connections quickly.
// Each case talks to the server over raw sockets bound to its own loopback address
// (127.0.0.x), so the per-address limits of one case do not touch another's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '../../dist/index.js';
import { GUARD, PacketType, RawTcp, RawWs, delay, guard, probe, startServer, until, upgradeRequest } from './helpers.mjs';

/** A connected raw socket from `localAddress`. */
function socketFrom(localAddress, port, { allowHalfOpen = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress, allowHalfOpen });
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const tcpFrom = async (addr, port, opts) => new RawTcp(await socketFrom(addr, port, opts));

/** A WebSocket session from `localAddress` (upgrade by hand; no Connect yet). */
async function wsFrom(addr, port) {
  const socket = await socketFrom(addr, port);
  socket.write(upgradeRequest(port));
  let head = Buffer.alloc(0);
  for (let i = 0; i < 100; i++) {
    const [chunk] = await guard(new Promise((r) => socket.once('data', (c) => r([c]))), 'upgrade answer');
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end !== -1) {
      assert.match(head.subarray(0, end).toString(), /^HTTP\/1\.1 101/);
      return new RawWs(socket, {}, head.subarray(end + 4));
    }
  }
  throw new Error('no upgrade answer');
}

const closedWithin = (socket, ms) =>
  new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });

test('item 3a: one address cannot open connections faster than connectionRateLimit', async () => {
  const server = probe(await startServer({ connectionRateLimit: { maxPoints: 5, windowMs: 60_000 } }));
  const peers = [];
  try {
    for (let i = 0; i < 5; i++) {
      const p = await tcpFrom('127.0.0.2', server.getTcpPort());
      peers.push(p);
      await p.connect();
      p.socket.destroy();
      await p.closed;
    }
    const sixth = await tcpFrom('127.0.0.2', server.getTcpPort());
    peers.push(sixth);
    const err = await sixth.next(PacketType.ERROR);
    assert.equal(err.event, ErrorCode.TOO_MANY_FROM_IP);
    assert.equal(await sixth.closeCode(), 4003);
    // Another address is not affected.
    const other = await tcpFrom('127.0.0.3', server.getTcpPort());
    peers.push(other);
    await other.connect();
  } finally {
    for (const p of peers) p.socket.destroy();
    await server.stop();
  }
});

test('item 3b: a reconnect from the same address does not get a fresh message bucket', async () => {
  const server = await startServer({ rateLimit: { maxPoints: 20, windowMs: 60_000 }, connectionRateLimit: false });
  let handled = 0;
  server.on('spam', () => handled++);
  const peers = [];
  try {
    for (let cycle = 0; cycle < 3; cycle++) {
      const p = await tcpFrom('127.0.0.4', server.getTcpPort());
      peers.push(p);
      await p.connect();
      for (let i = 0; i < 30; i++) p.send({ type: PacketType.JSON, event: 'spam', data: i });
      await p.packet((x) => x.type === PacketType.ERROR && x.event === ErrorCode.RATE_LIMITED, 'rate limited');
      p.socket.destroy();
      await p.closed;
      await until(() => server.getStats().activeConnections === 0, 'client gone');
    }
    // 20 in the first cycle; a handful refilled since (20 per minute), not 20 per cycle.
    assert.ok(handled < 25, `handled ${handled} events over 3 reconnects`);
    // Another address has its own bucket.
    const other = await tcpFrom('127.0.0.5', server.getTcpPort());
    peers.push(other);
    await other.connect();
    const before = handled;
    for (let i = 0; i < 10; i++) other.send({ type: PacketType.JSON, event: 'spam', data: i });
    await until(() => handled === before + 10, 'other address served');
  } finally {
    for (const p of peers) p.socket.destroy();
    await server.stop();
  }
});

test("item 3b: rateLimitKey 'address' shares one bucket between concurrent sessions of an address", async () => {
  const server = await startServer({ rateLimit: { maxPoints: 10, windowMs: 60_000 }, rateLimitKey: 'address', connectionRateLimit: false });
  let handled = 0;
  server.on('spam', () => handled++);
  const peers = [];
  try {
    for (let i = 0; i < 2; i++) {
      const p = await tcpFrom('127.0.0.6', server.getTcpPort());
      peers.push(p);
      await p.connect();
    }
    for (const p of peers) for (let i = 0; i < 8; i++) p.send({ type: PacketType.JSON, event: 'spam', data: i });
    const limited = (p) => p.packets.some((x) => x.type === PacketType.ERROR && x.event === ErrorCode.RATE_LIMITED);
    await until(() => handled === 10 && peers.some(limited), 'one bucket for the address');
    await delay(50);
    assert.equal(handled, 10);
  } finally {
    for (const p of peers) p.socket.destroy();
    await server.stop();
  }
});

test('item 6a: idle pre-session sockets count against the per-IP cap (HTTP and TCP)', async () => {
  const server = await startServer({ maxConnectionsPerIP: 2, connectionRateLimit: false });
  const sockets = [];
  try {
    for (const port of [server.getPort(), server.getTcpPort()]) {
      const mine = [];
      // Idle sockets (no byte sent): far more than the cap.
      for (let i = 0; i < 40; i++) {
        const s = await socketFrom('127.0.0.7', port).catch(() => null);
        if (s) {
          sockets.push(s);
          mine.push(s);
        }
      }
      await delay(200);
      const open = mine.filter((s) => !s.destroyed).length;
      assert.ok(open <= 2 + 16, `${open} idle sockets from one address still open on port ${port}`);
      for (const s of mine) s.destroy();
      await until(() => mine.every((s) => s.destroyed), 'sockets closed');
    }
    // Another address still gets in.
    const other = await wsFrom('127.0.0.8', server.getPort());
    sockets.push(other.socket);
    await other.connect();
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
  }
});

test('item 6b: a refused session is destroyed promptly even when the peer never answers the close', async () => {
  const server = await startServer({ maxConnectionsPerIP: 1, connectionRateLimit: false });
  const peers = [];
  try {
    const first = await tcpFrom('127.0.0.9', server.getTcpPort());
    peers.push(first);
    await first.connect();
    for (const kind of ['tcp', 'ws']) {
      const p = kind === 'tcp' ? await tcpFrom('127.0.0.9', server.getTcpPort(), { allowHalfOpen: true }) : await wsFrom('127.0.0.9', server.getPort());
      peers.push(p);
      const err = await p.next(PacketType.ERROR);
      assert.equal(err.event, ErrorCode.TOO_MANY_FROM_IP);
      const t0 = Date.now();
      // We never answer the close: the server must not wait the whole close timeout. A
      // half-open TCP peer only learns its socket is gone when it writes (reset), so it pokes.
      const poke = kind === 'tcp' ? setInterval(() => p.socket.writable && p.socket.write(Buffer.alloc(1)), 100) : null;
      const closed = await closedWithin(p.socket, 3000);
      clearInterval(poke);
      assert.ok(closed, `${kind}: refused socket still open after 3 s`);
      assert.ok(Date.now() - t0 < 3000);
    }
  } finally {
    for (const p of peers) p.socket.destroy();
    await server.stop();
  }
});

test('item 6c: near the open-file limit the server drops new connections, logs once, and recovers', {
  skip: process.platform !== 'linux' && 'needs bash ulimit and /proc',
}, async () => {
  const fixture = fileURLToPath(new URL('./fixtures/low-fd-server.mjs', import.meta.url));
  // 96: enough for the ESM loader, which opens the library's modules concurrently at startup
  // (64 stopped being enough as the library grew), and still far below the 160 sockets opened.
  const child = spawn('bash', ['-c', `ulimit -n 96 && exec "${process.execPath}" "${fixture}"`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let exit = null;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exit = { code, signal }))));
  const sockets = [];
  try {
    await until(() => out.includes('}\n') || exit, 'child listening');
    assert.equal(exit, null, out);
    const { port, tcpPort } = JSON.parse(out.split('\n').find((l) => l.startsWith('{')));
    for (const p of [port, tcpPort]) {
      for (let i = 0; i < 80; i++) {
        const s = net.connect({ host: '127.0.0.1', port: p });
        s.on('error', () => {});
        sockets.push(s);
      }
    }
    await until(() => sockets.every((s) => s.destroyed || s.readyState === 'open'), 'all connects settled');
    await delay(500);
    assert.equal(exit, null, `the server died: ${out}`);
    const starved = out.split('\n').filter((l) => /out of file descriptors/.test(l));
    assert.equal(starved.length, 1, `one log line per episode:\n${out}`);
    for (const s of sockets) s.destroy();
    // Recovered by itself: a new client is served.
    const res = await until(
      async () => {
        const s = net.connect({ host: '127.0.0.1', port });
        sockets.push(s);
        s.on('error', () => {});
        s.write('GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        // A socket the server still drops closes without data: try again at once, not after the guard.
        const data = await guard(
          new Promise((r) => {
            s.once('data', r);
            s.once('close', () => r(null));
          }),
          'livez',
          2000,
        ).catch(() => null);
        s.destroy();
        return data && String(data).startsWith('HTTP/1.1 200') ? String(data) : null;
      },
      'served again',
      30_000,
    );
    assert.ok(res);
    assert.match(out, /accepting connections again/);
    child.stdin.write('stop\n');
    assert.deepEqual(await guard(exited, 'child exit'), { code: 0, signal: null });
  } finally {
    for (const s of sockets) s.destroy();
    if (!exit) child.kill();
    await exited;
  }
});

void GUARD;
