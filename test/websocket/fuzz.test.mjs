// Fuzzing the Receiver: random, valid and mutated byte streams, whole and split at every
// offset. Seeded so a failure reproduces: FUZZ_SEED=<seed> node scripts/run-tests.mjs test/websocket/fuzz
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { StelarError } from '../../dist/protocol/index.js';
import { Receiver } from '../../dist/websocket/index.js';
import { rawFrame } from './helpers.mjs';
import { fuzzRng } from '../support/fuzz-rng.mjs';

const rng = fuzzRng('websocket');
const { seed } = rng;
const ALPHABET = ['a', 'Z', ' ', '\u00e9', '\u20ac', '\u{1F600}', '\u4e2d', '\n'];

function randomText(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[rng.int(ALPHABET.length)];
  return s;
}

function payloadSize() {
  const r = rng.int(100);
  if (r < 60) return rng.int(20);
  if (r < 85) return rng.int(200);
  if (r < 97) return 100 + rng.int(1200);
  return 65530 + rng.int(12);
}

/**
 * A valid stream of frames for the given role and the events a correct receiver reports.
 * Messages are sometimes fragmented (text cut inside code points), with control frames between.
 */
function validStream(isServer) {
  const frames = [];
  const events = [];
  const frame = (opcode, payload, fin = true) => frames.push(rawFrame({ opcode, payload, fin, mask: isServer ? rng.bytes(4) : null }));
  const count = 1 + rng.int(6);
  for (let m = 0; m < count; m++) {
    const kind = rng.int(10);
    if (kind < 2) {
      const body = rng.bytes(rng.int(126));
      const ping = rng.chance(0.5);
      frame(ping ? 0x9 : 0xa, body);
      events.push([ping ? 'ping' : 'pong', body.toString('base64')]);
      continue;
    }
    const binary = kind < 6;
    const data = binary ? rng.bytes(payloadSize()) : Buffer.from(randomText(Math.min(payloadSize(), 3000)));
    const pieces = rng.chance(0.4) ? 1 + rng.int(5) : 1;
    const cuts = [0];
    for (let i = 1; i < pieces; i++) cuts.push(rng.int(data.length + 1));
    cuts.push(data.length);
    cuts.sort((a, b) => a - b);
    for (let i = 0; i < cuts.length - 1; i++) {
      frame(i === 0 ? (binary ? 0x2 : 0x1) : 0x0, data.subarray(cuts[i], cuts[i + 1]), i === cuts.length - 2);
      if (i < cuts.length - 2 && rng.chance(0.3)) {
        const body = rng.bytes(rng.int(20));
        frame(0x9, body);
        events.push(['ping', body.toString('base64')]);
      }
    }
    events.push(['message', binary, data.toString('base64')]);
  }
  if (rng.chance(0.3)) {
    const body = Buffer.alloc(2);
    body.writeUInt16BE(1000 + rng.int(4), 0);
    frame(0x8, Buffer.concat([body, Buffer.from(randomText(rng.int(10)))]));
    events.push(['close', body.readUInt16BE(0)]);
  }
  return { bytes: Buffer.concat(frames), events };
}

function mutate(bytes) {
  const out = Buffer.from(bytes);
  const op = rng.int(5);
  if (op === 0 && out.length) {
    for (let i = 1 + rng.int(8); i > 0; i--) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  }
  if (op === 1) return out.subarray(0, rng.int(out.length + 1));
  if (op === 2 && out.length) {
    const a = rng.int(out.length);
    const b = a + rng.int(out.length - a + 1);
    const at = rng.int(out.length + 1);
    return Buffer.concat([out.subarray(0, at), out.subarray(a, b), out.subarray(at)]);
  }
  if (op === 3) {
    const at = rng.int(out.length + 1);
    return Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(16)), out.subarray(at)]);
  }
  if (out.length) out[rng.int(Math.min(out.length, 2))] = rng.next() & 0xff; // header byte
  return out;
}

/** Feeds `pieces` to a fresh receiver and checks every invariant after each write. */
function run(pieces, opts, label) {
  const events = [];
  let ended = false;
  const receiver = new Receiver({
    ...opts,
    onMessage(data, isBinary) {
      assert.equal(ended, false, `${label}: message after error/close`);
      assert.ok(Buffer.isBuffer(data), `${label}: message is not a Buffer`);
      assert.ok(data.length <= opts.maxPayload, `${label}: message of ${data.length} > maxPayload ${opts.maxPayload}`);
      if (!isBinary) assert.ok(isUtf8(data), `${label}: invalid UTF-8 delivered as text`);
      events.push(['message', isBinary, data.toString('base64')]);
    },
    onPing: (d) => {
      assert.ok(d.length <= 125, `${label}: ping over 125 bytes`);
      events.push(['ping', d.toString('base64')]);
    },
    onPong: (d) => events.push(['pong', d.toString('base64')]),
    onClose(code) {
      assert.equal(ended, false, `${label}: close after error/close`);
      ended = true;
      events.push(['close', code]);
    },
    onError(err) {
      assert.equal(ended, false, `${label}: error after error/close`);
      ended = true;
      assert.ok(err instanceof StelarError, `${label}: not a StelarError: ${err}`);
      assert.ok([1002, 1007, 1009].includes(err.closeCode), `${label}: close code ${err.closeCode}`);
      assert.match(err.code, /^STELAR_ERR_WS_/);
      events.push(['error', err.code]);
    },
  });
  for (const piece of pieces) {
    try {
      receiver.write(Buffer.from(piece)); // copy: the receiver unmasks in place
    } catch (err) {
      assert.fail(`${label}: write threw ${err?.stack}`);
    }
    // A control frame (<= 125 bytes) may always be buffered, even when maxPayload is smaller.
    const bound = Math.max(opts.maxPayload, 125) + 14;
    assert.ok(receiver.bufferedBytes <= bound, `${label}: buffered ${receiver.bufferedBytes} > ${bound}`);
    assert.ok(receiver.messageBytes <= opts.maxPayload, `${label}: reassembly holds ${receiver.messageBytes}`);
  }
  return events;
}

function randomChunks(bytes) {
  const pieces = [];
  let at = 0;
  while (at < bytes.length) {
    const n = 1 + rng.int(rng.chance(0.5) ? 8 : 4096);
    pieces.push(bytes.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

function getGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc');
  } catch {
    return null;
  }
}

it(`fuzz: valid, mutated and random streams (seed ${seed})`, { timeout: 60_000 }, () => {
  const started = Date.now();
  const gc = getGc();
  let heapBefore = 0;
  let splitRuns = 0;
  const ITERATIONS = 6000;
  const counts = { valid: 0, mutated: 0, random: 0, errors: 0 };

  for (let i = 0; i < ITERATIONS; i++) {
    if (i === 300) {
      gc?.();
      heapBefore = process.memoryUsage().heapUsed;
    }
    const isServer = rng.chance(0.5);
    const label = `seed ${seed} iteration ${i}`;
    const kind = rng.int(10);
    let bytes;
    let expected = null;
    let opts;
    if (kind < 3) {
      ({ bytes, events: expected } = validStream(isServer));
      opts = { isServer, maxPayload: 1024 * 1024 };
      counts.valid++;
    } else if (kind < 8) {
      bytes = mutate(validStream(isServer).bytes);
      opts = { isServer, maxPayload: [64, 1000, 70000, 1024 * 1024][rng.int(4)], maxFragments: 1 + rng.int(8) };
      counts.mutated++;
    } else {
      bytes = rng.bytes(rng.int(400));
      opts = { isServer, maxPayload: [0, 125, 4096][rng.int(3)] };
      counts.random++;
    }

    const whole = run([bytes], opts, `${label} (whole)`);
    if (whole.at(-1)?.[0] === 'error') counts.errors++;
    if (expected) assert.deepEqual(whole, expected, `${label}: valid stream misread`);
    // any other chunking gives the same events
    assert.deepEqual(run(randomChunks(bytes), opts, `${label} (random chunks)`), whole, `${label}: chunking changed the result`);
    if (bytes.length <= 600 && i % 20 === 0) {
      for (let k = 1; k < bytes.length; k++) {
        const split = run([bytes.subarray(0, k), bytes.subarray(k)], opts, `${label} (split at ${k})`);
        assert.deepEqual(split, whole, `${label}: split at ${k} changed the result`);
        splitRuns++;
      }
    }
  }

  gc?.();
  const growth = process.memoryUsage().heapUsed - heapBefore;
  console.log(
    `fuzz: ${JSON.stringify(counts)}, ${splitRuns} split runs, heap growth ${(growth / 1048576).toFixed(1)} MB (gc ${gc ? 'on' : 'off'}), ${Date.now() - started} ms`,
  );
  assert.ok(growth < 50 * 1024 * 1024, `heap grew by ${growth} bytes`);
  assert.ok(counts.errors > 0 && counts.errors < ITERATIONS, 'the fuzzer should produce both accepted and refused streams');
});

// Issue 12: bounded by the byte budget (2 MiB at maxPayload 1 MiB, 65 per one-byte frame:
// about 32,000 frames), no longer by a 4096-frame cap.
it('fuzz: a flood of tiny fragments stays bounded by the fragment byte budget', () => {
  const events = run(
    [
      rawFrame({ opcode: 0x2, payload: 'a', fin: false, mask: true }),
      ...Array.from({ length: 40_000 }, () => rawFrame({ opcode: 0x0, payload: 'b', fin: false, mask: true })),
    ],
    { isServer: true, maxPayload: 1024 * 1024 },
    'flood',
  );
  assert.deepEqual(events, [['error', 'STELAR_ERR_WS_TOO_MANY_FRAGMENTS']]);
});
