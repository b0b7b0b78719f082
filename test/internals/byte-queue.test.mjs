// ByteQueue (src/net/byte-queue.ts): the receive buffer shared by the WebSocket receiver
// and the TCP frame parser. Read exactly n bytes from the front whatever the chunking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteQueue } from '../../dist/net/byte-queue.js';

/** Deterministic bytes (no Math.random: a failure must be reproducible), in their own ArrayBuffer (not the pool). */
function bytes(n, seed = 1) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A copy in its own ArrayBuffer, so the queue cannot accidentally read the original. */
const own = (buf) => Buffer.from(new Uint8Array(buf));

test('take(n) returns the right bytes across a two-chunk boundary at every split offset, for several read sizes', () => {
  const data = bytes(1536, 7);
  for (const size of [1, 3, 7, 512, 1000, 1536]) {
    for (let split = 0; split <= data.length; split++) {
      const q = new ByteQueue();
      q.push(own(data.subarray(0, split)));
      q.push(own(data.subarray(split)));
      assert.equal(q.length, data.length);
      const parts = [];
      let left = data.length;
      while (left > 0) {
        const n = Math.min(size, left);
        const part = q.take(n);
        assert.equal(part.length, n);
        parts.push(part);
        left -= n;
        assert.equal(q.length, left);
      }
      const got = Buffer.concat(parts);
      if (!got.equals(data)) assert.fail(`read size ${size}, split at ${split}: bytes differ`);
    }
  }
});

test('take(n) spanning three and more chunks (each >= 512 bytes, so none are merged)', () => {
  const sizes = [512, 700, 513, 2048, 600];
  const data = bytes(
    sizes.reduce((a, b) => a + b),
    3,
  );
  for (let first = 0; first <= data.length; first += 37) {
    const q = new ByteQueue();
    let at = 0;
    for (const s of sizes) {
      q.push(own(data.subarray(at, at + s)));
      at += s;
    }
    const head = first === 0 ? Buffer.alloc(0) : q.take(first);
    const rest = q.take(data.length - first);
    assert.ok(Buffer.concat([head, rest]).equals(data), `first read of ${first} bytes`);
    assert.equal(q.length, 0);
  }
});

test('readUInt16BE/readUInt32BE/readInt32BE read the right value at every position, straddling a boundary or not', () => {
  const a = bytes(600, 11);
  const b = bytes(600, 13);
  const data = Buffer.concat([a, b]);
  for (let at = 0; at + 4 <= data.length; at++) {
    for (const [width, read, expect] of [
      [2, (q) => q.readUInt16BE(), data.readUInt16BE(at)],
      [4, (q) => q.readUInt32BE(), data.readUInt32BE(at)],
      [4, (q) => q.readInt32BE(), data.readInt32BE(at)],
    ]) {
      const q = new ByteQueue();
      q.push(own(a));
      q.push(own(b));
      if (at > 0) q.take(at);
      const value = read(q);
      if (value !== expect) assert.fail(`${width}-byte read at ${at}: ${value} !== ${expect}`);
      assert.equal(q.length, data.length - at - width);
      // the read position moved by exactly the header width
      if (at + width < data.length) assert.equal(q.take(1)[0], data[at + width], `byte after a ${width}-byte read at ${at}`);
    }
  }
});

test('readInt32BE is signed, readUInt32BE is not', () => {
  const q = new ByteQueue();
  q.push(Buffer.from([0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xfe]));
  assert.equal(q.readInt32BE(), -2);
  assert.equal(q.readUInt32BE(), 0xfffffffe);
});

test('a header inside one chunk is read in place: the bytes after it still come out as a view of that chunk', () => {
  const chunk = Buffer.from(new Uint8Array(2048));
  chunk.writeUInt16BE(0xabcd, 0);
  chunk.writeUInt32BE(0x01020304, 2);
  chunk.fill(9, 6);
  const q = new ByteQueue();
  q.push(chunk);
  assert.equal(q.readUInt16BE(), 0xabcd);
  assert.equal(q.readUInt32BE(), 0x01020304);
  const payload = q.take(100);
  assert.ok(payload.buffer === chunk.buffer, 'payload was copied instead of viewed in place');
  assert.equal(payload.byteOffset, chunk.byteOffset + 6);
  assert.ok(payload.every((x) => x === 9));
});

test('bytes held by one chunk come out zero-copy; the whole chunk comes out as the same Buffer', () => {
  const chunk = bytes(1024, 5);
  const q = new ByteQueue();
  q.push(chunk);
  assert.ok(q.take(1024) === chunk, 'a whole chunk was not handed back as is');
  const big = bytes(4096, 6);
  q.push(big);
  const view = q.take(10);
  assert.ok(view.buffer === big.buffer, 'a read inside one chunk was copied');
  assert.ok(view.equals(big.subarray(0, 10)));
});

test('a read across chunks is one copy, not a view of either chunk, and later reads are unaffected by writes to it', () => {
  const a = bytes(600, 21);
  const b = bytes(600, 22);
  const q = new ByteQueue();
  q.push(a);
  q.push(b);
  q.take(590);
  const straddle = q.take(20);
  assert.ok(straddle.buffer !== a.buffer && straddle.buffer !== b.buffer, 'a straddling read aliases a chunk');
  assert.ok(straddle.equals(Buffer.concat([a.subarray(590), b.subarray(0, 10)])));
  straddle.fill(0);
  assert.ok(q.take(590).equals(b.subarray(10)));
});

test('many 1-byte pushes are merged: far fewer backing buffers than bytes, and the bytes stay in order', () => {
  const n = 100_000;
  const data = bytes(n, 9);
  const q = new ByteQueue();
  // each pushed byte lives in its own ArrayBuffer, so a queue keeping one chunk per push
  // would hand back n distinct backing stores
  for (let i = 0; i < n; i++) q.push(Buffer.from(new Uint8Array([data[i]])));
  assert.equal(q.length, n);
  const stores = new Set();
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    const one = q.take(1);
    stores.add(one.buffer);
    out[i] = one[0];
  }
  assert.ok(out.equals(data), 'bytes reordered or lost by merging');
  // merged chunks stop growing past 8 KiB (+ one small chunk): ~n / 8192 of them
  assert.ok(stores.size <= Math.ceil(n / 8192) + 2, `${stores.size} backing buffers for ${n} one-byte pushes`);
});

test('merging stops at the merge limit and never merges a large chunk', () => {
  const q = new ByteQueue();
  const big = bytes(512, 31); // not small: kept as its own chunk
  q.push(bytes(100, 30));
  q.push(big);
  q.take(100);
  assert.ok(q.take(512) === big, 'a 512-byte chunk was merged into its predecessor');

  // a merged chunk grown to >= 8192 bytes takes no more small chunks
  const r = new ByteQueue();
  for (let i = 0; i < 40; i++) r.push(bytes(511, 40 + i)); // 40 * 511 = 20440
  const stores = new Set();
  let left = r.length;
  while (left > 0) {
    stores.add(r.take(1).buffer);
    left--;
  }
  assert.ok(stores.size >= 2, 'everything merged into one chunk: no merge limit');
  assert.ok(stores.size <= 4, `${stores.size} chunks for 20440 bytes in 511-byte pushes`);
});

test('length accounting: pushes, reads, empty pushes, clear and release', () => {
  const q = new ByteQueue();
  assert.equal(q.length, 0);
  q.push(Buffer.alloc(0));
  q.push(new Uint8Array(0));
  assert.equal(q.length, 0);
  q.push(bytes(10));
  q.push(new Uint8Array([1, 2, 3])); // a plain Uint8Array is accepted
  assert.equal(q.length, 13);
  q.readUInt16BE();
  assert.equal(q.length, 11);
  q.readUInt32BE();
  assert.equal(q.length, 7);
  q.take(5);
  assert.equal(q.length, 2);
  q.release(); // not empty: keeps the bytes
  assert.equal(q.length, 2);
  assert.deepEqual([...q.take(2)], [2, 3]);
  assert.equal(q.length, 0);
  q.release();
  q.push(Buffer.from([7, 8]));
  assert.equal(q.length, 2);
  q.clear();
  assert.equal(q.length, 0);
  q.push(Buffer.from([5]));
  assert.deepEqual([...q.take(1)], [5], 'the queue is usable after clear()');
});

test('a Uint8Array view with an offset is read from its own window', () => {
  const backing = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
  const q = new ByteQueue();
  q.push(backing.subarray(2, 6));
  assert.equal(q.length, 4);
  assert.deepEqual([...q.take(4)], [2, 3, 4, 5]);
});

test('take(0) on a non-empty queue returns an empty Buffer and consumes nothing', () => {
  const q = new ByteQueue();
  q.push(Buffer.from([1, 2, 3]));
  q.take(1);
  const empty = q.take(0);
  assert.equal(empty.length, 0);
  assert.ok(Buffer.isBuffer(empty));
  assert.equal(q.length, 2);
  assert.deepEqual([...q.take(2)], [2, 3]);
});

// Regression: take(0) with nothing buffered threw a TypeError (it read the missing first chunk).
test('take(0) on an empty queue returns an empty Buffer (length >= n holds for n = 0)', () => {
  const q = new ByteQueue();
  const empty = q.take(0);
  assert.equal(empty.length, 0);
  assert.equal(q.length, 0);
});

test('peek(from, to) gives views of the queued bytes without taking them, and writes through them show in take', () => {
  const sizes = [600, 513, 700, 20, 9];
  const data = bytes(
    sizes.reduce((a, b) => a + b),
    11,
  );
  for (const consumed of [0, 1, 599, 600, 1113]) {
    const q = new ByteQueue();
    let at = 0;
    for (const s of sizes) {
      q.push(own(data.subarray(at, at + s)));
      at += s;
    }
    q.take(consumed);
    const left = data.length - consumed;
    for (const [from, to] of [
      [0, left],
      [0, 1],
      [5, 700],
      [left - 3, left],
      [7, 7],
    ]) {
      const views = q.peek(from, to);
      assert.ok(Buffer.concat(views).equals(data.subarray(consumed + from, consumed + to)), `consumed ${consumed}, peek ${from}-${to}`);
      assert.equal(q.length, left, 'nothing taken');
    }
    for (const view of q.peek(2, left)) view.fill(0xaa);
    const rest = q.take(left);
    assert.ok(rest.subarray(0, 2).equals(data.subarray(consumed, consumed + 2)));
    assert.ok(rest.subarray(2).equals(Buffer.alloc(left - 2, 0xaa)), 'writes through the views are what take returns');
  }
});
