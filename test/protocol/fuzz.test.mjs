// Fuzzes the packet codec. Reproduce a failure with
// FUZZ_SEED=<seed printed below> node scripts/run-tests.mjs test/protocol/fuzz
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket, decodePacket, PacketType, StelarError, CloseCode, ErrorCode } from '../../dist/protocol/index.js';
import { fuzzRng } from '../support/fuzz-rng.mjs';

const { seed: SEED, next, int, pick, bytes: randomBytes } = fuzzRng('packet');

const decodeCodes = new Set([ErrorCode.PACKET_TRUNCATED, ErrorCode.PACKET_UNKNOWN_TYPE, ErrorCode.PACKET_INVALID_JSON, ErrorCode.PACKET_INVALID_UTF8]);
const documentedCloseCodes = new Set([0, ...Object.values(CloseCode)]);
const RAW = new Set([PacketType.BINARY, PacketType.PING, PacketType.PONG]);

/** Valid Unicode only: lone surrogates cannot survive UTF-8 and are not a codec bug. */
function randomString(max) {
  const n = int(max + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = int(10);
    if (r < 5) s += String.fromCharCode(0x20 + int(95));
    else if (r < 7) s += String.fromCharCode(0xa0 + int(0x700));
    else if (r < 8) s += String.fromCharCode(0x3000 + int(0x6000));
    else if (r < 9) s += String.fromCodePoint(0x10000 + int(0xfffff));
    else s += pick(['\u0000', '\uFEFF', '"', '\\', '\n', '\u2028', '__proto__']);
  }
  return s;
}

function randomJson(depth = 0) {
  const r = int(depth > 3 ? 6 : 9);
  switch (r) {
    case 0:
      return null;
    case 1:
      return int(2) === 0;
    case 2:
      return (next() | 0) / pick([1, 3, 1024]);
    case 3:
      return randomString(12);
    case 4:
      return int(1000);
    case 5:
      return pick([0, -1, 1e21, 5e-324, Number.MAX_SAFE_INTEGER]);
    case 6:
    case 7: {
      const a = [];
      for (let i = int(5); i > 0; i--) a.push(randomJson(depth + 1));
      return a;
    }
    default: {
      const o = {};
      for (let i = int(5); i > 0; i--) {
        const key = randomString(6);
        // define, not assign: a "__proto__" key must stay a plain key
        Object.defineProperty(o, key, { value: randomJson(depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

function randomPacket() {
  const type = int(11);
  const event = randomString(pick([0, 3, 20]));
  const p = { type, event };
  if (RAW.has(type)) p.data = randomBytes(int(64));
  else if (type === PacketType.JOIN_ROOM || type === PacketType.LEAVE_ROOM) return p;
  else if (int(6) !== 0) p.data = randomJson();
  if (type === PacketType.ACK_REQUEST) {
    p.ackId = pick([0, 1, 0xffffffff, next()]);
    // an empty ack name is not expressible: length 0 on the wire means "same as the event"
    p.ackName = int(2) ? event : randomString(10) || 'h';
  }
  if (type === PacketType.ACK_RESPONSE) {
    p.ackId = pick([0, 1, 0xffffffff, next()]);
    p.ok = int(2) === 0;
  }
  return p;
}

/** Decoded packets in a comparable form (raw bytes as hex, data absent when undefined). */
function normal(p) {
  const q = { ...p };
  if (q.data instanceof Uint8Array) q.data = Buffer.from(q.data).toString('hex');
  if (q.data === undefined) delete q.data;
  return JSON.parse(JSON.stringify(q)); // -0 and 0 are the same value on the wire
}

/** decodePacket may only return a packet or throw a StelarError with a decode code. */
function safeDecode(bytes, label) {
  try {
    return decodePacket(bytes);
  } catch (err) {
    assert.ok(err instanceof StelarError, `${label}: decodePacket threw ${err?.name}: ${err?.message} (seed ${SEED})`);
    assert.ok(decodeCodes.has(err.code), `${label}: unexpected code ${err.code} (seed ${SEED})`);
    assert.ok(documentedCloseCodes.has(err.closeCode), `${label}: undocumented close code ${err.closeCode}`);
    return undefined;
  }
}

function mutate(bytes) {
  const b = Buffer.from(bytes);
  switch (int(6)) {
    case 0: {
      for (let i = 1 + int(3); i > 0 && b.length; i--) b[int(b.length)] ^= 1 << int(8);
      return b;
    }
    case 1:
      return b.subarray(0, int(b.length + 1));
    case 2: {
      const at = int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), randomBytes(1 + int(8)), b.subarray(at)]);
    }
    case 3: {
      // rewrite the event length, or an ACK length field
      if (b.length >= 3) b.writeUInt16BE(pick([0, 1, b.length, b.length - 3, 0xffff, next() & 0xffff]), 1);
      return b;
    }
    case 4: {
      if (b.length) b[0] = pick([11, 12, 127, 128, 255, int(11)]);
      return b;
    }
    default: {
      const at = int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(6))]);
    }
  }
}

test(`random packets round-trip exactly (seed ${SEED})`, () => {
  for (let i = 0; i < 5000; i++) {
    const p = randomPacket();
    const prefix = int(2) ? 4 : 0;
    const bytes = encodePacket(p, prefix);
    if (prefix) assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0), bytes.length);
    const decoded = decodePacket(bytes.subarray(prefix));
    const want = { ...p };
    if (p.type === PacketType.ACK_RESPONSE && want.ok === undefined) want.ok = true;
    assert.deepEqual(normal(decoded), normal(want), `#${i} seed ${SEED}: ${JSON.stringify(normal(want))}`);
  }
});

test(`random byte strings only ever throw StelarError (seed ${SEED})`, () => {
  for (let i = 0; i < 20000; i++) {
    const b = randomBytes(int(64));
    if (int(2) && b.length) b[0] = int(11); // mostly valid types so the bodies get parsed
    if (int(2) && b.length >= 3) b.writeUInt16BE(int(Math.max(1, b.length - 2)), 1);
    const d = safeDecode(b, `random #${i} ${b.toString('hex')}`);
    if (d) assert.ok(d.type >= 0 && d.type <= 10);
  }
});

test(`mutated valid packets only ever throw StelarError, and what decodes re-encodes stably (seed ${SEED})`, () => {
  let decodedCount = 0;
  for (let i = 0; i < 20000; i++) {
    let b = Buffer.from(encodePacket(randomPacket()));
    for (let k = 1 + int(3); k > 0; k--) b = mutate(b);
    const label = `mutated #${i} ${b.toString('hex').slice(0, 160)}`;
    const d = safeDecode(b, label);
    if (!d) continue;
    decodedCount++;
    // decode(encode(decode(x))) == decode(x): the codec agrees with itself on anything it accepts
    let again;
    try {
      again = decodePacket(encodePacket(d));
    } catch (err) {
      // the only legitimate re-encode failure: a name that grew past 65535 bytes cannot happen here
      assert.fail(`${label}: re-encoding a decoded packet threw ${err}`);
    }
    assert.deepEqual(normal(again), normal(d), label);
  }
  assert.ok(decodedCount > 1000, `only ${decodedCount} mutated packets decoded: mutations too destructive`);
});

test('decodePacket on huge or odd inputs stays bounded', () => {
  const big = Buffer.alloc(4 * 1024 * 1024, 0x20);
  big[0] = PacketType.JSON;
  big.writeUInt16BE(0, 1);
  big[3] = 0x31; // "1" followed by spaces: valid JSON
  assert.equal(decodePacket(big).data, 1);
  big[3] = 0x7b; // "{" never closed
  safeDecode(big, 'unterminated object');
  safeDecode(Buffer.concat([Buffer.from([0, 0, 0]), Buffer.from('['.repeat(500000))]), 'deep array');
});
