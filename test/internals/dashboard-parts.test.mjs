// The dashboard's parts without sockets (src/server/dashboard/): option resolution, the access
// rules, the ACK latency window, the sampler's rates, the searched and paged lists (with a
// white-box registry of 10,000 clients and 5,000 rooms), and the cluster poller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DashboardAccess, isLoopbackHostHeader, requestToken } from '../../dist/server/dashboard/access.js';
import { AckLatencyWindow, RESERVOIR } from '../../dist/server/dashboard/ack-latency.js';
import { ClusterPoller, CLUSTER_EVERY_MS, MAX_NODES } from '../../dist/server/dashboard/cluster.js';
import { isLoopbackAddress, isLoopbackHost, resolveDashboard } from '../../dist/server/dashboard/config.js';
import { DashboardSampler, HISTORY } from '../../dist/server/dashboard/sampler.js';
import { clientPage, listRequest, MAX_QUERY, PAGE_SIZE, roomPage } from '../../dist/server/dashboard/views.js';

const TOKEN = 'a-token-of-24-characters';

test('resolveDashboard: off, true, an object; bad paths and tokens are refused naming the field', () => {
  assert.equal(resolveDashboard(undefined), false);
  assert.equal(resolveDashboard(false), false);
  assert.equal(resolveDashboard(null), false);
  assert.deepEqual(resolveDashboard(true), { path: '/dashboard', token: null });
  assert.deepEqual(resolveDashboard({ path: '/ops', token: TOKEN }), { path: '/ops', token: TOKEN });
  assert.throws(() => resolveDashboard('yes'), /dashboard must be false, true or/);
  assert.throws(() => resolveDashboard({ path: 'ops' }), /dashboard.path must be a path/);
  assert.throws(() => resolveDashboard({ path: '/a?b' }), /dashboard.path/);
  assert.throws(() => resolveDashboard({ path: '/a b' }), /dashboard.path/);
  assert.throws(() => resolveDashboard({ token: 42 }), /dashboard.token must be a string/);
  assert.throws(() => resolveDashboard({ token: 'short' }), RangeError);
  assert.throws(() => resolveDashboard({ token: 'x'.repeat(1025) }), RangeError);
  assert.throws(() => resolveDashboard({ tokn: TOKEN }), /dashboard.tokn is not an option/);
});

test('loopback: addresses, host options and Host headers', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(a), true, a);
  for (const a of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '::ffff:10.0.0.1', '', undefined, '127.0.0.1.evil'])
    assert.equal(isLoopbackAddress(a), false, String(a));
  assert.equal(isLoopbackHost('localhost'), true);
  assert.equal(isLoopbackHost(undefined), false);
  for (const h of ['localhost', 'localhost:3000', 'LOCALHOST:1', '127.0.0.1:80', '[::1]:3000', '[::1]']) assert.equal(isLoopbackHostHeader(h), true, h);
  for (const h of ['evil.example', 'evil.example:3000', 'localhost.evil.example', '[::2]:1', '[::1', undefined, '']) {
    assert.equal(isLoopbackHostHeader(h), false, String(h));
  }
});

test('access: the token in constant time; tokenless needs a loopback Host and, for a browser, the same origin', () => {
  const withToken = new DashboardAccess({ path: '/d', token: TOKEN });
  assert.equal(withToken.needsToken, true);
  assert.equal(withToken.tokenMatches(TOKEN), true);
  for (const wrong of [`${TOKEN}x`, TOKEN.slice(1), '', null, undefined, 42, { toString: () => TOKEN }, 'x'.repeat(5000)]) {
    assert.equal(withToken.tokenMatches(wrong), false, String(wrong));
  }
  const foreign = { headers: { host: 'evil.example', origin: 'http://evil.example' } };
  assert.equal(withToken.requestAllowed(foreign), true, 'with a token, the token decides');
  assert.equal(withToken.upgradeAllowed(foreign), true);

  const tokenless = new DashboardAccess({ path: '/d', token: null });
  assert.equal(tokenless.tokenMatches(undefined), true);
  assert.equal(tokenless.requestAllowed({ headers: { host: 'localhost:3000' } }), true);
  assert.equal(tokenless.requestAllowed({ headers: { host: 'rebound.evil.example:3000' } }), false);
  assert.equal(tokenless.requestAllowed({ headers: {} }), false);
  assert.equal(tokenless.upgradeAllowed({ headers: { host: '127.0.0.1:3000' } }), true, 'no Origin: not a browser');
  assert.equal(tokenless.upgradeAllowed({ headers: { host: '127.0.0.1:3000', origin: 'http://127.0.0.1:3000' } }), true);
  assert.equal(tokenless.upgradeAllowed({ headers: { host: '127.0.0.1:3000', origin: 'http://evil.example' } }), false);
  assert.equal(tokenless.upgradeAllowed({ headers: { host: '127.0.0.1:3000', origin: 'null' } }), false);

  const url = (s) => new URL(s, 'http://localhost');
  assert.equal(requestToken({ headers: {} }, url(`/d?token=${TOKEN}`)), TOKEN);
  assert.equal(requestToken({ headers: { authorization: `Bearer ${TOKEN}` } }, url('/d')), TOKEN);
  assert.equal(requestToken({ headers: { authorization: `Basic ${TOKEN}` } }, url('/d')), null);
});

test('ACK latency window: percentiles from a bounded sample, count and max from everything, reset per period', () => {
  const w = new AckLatencyWindow();
  assert.deepEqual(w.take(), { count: 0, p50: 0, p95: 0, max: 0 });
  for (let i = 1; i <= 100; i++) w.record(i);
  assert.deepEqual(w.take(), { count: 100, p50: 51, p95: 96, max: 100 });
  // Far more than the reservoir: memory stays RESERVOIR values, the percentiles stay close.
  for (let i = 0; i < 100_000; i++) w.record(i % 1000);
  w.record(5000);
  const s = w.take();
  assert.equal(s.count, 100_001);
  assert.equal(s.max, 5000);
  assert.ok(Math.abs(s.p50 - 500) < 150, `p50 ${s.p50}`);
  assert.ok(s.p95 > 850 && s.p95 <= 1000, `p95 ${s.p95}`);
  assert.equal(RESERVOIR, 256);
  assert.equal(w.take().count, 0);
});

test('sampler: totals become per-second rates; the first reading has rate 0; history is bounded', () => {
  let at = 1_000_000;
  let received = 500;
  let sent = 1000;
  const sampler = new DashboardSampler(() => ({
    at,
    wsConnections: 3,
    tcpConnections: 1,
    rooms: 2,
    messagesReceived: received,
    messagesSent: sent,
    memoryMB: 10,
    uptimeSeconds: 5,
    ack: { count: 0, p50: 0, p95: 0, max: 0 },
  }));
  const first = sampler.sample();
  assert.equal(first.in, 0, 'not everything since start');
  assert.equal(first.out, 0);
  at += 2000;
  received += 100;
  sent += 300;
  const second = sampler.sample();
  assert.equal(second.in, 50);
  assert.equal(second.out, 150);
  assert.equal(second.ws, 3);
  assert.equal(second.tcp, 1);
  for (let i = 0; i < HISTORY + 10; i++) {
    at += 1000;
    sampler.sample();
  }
  const h = sampler.history();
  assert.equal(h.length, HISTORY);
  assert.ok(h[0].at < h[h.length - 1].at);
  sampler.reset();
  assert.equal(sampler.history().length, 0);
  assert.equal(sampler.sample().in, 0, 'after a reset, no rate against the old counters');
});

test('list requests are made safe: odd input is the first page of everything, queries are bounded', () => {
  assert.deepEqual(listRequest(null), { q: '', page: 0 });
  assert.deepEqual(listRequest({ q: 5, page: -1 }), { q: '', page: 0 });
  assert.deepEqual(listRequest({ q: '  AbC ', page: 2.5 }), { q: 'abc', page: 0 });
  assert.deepEqual(listRequest({ q: 'x', page: 3 }), { q: 'x', page: 3 });
  assert.equal(listRequest({ q: 'y'.repeat(10_000) }).q.length, MAX_QUERY);
  assert.equal(listRequest({ page: 1e12 }).page, 1_000_000);
});

/** A registry as big as the issue asks for: 10,000 clients, 5,000 rooms, 2 rooms each. */
function bigRegistry() {
  const clients = [];
  const roomsOf = new Map();
  const members = new Map();
  for (let r = 0; r < 5000; r++) members.set(`room-${r}`, new Set());
  for (let i = 0; i < 10_000; i++) {
    const id = `client-${String(i).padStart(5, '0')}`;
    clients.push({ id, protocol: i % 4 === 0 ? 'tcp' : 'ws', remoteAddress: `10.0.${(i >> 8) & 255}.${i & 255}`, connectedAt: 1 });
    const mine = new Set([`room-${i % 5000}`, `room-${(i * 7) % 5000}`]);
    roomsOf.set(id, mine);
    for (const r of mine) members.get(r).add(id);
  }
  return { clients, roomsOf: (id) => roomsOf.get(id) ?? new Set(), rooms: [...members.keys()], membersOf: (r) => members.get(r)?.size ?? 0 };
}

test('lists with 10,000 clients and 5,000 rooms: one page, searched on the server, bounded in size and time', () => {
  const reg = bigRegistry();
  const started = performance.now();
  const clients = clientPage(reg.clients, reg.roomsOf, listRequest({ q: '', page: 0 }));
  const rooms = roomPage(reg.rooms, reg.membersOf, listRequest({ q: '', page: 0 }));
  const searchedClients = clientPage(reg.clients, reg.roomsOf, listRequest({ q: 'CLIENT-0999', page: 0 }));
  const searchedRooms = roomPage(reg.rooms, reg.membersOf, listRequest({ q: 'room-49', page: 1 }));
  const elapsed = performance.now() - started;

  assert.equal(clients.all, 10_000);
  assert.equal(clients.matched, 10_000);
  assert.equal(clients.rows.length, PAGE_SIZE);
  assert.equal(clients.rows[0].id, 'client-00000');
  assert.equal(clients.rows[1].rooms, 2);
  assert.deepEqual(clients.rows[1].roomNames, ['room-1', 'room-7']);
  assert.equal(rooms.all, 5000);
  assert.equal(rooms.rows.length, PAGE_SIZE);
  assert.equal(rooms.rows[0].members, 2);
  // 'client-0999x': ten of them; the search is case-insensitive.
  assert.equal(searchedClients.matched, 10);
  assert.deepEqual(
    searchedClients.rows.map((r) => r.id),
    Array.from({ length: 10 }, (_, i) => `client-0999${i}`),
  );
  // room-49, room-490..499, room-4900..4999: 111 rooms, second page.
  assert.equal(searchedRooms.matched, 111);
  assert.equal(searchedRooms.page, 1);
  assert.equal(searchedRooms.rows[0].name, searchedRooms.rows[0].name.toLowerCase());
  assert.ok(searchedRooms.rows.every((r) => r.name.includes('room-49')));

  const bytes = Buffer.byteLength(JSON.stringify({ clients, rooms }));
  assert.ok(bytes < 8 * 1024, `one tick's lists are ${bytes} bytes`);
  // Generous: four queries over the whole registry on a shared 2-core machine.
  assert.ok(elapsed < 250, `four list queries took ${elapsed.toFixed(1)} ms`);
  console.log(`# 10,000 clients / 5,000 rooms: 4 list queries in ${elapsed.toFixed(1)} ms, first pages ${bytes} bytes`);
});

test('lists: a page past the end is clamped to the last; long names and ids are clipped', () => {
  const long = 'x'.repeat(5000);
  const clients = Array.from({ length: 45 }, (_, i) => ({ id: i === 44 ? long : `c${i}`, protocol: 'ws', remoteAddress: long, connectedAt: 0 }));
  const page = clientPage(clients, () => new Set([long, 'a', 'b', 'c']), listRequest({ page: 99 }));
  assert.equal(page.page, 2);
  assert.equal(page.rows.length, 5);
  const last = page.rows[4];
  assert.equal(last.id.length, 256);
  assert.ok(last.id.endsWith('…'));
  assert.equal(last.address.length, 128);
  assert.equal(last.rooms, 4);
  assert.equal(last.roomNames.length, 3);
  assert.equal(last.roomNames[0].length, 128);
  const none = roomPage([], () => 0, listRequest({ page: 3 }));
  assert.deepEqual(none, { all: 0, matched: 0, page: 0, rows: [] });
  assert.ok(Buffer.byteLength(JSON.stringify(page)) < 16 * 1024);
});

test('cluster poller: one question at a time, every CLUSTER_EVERY_MS; rates from two answers; a failure keeps the rows', async () => {
  const node = (id, received, sent) => ({
    nodeId: id,
    wsConnections: 2,
    tcpConnections: 1,
    totalRooms: 3,
    totalMessagesReceived: received,
    totalMessagesSent: sent,
    memoryMB: 9,
    uptimeSeconds: 4,
  });
  let asked = 0;
  let answer = null;
  const errors = [];
  const poller = new ClusterPoller(
    () => {
      asked++;
      return new Promise((resolve, reject) => (answer = { resolve, reject }));
    },
    (err) => errors.push(err),
  );
  assert.equal(poller.view, null);
  const t0 = Date.now();
  poller.poll(t0);
  poller.poll(t0 + CLUSTER_EVERY_MS * 5); // one is out: not asked again
  assert.equal(asked, 1);
  answer.resolve({ nodes: [node('a', 100, 200), node('b', 0, 0)] });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    poller.view.nodes.map((n) => [n.id, n.in, n.out, n.ws, n.tcp]),
    [
      ['a', 0, 0, 2, 1],
      ['b', 0, 0, 2, 1],
    ],
  );
  poller.poll(t0 + CLUSTER_EVERY_MS - 1); // too soon
  assert.equal(asked, 1);
  poller.poll(t0 + CLUSTER_EVERY_MS);
  assert.equal(asked, 2);
  await new Promise((r) => setTimeout(r, 50));
  answer.resolve({ nodes: [node('a', 110, 260)] });
  await new Promise((r) => setImmediate(r));
  const a = poller.view.nodes[0];
  assert.ok(a.in > 0 && a.out > a.in, JSON.stringify(a));
  assert.equal(poller.view.nodes.length, 1);

  poller.poll(t0 + CLUSTER_EVERY_MS * 2);
  answer.reject(new Error('redis away'));
  await new Promise((r) => setImmediate(r));
  assert.equal(poller.view.error, 'redis away');
  assert.equal(poller.view.nodes.length, 1, 'the last rows stay');
  assert.equal(errors.length, 1);

  // Stopped (the server stops): no more questions, and a late answer is dropped.
  poller.poll(t0 + CLUSTER_EVERY_MS * 3);
  const asks = asked;
  poller.stop();
  answer.resolve({ nodes: [] });
  answer.reject(new Error('late'));
  await new Promise((r) => setImmediate(r));
  assert.equal(poller.view.nodes.length, 1);
  poller.poll(t0 + CLUSTER_EVERY_MS * 10);
  assert.equal(asked, asks);
  assert.equal(errors.length, 1);

  // A throwing fetch is a failed answer too; many nodes are listed up to MAX_NODES.
  const many = new ClusterPoller(
    () => Promise.resolve({ nodes: Array.from({ length: MAX_NODES + 5 }, (_, i) => node(`n${i}`, 0, 0)) }),
    () => {},
  );
  many.poll(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(many.view.nodes.length, MAX_NODES);
  assert.equal(many.view.more, 5);
  const throwing = new ClusterPoller(
    () => {
      throw new Error('sync');
    },
    () => {},
  );
  throwing.poll(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(throwing.view.error, 'sync');
});
