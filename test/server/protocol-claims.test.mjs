// What docs/PROTOCOL.md says about the reference server beyond the packet conversations of
// docs/protocol-vectors.json (issue 19): the heartbeat's real bound, closing over TLS, the
// WebSocket upgrade's Host and path rules, empty close payloads, which code each side
// reports per transport, and rooms the server changes on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { sweepInterval } from '../../dist/server/heartbeat.js';
import { closeAll, connect, delay, encodePacket, HOST, openTcp, PacketType, selfSignedCert, startServer, until } from './helpers.mjs';

test('heartbeat: a silent client is closed after heartbeatTimeout, at most one sweep period later', async () => {
  const heartbeatTimeout = 400;
  const period = sweepInterval(heartbeatTimeout, 10_000);
  assert.equal(period, 100, 'a quarter of the shorter deadline');
  assert.equal(sweepInterval(60_000, 10_000), 1000, 'capped at 1 s');
  assert.equal(sweepInterval(40, 40), 25, 'at least 25 ms');
  const server = await startServer({ heartbeatTimeout });
  for (const protocol of ['ws', 'tcp']) {
    const client = await connect(server, protocol);
    const lastPacket = Date.now(); // the handshake was the client's last packet
    const err = await client.next(PacketType.ERROR);
    const after = Date.now() - lastPacket;
    assert.equal(err.event, 'STELAR_ERR_HEARTBEAT_TIMEOUT');
    assert.equal((await client.closed).code, 4005);
    assert.ok(after >= heartbeatTimeout, `${protocol}: closed after ${after} ms, before the timeout`);
    // One sweep period late at most, plus slack for a loaded test machine.
    assert.ok(after <= heartbeatTimeout + period + 1000, `${protocol}: closed after ${after} ms`);
  }
  await server.stop();
});

test('TLS: a Disconnect then a bare FIN, or then close_notify, both count; close_notify alone is a lost connection (1006)', async () => {
  const { key, cert } = selfSignedCert();
  const server = await startServer({ tls: { key, cert } });
  const closes = [];
  server.onDisconnect((_ctx, info) => closes.push(info.code));
  const open = async () => {
    const raw = net.connect(server.getTcpPort(), HOST);
    await new Promise((resolve) => raw.once('connect', resolve));
    const socket = tls.connect({ socket: raw, rejectUnauthorized: false });
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1 } }, 4));
    await until(() => server.getClients().length === 1, 'accepted');
    return { raw, socket };
  };
  const disconnect = (code) => encodePacket({ type: PacketType.DISCONNECT, event: '', data: { code, reason: 'bye' } }, 4);

  let c = await open();
  c.socket.write(disconnect(4100));
  await delay(50);
  c.raw.end(); // FIN under the TLS layer: no close_notify
  await until(() => closes.length === 1, 'first close');
  c.raw.destroy();

  c = await open();
  c.socket.write(disconnect(4101));
  c.socket.end(); // close_notify, then FIN
  await until(() => closes.length === 2, 'second close');

  c = await open();
  c.socket.end(); // no Disconnect
  await until(() => closes.length === 3, 'third close');
  assert.deepEqual(closes, [4100, 4101, 1006]);
  await server.stop();
});

test('TLS: the server closes with its Disconnect, then close_notify, then FIN', async () => {
  const { key, cert } = selfSignedCert();
  const server = await startServer({ tls: { key, cert } });
  const fromServer = [];
  let fin = false;
  // A byte-recording proxy between the TLS client and the server.
  const proxy = net.createServer((down) => {
    const up = net.connect(server.getTcpPort(), HOST);
    down.on('data', (d) => up.write(d));
    up.on('data', (d) => {
      fromServer.push(Buffer.from(d));
      down.write(d);
    });
    up.on('end', () => {
      fin = true;
      down.end();
    });
    down.on('end', () => up.end());
    for (const s of [up, down]) s.on('error', () => {});
  });
  await new Promise((resolve) => proxy.listen(0, HOST, resolve));
  // TLS 1.2, so record types are visible (1.3 wraps alerts as application data).
  const socket = tls.connect({ port: proxy.address().port, host: HOST, rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  socket.write(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1 } }, 4));
  await until(() => server.getClients().length === 1, 'accepted');
  await delay(50);
  const before = Buffer.concat(fromServer).length;
  server.disconnect(server.getClients()[0].id, 4009, 'bye');
  await until(() => fin, 'FIN from the server');
  const after = Buffer.concat(fromServer).subarray(before);
  const recordTypes = [];
  for (let o = 0; o + 5 <= after.length; o += 5 + after.readUInt16BE(o + 3)) recordTypes.push(after[o]);
  assert.deepEqual(recordTypes, [23, 21], 'application data (the Disconnect), then an alert (close_notify)');
  socket.destroy();
  await new Promise((resolve) => proxy.close(resolve));
  await server.stop();
});

/** The status line the server answers a hand-written upgrade request with. */
function upgradeStatus(port, target, { host = true } = {}) {
  const lines = [
    `GET ${target} HTTP/1.1`,
    ...(host ? [`Host: ${HOST}:${port}`] : []),
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
  ];
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.slice(0, data.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
  });
}

test('WebSocket upgrade: Host is not required; the path is matched exactly, query ignored; "/" takes every path', async () => {
  const chat = await startServer({ namespace: '/chat' });
  const port = chat.getPort();
  const ok = 'HTTP/1.1 101 Switching Protocols';
  assert.equal(await upgradeStatus(port, '/chat', { host: false }), ok);
  assert.equal(await upgradeStatus(port, '/chat?token=abc'), ok);
  assert.equal(await upgradeStatus(port, `http://${HOST}/chat`), ok);
  assert.equal(await upgradeStatus(port, '/chat/'), 'HTTP/1.1 404 Not Found');
  assert.equal(await upgradeStatus(port, '/CHAT'), 'HTTP/1.1 404 Not Found');
  await chat.stop();
  const root = await startServer();
  assert.equal(await upgradeStatus(root.getPort(), '/any/path/at/all'), ok);
  await root.stop();
});

test('WebSocket: a close frame with an empty payload is reported as 1005 on both sides, and echoed empty', async () => {
  const server = await startServer();
  const reported = [];
  server.onDisconnect((_ctx, info) => reported.push(info.code));
  const client = await connect(server, 'ws');
  client.ws._socket.write(Buffer.from([0x88, 0x80, 1, 2, 3, 4])); // FIN + close, masked, no payload
  assert.equal((await client.closed).code, 1005);
  await until(() => reported.length === 1, 'server side reported');
  assert.deepEqual(reported, [1005]);
  await server.stop();
});

test('simultaneous closes: WebSocket sides report the code they received, TCP sides the code they sent', async () => {
  const server = await startServer();
  const reported = [];
  server.onDisconnect((ctx, info) => reported.push([ctx.protocol, info.code]));
  const ws = await connect(server, 'ws');
  ws.ws.close(4100);
  server.disconnect(ws.id, 4200);
  assert.equal((await ws.closed).code, 4200, 'the ws client received 4200');
  const tcp = await connect(server, 'tcp');
  tcp.sendPacket({ type: PacketType.DISCONNECT, event: '', data: { code: 4100, reason: 'client' } });
  server.disconnect(tcp.id, 4200);
  await tcp.closed;
  await until(() => reported.length === 2, 'both reported');
  assert.deepEqual(reported, [
    ['ws', 4100],
    ['tcp', 4200],
  ]);
  await server.stop();
});

test('rooms: the server announces its own joins and leaves, only real changes; a leave of a room not joined is echoed', async () => {
  const server = await startServer();
  server.on('put', (ctx) => {
    ctx.joinRoom('vip');
    ctx.joinRoom('vip'); // already in: nothing more is sent
    ctx.emit('done', 1);
  });
  server.on('take', (ctx) => {
    ctx.leaveRoom('vip');
    ctx.leaveRoom('vip'); // already out: nothing more is sent
    ctx.emit('done', 2);
  });
  for (const protocol of ['ws', 'tcp']) {
    const client = await connect(server, protocol);
    client.emit('put');
    await client.event('done');
    client.emit('take');
    await client.event('done');
    const rooms = client.inbox.filter((p) => p.type === PacketType.JOIN_ROOM || p.type === PacketType.LEAVE_ROOM);
    assert.deepEqual(
      rooms.map((p) => [p.type, p.event]),
      [
        [PacketType.JOIN_ROOM, 'vip'],
        [PacketType.LEAVE_ROOM, 'vip'],
      ],
    );
    assert.deepEqual(await client.leave('never-joined'), { type: PacketType.LEAVE_ROOM, event: 'never-joined' });
    await closeAll(client);
  }
  await server.stop();
});

test('rooms: after a resume the kept rooms are not announced again', async () => {
  const server = await startServer({ recovery: true });
  const first = await openTcp(server.getTcpPort());
  first.sendPacket({ type: PacketType.CONNECT, event: '', data: { v: 1, recovery: {} } });
  const welcome = (await first.next(PacketType.CONNECT)).data;
  await first.join('kept');
  await first.terminate(); // dropped, not closed on purpose: resumable
  await until(() => server.getClients().length === 0, 'gone');
  const again = await openTcp(server.getTcpPort());
  again.sendPacket({
    type: PacketType.CONNECT,
    event: '',
    data: { v: 1, recovery: { id: welcome.id, token: welcome.recovery.token, offset: welcome.recovery.offset } },
  });
  const resumed = (await again.next(PacketType.CONNECT)).data;
  assert.equal(resumed.recovered, true);
  assert.deepEqual(server.getRoomMembers('kept'), [welcome.id]);
  again.ping();
  await again.next(PacketType.PONG);
  assert.equal(
    again.has((p) => p.type === PacketType.JOIN_ROOM),
    false,
    'no Join Room for the kept room',
  );
  await again.terminate();
  await server.stop();
});
