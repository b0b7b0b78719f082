// Client failover in a real browser (Debian's chromium via playwright-core, ESM bundle): the
// page's client is given three addresses, a closed local port first; it skips it, lands on a
// server in another process, and when that process is killed with SIGKILL comes back on the
// survivor by itself. Without /usr/bin/chromium the test is skipped, except under CI=true
// where it fails.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import http from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { StelarServer } from '../../dist/index.js';
import { waitUntil } from '../support/waits.mjs';

const CHROMIUM = '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`);
}
const FIXTURE = fileURLToPath(new URL('../client/fixtures/server-process.mjs', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../dist/browser/stelar-client.mjs', import.meta.url));
const PAGE =
  '<!doctype html><meta charset="utf-8"><script type="module">import * as Stelar from "/stelar-client.mjs"; window.Stelar = Stelar; window.ready = true;</script>';

let browser;
let httpServer;
let survivor;
let victim;
let port;

function spawnServer() {
  const child = spawn(process.execPath, [FIXTURE], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve({ child, ...JSON.parse(buf.split('\n')[0]) });
    });
    child.once('exit', (code) => reject(new Error(`server process exited early (${code})`)));
  });
}

function closedPort() {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address();
      srv.close(() => resolve(p));
    });
  });
}

before(
  async () => {
    if (!hasBrowser) return;
    // The page and the survivor share one HTTP server; the victim is another process.
    httpServer = http.createServer((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      if (path === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      else if (path === '/stelar-client.mjs') res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(BUNDLE));
      else res.writeHead(404).end();
    });
    await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    port = httpServer.address().port;
    survivor = new StelarServer({ server: httpServer, host: '127.0.0.1', logger: 'silent', gracefulShutdown: false });
    await survivor.start();
    victim = await spawnServer();
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
    if (victim && victim.child.exitCode === null && victim.child.signalCode === null) {
      victim.child.kill('SIGKILL');
      await once(victim.child, 'exit');
    }
    await survivor?.stop();
    httpServer?.closeAllConnections?.();
    if (httpServer) await new Promise((resolve) => httpServer.close(resolve));
  },
  { timeout: 30_000 },
);

test('browser: a closed port is skipped, then a killed server is left for the survivor', {
  skip: !hasBrowser && 'chromium not installed',
  timeout: 60_000,
}, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });
  const urls = [`ws://127.0.0.1:${await closedPort()}`, `ws://127.0.0.1:${victim.port}`, `ws://127.0.0.1:${port}`];

  const first = await page.evaluate(async (list) => {
    const client = new window.Stelar.StelarClient(list, { logger: 'silent', reconnectionDelay: 50, maxReconnectionDelay: 200 });
    window.client = client;
    client.on('error', () => {});
    client.joinRoom('lobby');
    await new Promise((resolve) => client.connect(resolve));
    return { url: client.getUrl(), urls: client.getUrls() };
  }, urls);
  assert.deepEqual(first.urls, urls);
  assert.equal(first.url, urls[1], 'the closed port was skipped');
  assert.equal(survivor.getStats().activeConnections, 0);

  victim.child.kill('SIGKILL');
  await once(victim.child, 'exit');
  // Next after the victim is the survivor (the closed port comes after it again).
  await waitUntil(() => survivor.getRoomMembers('lobby').length === 1, 'the page on the survivor, in its room', 15_000);
  const now = await page.evaluate(() => ({ url: window.client.getUrl(), state: window.client.getState() }));
  assert.deepEqual(now, { url: urls[2], state: 'connected' });
  await page.evaluate(() => {
    window.heard = new Promise((resolve) => window.client.once('news', resolve));
  });
  survivor.to('lobby', 'news', 'hello again');
  assert.equal(await page.evaluate(() => window.heard), 'hello again');
  await page.evaluate(() => window.client.disconnect());
  assert.deepEqual(errors, []);
});
