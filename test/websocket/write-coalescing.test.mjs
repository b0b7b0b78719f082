// Write coalescing in WebSocketConnection: frames sent in one tick leave in one socket write,
// in order; bufferedAmount and send()'s answer count the queued bytes; a close frame is written
// after everything queued before it; terminate drops what is queued.
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { Receiver, WebSocketConnection } from '../../dist/websocket/index.js';

async function pair() {
  let resolveSocket;
  const accepted = new Promise((r) => (resolveSocket = r));
  const server = net.createServer({ allowHalfOpen: true }, (s) => resolveSocket(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect({ port: server.address().port, host: '127.0.0.1', allowHalfOpen: true });
  await once(client, 'connect');
  const serverSide = await accepted;
  client.on('error', () => {});
  serverSide.on('error', () => {});
  const ws = new WebSocketConnection(serverSide, { isServer: true });
  const close = () => new Promise((r) => server.close(() => r()));
  return { ws, client, close };
}

/** Parses what the raw client socket receives (client role: unmasked server frames). */
function peer(socket) {
  const events = [];
  const receiver = new Receiver({
    isServer: false,
    maxPayload: 1 << 30,
    onMessage: (d) => events.push(d.toString()),
    onClose: (code, reason) => events.push(`close ${code} ${reason}`),
    onError: (e) => events.push(`error ${e.code}`),
  });
  socket.on('data', (c) => receiver.write(c));
  const ended = new Promise((r) => socket.once('close', r));
  return { events, ended };
}

function guard(promise, ms = 8000, what = 'event') {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

test('messages sent in one tick go out in one socket write, in order; bufferedAmount counts them', async () => {
  const { ws, client, close } = await pair();
  const p = peer(client);
  const writes = [];
  const original = ws.socket.write;
  ws.socket.write = function (chunk, ...rest) {
    writes.push(chunk.length);
    return original.call(this, chunk, ...rest);
  };
  for (let i = 0; i < 40; i++) assert.equal(ws.send(`m${i}`), true);
  assert.equal(writes.length, 0, 'nothing is written synchronously');
  // 40 frames: 2-byte header + 'm' + 1 or 2 digits.
  const expected = 10 * 4 + 30 * 5;
  assert.equal(ws.bufferedAmount, expected);
  ws.close(4002, 'done');
  client.end();
  await guard(p.ended);
  assert.deepEqual(p.events, [...Array.from({ length: 40 }, (_, i) => `m${i}`), 'close 4002 done']);
  assert.equal(writes.length, 1, 'the messages and the close frame left in one write');
  await close();
});

test('large payloads (header + payload queued apart) keep order with small ones', async () => {
  const { ws, client, close } = await pair();
  const p = peer(client);
  const big = Buffer.alloc(100_000, 0x61);
  ws.send('a');
  ws.send(big, { binary: false });
  ws.send('b');
  ws.send(Buffer.alloc(20_000, 0x62), { binary: false });
  ws.send('c');
  ws.close(1000);
  client.end();
  await guard(p.ended);
  assert.deepEqual(
    p.events.map((e) => (e.length > 20 ? `${e[0]}x${e.length}` : e)),
    ['a', 'ax100000', 'b', 'bx20000', 'c', 'close 1000 '],
  );
  await close();
});

test('send answers false once queued bytes reach the high-water mark, and drain follows', async () => {
  const { ws, client, close } = await pair();
  peer(client);
  const hwm = ws.socket.writableHighWaterMark;
  const msg = 'x'.repeat(1000);
  let n = 0;
  let ok = true;
  while (ok) {
    ok = ws.send(msg);
    n++;
  }
  assert.equal(ws.socket.writableLength, 0, 'the answer came from the queued bytes alone');
  assert.ok(ws.bufferedAmount >= hwm);
  assert.ok((n - 1) * 1004 < hwm, 'true while below the mark');
  await guard(once(ws, 'drain'), 8000, 'drain');
  assert.ok(ws.bufferedAmount < hwm);
  ws.terminate();
  client.destroy();
  await close();
});

test('terminate() drops messages still queued', async () => {
  const { ws, client, close } = await pair();
  const p = peer(client);
  for (let i = 0; i < 5; i++) ws.send(`m${i}`);
  const closed = once(ws, 'close');
  ws.terminate();
  const [code] = await guard(closed);
  assert.equal(code, 1006);
  // The peer allows half-open sockets: it sees the end, then closes its side.
  await guard(once(client, 'end'));
  client.destroy();
  await guard(p.ended);
  assert.deepEqual(p.events, []);
  await close();
});
