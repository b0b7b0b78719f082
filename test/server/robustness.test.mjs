import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAdapter, PacketType, StelarServer } from '../../dist/index.js';
import { WireMessage } from '../../dist/wire/index.js';

const encodeMessage = (packet) => WireMessage.fromPacket(packet);
import { closeAll, connect, HOST, startServer, until } from './helpers.mjs';

function recordingLogger() {
  const lines = [];
  const rec =
    (level) =>
    (...args) =>
      lines.push([level, args.map(String).join(' ')]);
  return { lines, logger: { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') } };
}

test('a hook that throws is logged and vetoes nothing; an async hook is not a veto either', async () => {
  const { lines, logger } = recordingLogger();
  const server = await startServer({
    logger,
    hooks: {
      onClientJoinRoom: () => {
        throw new Error('hook bug');
      },
      onBeforeBroadcast: async () => false,
    },
  });
  const c = await connect(server, 'ws');
  assert.equal((await c.join('r')).type, PacketType.JOIN_ROOM);
  assert.equal(server.broadcast('x', 1), 1);
  assert.equal(await c.event('x'), 1);
  assert.ok(lines.some(([level, text]) => level === 'error' && /onClientJoinRoom/.test(text) && /hook bug/.test(text)));
  await closeAll(c);
  await server.stop();
});

test('handler errors are logged with the event name', async () => {
  const { lines, logger } = recordingLogger();
  const server = await startServer({ logger });
  server.on('bad', () => {
    throw new Error('kaput');
  });
  server.on('sync', (ctx) => ctx.emit('sync'));
  const c = await connect(server, 'tcp');
  c.emit('bad');
  c.emit('sync');
  await c.event('sync');
  assert.ok(lines.some(([level, text]) => level === 'error' && text.includes("on('bad')") && text.includes('kaput')));
  await closeAll(c);
  await server.stop();
});

test('start() during stop() starts again on a fresh port; a failed start rejects and cleans up', async () => {
  const server = new StelarServer({ port: 0, host: HOST, logger: false });
  const first = await server.start();
  const stopping = server.stop();
  const second = await server.start();
  await stopping;
  assert.ok(second > 0);
  assert.equal(server.getPort(), second);
  const taken = new StelarServer({ port: second, host: HOST, logger: false, gracefulShutdown: true });
  const base = process.listenerCount('SIGTERM');
  await assert.rejects(taken.start(), /EADDRINUSE/);
  assert.equal(process.listenerCount('SIGTERM'), base);
  await server.stop();
  assert.ok(first > 0);
});

test('messages queued behind an async rate limiter are bounded by maxBufferedBytes', async () => {
  let release;
  const gate = new Promise((r) => (release = r));
  const server = await startServer({
    maxBufferedBytes: 64 * 1024,
    customRateLimiter: { check: () => gate.then(() => true), reset() {}, cleanup() {}, size: () => 0 },
  });
  const c = await connect(server, 'tcp');
  const chunk = 'z'.repeat(16 * 1024);
  for (let i = 0; i < 10; i++) c.emit('m', chunk);
  assert.equal((await c.closed).code, 1008);
  release();
  await server.stop();
});

test('MemoryAdapter: membership both ways, empty rooms deleted, multi-room fan-out reaches each client once', () => {
  const a = new MemoryAdapter();
  const got = [];
  const clients = new Map(['x', 'y', 'z'].map((id) => [id, { id, sendEncoded: (m) => (got.push([id, m.packet.event]), true) }]));
  a.init({ getClient: (id) => clients.get(id), clients: () => clients.values() });
  assert.equal(a.addToRoom('x', 'r1'), true);
  assert.equal(a.addToRoom('x', 'r1'), false);
  a.addToRoom('y', 'r1');
  a.addToRoom('y', 'r2');
  a.addToRoom('z', 'r2');
  assert.deepEqual([...a.roomsOf('y')].sort(), ['r1', 'r2']);
  assert.equal(a.roomsOf('nobody').size, 0);
  assert.equal(a.broadcast(encodeMessage({ type: PacketType.JSON, event: 'e' }), { rooms: ['r1', 'r2'], exceptId: 'z' }), 2);
  assert.deepEqual(got.sort(), [
    ['x', 'e'],
    ['y', 'e'],
  ]);
  assert.equal(a.sendTo('z', encodeMessage({ type: PacketType.JSON, event: 'd' })), true);
  assert.equal(a.sendTo('nobody', encodeMessage({ type: PacketType.JSON, event: 'd' })), false);
  assert.equal(a.removeFromRoom('x', 'r1'), true);
  assert.equal(a.removeFromRoom('x', 'r1'), false);
  a.removeAll('y');
  assert.deepEqual(a.getRooms(), ['r2']);
  assert.deepEqual(a.getRoomMembers('r2'), ['z']);
  assert.equal(a.isMember('z', 'r2'), true);
  a.close();
  assert.equal(a.roomCount(), 0);
});

test('a broadcast is encoded once: every WS recipient gets the same frame object, every TCP one the same bytes', async () => {
  const frames = [];
  const adapter = new MemoryAdapter();
  const orig = adapter.broadcast.bind(adapter);
  adapter.broadcast = (message, target) => {
    const ws = message.wsFrame();
    assert.equal(message.wsFrame(), ws, 'WS frame built once');
    assert.equal(message.tcpFrame(), message.tcpFrame(), 'TCP frame built once');
    frames.push(message);
    return orig(message, target);
  };
  const server = await startServer({ adapter });
  const clients = await Promise.all([connect(server, 'ws'), connect(server, 'ws'), connect(server, 'tcp')]);
  assert.equal(server.broadcast('once', { big: 'x'.repeat(1000) }), 3);
  for (const c of clients) assert.equal((await c.event('once')).big.length, 1000);
  assert.equal(frames.length, 1);
  await closeAll(...clients);
  await until(() => server.getStats().activeConnections === 0, 'closed');
  await server.stop();
});
