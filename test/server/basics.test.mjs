import { test } from 'node:test';
import assert from 'node:assert/strict';
import DefaultExport, { StelarServer, PacketType, PROTOCOL_VERSION } from '../../dist/index.js';
import { closeAll, connect, startServer } from './helpers.mjs';

test('default export and named export are the same class', () => {
  assert.equal(DefaultExport, StelarServer);
});

test('start() resolves with the port, getPort/getTcpPort report both, stop() releases them', async () => {
  const server = new StelarServer({ port: 0, host: '127.0.0.1', tcpPort: 0, logger: false });
  let cbPort;
  const port = await server.start((p) => (cbPort = p));
  assert.ok(port > 0);
  assert.equal(server.getPort(), port);
  assert.equal(cbPort, port);
  assert.ok(server.getTcpPort() > 0);
  assert.notEqual(server.getTcpPort(), port);
  await server.stop();
  assert.equal(server.getPort(), undefined);
});

test('TCP is off unless tcpPort is given', async () => {
  const server = new StelarServer({ port: 0, host: '127.0.0.1', logger: false });
  await server.start();
  assert.equal(server.getTcpPort(), undefined);
  await server.stop();
});

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: Connect handshake gives the id and the session parameters`, async () => {
    const server = await startServer({ heartbeatInterval: 1234, heartbeatTimeout: 5678, maxPayloadSize: 4096, generateClientId: () => `id-${protocol}` });
    const client = await connect(server, protocol);
    assert.deepEqual(client.connectData, { v: PROTOCOL_VERSION, id: `id-${protocol}`, heartbeatInterval: 1234, heartbeatTimeout: 5678, maxPayloadSize: 4096 });
    await closeAll(client);
    await server.stop();
  });

  test(`${protocol}: on(event) gets a ctx with id, data, eventName, clientInfo and can emit back`, async () => {
    const server = await startServer();
    const seen = [];
    server.on('hello', (ctx) => {
      seen.push({
        id: ctx.id,
        data: ctx.data,
        eventName: ctx.eventName,
        protocol: ctx.clientInfo.protocol,
        addr: ctx.clientInfo.remoteAddress,
        req: ctx.req,
        socketOk: typeof ctx.socket.write === 'function',
      });
      ctx.emit('hello-back', { got: ctx.data.n + 1 });
    });
    const client = await connect(server, protocol);
    client.emit('hello', { n: 41 });
    assert.deepEqual(await client.event('hello-back'), { got: 42 });
    assert.equal(seen.length, 1);
    assert.equal(seen[0].id, client.id);
    assert.deepEqual(seen[0].data, { n: 41 });
    assert.equal(seen[0].eventName, 'hello');
    assert.equal(seen[0].protocol, protocol);
    assert.equal(seen[0].addr, '127.0.0.1');
    assert.equal(seen[0].socketOk, true);
    if (protocol === 'tcp') assert.equal(seen[0].req, null);
    else assert.equal(typeof seen[0].req.headers, 'object');
    await closeAll(client);
    await server.stop();
  });

  test(`${protocol}: Ping is answered with a Pong carrying the same body`, async () => {
    const server = await startServer();
    const client = await connect(server, protocol);
    client.ping(Buffer.from('abc'));
    const pong = await client.next(PacketType.PONG);
    assert.equal(Buffer.from(pong.data).toString(), 'abc');
    await closeAll(client);
    await server.stop();
  });
}

test("a WS client and a TCP client in one room see each other's messages", async () => {
  const server = await startServer();
  server.on('say', (ctx) => {
    for (const room of ctx.clientInfo.rooms) ctx.to(room, 'said', { from: ctx.clientInfo.protocol, text: ctx.data.text }, ctx.id);
  });
  const ws = await connect(server, 'ws');
  const tcp = await connect(server, 'tcp');
  const outsider = await connect(server, 'ws');
  assert.equal((await ws.join('lobby')).type, PacketType.JOIN_ROOM);
  assert.equal((await tcp.join('lobby')).type, PacketType.JOIN_ROOM);
  ws.emit('say', { text: 'from browser' });
  tcp.emit('say', { text: 'from service' });
  assert.deepEqual(await tcp.event('said'), { from: 'ws', text: 'from browser' });
  assert.deepEqual(await ws.event('said'), { from: 'tcp', text: 'from service' });
  assert.deepEqual(server.getRoomMembers('lobby').sort(), [ws.id, tcp.id].sort());
  // The outsider is in no room: a ping round trip proves nothing was queued for it.
  outsider.ping();
  await outsider.next(PacketType.PONG);
  assert.equal(
    outsider.has((p) => p.event === 'said'),
    false,
  );
  await closeAll(ws, tcp, outsider);
  await server.stop();
});

test('broadcast reaches WS and TCP clients alike and honours excludeId', async () => {
  const server = await startServer();
  const a = await connect(server, 'ws');
  const b = await connect(server, 'tcp');
  const c = await connect(server, 'tcp');
  assert.equal(server.broadcast('news', { n: 1 }, c.id), 2);
  assert.deepEqual(await a.event('news'), { n: 1 });
  assert.deepEqual(await b.event('news'), { n: 1 });
  server.broadcast('news', { n: 2 });
  assert.deepEqual(await c.event('news'), { n: 2 }); // c's first news is n=2: it was excluded from n=1
  await closeAll(a, b, c);
  await server.stop();
});
