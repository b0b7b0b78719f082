// Fuzzes TcpFrameParser with random and mutated byte streams, checked against a
// one-shot reference parser written independently below. Reproduce a failure with
// FUZZ_SEED=<seed printed below> node scripts/run-tests.mjs test/tcp/fuzz
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpFrameParser } from '../../dist/tcp/index.js';
import { encodePacket, decodePacket, PacketType, StelarError, CloseCode } from '../../dist/protocol/index.js';
import { fuzzRng } from '../support/fuzz-rng.mjs';

const { seed: SEED, next, int, pick, bytes: randomBytes } = fuzzRng('tcp');

const documentedCloseCodes = new Set([0, ...Object.values(CloseCode)]);

/** Independent one-shot reference: what a correct parser must produce for a whole stream. */
function reference(stream, max) {
  const frames = [];
  let o = 0;
  while (stream.length - o >= 4) {
    const len = stream.readUInt32BE(o);
    if (len < 7) return { frames, error: 'STELAR_ERR_TCP_FRAME_TOO_SHORT' };
    if (len > max) return { frames, error: 'STELAR_ERR_TCP_FRAME_TOO_LARGE' };
    if (stream.length - o < len) break;
    frames.push(stream.subarray(o + 4, o + len));
    o += len;
  }
  return { frames, error: undefined };
}

function run(chunks, max) {
  const frames = [];
  const errors = [];
  const parser = new TcpFrameParser({
    maxFrameSize: max,
    onFrame: (p) => frames.push(Buffer.from(p)), // copy: a slice may alias a chunk we reuse
    onError: (e) => errors.push(e),
  });
  for (const c of chunks) {
    parser.push(c);
    assert.ok(parser.bufferedBytes <= max, `bufferedBytes ${parser.bufferedBytes} > max ${max} (seed ${SEED})`);
  }
  return { frames, errors };
}

function check(stream, chunks, max, label) {
  const want = reference(stream, max);
  const got = run(chunks, max);
  const msg = `${label} (seed ${SEED}, max ${max}, stream ${stream.toString('hex').slice(0, 200)})`;
  assert.ok(got.errors.length <= 1, `more than one error: ${msg}`);
  for (const e of got.errors) {
    assert.ok(e instanceof StelarError, msg);
    assert.ok(documentedCloseCodes.has(e.closeCode), msg);
  }
  assert.equal(got.errors[0]?.code, want.error, msg);
  assert.equal(got.frames.length, want.frames.length, msg);
  for (let i = 0; i < want.frames.length; i++) assert.ok(got.frames[i].equals(want.frames[i]), `frame ${i}: ${msg}`);
  // whatever came out must only ever make decodePacket throw a StelarError
  for (const f of got.frames) {
    try {
      decodePacket(f);
    } catch (err) {
      assert.ok(err instanceof StelarError, `decodePacket threw ${err}: ${msg}`);
    }
  }
}

function randomPacket() {
  const type = int(11);
  const event = pick(['', 'a', 'chat', 'ünï', '房间', 'x'.repeat(int(40))]);
  switch (type) {
    case PacketType.BINARY:
    case PacketType.PING:
    case PacketType.PONG:
      return { type, event, data: randomBytes(int(48)) };
    case PacketType.JOIN_ROOM:
    case PacketType.LEAVE_ROOM:
      return { type, event };
    case PacketType.ACK_REQUEST:
      return { type, event, ackId: next(), ackName: pick([undefined, 'h', event]), data: pick([undefined, null, 1, 'x', [1, { a: 2 }]]) };
    case PacketType.ACK_RESPONSE:
      return { type, event, ackId: next(), ok: int(2) === 0, data: pick([undefined, { v: 'ok' }, { message: 'm', code: 'c' }]) };
    default:
      return { type, event, data: pick([undefined, null, true, 12.5, 'txt', { k: [1, 2, { z: null }] }]) };
  }
}

function validStream() {
  const n = 1 + int(5);
  const parts = [];
  for (let i = 0; i < n; i++) parts.push(Buffer.from(encodePacket(randomPacket(), 4)));
  return parts;
}

function interestingLength(max, actual) {
  return pick([0, 1, 6, 7, 8, max - 1, max, max + 1, 0x7fffffff, 0xffffffff, actual - 1, actual + 1, next()]) >>> 0;
}

function mutate(stream, frameStarts, max) {
  const b = Buffer.from(stream);
  const kind = int(5);
  if (kind === 0 && b.length) {
    // bit flips
    const flips = 1 + int(4);
    for (let i = 0; i < flips; i++) b[int(b.length)] ^= 1 << int(8);
    return b;
  }
  if (kind === 1) return b.subarray(0, int(b.length + 1)); // truncation
  if (kind === 2) {
    // splice random bytes or a piece of itself in at a random point
    const at = int(b.length + 1);
    const insert = int(2) ? randomBytes(int(16)) : b.subarray(int(b.length + 1));
    return Buffer.concat([b.subarray(0, at), insert, b.subarray(at)]);
  }
  if (kind === 3 && frameStarts.length) {
    // rewrite one frame's length field
    const at = pick(frameStarts);
    b.writeUInt32BE(interestingLength(max, b.readUInt32BE(at)), at);
    return b;
  }
  // delete a range
  const from = int(b.length + 1);
  return Buffer.concat([b.subarray(0, from), b.subarray(from + int(12))]);
}

function randomChunks(stream) {
  const chunks = [];
  let o = 0;
  while (o < stream.length) {
    const n = 1 + int(Math.min(64, stream.length - o));
    chunks.push(stream.subarray(o, o + n));
    o += n;
  }
  return chunks;
}

test(`random byte streams (seed ${SEED})`, () => {
  for (let i = 0; i < 10000; i++) {
    const max = 7 + int(600);
    const stream = randomBytes(int(300));
    // bias half of them towards plausible lengths so the body path is exercised
    if (int(2) && stream.length >= 4) stream.writeUInt32BE(7 + int(Math.min(max, stream.length)), 0);
    check(stream, [stream], max, `random #${i} whole`);
    check(stream, randomChunks(stream), max, `random #${i} chunked`);
  }
});

test(`mutated valid streams, whole, random chunks, and split at every offset for a subset (seed ${SEED})`, () => {
  let splitRuns = 0;
  for (let i = 0; i < 10000; i++) {
    const parts = validStream();
    const starts = [];
    let o = 0;
    for (const p of parts) {
      starts.push(o);
      o += p.length;
    }
    const clean = Buffer.concat(parts);
    const max = pick([clean.length, 7 + int(300), 10 * 1024 * 1024]);
    const stream = int(10) === 0 ? clean : mutate(clean, starts, max);
    check(stream, [stream], max, `mutated #${i} whole`);
    check(stream, randomChunks(stream), max, `mutated #${i} chunked`);
    if (i % 20 === 0) {
      for (let cut = 0; cut <= stream.length; cut++) {
        check(stream, [stream.subarray(0, cut), stream.subarray(cut)], max, `mutated #${i} split at ${cut}`);
      }
      splitRuns++;
    }
  }
  assert.ok(splitRuns >= 500);
});

test(`byte-at-a-time feeding of mutated streams (seed ${SEED})`, () => {
  for (let i = 0; i < 1000; i++) {
    const clean = Buffer.concat(validStream());
    const stream = mutate(clean, [0], 7 + int(200));
    const max = 7 + int(200);
    const chunks = [];
    for (let j = 0; j < stream.length; j++) chunks.push(stream.subarray(j, j + 1));
    check(stream, chunks, max, `bytewise #${i}`);
  }
});

test('memory stays bounded: forged huge lengths never buffer, a max-size frame buffers at most max', () => {
  const max = 1024 * 1024;
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 2000; i++) {
    const errors = [];
    const parser = new TcpFrameParser({ maxFrameSize: max, onFrame() {}, onError: (e) => errors.push(e) });
    const head = Buffer.alloc(4);
    head.writeUInt32BE((max + 1 + (next() % (0xffffffff - max))) >>> 0);
    parser.push(Buffer.concat([head, randomBytes(64)]));
    assert.equal(errors.length, 1);
    assert.equal(parser.bufferedBytes, 0);
  }
  // a frame exactly at the cap arriving in 64 KiB pieces never holds more than the cap
  const frame = Buffer.from(encodePacket({ type: PacketType.BINARY, event: 'e', data: Buffer.alloc(max - 8) }, 4));
  assert.equal(frame.length, max);
  let got = 0;
  const parser = new TcpFrameParser({ maxFrameSize: max, onFrame: (p) => (got += p.length), onError: assert.fail });
  for (let round = 0; round < 20; round++) {
    for (let o = 0; o < frame.length; o += 65536) {
      parser.push(frame.subarray(o, o + 65536));
      assert.ok(parser.bufferedBytes <= max);
    }
  }
  assert.equal(got, 20 * (max - 4));
  const grown = process.memoryUsage().rss - before;
  assert.ok(grown < 256 * 1024 * 1024, `rss grew by ${grown} bytes`);
});
