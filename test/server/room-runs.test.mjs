// Room sends made in one tick are handed to each member as one write at the flush
// (MemoryAdapter's broadcast runs). These tests pin what must not change because of it: each
// member gets exactly the messages sent while it was in the room, in call order, interleaved
// correctly with every other send, join, leave and disconnect of the same tick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketType } from '../../dist/index.js';
import { closeAll, connect, startServer, until } from './helpers.mjs';

/** The data of the events named `name` in `client`'s inbox, in arrival order. */
const seen = (client, name) => client.inbox.filter((p) => p.type === PacketType.JSON && p.event === name).map((p) => p.data);

async function settle(...clients) {
  // A Ping answered after everything sent before it: the inboxes are complete up to here.
  for (const c of clients) {
    c.ping();
    await c.next(PacketType.PONG);
  }
}

test('a member gets room sends, direct sends and other rooms in call order (ws and tcp members)', async () => {
  const server = await startServer();
  const x = await connect(server, 'ws');
  const y = await connect(server, 'tcp');
  await x.join('r1');
  await y.join('r1');
  await x.join('r2');
  const counts = [];
  server.on('go', () => {
    counts.push(server.to('r1', 'e', 1));
    counts.push(server.to('r1', 'e', 2));
    server.toId(x.id, 'e', 3);
    counts.push(server.to('r2', 'e', 4));
    counts.push(server.to('r1', 'e', 5));
    counts.push(server.to('r1', 'e', 6, y.id));
    for (let i = 7; i < 57; i++) server.to('r1', 'e', i);
  });
  y.emit('go', null);
  await until(() => seen(x, 'e').includes(56), 'the last message');
  await settle(x, y);
  const tail = Array.from({ length: 50 }, (_, i) => i + 7);
  assert.deepEqual(seen(x, 'e'), [1, 2, 3, 4, 5, 6, ...tail]);
  assert.deepEqual(seen(y, 'e'), [1, 2, 5, ...tail]);
  assert.deepEqual(counts, [2, 2, 1, 2, 1]);
  await closeAll(x, y);
  await server.stop();
});

test('a join or leave in the same tick splits the run: members get what was sent while they were in', async () => {
  const server = await startServer();
  const x = await connect(server, 'tcp');
  const y = await connect(server, 'ws');
  await x.join('r3');
  const counts = [];
  server.on('go', (ctx) => {
    counts.push(server.to('r3', 'f', 1));
    ctx.joinRoom('r3');
    counts.push(server.to('r3', 'f', 2));
    counts.push(server.to('r3', 'f', 3));
    ctx.leaveRoom('r3');
    counts.push(server.to('r3', 'f', 4));
  });
  y.emit('go', null);
  await until(() => seen(x, 'f').includes(4), 'the last message');
  await settle(x, y);
  assert.deepEqual(seen(x, 'f'), [1, 2, 3, 4]);
  assert.deepEqual(seen(y, 'f'), [2, 3]);
  assert.deepEqual(counts, [1, 2, 2, 1]);
  // y's Join and Leave echoes frame its two messages.
  const order = y.inbox.filter((p) => p.event === 'f' || p.event === 'r3').map((p) => (p.event === 'f' ? p.data : p.type));
  assert.deepEqual(order, [PacketType.JOIN_ROOM, 2, 3, PacketType.LEAVE_ROOM]);
  await closeAll(x, y);
  await server.stop();
});

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: server.disconnect() right after a room send: the member still gets the message, then the close`, async () => {
    const server = await startServer();
    const x = await connect(server, protocol);
    const y = await connect(server, protocol === 'ws' ? 'tcp' : 'ws');
    await x.join('r');
    await y.join('r');
    server.on('go', () => {
      server.to('r', 'g', 1);
      server.to('r', 'g', 2);
      server.disconnect(x.id, 4009, 'bye');
      server.to('r', 'g', 3);
    });
    y.emit('go', null);
    const closed = await x.closed;
    assert.equal(closed.code, 4009);
    assert.deepEqual(seen(x, 'g'), [1, 2]);
    await until(() => seen(y, 'g').includes(3), 'the third message');
    assert.deepEqual(seen(y, 'g'), [1, 2, 3]);
    await closeAll(y);
    await server.stop();
  });
}
