import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { TcpConnection, TcpFrameParser, TcpReadyState, connectTcp } from '../../dist/tcp/index.js';
import { encodePacket, decodePacket, PacketType, ErrorCode, StelarError } from '../../dist/protocol/index.js';

const servers = new Set();
after(() => {
  for (const s of servers) s.close();
});

/** A net server whose sockets are wrapped in TcpConnection; resolves the first server-side connection lazily. */
async function startServer(connOpts = {}, serverOpts = {}) {
  const conns = [];
  const waiting = [];
  const server = net.createServer(serverOpts, (socket) => {
    const conn = new TcpConnection(socket, connOpts);
    if (waiting.length) waiting.shift()(conn);
    else conns.push(conn);
  });
  servers.add(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: server.address().port,
    next: () => (conns.length ? Promise.resolve(conns.shift()) : new Promise((r) => waiting.push(r))),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function pair(serverConnOpts = {}, clientOpts = {}) {
  const srv = await startServer(serverConnOpts);
  const client = await connectTcp({ host: '127.0.0.1', port: srv.port, ...clientOpts });
  const serverConn = await srv.next();
  return { srv, client, serverConn };
}

// Not events.once: it also listens for 'error', which would change what the connection does.
const onceEvent = (emitter, name) => new Promise((resolve) => emitter.once(name, (...args) => resolve(args)));
const nextFrame = (conn) => onceEvent(conn, 'frame').then(([p]) => decodePacket(p));
const closeOf = (conn) => onceEvent(conn, 'close');

/** Fails the test instead of hanging forever if an awaited event never comes. */
function guard(promise, ms = 8000, what = 'event') {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

test('packets flow both ways; socket is set up (noDelay, remoteAddress, readyState)', async () => {
  const { srv, client, serverConn } = await pair();
  assert.equal(client.readyState, TcpReadyState.OPEN);
  assert.equal(serverConn.remoteAddress, '127.0.0.1');
  assert.equal(client.socket.remoteAddress, '127.0.0.1');

  const p1 = nextFrame(serverConn);
  assert.equal(client.sendPacket({ type: PacketType.JSON, event: 'chat', data: { text: 'hi ✓' } }), true);
  assert.deepEqual(await guard(p1), { type: PacketType.JSON, event: 'chat', data: { text: 'hi ✓' } });

  const p2 = nextFrame(client);
  serverConn.send(encodePacket({ type: PacketType.BINARY, event: 'bin', data: Buffer.from([1, 2, 3]) }, 4));
  const got = await guard(p2);
  assert.equal(got.type, PacketType.BINARY);
  assert.deepEqual(Buffer.from(got.data), Buffer.from([1, 2, 3]));

  // many packets in a burst arrive complete and in order, however TCP chunks them
  const received = [];
  const all = new Promise((resolve) => {
    serverConn.on('frame', (p) => {
      received.push(decodePacket(p).data);
      if (received.length === 500) resolve();
    });
  });
  for (let i = 0; i < 500; i++) client.sendPacket({ type: PacketType.JSON, event: 'n', data: i });
  await guard(all);
  assert.deepEqual(
    received,
    Array.from({ length: 500 }, (_, i) => i),
  );

  const closed = Promise.all([closeOf(client), closeOf(serverConn)]);
  client.close();
  await guard(closed);
  await srv.close();
});

test('an 8 MiB frame passes when maxFrameSize is raised', async () => {
  const big = 9 * 1024 * 1024;
  const { srv, client, serverConn } = await pair({ maxFrameSize: big }, { maxFrameSize: big });
  assert.equal(serverConn.maxFrameSize, big);
  const payload = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 0xff;
  const p = nextFrame(serverConn);
  client.sendPacket({ type: PacketType.BINARY, event: 'big', data: payload });
  const got = await guard(p, 20000, 'big frame');
  assert.equal(got.data.length, payload.length);
  assert.ok(Buffer.from(got.data).equals(payload));
  // and back
  const q = nextFrame(client);
  serverConn.sendPacket({ type: PacketType.BINARY, event: 'big', data: payload });
  assert.ok(Buffer.from((await guard(q, 20000, 'big frame back')).data).equals(payload));
  const closed = Promise.all([closeOf(client), closeOf(serverConn)]);
  serverConn.close();
  await guard(closed);
  await srv.close();
});

test('a frame above maxFrameSize: server emits error, sends Disconnect 1009, both close with 1009', async () => {
  const { srv, client, serverConn } = await pair({ maxFrameSize: 1024 });
  const errors = [];
  serverConn.on('error', (e) => errors.push(e));
  const clientFrames = [];
  client.on('frame', (p) => clientFrames.push(p));
  const closes = Promise.all([closeOf(client), closeOf(serverConn)]);
  client.sendPacket({ type: PacketType.BINARY, event: 'x', data: Buffer.alloc(2000) });
  const [[cCode, cReason], [sCode, sReason]] = await guard(closes);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof StelarError);
  assert.equal(errors[0].code, ErrorCode.TCP_FRAME_TOO_LARGE);
  assert.equal(sCode, 1009);
  assert.equal(cCode, 1009);
  assert.equal(cReason, errors[0].message);
  assert.equal(sReason, errors[0].message);
  assert.equal(clientFrames.length, 0, 'the Disconnect is consumed, not emitted as a frame');
  await srv.close();
});

test('protocol error with no error listener does not throw; raw peer sees the Disconnect bytes', async () => {
  const srv = await startServer();
  const raw = net.connect(srv.port, '127.0.0.1');
  await once(raw, 'connect');
  const serverConn = await srv.next();
  const chunks = [];
  raw.on('data', (c) => chunks.push(c));
  const serverClosed = closeOf(serverConn);
  raw.write(Buffer.from([0, 0, 0, 3]));
  await guard(once(raw, 'end'), 8000, 'server FIN');
  raw.end();
  const [code, reason] = await guard(serverClosed);
  assert.equal(code, 1002);
  assert.match(reason, /length 3/);
  // exactly one Disconnect frame
  const bytes = Buffer.concat(chunks);
  const frames = [];
  const parser = new TcpFrameParser({ onFrame: (p) => frames.push(decodePacket(p)), onError: assert.fail });
  parser.push(bytes);
  assert.equal(frames.length, 1);
  assert.equal(frames[0].type, PacketType.DISCONNECT);
  assert.equal(frames[0].data.code, 1002);
  assert.equal(frames[0].data.reason, reason);
  await srv.close();
});

test('close handshake: the Disconnect code and reason are seen on both sides (client and server initiated)', async () => {
  for (const initiator of ['client', 'server']) {
    const { srv, client, serverConn } = await pair();
    const closes = Promise.all([closeOf(client), closeOf(serverConn)]);
    const frames = [];
    client.on('frame', (p) => frames.push(p));
    serverConn.on('frame', (p) => frames.push(p));
    (initiator === 'client' ? client : serverConn).close(4009, `kicked by ${initiator}`);
    assert.equal((initiator === 'client' ? client : serverConn).readyState, TcpReadyState.CLOSING);
    const [[c1, r1], [c2, r2]] = await guard(closes);
    assert.deepEqual([c1, r1], [4009, `kicked by ${initiator}`]);
    assert.deepEqual([c2, r2], [4009, `kicked by ${initiator}`]);
    assert.equal(frames.length, 0);
    assert.equal(client.readyState, TcpReadyState.CLOSED);
    assert.equal(serverConn.readyState, TcpReadyState.CLOSED);
    await srv.close();
  }
});

test('close() defaults to 1000, is idempotent, and close fires exactly once', async () => {
  const { srv, client, serverConn } = await pair();
  let clientCloses = 0;
  client.on('close', () => clientCloses++);
  const closes = Promise.all([closeOf(client), closeOf(serverConn)]);
  client.close();
  client.close(4001, 'second call ignored');
  client.terminate();
  const [[c1, r1], [c2, r2]] = await guard(closes);
  assert.deepEqual([c1, r1, c2, r2], [1000, '', 1000, '']);
  await new Promise((r) => setImmediate(r));
  assert.equal(clientCloses, 1);
  assert.equal(client.send(encodePacket({ type: PacketType.PING, event: '' }, 4)), false, 'send after close is dropped');
  await srv.close();
});

test('peer destroy without Disconnect -> 1006 on the other side; terminate -> 1006 locally', async () => {
  const { srv, client, serverConn } = await pair();
  const errors = [];
  client.on('error', (e) => errors.push(e));
  const closes = Promise.all([closeOf(client), closeOf(serverConn)]);
  serverConn.terminate();
  const [[c1, r1], [c2]] = await guard(closes);
  assert.equal(c1, 1006);
  assert.equal(r1, '');
  assert.equal(c2, 1006);
  assert.deepEqual(errors, [], 'a dropped socket is not a protocol error');
  await srv.close();
});

test('peer that half-closes without a Disconnect -> 1006', async () => {
  const srv = await startServer();
  const raw = net.connect(srv.port, '127.0.0.1');
  await once(raw, 'connect');
  const serverConn = await srv.next();
  const closed = closeOf(serverConn);
  raw.end();
  const [code] = await guard(closed);
  assert.equal(code, 1006);
  raw.destroy();
  await srv.close();
});

test('ECONNRESET from the peer ends in close 1006, never throws', async () => {
  const { srv, client, serverConn } = await pair();
  const closed = closeOf(client);
  serverConn.socket.resetAndDestroy();
  const [code] = await guard(closed);
  assert.equal(code, 1006);
  await srv.close();
});

test('a peer that never closes its side is destroyed after closeTimeout, close keeps our code', async () => {
  const held = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => held.push(s)); // never ends its side
  servers.add(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = await connectTcp({ host: '127.0.0.1', port: server.address().port, closeTimeout: 200 });
  const closed = closeOf(client);
  client.close(4002, 'full');
  const [code, reason] = await guard(closed);
  assert.deepEqual([code, reason], [4002, 'full']);
  for (const s of held) s.destroy();
  await new Promise((r) => server.close(r));
});

test('Disconnect with a bad body counts as 1005; frames after a Disconnect are ignored', async () => {
  const srv = await startServer();
  const raw = net.connect(srv.port, '127.0.0.1');
  await once(raw, 'connect');
  const serverConn = await srv.next();
  const frames = [];
  serverConn.on('frame', (p) => frames.push(p));
  const closed = closeOf(serverConn);
  raw.write(
    Buffer.concat([
      encodePacket({ type: PacketType.DISCONNECT, event: '', data: { code: 'x' } }, 4),
      encodePacket({ type: PacketType.JSON, event: 'late', data: 1 }, 4),
    ]),
  );
  raw.on('end', () => raw.end());
  const [code, reason] = await guard(closed);
  assert.deepEqual([code, reason], [1005, '']);
  assert.equal(frames.length, 0);
  raw.destroy();
  await srv.close();
});

test('Disconnect with invalid JSON or no body counts as 1005', async () => {
  for (const bytes of [Buffer.from('00000008070000' + '7b', 'hex'), Buffer.from('00000007070000', 'hex')]) {
    const srv = await startServer();
    const raw = net.connect(srv.port, '127.0.0.1');
    await once(raw, 'connect');
    const serverConn = await srv.next();
    const errors = [];
    serverConn.on('error', (e) => errors.push(e));
    const closed = closeOf(serverConn);
    raw.on('end', () => raw.end());
    raw.write(bytes);
    const [code, reason] = await guard(closed);
    assert.deepEqual([code, reason], [1005, ''], bytes.toString('hex'));
    assert.deepEqual(errors, []);
    raw.destroy();
    await srv.close();
  }
});

test('both sides close at once: each keeps the code it sent', async () => {
  const { srv, client, serverConn } = await pair();
  const closes = Promise.all([closeOf(client), closeOf(serverConn)]);
  client.close(4001, 'from client');
  serverConn.close(4009, 'from server');
  const [[c1, r1], [c2, r2]] = await guard(closes);
  assert.deepEqual([c1, r1], [4001, 'from client']);
  assert.deepEqual([c2, r2], [4009, 'from server']);
  await srv.close();
});

test('backpressure: send returns false once the socket buffer is full, then drain fires', async () => {
  const { srv, client, serverConn } = await pair();
  serverConn.socket.pause(); // the server stops reading, so the client's buffers fill up
  const frame = encodePacket({ type: PacketType.BINARY, event: 'x', data: Buffer.alloc(64 * 1024) }, 4);
  let sent = 0;
  let ok = true;
  while (ok && sent < 10_000) {
    ok = client.send(frame);
    sent++;
  }
  assert.equal(ok, false, 'send reported backpressure');
  assert.ok(client.bufferedAmount > 0);
  // Sends are queued until the tick's flush: bufferedAmount counts them on top of the socket's buffer.
  assert.ok(client.bufferedAmount >= client.socket.writableLength);
  let received = 0;
  serverConn.on('frame', () => received++);
  const drained = onceEvent(client, 'drain');
  serverConn.socket.resume();
  await guard(drained, 15000, 'drain');
  const all = new Promise((resolve) => {
    const check = () => (received >= sent ? resolve() : setImmediate(check));
    check();
  });
  await guard(all, 15000, 'all frames');
  assert.equal(received, sent);
  const closes = Promise.all([closeOf(client), closeOf(serverConn)]);
  client.close();
  await guard(closes);
  await srv.close();
});

test('connectTcp rejects with ECONNREFUSED in the message when nothing listens', async () => {
  const srv = await startServer();
  const port = srv.port;
  await srv.close();
  await assert.rejects(connectTcp({ host: '127.0.0.1', port }), (err) => {
    assert.ok(err instanceof StelarError);
    assert.match(err.message, /ECONNREFUSED/);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.equal(err.cause?.code, 'ECONNREFUSED');
    return true;
  });
});

test('connectTcp rejects on timeout (TLS handshake that never completes)', async () => {
  const held = [];
  const server = net.createServer((s) => held.push(s)); // accepts TCP, never speaks TLS
  servers.add(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  await assert.rejects(connectTcp({ host: '127.0.0.1', port: server.address().port, tls: true, timeout: 300 }), (err) => {
    assert.equal(err.code, ErrorCode.CONNECT_TIMEOUT);
    assert.match(err.message, /timed out after 300 ms/);
    return true;
  });
  for (const s of held) s.destroy();
  await new Promise((r) => server.close(r));
});

test('a TcpConnection over an already destroyed socket closes with 1006', async () => {
  const s = new net.Socket();
  s.destroy();
  const conn = new TcpConnection(s);
  const [code] = await guard(closeOf(conn));
  assert.equal(code, 1006);
});
