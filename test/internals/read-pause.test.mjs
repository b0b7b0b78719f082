// OutboundQueue's read pausing (issue 12 item 5) without a connection: a Duplex whose writes
// complete when the test says, so "the peer reads" is a call. And the connections' defaults:
// the accepting side pauses, the connecting side never does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import { Duplex } from 'node:stream';
import { OutboundQueue } from '../../dist/net/write-batcher.js';
import { WebSocketConnection } from '../../dist/websocket/index.js';
import { TcpConnection } from '../../dist/tcp/index.js';

class SlowSocket extends Duplex {
  constructor() {
    super({ writableHighWaterMark: 16, allowHalfOpen: true });
    this.pending = [];
  }
  _write(_chunk, _enc, cb) {
    this.pending.push(cb);
  }
  _read() {}
  /** The peer reads: every write held so far completes. */
  complete() {
    const list = this.pending;
    this.pending = [];
    for (const cb of list) cb();
  }
}
const owner = () => ({
  drains: 0,
  emit() {
    this.drains++;
    return true;
  },
});
const flush = () => new Promise((r) => process.nextTick(r));

test('pauseReads: over the high-water mark reads pause; drain resumes them; stopPausing resumes and ends pausing', async () => {
  const socket = new SlowSocket();
  socket.on('data', () => {});
  const o = owner();
  const q = new OutboundQueue(socket, o, true);
  socket.on('drain', () => q.onSocketDrain()); // as the connections wire it
  assert.equal(q.write(Buffer.alloc(8)), true);
  assert.equal(q.readsPaused, false);
  assert.equal(socket.isPaused(), false);
  assert.equal(q.write(Buffer.alloc(8)), false, 'at the mark');
  assert.equal(q.readsPaused, true);
  assert.equal(socket.isPaused(), true);
  await flush();
  assert.equal(q.readsPaused, true, 'still behind after the flush');
  const drained = once(socket, 'drain');
  socket.complete();
  await drained;
  assert.equal(o.drains, 1);
  assert.equal(q.readsPaused, false);
  assert.equal(socket.isPaused(), false);
  // Paused again, then closing: resumed, and never paused again.
  q.write(Buffer.alloc(32));
  assert.equal(socket.isPaused(), true);
  q.stopPausing();
  assert.equal(q.readsPaused, false);
  assert.equal(socket.isPaused(), false);
  q.write(Buffer.alloc(32));
  assert.equal(socket.isPaused(), false);
  socket.destroy();
});

test('without pauseReads (the default) reads are never paused', () => {
  const socket = new SlowSocket();
  socket.on('data', () => {});
  const q = new OutboundQueue(socket, owner());
  assert.equal(q.write(Buffer.alloc(64)), false);
  assert.equal(q.readsPaused, false);
  assert.equal(socket.isPaused(), false);
  socket.destroy();
});

test('peerTookSinceLastLook: true on the first look and after the peer took bytes, false while nothing moved', async () => {
  const socket = new SlowSocket();
  const q = new OutboundQueue(socket, owner(), true);
  q.write(Buffer.alloc(64));
  await flush();
  assert.equal(q.peerTookSinceLastLook(), true, 'first look');
  assert.equal(q.peerTookSinceLastLook(), false);
  q.write(Buffer.alloc(64)); // more queued: not progress
  assert.equal(q.peerTookSinceLastLook(), false);
  await flush();
  socket.complete();
  assert.equal(q.peerTookSinceLastLook(), true);
  socket.destroy();
});

test('connection defaults: a WebSocket pauses in the server role only, a TcpConnection only when asked', async () => {
  const accepted = [];
  const server = createServer((s) => accepted.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sockets = [];
  try {
    const open = async () => {
      const c = connect(server.address().port, '127.0.0.1');
      await once(c, 'connect');
      sockets.push(c);
      return c;
    };
    const big = Buffer.alloc(4 * 1024 * 1024);
    const cases = [
      [new WebSocketConnection(await open(), { isServer: true }), true],
      [new WebSocketConnection(await open(), { isServer: false }), false],
      [new WebSocketConnection(await open(), { isServer: false, pauseReadsOnBacklog: true }), true],
      [new TcpConnection(await open()), false],
      [new TcpConnection(await open(), { pauseReadsOnBacklog: true }), true],
    ];
    for (const [conn, pauses] of cases) {
      // Nobody reads the other end, so 4 MiB stays over the high-water mark.
      conn.send(big);
      assert.equal(conn.readsPaused, pauses);
      assert.equal(conn.socket.isPaused(), pauses);
      conn.terminate();
    }
  } finally {
    for (const s of [...sockets, ...accepted]) s.destroy();
    server.close();
  }
});
