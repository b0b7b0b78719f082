// Write coalescing in TcpConnection: frames sent in one tick leave in one socket write, in
// order; bufferedAmount and send()'s answer count the queued bytes; close writes its
// Disconnect after everything queued; terminate drops what is queued.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { TcpConnection, connectTcp } from '../../dist/tcp/index.js';
import { encodePacket, decodePacket, PacketType } from '../../dist/protocol/index.js';

async function pair() {
  let resolveConn;
  const accepted = new Promise((r) => (resolveConn = r));
  const server = net.createServer((socket) => resolveConn(new TcpConnection(socket)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = await connectTcp({ host: '127.0.0.1', port: server.address().port });
  const serverConn = await accepted;
  const close = () => new Promise((r) => server.close(() => r()));
  return { client, serverConn, close };
}

const frameOf = (i, size = 8) => encodePacket({ type: PacketType.JSON, event: 'n', data: { i, pad: 'x'.repeat(size) } }, 4);

function guard(promise, ms = 8000, what = 'event') {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

function collect(conn, n) {
  const got = [];
  return new Promise((resolve) => {
    conn.on('frame', (p) => {
      got.push(decodePacket(p).data.i);
      if (got.length === n) resolve(got);
    });
  });
}

test('frames sent in one tick go out in one socket write, in order', async () => {
  const { client, serverConn, close } = await pair();
  const writes = [];
  const original = serverConn.socket.write;
  serverConn.socket.write = function (chunk, ...rest) {
    writes.push(chunk.length);
    return original.call(this, chunk, ...rest);
  };
  const received = collect(client, 50);
  let expectedBytes = 0;
  for (let i = 0; i < 50; i++) {
    const f = frameOf(i, i * 3);
    expectedBytes += f.length;
    assert.equal(serverConn.send(f), true);
  }
  assert.equal(writes.length, 0, 'nothing is written synchronously');
  assert.equal(serverConn.bufferedAmount, expectedBytes, 'bufferedAmount counts the queued bytes');
  const got = await guard(received);
  assert.deepEqual(
    got,
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.deepEqual(writes, [expectedBytes], 'one write carried all 50 frames');
  client.close();
  await guard(once(serverConn, 'close'));
  await close();
});

test('large batches (writev path) keep order and content', async () => {
  const { client, serverConn, close } = await pair();
  const received = collect(client, 30);
  for (let i = 0; i < 30; i++) serverConn.send(frameOf(i, i % 3 === 0 ? 40_000 : 5));
  const got = await guard(received);
  assert.deepEqual(
    got,
    Array.from({ length: 30 }, (_, i) => i),
  );
  client.close();
  await guard(once(serverConn, 'close'));
  await close();
});

test('send answers false once queued bytes reach the high-water mark, and drain follows', async () => {
  const { client, serverConn, close } = await pair();
  const hwm = serverConn.socket.writableHighWaterMark;
  const frame = frameOf(0, 1000);
  let n = 0;
  let ok = true;
  while (ok) {
    ok = serverConn.send(frame);
    n++;
  }
  // The socket has not been written to yet: the answer came from the queued bytes alone.
  assert.equal(serverConn.socket.writableLength, 0);
  assert.ok(serverConn.bufferedAmount >= hwm);
  assert.ok((n - 1) * frame.length < hwm, 'true while below the mark');
  await guard(once(serverConn, 'drain'), 8000, 'drain');
  assert.ok(serverConn.bufferedAmount < hwm);
  client.close();
  await guard(once(serverConn, 'close'));
  await close();
});

test('close() in the same tick: every queued frame arrives before the Disconnect', async () => {
  const { client, serverConn, close } = await pair();
  const got = [];
  client.on('frame', (p) => got.push(decodePacket(p).data.i));
  const closed = once(client, 'close');
  for (let i = 0; i < 20; i++) serverConn.send(frameOf(i));
  serverConn.close(4001, 'bye');
  const [code, reason] = await guard(closed);
  assert.deepEqual([code, reason], [4001, 'bye']);
  assert.deepEqual(
    got,
    Array.from({ length: 20 }, (_, i) => i),
  );
  await close();
});

test('terminate() drops frames still queued', async () => {
  const { client, serverConn, close } = await pair();
  let frames = 0;
  client.on('frame', () => frames++);
  const closed = once(client, 'close');
  for (let i = 0; i < 5; i++) serverConn.send(frameOf(i));
  serverConn.terminate();
  const [code] = await guard(closed);
  assert.equal(code, 1006);
  assert.equal(frames, 0);
  assert.equal(serverConn.bufferedAmount, 0);
  await close();
});
