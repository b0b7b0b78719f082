// A history that lost entries a node already delivered (on Redis Cluster: a failover to a
// replica that had not received them yet) must not be resumed from: the node renews the
// epoch when it reloads the history position, and says so once. Simulated on the single
// Redis by deleting the stream while the epoch stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOf, closeRedis, connectClient, deleteKeys, joinRoom, redisClient, startNode, uniquePrefix, until } from './helpers.mjs';

test('the stream lost what this node delivered: a new epoch, one warning, old offsets refused', async () => {
  const prefix = uniquePrefix('lost');
  const lines = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (...a) => lines.push(a.join(' ')) };
  const node = await startNode({ prefix, kind: 'ioredis', server: { recovery: { maxDisconnectionDuration: 10_000 }, logger } });
  const redis = await redisClient('node-redis');
  try {
    const { client, got } = await connectClient(addressOf(node, 'ws'), { mode: 'ws', recovery: true, customReconnectDelay: () => 100 });
    await joinRoom(client, 'r');
    node.server.to('r', 'm', 1);
    await until(() => got.some(([e]) => e === 'm'), 'the recorded message');
    const before = await redis.sendCommand(['GET', `${prefix}epoch`]);
    const store = node.adapter.recoveryStore({ maxDisconnectionDuration: 10_000, maxMessages: 1000 }); // the adapter's one store
    assert.ok(store.head().startsWith(`${before}:`));

    await redis.sendCommand(['DEL', `${prefix}history`]);
    store.onLinkUp(); // what the link does after an outage or a failover
    await until(async () => (await redis.sendCommand(['GET', `${prefix}epoch`])) !== before, 'a new epoch');
    const after = await redis.sendCommand(['GET', `${prefix}epoch`]);
    await until(() => store.head()?.startsWith(`${after}:`), 'the node on the new epoch');
    assert.equal(lines.filter((l) => l.includes('history lost')).length, 1, lines.join('\n'));

    // The client's offset belongs to the old epoch: its next recovery is refused, not partial.
    const failed = new Promise((resolve) => client.once('recovery_failed', resolve));
    node.cut(client.getId());
    assert.deepEqual(await failed, { reason: 'history_reset' });
    client.disconnect();
  } finally {
    await node.stop();
    await closeRedis(redis);
    await deleteKeys(prefix);
  }
});
