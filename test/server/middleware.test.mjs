import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, PacketType } from '../../dist/index.js';
import { closeAll, connect, openTcp, openWs, startServer } from './helpers.mjs';

async function open(server, protocol, opts) {
  return protocol === 'tcp' ? openTcp(server.getTcpPort()) : openWs(server.getPort(), opts);
}

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: a middleware that never calls next() refuses the client at connectTimeout: Error MIDDLEWARE_REJECTED then close 4001 (the 3.2 contract)`, async () => {
    const server = await startServer({ connectTimeout: 300 });
    let connected = 0;
    server.onConnection(() => connected++);
    server.use((ctx, next) => {
      if (ctx.data?.token === 'good') next();
    });
    const started = Date.now();
    const bad = await open(server, protocol);
    bad.sendConnect({ token: 'bad' });
    const err = await bad.next(PacketType.ERROR);
    assert.equal(err.event, ErrorCode.MIDDLEWARE_REJECTED);
    assert.match(err.data.message, /did not call next\(\)/);
    assert.ok(Date.now() - started >= 250, 'refused before connectTimeout');
    assert.equal((await bad.closed).code, 4001);
    assert.equal(
      bad.has((p) => p.type === PacketType.CONNECT),
      false,
    );

    const good = await connect(server, protocol, { auth: { token: 'good' } });
    assert.ok(good.id);
    assert.equal(connected, 1);
    await closeAll(good);
    await server.stop();
  });

  test(`${protocol}: next() called later from a callback (verify(token, cb)) accepts; next(err) from a callback rejects (4001)`, async () => {
    const server = await startServer({ connectTimeout: 2000 });
    const verify = (token, cb) => setTimeout(() => cb(token === 'good' ? null : new Error('bad token')), 30);
    server.use((ctx, next) => {
      verify(ctx.data?.token, (err) => (err ? next(err) : next()));
    });
    const good = await connect(server, protocol, { auth: { token: 'good' } });
    assert.ok(good.id);
    const bad = await open(server, protocol);
    bad.sendConnect({ token: 'nope' });
    const err = await bad.next(PacketType.ERROR);
    assert.equal(err.event, ErrorCode.MIDDLEWARE_REJECTED);
    assert.equal(err.data.message, 'bad token');
    assert.equal((await bad.closed).code, 4001);
    await closeAll(good);
    await server.stop();
  });

  test(`${protocol}: ctx.ack('error', ...) in middleware sends an ACK response with id 0; next(err) then refuses at once`, async () => {
    const server = await startServer();
    server.use((ctx, next) => {
      if (!ctx.data?.token) {
        ctx.ack('error', { message: 'Token required' });
        return next(new Error('Token required'));
      }
      next();
    });
    const client = await open(server, protocol);
    client.sendConnect();
    const ack = await client.next(PacketType.ACK_RESPONSE);
    assert.equal(ack.event, 'error');
    assert.equal(ack.ackId, 0);
    assert.equal(ack.ok, true);
    assert.deepEqual(ack.data, { message: 'Token required' });
    // The ACK response came first, then the Error packet.
    assert.equal(client.inbox[0]?.type, PacketType.ERROR);
    assert.equal((await client.closed).code, 4001);
    await server.stop();
  });

  test(`${protocol}: async middleware may accept later; next(err) and throws reject with their message`, async () => {
    const server = await startServer();
    server.use(async (ctx, next) => {
      await new Promise((r) => setTimeout(r, 20));
      if (ctx.data === 'throw') throw new Error('boom in middleware');
      if (ctx.data === 'next-err') return next(new Error('denied by next'));
      ctx.setMetadata('user', ctx.data);
      next();
    });
    const seen = [];
    server.onConnection((client) => seen.push(client.getMetadata('user')));
    const ok = await connect(server, protocol, { auth: 'alice' });
    assert.deepEqual(seen, ['alice']);
    for (const [auth, message] of [
      ['throw', 'boom in middleware'],
      ['next-err', 'denied by next'],
    ]) {
      const c = await open(server, protocol);
      c.sendConnect(auth);
      const err = await c.next(PacketType.ERROR);
      assert.equal(err.event, ErrorCode.MIDDLEWARE_REJECTED);
      assert.equal(err.data.message, message);
      assert.equal((await c.closed).code, 4001);
    }
    await closeAll(ok);
    await server.stop();
  });

  test(`${protocol}: ctx.socket.destroy() in middleware drops the connection and stops the chain`, async () => {
    const server = await startServer();
    let secondRan = false;
    server.use((ctx, next) => {
      if (ctx.data === 'blocked') return ctx.socket.destroy();
      next();
    });
    server.use((_ctx, next) => {
      secondRan = true;
      next();
    });
    const c = await open(server, protocol);
    c.sendConnect('blocked');
    const info = await c.closed;
    assert.ok(info.code === 1006 || info.code === 1005, `code ${info.code}`);
    assert.equal(secondRan, false);
    assert.equal(server.getStats().activeConnections, 0);
    await server.stop();
  });

  test(`${protocol}: anything but Ping during the handshake is refused with 1002`, async () => {
    const server = await startServer();
    let release;
    // Pending promise: the handshake stays open until release().
    server.use(
      (_ctx, next) =>
        new Promise((resolve) => {
          release = () => {
            next();
            resolve();
          };
        }),
    );
    const c = await open(server, protocol);
    c.sendConnect();
    c.ping(Buffer.from('p'));
    assert.equal(Buffer.from((await c.next(PacketType.PONG)).data).toString(), 'p');
    c.emit('early', 1);
    const err = await c.next(PacketType.ERROR);
    assert.equal(err.event, ErrorCode.PACKET_UNEXPECTED);
    assert.equal((await c.closed).code, 1002);
    release();
    await server.stop();
  });
}

test('middlewares run in order; ctx.req is the upgrade request for WS (headers) and null for TCP', async () => {
  const server = await startServer();
  const order = [];
  const reqs = [];
  server.use((ctx, next) => {
    order.push('a');
    reqs.push(ctx.req === null ? null : ctx.req.headers.authorization);
    next();
  });
  server.use((_ctx, next) => {
    order.push('b');
    next();
  });
  let handlerReq;
  server.on('who', (ctx) => {
    handlerReq = ctx.req?.headers?.authorization;
    ctx.emit('ok');
  });
  const ws = await connect(server, 'ws', { headers: { authorization: 'Bearer t0k' } });
  const tcp = await connect(server, 'tcp');
  assert.deepEqual(order, ['a', 'b', 'a', 'b']);
  assert.deepEqual(reqs, ['Bearer t0k', null]);
  ws.emit('who');
  await ws.event('ok');
  assert.equal(handlerReq, 'Bearer t0k');
  await closeAll(ws, tcp);
  await server.stop();
});

test('a packet other than Connect first is refused with 1002; no Connect at all times out with 4004', async () => {
  const server = await startServer({ connectTimeout: 200 });
  const early = await openWs(server.getPort());
  early.emit('hi', 1);
  assert.equal((await early.next(PacketType.ERROR)).event, ErrorCode.PACKET_UNEXPECTED);
  assert.equal((await early.closed).code, 1002);

  const silentWs = await openWs(server.getPort());
  const silentTcp = await openTcp(server.getTcpPort());
  for (const c of [silentWs, silentTcp]) {
    assert.equal((await c.next(PacketType.ERROR)).event, ErrorCode.CONNECT_TIMEOUT);
    assert.equal((await c.closed).code, 4004);
  }
  await server.stop();
});

test('a Connect with an unsupported protocol version is refused with 1002', async () => {
  const server = await startServer();
  const c = await openTcp(server.getTcpPort());
  c.sendPacket({ type: PacketType.CONNECT, event: '', data: { v: 99 } });
  const err = await c.next(PacketType.ERROR);
  assert.match(err.data.message, /99/);
  assert.equal((await c.closed).code, 1002);
  await server.stop();
});
