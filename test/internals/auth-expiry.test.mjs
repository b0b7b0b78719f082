// ExpiryClock (src/server/auth-expiry.ts) without sockets: one timer over a heap of expiries.
// Sessions are plain objects; the actions record what is due and when.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpiryClock } from '../../dist/server/auth-expiry.js';
import { fuzzRng } from '../support/fuzz-rng.mjs';

function clock(leadTime = 1000) {
  const log = [];
  const c = new ExpiryClock({
    leadTime,
    ask: (s, msLeft) => log.push({ what: 'ask', s, msLeft, at: Date.now() }),
    expire: (s, asked) => log.push({ what: 'expire', s, asked, at: Date.now() }),
  });
  return { c, log };
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(fn, ms = 3000) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out');
    await delay(5);
  }
}

test('entries expire in deadline order, never early, whatever the order they were set and removed in', async () => {
  const { c, log } = clock();
  const r = fuzzRng('expiry heap');
  const random = () => r.next() / 0x100000000;
  const now = Date.now();
  const sessions = [];
  for (let i = 0; i < 300; i++) {
    const s = { name: `s${i}`, canRefresh: false };
    sessions.push(s);
    c.set(s, now + 20 + Math.floor(random() * 200));
    c.arm(s);
  }
  // Move some, remove some: the heap must stay a heap.
  const removed = new Set();
  for (let i = 0; i < 100; i++) {
    const s = sessions[Math.floor(random() * sessions.length)];
    if (random() < 0.5) {
      c.forget(s);
      removed.add(s);
    } else {
      c.set(s, now + 20 + Math.floor(random() * 200));
      c.arm(s);
      removed.delete(s);
    }
  }
  const expected = sessions.filter((s) => !removed.has(s));
  const due = new Map(expected.map((s) => [s, c.expiresAt(s)]));
  await until(() => log.length === expected.length);
  await delay(30);
  assert.equal(log.length, expected.length, 'removed entries never fire');
  for (let i = 0; i < log.length; i++) {
    const { s, what, at, asked } = log[i];
    assert.equal(what, 'expire');
    assert.equal(asked, false);
    assert.ok(at >= due.get(s), `${s.name} fired ${due.get(s) - at} ms early`);
    if (i > 0) assert.ok(due.get(log[i - 1].s) <= due.get(s), 'in deadline order');
  }
  assert.equal(c.size, 0);
});

test('a client that can refresh is asked once, lead before the expiry (at most half the time left), then expires unless moved', async () => {
  const { c, log } = clock(100);
  const s = { canRefresh: true };
  const t0 = Date.now();
  c.set(s, t0 + 300);
  c.arm(s);
  await until(() => log.length === 1);
  assert.equal(log[0].what, 'ask');
  assert.ok(log[0].at >= t0 + 200 && log[0].at < t0 + 290, `asked at +${log[0].at - t0} ms`);
  assert.ok(log[0].msLeft > 0 && log[0].msLeft <= 100);
  assert.equal(c.awaitsAnswer(s), true);
  await until(() => log.length === 2);
  assert.deepEqual([log[1].what, log[1].asked], ['expire', true]);
  assert.ok(log[1].at >= t0 + 300);

  // Half the time left is the lead when it is shorter than leadTime.
  const short = clock(10_000);
  const t1 = Date.now();
  short.c.set(s, t1 + 200);
  short.c.arm(s);
  await until(() => short.log.length === 1);
  assert.ok(short.log[0].at >= t1 + 100 && short.log[0].at < t1 + 190, `asked at +${short.log[0].at - t1} ms`);
  short.c.clear();
});

test('a later expiry after the ask is asked about again; an equal or earlier one is not', async () => {
  const { c, log } = clock(50);
  const s = { canRefresh: true };
  c.set(s, Date.now() + 120);
  c.arm(s);
  await until(() => log.length === 1);
  const token = c.beginRefresh(s);
  assert.ok(token >= 0);
  assert.equal(c.beginRefresh(s), -1, 'one answer at a time');
  assert.equal(c.awaitsAnswer(s), false);
  c.set(s, Date.now() + 150); // the chain set a later expiry
  c.endRefresh(s, token, true);
  await until(() => log.length === 2);
  assert.equal(log[1].what, 'ask', 'asked again for the new expiry');
  const again = c.beginRefresh(s);
  c.set(s, c.expiresAt(s)); // the same expiry again
  c.endRefresh(s, again, true);
  await until(() => log.length === 3);
  assert.deepEqual([log[2].what, log[2].asked], ['expire', true], 'not asked twice about one expiry');
});

test('a refresh accepted without setting an expiry removes it; a refused one changes nothing', async () => {
  const { c, log } = clock(50);
  const a = { canRefresh: true };
  const b = { canRefresh: true };
  for (const s of [a, b]) {
    c.set(s, Date.now() + 100);
    c.arm(s);
  }
  await until(() => log.length === 2);
  c.endRefresh(a, c.beginRefresh(a), true);
  c.endRefresh(b, c.beginRefresh(b), false);
  assert.equal(c.expiresAt(a), null);
  assert.notEqual(c.expiresAt(b), null);
  await until(() => log.length === 3);
  assert.equal(log[2].s, b);
  await delay(80);
  assert.equal(log.length, 3);
});

test('an expiry set before arm waits for it; forget and clear leave no timer behind', async () => {
  const { c, log } = clock();
  const s = { canRefresh: false };
  c.set(s, Date.now() + 10);
  await delay(40);
  assert.equal(log.length, 0, 'not armed: the handshake is still running');
  c.arm(s);
  await until(() => log.length === 1);
  const t = { canRefresh: false };
  c.set(t, Date.now() + 20);
  c.arm(t);
  c.forget(t);
  c.set(s, Date.now() + 20);
  c.arm(s);
  c.clear();
  await delay(60);
  assert.equal(log.length, 1);
  assert.equal(c.size, 0);
});

test('an ask that comes due while an answer is being checked waits for its verdict', async () => {
  const { c, log } = clock(1000);
  const s = { canRefresh: true };
  c.set(s, Date.now() + 60);
  c.arm(s);
  await until(() => log.length === 1);
  const token = c.beginRefresh(s);
  // The chain sets a short new expiry and is still running when its ask comes due.
  c.set(s, Date.now() + 80);
  await delay(60);
  assert.equal(log.length, 1, 'not asked while the previous answer is checked');
  c.endRefresh(s, token, true);
  await until(() => log.length === 2);
  assert.equal(log[1].what, 'ask', 'asked once the verdict is in');
  await until(() => log.length === 3);
  assert.deepEqual([log[2].what, log[2].asked], ['expire', true]);
});
