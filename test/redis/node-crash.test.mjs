// Regressions for two defects of issue 18, with real node processes killed by signals:
// - right after a node dies, cluster queries on a survivor waited the whole requestTimeout
//   every time, until the dead node left the membership; now they answer from the nodes that
//   are alive, at once, and say which node is missing;
// - a cluster whose last nodes stopped soon after a crash left `<prefix>nodes` (no expiry)
//   behind, holding the dead node; now every key the cluster writes expires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  addressOf,
  connectClient,
  countKeys,
  deleteKeys,
  joinRoom,
  reap,
  redisClient,
  closeRedis,
  RedisRateLimiter,
  spawnNode,
  startNode,
  uniquePrefix,
  until,
} from './helpers.mjs';

// Slow membership on purpose: the answers below must not wait for it.
const SLOW = { heartbeatInterval: 500, heartbeatTimeout: 6000, requestTimeout: 5000 };

async function threeNodes(prefix, adapter) {
  const local = await startNode({ prefix, kind: 'ioredis', adapter });
  const survivor = await spawnNode({ prefix, kind: 'node-redis', adapter });
  const victim = await spawnNode({ prefix, kind: 'ioredis', adapter });
  await until(() => local.adapter.getNodes().length === 3, 'three nodes');
  return { local, survivor, victim };
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

test('right after a SIGKILL, every cluster query answers at once from the living, marked incomplete', async (t) => {
  const prefix = uniquePrefix('crash');
  const { local, survivor, victim } = await threeNodes(prefix, SLOW);
  const clients = [];
  try {
    for (const [node, mode] of [
      [local, 'ws'],
      [survivor, 'tcp'],
      [victim, 'ws'],
    ]) {
      const c = await connectClient(addressOf(node, mode), { mode, reconnection: false });
      clients.push(c);
      await joinRoom(c.client, 'room');
    }
    const before = await local.server.fetchRoomMembers('room');
    assert.equal(before.length, 3);
    assert.equal(before.incomplete, false, 'a complete answer says so');
    assert.deepEqual(before.missingNodes, []);

    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');

    const members = await timed(() => local.server.fetchRoomMembers('room'));
    t.diagnostic(`fetchRoomMembers right after the SIGKILL: ${members.ms.toFixed(1)} ms`);
    assert.ok(members.ms < 1000, `answered in ${members.ms.toFixed(0)} ms, not after requestTimeout (${SLOW.requestTimeout} ms)`);
    assert.deepEqual([...members.value].sort(), [clients[0].client.getId(), clients[1].client.getId()].sort());
    assert.equal(members.value.incomplete, true);
    assert.deepEqual(members.value.missingNodes, [victim.nodeId]);
    assert.deepEqual(Object.keys(members.value), ['0', '1'], 'still a plain array: the marks are not enumerable');

    for (const [name, query] of [
      ['fetchRooms', () => local.server.fetchRooms()],
      ['fetchClients', () => local.server.fetchClients('room')],
      ['getClusterStats', () => local.server.getClusterStats()],
    ]) {
      const { value, ms } = await timed(query);
      assert.ok(ms < 1000, `${name} answered in ${ms.toFixed(0)} ms`);
      assert.equal(value.incomplete, true, name);
      assert.deepEqual(value.missingNodes, [victim.nodeId], name);
    }
    const stats = await local.server.getClusterStats();
    assert.equal(stats.nodes.length, 2);
    assert.equal(stats.activeConnections, 2);

    // Once it has left the membership, the answers are complete again.
    await until(() => !local.adapter.getNodes().includes(victim.nodeId), 'the victim leaves the membership', SLOW.heartbeatTimeout * 3);
    const after = await local.server.fetchRoomMembers('room');
    assert.equal(after.length, 2);
    assert.equal(after.incomplete, false);
  } finally {
    for (const c of clients) c.client.disconnect();
    await local.stop();
    await reap(survivor);
    await reap(victim);
    await deleteKeys(prefix);
  }
});

test('a hung node (SIGSTOP) is waited for only until it misses its beats, not the whole requestTimeout', async (t) => {
  const prefix = uniquePrefix('hung');
  const adapter = { heartbeatInterval: 300, heartbeatTimeout: 6000, requestTimeout: 5000 };
  const { local, survivor, victim } = await threeNodes(prefix, adapter);
  try {
    victim.child.kill('SIGSTOP');
    // Its connections stay open, so Redis still hands it the request: only its silence tells.
    const { value, ms } = await timed(() => local.server.fetchRoomMembers('room'));
    t.diagnostic(`fetchRoomMembers with a hung node: ${ms.toFixed(0)} ms`);
    assert.ok(ms < 2500, `answered in ${ms.toFixed(0)} ms (two missed beats are 600 ms; requestTimeout is 5000)`);
    assert.equal(value.incomplete, true);
    assert.deepEqual(value.missingNodes, [victim.nodeId]);
    // A suspect is not even asked: the next query answers at once.
    const again = await timed(() => local.server.fetchRooms());
    assert.ok(again.ms < 1500, `second query in ${again.ms.toFixed(0)} ms (requestTimeout is 5000)`);
    assert.deepEqual(again.value.missingNodes, [victim.nodeId]);
  } finally {
    victim.child.kill('SIGCONT');
    await local.stop();
    await reap(survivor);
    await reap(victim);
    await deleteKeys(prefix);
  }
});

/** Every key under `prefix` with its PTTL (-1 = no expiry). */
async function ttls(prefix) {
  const c = await redisClient('node-redis');
  try {
    const out = {};
    let cursor = '0';
    do {
      const [next, keys] = await c.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '500']);
      cursor = String(next);
      for (const k of keys) out[k.slice(prefix.length)] = Number(await c.sendCommand(['PTTL', k]));
    } while (cursor !== '0');
    return out;
  } finally {
    await closeRedis(c);
  }
}

test('a crash, then the last node stops: every key the cluster wrote has an expiry, and they all go', async () => {
  const prefix = uniquePrefix('expire');
  const adapter = { heartbeatInterval: 300, heartbeatTimeout: 1200 };
  const recovery = { maxDisconnectionDuration: 1500, maxMessages: 100 };
  const local = await startNode({ prefix, kind: 'node-redis', adapter, server: { recovery } });
  const victim = await spawnNode({ prefix, kind: 'ioredis', adapter, server: { recovery } });
  const redis = await redisClient('ioredis');
  const limiter = new RedisRateLimiter(redis, { maxPoints: 5, windowMs: 60_000, keyPrefix: `${prefix}rl:`, logger: { info() {}, warn() {}, error() {} } });
  let stopped = false;
  try {
    await until(() => local.adapter.getNodes().length === 2, 'two nodes');
    const { client } = await connectClient(addressOf(local, 'ws'), { mode: 'ws', recovery: true, reconnection: false });
    await joinRoom(client, 'room');
    local.server.to('room', 'news', 1);
    await until(async () => Object.keys(await ttls(prefix)).includes('history'), 'the history stream');
    await limiter.check('user');
    client.disconnect(); // a deliberate close ends its session; the cut below leaves one saved
    const { client: second } = await connectClient(addressOf(local, 'ws'), { mode: 'ws', recovery: true, reconnection: false });
    local.cut(second.getId());
    await until(async () => Object.keys(await ttls(prefix)).some((k) => k.startsWith('session:')), 'a saved session');

    const live = await ttls(prefix);
    for (const k of ['nodes', 'history', 'epoch', 'rl:user']) assert.ok(k in live, `${k} exists: ${JSON.stringify(live)}`);
    for (const [k, ms] of Object.entries(live)) assert.ok(ms > 0, `${k} has an expiry while the cluster runs (PTTL ${ms})`);

    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');
    await local.stop();
    stopped = true;
    await closeRedis(redis);

    const left = await ttls(prefix);
    assert.ok('nodes' in left, 'the dead node is still listed');
    for (const [k, ms] of Object.entries(left)) assert.ok(ms > 0, `${k} has an expiry after the crash (PTTL ${ms})`);
    // Nothing outlives the cluster by more than its longest expiry (history: maxDisconnectionDuration + heartbeatTimeout).
    const nodesTtl = left.nodes;
    assert.ok(nodesTtl <= adapter.heartbeatTimeout, `nodes expires within heartbeatTimeout (PTTL ${nodesTtl})`);
    await until(async () => (await countKeys(`${prefix}`)) <= Object.keys(left).length - 1, 'the membership set expires', adapter.heartbeatTimeout * 3);
    // rl:user lives for its window (60 s): delete it, and wait for the recovery keys.
    await deleteKeys(`${prefix}rl:`);
    await until(async () => (await countKeys(prefix)) === 0, 'every key expired', (recovery.maxDisconnectionDuration + adapter.heartbeatTimeout) * 3);
  } finally {
    if (!stopped) await local.stop();
    await reap(victim);
    await closeRedis(redis).catch(() => {});
    await deleteKeys(prefix);
  }
});
