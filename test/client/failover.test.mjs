// Client failover: given several server addresses, a client moves to the next one when its
// server refuses, cannot be reached (a closed local port) or sends it away, so the clients of
// a dead node come back on the survivors without application code. WebSocket and TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '../../dist/index.js';
import { addressOf, next, startServer, StelarClient, until } from './helpers/server.mjs';

const FIXTURE = fileURLToPath(new URL('./fixtures/server-process.mjs', import.meta.url));
const FAST = { logger: 'silent', reconnectionDelay: 50, maxReconnectionDelay: 200, reconnectionAttempts: 20 };

function spawnServer() {
  const child = spawn(process.execPath, [FIXTURE], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve({ child, ...JSON.parse(buf.split('\n')[0]) });
    });
    child.once('exit', (code) => reject(new Error(`server process exited early (${code})`)));
  });
}

/** A loopback port with nobody listening (connections are refused). */
function closedPort() {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const url = (mode, port) => (mode === 'tcp' ? `127.0.0.1:${port}` : `ws://127.0.0.1:${port}`);
const normal = (mode, port) => `${mode}://127.0.0.1:${port}`;

test('one of two servers killed with SIGKILL: its clients come back on the survivor, rooms and all', async () => {
  const victim = await spawnServer();
  const survivor = await startServer();
  const clients = [];
  try {
    const open = async (mode, first, second) => {
      const c = new StelarClient([url(mode, first), url(mode, second)], { mode, ...FAST });
      c.on('error', () => {});
      c.joinRoom('lobby');
      clients.push(c);
      const connected = next(c, 'connect');
      c.connect();
      await connected;
      return c;
    };
    for (let i = 0; i < 4; i++) await open('ws', victim.port, survivor.port);
    for (let i = 0; i < 2; i++) await open('tcp', victim.tcpPort, survivor.tcpPort);
    const bystander = await open('ws', survivor.port, victim.port);
    assert.equal(survivor.server.getStats().activeConnections, 1, 'only the bystander starts on the survivor');
    assert.equal(clients[0].getUrl(), normal('ws', victim.port));

    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');

    await until(() => survivor.server.getStats().activeConnections === clients.length, 'every client on the survivor');
    await until(() => survivor.server.getRoomMembers('lobby').length === clients.length, 'every client back in its room');
    for (const c of clients.slice(0, 4)) assert.equal(c.getUrl(), normal('ws', survivor.port));
    for (const c of clients.slice(4, 6)) assert.equal(c.getUrl(), normal('tcp', survivor.tcpPort));
    assert.equal(bystander.getUrl(), normal('ws', survivor.port), 'the bystander never moved');
    const got = Promise.all(clients.map((c) => next(c, 'news')));
    survivor.server.to('lobby', 'news', 'still here');
    assert.deepEqual(
      await got,
      clients.map(() => ['still here']),
    );
  } finally {
    for (const c of clients) c.disconnect();
    if (victim.child.exitCode === null && victim.child.signalCode === null) victim.child.kill('SIGKILL');
    await survivor.server.stop();
  }
});

test('an unreachable first address (a closed port) is skipped on the first connect, over WS and TCP', async () => {
  const srv = await startServer();
  const dead = await closedPort();
  try {
    for (const mode of ['ws', 'tcp']) {
      const c = new StelarClient([url(mode, dead), addressOf(srv, mode)], { mode, ...FAST });
      const errors = [];
      c.on('error', (e) => errors.push(e));
      const reconnecting = [];
      c.on('reconnecting', (n) => reconnecting.push(n));
      assert.deepEqual(c.getUrls(), [normal(mode, dead), normal(mode, mode === 'tcp' ? srv.tcpPort : srv.port)]);
      const connected = next(c, 'connect');
      c.connect();
      await connected;
      assert.equal(c.getUrl(), normal(mode, mode === 'tcp' ? srv.tcpPort : srv.port));
      assert.deepEqual(reconnecting, [1], 'one failed attempt, then the next address');
      assert.ok(errors.length >= 1, 'the refusal is reported');
      c.disconnect();
    }
  } finally {
    await srv.server.stop();
  }
});

test('a server that sends its clients away (stop: 1001) is left for the next address at the first retry', async () => {
  const a = await startServer();
  const b = await startServer();
  try {
    const c = new StelarClient([addressOf(a, 'ws'), addressOf(b, 'ws')], FAST);
    c.on('error', () => {});
    const first = next(c, 'connect');
    c.connect();
    await first;
    const reconnecting = [];
    c.on('reconnecting', (n) => reconnecting.push(n));
    const back = next(c, 'connect');
    await a.server.stop();
    await back;
    assert.equal(c.getUrl(), normal('ws', b.port));
    assert.deepEqual(reconnecting, [1]);
    c.disconnect();
  } finally {
    await b.server.stop();
  }
});

test('a dropped session retries its own server first (a blip does not move it)', async () => {
  const a = await startServer();
  const b = await startServer();
  const sockets = new Map();
  a.server.onConnection((ctx) => sockets.set(ctx.id, ctx.socket));
  try {
    const c = new StelarClient([addressOf(a, 'ws'), addressOf(b, 'ws')], FAST);
    c.on('error', () => {});
    const first = next(c, 'connect');
    c.connect();
    await first;
    const back = next(c, 'connect');
    sockets.get(c.getId()).destroy(); // 1006, server still up
    await back;
    assert.equal(c.getUrl(), normal('ws', a.port));
    c.disconnect();
  } finally {
    await a.server.stop();
    await b.server.stop();
  }
});

test('address lists: validated at once, setUrl takes a list and starts from its first address', () => {
  assert.throws(
    () => new StelarClient([], { logger: 'silent' }),
    (e) => e.code === ErrorCode.INVALID_URL,
  );
  assert.throws(
    () => new StelarClient(['ws://127.0.0.1:1', 'ftp://x'], { logger: 'silent' }),
    (e) => e.code === ErrorCode.INVALID_URL,
  );
  const c = new StelarClient(3000, { logger: 'silent' });
  assert.deepEqual(c.getUrls(), ['ws://localhost:3000']);
  c.setUrl(['127.0.0.1:1', '127.0.0.1:2']);
  assert.equal(c.getUrl(), 'ws://127.0.0.1:1');
  c.updateOptions({ mode: 'tcp' });
  assert.deepEqual(c.getUrls(), ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:2']);
});
