// OutboundQueue and the write batcher (src/net/write-batcher.ts) without a WebSocket or TCP
// connection. OutboundQueue's public constructor takes any stream.Duplex, so most tests give
// it a real Duplex whose _write completes when the test says (a kernel that is slow or quick);
// one test uses a real TCP socket pair on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import { Duplex } from 'node:stream';
import { OutboundQueue, scheduleFlush, writeChunks } from '../../dist/net/write-batcher.js';

/** A Duplex standing in for a socket: counts write() calls and "syscalls", holds completions when `slow`. */
class FakeSocket extends Duplex {
  constructor({ highWaterMark = 16, slow = false } = {}) {
    super({ writableHighWaterMark: highWaterMark, allowHalfOpen: true });
    this.slow = slow;
    this.writeCalls = 0;
    this.syscalls = 0; // one per _write or _writev
    this.received = [];
    this.pending = [];
  }
  write(...args) {
    this.writeCalls++;
    return super.write(...args);
  }
  _write(chunk, _enc, cb) {
    this.syscalls++;
    this.received.push(Buffer.from(chunk));
    if (this.slow) this.pending.push(cb);
    else cb();
  }
  _writev(chunks, cb) {
    this.syscalls++;
    for (const { chunk } of chunks) this.received.push(Buffer.from(chunk));
    if (this.slow) this.pending.push(cb);
    else cb();
  }
  _read() {}
  /** The "kernel" takes everything held so far. */
  complete() {
    const list = this.pending;
    this.pending = [];
    for (const cb of list) cb();
  }
  get bytes() {
    return Buffer.concat(this.received);
  }
}

/** The owner a connection would be: counts the drains it is told to emit. */
function owner() {
  return {
    drains: 0,
    emit(event) {
      assert.equal(event, 'drain');
      this.drains++;
      return true;
    },
  };
}

/** A queue wired like the connections wire it: the socket's drain goes to onSocketDrain. */
function queueOn(socket) {
  const o = owner();
  const q = new OutboundQueue(socket, o);
  socket.on('drain', () => q.onSocketDrain());
  return { q, o };
}

const tick = () => new Promise((r) => process.nextTick(r));
const turn = () => new Promise((r) => setImmediate(r));
const b = (s) => Buffer.from(s);

test('frames written in one tick reach each socket as one write(), in order, on the next tick', async () => {
  const s1 = new FakeSocket({ highWaterMark: 1024 });
  const s2 = new FakeSocket({ highWaterMark: 1024 });
  const { q: q1 } = queueOn(s1);
  const { q: q2 } = queueOn(s2);
  for (const m of ['a1', 'a2', 'a3']) assert.equal(q1.write(b(m)), true);
  for (const m of ['b1', 'b2']) assert.equal(q2.write(b(m)), true);
  q1.enqueue(b('a4')); // no answer, same queue, same order
  assert.equal(s1.writeCalls + s2.writeCalls, 0, 'written synchronously instead of batched');
  await tick(); // the batcher's nextTick was scheduled before this one
  assert.equal(s1.writeCalls, 1);
  assert.equal(s2.writeCalls, 1);
  assert.equal(s1.bytes.toString(), 'a1a2a3a4');
  assert.equal(s2.bytes.toString(), 'b1b2');
  await turn();
  assert.equal(s1.writeCalls, 1, 'a second flush wrote again');
});

test('a single frame goes out as is (no copy); several are joined into one Buffer', async () => {
  const s = new FakeSocket({ highWaterMark: 1024 });
  const { q } = queueOn(s);
  const frame = b('only');
  let handed;
  const write = s.write.bind(s);
  s.write = (chunk, ...rest) => {
    handed = chunk;
    return write(chunk, ...rest);
  };
  q.write(frame);
  await tick();
  assert.ok(handed === frame, 'a lone frame was copied');
  const f1 = b('one');
  const f2 = b('two');
  q.write(f1);
  q.write(f2);
  await tick();
  assert.ok(handed !== f1 && handed !== f2, 'two frames were not joined');
  assert.equal(Buffer.from(handed).toString(), 'onetwo');
  assert.equal(s.writeCalls, 2);
});

test('a connection that queues again during its own flush goes after every connection of that flush; one still waiting takes the frame in its batch', async () => {
  const log = [];
  const s1 = new FakeSocket({ highWaterMark: 1024 });
  const s2 = new FakeSocket({ highWaterMark: 1024 });
  const { q: q1 } = queueOn(s1);
  const { q: q2 } = queueOn(s2);
  for (const [name, s] of [
    ['s1', s1],
    ['s2', s2],
  ]) {
    const write = s.write.bind(s);
    s.write = (chunk, ...rest) => {
      log.push(`${name}:${Buffer.from(chunk)}`);
      if (name === 's1' && log.length === 1) {
        q1.write(b('later')); // q1 was just flushed: next round
        q2.write(b('+x2')); // q2 is still waiting in this round: joins its batch
      }
      return write(chunk, ...rest);
    };
  }
  q1.write(b('first'));
  q2.write(b('x1'));
  await turn();
  assert.deepEqual(log, ['s1:first', 's2:x1+x2', 's1:later']);
  assert.equal(s1.bytes.toString(), 'firstlater');
  assert.equal(s2.writeCalls, 1);
});

test('scheduleFlush: every registered connection is flushed by one nextTick', async () => {
  const flushed = [];
  const conns = [1, 2, 3].map((id) => ({ flushWrites: () => flushed.push(id) }));
  for (const c of conns) scheduleFlush(c);
  assert.deepEqual(flushed, []);
  await tick();
  assert.deepEqual(flushed, [1, 2, 3]);
  await turn();
  assert.deepEqual(flushed, [1, 2, 3], 'a connection was flushed twice');
});

test('a batch above 64 KiB is corked into one writev (no copy), a smaller one is one copied write', async () => {
  const big = new FakeSocket({ highWaterMark: 1 << 20 });
  const { q } = queueOn(big);
  const parts = [Buffer.alloc(40_000, 1), Buffer.alloc(40_000, 2), Buffer.alloc(10, 3)];
  for (const p of parts) q.write(p);
  await tick();
  assert.equal(big.syscalls, 1, 'a large batch took more than one writev');
  assert.ok(big.bytes.equals(Buffer.concat(parts)));

  const small = new FakeSocket({ highWaterMark: 1 << 20 });
  const { q: q2 } = queueOn(small);
  q2.write(Buffer.alloc(1000, 1));
  q2.write(Buffer.alloc(1000, 2));
  await tick();
  assert.equal(small.writeCalls, 1);
  assert.equal(small.syscalls, 1);
});

test('writeChunks answers false above the high-water mark, true below, for one chunk and for a batch', () => {
  const s = new FakeSocket({ highWaterMark: 16, slow: true });
  assert.equal(writeChunks(s, b('0123456789'), 10), true);
  assert.equal(writeChunks(s, [b('01234'), b('5')], 6), false); // 16 held >= 16
  s.complete();
  const t = new FakeSocket({ highWaterMark: 16 });
  // corked large batch that the "kernel" takes at once: the answer is read after the flush
  assert.equal(writeChunks(t, [Buffer.alloc(40_000), Buffer.alloc(40_000)], 80_000), true);
});

test('backpressure: write() answers false once queued + socket-held bytes reach the high-water mark', async () => {
  const s = new FakeSocket({ highWaterMark: 16, slow: true });
  const { q, o } = queueOn(s);
  assert.equal(q.write(Buffer.alloc(10)), true); // 10 < 16
  assert.equal(q.write(Buffer.alloc(5)), true); // 15 < 16
  assert.equal(q.write(Buffer.alloc(1)), false); // 16: at the mark
  assert.equal(q.write(Buffer.alloc(1)), false, 'still above the mark');
  await tick();
  assert.equal(s.writableLength, 17, 'the socket holds the flushed bytes until the kernel takes them');
  // the socket still holds them: still above the mark, and no drain yet
  assert.equal(q.write(Buffer.alloc(1)), false);
  assert.equal(o.drains, 0);
  await tick();
  s.complete();
  await turn();
  s.complete();
  await turn();
  assert.equal(o.drains, 1, 'drain owed after a false answer');
  assert.equal(q.bufferedAmount, 0);
  assert.equal(q.write(Buffer.alloc(1)), true, 'below the mark again');
  await turn();
  assert.equal(o.drains, 1, 'drain emitted more than once');
});

test('bufferedAmount counts queued bytes before the flush and socket-held bytes after it', async () => {
  const s = new FakeSocket({ highWaterMark: 1024, slow: true });
  const { q } = queueOn(s);
  assert.equal(q.bufferedAmount, 0);
  q.write(Buffer.alloc(100));
  q.enqueue(Buffer.alloc(20));
  assert.equal(q.bufferedAmount, 120);
  await tick();
  assert.equal(s.writeCalls, 1);
  assert.equal(q.bufferedAmount, 120, 'bytes handed to the socket but not yet to the kernel must still count');
  q.write(Buffer.alloc(5));
  assert.equal(q.bufferedAmount, 125);
  s.complete();
  await tick();
  assert.equal(q.bufferedAmount, 5);
  await tick();
  s.complete();
  await turn();
  assert.equal(q.bufferedAmount, 0);
});

test('the socket drains while frames are still queued: drain waits for the flush that follows', async () => {
  const s = new FakeSocket({ highWaterMark: 16, slow: true });
  const { q, o } = queueOn(s);
  q.write(Buffer.alloc(20)); // false
  await tick(); // flushed; the socket holds 20
  q.write(Buffer.alloc(1)); // queued again before the socket drains
  s.complete();
  await tick(); // the socket's drain (nextTick after the completion) or the batcher's flush, in some order
  await turn();
  s.complete();
  await turn();
  assert.equal(o.drains, 1);
  assert.ok(s.bytes.length === 21);
});

// Regression: the flush paid the owed drain, then the socket's own drain was forwarded again.
test('the socket takes a large batch at once: the drain owed is emitted by the flush, exactly once', async () => {
  // 80 KB in two frames: corked into one writev that the "kernel" takes synchronously.
  const s = new FakeSocket({ highWaterMark: 16 });
  const { q, o } = queueOn(s);
  assert.equal(q.write(Buffer.alloc(40_000)), false);
  assert.equal(q.write(Buffer.alloc(40_000)), false);
  await tick();
  assert.equal(s.bytes.length, 80_000);
  assert.ok(o.drains >= 1, 'the flush that emptied everything owes the drain');
  await turn();
  await turn();
  assert.equal(o.drains, 1, "drain emitted twice for one false answer (the flush, then the socket's own drain)");
});

test('below the high-water mark no drain is owed: none is emitted after the socket takes the bytes', async () => {
  const s = new FakeSocket({ highWaterMark: 16, slow: true });
  const { q, o } = queueOn(s);
  assert.equal(q.write(Buffer.alloc(8)), true);
  assert.equal(q.write(Buffer.alloc(7)), true);
  await tick();
  // one 15-byte write: below the socket's mark too, so the socket owes no drain either
  s.complete();
  await turn();
  assert.equal(o.drains, 0);
});

test('after destroy: write() answers false and queues nothing; queued frames are dropped at the flush', async () => {
  const s = new FakeSocket({ highWaterMark: 1024 });
  const { q, o } = queueOn(s);
  q.write(b('queued'));
  s.destroy();
  await tick();
  assert.equal(s.writeCalls, 0, 'wrote to a destroyed socket');
  assert.equal(q.write(b('more')), false);
  assert.equal(q.bufferedAmount, 0, 'a refused frame was counted');
  await turn();
  assert.equal(s.writeCalls, 0);
  assert.equal(o.drains, 0);
});

test('after end(): write() answers false; clear() forgets what was queued', async () => {
  const s = new FakeSocket({ highWaterMark: 1024 });
  const { q } = queueOn(s);
  q.write(b('dropped'));
  assert.equal(q.bufferedAmount, 7);
  q.clear();
  assert.equal(q.bufferedAmount, 0);
  await tick();
  assert.equal(s.writeCalls, 0, 'clear() did not drop the queued frame');
  q.write(b('kept'));
  q.flushWrites(); // out of band, synchronously (before a close frame + end())
  assert.equal(s.bytes.toString(), 'kept');
  s.end();
  assert.equal(q.write(b('late')), false);
  await tick();
  assert.equal(s.writeCalls, 1, 'the batcher wrote again after the synchronous flush');
});

test('real TCP sockets: one write() per connection per tick, bytes in order, for two connections', async (t) => {
  const server = createServer();
  const accepted = [];
  server.on('connection', (sock) => accepted.push(sock));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  const clients = [];
  t.after(async () => {
    for (const c of clients) c.destroy();
    for (const s of accepted) s.destroy();
    await new Promise((r) => server.close(r));
  });
  for (let i = 0; i < 2; i++) {
    const c = connect(port, '127.0.0.1');
    clients.push(c);
    await once(c, 'connect');
  }
  while (accepted.length < 2) await once(server, 'connection');

  const received = clients.map(() => []);
  for (const [i, c] of clients.entries()) c.on('data', (d) => received[i].push(d));
  const queues = accepted.map((sock) => {
    const o = owner();
    const q = new OutboundQueue(sock, o);
    sock.on('drain', () => q.onSocketDrain());
    const real = sock.write.bind(sock);
    q.calls = 0;
    sock.write = (...args) => {
      q.calls++;
      return real(...args);
    };
    return q;
  });
  const expected = queues.map((q, i) => {
    const frames = Array.from({ length: 50 }, (_, k) => b(`c${i}m${k};`));
    for (const f of frames) assert.equal(q.write(f), true);
    return Buffer.concat(frames).toString();
  });
  assert.deepEqual(
    queues.map((q) => q.calls),
    [0, 0],
  );
  await tick();
  assert.deepEqual(
    queues.map((q) => q.calls),
    [1, 1],
    'not one write per connection per tick',
  );
  for (let i = 0; i < 2; i++) {
    while (Buffer.concat(received[i]).length < expected[i].length) await once(clients[i], 'data');
    assert.equal(Buffer.concat(received[i]).toString(), expected[i]);
  }
  // a destroyed real socket: the queue refuses and the batcher writes nothing
  accepted[0].destroy();
  assert.equal(queues[0].write(b('x')), false);
  await tick();
  assert.equal(queues[0].calls, 1);
});

test('broadcast: queues holding the same frames in one tick write one shared joined Buffer; others their own bytes', async () => {
  class Recording extends FakeSocket {
    constructor() {
      super({ highWaterMark: 1 << 20 });
      this.written = [];
    }
    write(chunk, ...rest) {
      this.written.push(chunk);
      return super.write(chunk, ...rest);
    }
  }
  const a = Buffer.from('aa');
  const b = Buffer.from('bbb');
  const c = Buffer.from('c');
  const sockets = Array.from({ length: 5 }, () => new Recording());
  const queues = sockets.map((s) => new OutboundQueue(s, owner()));
  // 0, 1 and 3 get a+b; 2 gets a+c between them; 4 gets a+b+a (same prefix, longer).
  for (const [i, frames] of [
    [0, [a, b]],
    [1, [a, b]],
    [2, [a, c]],
    [3, [a, b]],
    [4, [a, b, a]],
  ]) {
    for (const f of frames) queues[i].write(f);
  }
  await new Promise((r) => process.nextTick(r));
  assert.deepEqual(
    sockets.map((s) => s.bytes.toString()),
    ['aabbb', 'aabbb', 'aac', 'aabbb', 'aabbbaa'],
  );
  assert.equal(sockets[0].written.length, 1);
  assert.equal(sockets[1].written[0], sockets[0].written[0], "the second queue reuses the first one's joined batch");
  assert.notEqual(sockets[3].written[0], sockets[0].written[0], 'only the previous batch is kept: a+c came between');
  // The next tick joins anew (nothing is kept from one pass to the next).
  queues[0].write(a);
  queues[0].write(b);
  await new Promise((r) => process.nextTick(r));
  assert.equal(sockets[0].written.length, 2);
  assert.notEqual(sockets[0].written[1], sockets[0].written[0]);
  assert.equal(sockets[0].bytes.toString(), 'aabbbaabbb');
});

test("a write answers against the high-water mark as the socket stood when the tick's first frame was queued", () => {
  const s = new FakeSocket({ highWaterMark: 16, slow: true });
  s.write(Buffer.alloc(10)); // 10 bytes held by the socket, not yet taken by the "kernel"
  const q = new OutboundQueue(s, owner());
  assert.equal(q.write(Buffer.alloc(3)), true); // 10 + 3 < 16
  assert.equal(q.write(Buffer.alloc(2)), true); // 10 + 5 < 16
  assert.equal(q.write(Buffer.alloc(1)), false); // 10 + 6 >= 16
  assert.equal(q.bufferedAmount, 16);
});
