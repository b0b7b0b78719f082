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

/**
 * The encoder as first written (TextEncoder for every string, DataView for the fields): the
 * reference the fast encoder (ASCII copied in JS, pooled output) must match byte for byte.
 */
function referenceEncode(p, prefix) {
  const enc = new TextEncoder();
  const event = enc.encode(p.event);
  const json = (v) => {
    const t = v === undefined ? undefined : JSON.stringify(v);
    return t === undefined ? new Uint8Array(0) : enc.encode(t);
  };
  let head = 0;
  let extra = new Uint8Array(0);
  let payload;
  if (RAW.has(p.type)) payload = p.data ?? new Uint8Array(0);
  else if (p.type === PacketType.JOIN_ROOM || p.type === PacketType.LEAVE_ROOM) payload = new Uint8Array(0);
  else if (p.type === PacketType.ACK_REQUEST) {
    extra = p.ackName && p.ackName !== p.event ? enc.encode(p.ackName) : extra;
    head = 6;
    payload = json(p.data);
  } else if (p.type === PacketType.ACK_RESPONSE) {
    head = 5;
    payload = json(p.data);
  } else payload = json(p.data);
  const out = new Uint8Array(prefix + 3 + event.length + head + extra.length + payload.length);
  const view = new DataView(out.buffer);
  if (prefix) view.setUint32(0, out.length);
  out[prefix] = p.type;
  view.setUint16(prefix + 1, event.length);
  out.set(event, prefix + 3);
  let o = prefix + 3 + event.length;
  if (p.type === PacketType.ACK_REQUEST) {
    view.setUint32(o, p.ackId ?? 0);
    view.setUint16(o + 4, extra.length);
    out.set(extra, o + 6);
    o += 6 + extra.length;
  } else if (p.type === PacketType.ACK_RESPONSE) {
    view.setUint32(o, p.ackId ?? 0);
    out[o + 4] = p.ok === false ? 1 : 0;
    o += 5;
  }
  out.set(payload, o);
  return out;
}

/** Mostly ASCII, of any length around the encoder's ASCII-loop limit, now and then one char that is not (lone surrogates too). */
function nearlyAscii() {
  const n = pick([0, 1, 2, 5, 30, 63, 64, 65, 200, 300, 1100, 1400, 3000]);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(int(0x80));
  if (n && int(3) === 0) {
    const at = int(n);
    s = s.slice(0, at) + pick(['\u0080', 'é', '\u07ff', '\u0800', '\ud83d', '\ude80', '🚀', '\uffff']) + s.slice(at + 1);
  }
  return s;
}

test(`the encoder matches the reference encoding byte for byte, any prefix and room (seed ${SEED})`, () => {
  for (let i = 0; i < 5000; i++) {
    const p = randomPacket();
    if (int(2)) p.event = nearlyAscii();
    if (p.type === PacketType.ACK_REQUEST && int(2)) p.ackName = nearlyAscii() || 'h';
    if (!RAW.has(p.type) && p.type !== PacketType.JOIN_ROOM && p.type !== PacketType.LEAVE_ROOM && int(2)) p.data = { text: nearlyAscii(), n: i };
    const prefix = int(2) ? 4 : 0;
    const room = pick([0, 0, 6, 14]);
    const out = encodePacket(p, prefix, room);
    const want = referenceEncode(p, prefix);
    assert.equal(Buffer.from(out.subarray(room)).toString('hex'), Buffer.from(want).toString('hex'), `#${i} seed ${SEED}: ${JSON.stringify(p)}`);
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
