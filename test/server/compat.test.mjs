// Issue 13 (spec compatibility), the server's side: isShuttingDown is true only while a
// graceful shutdown runs, and ctx.clientInfo has the spec's shape and nothing of the session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, connect, startServer } from './helpers.mjs';

test('isShuttingDown: true during shutdown(), false once it resolved; a second shutdown() waits for the same one', async () => {
  let hookRan = false;
  const server = await startServer({ hooks: { onShutdown: () => (hookRan = true) }, shutdownTimeout: 2000 });
  const client = await connect(server, 'ws');
  try {
    assert.equal(server.isShuttingDown, false);
    const first = server.shutdown('test');
    assert.equal(server.isShuttingDown, true);
    const second = server.shutdown('again');
    await second;
    assert.equal(hookRan, true, 'the second shutdown() resolved before the first had finished');
    await first;
    assert.equal(server.isShuttingDown, false, 'still shutting down after the shutdown finished');
    assert.equal(server.getPort(), undefined);
    await client.closed;

    // Started again, it serves (and is not shutting down).
    await server.start();
    assert.equal(server.isShuttingDown, false);
    const again = await connect(server, 'tcp');
    assert.ok(again.id);
    await closeAll(again);
  } finally {
    await server.stop();
  }
});

test("ctx.clientInfo: the spec's fields (id, protocol, remoteAddress, rooms, metadata, connectedAt), frozen, no session internals", async () => {
  const server = await startServer();
  const seen = {};
  server.use((ctx, next) => {
    seen.middleware = { connectedAt: ctx.clientInfo.connectedAt, protocol: ctx.clientInfo.protocol };
    next();
  });
  server.on('look', (ctx) => {
    const info = ctx.clientInfo;
    ctx.joinRoom('r1');
    seen.info = info;
    seen.same = info === ctx.clientInfo;
    seen.frozen = Object.isFrozen(info);
    seen.keys = [];
    for (let o = info; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) seen.keys.push(...Object.getOwnPropertyNames(o));
    seen.values = { id: info.id, protocol: info.protocol, remoteAddress: info.remoteAddress, connectedAt: info.connectedAt };
    seen.rooms = [...info.rooms];
    info.rooms.add('forged'); // a copy: changes nothing
    seen.roomsAfter = [...ctx.clientInfo.rooms];
    ctx.setMetadata('role', 'admin');
    seen.metadata = info.metadata.get('role');
    seen.json = JSON.parse(JSON.stringify(info));
    seen.internals = ['close', 'terminate', 'sendPacket', 'transport', 'socket', 'state', 'fail'].filter((k) => k in info);
    ctx.emit('done');
  });
  const client = await connect(server, 'tcp');
  try {
    client.emit('look');
    await client.event('done');
    assert.deepEqual(seen.middleware, { connectedAt: 0, protocol: 'tcp' });
    assert.equal(seen.same, true);
    assert.equal(seen.frozen, true);
    assert.deepEqual(
      seen.keys.filter((k) => k !== 'constructor').sort(),
      ['connectedAt', 'id', 'metadata', 'protocol', 'remoteAddress', 'rooms', 'toJSON'].sort(),
    );
    assert.deepEqual(seen.internals, []);
    assert.equal(seen.values.id, client.id);
    assert.equal(seen.values.protocol, 'tcp');
    assert.equal(seen.values.remoteAddress, '127.0.0.1');
    assert.ok(seen.values.connectedAt > 0);
    assert.deepEqual(seen.rooms, ['r1']);
    assert.deepEqual(seen.roomsAfter, ['r1']);
    assert.deepEqual(server.getRooms(), ['r1']);
    assert.equal(seen.metadata, 'admin');
    assert.deepEqual(seen.json, {
      id: client.id,
      protocol: 'tcp',
      remoteAddress: '127.0.0.1',
      rooms: ['r1'],
      metadata: { role: 'admin' },
      connectedAt: seen.values.connectedAt,
    });
    assert.throws(() => {
      seen.info.id = 'x';
    }, TypeError);
  } finally {
    await closeAll(client);
    await server.stop();
  }
});
