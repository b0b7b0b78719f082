import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, PacketType, TokenBucketRateLimiter } from '../../dist/index.js';
import { closeAll, connect, startServer } from './helpers.mjs';

/** Sends `n` events then a marker; resolves with how many of the events the server handled. */
async function burst(server, client, event, n) {
  let handled = 0;
  const count = () => handled++;
  server.on(event, count);
  for (let i = 0; i < n; i++) client.emit(event, i);
  return () => handled;
}

test('token bucket: capacity, refill over the window, reset, cleanup, size', async () => {
  const b = new TokenBucketRateLimiter({ maxPoints: 3, windowMs: 60 });
  assert.deepEqual([b.check('x'), b.check('x'), b.check('x'), b.check('x')], [true, true, true, false]);
  assert.equal(b.check('y'), true);
  assert.equal(b.size(), 2);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(b.check('x'), true);
  b.reset('x');
  assert.equal(b.size(), 1);
  await new Promise((r) => setTimeout(r, 80));
  b.cleanup(); // y has refilled completely: forgotten
  assert.equal(b.size(), 0);
});

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: past the global limit the client gets Error RATE_LIMITED and close 4008; the hook sees it`, async () => {
    const hits = [];
    const server = await startServer({ rateLimit: { maxPoints: 5, windowMs: 60_000 }, hooks: { onRateLimitExceeded: (i) => hits.push(i) } });
    const c = await connect(server, protocol);
    const handled = await burst(server, c, 'spam', 10);
    const err = await c.next(PacketType.ERROR);
    assert.equal(err.event, ErrorCode.RATE_LIMITED);
    assert.equal((await c.closed).code, 4008);
    assert.equal(handled(), 5);
    assert.deepEqual(hits[0], { clientId: c.id, event: 'spam', protocol, ip: '127.0.0.1', scope: 'global' });
    await server.stop();
  });
}

test('onRateLimitExceeded returning false keeps the client connected (messages over the limit are still dropped)', async () => {
  let hits = 0;
  const server = await startServer({
    rateLimit: { maxPoints: 3, windowMs: 60_000 },
    hooks: {
      onRateLimitExceeded: () => {
        hits++;
        return false;
      },
    },
  });
  const c = await connect(server, 'tcp');
  const handled = await burst(server, c, 'spam', 6);
  for (let i = 0; i < 3; i++) assert.equal((await c.next(PacketType.ERROR)).event, ErrorCode.RATE_LIMITED);
  c.ping();
  await c.next(PacketType.PONG);
  assert.equal(c.closeInfo, null);
  assert.equal(handled(), 3);
  assert.equal(hits, 3);
  // A rate-limited ACK request settles with an error response.
  const r = await c.request('whatever', 1);
  assert.equal(r.ok, false);
  assert.equal(r.data.code, ErrorCode.RATE_LIMITED);
  await closeAll(c);
  await server.stop();
});

test('priority: per-client override > per-event > global', async () => {
  const scopes = [];
  const server = await startServer({
    rateLimit: { maxPoints: 2, windowMs: 60_000 },
    eventRateLimits: { chat: { maxPoints: 4, windowMs: 60_000 } },
    hooks: {
      onRateLimitExceeded: (i) => {
        scopes.push(i.scope);
        return false;
      },
    },
  });
  const c = await connect(server, 'ws');
  // chat: the event limit (4) applies, not the global (2).
  let handled = await burst(server, c, 'chat', 6);
  await c.next(PacketType.ERROR);
  await c.next(PacketType.ERROR);
  assert.equal(handled(), 4);
  assert.deepEqual(scopes, ['event', 'event']);
  // other events: the global limit.
  handled = await burst(server, c, 'other', 3);
  await c.next(PacketType.ERROR);
  assert.equal(handled(), 2);
  assert.equal(scopes.at(-1), 'global');
  // A per-client override beats both.
  server.setClientRateLimit(c.id, { maxPoints: 10, windowMs: 60_000 });
  handled = await burst(server, c, 'chat2', 12);
  await c.next(PacketType.ERROR);
  await c.next(PacketType.ERROR);
  assert.equal(handled(), 10);
  assert.equal(scopes.at(-1), 'client');
  // Removing the override reverts to the event/global limits (buckets already spent).
  assert.equal(server.removeClientRateLimit(c.id), true);
  handled = await burst(server, c, 'again', 1);
  await c.next(PacketType.ERROR);
  assert.equal(scopes.at(-1), 'global');
  await closeAll(c);
  await server.stop();
});

test('customRateLimiter (async) replaces the global bucket; per-event limits still come first', async () => {
  const calls = [];
  const custom = {
    seen: new Map(),
    async check(id, cost = 1) {
      calls.push([id, cost]);
      await new Promise((r) => setTimeout(r, 2));
      const n = (this.seen.get(id) || 0) + 1;
      this.seen.set(id, n);
      return n <= 3;
    },
    async reset(id) {
      this.seen.delete(id);
    },
    async cleanup() {},
    async size() {
      return 0;
    },
  };
  const scopes = [];
  const server = await startServer({
    rateLimit: { maxPoints: 1000, windowMs: 1000 },
    customRateLimiter: custom,
    eventRateLimits: { limited: { maxPoints: 1, windowMs: 60_000 } },
    hooks: { onRateLimitExceeded: (i) => (scopes.push(i.scope), false) },
  });
  const c = await connect(server, 'tcp');
  const order = [];
  server.on('m', (ctx) => order.push(ctx.data));
  for (let i = 0; i < 5; i++) c.emit('m', i);
  await c.next(PacketType.ERROR);
  await c.next(PacketType.ERROR);
  assert.deepEqual(order, [0, 1, 2], 'async checks keep message order');
  assert.deepEqual(scopes, ['custom', 'custom']);
  assert.equal(calls.length, 5);
  assert.deepEqual(calls[0], [c.id, 1]);
  // The event limit is checked instead of the custom limiter.
  c.emit('limited', 1);
  c.emit('limited', 2);
  await c.next(PacketType.ERROR);
  assert.equal(scopes.at(-1), 'event');
  assert.equal(calls.length, 5);
  assert.equal(server.getConfig().hasCustomRateLimiter, true);
  await closeAll(c);
  await server.stop();
});

test('setEventRateLimit / removeEventRateLimit at runtime; getConfig lists event limits', async () => {
  const server = await startServer({ rateLimit: false, hooks: { onRateLimitExceeded: () => false } });
  server.setEventRateLimit('voice', { maxPoints: 1, windowMs: 60_000 });
  assert.deepEqual(server.getConfig().eventRateLimits, ['voice']);
  const c = await connect(server, 'ws');
  const handled = await burst(server, c, 'voice', 3);
  await c.next(PacketType.ERROR);
  await c.next(PacketType.ERROR);
  assert.equal(handled(), 1);
  assert.equal(server.removeEventRateLimit('voice'), true);
  assert.deepEqual(server.getConfig().eventRateLimits, []);
  server.on('sync', (ctx) => ctx.emit('sync'));
  for (let i = 0; i < 20; i++) c.emit('voice', i);
  c.emit('sync');
  await c.event('sync');
  assert.equal(
    c.has((p) => p.type === PacketType.ERROR),
    false,
  );
  assert.throws(() => server.setEventRateLimit('x', { maxPoints: 0, windowMs: 1 }), RangeError);
  await closeAll(c);
  await server.stop();
});

test('updateConfig({ rateLimit }) takes effect on a running server; rateLimiterEntries counts buckets', async () => {
  const server = await startServer({ rateLimit: { maxPoints: 100, windowMs: 60_000 }, hooks: { onRateLimitExceeded: () => false } });
  const c = await connect(server, 'tcp');
  server.on('sync', (ctx) => ctx.emit('sync'));
  c.emit('sync');
  await c.event('sync');
  assert.equal(server.getStats().rateLimiterEntries, 1);
  server.updateConfig({ rateLimit: { maxPoints: 3, windowMs: 60_000 } });
  assert.deepEqual(server.getConfig().rateLimit, { maxPoints: 3, windowMs: 60_000 });
  // The existing bucket (99 tokens left) is capped at the new capacity: 3 of 5 pass.
  const handled = await burst(server, c, 'x', 5);
  await c.next(PacketType.ERROR);
  await c.next(PacketType.ERROR);
  assert.equal(handled(), 3);
  await c.close();
  await server.stop();
});
