// Connection-state recovery on a single node (the in-memory history): the client keeps its id,
// rooms and metadata and gets exactly the messages it missed, in order, or a new session and a
// `recovery_failed` event when that cannot be guaranteed. Over WebSocket and TCP.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StelarServer, StelarClient } from '../../dist/index.js';
import { decodePacket, encodePacket, PacketType } from '../../dist/protocol/index.js';
import { connectWebSocket } from '../../dist/websocket/index.js';
import { joinRoom, next, until } from './helpers.mjs';

async function startServer(recovery) {
  const server = new StelarServer({ port: 0, host: '127.0.0.1', tcpPort: 0, logger: 'silent', gracefulShutdown: false, recovery });
  const port = await server.start();
  const sockets = new Map();
  server.onConnection((ctx) => {
    sockets.set(ctx.id, ctx.socket);
    if (!ctx.getMetadata('user')) ctx.setMetadata('user', `user-of-${ctx.id}`);
  });
  return { server, port, tcpPort: server.getTcpPort(), cut: (id) => sockets.get(id)?.destroy() };
}

const addr = (srv, mode) => `127.0.0.1:${mode === 'tcp' ? srv.tcpPort : srv.port}`;

function recoveringClient(srv, mode, extra = {}) {
  const client = new StelarClient(addr(srv, mode), { mode, logger: 'silent', recovery: true, customReconnectDelay: () => 150, ...extra });
  const got = [];
  client.on('m', (d) => got.push(d));
  return { client, got };
}

for (const mode of ['ws', 'tcp']) {
  describe(`recovery on one node over ${mode}`, () => {
    const servers = [];
    const clients = [];
    after(async () => {
      for (const c of clients) c.disconnect();
      for (const s of servers) await s.server.stop();
    });

    test('a client that comes back in time keeps id, rooms and metadata and gets exactly what it missed, in order', async () => {
      const srv = await startServer({ maxDisconnectionDuration: 10_000 });
      servers.push(srv);
      const { client, got } = recoveringClient(srv, mode);
      clients.push(client);
      const [first] = await (client.connect(), next(client, 'connect'));
      assert.deepEqual(first, { recovered: false });
      assert.equal(client.isRecovered(), false);
      const id = client.getId();
      await joinRoom(client, 'r');
      srv.server.to('r', 'm', 0);
      await until(() => got.length === 1, 'the live message');

      // While it is away: room messages, a broadcast, a toId, and one for a room it is not in.
      let away = true;
      srv.server.onDisconnect(() => {
        if (!away) return;
        away = false;
        srv.server.to('r', 'm', 1);
        srv.server.to('other', 'm', 'not for it');
        srv.server.broadcast('m', 2);
        srv.server.toId(id, 'm', 3);
        srv.server.broadcast('m', 'excluded', id);
        srv.server.to('r', 'm', 4);
      });
      const failed = [];
      client.on('recovery_failed', (info) => failed.push(info));
      const reconnected = next(client, 'connect');
      srv.cut(id);
      const [info] = await reconnected;
      assert.deepEqual(info, { recovered: true });
      assert.equal(client.isRecovered(), true);
      assert.equal(client.getId(), id, 'same id');
      await until(() => got.length === 5, 'the missed messages');
      assert.deepEqual(got, [0, 1, 2, 3, 4], 'exactly the missed messages, in order');
      assert.deepEqual(failed, []);
      assert.deepEqual(srv.server.getRoomMembers('r'), [id], 'room membership restored');
      const [row] = srv.server.getClients().filter((c) => c.id === id);
      assert.equal(row.metadata.user, `user-of-${id}`, 'metadata restored');

      // Live again: nothing replayed twice.
      srv.server.to('r', 'm', 5);
      await until(() => got.length === 6, 'the next live message');
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
    });

    test('too late: a new session (new id) and recovery_failed', async () => {
      const srv = await startServer({ maxDisconnectionDuration: 200 });
      servers.push(srv);
      const { client, got } = recoveringClient(srv, mode, { customReconnectDelay: () => 700 });
      clients.push(client);
      await (client.connect(), next(client, 'connect'));
      const id = client.getId();
      await joinRoom(client, 'r');
      srv.server.onDisconnect(() => srv.server.to('r', 'm', 'missed'));
      const failed = next(client, 'recovery_failed');
      const reconnected = next(client, 'connect');
      srv.cut(id);
      const [reason] = await failed;
      assert.deepEqual(reason, { reason: 'session_not_found' });
      const [info] = await reconnected;
      assert.deepEqual(info, { recovered: false });
      assert.equal(client.isRecovered(), false);
      assert.notEqual(client.getId(), id, 'a new id');
      assert.deepEqual(got, [], 'nothing replayed');
      // The client re-joined its rooms itself, as after any reconnection.
      await until(() => srv.server.getRoomMembers('r').includes(client.getId()), 're-joined');
    });

    test('history trimmed past the offset: refused (never partial)', async () => {
      const srv = await startServer({ maxDisconnectionDuration: 10_000, maxMessages: 3 });
      servers.push(srv);
      const { client, got } = recoveringClient(srv, mode);
      clients.push(client);
      await (client.connect(), next(client, 'connect'));
      const id = client.getId();
      await joinRoom(client, 'r');
      srv.server.onDisconnect(() => {
        for (let i = 0; i < 6; i++) srv.server.to('r', 'm', i);
      });
      const failed = next(client, 'recovery_failed');
      srv.cut(id);
      const [reason] = await failed;
      assert.deepEqual(reason, { reason: 'history_trimmed' });
      await until(() => client.isConnected(), 'connected again');
      assert.equal(client.isRecovered(), false);
      assert.deepEqual(got, []);
    });

    test('a deliberate disconnect ends the session: no resume is attempted', async () => {
      const srv = await startServer(true);
      servers.push(srv);
      const { client } = recoveringClient(srv, mode);
      clients.push(client);
      await (client.connect(), next(client, 'connect'));
      const id = client.getId();
      client.disconnect();
      const failed = [];
      client.on('recovery_failed', (i) => failed.push(i));
      const [info] = await (client.connect(), next(client, 'connect'));
      assert.deepEqual(info, { recovered: false });
      assert.notEqual(client.getId(), id);
      assert.deepEqual(failed, [], 'nothing asked, nothing refused');
    });
  });
}

test('wire: offsets ride only with sessions that asked (event NUL offset), as PROTOCOL.md describes', async () => {
  const server = new StelarServer({ port: 0, host: '127.0.0.1', logger: 'silent', gracefulShutdown: false, recovery: true });
  const port = await server.start();
  try {
    const open = async (data) => {
      const ws = await connectWebSocket(`ws://127.0.0.1:${port}/`);
      const packets = [];
      ws.on('message', (buf) => packets.push(decodePacket(buf)));
      ws.send(encodePacket({ type: PacketType.CONNECT, event: '', data }), { binary: true });
      await until(() => packets.length === 1, 'Connect');
      return { ws, packets };
    };
    const plain = await open({ v: 1 });
    const asked = await open({ v: 1, recovery: {} });
    assert.equal(plain.packets[0].data.recovery, undefined, 'no recovery fields for a client that did not ask');
    const grant = asked.packets[0].data;
    assert.equal(grant.recovered, false);
    assert.match(grant.recovery.token, /^[A-Za-z0-9_-]{20,}$/);
    assert.match(grant.recovery.offset, /^[A-Za-z0-9]+:\d+$/);
    server.broadcast('hello', { n: 1 });
    await until(() => plain.packets.length === 2 && asked.packets.length === 2, 'the broadcast');
    assert.deepEqual(plain.packets[1], { type: PacketType.JSON, event: 'hello', data: { n: 1 } });
    const [name, offset] = asked.packets[1].event.split('\u0000');
    assert.equal(name, 'hello');
    const [epoch, pos] = offset.split(':');
    assert.equal(epoch, grant.recovery.offset.split(':')[0], 'same epoch');
    assert.equal(Number(pos), Number(grant.recovery.offset.split(':')[1]) + 1, 'the next position');
    assert.deepEqual(asked.packets[1].data, { n: 1 });
    plain.ws.close();
    asked.ws.close();
  } finally {
    await server.stop();
  }
});

test('a forged token or an unknown id does not resume anything, nor destroy the saved session', async () => {
  const srv = await startServer({ maxDisconnectionDuration: 10_000 });
  const { client, got } = recoveringClient(srv, 'ws', { customReconnectDelay: () => 400 });
  try {
    await (client.connect(), next(client, 'connect'));
    const id = client.getId();
    await joinRoom(client, 'r');
    let once = true;
    srv.server.onDisconnect(() => {
      if (once) srv.server.to('r', 'm', 'missed');
      once = false;
    });
    srv.cut(id);
    // An attacker who knows the id tries first, with a made-up token.
    const ws = await connectWebSocket(`ws://127.0.0.1:${srv.port}/`);
    const packets = [];
    ws.on('message', (buf) => packets.push(decodePacket(buf)));
    ws.send(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1, recovery: { id, token: 'guess', offset: 'abc:0' } } }), { binary: true });
    await until(() => packets.length >= 1, 'Connect');
    assert.equal(packets[0].data.recovered, false);
    assert.equal(packets[0].data.recovery.reason, 'session_not_found');
    assert.notEqual(packets[0].data.id, id);
    ws.close();
    // The real client still gets its session back.
    const [info] = await next(client, 'connect');
    assert.deepEqual(info, { recovered: true });
    await until(() => got.length === 1, 'the missed message');
    assert.deepEqual(got, ['missed']);
  } finally {
    client.disconnect();
    await srv.server.stop();
  }
});
