// Issue 15 C: the dashboard on the server's HTTP port, without a browser. The page and its
// token, the loopback rule, the live channel (auth, bounds, ticks, search, kick), and that the
// dashboard's connections stay out of everything the application sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import vm from 'node:vm';
import { StelarServer } from '../../dist/index.js';
import { AUTH_TIMEOUT_MS, MAX_INBOUND, MAX_VIEWERS } from '../../dist/server/dashboard/live.js';
import { PAGE_SCRIPT } from '../../dist/server/dashboard/page-script.js';
import { PAGE_STYLE } from '../../dist/server/dashboard/page-style.js';
import { closeAll, connect, delay, HOST, openWs, startServer, until } from './helpers.mjs';
import { get, TOKEN, Viewer } from './dashboard-helpers.mjs';

const dashboardServer = (options = {}) => startServer({ dashboard: { token: TOKEN }, ...options });

test('option: off by default; placement and loopback rules throw at construction; the snapshot never shows the token', async () => {
  const plain = await startServer();
  try {
    assert.equal(plain.getConfig().dashboard, false);
    assert.equal((await get(plain.getPort(), '/dashboard')).status, 404);
  } finally {
    await plain.stop();
  }
  // Without a token: only a server this instance binds to loopback.
  assert.throws(() => new StelarServer({ dashboard: true }), /dashboard without a token is only allowed on a loopback address.*every interface/);
  assert.throws(() => new StelarServer({ host: '0.0.0.0', dashboard: true }), /listens on 0\.0\.0\.0/);
  assert.throws(() => new StelarServer({ host: '192.168.1.10', dashboard: {} }), TypeError);
  for (const host of ['127.0.0.1', '::1', 'localhost']) new StelarServer({ host, dashboard: true });
  new StelarServer({ dashboard: { token: TOKEN } });
  // Paths the server already uses.
  assert.throws(() => new StelarServer({ host: HOST, dashboard: { path: '/' } }), /cannot be '\/'/);
  assert.throws(() => new StelarServer({ host: HOST, namespace: '/dashboard', dashboard: true }), /already the namespace/);
  assert.throws(() => new StelarServer({ host: HOST, dashboard: { path: '/health' } }), /already the healthEndpoint/);
  assert.throws(() => new StelarServer({ host: HOST, readinessEndpoint: '/ops', dashboard: { path: '/ops' } }), /already the readinessEndpoint/);
  new StelarServer({ host: HOST, healthEndpoint: false, dashboard: { path: '/health' } });
  assert.throws(() => new StelarServer({ host: HOST, dashboard: { token: 'short' } }), RangeError);

  const s = new StelarServer({ dashboard: { path: '/ops', token: TOKEN } });
  assert.deepEqual(s.getConfig().dashboard, { path: '/ops', hasToken: true });
  assert.ok(!JSON.stringify(s.getConfig()).includes(TOKEN));
  assert.throws(() => s.updateConfig({ dashboard: false }), /cannot be changed at runtime/);
});

test('option: a server passed in is checked when it listens: tokenless on 0.0.0.0 rejects start() and leaves the server as it was', async () => {
  const app = http.createServer((_req, res) => res.end('app'));
  await new Promise((resolve) => app.listen(0, '0.0.0.0', resolve));
  try {
    const stelar = new StelarServer({ server: app, dashboard: true, logger: false });
    await assert.rejects(stelar.start(), /dashboard without a token is only allowed on a loopback address.*listens on 0\.0\.0\.0/);
    assert.equal(app.listenerCount('upgrade'), 0, 'the upgrade listeners were removed');
    assert.equal(app.listenerCount('request'), 1, "the app's own request listener is back");
    const res = await get(app.address().port, '/dashboard');
    assert.equal(res.body, 'app');
    // With a token the same server is fine.
    const guarded = new StelarServer({ server: app, dashboard: { token: TOKEN }, logger: false });
    await guarded.start();
    assert.equal((await get(app.address().port, `/dashboard?token=${TOKEN}`)).status, 200);
    await guarded.stop();
  } finally {
    await new Promise((resolve) => app.close(resolve));
  }
  // Tokenless on a server the application bound to loopback.
  const local = http.createServer();
  await new Promise((resolve) => local.listen(0, HOST, resolve));
  try {
    const stelar = new StelarServer({ server: local, dashboard: true, logger: false });
    await stelar.start();
    assert.equal((await get(local.address().port, '/dashboard', { headers: { host: `127.0.0.1:${local.address().port}` } })).status, 200);
    await stelar.stop();
  } finally {
    await new Promise((resolve) => local.close(resolve));
  }
});

test('page: 401 and a form without the token, 200 with it (?token= or Bearer), pinned by its CSP; other methods 405', async () => {
  const server = await dashboardServer({ dashboard: { path: '/ops', token: TOKEN } });
  const port = server.getPort();
  try {
    let res = await get(port, '/ops');
    assert.equal(res.status, 401);
    assert.match(res.body, /needs its token/);
    assert.match(res.body, /<form method="get">/);
    assert.ok(!res.body.includes('<script'), 'the form has no script and no data');
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="stelar dashboard"');
    res = await get(port, '/ops?token=wrong-token-but-long-enough');
    assert.equal(res.status, 401);
    assert.match(res.body, /Wrong token/);
    res = await get(port, `/ops?token=${TOKEN}x`);
    assert.equal(res.status, 401);

    res = await get(port, `/ops?token=${encodeURIComponent(TOKEN)}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    const csp = res.headers['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    // The CSP hashes are those of the inline script and style the page carries.
    const script = /<script>([\s\S]*)<\/script>/.exec(res.body)[1];
    const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)[1];
    const sha = (t) => `'sha256-${createHash('sha256').update(t).digest('base64')}'`;
    assert.equal(script, PAGE_SCRIPT);
    assert.equal(style, PAGE_STYLE);
    assert.ok(csp.includes(`script-src ${sha(script)}`), csp);
    assert.ok(csp.includes(`style-src ${sha(style)}`), csp);
    assert.doesNotMatch(res.body, /<script src|<link rel="stylesheet"|https?:\/\/(?!www\.w3)/, 'no external asset');
    // The page's script is valid JavaScript (it runs in the browser test too).
    new vm.Script(script, { filename: 'dashboard-page.js' });

    res = await get(port, '/ops', { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    res = await get(port, `/ops?token=${TOKEN}`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
    res = await get(port, `/ops?token=${TOKEN}`, { method: 'POST' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET, HEAD');
    // Other paths are not the dashboard's.
    assert.equal((await get(port, '/ops/')).status, 404);
    assert.equal((await get(port, '/health')).status, 200);
  } finally {
    await server.stop();
  }
});

test('tokenless on loopback: a foreign Host is refused (DNS rebinding), and so is a browser WebSocket from another origin', async () => {
  const server = await startServer({ dashboard: true });
  const port = server.getPort();
  try {
    assert.equal((await get(port, '/dashboard')).status, 200, 'Host: 127.0.0.1:port');
    assert.equal((await get(port, '/dashboard', { headers: { host: `localhost:${port}` } })).status, 200);
    const rebound = await get(port, '/dashboard', { headers: { host: `rebound.evil.example:${port}` } });
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /loopback host name/);

    await assert.rejects(Viewer.open(port, { origin: 'http://evil.example' }), { status: 403 });
    await assert.rejects(Viewer.open(port, { headers: { host: `rebound.evil.example:${port}` } }), { status: 403 });
    const sameOrigin = await Viewer.open(port, { origin: `http://127.0.0.1:${port}`, token: '' });
    const hello = await sameOrigin.next((m) => m.t === 'hello', 'hello');
    assert.equal(hello.v, 1);
    await sameOrigin.close();
  } finally {
    await server.stop();
  }
});

test('live channel: a wrong token closes 4001 (logged, not flooding), anything but auth first 1008, binary 1008, over 4 KiB 1009', async () => {
  const logs = [];
  const logger = { debug() {}, info() {}, warn: (...a) => logs.push(a.join(' ')), error() {} };
  const server = await dashboardServer({ logger });
  const port = server.getPort();
  try {
    let v = await Viewer.open(port, { token: 'wrong-token-but-long-enough' });
    assert.equal((await v.closed).code, 4001);
    assert.equal(v.inbox.length, 0, 'nothing was sent before the token');
    assert.ok(
      logs.some((l) => /dashboard: wrong token from/.test(l)),
      logs.join('\n'),
    );

    v = await Viewer.open(port);
    v.send({ t: 'view' });
    assert.equal((await v.closed).code, 1008);
    v = await Viewer.open(port);
    v.send('not json');
    assert.equal((await v.closed).code, 1008);
    v = await Viewer.open(port);
    v.ws.send(Buffer.from('{"t":"auth"}'), { binary: true });
    assert.equal((await v.closed).code, 1008);
    v = await Viewer.open(port);
    v.send({ t: 'auth', token: TOKEN, pad: 'x'.repeat(MAX_INBOUND) });
    assert.equal((await v.closed).code, 1009);
    // Authenticated, an unknown message still closes.
    v = await Viewer.open(port, { token: TOKEN });
    await v.next((m) => m.t === 'hello', 'hello');
    v.send({ t: 'shutdown' });
    assert.equal((await v.closed).code, 1008);
  } finally {
    await server.stop();
  }
});

test(`live channel: ${MAX_VIEWERS} connections at most; a new one takes the place of the oldest unauthenticated, never of a viewer`, async () => {
  const server = await dashboardServer();
  const port = server.getPort();
  const open = [];
  try {
    // Unauthenticated connections cannot lock the operator out: each newcomer evicts the oldest.
    for (let i = 0; i < MAX_VIEWERS; i++) open.push(await Viewer.open(port));
    const operator = await Viewer.open(port, { token: TOKEN });
    await operator.next((m) => m.t === 'hello', 'hello');
    assert.equal((await open[0].closed).code, 1006, 'the oldest pending connection gave way');
    assert.equal(open[1].closeInfo, null);
    open.push(operator);
    // Every slot authenticated: the next one is refused.
    for (const v of open.slice(1, MAX_VIEWERS)) {
      v.send({ t: 'auth', token: TOKEN });
      await v.next((m) => m.t === 'hello', 'hello');
    }
    await assert.rejects(Viewer.open(port), { status: 503 });
    await open.pop().close();
    await until(async () => {
      try {
        const again = await Viewer.open(port);
        open.push(again);
        return true;
      } catch {
        return false;
      }
    }, 'a slot after a viewer left');
  } finally {
    await Promise.all(open.map((v) => v.close()));
    await server.stop();
  }
});

test(`live channel: no auth within ${AUTH_TIMEOUT_MS} ms closes with 4004`, async () => {
  const server = await dashboardServer();
  try {
    const v = await Viewer.open(server.getPort());
    const started = Date.now();
    assert.equal((await v.closed).code, 4004);
    assert.ok(Date.now() - started >= AUTH_TIMEOUT_MS - 100);
  } finally {
    await server.stop();
  }
});

test('ticks: connections by transport, message rates and ACK latency follow the traffic; history on hello', async () => {
  const server = await dashboardServer({ rateLimit: false });
  server.on('chat', (ctx) => ctx.broadcast('chat', ctx.data));
  server.onAck('slow', async () => {
    await delay(15);
    return 'ok';
  });
  const port = server.getPort();
  const clients = [];
  let viewer;
  try {
    viewer = await Viewer.open(port, { token: TOKEN });
    const hello = await viewer.next((m) => m.t === 'hello', 'hello');
    assert.equal(hello.pageSize, 20);
    assert.equal(hello.cluster, false);
    assert.ok(hello.history.length >= 1);
    const first = await viewer.tick();
    assert.deepEqual([first.sample.ws, first.sample.tcp], [0, 0]);
    assert.equal(first.cluster, null);

    clients.push(await connect(server, 'ws'), await connect(server, 'ws'), await connect(server, 'tcp'));
    const busy = setInterval(() => {
      for (const c of clients) c.emit('chat', { n: 1 });
      clients[0].request('slow', null).catch(() => {});
    }, 20);
    try {
      const moving = await viewer.tick((m) => m.sample.in > 0 && m.sample.out > 0 && m.sample.ackN > 0, 'a tick with traffic', 8000);
      assert.equal(moving.sample.ws, 2);
      assert.equal(moving.sample.tcp, 1);
      assert.ok(moving.sample.out >= moving.sample.in, JSON.stringify(moving.sample));
      assert.ok(moving.sample.ackP50 >= 10, `p50 ${moving.sample.ackP50} ms for a 15 ms handler`);
      assert.ok(moving.sample.ackMax >= moving.sample.ackP95 && moving.sample.ackP95 >= moving.sample.ackP50);
    } finally {
      clearInterval(busy);
    }
    // A page that opens now gets the history with the traffic in it.
    const late = await Viewer.open(port, { token: TOKEN });
    const lateHello = await late.next((m) => m.t === 'hello', 'hello');
    assert.ok(lateHello.history.some((s) => s.in > 0));
    await late.close();
  } finally {
    await viewer?.close();
    await closeAll(...clients);
    await server.stop();
  }
});

test('lists: search and pages are asked for by the page and answered promptly; kick disconnects with 4009 and is logged', async () => {
  const infos = [];
  const logger = { debug() {}, info: (...a) => infos.push(a.join(' ')), warn() {}, error() {} };
  let n = 0;
  const server = await dashboardServer({ logger, generateClientId: () => `user-${String(n++).padStart(2, '0')}`, maxConnectionsPerIP: 100 });
  const clients = [];
  let viewer;
  try {
    for (let i = 0; i < 25; i++) clients.push(await connect(server, i % 5 === 0 ? 'tcp' : 'ws'));
    await clients[3].join('blue');
    await clients[3].join('green');
    await clients[4].join('blue');
    viewer = await Viewer.open(server.getPort(), { token: TOKEN });
    let t = await viewer.tick((m) => m.clients.all === 25);
    assert.equal(t.clients.matched, 25);
    assert.equal(t.clients.rows.length, 20);
    assert.equal(t.rooms.all, 2);
    assert.deepEqual(
      t.rooms.rows.map((r) => [r.name, r.members]),
      [
        ['blue', 2],
        ['green', 1],
      ],
    );
    const row3 = t.clients.rows.find((r) => r.id === 'user-03');
    assert.deepEqual([row3.protocol, row3.address, row3.rooms, row3.roomNames], ['ws', '127.0.0.1', 2, ['blue', 'green']]);

    const asked = Date.now();
    viewer.send({ t: 'view', clients: { q: 'USER-1', page: 0 }, rooms: { q: 'gre', page: 0 } });
    t = await viewer.tick((m) => m.clients.matched === 10);
    assert.ok(Date.now() - asked < 900, 'answered before the next second');
    assert.deepEqual(
      t.clients.rows.map((r) => r.id),
      Array.from({ length: 10 }, (_, i) => `user-1${i}`),
    );
    assert.deepEqual(t.rooms.rows, [{ name: 'green', members: 1 }]);
    viewer.send({ t: 'view', clients: { q: '', page: 1 }, rooms: {} });
    t = await viewer.tick((m) => m.clients.page === 1);
    assert.equal(t.clients.rows.length, 5);

    viewer.send({ t: 'kick', id: 'user-21' });
    const kicked = await viewer.next((m) => m.t === 'kicked', 'kicked');
    assert.deepEqual(kicked, { t: 'kicked', id: 'user-21', ok: true });
    const info = await clients[21].closed;
    assert.equal(info.code, 4009);
    assert.equal(info.reason, 'disconnected from the dashboard');
    assert.ok(
      infos.some((l) => /dashboard: client user-21 disconnected by a dashboard viewer at/.test(l)),
      infos.join('\n'),
    );
    t = await viewer.tick((m) => m.clients.all === 24);
    assert.ok(!t.clients.rows.some((r) => r.id === 'user-21'));
    viewer.send({ t: 'kick', id: 'nobody' });
    assert.deepEqual(await viewer.next((m) => m.t === 'kicked', 'kicked'), { t: 'kicked', id: 'nobody', ok: false });
  } finally {
    await viewer?.close();
    await closeAll(...clients);
    await server.stop();
  }
});

test("the dashboard's connections are not sessions: no middleware, handler, hook, stats, client or room sees them", async () => {
  const seen = [];
  const server = await dashboardServer({
    hooks: {
      onClientConnect: () => seen.push('onClientConnect'),
      onClientDisconnect: () => seen.push('onClientDisconnect'),
      onInvalidMessage: () => seen.push('onInvalidMessage'),
    },
  });
  server.use((_ctx, next) => {
    seen.push('middleware');
    next();
  });
  server.onConnection(() => seen.push('onConnection'));
  server.onDisconnect(() => seen.push('onDisconnect'));
  server.onAll(() => seen.push('onAll'));
  const port = server.getPort();
  try {
    const before = server.getStats();
    const viewers = [await Viewer.open(port, { token: TOKEN }), await Viewer.open(port, { token: TOKEN })];
    for (const v of viewers) await v.next((m) => m.t === 'hello', 'hello');
    viewers[0].send({ t: 'view', clients: { q: 'x' } });
    await viewers[0].tick((m) => m.clients.matched === 0);
    const during = server.getStats();
    assert.equal(during.activeConnections, 0);
    assert.equal(during.wsConnections, 0);
    assert.equal(during.totalConnections, before.totalConnections);
    assert.equal(during.totalMessagesReceived, before.totalMessagesReceived);
    assert.deepEqual(server.getClients(), []);
    assert.deepEqual(server.getRooms(), []);
    await Promise.all(viewers.map((v) => v.close()));
    assert.deepEqual(seen, [], 'no hook, middleware or handler ran for the dashboard');

    // A stelar client that dials the dashboard path is not served: its Connect is not a
    // dashboard message (1008), and it never becomes a session.
    const stray = await openWs(port, { path: '/dashboard' });
    stray.sendConnect();
    await stray.closed;
    assert.equal(stray.closeInfo.code, 1008);
    // The application's endpoint knows nothing of dashboard messages: a client can send
    // anything, it is an event like any other.
    const client = await connect(server, 'ws');
    client.emit('kick', { id: client.id });
    client.emit('auth', { t: 'auth', token: TOKEN });
    await until(() => seen.filter((s) => s === 'onAll').length === 2, 'both events handled as events');
    assert.equal(server.getStats().activeConnections, 1);
    await client.terminate();
    await until(() => seen.includes('onDisconnect'), 'the client leaving');
    const count = (name) => seen.filter((s) => s === name).length;
    for (const name of ['onClientConnect', 'middleware', 'onConnection', 'onClientDisconnect', 'onDisconnect']) {
      assert.equal(count(name), 1, `${name} ran for the one application client only: ${seen.join(', ')}`);
    }
  } finally {
    await server.stop();
  }
});

test('stop closes the viewers (1001) within the grace; a restarted instance serves the dashboard again from fresh numbers', async () => {
  const server = await dashboardServer();
  const port = server.getPort();
  const v = await Viewer.open(port, { token: TOKEN });
  await v.next((m) => m.t === 'hello', 'hello');
  // One viewer that never answers the close must not hold the stop past its grace.
  const deaf = await Viewer.open(port, { token: TOKEN });
  await deaf.next((m) => m.t === 'hello', 'hello');
  deaf.ws._socket.pause();
  const started = Date.now();
  await server.stop();
  assert.ok(Date.now() - started < 4000, `stop took ${Date.now() - started} ms`);
  assert.equal((await v.closed).code, 1001);
  deaf.ws._socket.resume();
  await deaf.closed;

  await server.start();
  try {
    const again = await Viewer.open(server.getPort(), { token: TOKEN });
    const hello = await again.next((m) => m.t === 'hello', 'hello');
    assert.equal(hello.history.length, 1, 'the history starts again with the new run');
    assert.equal(hello.history[0].in, 0);
    await again.close();
  } finally {
    await server.stop();
  }
});
