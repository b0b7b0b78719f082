// The server goes away and comes back on the same port while the client keeps emitting:
// the client reconnects by itself, re-joins its rooms before anything else, and the new
// server receives every queued message exactly once, in order. Once per transport, plus TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { next, selfSignedCert, startServer, StelarClient, until } from './helpers/server.mjs';

async function restartScenario({ mode, tls }) {
  const serverOptions = tls ? { tls } : {};
  const first = await startServer(serverOptions);
  const port = mode === 'tcp' ? first.tcpPort : first.port;
  const url = mode === 'tcp' ? `127.0.0.1:${port}` : `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}`;
  const queuedSizes = [];
  const drained = [];
  const states = [];
  const client = new StelarClient(url, {
    mode,
    tls: Boolean(tls),
    rejectUnauthorized: false,
    logger: 'silent',
    reconnectionDelay: 20,
    maxReconnectionDelay: 100,
    reconnectionAttempts: Infinity,
    hooks: {
      onMessageQueued: ({ queueSize }) => queuedSizes.push(queueSize),
      onQueueDrained: ({ count }) => drained.push(count),
      onStateChange: ({ to }) => states.push(to),
    },
  });
  client.on('error', () => {}); // refused connections while the server is down
  client.joinRoom('room-a');
  client.joinRoom('room-b');
  const firstConnect = next(client, 'connect');
  client.connect();
  await firstConnect;
  const firstId = client.getId();
  assert.deepEqual(first.server.getRoomMembers('room-a'), [firstId]);

  // Down: the client notices and starts reconnecting.
  const disc = next(client, 'disconnect');
  await first.server.stop();
  await disc;
  assert.notEqual(client.getState(), 'connected');
  const N = 20;
  for (let i = 1; i <= N; i++) client.emit('seq', i);
  const pendingRequest = client.request('echo', { ok: 1 }, 'echo');
  assert.equal(client.getQueueSize(), N + 1);
  client.leaveRoom('room-b'); // forgotten while offline: not re-joined

  // Back on the same port.
  const seen = [];
  const roomsWhenFirstArrived = [];
  const second = await startServer({ ...serverOptions, port: mode === 'ws' ? port : 0, tcpPort: mode === 'tcp' ? port : 0 });
  second.server.on('seq', (ctx) => {
    if (seen.length === 0) roomsWhenFirstArrived.push(...ctx.clientInfo.rooms);
    seen.push(ctx.data);
  });
  second.server.onAck('echo', (ctx) => ctx.data);
  const reconnected = next(client, 'connect', 15000);
  await reconnected;
  assert.notEqual(client.getId(), firstId, 'a new session');
  assert.deepEqual(await pendingRequest, { ok: 1 }, 'the queued request was answered by the new server');
  client.emit('seq', 'last'); // sent live, after the queue
  await until(() => seen.includes('last'), 'the live message after the queue');
  assert.deepEqual(seen, [...Array.from({ length: N }, (_, i) => i + 1), 'last'], 'each queued message once, in order, before the live one');
  assert.deepEqual(roomsWhenFirstArrived, ['room-a'], 'rooms re-joined before the queue was sent');
  assert.deepEqual(second.server.getRoomMembers('room-a'), [client.getId()]);
  assert.deepEqual(second.server.getRoomMembers('room-b'), []);
  assert.deepEqual(
    queuedSizes,
    Array.from({ length: N + 1 }, (_, i) => i + 1),
  );
  assert.deepEqual(drained, [N + 1]);
  assert.ok(states.includes('reconnecting'));
  assert.equal(client.getQueueSize(), 0);
  client.disconnect();
  await second.server.stop();
}

test('ws: server restart on the same port, queue flushed once in order, rooms re-joined', () => restartScenario({ mode: 'ws' }));
test('tcp: server restart on the same port, queue flushed once in order, rooms re-joined', () => restartScenario({ mode: 'tcp' }));

const cert = selfSignedCert();
test('wss: the same over TLS (self-signed, rejectUnauthorized false)', () => restartScenario({ mode: 'ws', tls: cert }));
test('tcp+tls: the same over TLS', () => restartScenario({ mode: 'tcp', tls: cert }));
