// The case table and the runner of test/websocket/autobahn-cases.test.mjs: Autobahn|Testsuite's
// "fuzzingclient" role, played over a raw socket with hand-built masked frames, judged the
// way Autobahn judges (OK / NON-STRICT / FAILED). Case numbers follow Autobahn's; the
// behaviour expected of each case is restated from RFC 6455, not taken from its code.
//
// A case is { id, title, steps, expect }:
//  - steps: what the client sends, in order. A Buffer is one write; { bytes, chop, await }
//    writes `bytes` in pieces of `chop` bytes ('octet' = 1) and then checks `await`:
//      'open'  the server must still be open after this step (it accepted this much),
//      'close' the server must fail the connection now, before the next step is sent,
//      n       n frames (echoes, pongs) must have come back by now.
//    An 'open' step the server closes on is FAILED (it refused valid input); a 'close' or n
//    step it satisfies only later is NON-STRICT (right outcome, not at the earliest moment).
//    Like Autobahn, nothing more is sent once the server's close frame is in.
//  - expect.frames: every non-close frame the server must send, in order: [opcode, payload].
//  - expect.fail: the close code of a server that must fail the connection. Otherwise the
//    case ends with a closing handshake: expect.closeEcho lists the codes the server may
//    answer a close frame sent by the steps with (null = a close frame without a body); with
//    neither, the runner sends close 1000 once the frames are in and expects 1000 back.
//  - deflate (12.x, 13.x and their '+' additions): { offer } is the Sec-WebSocket-Extensions
//    the upgrade sends; the server must accept permessage-deflate (RSV1 is then allowed on the
//    server's data frames, which the runner inflates before comparing them with expect.frames).
//    The runner compresses what it sends itself (node:zlib, each message on its own, which is
//    valid whatever the answer) and keeps an inflate context across the server's messages
//    unless the answer says server_no_context_takeover.
// Either way the server must then drop TCP itself (RFC 6455 7.1.1).
import { setTimeout as delay } from 'node:timers/promises';
import { constants, createInflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import { rawExchange, rawFrame, upgradeRequest } from './helpers.mjs';

const CONT = 0x0;
const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

/** How long the server gets to show it did NOT close (an 'open' step). */
const QUIET_MS = 40;
/** How long we wait for something that must happen (a close, an echo) before moving on. */
const WAIT_MS = 2000;

// ---------------------------------------------------------------- building frames

let seed = 0x2f6b1c3d;
/** A different masking key for every frame (deterministic), so unmasking at odd offsets is exercised. */
function nextKey() {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  const key = Buffer.alloc(4);
  key.writeUInt32BE((seed ^ 0x9e3779b9) >>> 0, 0);
  return key;
}

const bytes = (payload) => (typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload));
const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** One masked client frame. */
function frame(opcode, payload = '', { fin = true, rsv = 0 } = {}) {
  return rawFrame({ opcode, payload: bytes(payload), fin, rsv, mask: nextKey() });
}

function closeFrame(code, reason = '') {
  if (code === undefined) return frame(CLOSE);
  const body = Buffer.alloc(2 + Buffer.byteLength(reason));
  body.writeUInt16BE(code, 0);
  body.write(reason, 2);
  return frame(CLOSE, body);
}

/** Frames of one message cut into `size`-byte fragments. */
function fragments(opcode, payload, size) {
  const data = bytes(payload);
  const out = [];
  for (let at = 0; at < data.length || out.length === 0; at += size) {
    out.push(frame(out.length === 0 ? opcode : CONT, data.subarray(at, at + size), { fin: at + size >= data.length }));
  }
  return out;
}

const cat = (...parts) => Buffer.concat(parts.flat());
const octets = (...parts) => ({ bytes: cat(...parts), chop: 'octet' });
/** Repeats `unit` up to `length` bytes. */
const fill = (unit, length) => Buffer.alloc(length, unit);

// ---------------------------------------------------------------- the table

/** One case per (valid, bytes) of the UTF-8 families 6.5 .. 6.23, numbered as Autobahn does. */
function utf8Families() {
  const kosme = hex('ce ba e1 bd b9 cf 83 ce bc ce b5'); // "κόσμε"
  const ok = (h) => [true, typeof h === 'string' ? hex(h) : h];
  const bad = (h) => [false, typeof h === 'string' ? hex(h) : h];
  const lonely = (from, to) => {
    const out = [];
    for (let b = from; b < to; b++) out.push(b, 0x20);
    return bad(Buffer.from(out));
  };
  const missingLast = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'];
  const nonCharacters = [ok('efbfbe'), ok('efbfbf')];
  for (const lead of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const second of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (lead === 0xf4 && second !== 0x8f) continue; // above U+10FFFF
      if (lead === 0xf0 && second === 0x8f) continue; // overlong
      for (const last of [0xbe, 0xbf]) nonCharacters.push(ok(Buffer.from([lead, second, 0xbf, last])));
    }
  }
  const families = [
    [
      'some valid UTF-8',
      [ok(Buffer.from('hello$world')), ok('68656c6c6fc2a2776f726c64'), ok('68656c6c6fe282ac776f726c64'), ok('68656c6c6ff0a4ada2776f726c64'), ok(kosme)],
    ],
    // every prefix of "κόσμε": valid exactly when it ends on a code point boundary
    ['prefixes of a valid multi-byte string', Array.from({ length: kosme.length }, (_, i) => [[2, 5, 7, 9, 11].includes(i + 1), kosme.subarray(0, i + 1)])],
    ['first sequence of each length', [ok('00'), ok('c280'), ok('e0a080'), ok('f0908080')]],
    ['first 5/6-byte sequences (not UTF-8)', [bad('f888808080'), bad('fc8480808080')]],
    ['last sequence of each length', [ok('7f'), ok('dfbf'), ok('efbfbf'), ok('f48fbfbf')]],
    ['last 4/5/6-byte sequences past U+10FFFF', [bad('f7bfbfbf'), bad('fbbfbfbfbf'), bad('fdbfbfbfbfbf')]],
    ['other boundary conditions', [ok('ed9fbf'), ok('ee8080'), ok('efbfbd'), ok('f48fbfbf'), bad('f4908080')]],
    [
      'unexpected continuation bytes',
      [
        bad('80'),
        bad('bf'),
        bad('80bf'),
        bad('80bf80'),
        bad('80bf80bf'),
        bad('80bf80bf80'),
        bad('80bf80bf80bf'),
        bad(Buffer.from(Array.from({ length: 0x3f }, (_, i) => 0x80 + i))),
      ],
    ],
    ['lonely start bytes', [lonely(0xc0, 0xdf), lonely(0xe0, 0xef), lonely(0xf0, 0xf7), lonely(0xf8, 0xfb), lonely(0xfc, 0xfd)]],
    ['sequences missing their last byte', missingLast.map(bad)],
    ['concatenated incomplete sequences', [bad(missingLast.join(''))]],
    ['impossible bytes', [bad('fe'), bad('ff'), bad('fefeffff')]],
    ['overlong ASCII', [bad('c0af'), bad('e080af'), bad('f08080af'), bad('f8808080af'), bad('fc80808080af')]],
    ['maximal overlong sequences', [bad('c1bf'), bad('e09fbf'), bad('f08fbfbf'), bad('f887bfbfbf'), bad('fc83bfbfbfbf')]],
    ['overlong NUL', [bad('c080'), bad('e08080'), bad('f0808080'), bad('f880808080'), bad('fc8080808080')]],
    ['single UTF-16 surrogates', ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map(bad)],
    [
      'paired UTF-16 surrogates',
      ['eda080edb080', 'eda080edbfbf', 'edadbfedb080', 'edadbfedbfbf', 'edae80edb080', 'edae80edbfbf', 'edafbfedb080', 'edafbfedbfbf'].map(bad),
    ],
    ['non-characters (valid UTF-8)', nonCharacters],
    ['Unicode specials', ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map(ok)],
  ];
  const cases = [];
  families.forEach(([family, sequences], f) => {
    sequences.forEach(([valid, payload], j) => {
      cases.push({
        id: `6.${f + 5}.${j + 1}`,
        title: `${family}: ${payload.length > 16 ? `${payload.subarray(0, 16).toString('hex')}… (${payload.length} bytes)` : payload.toString('hex')} in one frame ${valid ? 'is echoed' : 'fails 1007'}`,
        steps: [frame(TEXT, payload)],
        expect: valid ? { frames: [[TEXT, payload]] } : { frames: [], fail: 1007 },
      });
    });
  });
  return cases;
}

// ---------------------------------------------------------------- permessage-deflate (12.x, 13.x)

const SYNC_FLUSH = { finishFlush: constants.Z_SYNC_FLUSH };
const TRAILER = hex('0000ffff');

/** A message compressed as a client sends it (RFC 7692 7.2.1): deflate, sync flush, 00 00 ff ff removed. */
function deflated(payload) {
  const out = deflateRawSync(bytes(payload), SYNC_FLUSH);
  return out.subarray(0, out.length - 4);
}

/** The masked frames of one compressed message: RSV1 (4) on its first frame only. */
function compressedMessage(opcode, payload, fragmentSize = 0) {
  const data = deflated(payload);
  if (!fragmentSize) return frame(opcode, data, { rsv: 4 });
  const out = [];
  for (let at = 0; at < data.length || out.length === 0; at += fragmentSize) {
    const first = out.length === 0;
    out.push(frame(first ? opcode : CONT, data.subarray(at, at + fragmentSize), { fin: at + fragmentSize >= data.length, rsv: first ? 4 : 0 }));
  }
  return cat(out);
}

let payloadSeed = 0x1234567;
function rand() {
  payloadSeed = (Math.imul(payloadSeed, 1664525) + 1013904223) >>> 0;
  return payloadSeed;
}
const WORDS = 'the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were'.split(' ');
/** Autobahn 12.1-12.5's kinds of payload, made here: from compressible text to random bytes. */
const PAYLOADS = [
  ['random ASCII text', (n) => Buffer.from(Array.from({ length: n }, () => String.fromCharCode(0x20 + (rand() % 95))).join(''))],
  [
    'JSON records',
    (n) => {
      let s = '';
      for (let i = 0; s.length < n; i++) s += JSON.stringify({ id: i, user: `user${rand() % 50}`, text: WORDS[rand() % WORDS.length], ok: rand() % 2 === 0 });
      return Buffer.from(s.slice(0, n));
    },
  ],
  [
    'English-like text',
    (n) => {
      let s = '';
      while (s.length < n) s += `${WORDS[rand() % WORDS.length]}${rand() % 9 === 0 ? '. ' : ' '}`;
      return Buffer.from(s.slice(0, n));
    },
  ],
  ['structured binary', (n) => Buffer.from(Array.from({ length: n }, (_, i) => (i % 64 < 48 ? (i * 7) & 0xff : rand() & 0xff)))],
  ['random binary', (n) => Buffer.from(Array.from({ length: n }, () => rand() & 0xff))],
];
const DEFLATE_SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072, 262144];

/** n MiB of zeros, compressed, without building them: a sync-flushed MiB is whole blocks, so repeats are a valid stream. */
function zeroBomb(mib) {
  const one = deflateRawSync(Buffer.alloc(1024 * 1024), { ...SYNC_FLUSH, level: 9 });
  const all = Buffer.concat(Array(mib).fill(one));
  return all.subarray(0, all.length - 4);
}

function deflateCases(add) {
  const offer = 'permessage-deflate; client_max_window_bits';
  const messageCount = (size) => Math.max(2, Math.min(40, Math.floor(400_000 / size)));
  // 12.x: echo of compressed messages of every kind and size, all sent in one write
  PAYLOADS.forEach(([kind, make], k) => {
    DEFLATE_SIZES.forEach((size, j) => {
      const messages = Array.from({ length: messageCount(size) }, () => make(size));
      const opcode = k < 3 ? TEXT : BINARY;
      add(`12.${k + 1}.${j + 1}`, `${messages.length} compressed ${kind} messages of ${size} bytes`, [cat(messages.map((m) => compressedMessage(opcode, m)))], {
        frames: messages.map((m) => [opcode, m]),
        deflate: { offer },
      });
    });
    const big = make(65536);
    add(
      `12.${k + 1}.12+`,
      `a compressed ${kind} message of 64 KiB in 4 KiB frames (RSV1 on the first)`,
      [compressedMessage(k < 3 ? TEXT : BINARY, big, 4096)],
      {
        frames: [[k < 3 ? TEXT : BINARY, big]],
        deflate: { offer },
      },
    );
  });
  // 13.x: the same with the offers Autobahn makes: (server_no_context_takeover, server_max_window_bits)
  const offers = [
    [offer, 'default offer'],
    ['permessage-deflate; server_no_context_takeover; client_max_window_bits', 'no server context'],
    ['permessage-deflate; server_max_window_bits=8; client_max_window_bits', 'server window 8'],
    ['permessage-deflate; server_max_window_bits=15; client_max_window_bits', 'server window 15'],
    ['permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits', 'no server context, window 8'],
    ['permessage-deflate; server_no_context_takeover; server_max_window_bits=15; client_max_window_bits', 'no server context, window 15'],
    [
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits, permessage-deflate; server_no_context_takeover; client_max_window_bits, permessage-deflate; client_max_window_bits',
      'three offers',
    ],
  ];
  const json = PAYLOADS[1][1];
  offers.forEach(([header, what], k) => {
    [16, 64, 256, 1024, 4096, 32768, 131072].forEach((size, j) => {
      const messages = Array.from({ length: Math.min(20, messageCount(size)) }, () => json(size));
      add(
        `13.${k + 1}.${j + 1}`,
        `${what}: ${messages.length} compressed JSON messages of ${size} bytes`,
        [cat(messages.map((m) => compressedMessage(TEXT, m)))],
        {
          frames: messages.map((m) => [TEXT, m]),
          deflate: { offer: header },
        },
      );
    });
  });
  // Not Autobahn cases: the extension's failure rules, and order across compressed and plain messages
  const d = { offer };
  const hello = Buffer.from('Hello, compressed world!');
  add(
    '12.6.1+',
    'compressed, plain, compressed, in one write: echoed in order',
    [cat(compressedMessage(TEXT, hello), frame(TEXT, 'plain'), compressedMessage(BINARY, hex('00ff00ff')))],
    {
      frames: [
        [TEXT, hello],
        [TEXT, 'plain'],
        [BINARY, hex('00ff00ff')],
      ],
      deflate: d,
    },
  );
  add('12.6.2+', 'RSV1 on a continuation frame fails 1002', [cat(frame(TEXT, 'frag', { fin: false }), frame(CONT, 'ment', { rsv: 4 }))], {
    frames: [],
    fail: 1002,
    deflate: d,
  });
  add('12.6.3+', 'RSV1 on a ping fails 1002', [frame(PING, 'x', { rsv: 4 })], { frames: [], fail: 1002, deflate: d });
  add('12.6.4+', 'RSV2 on a data frame fails 1002 with the extension on', [frame(TEXT, 'x', { rsv: 2 })], { frames: [], fail: 1002, deflate: d });
  add('12.6.5+', 'compressed data that does not inflate fails 1007', [frame(BINARY, hex('ffffffff'), { rsv: 4 })], { frames: [], fail: 1007, deflate: d });
  add('12.6.6+', 'compressed text that is not UTF-8 fails 1007', [compressedMessage(TEXT, hex('cebae1bdb9cf83cebcceb5eda080'))], {
    frames: [],
    fail: 1007,
    deflate: d,
  });
  add('12.6.7+', 'a compressed message inflating to 64 MiB (past the 16 MiB limit) fails 1009', [frame(BINARY, zeroBomb(64), { rsv: 4 })], {
    frames: [],
    fail: 1009,
    deflate: d,
  });
  add('12.6.8+', 'RSV1 without the extension offered fails 1002', [compressedMessage(TEXT, hello)], { frames: [], fail: 1002 });
}

/** The server's compressed frames inflated, in order, with a kept context unless the answer drops it. */
async function inflateFrames(frames, answer) {
  const keep = !/server_no_context_takeover/.test(answer ?? '');
  const inflater = keep ? createInflateRaw() : null;
  const out = [];
  for (const f of frames) {
    if (!(f.rsv & 4)) {
      out.push(f.payload);
      continue;
    }
    const input = Buffer.concat([f.payload, TRAILER]);
    if (!inflater) {
      out.push(inflateRawSync(input, SYNC_FLUSH));
      continue;
    }
    const chunks = [];
    const onData = (chunk) => chunks.push(chunk);
    inflater.on('data', onData);
    inflater.write(input);
    await new Promise((resolve) => inflater.flush(constants.Z_SYNC_FLUSH, resolve));
    inflater.off('data', onData);
    out.push(Buffer.concat(chunks));
  }
  inflater?.close();
  return out;
}

function buildCases() {
  const cases = [];
  const add = (id, title, steps, expect) => {
    cases.push({ id, title, steps, expect });
  };
  const text = (n) => Buffer.from('*'.repeat(n));
  const binary = (n) => fill(0xfe, n);

  // 1.x: echo of text and binary messages of every length form
  const lengths = [0, 125, 126, 127, 128, 65535, 65536];
  for (const [group, opcode, make] of [
    [1, TEXT, text],
    [2, BINARY, binary],
  ]) {
    const kind = opcode === TEXT ? 'text' : 'binary';
    for (const [i, n] of lengths.entries())
      add(`1.${group}.${i + 1}`, `${kind} message of ${n} bytes`, [frame(opcode, make(n))], { frames: [[opcode, make(n)]] });
    add(`1.${group}.8`, `${kind} message of 65536 bytes written in chops of 997 bytes`, [{ bytes: frame(opcode, make(65536)), chop: 997 }], {
      frames: [[opcode, make(65536)]],
    });
  }

  // 2.x: pings and pongs
  const binaryPing = hex('00ff fefd fcfb 00ff');
  add('2.1', 'ping without payload', [frame(PING)], { frames: [[PONG, '']] });
  add('2.2', 'ping with a small text payload', [frame(PING, 'Hello, world!')], { frames: [[PONG, 'Hello, world!']] });
  add('2.3', 'ping with a small binary payload is ponged byte for byte', [frame(PING, binaryPing)], { frames: [[PONG, binaryPing]] });
  add('2.4', 'ping with a 125-byte payload', [frame(PING, binary(125))], { frames: [[PONG, binary(125)]] });
  add('2.5', 'ping with a 126-byte payload fails 1002', [frame(PING, binary(126)), frame(TEXT, 'after')], { frames: [], fail: 1002 });
  add('2.6', 'ping with a 125-byte payload written one octet at a time', [octets(frame(PING, binary(125)))], { frames: [[PONG, binary(125)]] });
  add('2.7', 'unsolicited pong without payload is ignored', [frame(PONG)], { frames: [] });
  add('2.8', 'unsolicited pong with payload is ignored', [frame(PONG, 'unsolicited pong payload')], { frames: [] });
  add('2.9', 'unsolicited pong, then ping: only the ping is answered', [frame(PONG, 'unsolicited pong payload'), frame(PING, 'ping payload')], {
    frames: [[PONG, 'ping payload']],
  });
  const tenPings = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  add('2.10', '10 pings in one write: 10 pongs in order', [cat(tenPings.map((p) => frame(PING, p)))], { frames: tenPings.map((p) => [PONG, p]) });
  add('2.11', '10 pings written one octet at a time: 10 pongs in order', [octets(tenPings.map((p) => frame(PING, p)))], {
    frames: tenPings.map((p) => [PONG, p]),
  });

  // 3.x: reserved bits (no extension negotiated)
  add('3.1', 'text with RSV = 1 fails 1002', [frame(TEXT, 'Hello, world!', { rsv: 1 })], { frames: [], fail: 1002 });
  const rsvThenPing = (rsv, opcode = TEXT) => [
    frame(TEXT, 'Hello, world!'),
    frame(opcode, opcode === BINARY ? binaryPing : 'Hello, world!', { rsv }),
    frame(PING),
  ];
  add('3.2', 'text, text with RSV = 2, ping: echo, then 1002 and no pong', [cat(rsvThenPing(2))], { frames: [[TEXT, 'Hello, world!']], fail: 1002 });
  add('3.3', 'as 3.2 with RSV = 3, one write per frame', rsvThenPing(3), { frames: [[TEXT, 'Hello, world!']], fail: 1002 });
  add('3.4', 'as 3.2 with RSV = 4, one octet at a time', [octets(rsvThenPing(4))], { frames: [[TEXT, 'Hello, world!']], fail: 1002 });
  add('3.5', 'binary with RSV = 5 fails 1002', [frame(BINARY, binaryPing, { rsv: 5 })], { frames: [], fail: 1002 });
  add('3.6', 'ping with RSV = 6 fails 1002', [frame(PING, 'Hello, world!', { rsv: 6 })], { frames: [], fail: 1002 });
  add('3.7', 'close with RSV = 7 fails 1002', [frame(CLOSE, hex('03e8'), { rsv: 7 })], { frames: [], fail: 1002 });

  // 4.x: reserved opcodes
  for (const [i, op] of [3, 4, 5, 6, 7].entries()) reservedOpcode(`4.1.${i + 1}`, op, i);
  for (const [i, op] of [11, 12, 13, 14, 15].entries()) reservedOpcode(`4.2.${i + 1}`, op, i);
  function reservedOpcode(id, op, i) {
    const odd = frame(op, i % 2 === 1 ? 'reserved opcode payload' : '');
    if (i < 2) add(id, `frame with reserved opcode ${op} fails 1002`, [odd], { frames: [], fail: 1002 });
    else
      add(id, `text, reserved opcode ${op}, ping: echo, then 1002 and no pong`, [cat(frame(TEXT, 'Hello, world!'), odd, frame(PING))], {
        frames: [[TEXT, 'Hello, world!']],
        fail: 1002,
      });
  }

  // 5.x: fragmentation
  const f1 = 'fragment1';
  const f2 = 'fragment2';
  add('5.1', 'ping in 2 fragments fails 1002', [cat(frame(PING, f1, { fin: false }), frame(CONT, f2))], { frames: [], fail: 1002 });
  add('5.2', 'pong in 2 fragments fails 1002', [cat(frame(PONG, f1, { fin: false }), frame(CONT, f2))], { frames: [], fail: 1002 });
  const twoFragments = () => [frame(TEXT, f1, { fin: false }), frame(CONT, f2)];
  add('5.3', 'text in 2 fragments, one write', [cat(twoFragments())], { frames: [[TEXT, f1 + f2]] });
  add(
    '5.4',
    'text in 2 fragments, a pause between them',
    twoFragments().map((b, i) => ({ bytes: b, await: i === 0 ? 'open' : undefined })),
    {
      frames: [[TEXT, f1 + f2]],
    },
  );
  add('5.5', 'text in 2 fragments, one octet at a time', [octets(twoFragments())], { frames: [[TEXT, f1 + f2]] });
  const withPing = () => [frame(TEXT, f1, { fin: false }), frame(PING, 'pongme!'), frame(CONT, f2)];
  const pongThenEcho = {
    frames: [
      [PONG, 'pongme!'],
      [TEXT, f1 + f2],
    ],
  };
  add('5.6', 'text in 2 fragments with a ping between, one write', [cat(withPing())], pongThenEcho);
  add(
    '5.7',
    'as 5.6, the pong is sent before the message ends',
    withPing().map((b, i) => ({ bytes: b, await: i === 1 ? 1 : undefined })),
    pongThenEcho,
  );
  add('5.8', 'as 5.6, one octet at a time', [octets(withPing())], pongThenEcho);
  const orphan = (fin) => [frame(CONT, 'non-continuation payload', { fin }), frame(TEXT, 'Hello, world!')];
  for (const [base, fin] of [
    [9, true],
    [12, false],
  ]) {
    const what = `continuation (FIN = ${fin}) with nothing to continue, then text`;
    add(`5.${base}`, `${what}: 1002, nothing echoed`, [cat(orphan(fin))], { frames: [], fail: 1002 });
    add(`5.${base + 1}`, `${what}, one write per frame`, orphan(fin), { frames: [], fail: 1002 });
    add(`5.${base + 2}`, `${what}, one octet at a time`, [octets(orphan(fin))], { frames: [], fail: 1002 });
  }
  add('5.15', 'a 2-fragment text, an orphan continuation, a text: first echoed, then 1002', [cat(twoFragments(), orphan(false))], {
    frames: [[TEXT, f1 + f2]],
    fail: 1002,
  });
  for (const [id, fin] of [
    ['5.16', false],
    ['5.17', true],
  ]) {
    const round = () => [frame(CONT, 'fragment1', { fin }), frame(TEXT, 'fragment2', { fin: false }), frame(CONT, 'fragment3')];
    add(id, `twice: orphan continuation (FIN = ${fin}), 2-fragment text: 1002, nothing echoed`, [cat(round(), round())], { frames: [], fail: 1002 });
  }
  add('5.18', 'a fragmented text whose second frame is a new text frame fails 1002', [cat(frame(TEXT, f1, { fin: false }), frame(TEXT, f2))], {
    frames: [],
    fail: 1002,
  });
  const five = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'];
  const fiveWithPings = () => [
    [frame(TEXT, five[0], { fin: false }), frame(CONT, five[1], { fin: false }), frame(PING, 'pongme 1!')],
    [frame(CONT, five[2], { fin: false }), frame(CONT, five[3], { fin: false }), frame(PING, 'pongme 2!'), frame(CONT, five[4])],
  ];
  const fiveExpected = {
    frames: [
      [PONG, 'pongme 1!'],
      [PONG, 'pongme 2!'],
      [TEXT, five.join('')],
    ],
  };
  const [firstPart, secondPart] = fiveWithPings();
  add(
    '5.19',
    'text in 5 fragments with 2 pings: the first pong comes before the message ends',
    [{ bytes: cat(firstPart), await: 1 }, cat(secondPart)],
    fiveExpected,
  );
  const [firstFrames, secondFrames] = fiveWithPings();
  add('5.20', 'as 5.19, one write per frame', [...firstFrames.map((b, i) => ({ bytes: b, await: i === 2 ? 1 : undefined })), ...secondFrames], fiveExpected);
  // not an Autobahn case: a binary frame starting inside an open text message
  add('5.20+', 'text fragment, then a binary frame before the text ended: 1002', [cat(frame(TEXT, f1, { fin: false }), frame(BINARY, binaryPing))], {
    frames: [],
    fail: 1002,
  });

  // 6.1 - 6.4: UTF-8 in fragments
  add('6.1.1', 'empty text message', [frame(TEXT)], { frames: [[TEXT, '']] });
  add('6.1.2', 'text of 3 empty fragments', [cat(frame(TEXT, '', { fin: false }), frame(CONT, '', { fin: false }), frame(CONT))], { frames: [[TEXT, '']] });
  add('6.1.3', 'empty, non-empty, empty fragments', [cat(frame(TEXT, '', { fin: false }), frame(CONT, 'middle frame payload', { fin: false }), frame(CONT))], {
    frames: [[TEXT, 'middle frame payload']],
  });
  const hello = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!');
  const kosme = hex('ce ba e1 bd b9 cf 83 ce bc ce b5');
  add('6.2.1', 'valid UTF-8 in one frame', [frame(TEXT, hello)], { frames: [[TEXT, hello]] });
  add(
    '6.2.2',
    'valid UTF-8 in 2 fragments split on a code point boundary',
    [cat(frame(TEXT, hello.subarray(0, 12), { fin: false }), frame(CONT, hello.subarray(12)))],
    {
      frames: [[TEXT, hello]],
    },
  );
  add('6.2.3', 'valid UTF-8 one octet per fragment', [cat(fragments(TEXT, hello, 1))], { frames: [[TEXT, hello]] });
  add('6.2.4', 'κόσμε one octet per fragment (code points split across frames)', [cat(fragments(TEXT, kosme, 1))], { frames: [[TEXT, kosme]] });
  const invalid = cat(kosme, hex('eda080'), Buffer.from('edited'));
  add('6.3.1', 'invalid UTF-8 (a surrogate) in one frame fails 1007', [frame(TEXT, invalid)], { frames: [], fail: 1007 });
  add('6.3.2', 'as 6.3.1, one octet per fragment, one write', [cat(fragments(TEXT, invalid, 1))], { frames: [], fail: 1007 });
  // 6.4: fail fast. Part 1 is valid, part 2 makes it invalid (f4 90 = past U+10FFFF), part 3
  // would finish the message: the server must close after part 2, without waiting for part 3.
  const part1 = kosme;
  const part2 = hex('f4 90 80 80');
  const part3 = Buffer.from('edited');
  const whole = cat(part1, part2, part3);
  const failFast = (pieces) => pieces.map((b, i) => ({ bytes: b, await: ['open', 'close', undefined][i] }));
  add(
    '6.4.1',
    'invalid text in 3 fragments: 1007 at the second, before the third',
    failFast([frame(TEXT, part1, { fin: false }), frame(CONT, part2, { fin: false }), frame(CONT, part3)]),
    {
      frames: [],
      fail: 1007,
    },
  );
  add(
    '6.4.2',
    'as 6.4.1, the second fragment is just the byte that makes it invalid',
    failFast([frame(TEXT, whole.subarray(0, 12), { fin: false }), frame(CONT, whole.subarray(12, 13), { fin: false }), frame(CONT, whole.subarray(13))]),
    {
      frames: [],
      fail: 1007,
    },
  );
  // 6.4.3/6.4.4: the same in 3 chops of ONE frame: the frame's end is not awaited either.
  const oneFrame = frame(TEXT, whole);
  const head = oneFrame.length - whole.length; // 2 header + 4 mask bytes
  const chops = (...cuts) => [0, ...cuts, oneFrame.length].slice(1).map((end, i, ends) => oneFrame.subarray(i === 0 ? 0 : ends[i - 1], end));
  add('6.4.3', 'invalid text in 3 chops of one frame: 1007 at the second chop', failFast(chops(head + part1.length, head + part1.length + part2.length)), {
    frames: [],
    fail: 1007,
  });
  add('6.4.4', 'as 6.4.3, the second chop is just the byte that makes it invalid', failFast(chops(head + 12, head + 13)), { frames: [], fail: 1007 });
  // not Autobahn cases: fail fast one octet-fragment at a time, and a truncated sequence at FIN
  const perFragment = fragments(TEXT, invalid, 1);
  const badAt = kosme.length + 1; // the 0xa0 after 0xed
  add(
    '6.4.4+a',
    'invalid text one octet per fragment, one write per fragment: 1007 at the 0xa0 fragment',
    perFragment.slice(0, badAt + 2).map((b, i) => ({ bytes: b, await: i < badAt ? 'open' : i === badAt ? 'close' : undefined })),
    {
      frames: [],
      fail: 1007,
    },
  );
  add(
    '6.4.4+b',
    'text ending inside a code point: the prefix is accepted, 1007 at the final fragment',
    failFast([frame(TEXT, kosme.subarray(0, 10), { fin: false }), frame(CONT, '')]),
    {
      frames: [],
      fail: 1007,
    },
  );

  // 6.5 - 6.23: the UTF-8 decoder test sequences, each in one frame
  cases.push(...utf8Families());

  // 7.x: closing
  add('7.1.1', 'text, then close: echo, then close 1000', [frame(TEXT, 'Hello World!'), closeFrame(1000)], {
    frames: [[TEXT, 'Hello World!']],
    closeEcho: [1000],
  });
  add('7.1.2', 'two close frames: answered once', [cat(closeFrame(1000), closeFrame(1000))], { frames: [], closeEcho: [1000] });
  add('7.1.3', 'close, then ping: no pong', [cat(closeFrame(1000), frame(PING, 'Hello World!'))], { frames: [], closeEcho: [1000] });
  add('7.1.4', 'close, then text: not echoed', [cat(closeFrame(1000), frame(TEXT, 'Hello World!'))], { frames: [], closeEcho: [1000] });
  add('7.1.5', 'text fragment, close, continuation: nothing echoed', [cat(frame(TEXT, f1, { fin: false }), closeFrame(1000), frame(CONT, f2))], {
    frames: [],
    closeEcho: [1000],
  });
  add('7.3.1', 'close without payload: answered without a code (or 1000)', [closeFrame()], { frames: [], closeEcho: [null, 1000] });
  add('7.3.2', 'close with a 1-byte payload fails 1002', [frame(CLOSE, hex('2a'))], { frames: [], fail: 1002 });
  add('7.3.3', 'close 1000 without reason', [closeFrame(1000)], { frames: [], closeEcho: [1000] });
  add('7.3.4', 'close 1000 with a reason', [closeFrame(1000, 'Hello World!')], { frames: [], closeEcho: [1000] });
  add('7.3.5', 'close 1000 with a 123-byte reason', [closeFrame(1000, '*'.repeat(123))], { frames: [], closeEcho: [1000] });
  add('7.3.6', 'close with a 124-byte reason (126-byte control payload) fails 1002', [closeFrame(1000, '*'.repeat(124))], { frames: [], fail: 1002 });
  add('7.5.1', 'close reason that is not UTF-8 fails 1007', [frame(CLOSE, cat(hex('03e8'), invalid))], { frames: [], fail: 1007 });
  for (const [i, code] of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].entries()) {
    add(`7.7.${i + 1}`, `close with valid code ${code}: echoed (or 1000)`, [closeFrame(code)], { frames: [], closeEcho: [code, 1000] });
  }
  for (const [i, code] of [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].entries()) {
    add(`7.9.${i + 1}`, `close with invalid code ${code} fails 1002`, [closeFrame(code)], { frames: [], fail: 1002 });
  }
  add('7.13.1', 'close with invalid code 5000 fails 1002', [closeFrame(5000)], { frames: [], fail: 1002 });
  add('7.13.2', 'close with invalid code 65535 fails 1002', [closeFrame(65535)], { frames: [], fail: 1002 });

  // 9.x (a few, kept small): large messages well within the echo server's 16 MiB maxPayload
  const MiB = 1024 * 1024;
  const bigText = Buffer.alloc(MiB, '*');
  const bigBinary = Buffer.alloc(MiB, 0xfe);
  add('9.1.1', 'text message of 64 KiB', [frame(TEXT, bigText.subarray(0, 64 * 1024))], { frames: [[TEXT, bigText.subarray(0, 64 * 1024)]] });
  add('9.1.3', 'text message of 1 MiB in one frame', [frame(TEXT, bigText)], { frames: [[TEXT, bigText]] });
  add('9.2.1', 'binary message of 64 KiB', [frame(BINARY, bigBinary.subarray(0, 64 * 1024))], { frames: [[BINARY, bigBinary.subarray(0, 64 * 1024)]] });
  add('9.2.3', 'binary message of 1 MiB in one frame', [frame(BINARY, bigBinary)], { frames: [[BINARY, bigBinary]] });
  add('9.3.3', 'text message of 1 MiB in 1 KiB fragments (Autobahn: 4 MiB)', [cat(fragments(TEXT, bigText, 1024))], { frames: [[TEXT, bigText]] });
  add('9.4.3', 'binary message of 1 MiB in 1 KiB fragments (Autobahn: 4 MiB)', [cat(fragments(BINARY, bigBinary, 1024))], { frames: [[BINARY, bigBinary]] });

  // 12.x, 13.x: permessage-deflate (the echo server runs with --deflate)
  deflateCases(add);

  return cases;
}

export const CASES = buildCases();

// ---------------------------------------------------------------- the runner

/** Parses server frames (unmasked, any length form) out of `buffer`; returns [frames, rest]. */
function parseFrames(buffer) {
  const frames = [];
  let at = 0;
  for (;;) {
    if (buffer.length - at < 2) break;
    const b0 = buffer[at];
    const b1 = buffer[at + 1];
    let length = b1 & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (buffer.length - offset < 2) break;
      length = buffer.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (buffer.length - offset < 8) break;
      length = Number(buffer.readBigUInt64BE(offset));
      offset += 8;
    }
    if (b1 & 0x80) offset += 4; // a masked server frame is itself a failure; judged below
    if (buffer.length - offset < length) break;
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0x0f,
      masked: (b1 & 0x80) !== 0,
      payload: Buffer.from(buffer.subarray(offset, offset + length)),
    });
    at = offset + length;
  }
  return [frames, buffer.subarray(at)];
}

/** An upgraded raw socket; records what the server sends and after which step it arrived. */
async function openSession(port, offer) {
  const headers = { Host: `127.0.0.1:${port}` };
  if (offer) headers['Sec-WebSocket-Extensions'] = offer;
  const res = await rawExchange(port, upgradeRequest({ headers }));
  if (res.status !== 101) throw new Error(`handshake answered ${res.status}`);
  const socket = res.socket;
  socket.setNoDelay(true);
  const session = {
    socket,
    extensions: res.headers['sec-websocket-extensions'],
    frames: [],
    close: null,
    closeStep: -1,
    afterClose: 0,
    ended: false,
    gone: false,
    step: -1,
  };
  let pending = Buffer.alloc(0);
  const onData = (chunk) => {
    let frames;
    [frames, pending] = parseFrames(Buffer.concat([pending, chunk]));
    for (const f of frames) {
      if (session.close) session.afterClose++;
      else if (f.opcode === CLOSE) {
        session.close = f;
        session.closeStep = session.step;
      } else session.frames.push(f);
    }
  };
  onData(res.rest);
  socket.on('data', onData);
  socket.on('end', () => {
    session.ended = true;
  });
  socket.on('close', () => {
    session.gone = true;
  });
  return session;
}

async function until(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await delay(2);
  }
  return true;
}

async function write(socket, data, chop) {
  if (!chop || chop === 'frame') {
    socket.write(data);
    return;
  }
  const size = chop === 'octet' ? 1 : chop;
  for (let at = 0; at < data.length; at += size) {
    socket.write(data.subarray(at, at + size));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const describeFrame = ([opcode, payload]) => `${opcode.toString(16)}:${payload.length > 24 ? `${payload.length} bytes` : payload.toString('hex') || '-'}`;

/**
 * Runs one case on a fresh connection to the echo server at `port`.
 * Resolves to { verdict: 'OK' | 'NON-STRICT' | 'FAILED', notes: string[] }.
 */
export async function runCase(port, c) {
  const deflate = c.expect.deflate;
  const s = await openSession(port, deflate?.offer);
  const failed = [];
  const lax = [];
  const negotiated = /^permessage-deflate\b/.test(s.extensions ?? '');
  if (deflate && !negotiated) failed.push(`permessage-deflate not accepted (answer: ${s.extensions ?? 'none'})`);
  if (!deflate && s.extensions !== undefined) failed.push(`an extension answered without an offer: ${s.extensions}`);
  try {
    const closedNow = () => s.close !== null || s.ended;
    for (let i = 0; i < c.steps.length && !closedNow(); i++) {
      const step = Buffer.isBuffer(c.steps[i]) ? { bytes: c.steps[i] } : c.steps[i];
      s.step = i;
      await write(s.socket, step.bytes, step.chop);
      if (step.await === 'open') {
        await delay(QUIET_MS);
        if (closedNow()) failed.push(`closed after step ${i + 1}, which was valid so far`);
      } else if (step.await === 'close') {
        if (!(await until(closedNow, WAIT_MS))) lax.push(`not closed after step ${i + 1} (fail fast)`);
      } else if (typeof step.await === 'number') {
        if (!(await until(() => s.frames.length >= step.await || closedNow(), WAIT_MS))) lax.push(`fewer than ${step.await} frames back after step ${i + 1}`);
      }
    }
    s.step = c.steps.length;

    const want = c.expect;
    if (want.fail === undefined && want.closeEcho === undefined) {
      await until(() => s.frames.length >= want.frames.length || closedNow(), WAIT_MS);
      if (!closedNow()) s.socket.write(closeFrame(1000));
    }
    if (!(await until(() => s.close !== null || s.gone, WAIT_MS))) failed.push('no close frame from the server');
    // Answer a close the server started, as a client would; then the server must drop TCP.
    if (want.fail !== undefined && s.close && !s.socket.destroyed) s.socket.write(frame(CLOSE, s.close.payload.subarray(0, 2)));
    if (!(await until(() => s.ended || s.gone, WAIT_MS))) failed.push('the server did not drop TCP after the closing handshake');

    const payloads = negotiated ? await inflateFrames(s.frames, s.extensions) : s.frames.map((f) => f.payload);
    const got = s.frames.map((f, i) => [f.opcode, payloads[i]]);
    const expected = want.frames.map(([opcode, payload]) => [opcode, bytes(payload)]);
    const same = got.length === expected.length && got.every(([op, p], k) => op === expected[k][0] && p.equals(expected[k][1]));
    if (!same) failed.push(`frames: got [${got.map(describeFrame).join(' ')}], expected [${expected.map(describeFrame).join(' ')}]`);
    // RSV1 marks a compressed message once the extension is negotiated; any other RSV bit is wrong.
    const bad = s.frames.filter((f) => !f.fin || f.masked || (f.rsv !== 0 && !(negotiated && f.rsv === 4)));
    if (bad.length > 0) failed.push(`${bad.length} server frame(s) fragmented, masked or with RSV bits`);
    if (s.afterClose > 0) failed.push(`${s.afterClose} frame(s) after the server's close frame`);

    if (s.close) {
      const body = s.close.payload;
      const code = body.length >= 2 ? body.readUInt16BE(0) : null;
      const codes = want.fail !== undefined ? [want.fail] : (want.closeEcho ?? [1000]);
      if (!codes.includes(code)) failed.push(`close code ${code ?? 'none'}, expected ${codes.map((x) => x ?? 'none').join(' or ')}`);
      if (body.length === 1 || body.length > 125) failed.push(`close payload of ${body.length} bytes`);
    }
    // Fail fast: the close must come right after the step marked 'close', not later.
    const failAt = c.steps.findIndex((st) => st.await === 'close');
    if (failAt !== -1 && s.close && s.closeStep > failAt && !lax.length) lax.push(`closed after step ${s.closeStep + 1}, expected after step ${failAt + 1}`);
  } finally {
    s.socket.destroy();
  }
  const verdict = failed.length > 0 ? 'FAILED' : lax.length > 0 ? 'NON-STRICT' : 'OK';
  return { verdict, notes: [...failed, ...lax] };
}
