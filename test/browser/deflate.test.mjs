// permessage-deflate with a real browser: Debian's chromium (playwright-core) against a
// StelarServer with `perMessageDeflate` on, and against standalone WebSocketServers (contexts
// dropped, the default, and kept both ways). The handshake is read through the DevTools
// protocol (what Chromium offered, what we answered), messages must round-trip byte for byte,
// and compressible data must take a fraction of its size on the wire.
// Without /usr/bin/chromium the test is skipped, except under CI=true where it fails.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { StelarServer, StelarClient } from '../../dist/index.js';
import { WebSocketServer } from '../../dist/websocket/index.js';

const CHROMIUM = '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`);
}
const skip = !hasBrowser && 'chromium not installed';
const MiB = 1024 * 1024;

const bundle = fileURLToPath(new URL('../../dist/browser/stelar-client.mjs', import.meta.url));
const PAGE =
  '<!doctype html><meta charset="utf-8"><script type="module">import * as Stelar from "/stelar-client.mjs"; window.Stelar = Stelar; window.ready = true;</script>';

let browser;
let httpServer;
let stelar;
let port;
/** Standalone echo servers on the same HTTP server: /raw (defaults) and /keep (contexts kept). */
let raw;
let keep;
/** Every socket of the HTTP server, to count bytes on the wire. */
const sockets = new Set();
const wire = () => [...sockets].reduce((n, s) => n + s.bytesRead + s.bytesWritten, 0);

function echoServer(path, options) {
  const wss = new WebSocketServer({ server: httpServer, path, maxPayload: 8 * MiB, perMessageDeflate: options });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return wss;
}

before(
  async () => {
    if (!hasBrowser) return;
    httpServer = http.createServer((req, res) => {
      if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      else if (req.url === '/stelar-client.mjs') res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(bundle));
      else res.writeHead(404).end();
    });
    httpServer.on('connection', (s) => sockets.add(s));
    await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    port = httpServer.address().port;
    stelar = new StelarServer({ server: httpServer, host: '127.0.0.1', logger: 'silent', gracefulShutdown: false, perMessageDeflate: true });
    stelar.onAck('echo', (ctx) => ctx.data);
    stelar.on('join', (ctx) => ctx.joinRoom(ctx.data));
    stelar.on('bin', (ctx) => ctx.emitBinary('bin', ctx.data));
    await stelar.start();
    raw = echoServer('/raw', { threshold: 0 });
    keep = echoServer('/keep', { threshold: 0, serverNoContextTakeover: false, clientNoContextTakeover: false });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      timeout: 30_000,
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  },
  { timeout: 60_000 },
);

after(
  async () => {
    await browser?.close();
    await stelar?.stop();
    for (const wss of [raw, keep]) if (wss) await new Promise((resolve) => wss.close(() => resolve()));
    httpServer?.closeAllConnections?.();
    if (httpServer) await new Promise((resolve) => httpServer.close(resolve));
  },
  { timeout: 30_000 },
);

/** A page with the bundle loaded, and the WebSocket handshakes it makes as DevTools reports them. */
async function openPage() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const handshakes = new Map();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const entry = (id) => handshakes.get(id) ?? handshakes.set(id, {}).get(id);
  cdp.on('Network.webSocketCreated', (e) => (entry(e.requestId).url = e.url));
  cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => (entry(e.requestId).request = lower(e.request.headers)));
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => (entry(e.requestId).response = lower(e.response.headers)));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10000 });
  return { page, errors, handshakes: () => [...handshakes.values()] };
}

const lower = (headers) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

test('StelarClient in Chromium: extension negotiated, requests, broadcasts and binary round-trip compressed', { skip, timeout: 60_000 }, async () => {
  const { page, errors, handshakes } = await openPage();
  const id = await page.evaluate(async () => {
    const client = new window.Stelar.StelarClient(location.host, { logger: 'silent' });
    window.client = client;
    await new Promise((resolve) => client.connect(resolve));
    client.emit('join', 'news');
    return client.getId();
  });
  const [hs] = handshakes();
  assert.match(hs.request['sec-websocket-extensions'], /^permessage-deflate/, 'Chromium offers the extension');
  assert.equal(hs.response['sec-websocket-extensions'], 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');

  // A request with 1 MiB of compressible JSON, both ways: a fraction of it on the wire.
  const rows = Array.from({ length: 9000 }, (_, i) => ({ id: i, user: `user${i % 40}`, text: 'a chat line like the others' }));
  const before = wire();
  const back = await page.evaluate((data) => window.client.request('echo', data, 'echo'), rows);
  const used = wire() - before;
  assert.deepEqual(back, rows);
  const size = Buffer.byteLength(JSON.stringify(rows));
  assert.ok(size > 500_000 && used < size / 5, `${size} bytes of JSON each way took ${used} bytes on the wire`);

  // A broadcast from a Node client (compressed once by the server) reaches the page.
  await page.evaluate(() => {
    window.heard = new Promise((resolve) => window.client.once('headline', resolve));
  });
  assert.ok(stelar.getRoomMembers('news').includes(id));
  const node = new StelarClient(`ws://127.0.0.1:${port}`, { logger: 'silent' });
  await new Promise((resolve) => node.connect(resolve));
  const headline = { title: 'compressed for everyone', body: 'long text '.repeat(300) };
  stelar.to('news', 'headline', headline);
  assert.deepEqual(await page.evaluate(() => window.heard), headline);
  node.disconnect();

  // Binary, small and large (the large one compressed on the server's thread pool).
  const bins = await page.evaluate(async () => {
    const out = [];
    for (const n of [5, 2000, 300_000]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 7) % 13);
      const got = new Promise((resolve) => window.client.once('bin', resolve));
      window.client.emitBinary('bin', bytes);
      const data = await got;
      out.push(data.length === n && data.every((b, i) => b === bytes[i]));
    }
    window.client.disconnect();
    return out;
  });
  assert.deepEqual(bins, [true, true, true]);
  assert.deepEqual(errors, []);
  await page.close();
});

test("the browser's own WebSocket against our echo servers: contexts dropped and kept", { skip, timeout: 60_000 }, async () => {
  const { page, errors, handshakes } = await openPage();
  for (const [path, answer] of [
    ['/raw', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    ['/keep', 'permessage-deflate'],
  ]) {
    const result = await page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const replies = [];
      let wake;
      ws.onmessage = (e) => {
        replies.push(e.data);
        wake?.();
      };
      const sent = [];
      for (let i = 0; i < 60; i++) sent.push(i % 20 === 19 ? 'big '.repeat(100_000) : JSON.stringify({ i, text: 'the same words again and again', n: i * i }));
      sent.push(new Uint8Array(70_000).map((_, i) => i % 251));
      for (const m of sent) ws.send(m);
      while (replies.length < sent.length) await new Promise((resolve) => (wake = resolve));
      const same = sent.every((m, i) =>
        typeof m === 'string' ? replies[i] === m : replies[i] instanceof ArrayBuffer && new Uint8Array(replies[i]).every((b, j) => b === m[j]),
      );
      ws.close();
      return { same, extensions: ws.extensions, count: replies.length };
    }, `ws://127.0.0.1:${port}${path}`);
    assert.deepEqual(result, { same: true, extensions: answer, count: 61 }, path);
    assert.equal(handshakes().at(-1).response['sec-websocket-extensions'], answer);
  }
  assert.deepEqual(errors, []);
  await page.close();
});
