// The `metrics` option end to end: /metrics off by default, its exposition judged by promtool,
// counters moving by exactly what known traffic should move them (by transport and packet
// type), refusals, rate limits, errors, ACK and handler histograms, broadcast fan-out,
// recovery; the bearer token, the origin policy, runtime changes, and a user's own routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { StelarServer } from '../../dist/index.js';
import { connect, encodePacket, HOST, openWs, PacketType, startServer, until } from './helpers.mjs';
import { delta, readMetrics, samples, scrape } from './metrics-helpers.mjs';
import { assertPromtoolAccepts, needPromtool } from '../support/promtool.mjs';

const sizeOf = (packet) => encodePacket(packet).length;

/** A started server, stopped when the test ends (passed or failed: a failure must not hang the run). */
async function serve(t, options) {
  const server = await startServer(options);
  t.after(() => server.stop());
  return server;
}

/** A connected raw client, terminated when the test ends. */
async function client(t, server, protocol) {
  const c = await connect(server, protocol);
  t.after(() => c.terminate());
  return c;
}

/** A raw WebSocket (no handshake yet), terminated when the test ends. */
async function rawWs(t, port, options) {
  const c = await openWs(port, options);
  t.after(() => c.terminate());
  return c;
}

/** Every packet a client sent before this is handled once it returns (one ordered session). */
async function barrier(client) {
  const res = await client.request('sync');
  assert.equal(res.type, PacketType.ACK_RESPONSE);
}

function syncAck(server) {
  server.onAck('sync', () => true);
  return server;
}

test('off by default: /metrics is not ours (404 on our own server)', async (t) => {
  const server = await serve(t);
  const res = await scrape(server.getPort());
  assert.equal(res.status, 404);
  assert.equal(server.getConfig().metrics, false);
});

test('the exposition: format 0.0.4 content type, every family, accepted by promtool after real traffic', async (t) => {
  const server = syncAck(await serve(t, { metrics: true, recovery: true }));
  server.on('ev', () => {});
  const ws = await client(t, server, 'ws');
  const tcp = await client(t, server, 'tcp');
  await ws.join('r');
  ws.emit('ev', { a: 1 });
  tcp.emit('ev', { a: 'x"y\\z\n' });
  await barrier(ws);
  await barrier(tcp);
  server.to('r', 'news', { hello: true });
  const res = await scrape(server.getPort());
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'no-store');
  for (const family of [
    'stelar_connections_open',
    'stelar_connections_accepted_total',
    'stelar_connections_refused_total',
    'stelar_messages_received_total',
    'stelar_received_bytes_total',
    'stelar_messages_sent_total',
    'stelar_sent_bytes_total',
    'stelar_rate_limited_total',
    'stelar_slow_consumers_total',
    'stelar_errors_total',
    'stelar_rooms',
    'stelar_ack_duration_seconds',
    'stelar_handler_duration_seconds',
    'stelar_broadcast_recipients',
    'stelar_recovery_restored_total',
    'stelar_recovery_failed_total',
    'stelar_event_loop_delay_p99_seconds',
    'stelar_process_cpu_seconds_total',
    'stelar_process_memory_bytes',
  ]) {
    assert.match(res.text, new RegExp(`^# TYPE ${family} `, 'm'), family);
  }
  const m = samples(res.text);
  assert.equal(m.get('stelar_connections_open{transport="ws"}'), 1);
  assert.equal(m.get('stelar_connections_open{transport="tcp"}'), 1);
  assert.equal(m.get('stelar_rooms'), 1);
  assert.equal(m.get('stelar_broadcast_recipients_count'), 1);
  assert.ok(m.get('stelar_process_memory_bytes{kind="rss"}') > 0);
  if (needPromtool(t)) assertPromtoolAccepts(res.text);
});

test('messages and bytes in, by transport and packet type: N over WebSocket and M over TCP', async (t) => {
  const server = syncAck(await serve(t, { metrics: true }));
  server.on('ev', () => {});
  const ws = await client(t, server, 'ws');
  const tcp = await client(t, server, 'tcp');
  const before = await readMetrics(server.getPort());
  const packet = { type: PacketType.JSON, event: 'ev', data: { seq: 12345 } };
  const N = 7;
  const M = 4;
  for (let i = 0; i < N; i++) ws.sendPacket(packet);
  for (let i = 0; i < M; i++) tcp.sendPacket(packet);
  ws.emitBinary('ev', Buffer.alloc(100));
  await barrier(ws);
  await barrier(tcp);
  const after = await readMetrics(server.getPort());
  const key = (name, transport, type) => `${name}{transport="${transport}",type="${type}"}`;
  assert.equal(delta(before, after, key('stelar_messages_received_total', 'ws', 'json')), N);
  assert.equal(delta(before, after, key('stelar_messages_received_total', 'tcp', 'json')), M);
  assert.equal(delta(before, after, key('stelar_received_bytes_total', 'ws', 'json')), N * sizeOf(packet));
  assert.equal(delta(before, after, key('stelar_received_bytes_total', 'tcp', 'json')), M * sizeOf(packet), 'the TCP prefix is not counted');
  assert.equal(delta(before, after, key('stelar_messages_received_total', 'ws', 'binary')), 1);
  assert.equal(delta(before, after, key('stelar_messages_received_total', 'tcp', 'binary')), 0);
  assert.equal(delta(before, after, key('stelar_messages_received_total', 'ws', 'ack_request')), 1);
  // The barrier's answers went out, one per transport, with the size of the packet the client got.
  assert.equal(delta(before, after, key('stelar_messages_sent_total', 'ws', 'ack_response')), 1);
  assert.equal(delta(before, after, key('stelar_messages_sent_total', 'tcp', 'ack_response')), 1);
  const answer = { type: PacketType.ACK_RESPONSE, event: 'sync', ackId: 1, ok: true, data: true };
  assert.equal(delta(before, after, key('stelar_sent_bytes_total', 'tcp', 'ack_response')), sizeOf(answer));
  assert.equal(delta(before, after, key('stelar_sent_bytes_total', 'ws', 'ack_response')), sizeOf(answer));
});

test('a broadcast: one fan-out observation, one sent message per recipient and transport', async (t) => {
  const server = await serve(t, { metrics: true });
  const clients = [await client(t, server, 'ws'), await client(t, server, 'ws'), await client(t, server, 'tcp')];
  for (const c of clients) await c.join('room');
  const before = await readMetrics(server.getPort());
  assert.equal(server.to('room', 'news', { n: 1 }), 3);
  const data = await Promise.all(clients.map((c) => c.event('news')));
  assert.deepEqual(data, [{ n: 1 }, { n: 1 }, { n: 1 }]);
  const after = await readMetrics(server.getPort());
  assert.equal(delta(before, after, 'stelar_broadcast_recipients_count'), 1);
  assert.equal(delta(before, after, 'stelar_broadcast_recipients_sum'), 3);
  assert.equal(delta(before, after, 'stelar_broadcast_recipients_bucket{le="2"}'), 0);
  assert.equal(delta(before, after, 'stelar_broadcast_recipients_bucket{le="5"}'), 1);
  assert.equal(delta(before, after, 'stelar_messages_sent_total{transport="ws",type="json"}'), 2);
  assert.equal(delta(before, after, 'stelar_messages_sent_total{transport="tcp",type="json"}'), 1);
  const size = sizeOf({ type: PacketType.JSON, event: 'news', data: { n: 1 } });
  assert.equal(delta(before, after, 'stelar_sent_bytes_total{transport="ws",type="json"}'), 2 * size);
});

test('ACK requests: each one observed (duration and handler time); events: the first, then one in 16 on average', async (t) => {
  const server = await serve(t, { metrics: true, rateLimit: false });
  server.onAck('slow', () => new Promise((resolve) => setTimeout(() => resolve('done'), 30)));
  server.on('ev', () => {});
  const ws = await client(t, server, 'ws');
  const before = await readMetrics(server.getPort());
  const res = await ws.request('slow');
  assert.equal(res.data, 'done');
  ws.emit('ev', 1);
  ws.emit('nobody-listens', 1);
  await ws.request('slow');
  const after = await readMetrics(server.getPort());
  assert.equal(delta(before, after, 'stelar_ack_duration_seconds_count{transport="ws"}'), 2);
  assert.equal(delta(before, after, 'stelar_ack_duration_seconds_count{transport="tcp"}'), 0);
  // Answered after 30 ms: above the 25 ms bound, within 10 s.
  assert.equal(delta(before, after, 'stelar_ack_duration_seconds_bucket{transport="ws",le="0.025"}'), 0);
  assert.equal(delta(before, after, 'stelar_ack_duration_seconds_bucket{transport="ws",le="10"}'), 2);
  assert.ok(delta(before, after, 'stelar_ack_duration_seconds_sum{transport="ws"}') >= 0.06);
  assert.equal(delta(before, after, 'stelar_handler_duration_seconds_count{kind="ack"}'), 2);
  assert.equal(delta(before, after, 'stelar_handler_duration_seconds_count{kind="event"}'), 1, 'the first event is timed; one nobody handles is not');
  // Later events are sampled: one in 16 on average, never more than 31 apart.
  for (let i = 0; i < 320; i++) ws.emit('ev', i);
  await ws.request('slow');
  const sampled = delta(after, await readMetrics(server.getPort()), 'stelar_handler_duration_seconds_count{kind="event"}');
  assert.ok(sampled >= 10 && sampled < 160, `${sampled} of 320 events timed`);
});

test('refusals by reason: server full, origin, middleware; the error codes told to the client', async (t) => {
  const server = await serve(t, { metrics: true, maxConnections: 1, allowedOrigins: ['https://ok.example'] });
  let reject = false;
  server.use((_ctx, next) => next(reject ? new Error('not you') : undefined));
  const first = await client(t, server, 'tcp');
  const before = await readMetrics(server.getPort());
  const full = await rawWs(t, server.getPort());
  full.sendConnect();
  const err = await full.next(PacketType.ERROR);
  assert.equal(err.event, 'STELAR_ERR_SERVER_FULL');
  await full.closed;
  await assert.rejects(openWs(server.getPort(), { origin: 'https://evil.example' }), { status: 403 });
  await first.close();
  await until(() => server.getStats().activeConnections === 0, 'the first client gone');
  reject = true;
  const refused = await rawWs(t, server.getPort());
  refused.sendConnect();
  assert.equal((await refused.next(PacketType.ERROR)).event, 'STELAR_ERR_MIDDLEWARE_REJECTED');
  await refused.closed;
  const after = await readMetrics(server.getPort());
  const r = (transport, reason) => `stelar_connections_refused_total{transport="${transport}",reason="${reason}"}`;
  assert.equal(delta(before, after, r('ws', 'max_connections')), 1);
  assert.equal(delta(before, after, r('ws', 'origin_not_allowed')), 1);
  assert.equal(delta(before, after, r('ws', 'middleware_rejected')), 1);
  assert.equal(delta(before, after, r('tcp', 'max_connections')), 0);
  assert.equal(delta(before, after, 'stelar_errors_total{code="STELAR_ERR_SERVER_FULL"}'), 1);
  assert.equal(delta(before, after, 'stelar_errors_total{code="STELAR_ERR_MIDDLEWARE_REJECTED"}'), 1);
  assert.equal(delta(before, after, 'stelar_connections_accepted_total{transport="ws"}'), 0);
});

test('a rate-limited message and an invalid event name are counted, by scope and by code', async (t) => {
  const server = syncAck(await serve(t, { metrics: true, rateLimit: { maxPoints: 3, windowMs: 60_000 } }));
  const tcp = await client(t, server, 'tcp');
  const ws = await client(t, server, 'ws');
  const before = await readMetrics(server.getPort());
  ws.emit('', 1); // not a valid event name: an Error, the connection stays
  assert.equal((await ws.next(PacketType.ERROR)).event, 'STELAR_ERR_PACKET_INVALID_EVENT');
  for (let i = 0; i < 4; i++) tcp.emit('ev', i);
  assert.equal((await tcp.next(PacketType.ERROR)).event, 'STELAR_ERR_RATE_LIMITED');
  const after = await readMetrics(server.getPort());
  assert.equal(delta(before, after, 'stelar_rate_limited_total{transport="tcp",scope="global"}'), 1);
  assert.equal(delta(before, after, 'stelar_rate_limited_total{transport="ws",scope="global"}'), 0);
  assert.equal(delta(before, after, 'stelar_errors_total{code="STELAR_ERR_RATE_LIMITED"}'), 1);
  assert.equal(delta(before, after, 'stelar_errors_total{code="STELAR_ERR_PACKET_INVALID_EVENT"}'), 1);
});

test('a client that stops reading is cut (4006) and counted once as a slow consumer', async (t) => {
  const server = await serve(t, { metrics: true, maxBufferedBytes: 256 * 1024 });
  const c = await client(t, server, 'tcp');
  const before = await readMetrics(server.getPort());
  c.socket.pause();
  const chunk = Buffer.alloc(512 * 1024, 7);
  for (let i = 0; i < 200 && server.getStats().activeConnections === 1; i++) {
    server.broadcastBinary('flood', chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  c.socket.resume();
  assert.equal((await c.closed).code, 4006);
  const after = await readMetrics(server.getPort());
  assert.equal(delta(before, after, 'stelar_slow_consumers_total{transport="tcp"}'), 1);
  assert.equal(delta(before, after, 'stelar_slow_consumers_total{transport="ws"}'), 0);
});

test('recovery: a resumed session and its replayed message, and a refused resume by reason', async (t) => {
  const server = await serve(t, { metrics: true, recovery: true });
  const first = await rawWs(t, server.getPort());
  first.sendPacket({ type: PacketType.CONNECT, event: '', data: { v: 1, recovery: {} } });
  const grant = (await first.next(PacketType.CONNECT)).data;
  await first.terminate();
  await until(() => server.getStats().activeConnections === 0, 'the client gone');
  server.broadcast('missed', { n: 1 });
  const before = await readMetrics(server.getPort());
  const back = await rawWs(t, server.getPort());
  back.sendPacket({
    type: PacketType.CONNECT,
    event: '',
    data: { v: 1, recovery: { id: grant.id, token: grant.recovery.token, offset: grant.recovery.offset } },
  });
  assert.equal((await back.next(PacketType.CONNECT)).data.recovered, true);
  await until(() => back.has((p) => p.event.startsWith('missed')), 'the replayed message');
  const stranger = await rawWs(t, server.getPort());
  stranger.sendPacket({ type: PacketType.CONNECT, event: '', data: { v: 1, recovery: { id: 'nobody', token: 't', offset: grant.recovery.offset } } });
  assert.equal((await stranger.next(PacketType.CONNECT)).data.recovery.reason, 'session_not_found');
  const after = await readMetrics(server.getPort());
  assert.equal(delta(before, after, 'stelar_recovery_restored_total'), 1);
  assert.equal(delta(before, after, 'stelar_recovery_replayed_messages_total'), 1);
  assert.equal(delta(before, after, 'stelar_recovery_failed_total{reason="session_not_found"}'), 1);
  assert.equal(delta(before, after, 'stelar_recovery_failed_total{reason="history_trimmed"}'), 0);
});

test('token: 401 (with WWW-Authenticate) without it or with a wrong one; 200 with it; HEAD, 405, moved path', async (t) => {
  const server = await serve(t, { metrics: { path: '/internal/metrics', token: 's3cret-Token' } });
  const port = server.getPort();
  const path = '/internal/metrics';
  let res = await scrape(port, { path });
  assert.equal(res.status, 401);
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="metrics"');
  assert.doesNotMatch(res.text, /stelar_/);
  assert.equal((await scrape(port, { path, token: 's3cret-Toke' })).status, 401);
  assert.equal((await scrape(port, { path, token: 's3cret-Token-and-more' })).status, 401);
  assert.equal((await scrape(port, { path, headers: { authorization: 's3cret-Token' } })).status, 401, 'the Bearer scheme is required');
  res = await scrape(port, { path, token: 's3cret-Token' });
  assert.equal(res.status, 200);
  assert.match(res.text, /^stelar_connections_open\{transport="ws"\} 0$/m);
  assert.equal((await scrape(port, { path, headers: { authorization: 'bearer   s3cret-Token' } })).status, 200, 'scheme is case-insensitive');
  res = await scrape(port, { path, token: 's3cret-Token', method: 'HEAD' });
  assert.deepEqual([res.status, res.text], [200, '']);
  assert.equal((await scrape(port, { path, token: 's3cret-Token', method: 'POST' })).status, 405);
  assert.equal((await scrape(port, { token: 's3cret-Token' })).status, 404, '/metrics is not served when the path moved');
  const config = server.getConfig().metrics;
  assert.deepEqual(config, { path, hasToken: true });
  assert.doesNotMatch(JSON.stringify(server.getConfig()), /s3cret/);
});

test('origin policy: a browser origin outside allowedOrigins gets 403; a listed one is let read it', async (t) => {
  const server = await serve(t, { metrics: true, allowedOrigins: ['https://ok.example'] });
  const port = server.getPort();
  assert.equal((await scrape(port, { headers: { origin: 'https://evil.example' } })).status, 403);
  const ok = await scrape(port, { headers: { origin: 'https://ok.example' } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], 'https://ok.example');
  const plain = await scrape(port);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['access-control-allow-origin'], undefined);
  const open = await serve(t, { metrics: true });
  const any = await scrape(open.getPort(), { headers: { origin: 'https://x.example' } });
  assert.equal(any.status, 200);
  assert.equal(any.headers['access-control-allow-origin'], undefined, 'never *: a page elsewhere cannot read it');
});

test("attached to the user's server: their routes keep working, and get /metrics back after stop()", async (t) => {
  const app = http.createServer((req, res) => res.end(`app ${req.url}`));
  app.listen(0, HOST);
  await once(app, 'listening');
  t.after(() => new Promise((resolve) => app.close(resolve)));
  const port = app.address().port;
  const server = new StelarServer({ server: app, logger: false, gracefulShutdown: false, metrics: true });
  await server.start();
  t.after(() => server.stop());
  const ws = await rawWs(t, port);
  await ws.handshake();
  assert.equal((await scrape(port, { path: '/' })).text, 'app /');
  assert.equal((await scrape(port, { path: '/api/x' })).text, 'app /api/x');
  const m = await readMetrics(port);
  assert.equal(m.get('stelar_connections_open{transport="ws"}'), 1);
  await ws.close();
  await server.stop();
  assert.equal((await scrape(port)).text, 'app /metrics', 'the user owns the path again');
});

test('runtime: updateConfig turns metrics on (totals since the start) and off (falls through again)', async (t) => {
  const server = await serve(t);
  await client(t, server, 'ws'); // accepted before metrics are turned on
  assert.equal((await scrape(server.getPort())).status, 404);
  server.updateConfig({ metrics: true });
  await new Promise((resolve) => setTimeout(resolve, 60)); // a few event-loop samples
  const m = await readMetrics(server.getPort());
  assert.equal(m.get('stelar_connections_accepted_total{transport="ws"}'), 1, 'counted before metrics were on');
  const p99 = m.get('stelar_event_loop_delay_p99_seconds');
  assert.ok(Number.isFinite(p99) && p99 >= 0, `event-loop delay sampled: ${p99}`);
  server.updateConfig({ metrics: { token: 'abc' } });
  assert.equal((await scrape(server.getPort())).status, 401);
  server.updateConfig({ metrics: false });
  assert.equal((await scrape(server.getPort(), { token: 'abc' })).status, 404);
  assert.equal(server.getConfig().metrics, false);
});

test('bad metrics values throw, naming the option', () => {
  for (const bad of ['yes', 1, { path: 'metrics' }, { path: '/m?x=1' }, { token: '' }, { token: 'has space' }, { token: 7 }, { tokn: 'x' }]) {
    assert.throws(() => new StelarServer({ metrics: bad }), /metrics/, JSON.stringify(bad));
  }
  const server = new StelarServer({ logger: false });
  assert.throws(() => server.updateConfig({ metrics: { path: 'x' } }), /metrics\.path/);
  assert.equal(server.getConfig().metrics, false, 'a refused value changes nothing');
});
