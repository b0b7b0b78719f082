// Fuzzing the permessage-deflate inflate path: the Receiver's handling of RSV1 frames (split at
// every offset), and the codec's inflation of valid, truncated, mutated and random compressed
// data, on the event loop, on the thread pool and on a kept context. Whatever comes in, the
// result is the message or a StelarError with 1007 / 1009, never a throw; no output is over
// the limit; memory stays bounded. Seeded: FUZZ_SEED=<seed> node scripts/run-tests.mjs deflate-fuzz
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { constants, createDeflateRaw, deflateRawSync } from 'node:zlib';
import { StelarError } from '../../dist/protocol/index.js';
import { DeflateContext, Receiver, resolveDeflateOptions, SYNC_INFLATE_LIMIT } from '../../dist/websocket/index.js';
import { fuzzRng } from '../support/fuzz-rng.mjs';
import { rawFrame } from './helpers.mjs';

const rng = fuzzRng('deflate');
const { seed } = rng;
const SYNC = { finishFlush: constants.Z_SYNC_FLUSH };

function getGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc');
}
const gc = getGc();
/** Heap + Buffers after full GCs, a few loop turns apart: closed zlib objects keep their output until their handle's close has run. */
async function held() {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const WORDS = ['{"user":', '"alice"', ',"text":"', 'hello', ' world', '"}', '\u00e9t\u00e9', '\u{1F600}', '0123456789', '\n'];
function randomMessage() {
  const r = rng.int(10);
  const n = r < 5 ? rng.int(300) : r < 8 ? rng.int(5000) : rng.int(400_000);
  if (rng.chance(0.3)) return rng.bytes(n);
  let s = '';
  while (s.length < n) s += rng.pick(WORDS);
  return Buffer.from(s);
}

/** What a peer sends: deflate with a sync flush, the last 4 bytes dropped (RFC 7692 7.2.1). */
function compress(data, windowBits = 15) {
  const out = deflateRawSync(data, { ...SYNC, windowBits: Math.max(9, windowBits), level: rng.int(10) });
  return out.subarray(0, out.length - 4);
}

function mutate(data) {
  const out = Buffer.from(data);
  switch (rng.int(5)) {
    case 0: // truncated
      return out.subarray(0, rng.int(out.length + 1));
    case 1: // bytes flipped
      for (let i = 0, n = 1 + rng.int(4); i < n && out.length > 0; i++) out[rng.int(out.length)] ^= 1 + rng.int(255);
      return out;
    case 2: // junk after it
      return Buffer.concat([out, rng.bytes(1 + rng.int(20))]);
    case 3: // a final block (BFINAL) in front: data after the end of the stream
      return Buffer.concat([deflateRawSync(Buffer.from('end')), out]);
    default: // garbage
      return rng.bytes(rng.int(200));
  }
}

const context = new DeflateContext(resolveDeflateOptions({ concurrency: 4 }));
const codec = (peerNoContextTakeover) => context.codec({ ownNoContextTakeover: true, peerNoContextTakeover, ownWindowBits: 15, peerWindowBits: 15 });

/** A result is the message, or a 1007/1009 StelarError; never over `max`. */
function checkResult(result, max, label) {
  if (result instanceof StelarError) {
    assert.ok(result.closeCode === 1007 || result.closeCode === 1009, `${label}: close code ${result.closeCode}`);
    return result.closeCode;
  }
  assert.ok(Buffer.isBuffer(result), `${label}: not a Buffer`);
  assert.ok(result.length <= max, `${label}: ${result.length} bytes over the limit of ${max}`);
  return 0;
}

/** Inflates as a connection does: now when it can, else on the thread pool. */
function inflate(c, data, max) {
  const now = c.inflateNow(data, max);
  if (now !== null) return Promise.resolve(now);
  return new Promise((resolve) => c.inflate(data, max, resolve));
}

it(`Receiver: RSV1 messages among plain and control frames, split at every offset (seed ${seed})`, () => {
  for (let round = 0; round < 40; round++) {
    const frames = [];
    const expected = [];
    for (let m = 0, count = 1 + rng.int(5); m < count; m++) {
      const data = randomMessage().subarray(0, 2000);
      const binary = rng.chance(0.5);
      const compressed = rng.chance(0.7);
      const payload = compressed ? compress(data) : data;
      const cuts = rng.chance(0.4) ? [0, rng.int(payload.length + 1), payload.length].sort((a, b) => a - b) : [0, payload.length];
      for (let i = 0; i < cuts.length - 1; i++) {
        // RSV1 on the first frame of a compressed message only.
        frames.push(
          rawFrame({
            opcode: i === 0 ? (binary ? 2 : 1) : 0,
            payload: payload.subarray(cuts[i], cuts[i + 1]),
            fin: i === cuts.length - 2,
            rsv: compressed && i === 0 ? 4 : 0,
            mask: true,
          }),
        );
        if (rng.chance(0.3)) frames.push(rawFrame({ opcode: 0x9, payload: rng.bytes(rng.int(20)), mask: true }));
      }
      // Uncompressed text must be UTF-8 to get through; compressed text is checked later, by the connection.
      expected.push([compressed ? 'compressed' : 'message', binary, payload.toString('hex')]);
    }
    const bytes = Buffer.concat(frames);
    const run = (pieces) => {
      const events = [];
      const receiver = new Receiver({
        isServer: true,
        onMessage: (data, isBinary) => events.push(['message', isBinary, data.toString('hex')]),
        onCompressedMessage: (data, isBinary) => events.push(['compressed', isBinary, data.toString('hex')]),
        onError: (err) => events.push(['error', err.code]),
      });
      for (const p of pieces) receiver.write(Buffer.from(p));
      return events;
    };
    const whole = run([bytes]);
    const textOk = whole.every((e) => e[0] !== 'error');
    if (textOk) assert.deepEqual(whole, expected, `seed ${seed} round ${round}`);
    else assert.equal(whole.at(-1)[1], 'STELAR_ERR_WS_INVALID_UTF8', `seed ${seed} round ${round}: only invalid plain text may fail`);
    const step = bytes.length > 3000 ? 7 : 1;
    for (let k = 1; k < bytes.length; k += step) {
      assert.deepEqual(run([bytes.subarray(0, k), bytes.subarray(k)]), whole, `seed ${seed} round ${round}: split at ${k}`);
    }
  }
});

it(`codec: every truncation of valid messages, on the event loop: refused or inflated, never thrown (seed ${seed})`, () => {
  const c = codec(true);
  for (let round = 0; round < 12; round++) {
    const data = randomMessage().subarray(0, 3000);
    const payload = compress(data);
    for (let k = 0; k <= payload.length; k++) {
      const result = c.inflateNow(payload.subarray(0, k), 1 << 20);
      // A cut stream is refused, or inflates to something (the appended 00 00 ff ff may then be
      // read as data): never a throw, never over the limit.
      checkResult(result, 1 << 20, `seed ${seed} round ${round} cut ${k}`);
      if (k === payload.length) assert.ok(data.equals(result), `seed ${seed} round ${round}: the whole message`);
    }
  }
});

it(`codec: valid, mutated and random data, sync and on the thread pool, bounded (seed ${seed})`, { timeout: 120_000 }, async () => {
  const counts = { ok: 0, 1007: 0, 1009: 0, async: 0 };
  let before = 0;
  const ITERATIONS = 1500;
  for (let i = 0; i < ITERATIONS; i++) {
    if (i === 100) before = await held();
    const label = `seed ${seed} iteration ${i}`;
    const data = randomMessage();
    const valid = rng.chance(0.3);
    const payload = valid ? compress(data) : mutate(compress(data));
    const max = rng.pick([64, 1024, SYNC_INFLATE_LIMIT, SYNC_INFLATE_LIMIT * 2, 1 << 20]);
    const c = codec(true);
    if (payload.length > 0 && c.inflateNow(payload, max) === null) counts.async++;
    const result = await inflate(c, payload, max);
    const code = checkResult(result, max, label);
    counts[code === 0 ? 'ok' : code]++;
    if (valid) {
      if (data.length <= max) assert.ok(data.equals(result), `${label}: valid message misread`);
      else assert.equal(code, 1009, `${label}: over the limit`);
    }
  }
  // Data that inflates to far more than any limit: stopped at the limit, on either path.
  const bomb = compress(Buffer.alloc(8 << 20));
  for (const max of [1000, SYNC_INFLATE_LIMIT, 3 << 20]) assert.equal(checkResult(await inflate(codec(true), bomb, max), max, `bomb ${max}`), 1009);
  const growth = (await held()) - before;
  console.log(`deflate fuzz: ${JSON.stringify(counts)}, memory growth ${(growth / 1048576).toFixed(1)} MB`);
  assert.ok(growth < 20 * 1024 * 1024, `memory grew by ${growth} bytes`);
  assert.ok(counts.ok > 0 && counts[1007] > 0 && counts[1009] > 0 && counts.async > 0, `every outcome seen: ${JSON.stringify(counts)}`);
});

it(`codec: a kept context across messages, then corrupted data (seed ${seed})`, async () => {
  for (let round = 0; round < 20; round++) {
    const c = codec(false);
    // The peer's compressor keeps its context: one stream, flushed after every message.
    const deflater = createDeflateRaw({ level: rng.int(10) });
    const sent = [];
    for (let m = 0, n = 1 + rng.int(8); m < n; m++) {
      const data = randomMessage().subarray(0, 20_000);
      const chunks = [];
      const onData = (chunk) => chunks.push(chunk);
      deflater.on('data', onData);
      deflater.write(data);
      await new Promise((resolve) => deflater.flush(constants.Z_SYNC_FLUSH, resolve));
      deflater.off('data', onData);
      const out = Buffer.concat(chunks);
      sent.push([data, out.subarray(0, out.length - 4)]);
    }
    deflater.close();
    const breakAt = rng.chance(0.5) ? rng.int(sent.length) : -1;
    for (let m = 0; m < sent.length; m++) {
      const [data, payload] = sent[m];
      assert.equal(c.inflateNow(payload, 1 << 20), null, 'a kept context is always inflated on the thread pool');
      const result = await new Promise((resolve) => c.inflate(m === breakAt ? mutate(payload) : payload, 1 << 20, resolve));
      const code = checkResult(result, 1 << 20, `seed ${seed} round ${round} message ${m}`);
      if (m === breakAt) break; // a connection fails at its first bad message; nothing after it is read
      assert.equal(code, 0);
      assert.ok(data.equals(result), `seed ${seed} round ${round} message ${m}`);
    }
    c.close();
  }
});
