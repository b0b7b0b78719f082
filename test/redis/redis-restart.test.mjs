// Redis goes away mid-test and comes back (a throwaway redis-server of our own, never the
// shared one): each node keeps serving its local clients, logs the outage once, publishes
// nothing into a queue, and cluster delivery resumes when Redis is back. The rate limiter
// falls back to a local bucket meanwhile, and reloads its script (NOSCRIPT) afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressOf,
  closeRedis,
  connectClient,
  deleteKeys,
  freePort,
  joinRoom,
  next,
  redisClient,
  RedisRateLimiter,
  sleep,
  startNode,
  startRedisServer,
  uniquePrefix,
  until,
} from './helpers.mjs';

function captureLogger() {
  const lines = { warn: [], info: [], error: [] };
  return {
    lines,
    debug() {},
    info: (...a) => lines.info.push(a.join(' ')),
    warn: (...a) => lines.warn.push(a.join(' ')),
    error: (...a) => lines.error.push(a.join(' ')),
  };
}

test('Redis restarted: local clients still served, one log line each way, cluster delivery resumes', async () => {
  const port = await freePort();
  let redis = await startRedisServer(port);
  const prefix = uniquePrefix('restart');
  const logs = [captureLogger(), captureLogger()];
  const nodes = [
    await startNode({ prefix, kind: 'node-redis', redisPort: port, server: { logger: logs[0] } }),
    await startNode({ prefix, kind: 'ioredis', redisPort: port, server: { logger: logs[1] } }),
  ];
  const limiterClient = await redisClient('ioredis', port);
  const limiter = new RedisRateLimiter(limiterClient, { keyPrefix: `${prefix}rl:`, maxPoints: 3, windowMs: 60_000, logger: captureLogger() });
  const clients = [];
  try {
    await until(() => nodes.every((n) => n.adapter.getNodes().length === 2), 'two nodes');
    for (const [i, mode] of [
      [0, 'ws'],
      [1, 'tcp'],
    ]) {
      const c = await connectClient(addressOf(nodes[i], mode), { mode });
      await joinRoom(c.client, 'room');
      clients.push(c);
    }
    const [a, b] = clients;
    nodes[0].server.to('room', 'm', 'before');
    await until(() => b.got.length === 1, 'cross-node delivery');
    assert.equal(await limiter.check('u'), true);

    // Redis dies.
    await redis.kill();
    await until(() => nodes.every((n) => !n.adapter.getStats().redisReady), 'both nodes see Redis gone');
    const dropped = nodes[0].adapter.getStats().dropped;
    for (let i = 0; i < 5; i++) nodes[0].server.to('room', 'm', `during-${i}`);
    await until(() => a.got.length === 6, 'local delivery while Redis is down');
    assert.equal(nodes[0].adapter.getStats().dropped, dropped + 5, 'dropped, not queued');
    // The limiter answers at once from its local bucket (3 per window, one used in Redis).
    const local = [limiter.check('u'), limiter.check('u'), limiter.check('u'), limiter.check('u')];
    assert.deepEqual(local, [true, true, true, false]);
    // Queries answer with what this node knows.
    assert.deepEqual(await nodes[0].server.fetchRoomMembers('room'), [a.client.getId()]);
    await sleep(600); // several reconnect attempts by both clients
    for (const log of logs) {
      assert.equal(log.lines.warn.filter((l) => l.includes('Redis unavailable')).length, 1, 'logged once');
      assert.deepEqual(log.lines.error, []);
    }
    assert.equal(b.got.length, 1, 'nothing crossed meanwhile');

    // Redis is back (empty: no persistence).
    redis = await startRedisServer(port);
    await until(() => nodes.every((n) => n.adapter.getStats().redisReady && n.adapter.getNodes().length === 2), 'reconnected and rejoined', 10_000);
    for (const log of logs) assert.equal(log.lines.info.filter((l) => l.includes('reachable again')).length, 1);
    await until(async () => {
      nodes[1].server.to('room', 'm', 'after');
      await sleep(50);
      return a.got.some(([, d]) => d === 'after');
    }, 'cross-node delivery resumed');
    await until(() => b.got.some(([, d]) => d === 'after'), 'local delivery on the other node too');
    nodes[0].server.to('room', 'm', 'after-2');
    await until(() => b.got.some(([, d]) => d === 'after-2'), 'and the other way');
    // The new Redis has no scripts: EVALSHA fails with NOSCRIPT, EVAL takes over.
    await until(async () => (await limiter.check('fresh')) === true, 'limiter on Redis again');
    assert.equal(await countBucket(port, `${prefix}rl:fresh`), 1, 'the bucket lives in Redis again');
  } finally {
    for (const c of clients) c.client.disconnect();
    for (const n of nodes) await n.stop();
    await closeRedis(limiterClient);
    await redis.kill();
  }
});

async function countBucket(port, key) {
  const c = await redisClient('node-redis', port);
  try {
    return Number(await c.sendCommand(['EXISTS', key]));
  } finally {
    await closeRedis(c);
  }
}

test('recovery: a node that delivered what it could not record renews the epoch, so nobody gets a partial replay', async () => {
  const prefix = uniquePrefix('gap');
  const recovery = { maxDisconnectionDuration: 10_000 };
  const a = await startNode({ prefix, kind: 'ioredis', server: { recovery, logger: captureLogger() } });
  const b = await startNode({ prefix, kind: 'node-redis', server: { recovery } });
  const clients = [];
  try {
    await until(() => a.adapter.getNodes().length === 2 && b.adapter.getNodes().length === 2, 'two nodes');
    // X is on node b and will be away while node a briefly loses Redis.
    const x = await connectClient(addressOf(b, 'ws'), { mode: 'ws', recovery: true, customReconnectDelay: () => 1500 });
    const onA = await connectClient(addressOf(a, 'ws'), { mode: 'ws' });
    clients.push(x, onA);
    await joinRoom(x.client, 'room');
    await joinRoom(onA.client, 'room');
    const epochBefore = await a.redis.get(`${prefix}epoch`);
    assert.ok(epochBefore);
    const failed = next(x.client, 'recovery_failed', 10_000);
    let gone = false;
    b.server.onDisconnect(() => (gone = true));
    b.cut(x.client.getId());
    await until(() => gone, 'x saved by node b');
    // Node a's connection drops; what it sends meanwhile reaches its own clients, unrecorded.
    a.redis.disconnect(true);
    await until(() => a.redis.status !== 'ready', 'node a offline');
    a.server.to('room', 'm', 'unrecorded');
    await until(() => onA.got.some(([, d]) => d === 'unrecorded'), 'local delivery');
    await until(async () => a.adapter.getStats().redisReady && (await b.redis.get(`${prefix}epoch`)) !== epochBefore, 'epoch renewed after the gap');
    const [info] = await failed;
    assert.deepEqual(info, { reason: 'history_reset' });
    assert.ok(!x.got.some(([, d]) => d === 'unrecorded'));
  } finally {
    for (const c of clients) c.client.disconnect();
    await a.stop();
    await b.stop();
    await deleteKeys(prefix);
  }
});
