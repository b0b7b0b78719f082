import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, httpRequest, openTcp, openWs, selfSignedCert, startServer } from './helpers.mjs';

test('tls: { key, cert } serves wss://, TLS over TCP and https health with one certificate', async () => {
  const { key, cert } = selfSignedCert();
  const server = await startServer({ tls: { key, cert } });
  server.on('hello', (ctx) => ctx.emit('hello', { protocol: ctx.protocol, encrypted: ctx.socket.encrypted === true }));
  const ws = await openWs(server.getPort(), { secure: true, ca: cert });
  await ws.handshake();
  const tcp = await openTcp(server.getTcpPort(), { secure: true, ca: cert });
  await tcp.handshake();
  ws.emit('hello');
  tcp.emit('hello');
  assert.deepEqual(await ws.event('hello'), { protocol: 'ws', encrypted: true });
  assert.deepEqual(await tcp.event('hello'), { protocol: 'tcp', encrypted: true });
  const health = await httpRequest(server.getPort(), '/health', { secure: true, ca: cert });
  assert.equal(health.status, 200);
  assert.equal(health.body.activeConnections, 2);
  // A plaintext client gets nowhere on the TLS ports.
  await assert.rejects(openWs(server.getPort()));
  assert.equal(server.getConfig().tls, true);
  await closeAll(ws, tcp);
  await server.stop();
});
