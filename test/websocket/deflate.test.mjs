// permessage-deflate (RFC 7692) on our WebSocketServer and connectWebSocket, over real
// sockets: the 101 answer, RSV1 rules, inflation (sync and on the thread pool, in order),
// invalid data and bombs, what the server sends (threshold, order, close after async work),
// and the client's check of the server's answer.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { connectWebSocket, SYNC_DEFLATE_LIMIT, SYNC_INFLATE_LIMIT, WebSocketServer, ZlibLimiter } from '../../dist/websocket/index.js';
import { acceptKey } from '../../dist/websocket/handshake.js';
import { cf, listen } from './helpers.mjs';
import { compressedFrame, deflateMessage, messageOf, rawSession } from './deflate-helpers.mjs';

const MiB = 1024 * 1024;
const TEXT = 0x1;
const BINARY = 0x2;
const CONT = 0x0;

/** A server that records what it receives and the errors it reports; closed after test `t` when given. */
async function startServer(options = {}, t = null) {
  const received = [];
  const errors = [];
  const conns = [];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 }, maxPayload: MiB, ...options });
  wss.on('connection', (ws) => {
    conns.push(ws);
    ws.on('message', (data, isBinary) => received.push({ data, isBinary }));
    ws.on('error', (err) => errors.push(err.code));
  });
  const port = await listen(wss);
  const close = () =>
    new Promise((resolve) => {
      for (const ws of conns) ws.terminate();
      wss.close(() => resolve());
    });
  t?.after(close);
  return { wss, port, received, errors, conns, close };
}

const until = async (predicate, ms = 8000) => {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('negotiation on the wire', () => {
  let s;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  it('answers an offer in the 101, and the connection says what was negotiated', async () => {
    const session = await rawSession(s.port, 'permessage-deflate; client_max_window_bits');
    assert.equal(session.res.status, 101);
    assert.equal(session.res.headers['sec-websocket-extensions'], 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    await until(() => s.conns.length > 0);
    const conn = s.conns.at(-1);
    assert.equal(conn.perMessageDeflate, true);
    assert.equal(conn.extensions, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    session.socket.destroy();
  });

  it('several offers in several headers: the first acceptable one', async () => {
    const session = await rawSession(s.port, 'permessage-deflate; bogus=1, permessage-deflate; server_max_window_bits=10');
    assert.equal(
      session.res.headers['sec-websocket-extensions'],
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10',
    );
    session.socket.destroy();
  });

  it('no answer when every offer is declined, when nothing is offered, or when the server has it off', async (t) => {
    for (const offer of ['permessage-deflate; unknown', 'x-other', 'permessage-deflate,,', null]) {
      const session = await rawSession(s.port, offer);
      assert.equal(session.res.status, 101, String(offer));
      assert.equal(session.res.headers['sec-websocket-extensions'], undefined, String(offer));
      session.socket.destroy();
    }
    const off = await startServer({ perMessageDeflate: false }, t);
    const session = await rawSession(off.port, 'permessage-deflate');
    assert.equal(session.res.headers['sec-websocket-extensions'], undefined);
    assert.equal(off.conns.length, 1);
    assert.equal(off.conns[0].perMessageDeflate, false);
    assert.equal(off.conns[0].extensions, '');
    session.socket.destroy();
  });
});

describe('receiving', () => {
  let s;
  before(async () => {
    s = await startServer({ maxPayload: 4 * MiB });
  });
  after(() => s.close());

  it('inflates compressed text and binary, alone or in fragments (RSV1 on the first frame only)', async () => {
    const session = await rawSession(s.port);
    const text = 'Hello, compressed world! '.repeat(40);
    const binary = randomBytes(3000);
    const fragmented = deflateMessage('fragmented '.repeat(100));
    s.received.length = 0;
    session.socket.write(
      Buffer.concat([
        compressedFrame(TEXT, deflateMessage(text)),
        compressedFrame(BINARY, deflateMessage(binary)),
        compressedFrame(TEXT, fragmented.subarray(0, 10), { fin: false }),
        cf(0x9, 'ping in between'),
        cf(CONT, fragmented.subarray(10, 20), { fin: false }),
        cf(CONT, fragmented.subarray(20)),
        cf(TEXT, 'plain'),
        compressedFrame(TEXT, deflateMessage('')),
      ]),
    );
    await until(() => s.received.length === 5);
    assert.deepEqual(
      s.received.map((m) => [m.isBinary, m.isBinary ? m.data.toString('hex') : m.data.toString()]),
      [
        [false, text],
        [true, binary.toString('hex')],
        [false, 'fragmented '.repeat(100)],
        [false, 'plain'],
        [false, ''],
      ],
    );
    session.socket.destroy();
  });

  it('keeps order when a message is inflated on the thread pool', async () => {
    const session = await rawSession(s.port);
    s.received.length = 0;
    const big = Buffer.alloc(SYNC_INFLATE_LIMIT * 3, 'a'); // inflates past the event loop's share
    session.socket.write(
      Buffer.concat([
        compressedFrame(BINARY, deflateMessage(big)),
        cf(TEXT, 'after the big one'),
        compressedFrame(TEXT, deflateMessage('small compressed')),
        compressedFrame(BINARY, deflateMessage(big)),
        cf(TEXT, 'last'),
      ]),
    );
    await until(() => s.received.length === 5);
    assert.deepEqual(
      s.received.map((m) => (m.data.length > 1000 ? m.data.length : m.data.toString())),
      [big.length, 'after the big one', 'small compressed', big.length, 'last'],
    );
    assert.ok(s.received[0].data.equals(big));
    session.socket.destroy();
  });

  for (const [title, frames, code, error] of [
    ['RSV1 on a continuation frame', [cf(TEXT, 'a', { fin: false }), cf(CONT, 'b', { rsv: 4 })], 1002, 'STELAR_ERR_WS_RSV_SET'],
    ['RSV1 on a ping', [cf(0x9, 'x', { rsv: 4 })], 1002, 'STELAR_ERR_WS_RSV_SET'],
    ['RSV2 on a data frame', [cf(TEXT, 'x', { rsv: 2 })], 1002, 'STELAR_ERR_WS_RSV_SET'],
    ['RSV1 + RSV2 on a data frame', [cf(TEXT, 'x', { rsv: 6 })], 1002, 'STELAR_ERR_WS_RSV_SET'],
    ['data that does not inflate', [compressedFrame(BINARY, Buffer.from('ffffffff', 'hex'))], 1007, 'STELAR_ERR_WS_INVALID_COMPRESSED_DATA'],
    ['compressed text that is not UTF-8', [compressedFrame(TEXT, deflateMessage(Buffer.from('c3 28', 'hex')))], 1007, 'STELAR_ERR_WS_INVALID_UTF8'],
  ]) {
    it(`${title}: ${code}`, async () => {
      const session = await rawSession(s.port);
      s.errors.length = 0;
      session.socket.write(Buffer.concat(frames));
      assert.equal(await session.waitClosed(), code);
      assert.deepEqual(s.errors, [error]);
    });
  }

  it('RSV1 without the extension negotiated is still 1002', async () => {
    const session = await rawSession(s.port, null);
    session.socket.write(compressedFrame(TEXT, deflateMessage('hello')));
    assert.equal(await session.waitClosed(), 1002);
  });

  it('a bomb stops at maxPayload while inflating: 1009, on the event loop and on the thread pool', async (t) => {
    // 64 MiB of zeros in ~64 KB: inflated past 4 MiB only as far as the limit.
    const bomb = deflateMessage(Buffer.alloc(64 * MiB));
    for (const maxPayload of [128 * 1024, 4 * MiB]) {
      const server = await startServer({ maxPayload }, t);
      const session = await rawSession(server.port);
      const started = Date.now();
      session.socket.write(compressedFrame(BINARY, bomb.subarray(0, Math.min(bomb.length, maxPayload - 16))));
      assert.equal(await session.waitClosed(), 1009, `maxPayload ${maxPayload}`);
      assert.deepEqual(server.errors, ['STELAR_ERR_WS_MESSAGE_TOO_BIG']);
      assert.equal(server.received.length, 0);
      assert.ok(Date.now() - started < 5000);
    }
  });

  it('a message that inflates to exactly maxPayload passes; one byte more fails', async (t) => {
    const server = await startServer({ maxPayload: 300_000 }, t);
    const ok = await rawSession(server.port);
    ok.socket.write(compressedFrame(BINARY, deflateMessage(Buffer.alloc(300_000, 1))));
    await until(() => server.received.length === 1);
    assert.equal(server.received[0].data.length, 300_000);
    ok.socket.destroy();
    const over = await rawSession(server.port);
    over.socket.write(compressedFrame(BINARY, deflateMessage(Buffer.alloc(300_001, 1))));
    assert.equal(await over.waitClosed(), 1009);
  });
});

describe('sending', () => {
  it('compresses from the threshold up, keeps order across thread-pool work, and closes after it', async (t) => {
    const s = await startServer({ perMessageDeflate: { threshold: 100 } }, t);
    const session = await rawSession(s.port);
    await until(() => s.conns.length === 1);
    const ws = s.conns[0];
    const big = Buffer.from('x'.repeat(SYNC_DEFLATE_LIMIT * 2)); // compressed on the thread pool
    const sent = ['tiny', 'y'.repeat(500), big, 'after big', Buffer.alloc(200, 7), big, 'z'.repeat(1000)];
    for (const m of sent) ws.send(m);
    assert.ok(ws.bufferedAmount >= big.length, 'what waits for the thread pool counts in bufferedAmount');
    ws.close(1000, 'bye');
    assert.equal(await session.waitClosed(), 1000);
    assert.equal(session.frames.length, sent.length);
    const got = session.frames.map((f) => messageOf(f));
    for (let i = 0; i < sent.length; i++) assert.ok(Buffer.from(sent[i]).equals(got[i]), `message ${i}`);
    assert.deepEqual(
      session.frames.map((f) => f.rsv),
      [0, 4, 4, 0, 4, 4, 4],
      'RSV1 exactly on the messages at or above the threshold',
    );
    assert.deepEqual(
      session.frames.map((f) => f.opcode),
      [TEXT, TEXT, BINARY, TEXT, BINARY, BINARY, TEXT],
    );
  });

  it('keeps a compression context between messages when negotiated (smaller frames)', async (t) => {
    const s = await startServer({ perMessageDeflate: { threshold: 0, serverNoContextTakeover: false } }, t);
    const session = await rawSession(s.port, 'permessage-deflate');
    assert.equal(session.res.headers['sec-websocket-extensions'], 'permessage-deflate; client_no_context_takeover');
    await until(() => s.conns.length === 1);
    const message = JSON.stringify({ user: 'someone', text: 'the same words in every message', n: 1 });
    for (let i = 0; i < 5; i++) s.conns[0].send(message);
    await session.waitFor(5);
    // One inflater across the messages, as a peer with a kept context must.
    const { createInflateRaw, constants } = await import('node:zlib');
    const inflater = createInflateRaw();
    const out = [];
    for (const f of session.frames) {
      const chunks = [];
      const onData = (c) => chunks.push(c);
      inflater.on('data', onData);
      inflater.write(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]));
      await new Promise((resolve) => inflater.flush(constants.Z_SYNC_FLUSH, resolve));
      inflater.off('data', onData);
      out.push(Buffer.concat(chunks).toString());
    }
    inflater.close();
    assert.deepEqual(out, Array(5).fill(message));
    assert.ok(session.frames[4].payload.length < session.frames[0].payload.length / 2, 'later messages refer back to earlier ones');
    session.socket.destroy();
  });

  it('a socket gone while messages wait for the thread pool drops them quietly', async (t) => {
    const s = await startServer({}, t);
    const session = await rawSession(s.port);
    await until(() => s.conns.length === 1);
    const ws = s.conns[0];
    for (let i = 0; i < 5; i++) ws.send(Buffer.alloc(SYNC_DEFLATE_LIMIT * 4, i));
    ws.terminate();
    await once(ws, 'close');
    assert.equal(ws.bufferedAmount, 0);
    session.socket.destroy();
  });
});

describe('client role', () => {
  /** A fake server answering the upgrade with `extensions` (null: no header), then echoing nothing. */
  async function fakeServer(extensions) {
    const server = net.createServer((socket) => {
      socket.once('data', (head) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(head.toString('latin1'))[1];
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
            (extensions === null ? '' : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
            '\r\n',
        );
        socket.on('error', () => {});
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `ws://127.0.0.1:${server.address().port}/`, close: () => new Promise((resolve) => server.close(resolve)) };
  }

  for (const [answer, offered, ok] of [
    ['permessage-deflate', true, true],
    ['permessage-deflate; server_no_context_takeover; client_max_window_bits=9', true, true],
    [null, true, true],
    ['permessage-deflate', false, false],
    ['permessage-deflate; client_max_window_bits', true, false],
    ['permessage-deflate; nope', true, false],
    ['permessage-deflate; server_max_window_bits=7', true, false],
    ['x-webkit-deflate-frame', true, false],
    ['permessage-deflate, permessage-deflate', true, false],
  ]) {
    it(`${ok ? 'accepts' : 'fails on'} ${JSON.stringify(answer)} (offered: ${offered})`, async () => {
      const fake = await fakeServer(answer);
      try {
        const attempt = connectWebSocket(fake.url, { perMessageDeflate: offered });
        if (ok) {
          const ws = await attempt;
          assert.equal(ws.perMessageDeflate, answer !== null);
          assert.equal(ws.extensions, answer ?? '');
          ws.terminate();
        } else {
          await assert.rejects(attempt, (err) => err.code === 'STELAR_ERR_WS_HANDSHAKE_FAILED');
        }
      } finally {
        await fake.close();
      }
    });
  }

  it('round-trips with our server: compressed both ways, sync and thread pool, text and binary', async (t) => {
    const s = await startServer({ maxPayload: 8 * MiB }, t);
    s.wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const ws = await connectWebSocket(`ws://127.0.0.1:${s.port}/`, { perMessageDeflate: { threshold: 0 }, maxPayload: 8 * MiB });
    assert.equal(ws.extensions, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    const messages = ['hi', 'text '.repeat(10_000), randomBytes(1000), Buffer.alloc(3 * MiB, 'q')];
    const replies = [];
    ws.on('message', (data, isBinary) => replies.push({ data, isBinary }));
    for (const m of messages) ws.send(m);
    await until(() => replies.length === messages.length);
    for (let i = 0; i < messages.length; i++) {
      assert.equal(replies[i].isBinary, typeof messages[i] !== 'string');
      assert.ok(Buffer.from(messages[i]).equals(replies[i].data), `message ${i}`);
    }
    ws.close();
    await once(ws, 'close');
  });
});

describe('ZlibLimiter', () => {
  it('runs at most `concurrency` jobs at once, the rest in order', async () => {
    const limiter = new ZlibLimiter(3);
    let running = 0;
    let most = 0;
    const started = [];
    const all = [];
    for (let i = 0; i < 25; i++) {
      all.push(
        new Promise((resolve) =>
          limiter.run((done) => {
            started.push(i);
            running++;
            most = Math.max(most, running);
            setTimeout(
              () => {
                running--;
                done();
                done(); // a second call changes nothing
                resolve();
              },
              1 + (i % 3),
            );
          }),
        ),
      );
    }
    assert.equal(limiter.running, 3);
    assert.equal(limiter.waiting, 22);
    await Promise.all(all);
    assert.equal(most, 3);
    assert.deepEqual(started, [...Array(25).keys()]);
    assert.equal(limiter.running, 0);
    assert.equal(limiter.waiting, 0);
    assert.throws(() => new ZlibLimiter(0), RangeError);
  });
});
