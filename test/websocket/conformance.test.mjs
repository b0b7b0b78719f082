// Issue 12 item 8 (conformance): fragment reassembly bounded by bytes rather than a frame
// count, UTF-8 of fragmented text refused at the first bad fragment (echo server, raw
// sockets), and HTTP/1.0 upgrade requests refused (RFC 6455 section 4.1).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once as onceEvent } from 'node:events';

import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { StelarServer } from '../../dist/index.js';
import { fragmentBudget, Opcode, Receiver, WebSocketServer } from '../../dist/websocket/index.js';
import { cf, closeBody, eachSplit, listen, once, rawExchange, upgradeRequest } from './helpers.mjs';

const SCRIPT = fileURLToPath(new URL('../../scripts/echo-server.mjs', import.meta.url));
const MiB = 1024 * 1024;
v8.setFlagsFromString('--expose-gc');

const gc = runInNewContext('gc');
/** ArrayBuffer bytes alive after full GCs (a few rounds: backing stores are freed lazily). */
async function held() {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().arrayBuffers;
}

/** A server-role receiver counting messages and errors; `kept` sums the delivered bytes. */
function counter(opts = {}) {
  const out = { messages: [], errors: [] };
  out.receiver = new Receiver({
    isServer: true,
    ...opts,
    onMessage: (data, isBinary) => out.messages.push({ data, isBinary }),
    onError: (err) => out.errors.push([err.code, err.closeCode]),
  });
  return out;
}

/** `message` as client frames of `size` bytes each (the last may be shorter), plus `extraEmptyFinal`. */
function fragmentFrames(message, size, { opcode = Opcode.BINARY, emptyFinal = false } = {}) {
  const frames = [];
  for (let at = 0; at < message.length || frames.length === 0; at += size) {
    const last = !emptyFinal && at + size >= message.length;
    frames.push(cf(frames.length === 0 ? opcode : Opcode.CONTINUATION, message.subarray(at, at + size), { fin: last }));
  }
  if (emptyFinal) frames.push(cf(Opcode.CONTINUATION, Buffer.alloc(0)));
  return frames;
}

describe('fragment reassembly is bounded by bytes, not by a frame count', () => {
  it('4 MiB in 1 KiB fragments plus an empty final one (4,097 frames) is one message at maxPayload = 4 MiB', () => {
    const message = Buffer.alloc(4 * MiB);
    for (let i = 0; i < message.length; i += 997) message[i] = i & 0xff;
    const frames = fragmentFrames(message, 1024, { emptyFinal: true });
    assert.equal(frames.length, 4097);
    const r = counter({ maxPayload: 4 * MiB });
    r.receiver.write(Buffer.concat(frames));
    assert.deepEqual(r.errors, []);
    assert.equal(r.messages.length, 1);
    assert.ok(r.messages[0].data.equals(message));
  });

  it('65,536 frames of 16 bytes (1 MiB in all) are one message at the default maxPayload', () => {
    const message = Buffer.alloc(MiB);
    for (let i = 0; i < message.length; i++) message[i] = (i * 7) & 0xff;
    const frames = fragmentFrames(message, 16);
    assert.equal(frames.length, 65536);
    const r = counter();
    r.receiver.write(Buffer.concat(frames));
    assert.deepEqual(r.errors, []);
    assert.equal(r.messages.length, 1);
    assert.ok(r.messages[0].data.equals(message));
  });

  it('a text message of 65,536 one-character frames is one valid text message', () => {
    const text = 'é'.repeat(32768); // every code point split across two frames
    const frames = fragmentFrames(Buffer.from(text), 1, { opcode: Opcode.TEXT });
    assert.equal(frames.length, 65536);
    const r = counter();
    r.receiver.write(Buffer.concat(frames));
    assert.deepEqual(r.errors, []);
    assert.equal(r.messages[0].data.toString(), text);
  });

  it('any split of a fragmented message gives the same message (every offset)', () => {
    const frames = [
      cf(Opcode.TEXT, Buffer.from([0x61, 0xe2]), { fin: false }),
      cf(Opcode.CONTINUATION, Buffer.alloc(0), { fin: false }),
      cf(Opcode.PING, 'p'),
      cf(Opcode.CONTINUATION, Buffer.from([0x82, 0xac, 0xf0, 0x9f]), { fin: false }),
      cf(Opcode.CONTINUATION, Buffer.from([0x98, 0x80]), { fin: true }),
    ];
    const results = eachSplit(Buffer.concat(frames), { maxPayload: 8 });
    for (const { how, events } of results) {
      assert.deepEqual(
        events,
        [
          ['ping', '70'],
          ['message', 'a€😀', false],
        ],
        how,
      );
    }
  });

  it('a flood of empty continuation frames is stopped (1009) within the byte budget, with nothing kept', () => {
    const maxPayload = 64 * 1024;
    const budget = fragmentBudget(maxPayload);
    const r = counter({ maxPayload });
    r.receiver.write(cf(Opcode.BINARY, Buffer.alloc(100), { fin: false }));
    const empty = cf(Opcode.CONTINUATION, Buffer.alloc(0), { fin: false });
    const batch = Buffer.concat(Array.from({ length: 100 }, () => empty));
    let frames = 1;
    for (let i = 0; i < 10_000 && r.errors.length === 0; i++) {
      r.receiver.write(Buffer.from(batch));
      frames += 100;
    }
    assert.deepEqual(r.errors, [['STELAR_ERR_WS_TOO_MANY_FRAGMENTS', 1009]]);
    // stopped as soon as the budget ran out, not at some later point
    assert.ok(frames <= budget / 64 + 100, `${frames} frames read`);
    assert.ok(frames > budget / 64 - 100, `stopped early at ${frames} frames`);
    assert.equal(r.receiver.messageBytes, 0);
    assert.equal(r.receiver.bufferedBytes, 0);
  });

  it('a flood of one-byte fragments is stopped after budget / 65 frames (1009)', () => {
    const maxPayload = MiB;
    const r = counter({ maxPayload });
    const one = cf(Opcode.CONTINUATION, Buffer.from([1]), { fin: false });
    r.receiver.write(cf(Opcode.BINARY, Buffer.from([1]), { fin: false }));
    const batch = Buffer.concat(Array.from({ length: 100 }, () => one));
    let frames = 1;
    for (let i = 0; i < 10_000 && r.errors.length === 0; i++) {
      r.receiver.write(Buffer.from(batch));
      frames += 100;
    }
    assert.deepEqual(r.errors, [['STELAR_ERR_WS_TOO_MANY_FRAGMENTS', 1009]]);
    const limit = Math.floor(fragmentBudget(maxPayload) / 65);
    assert.ok(frames > limit && frames <= limit + 100, `${frames} frames read, limit ${limit}`);
  });

  it('fragments that arrive in reads full of pings do not pin those reads (memory follows the message bytes)', async () => {
    const r = counter({ maxPayload: 4 * MiB });
    const pings = Buffer.concat(Array.from({ length: 400 }, () => cf(Opcode.PING, Buffer.alloc(125))));
    const before = await held();
    r.receiver.write(cf(Opcode.BINARY, Buffer.from([1]), { fin: false }));
    // 1,000 reads of ~51 KiB, each one 1-byte fragment then 400 pings; then 100 reads of a
    // 4 KiB fragment then 400 pings. The message is ~400 KiB; the reads were ~56 MiB.
    for (let i = 0; i < 1000; i++) r.receiver.write(Buffer.concat([cf(Opcode.CONTINUATION, Buffer.from([i & 0xff]), { fin: false }), pings]));
    for (let i = 0; i < 100; i++) r.receiver.write(Buffer.concat([cf(Opcode.CONTINUATION, Buffer.alloc(4096, i), { fin: false }), pings]));
    const growth = (await held()) - before;
    assert.deepEqual(r.errors, []);
    assert.equal(r.messages.length, 0);
    assert.equal(r.receiver.messageBytes, 1 + 1000 + 100 * 4096);
    assert.ok(growth < 4 * MiB, `${(growth / MiB).toFixed(1)} MiB held for a ${r.receiver.messageBytes}-byte message`);
    r.receiver.write(cf(Opcode.CONTINUATION, Buffer.alloc(0)));
    assert.equal(r.messages.length, 1);
    assert.equal(r.messages[0].data.length, 1 + 1000 + 100 * 4096);
    assert.equal(r.messages[0].data[1000], 999 & 0xff);
    assert.equal(r.messages[0].data[1001], 0);
  });

  it('tiny fragments between long ones do not each leave a mostly empty block behind', async () => {
    const r = counter({ maxPayload: 4 * MiB });
    const before = await held();
    r.receiver.write(cf(Opcode.BINARY, Buffer.alloc(64 * 1024, 9), { fin: false }));
    // 200 x (a 1-byte fragment, then a 4 KiB one in its own read): ~880 KiB of message.
    for (let i = 0; i < 200; i++) {
      r.receiver.write(cf(Opcode.CONTINUATION, Buffer.from([i & 0xff]), { fin: false }));
      r.receiver.write(cf(Opcode.CONTINUATION, Buffer.alloc(4096, i & 0xff), { fin: false }));
    }
    const growth = (await held()) - before;
    assert.deepEqual(r.errors, []);
    const bytes = 64 * 1024 + 200 * 4097;
    assert.equal(r.receiver.messageBytes, bytes);
    assert.ok(growth < 3 * bytes, `${(growth / MiB).toFixed(1)} MiB held for a ${bytes}-byte message`);
    r.receiver.write(cf(Opcode.CONTINUATION, Buffer.alloc(0)));
    const data = r.messages[0].data;
    assert.equal(data.length, bytes);
    assert.equal(data[64 * 1024 + 199 * 4097], 199);
    assert.equal(data[bytes - 1], 199);
  });

  it('the explicit maxFragments option still caps the frame count when set', () => {
    const r = counter({ maxFragments: 2 });
    r.receiver.write(Buffer.concat(fragmentFrames(Buffer.from('abc'), 1)));
    assert.deepEqual(r.errors, [['STELAR_ERR_WS_TOO_MANY_FRAGMENTS', 1009]]);
  });
});

describe('the ws package sending many fragments to our WebSocketServer', () => {
  it('5,000 fragments ({ fin: false }) then the final one arrive as one message', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    const port = await listen(wss);
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    try {
      const [conn] = await once(wss, 'connection');
      await once(client, 'open');
      const got = once(conn, 'message', 20_000);
      const expected = [];
      for (let i = 0; i < 5000; i++) {
        const piece = Buffer.alloc(100, i & 0xff);
        expected.push(piece);
        client.send(piece, { binary: true, fin: false });
      }
      client.send(Buffer.alloc(0), { binary: true, fin: true });
      const [data, isBinary] = await got;
      assert.equal(isBinary, true);
      assert.ok(data.equals(Buffer.concat(expected)));
    } finally {
      client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});

/** A raw WebSocket to the echo server: the upgrade, then frames as written by the test. */
async function rawEchoSession(port) {
  const res = await rawExchange(port, upgradeRequest({ headers: { Host: `127.0.0.1:${port}` } }));
  assert.equal(res.status, 101);
  const socket = res.socket;
  let buffered = Buffer.from(res.rest);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
  });
  return {
    socket,
    /** Server frames (unmasked, short lengths only: enough for these tests). */
    frames() {
      const out = [];
      let at = 0;
      while (at + 2 <= buffered.length) {
        const len = buffered[at + 1] & 0x7f;
        if (len > 125 || at + 2 + len > buffered.length) break;
        out.push({ opcode: buffered[at] & 0x0f, fin: (buffered[at] & 0x80) !== 0, payload: buffered.subarray(at + 2, at + 2 + len) });
        at += 2 + len;
      }
      return out;
    },
  };
}

async function waitFor(fn, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('echo server (npm run echo-server): fragmented text and UTF-8', () => {
  it('closes 1007 at the first fragment that makes the text invalid, without waiting for FIN; a split code point passes', async () => {
    const child = spawn(process.execPath, [SCRIPT, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const sockets = [];
    try {
      let out = '';
      while (!/ws:\/\/\S+:\d+/.test(out)) out += (await onceEvent(child.stdout, 'data'))[0];
      const port = Number(out.match(/ws:\/\/\S+:(\d+)/)[1]);

      // A code point (U+20AC, E2 82 AC) split between fragments is valid.
      const ok = await rawEchoSession(port);
      sockets.push(ok.socket);
      ok.socket.write(cf(Opcode.TEXT, Buffer.from([0x61, 0xe2]), { fin: false }));
      ok.socket.write(cf(Opcode.CONTINUATION, Buffer.from([0x82]), { fin: false }));
      ok.socket.write(cf(Opcode.CONTINUATION, Buffer.from([0xac, 0x62])));
      const echoed = await waitFor(() => ok.frames().find((f) => f.opcode === Opcode.TEXT), 'the echo');
      assert.equal(echoed.payload.toString(), 'a€b');

      // First fragment valid (ends inside a code point), second one breaks it; FIN never sent.
      const bad = await rawEchoSession(port);
      sockets.push(bad.socket);
      bad.socket.write(cf(Opcode.TEXT, Buffer.from([0x68, 0x69, 0xe2, 0x82]), { fin: false }));
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(bad.frames(), [], 'a valid first fragment is not refused');
      assert.equal(bad.socket.destroyed, false);
      bad.socket.write(cf(Opcode.CONTINUATION, Buffer.from([0x28, 0x61]), { fin: false }));
      const close = await waitFor(() => bad.frames().find((f) => f.opcode === Opcode.CLOSE), 'the close frame');
      assert.equal(close.payload.readUInt16BE(0), 1007);

      // An invalid byte (0xff) after a complete first fragment: same.
      const bad2 = await rawEchoSession(port);
      sockets.push(bad2.socket);
      bad2.socket.write(cf(Opcode.TEXT, 'valid', { fin: false }));
      bad2.socket.write(cf(Opcode.CONTINUATION, Buffer.from([0x20, 0xff]), { fin: false }));
      const close2 = await waitFor(() => bad2.frames().find((f) => f.opcode === Opcode.CLOSE), 'the close frame');
      assert.equal(close2.payload.readUInt16BE(0), 1007);
      assert.deepEqual(
        bad2.frames().filter((f) => f.opcode !== Opcode.CLOSE),
        [],
      );
      assert.deepEqual(closeBody(1007).subarray(0, 2), close2.payload.subarray(0, 2));
    } finally {
      for (const s of sockets) s.destroy();
      child.kill('SIGTERM');
      await onceEvent(child, 'exit');
    }
  });
});

describe('HTTP/1.0 upgrade requests are refused (RFC 6455 4.1: HTTP/1.1 or later)', () => {
  const http10 = (port) => upgradeRequest({ headers: { Host: `127.0.0.1:${port}` } }).replace(' HTTP/1.1\r\n', ' HTTP/1.0\r\n');

  it('WebSocketServer answers 400 and never 101', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    let connections = 0;
    wss.on('connection', () => connections++);
    const port = await listen(wss);
    try {
      const res = await rawExchange(port, http10(port));
      assert.equal(res.status, 400);
      assert.match(res.body, /HTTP\/1\.1/);
      await res.closed;
      assert.equal(connections, 0);
      const good = await rawExchange(port, upgradeRequest({ headers: { Host: `127.0.0.1:${port}` } }));
      assert.equal(good.status, 101, 'HTTP/1.1 still accepted');
      good.socket.destroy();
    } finally {
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it('StelarServer answers 400 and never 101', async () => {
    const server = new StelarServer({ port: 0, host: '127.0.0.1', logger: false, gracefulShutdown: false });
    await server.start();
    try {
      const port = server.getPort();
      const res = await rawExchange(port, http10(port));
      assert.equal(res.status, 400);
      await res.closed;
      const good = await rawExchange(port, upgradeRequest({ headers: { Host: `127.0.0.1:${port}` } }));
      assert.equal(good.status, 101, 'HTTP/1.1 still accepted');
      good.socket.destroy();
    } finally {
      await server.stop();
    }
  });
});
