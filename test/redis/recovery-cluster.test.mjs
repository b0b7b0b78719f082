// Connection-state recovery across nodes (Redis Streams): a client comes back on the same
// node or on another one and gets exactly the messages it missed, in order, with its id,
// rooms and metadata; too late, or after a history reset, it gets a new session and the
// recovery_failed event. Over WebSocket and TCP, with node-redis and ioredis nodes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOf, closeRedis, connectClient, deleteKeys, joinRoom, next, redisClient, sleep, startNode, uniquePrefix, until } from './helpers.mjs';

const KINDS = ['node-redis', 'ioredis', 'node-redis'];

async function cluster(prefix, recovery) {
  const nodes = [];
  for (const kind of KINDS) {
    const node = await startNode({ prefix, kind, server: { recovery } });
    node.server.onConnection((ctx) => {
      if (!ctx.getMetadata('user')) ctx.setMetadata('user', `user-of-${ctx.id}`);
    });
    nodes.push(node);
  }
  await until(() => nodes.every((n) => n.adapter.getNodes().length === 3), 'three nodes');
  return nodes;
}

/** Calls `fn` once, when the node notices the client `id` is gone (its session is saved by then). */
function whenGone(node, id, fn) {
  let done = false;
  node.server.onDisconnect((ctx) => {
    if (done || ctx.id !== id) return;
    done = true;
    fn();
  });
}

for (const mode of ['ws', 'tcp']) {
  describe(`recovery across nodes over ${mode}`, () => {
    const prefix = uniquePrefix(`rec-${mode}`);
    let nodes;
    const clients = [];

    before(async () => {
      nodes = await cluster(prefix, { maxDisconnectionDuration: 10_000 });
    });
    after(async () => {
      for (const c of clients) c.disconnect();
      for (const n of nodes) await n.stop();
      await deleteKeys(prefix);
    });

    test('same node, then another node: same id, rooms, metadata, exactly the missed messages in order', async () => {
      const { client, got } = await connectClient(addressOf(nodes[0], mode), { mode, recovery: true, customReconnectDelay: () => 250 });
      clients.push(client);
      const id = client.getId();
      await joinRoom(client, 'r');
      const messages = () => got.filter(([e]) => e === 'm').map(([, d]) => d);
      nodes[1].server.to('r', 'm', 0);
      await until(() => messages().length === 1, 'the live message');

      // 1. Away from node 0 and back to node 0. Everything is sent from node 1, in this order.
      whenGone(nodes[0], id, () => {
        const s = nodes[1].server;
        s.to('r', 'm', 1);
        s.toId(id, 'm', 2);
        s.to('elsewhere', 'm', 'not for it');
        s.broadcast('m', 3);
        s.broadcast('m', 'excluded', id);
        s.to('r', 'm', 4);
      });
      let reconnected = next(client, 'connect');
      nodes[0].cut(id);
      assert.deepEqual((await reconnected)[0], { recovered: true });
      assert.equal(client.getId(), id);
      await until(() => messages().length === 5, 'the missed messages');
      assert.deepEqual(messages(), [0, 1, 2, 3, 4]);

      // 2. Away from node 0, back on node 2 (another process could be there: the state is in Redis).
      client.setUrl(addressOf(nodes[2], mode));
      whenGone(nodes[0], id, () => {
        nodes[1].server.to('r', 'm', 5);
        nodes[1].server.toId(id, 'm', 6);
        nodes[1].server.to('r', 'm', 7);
      });
      reconnected = next(client, 'connect');
      nodes[0].cut(id);
      assert.deepEqual((await reconnected)[0], { recovered: true });
      assert.equal(client.getId(), id, 'same id on another node');
      await until(() => messages().length === 8, 'the missed messages');
      assert.deepEqual(messages(), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.deepEqual(nodes[2].server.getRoomMembers('r'), [id], 'its room moved with it');
      assert.deepEqual(nodes[0].server.getRoomMembers('r'), []);
      const [row] = (await nodes[1].server.fetchClients('r')).filter((c) => c.id === id);
      assert.equal(row.metadata.user, `user-of-${id}`, 'metadata came along');

      // Live again from every node, nothing twice.
      nodes[0].server.to('r', 'm', 8);
      await until(() => messages().length === 9, 'live');
      await sleep(100);
      assert.deepEqual(messages(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    });

    test('a quiet client in a busy cluster: messages for others do not block its recovery', async () => {
      const { client, got } = await connectClient(addressOf(nodes[1], mode), { mode, recovery: true, customReconnectDelay: () => 250 });
      clients.push(client);
      const id = client.getId();
      await joinRoom(client, 'quiet');
      for (let i = 0; i < 20; i++) nodes[0].server.to('busy', 'noise', i);
      await sleep(100);
      whenGone(nodes[1], id, () => nodes[2].server.to('quiet', 'm', 'for the quiet one'));
      const reconnected = next(client, 'connect');
      nodes[1].cut(id);
      assert.deepEqual((await reconnected)[0], { recovered: true });
      await until(() => got.length === 1, 'the missed message');
      assert.deepEqual(got, [['m', 'for the quiet one']]);
    });

    test('history reset (the epoch changed, e.g. a wiped Redis): refused, new session, recovery_failed', async () => {
      const { client, got } = await connectClient(addressOf(nodes[0], mode), { mode, recovery: true, customReconnectDelay: () => 250 });
      clients.push(client);
      const id = client.getId();
      await joinRoom(client, 'r2');
      const admin = await redisClient('ioredis');
      whenGone(nodes[0], id, () => void admin.set(`${prefix}epoch`, 'resetepoch').then(() => nodes[1].server.to('r2', 'm', 'lost')));
      const failed = next(client, 'recovery_failed');
      const reconnected = next(client, 'connect');
      nodes[0].cut(id);
      assert.deepEqual((await failed)[0], { reason: 'history_reset' });
      assert.deepEqual((await reconnected)[0], { recovered: false });
      assert.notEqual(client.getId(), id);
      assert.deepEqual(
        got.filter(([e]) => e === 'm'),
        [],
        'never a partial replay',
      );
      await closeRedis(admin);
    });
  });
}

test('too late: the saved session expired, the client gets a new session on another node', async () => {
  const prefix = uniquePrefix('rec-late');
  const nodes = await cluster(prefix, { maxDisconnectionDuration: 300 });
  const { client } = await connectClient(addressOf(nodes[0], 'ws'), { mode: 'ws', recovery: true, customReconnectDelay: () => 900 });
  try {
    const id = client.getId();
    await joinRoom(client, 'r');
    client.setUrl(addressOf(nodes[1], 'ws'));
    whenGone(nodes[0], id, () => nodes[2].server.to('r', 'm', 'missed'));
    const failed = next(client, 'recovery_failed');
    const reconnected = next(client, 'connect');
    nodes[0].cut(id);
    assert.deepEqual((await failed)[0], { reason: 'session_not_found' });
    assert.deepEqual((await reconnected)[0], { recovered: false });
    assert.notEqual(client.getId(), id);
    assert.equal(client.isRecovered(), false);
  } finally {
    client.disconnect();
    for (const n of nodes) await n.stop();
    await deleteKeys(prefix);
  }
});
