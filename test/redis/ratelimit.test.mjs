// RedisRateLimiter: one bucket per id in Redis, shared by every node and by both clients,
// atomic under concurrency (Lua), and used by StelarServer as its customRateLimiter.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeRedis, connectClient, deleteKeys, redisClient, RedisRateLimiter, startNode, uniquePrefix, until } from './helpers.mjs';

const prefix = uniquePrefix('rl');
const opened = [];
after(async () => {
  for (const c of opened) await closeRedis(c);
  await deleteKeys(prefix);
});

async function limiters(options) {
  const out = [];
  for (const kind of ['node-redis', 'ioredis', 'node-redis']) {
    const c = await redisClient(kind);
    opened.push(c);
    out.push(new RedisRateLimiter(c, { keyPrefix: `${prefix}rl:`, ...options }));
  }
  return out;
}

test('three limiters (node-redis and ioredis) share one bucket per id: exactly maxPoints pass, even all at once', async () => {
  const [a, b, c] = await limiters({ maxPoints: 20, windowMs: 60_000 });
  const checks = [];
  for (let i = 0; i < 60; i++) checks.push([a, b, c][i % 3].check('user-1'));
  const results = await Promise.all(checks);
  assert.equal(results.filter(Boolean).length, 20);
  // Another id has its own bucket.
  assert.equal(await b.check('user-2'), true);
  // reset() (what the server calls at a disconnect) keeps the shared bucket; clear() empties it.
  c.reset('user-1');
  assert.equal(await a.check('user-1'), false);
  await c.clear('user-1');
  assert.equal(await a.check('user-1'), true);
});

test('the bucket refills over the window, on Redis time', async () => {
  const [a, b] = await limiters({ maxPoints: 2, windowMs: 300 });
  assert.deepEqual([await a.check('r'), await b.check('r'), await a.check('r')], [true, true, false]);
  await until(async () => b.check('r'), 'a refilled token', 3000);
  assert.equal(a.size() + b.size() >= 1, true, 'size counts ids this node checked recently');
});

test('a cost above capacity is refused, a cost that fits passes', async () => {
  const [a] = await limiters({ maxPoints: 3, windowMs: 60_000 });
  assert.equal(await a.check('big', 4), false);
  assert.equal(await a.check('big', 3), true);
  assert.equal(await a.check('big', 1), false);
});

test('as customRateLimiter: the limit holds across nodes for the same client id', async () => {
  const limitOptions = { keyPrefix: `${prefix}srv:`, maxPoints: 5, windowMs: 60_000 };
  const mk = async (kind) => {
    const c = await redisClient(kind);
    opened.push(c);
    return startNode({
      prefix,
      kind,
      server: {
        customRateLimiter: new RedisRateLimiter(c, limitOptions),
        generateClientId: () => 'same-user',
        // Refuse the message but keep the client connected, so every refusal is seen.
        hooks: { onRateLimitExceeded: () => false },
      },
    });
  };
  const nodes = [await mk('node-redis'), await mk('ioredis')];
  const handled = [];
  for (const n of nodes) n.server.on('msg', (ctx) => handled.push(ctx.data));
  try {
    const send = async (node, from, count) => {
      const c = await connectClient(`127.0.0.1:${node.port}`, { mode: 'ws' });
      const errors = [];
      c.client.on('error', (e) => errors.push(e.code));
      try {
        for (let i = 0; i < count; i++) c.client.emit('msg', from + i);
        const mine = () => handled.filter((v) => v >= from && v < from + count).length;
        await until(() => errors.length + mine() === count, 'every message handled or refused');
      } finally {
        c.client.disconnect();
      }
      return errors;
    };
    const first = await send(nodes[0], 0, 3);
    assert.deepEqual(first, []);
    const second = await send(nodes[1], 100, 4);
    assert.deepEqual(second, ['STELAR_ERR_RATE_LIMITED', 'STELAR_ERR_RATE_LIMITED'], 'node two knows what node one counted');
    assert.deepEqual(handled, [0, 1, 2, 100, 101]);
  } finally {
    for (const n of nodes) await n.stop();
  }
});
