// permessage-deflate against a peer we did not write: the `ws` package with perMessageDeflate
// on, as the client of our WebSocketServer and as the server of our connectWebSocket, across
// the parameters either side may ask for (context takeover kept or not, window sizes,
// thresholds). Every echo must come back byte for byte, and compressible data must take
// far fewer bytes on the wire than it holds.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import WebSocket, { WebSocketServer as WsServer } from 'ws';
import { connectWebSocket, WebSocketServer } from '../../dist/websocket/index.js';
import { listen } from './helpers.mjs';

const MiB = 1024 * 1024;
const LINE = 'The quick brown fox {"jumps":"over","the":"lazy dog"} ';
const text = (n) => LINE.repeat(Math.ceil(n / LINE.length)).slice(0, n);
/** Sizes on both sides of every boundary: thresholds, the 64 KiB sync compression, the 256 KiB sync inflation. */
const SIZES = [0, 1, 200, 1023, 1024, 5000, 70_000, 300_000, 2 * MiB];

function messagesFor(sizes) {
  const out = [];
  for (const n of sizes) {
    out.push(text(n));
    out.push(n > 100_000 ? Buffer.from(text(n)) : randomBytes(n));
  }
  return out;
}

/** Sends every message, then checks the echoes in order; returns the bytes the socket read. */
async function echoAll(send, replies, socket, messages) {
  const before = socket.bytesRead;
  const start = replies.length;
  for (const m of messages) send(m);
  const deadline = Date.now() + 20_000;
  while (replies.length < start + messages.length) {
    if (Date.now() > deadline) throw new Error(`${replies.length - start} of ${messages.length} echoes`);
    await new Promise((r) => setTimeout(r, 5));
  }
  for (let i = 0; i < messages.length; i++) {
    const { data, isBinary } = replies[start + i];
    assert.equal(isBinary, typeof messages[i] !== 'string', `message ${i} type`);
    assert.ok(Buffer.from(messages[i]).equals(Buffer.from(data)), `message ${i} (${Buffer.byteLength(messages[i])} bytes) differs`);
  }
  return socket.bytesRead - before;
}

describe('ws client -> our server, permessage-deflate', () => {
  const cases = [
    ['defaults on both sides', {}, {}, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    ['contexts kept both ways', { serverNoContextTakeover: false, clientNoContextTakeover: false }, {}, 'permessage-deflate'],
    [
      'ws asks for small windows',
      { serverNoContextTakeover: false, clientNoContextTakeover: false },
      { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9',
    ],
    [
      'ws asks for an 8-bit server window (we compress only what fits it)',
      {},
      { serverMaxWindowBits: 8 },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8',
    ],
    [
      'ws asks for no server context',
      { serverNoContextTakeover: false },
      { serverNoContextTakeover: true },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    ],
    [
      'our server limits the client window',
      { clientMaxWindowBits: 11, clientNoContextTakeover: false },
      {},
      'permessage-deflate; server_no_context_takeover; client_max_window_bits=11',
    ],
  ];
  for (const [title, ours, theirs, expected] of cases) {
    it(title, async (t) => {
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 8 * MiB, perMessageDeflate: { threshold: 0, ...ours } });
      t.after(() => new Promise((resolve) => wss.close(() => resolve())));
      wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
      const port = await listen(wss);
      const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0, ...theirs }, maxPayload: 8 * MiB });
      t.after(() => client.terminate());
      // 'upgrade' and 'open' come in the same tick: listen for both first.
      const [[res]] = await Promise.all([once(client, 'upgrade'), once(client, 'open')]);
      assert.equal(res.headers['sec-websocket-extensions'], expected);
      assert.equal(client.extensions, 'permessage-deflate');
      const replies = [];
      client.on('message', (data, isBinary) => replies.push({ data, isBinary }));
      await echoAll((m) => client.send(m), replies, client._socket, messagesFor(SIZES));
      // Compressible text both ways: what came back took a fraction of its size on the wire.
      const wire = await echoAll((m) => client.send(m), replies, client._socket, [text(MiB)]);
      if (theirs.serverMaxWindowBits === 8) assert.ok(wire > MiB, 'a 1 MiB message does not fit an 8-bit window: sent as it is');
      else assert.ok(wire < MiB / 10, `1 MiB of text took ${wire} bytes`);
      client.close();
      await once(client, 'close');
    });
  }

  it('a burst of small messages on a kept context, interleaved with thread-pool work', async (t) => {
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      maxPayload: 8 * MiB,
      perMessageDeflate: { threshold: 0, serverNoContextTakeover: false, clientNoContextTakeover: false },
    });
    t.after(() => new Promise((resolve) => wss.close(() => resolve())));
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const port = await listen(wss);
    const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 }, maxPayload: 8 * MiB });
    t.after(() => client.terminate());
    await once(client, 'open');
    const replies = [];
    client.on('message', (data, isBinary) => replies.push({ data, isBinary }));
    const burst = [];
    for (let i = 0; i < 300; i++) burst.push(i % 50 === 0 ? text(400_000 + i) : JSON.stringify({ i, user: `u${i % 7}`, text: text(50 + (i % 300)) }));
    await echoAll((m) => client.send(m), replies, client._socket, burst);
  });
});

describe('our client -> ws server, permessage-deflate', () => {
  const cases = [
    ['ws defaults (contexts kept both ways)', {}, {}, 'permessage-deflate'],
    ['ws without server context', { serverNoContextTakeover: true }, {}, 'permessage-deflate; server_no_context_takeover'],
    ['we ask for no server context', {}, { serverNoContextTakeover: true }, 'permessage-deflate; server_no_context_takeover'],
    ['ws limits our window', { clientMaxWindowBits: 10 }, {}, 'permessage-deflate; client_max_window_bits=10'],
    ['ws uses a small window of its own', { serverMaxWindowBits: 9 }, {}, 'permessage-deflate; server_max_window_bits=9'],
    ['we ask for a small server window', {}, { serverMaxWindowBits: 11 }, 'permessage-deflate; server_max_window_bits=11'],
  ];
  for (const [title, theirs, ours, expected] of cases) {
    it(title, async (t) => {
      const wss = new WsServer({ port: 0, host: '127.0.0.1', maxPayload: 8 * MiB, perMessageDeflate: { threshold: 0, ...theirs } });
      t.after(() => new Promise((resolve) => wss.close(() => resolve())));
      let serverSocket;
      wss.on('connection', (ws) => {
        serverSocket = ws._socket;
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      });
      await once(wss, 'listening');
      const ws = await connectWebSocket(`ws://127.0.0.1:${wss.address().port}/`, { maxPayload: 8 * MiB, perMessageDeflate: { threshold: 0, ...ours } });
      t.after(() => ws.terminate());
      assert.equal(ws.extensions, expected);
      const replies = [];
      ws.on('message', (data, isBinary) => replies.push({ data, isBinary }));
      await echoAll((m) => ws.send(m), replies, ws.socket, messagesFor(SIZES));
      // Both directions compressed: the server read, and we read, a fraction of 1 MiB of text.
      const serverRead = serverSocket.bytesRead;
      const wire = await echoAll((m) => ws.send(m), replies, ws.socket, [text(MiB)]);
      assert.ok(wire < MiB / 10, `1 MiB of text came back in ${wire} bytes`);
      assert.ok(serverSocket.bytesRead - serverRead < MiB / 10, `1 MiB of text went in ${serverSocket.bytesRead - serverRead} bytes`);
      ws.close();
      await once(ws, 'close');
    });
  }
});
