// StelarClient in a real browser: Debian's chromium driven by playwright-core loads the ESM
// bundle (and the script-tag global build), connects over WebSocket, joins a room, receives a
// broadcast emitted by a Node TCP client, completes a request, answers the server's requests,
// and round-trips binary.
// Without /usr/bin/chromium the test is skipped, except under CI=true where it fails.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { StelarServer, StelarClient } from '../../dist/index.js';

const CHROMIUM = '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`);
}

const dist = (name) => fileURLToPath(new URL(`../../dist/browser/${name}`, import.meta.url));
const PAGES = {
  '/': '<!doctype html><meta charset="utf-8"><title>esm</title><script type="module">import * as Stelar from "/stelar-client.mjs"; window.Stelar = Stelar; window.ready = true;</script>',
  '/global.html':
    '<!doctype html><meta charset="utf-8"><title>global</title><script src="/stelar-client.global.js"></script><script>window.ready = true;</script>',
};

let browser;
let httpServer;
let stelar;
let port;
let tcpPort;
let tcpClient;

// Failure guards only: a wedged browser must fail the run, not hang it.
before(
  async () => {
    if (!hasBrowser) return;
    httpServer = http.createServer((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      if (PAGES[path]) {
        res.writeHead(200, { 'content-type': 'text/html' }).end(PAGES[path]);
      } else if (path === '/stelar-client.mjs' || path === '/stelar-client.global.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(dist(path.slice(1))));
      } else if (path !== '/') {
        res.writeHead(404).end();
      }
    });
    await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    port = httpServer.address().port;
    stelar = new StelarServer({
      server: httpServer,
      tcpPort: 0,
      host: '127.0.0.1',
      logger: 'silent',
      gracefulShutdown: false,
      authRefreshLeadTime: 150,
      rateLimit: false,
      byteRateLimit: false,
    });
    // Tokens "user:expiresAtMs" get an expiry (auth that refreshes); no token, no expiry.
    stelar.use((ctx, next) => {
      if (ctx.data?.token === undefined) return next();
      const [user, exp] = ctx.data.token.split(':');
      ctx.setMetadata('user', user);
      ctx.setExpiry(Number(exp));
      next();
    });
    // A client that asks for it is not read for a while (backpressure on its side).
    stelar.onConnection((ctx) => {
      if (ctx.getMetadata('user') !== 'slow') return;
      ctx.socket.pause();
      setTimeout(() => ctx.socket.resume(), 400);
    });
    stelar.on('chunk', (ctx) => {
      stelar.chunks = (stelar.chunks ?? 0) + ctx.data.length;
    });
    stelar.on('shout', (ctx) => ctx.to(ctx.data.room, 'shout', ctx.data));
    stelar.onAck('getUser', (ctx) => ({ id: ctx.data.id, name: 'John', protocol: ctx.clientInfo.protocol }));
    stelar.on('bin', (ctx) => ctx.emitBinary('bin', ctx.data));
    stelar.on('file', (ctx) => ctx.emit('file-size', ctx.data.length));
    await stelar.start();
    tcpPort = stelar.getTcpPort();
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
    tcpClient?.disconnect();
    await browser?.close();
    await stelar?.stop();
    httpServer?.closeAllConnections?.();
    if (httpServer) await new Promise((resolve) => httpServer.close(resolve));
  },
  { timeout: 30_000 },
);

async function openPage(path) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`http://127.0.0.1:${port}${path}`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10000 });
  return { page, errors };
}

test('browser (ESM bundle): connect, room broadcast from a Node TCP client, request, binary, sendFile(Blob)', {
  skip: !hasBrowser && 'chromium not installed',
  timeout: 60_000,
}, async () => {
  const { page, errors } = await openPage('/');
  const connected = await page.evaluate(async () => {
    const states = [];
    const client = new window.Stelar.StelarClient(location.host, { logger: 'silent', hooks: { onStateChange: ({ to }) => states.push(to) } });
    window.client = client;
    const joined = new Promise((resolve) => client.once('room_joined', resolve));
    await new Promise((resolve) => client.connect(resolve));
    client.joinRoom('lobby');
    await joined;
    return { id: client.getId(), state: client.getState(), url: client.getUrl(), states };
  });
  assert.equal(connected.state, 'connected');
  assert.equal(connected.url, `ws://127.0.0.1:${port}`);
  assert.deepEqual(connected.states, ['connecting', 'connected']);
  assert.ok(stelar.getRoomMembers('lobby').includes(connected.id));
  assert.equal(stelar.getClients().find((c) => c.id === connected.id)?.protocol, 'ws');

  // A Node client on the TCP transport speaks to the room; the page hears it.
  // The listener is in place (awaited) before the TCP client speaks.
  await page.evaluate(() => {
    window.heard = new Promise((resolve) => window.client.once('shout', resolve));
  });
  tcpClient = new StelarClient(`127.0.0.1:${tcpPort}`, { mode: 'tcp', logger: 'silent' });
  await new Promise((resolve) => tcpClient.connect(resolve));
  tcpClient.emit('shout', { room: 'lobby', text: 'hello from tcp' });
  assert.deepEqual(await page.evaluate(() => window.heard), { room: 'lobby', text: 'hello from tcp' });

  const user = await page.evaluate(() => window.client.request('getUser', { id: 7 }, 'getUser'));
  assert.deepEqual(user, { id: 7, name: 'John', protocol: 'ws' });

  const bin = await page.evaluate(async () => {
    const back = new Promise((resolve) => window.client.once('bin', resolve));
    window.client.emitBinary('bin', new Uint8Array([0, 1, 2, 250, 255]));
    const data = await back;
    return { isU8: data instanceof Uint8Array, own: data.byteOffset === 0 && data.buffer.byteLength === data.length, bytes: [...data] };
  });
  assert.deepEqual(bin, { isU8: true, own: true, bytes: [0, 1, 2, 250, 255] });

  const fileSize = await page.evaluate(async () => {
    const size = new Promise((resolve) => window.client.once('file-size', resolve));
    await window.client.sendFile(new Blob(['twelve bytes']));
    return size;
  });
  assert.equal(fileSize, 12);

  // The server asks the page; its onRequest handler answers.
  await page.evaluate(() => window.client.onRequest('whereAreYou', async (data, info) => ({ where: 'browser', echo: data, name: info.name })));
  assert.deepEqual(await stelar.request(connected.id, 'whereAreYou', 5), { where: 'browser', echo: 5, name: 'whereAreYou' });
  await assert.rejects(stelar.request(connected.id, 'unhandled'), { code: 'STELAR_ERR_NO_ACK_HANDLER' });

  const after = await page.evaluate(() => {
    window.client.disconnect();
    return { state: window.client.getState(), sent: window.client.getMessagesSent(), received: window.client.getMessagesReceived() };
  });
  assert.equal(after.state, 'disconnected');
  assert.equal(after.sent, 5, 'three messages and two answers');
  assert.equal(after.received, 6, 'four messages and two requests');
  assert.deepEqual(errors, []);
  await page.close();
});

test('browser (global build): window.Stelar.StelarClient connects by port and completes a request', {
  skip: !hasBrowser && 'chromium not installed',
  timeout: 60_000,
}, async () => {
  const { page, errors } = await openPage('/global.html');
  const result = await page.evaluate(async (p) => {
    const client = new window.Stelar.StelarClient(p, { logger: 'silent' });
    await new Promise((resolve) => client.connect(resolve));
    const user = await client.request('getUser', { id: 1 }, 'getUser');
    client.disconnect();
    return { user, hasErrorCodes: typeof window.Stelar.ErrorCode.ACK_TIMEOUT === 'string' };
  }, port);
  assert.deepEqual(result, { user: { id: 1, name: 'John', protocol: 'ws' }, hasErrorCodes: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('browser: mode tcp is refused with a clear error', { skip: !hasBrowser && 'chromium not installed', timeout: 60_000 }, async () => {
  const { page } = await openPage('/');
  const message = await page.evaluate(() => {
    try {
      new window.Stelar.StelarClient('localhost:1', { mode: 'tcp' });
      return 'no error';
    } catch (err) {
      return err.message;
    }
  });
  assert.match(message, /mode 'tcp' is not available/);
  await page.close();
});

test('browser: auth that refreshes (the auth function answers on the same connection) and backpressure (false, drain, bufferedAmount)', {
  skip: !hasBrowser && 'chromium not installed',
  timeout: 60_000,
}, async () => {
  const { page, errors } = await openPage('/');
  const refreshed = await page.evaluate(async () => {
    let n = 0;
    const client = new window.Stelar.StelarClient(location.host, {
      logger: 'silent',
      auth: async () => ({ token: `page${++n}:${Date.now() + 500}` }),
    });
    const seen = [];
    client.on('disconnect', ({ code }) => seen.push(code));
    await new Promise((resolve) => client.connect(resolve));
    const id = client.getId();
    await new Promise((resolve) => setTimeout(resolve, 800)); // past the first expiry
    const result = { id, same: client.getId() === id, calls: n, seen: [...seen] };
    client.disconnect();
    return result;
  });
  assert.equal(refreshed.same, true);
  assert.ok(refreshed.calls >= 2, `auth called ${refreshed.calls} times`);
  assert.deepEqual(refreshed.seen, [], 'never disconnected');

  stelar.chunks = 0;
  const pushed = await page.evaluate(async () => {
    const client = new window.Stelar.StelarClient(location.host, { logger: 'silent', auth: { token: `slow:${Date.now() + 60_000}` } });
    window.slowClient = client;
    await new Promise((resolve) => client.connect(resolve));
    const piece = new Uint8Array(64 * 1024);
    let sent = 0;
    let answeredFalse = false;
    let largest = 0;
    // The server is not reading this client for 400 ms: the browser's buffer passes its 1 MiB mark.
    while (sent < 64 * 64 * 1024) {
      sent += piece.length;
      if (client.emit('chunk', piece)) continue;
      answeredFalse = true;
      largest = Math.max(largest, client.bufferedAmount);
      await new Promise((resolve) => client.once('drain', resolve));
    }
    return { total: sent, answeredFalse, largest };
  });
  assert.equal(pushed.answeredFalse, true, 'emit answered false in the browser');
  assert.ok(pushed.largest >= 1024 * 1024, `bufferedAmount reached the mark: ${pushed.largest}`);
  await new Promise((resolve) => {
    const check = () => (stelar.chunks >= pushed.total ? resolve() : setTimeout(check, 20));
    check();
  });
  await page.evaluate(() => window.slowClient.disconnect());
  assert.deepEqual(errors, []);
  await page.close();
});
