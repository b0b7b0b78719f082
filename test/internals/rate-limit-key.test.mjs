// rateLimitKey and the carried bucket (issue 12 item 3b), on RateLimits and the token bucket alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucketRateLimiter } from '../../dist/contracts/rate-limit.js';
import { RateLimits } from '../../dist/server/rate-limiter.js';

const limits = (rateLimitKey, customRateLimiter = null, global = { maxPoints: 3, windowMs: 600_000 }) =>
  new RateLimits({ rateLimitKey, customRateLimiter }, global, new Map(), (err) => {
    throw err;
  });

test('carry: a full bucket carries nothing, a drained one is copied or moved, the emptier one is kept', () => {
  const b = new TokenBucketRateLimiter({ maxPoints: 3, windowMs: 600_000 });
  b.check('full', 0);
  b.carry('full', 'x', true);
  assert.equal(b.size(), 0, 'a full bucket is dropped, not carried');
  b.check('a', 3);
  b.carry('a', 'stash', false);
  assert.equal(b.size(), 2, 'copy keeps the source');
  assert.equal(b.check('stash'), false, 'the copy is as empty as the source');
  b.check('c', 1);
  b.carry('c', 'stash', true);
  assert.equal(b.size(), 2, 'move drops the source');
  assert.equal(b.check('stash'), false, 'the emptier of the two is kept');
});

test("'id': the next client from the same address starts from the bucket the last one left", () => {
  const r = limits('id');
  r.bind('a', '127.0.0.1', 'ws');
  for (let i = 0; i < 3; i++) assert.equal(r.check('a', ''), null);
  assert.equal(r.check('a', ''), 'global');
  r.forget('a', '127.0.0.1');
  r.bind('b', '127.0.0.1', 'ws');
  assert.equal(r.check('b', ''), 'global', 'reconnect does not reset the limit');
  r.bind('c', '127.0.0.2', 'ws');
  assert.equal(r.check('c', ''), null, 'another address is not affected');
  // forget without an address (the old call) still resets.
  r.forget('c');
  r.bind('c2', '127.0.0.2', 'ws');
  assert.equal(r.check('c2', ''), null);
});

test('a function key: clients with the same key share one bucket, which outlives a departure; the custom limiter sees the key', () => {
  const seen = [];
  const custom = { check: (k) => (seen.push(k), true), reset: (k) => seen.push(`reset:${k}`), cleanup() {}, size: () => 0 };
  const r = limits(({ id }) => id.split('-')[0], null);
  r.bind('u1-a', '127.0.0.1', 'tcp');
  r.bind('u1-b', '127.0.0.9', 'ws');
  assert.equal(r.check('u1-a', ''), null);
  assert.equal(r.check('u1-b', ''), null);
  assert.equal(r.check('u1-a', ''), null);
  assert.equal(r.check('u1-b', ''), 'global', 'one bucket for key u1');
  r.forget('u1-a', '127.0.0.1');
  r.bind('u1-c', '127.0.0.1', 'tcp');
  assert.equal(r.check('u1-c', ''), 'global', 'the shared bucket was not reset on leave');
  const withCustom = limits('address', custom);
  withCustom.bind('x', '127.0.0.5', 'ws');
  withCustom.check('x', '');
  withCustom.forget('x', '127.0.0.5');
  assert.deepEqual(seen, ['127.0.0.5'], 'checked by address, not reset on leave');
});
