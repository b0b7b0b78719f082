import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { StelarServer } from '../../dist/index.js';
import { closeAll, connect, HOST, httpRequest, openWs, startServer } from './helpers.mjs';

const STATS_FIELDS = [
  'totalConnections',
  'activeConnections',
  'totalMessagesReceived',
  'totalMessagesSent',
  'totalRooms',
  'uptime',
  'uptimeSeconds',
  'wsConnections',
  'tcpConnections',
  'memoryMB',
  'memoryUsage',
  'rateLimiterEntries',
];

test('/health answers the stats JSON with status ok; /livez and /readyz answer', async () => {
  const server = await startServer();
  const ws = await connect(server, 'ws');
  const tcp = await connect(server, 'tcp');
  const res = await httpRequest(server.getPort(), '/health');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.body.status, 'ok');
  for (const f of STATS_FIELDS) assert.ok(f in res.body, `missing ${f}`);
  assert.equal(res.body.activeConnections, 2);
  assert.equal(res.body.wsConnections, 1);
  assert.equal(res.body.tcpConnections, 1);
  assert.deepEqual(Object.keys(res.body.memoryUsage).sort(), ['external', 'heapTotal', 'heapUsed', 'rss']);
  assert.equal((await httpRequest(server.getPort(), '/livez')).status, 200);
  const ready = await httpRequest(server.getPort(), '/readyz?probe=1');
  assert.deepEqual([ready.status, ready.body.status], [200, 'ready']);
  assert.equal((await httpRequest(server.getPort(), '/elsewhere')).status, 404);
  await closeAll(ws, tcp);
  await server.stop();
});

test('healthEndpoint can move or be disabled (false), at start and at runtime', async () => {
  const server = await startServer({ healthEndpoint: '/status' });
  assert.equal((await httpRequest(server.getPort(), '/status')).status, 200);
  assert.equal((await httpRequest(server.getPort(), '/health')).status, 404);
  server.updateConfig({ healthEndpoint: false, livenessEndpoint: false });
  assert.equal((await httpRequest(server.getPort(), '/status')).status, 404);
  assert.equal((await httpRequest(server.getPort(), '/livez')).status, 404);
  assert.equal(server.getConfig().healthEndpoint, false);
  await server.stop();
});

test('CORS: * without allowedOrigins; the matching origin only with it; OPTIONS preflight is 204', async () => {
  const open = await startServer();
  let res = await httpRequest(open.getPort(), '/health', { headers: { origin: 'https://x.example' } });
  assert.equal(res.headers['access-control-allow-origin'], '*');
  await open.stop();

  const server = await startServer({ allowedOrigins: ['https://mydomain.com'] });
  res = await httpRequest(server.getPort(), '/health', { headers: { origin: 'https://mydomain.com' } });
  assert.equal(res.headers['access-control-allow-origin'], 'https://mydomain.com');
  res = await httpRequest(server.getPort(), '/health', { headers: { origin: 'https://evil.example' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['access-control-allow-origin'], undefined);
  res = await httpRequest(server.getPort(), '/health', {
    method: 'OPTIONS',
    headers: { origin: 'https://mydomain.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-token' },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers['access-control-allow-origin'], 'https://mydomain.com');
  assert.match(res.headers['access-control-allow-methods'], /GET/);
  assert.equal(res.headers['access-control-allow-headers'], 'x-token');
  await server.stop();
});

test('allowedOrigins gates WebSocket upgrades with 403 (no Origin = not a browser: allowed); updateConfig changes it live', async () => {
  const server = await startServer({ allowedOrigins: ['https://app.com'] });
  const port = server.getPort();
  await assert.rejects(openWs(port, { origin: 'https://evil.example' }), (err) => err.status === 403);
  const good = await openWs(port, { origin: 'https://app.com' });
  await good.handshake();
  const noOrigin = await openWs(port);
  await noOrigin.handshake();
  server.updateConfig({ allowedOrigins: ['https://app.com', 'https://admin.app.com'] });
  const admin = await openWs(port, { origin: 'https://admin.app.com' });
  await admin.handshake();
  assert.deepEqual(server.getConfig().allowedOrigins, ['https://app.com', 'https://admin.app.com']);
  await closeAll(good, noOrigin, admin);
  await server.stop();
});

test('customHealthHandler (async) replaces the built-in answer and gets the stats', async () => {
  const server = await startServer({
    customHealthHandler: async (_req, res, stats) => {
      await new Promise((r) => setTimeout(r, 5));
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'degraded', server: stats, database: 'disconnected' }));
    },
  });
  const res = await httpRequest(server.getPort(), '/health');
  assert.equal(res.status, 503);
  assert.equal(res.body.status, 'degraded');
  assert.equal(res.body.server.activeConnections, 0);
  assert.equal(server.getConfig().hasCustomHealthHandler, true);
  server.updateConfig({
    customHealthHandler: () => {
      throw new Error('broken');
    },
  });
  assert.equal((await httpRequest(server.getPort(), '/health')).status, 500);
  await server.stop();
});

test('attached to an existing HTTP server: other routes keep working; several namespaces share it; stop() leaves it running', async () => {
  const app = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`app:${req.url}`);
  });
  app.listen(0, HOST);
  await once(app, 'listening');
  const port = app.address().port;
  const chat = new StelarServer({ server: app, namespace: '/chat', logger: false });
  const game = new StelarServer({ server: app, namespace: '/game', logger: false, healthEndpoint: '/game-health' });
  assert.equal(await chat.start(), port);
  assert.equal(await game.start(), port);
  chat.on('where', (ctx) => ctx.emit('here', 'chat'));
  game.on('where', (ctx) => ctx.emit('here', 'game'));

  const a = await openWs(port, { path: '/chat' });
  await a.handshake();
  const b = await openWs(port, { path: '/game' });
  await b.handshake();
  a.emit('where');
  b.emit('where');
  assert.equal(await a.event('here'), 'chat');
  assert.equal(await b.event('here'), 'game');
  assert.equal(chat.getStats().activeConnections, 1);
  assert.equal(game.getStats().activeConnections, 1);

  assert.equal((await httpRequest(port, '/users?x=1')).body, 'app:/users?x=1');
  assert.equal((await httpRequest(port, '/health')).body.status, 'ok');
  assert.equal((await httpRequest(port, '/game-health')).body.activeConnections, 1);

  await chat.stop();
  await game.stop();
  // The user's server is still up and its routes (even /health) are its own again.
  assert.equal((await httpRequest(port, '/health')).body, 'app:/health');
  assert.equal(app.listeners('request').length, 1);
  assert.equal(app.listeners('upgrade').length, 0);
  await closeAll(a, b);
  app.close();
  app.closeAllConnections();
});

test('start() on an attached server that is not listening yet waits for it', async () => {
  const app = http.createServer((_req, res) => res.end('x'));
  const stelar = new StelarServer({ server: app, logger: false });
  const started = stelar.start();
  app.listen(0, HOST);
  assert.equal(await started, app.address().port);
  await stelar.stop();
  app.close();
});
