// ExpiryClock (src/server/auth-expiry.ts) without sockets and without real time: one timer
// over a heap of expiries, driven by Node's mock timers (setTimeout and Date), so every
// deadline is exact. Sessions are plain objects; the actions record what is due and when.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpiryClock } from '../../dist/server/auth-expiry.js';
import { fuzzRng } from '../support/fuzz-rng.mjs';

const T0 = 1_000_000;

function clock(t, leadTime = 1000) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  const log = [];
  const c = new ExpiryClock({
    leadTime,
    ask: (s, msLeft) => log.push({ what: 'ask', s, msLeft, at: Date.now() }),
    expire: (s, asked) => log.push({ what: 'expire', s, asked, at: Date.now() }),
  });
  const tick = (ms) => t.mock.timers.tick(ms);
  return { c, log, tick };
}

test('entries expire at their deadline, in deadline order, whatever the order they were set, moved and removed in', (t) => {
  const { c, log, tick } = clock(t);
  const r = fuzzRng('expiry heap');
  const sessions = [];
  for (let i = 0; i < 500; i++) {
    const s = { name: `s${i}`, canRefresh: false };
    sessions.push(s);
    c.set(s, T0 + 1 + r.int(10_000));
    c.arm(s);
  }
  // Move some, remove some: the heap must stay a heap.
  const removed = new Set();
  for (let i = 0; i < 300; i++) {
    const s = r.pick(sessions);
    if (r.chance(0.4)) {
      c.forget(s);
      removed.add(s);
    } else {
      c.set(s, T0 + 1 + r.int(10_000));
      c.arm(s);
      removed.delete(s);
    }
  }
  const due = new Map(sessions.filter((s) => !removed.has(s)).map((s) => [s, c.expiresAt(s)]));
  for (let ms = 0; ms <= 10_001; ms += 7) tick(7);
  assert.equal(log.length, due.size, 'each live entry fired once; removed ones never');
  for (let i = 0; i < log.length; i++) {
    const { s, what, at, asked } = log[i];
    assert.equal(what, 'expire');
    assert.equal(asked, false, 'a client that cannot refresh is never asked');
    assert.ok(at >= due.get(s) && at < due.get(s) + 7, `${s.name} fired at ${at - due.get(s)} ms from its deadline`);
    if (i > 0) assert.ok(due.get(log[i - 1].s) <= due.get(s), 'in deadline order');
  }
  assert.equal(c.size, 0);
});

test('a client that can refresh is asked once, lead before the expiry (at most half the time left), then expires unless moved', (t) => {
  const { c, log, tick } = clock(t, 100);
  const s = { canRefresh: true };
  c.set(s, T0 + 300);
  c.arm(s);
  tick(199);
  assert.equal(log.length, 0);
  tick(1);
  assert.deepEqual(
    log.map(({ what, at, msLeft }) => [what, at - T0, msLeft]),
    [['ask', 200, 100]],
  );
  assert.equal(c.awaitsAnswer(s), true);
  tick(99);
  assert.equal(log.length, 1);
  tick(1);
  assert.deepEqual([log[1].what, log[1].asked, log[1].at - T0], ['expire', true, 300]);
  assert.equal(c.awaitsAnswer(s), false);

  // Half the time left is the lead when it is shorter than leadTime.
  const u = { canRefresh: true };
  const long = new ExpiryClock({ leadTime: 10_000, ask: (_s, msLeft) => log.push({ what: 'ask2', msLeft, at: Date.now() }), expire: () => {} });
  const start = Date.now();
  long.set(u, start + 200);
  long.arm(u);
  tick(100);
  assert.deepEqual(
    log.slice(2).map(({ what, at, msLeft }) => [what, at - start, msLeft]),
    [['ask2', 100, 100]],
  );
  long.clear();
});

test('a later expiry after the ask is asked about again; an equal or earlier one is not', (t) => {
  const { c, log, tick } = clock(t, 50);
  const s = { canRefresh: true };
  c.set(s, T0 + 120);
  c.arm(s);
  tick(70);
  assert.equal(log.length, 1);
  const token = c.beginRefresh(s);
  assert.ok(token >= 0);
  assert.equal(c.beginRefresh(s), -1, 'one answer at a time');
  assert.equal(c.awaitsAnswer(s), false);
  c.set(s, T0 + 300); // the chain set a later expiry
  c.endRefresh(s, token, true);
  tick(180); // T0 + 250: 50 before the new expiry
  assert.deepEqual(
    log.map((e) => [e.what, e.at - T0]),
    [
      ['ask', 70],
      ['ask', 250],
    ],
  );
  const again = c.beginRefresh(s);
  c.set(s, c.expiresAt(s)); // the same expiry again
  c.endRefresh(s, again, true);
  tick(50);
  assert.deepEqual([log[2].what, log[2].asked, log[2].at - T0], ['expire', true, 300], 'not asked twice about one expiry');
});

test('a refresh accepted without setting an expiry removes it; a refused one changes nothing', (t) => {
  const { c, log, tick } = clock(t, 50);
  const a = { canRefresh: true };
  const b = { canRefresh: true };
  for (const s of [a, b]) {
    c.set(s, T0 + 100);
    c.arm(s);
  }
  tick(50);
  assert.equal(log.length, 2);
  c.endRefresh(a, c.beginRefresh(a), true);
  c.endRefresh(b, c.beginRefresh(b), false);
  assert.equal(c.expiresAt(a), null);
  assert.equal(c.expiresAt(b), T0 + 100);
  tick(1000);
  assert.deepEqual(
    log.slice(2).map((e) => [e.what, e.s === b]),
    [['expire', true]],
  );
});

test('an expiry set before arm waits for it; forget and clear leave nothing behind', (t) => {
  const { c, log, tick } = clock(t);
  const s = { canRefresh: false };
  c.set(s, T0 + 10);
  tick(40);
  assert.equal(log.length, 0, 'not armed: the handshake is still running');
  c.arm(s);
  tick(0);
  assert.equal(log.length, 1, 'armed past its time: due at once');
  const u = { canRefresh: false };
  c.set(u, Date.now() + 20);
  c.arm(u);
  c.forget(u);
  c.set(s, Date.now() + 20);
  c.arm(s);
  c.clear();
  tick(100);
  assert.equal(log.length, 1);
  assert.equal(c.size, 0);
});

test('an ask that comes due while an answer is being checked waits for its verdict', (t) => {
  const { c, log, tick } = clock(t, 1000);
  const s = { canRefresh: true };
  c.set(s, T0 + 60);
  c.arm(s);
  tick(30);
  assert.equal(log.length, 1);
  const token = c.beginRefresh(s);
  // The chain sets a short new expiry (asked 40 ms before it) and is still running when that ask comes due.
  c.set(s, T0 + 110);
  tick(40); // T0 + 70
  assert.equal(log.length, 1, 'not asked while the previous answer is being checked');
  tick(20); // T0 + 90
  c.endRefresh(s, token, true);
  tick(10); // T0 + 100: half the 20 ms left
  assert.deepEqual(
    log.slice(1).map((e) => [e.what, e.at - T0]),
    [['ask', 100]],
  );
  tick(10);
  assert.deepEqual([log[2].what, log[2].asked, log[2].at - T0], ['expire', true, 110]);
});

test('deadlines past the longest setTimeout are reached in steps', (t) => {
  const { c, log, tick } = clock(t);
  const s = { canRefresh: false };
  const far = T0 + 2 ** 31 + 5000;
  c.set(s, far);
  c.arm(s);
  tick(2 ** 31 - 1);
  assert.equal(log.length, 0);
  tick(far - Date.now());
  assert.equal(log.length, 1);
  assert.equal(log[0].at, far);
});
