import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, PacketType } from '../../dist/index.js';
import { closeAll, connect, startServer } from './helpers.mjs';

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: onAck return values (sync and async) resolve, throws reject with message and code`, async () => {
    const server = await startServer();
    server.onAck('getUsers', () => ({ users: ['John', 'Mary', 'Peter'] }));
    server.onAck('slow', async (ctx) => {
      await new Promise((r) => setTimeout(r, 10));
      return { echo: ctx.data };
    });
    server.onAck('validateToken', (ctx) => {
      if (ctx.data.token !== 'ok') throw new Error('Invalid token');
      return { userId: 123 };
    });
    server.onAck('rejects', async () => {
      throw Object.assign(new Error('custom'), { code: 'E_CUSTOM' });
    });
    server.onAck('getUser', (ctx) => ({ id: ctx.data.id, name: 'John', role: ctx.getMetadata('role') }));
    server.onConnection((client) => client.setMetadata('role', 'user'));
    const c = await connect(server, protocol);

    let r = await c.request('getUsers', {}, 'getUsers');
    assert.equal(r.ok, true);
    assert.deepEqual(r.data, { users: ['John', 'Mary', 'Peter'] });
    r = await c.request('slow', 7);
    assert.deepEqual(r.data, { echo: 7 });
    r = await c.request('validateToken', { token: 'abc' });
    assert.equal(r.ok, false);
    assert.equal(r.data.message, 'Invalid token');
    assert.equal(r.data.code, ErrorCode.ACK_FAILED);
    r = await c.request('validateToken', { token: 'ok' });
    assert.deepEqual([r.ok, r.data], [true, { userId: 123 }]);
    r = await c.request('rejects', null);
    assert.deepEqual([r.ok, r.data], [false, { message: 'custom', code: 'E_CUSTOM' }]);
    r = await c.request('getUser', { id: 1 }, 'getUser');
    assert.deepEqual(r.data, { id: 1, name: 'John', role: 'user' });
    // The ack name can differ from the event name.
    r = await c.request('someEvent', {}, 'getUsers');
    assert.equal(r.ok, true);
    assert.equal(r.event, 'getUsers');
    await closeAll(c);
    await server.stop();
  });
}

test('without onAck, on() handlers answer through ctx.ack / ctx.send / a return value; none at all -> NO_ACK_HANDLER', async () => {
  const server = await startServer();
  server.on('viaAck', (ctx) => {
    ctx.ack('viaAck', { how: 'ack' });
    ctx.ack('viaAck', { how: 'second' }); // a second answer is unsolicited (id 0)
  });
  server.on('viaSend', (ctx) => {
    ctx.send('response', { how: 'send' });
  });
  server.on('viaReturn', () => ({ how: 'return' }));
  const c = await connect(server, 'tcp');
  let r = await c.request('viaAck', null);
  assert.deepEqual(r.data, { how: 'ack' });
  const extra = await c.waitFor((p) => p.type === PacketType.ACK_RESPONSE && p.ackId === 0);
  assert.deepEqual(extra.data, { how: 'second' });
  r = await c.request('viaSend', null);
  assert.deepEqual(r.data, { how: 'send' });
  r = await c.request('viaReturn', null);
  assert.deepEqual(r.data, { how: 'return' });
  r = await c.request('nobody', null);
  assert.equal(r.ok, false);
  assert.equal(r.data.code, ErrorCode.NO_ACK_HANDLER);
  await closeAll(c);
  await server.stop();
});

test('ctx.ack outside a request sends an unsolicited ACK response (id 0); ctx.send outside a request is emit', async () => {
  const server = await startServer();
  server.on('poke', (ctx) => {
    ctx.ack('notice', { n: 1 });
    ctx.send('plain', { n: 2 });
  });
  const c = await connect(server, 'ws');
  c.emit('poke');
  const ack = await c.next(PacketType.ACK_RESPONSE);
  assert.deepEqual([ack.ackId, ack.event, ack.data], [0, 'notice', { n: 1 }]);
  assert.deepEqual(await c.event('plain'), { n: 2 });
  await closeAll(c);
  await server.stop();
});

test('binary: ctx.data is a Buffer; broadcastBinary / emitBinary reach WS and TCP clients byte-exact', async () => {
  const server = await startServer();
  const received = [];
  server.on('file', (ctx) => {
    received.push(ctx.data);
    ctx.broadcastBinary('file', ctx.data); // excluding the sender
    ctx.emitBinary('file-ack', Buffer.from([ctx.data.length]));
  });
  const sender = await connect(server, 'ws');
  const tcp = await connect(server, 'tcp');
  const ws = await connect(server, 'ws');
  const payload = Buffer.from(Array.from({ length: 70000 }, (_, i) => i % 251));
  sender.emitBinary('file', payload);
  const got = await sender.waitFor((p) => p.type === PacketType.BINARY && p.event === 'file-ack');
  assert.deepEqual([...got.data], [70000 % 256]);
  assert.ok(Buffer.isBuffer(received[0]));
  assert.ok(received[0].equals(payload));
  for (const c of [tcp, ws]) {
    const p = await c.next(PacketType.BINARY, 'file');
    assert.ok(Buffer.from(p.data).equals(payload));
  }
  assert.equal(server.broadcastBinary('blob', new Uint8Array([1, 2, 3])), 3);
  for (const c of [sender, tcp, ws]) assert.deepEqual([...(await c.next(PacketType.BINARY, 'blob')).data], [1, 2, 3]);
  await closeAll(sender, tcp, ws);
  await server.stop();
});

test('onAll sees every event with its name, before the event handlers; handler errors do not hurt the server', async () => {
  const server = await startServer();
  const log = [];
  server.onAll((ctx) => log.push(`all:${ctx.eventName}`));
  server.on('a', (_ctx) => {
    log.push('a');
    throw new Error('handler bug');
  });
  server.on('a', async () => {
    log.push('a2');
    throw new Error('async handler bug');
  });
  server.on('done', (ctx) => ctx.emit('done'));
  const c = await connect(server, 'tcp');
  c.emit('a', 1);
  c.emitBinary('b', Buffer.from('x'));
  c.emit('done');
  await c.event('done');
  assert.deepEqual(log, ['all:a', 'a', 'a2', 'all:b', 'all:done']);
  await closeAll(c);
  await server.stop();
});

test('toId is delivered to exactly that client (O(1) map); unknown ids return false', async () => {
  const server = await startServer();
  const a = await connect(server, 'ws');
  const b = await connect(server, 'tcp');
  server.on('dm', (ctx) => ctx.toId(ctx.data.to, 'dm', { from: ctx.id }));
  a.emit('dm', { to: b.id });
  assert.deepEqual(await b.event('dm'), { from: a.id });
  assert.equal(server.toId(a.id, 'direct', 5), true);
  assert.equal(await a.event('direct'), 5);
  assert.equal(server.toId('no-such-id', 'direct', 5), false);
  await closeAll(a, b);
  await server.stop();
});

test('bytes passed to emit / to / toId / broadcast travel as Binary packets, never as JSON', async () => {
  const server = await startServer();
  const bytes = Buffer.from([0, 1, 2, 250, 255]);
  server.on('go', (ctx) => {
    ctx.joinRoom('r');
    ctx.emit('self', bytes);
    ctx.to('r', 'room', new Uint8Array(bytes));
    ctx.toId(ctx.id, 'direct', bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    server.broadcast('all', bytes);
    server.to('r', 'json', { n: 1 });
  });
  const c = await connect(server, 'ws');
  c.emit('go', null);
  for (const event of ['self', 'room', 'direct', 'all']) {
    const p = await c.waitFor((q) => q.event === event);
    assert.equal(p.type, PacketType.BINARY, `${event} is binary`);
    assert.deepEqual(Buffer.from(p.data), bytes, `${event} bytes unchanged`);
  }
  const json = await c.waitFor((q) => q.event === 'json');
  assert.equal(json.type, PacketType.JSON);
  assert.deepEqual(json.data, { n: 1 });
  await closeAll(c);
  await server.stop();
});
