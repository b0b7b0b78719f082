import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketType, StelarServer, ErrorCode } from '../../dist/index.js';
import { closeAll, connect, delay, HOST, httpRequest, openTcp, openWs, startServer, until } from './helpers.mjs';

test('200 start/stop cycles (some with clients) leave no signal listener, handle or warning behind', async () => {
  const baseline = { SIGTERM: process.listenerCount('SIGTERM'), SIGINT: process.listenerCount('SIGINT') };
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  const handlesBefore = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap').length;
  const reused = new StelarServer({ port: 0, host: HOST, tcpPort: 0, logger: false, gracefulShutdown: true });
  for (let i = 0; i < 200; i++) {
    const server = i % 2 ? reused : new StelarServer({ port: 0, host: HOST, tcpPort: 0, logger: false, gracefulShutdown: true });
    await server.start();
    assert.equal(process.listenerCount('SIGTERM'), baseline.SIGTERM + 1);
    if (i % 50 === 0) {
      const ws = await connect(server, 'ws');
      const tcp = await connect(server, 'tcp');
      await server.stop();
      assert.equal((await ws.closed).code, 1001);
      assert.equal((await tcp.closed).code, 1001);
    } else {
      await server.stop();
    }
  }
  assert.equal(process.listenerCount('SIGTERM'), baseline.SIGTERM);
  assert.equal(process.listenerCount('SIGINT'), baseline.SIGINT);
  await delay(20);
  const handlesAfter = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap').length;
  assert.ok(handlesAfter <= handlesBefore, `handles ${handlesBefore} -> ${handlesAfter}`);
  process.off('warning', onWarning);
  assert.deepEqual(
    warnings.map((w) => w.name),
    [],
  );
});

test('many instances at once share one signal listener', async () => {
  const base = process.listenerCount('SIGTERM');
  const servers = await Promise.all(Array.from({ length: 15 }, () => startServer({ gracefulShutdown: true, tcpPort: undefined })));
  assert.equal(process.listenerCount('SIGTERM'), base + 1);
  await Promise.all(servers.map((s) => s.stop()));
  assert.equal(process.listenerCount('SIGTERM'), base);
});

test('graceful shutdown on SIGTERM: readyz 503 at once, new connections refused, clients told 1001, then stopped', async () => {
  let shutdownInfo;
  const server = await startServer({ gracefulShutdown: true, shutdownTimeout: 3000, hooks: { onShutdown: (i) => (shutdownInfo = i) } });
  const port = server.getPort();
  const tcpPort = server.getTcpPort();
  const ws = await connect(server, 'ws');
  // This client ignores the close for a while: shutdown waits for it (up to shutdownTimeout).
  const tcp = await openTcp(tcpPort);
  await tcp.handshake();
  const origClose = tcp.socket.end.bind(tcp.socket);
  tcp.socket.end = () => {}; // a slow peer: it will not end its side on its own

  // An application listener of its own: the library then leaves exiting to it (without one
  // it re-raises the signal after the shutdown, which would end this test process).
  const appListener = () => {};
  process.on('SIGTERM', appListener);
  process.emit('SIGTERM', 'SIGTERM');
  assert.equal(server.isShuttingDown, true);
  const ready = await httpRequest(port, '/readyz');
  assert.equal(ready.status, 503);
  assert.equal((await httpRequest(port, '/health')).status, 503);
  await assert.rejects(openWs(port), (err) => err.status === 503);
  assert.equal((await ws.closed).code, 1001);
  await until(() => tcp.disconnectPacket, 'Disconnect packet');
  assert.equal(tcp.disconnectPacket.code, 1001);
  assert.equal(shutdownInfo, undefined, 'still waiting for the TCP client');
  tcp.socket.end = origClose;
  tcp.socket.end();
  await until(() => shutdownInfo, 'onShutdown');
  assert.deepEqual(shutdownInfo, { signal: 'SIGTERM' });
  assert.equal(server.getPort(), undefined);
  await until(() => process.listenerCount('SIGTERM') === 1, 'our listener removed');
  assert.deepEqual(process.listeners('SIGTERM'), [appListener]);
  process.off('SIGTERM', appListener);
});

test('stop() closes clients (1001), and a stopped server can start again', async () => {
  const server = await startServer();
  const ws = await connect(server, 'ws');
  const tcp = await connect(server, 'tcp');
  await server.stop();
  assert.equal((await ws.closed).code, 1001);
  assert.equal((await tcp.closed).code, 1001);
  assert.equal(server.getStats().activeConnections, 0);
  await server.stop(); // idempotent
  await server.start();
  const again = await connect(server, 'tcp');
  assert.ok(again.id);
  await closeAll(again);
  await server.stop();
});

test('heartbeat: a silent client is closed with 4005; Pings keep a client alive', async () => {
  const server = await startServer({ heartbeatInterval: 50, heartbeatTimeout: 300 });
  const silent = await connect(server, 'tcp');
  const alive = await connect(server, 'ws');
  const timer = setInterval(() => alive.ping(), 50);
  const err = await silent.next(PacketType.ERROR);
  assert.equal(err.event, ErrorCode.HEARTBEAT_TIMEOUT);
  assert.equal((await silent.closed).code, 4005);
  await delay(400);
  clearInterval(timer);
  assert.equal(alive.closeInfo, null);
  await closeAll(alive);
  await server.stop();
});

test("updateConfig validates and applies; fixed options are refused; getConfig reports the spec's fields", async () => {
  const server = new StelarServer({ port: 0, host: HOST, maxConnections: 100, logger: false, hooks: { onClientConnect: () => {} } });
  await server.start();
  server.updateConfig({ maxConnections: 500, maxRooms: 5000, heartbeatTimeout: 1000, connectTimeout: 500 });
  server.updateConfig({ hooks: { onRateLimitExceeded: () => false } });
  const config = server.getConfig();
  assert.equal(config.maxConnections, 500);
  assert.equal(config.maxRooms, 5000);
  assert.equal(config.hasCustomRateLimiter, false);
  assert.deepEqual(config.eventRateLimits, []);
  assert.deepEqual(config.hooks.sort(), ['onClientConnect', 'onRateLimitExceeded']);
  server.updateConfig({ hooks: { onClientConnect: null } });
  assert.deepEqual(server.getConfig().hooks, ['onRateLimitExceeded']);
  assert.throws(() => server.updateConfig({ port: 1 }), TypeError);
  assert.throws(() => server.updateConfig({ maxConnections: -1 }), RangeError);
  assert.throws(() => server.updateConfig({ nonsense: 1 }), TypeError);
  // A failed update changes nothing.
  assert.throws(() => server.updateConfig({ maxRooms: 7, maxConnections: 'x' }), RangeError);
  assert.equal(server.getConfig().maxRooms, 5000);
  // The new connectTimeout is live: the sweep re-timed.
  const c = await openWs(server.getPort());
  assert.equal((await c.closed).code, 4004);
  await server.stop();
});

test('updateConfig({ maxConnections }) applies to the next connection', async () => {
  const server = await startServer({ maxConnections: 1 });
  const a = await connect(server, 'ws');
  const refused = await openTcp(server.getTcpPort());
  assert.equal((await refused.closed).code, 4002);
  server.updateConfig({ maxConnections: 2 });
  const b = await connect(server, 'tcp');
  assert.ok(b.id);
  await closeAll(a, b);
  await server.stop();
});

test('constructor validation and the logger option (level string, Logger-like object, false)', async () => {
  assert.throws(() => new StelarServer({ port: -1 }), RangeError);
  assert.throws(() => new StelarServer({ namespace: 'chat' }), TypeError);
  assert.throws(() => new StelarServer({ rateLimit: { maxPoints: 0, windowMs: 10 } }), RangeError);
  assert.throws(() => new StelarServer({ rateLimit: { maxPoints: 5 } }), RangeError);
  assert.throws(() => new StelarServer({ customRateLimiter: { check() {} } }), TypeError);
  const lines = [];
  const logger = { debug: (...a) => lines.push(['debug', ...a]), info: (...a) => lines.push(['info', ...a]), warn: () => {}, error: () => {} };
  const server = new StelarServer({ port: 0, host: HOST, logger });
  await server.start();
  await server.stop();
  assert.ok(lines.some(([level, msg]) => level === 'info' && /listening/.test(msg)));
  const quiet = new StelarServer({ port: 0, host: HOST, logger: 'silent' });
  await quiet.start();
  await quiet.stop();
});

test('lifecycle hooks and handlers: onClientConnect/onConnection, onClientDisconnect/onDisconnect see rooms and metadata', async () => {
  const log = [];
  const server = await startServer({
    generateClientId: () => `user_${log.length}`,
    hooks: {
      onClientConnect: ({ clientId, ip, protocol, metadata }) => log.push(['hookConnect', clientId, ip, protocol, metadata.get('tag')]),
      onClientDisconnect: ({ clientId, protocol, rooms, code }) => log.push(['hookDisconnect', clientId, protocol, [...rooms], code]),
    },
  });
  server.use((ctx, next) => {
    ctx.setMetadata('tag', 't1');
    next();
  });
  server.onConnection((client) => {
    log.push(['onConnection', client.id, client.protocol, client.remoteAddress]);
    client.joinRoom('welcome');
    client.emit('welcome', { id: client.id });
  });
  server.onDisconnect((client, info) => log.push(['onDisconnect', client.id, [...client.clientInfo.rooms], info.code, client.getMetadata('tag')]));
  const c = await connect(server, 'tcp');
  assert.deepEqual(await c.event('welcome'), { id: c.id });
  await c.close(1000);
  await until(() => log.length === 4, 'disconnect hooks');
  assert.deepEqual(log, [
    ['hookConnect', 'user_0', '127.0.0.1', 'tcp', 't1'],
    ['onConnection', 'user_0', 'tcp', '127.0.0.1'],
    ['hookDisconnect', 'user_0', 'tcp', ['welcome'], 1000],
    ['onDisconnect', 'user_0', ['welcome'], 1000, 't1'],
  ]);
  assert.deepEqual(server.getRooms(), []);
  await server.stop();
});

test('onBeforeBroadcast returning false cancels broadcast / to / broadcastBinary', async () => {
  const seen = [];
  const server = await startServer({
    hooks: {
      onBeforeBroadcast: (info) => {
        seen.push(info);
        if (info.event === 'spam') return false;
      },
    },
  });
  const c = await connect(server, 'ws');
  await c.join('r');
  assert.equal(server.broadcast('spam', 1), 0);
  assert.equal(server.to('r', 'spam', 1), 0);
  assert.equal(server.broadcastBinary('spam', Buffer.from('x')), 0);
  assert.equal(server.to('r', 'ok', 2, 'someone'), 1);
  assert.equal(await c.event('ok'), 2);
  assert.equal(
    c.has((p) => p.event === 'spam'),
    false,
  );
  assert.deepEqual(seen.at(-1), { event: 'ok', data: 2, excludeId: 'someone', room: 'r', binary: false });
  assert.equal(seen[2].binary, true);
  await closeAll(c);
  await server.stop();
});

test('getStats counts connections per transport and messages in both directions', async () => {
  const server = await startServer();
  server.on('echo', (ctx) => ctx.emit('echo', ctx.data));
  const ws = await connect(server, 'ws');
  const tcp = await connect(server, 'tcp');
  ws.emit('echo', 1);
  tcp.emit('echo', 2);
  await ws.event('echo');
  await tcp.event('echo');
  server.broadcast('all', 3);
  const s = server.getStats();
  assert.equal(s.totalConnections, 2);
  assert.equal(s.activeConnections, 2);
  assert.equal(s.wsConnections, 1);
  assert.equal(s.tcpConnections, 1);
  assert.equal(s.totalMessagesReceived, 2);
  // 2 Connect answers + 2 echoes + 2 broadcast copies
  assert.equal(s.totalMessagesSent, 6);
  assert.ok(s.uptime >= 0 && Number.isInteger(s.uptimeSeconds));
  assert.ok(s.memoryMB > 0);
  await closeAll(ws, tcp);
  await until(() => server.getStats().activeConnections === 0, 'disconnects');
  assert.equal(server.getStats().totalConnections, 2);
  await server.stop();
});

test('disconnect(id) kicks one client with 4009', async () => {
  const server = await startServer();
  const c = await connect(server, 'tcp');
  assert.equal(server.disconnect(c.id), true);
  assert.equal((await c.closed).code, 4009);
  assert.equal(server.disconnect('nobody'), false);
  assert.throws(() => server.disconnect('nobody', 1006), RangeError);
  await server.stop();
});
