// After middleware a WebSocket session keeps only { method, url, headers, httpVersion } of the
// upgrade request, without the headers that only served the handshake (memory per idle client).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, connect, startServer } from './helpers.mjs';

test('ctx.req in middleware is the full request; in handlers the slim one without handshake-only headers', async () => {
  const server = await startServer();
  let inMiddleware;
  server.use((ctx, next) => {
    inMiddleware = { key: ctx.req.headers['sec-websocket-key'], hasSocket: ctx.req.socket !== undefined };
    next();
  });
  let inHandler;
  server.on('who', (ctx) => {
    inHandler = ctx.req;
    ctx.emit('ok');
  });
  const ws = await connect(server, 'ws', { headers: { authorization: 'Bearer t0k', 'x-app': 'demo' } });
  // The Node StelarClient carries its Connect in the upgrade: it served the handshake only.
  const { StelarClient } = await import('../../dist/client/index.js');
  const sc = new StelarClient(server.getPort());
  const viaClient = new Promise((resolve) => server.on('who2', (ctx) => resolve(ctx.req)));
  await new Promise((resolve) => sc.connect(resolve));
  sc.emit('who2');
  const slimFromClient = await viaClient;
  sc.disconnect();
  assert.equal('x-stelar-connect' in slimFromClient.headers, false, 'x-stelar-connect dropped');
  ws.emit('who');
  await ws.event('ok');
  assert.equal(typeof inMiddleware.key, 'string');
  assert.equal(inMiddleware.hasSocket, true);
  assert.deepEqual(Object.keys(inHandler).sort(), ['headers', 'httpVersion', 'method', 'url']);
  assert.equal(inHandler.method, 'GET');
  assert.equal(typeof inHandler.url, 'string');
  assert.equal(inHandler.headers.authorization, 'Bearer t0k');
  assert.equal(inHandler.headers['x-app'], 'demo');
  assert.equal(typeof inHandler.headers.host, 'string');
  for (const name of ['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions']) {
    assert.equal(name in inHandler.headers, false, `${name} dropped`);
  }
  await closeAll(ws);
  await server.stop();
});
