// End to end: the demo chat in a real Chromium. Two pages chat in a room, the TCP bot answers in
// both, an image round-trips as binary, and the pages reconnect on their own after a server restart.
// Screenshots go to test-artifacts/e2e/ so a failure can be looked at.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createChatService } from '../../demo/chat-service.mjs';
import { serveStatic } from '../../demo/static.mjs';
import { startBot } from '../../demo/bot.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/e2e/', import.meta.url));
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`);
}

// 1x1 red PNG.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082',
  'hex',
);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startDemo(port, tcpPort) {
  const server = http.createServer(serveStatic);
  const stelar = createChatService({ server, tcpPort, logger: 'silent' });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await stelar.start();
  return {
    port: server.address().port,
    async stop() {
      await stelar.stop();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let browser;
let demo;
let bot;
let tcpPort;
const pages = [];

before(async () => {
  if (!hasBrowser) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  tcpPort = await freePort();
  demo = await startDemo(0, tcpPort);
  bot = startBot({ port: tcpPort, host: '127.0.0.1' });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  bot?.disconnect();
  await browser?.close();
  await demo?.stop();
});

async function openChat(name) {
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, err.message));
  await page.goto(`http://127.0.0.1:${demo.port}/`);
  await page.fill('#name', name);
  await page.click('#login button');
  await page.waitForSelector('#state[data-state="connected"]', { timeout: 10_000 });
  pages.push(page);
  return page;
}

const messageIn = (page, text) =>
  page.waitForFunction((t) => [...document.querySelectorAll('#messages li')].some((li) => li.textContent.includes(t)), text, {
    timeout: 10_000,
  });

test('two pages chat, the TCP bot answers in both, an image round-trips, and a restart heals itself', {
  skip: !hasBrowser && 'chromium not installed',
}, async () => {
  const alice = await openChat('alice');
  const bob = await openChat('bob');

  // Both are in "general"; wait until each sees the other online before talking.
  await alice.waitForFunction(() => document.querySelectorAll('#online li').length >= 3, null, { timeout: 10_000 }); // alice, bob, bot

  await alice.fill('#text', 'hello from alice');
  await alice.press('#text', 'Enter');
  await messageIn(bob, 'hello from alice');

  await bob.fill('#text', 'hey bot');
  await bob.press('#text', 'Enter');
  await messageIn(bob, 'I am a TCP client');
  await messageIn(alice, 'I am a TCP client');
  await alice.screenshot({ path: `${ARTIFACTS}01-alice-chat.png` });

  await alice.setInputFiles('#file', { name: 'red.png', mimeType: 'image/png', buffer: PNG });
  await bob.waitForSelector('#messages img[alt="red.png"]', { timeout: 10_000 });
  const received = await bob.evaluate(async () => {
    const img = document.querySelector('#messages img[alt="red.png"]');
    return [...new Uint8Array(await (await fetch(img.src)).arrayBuffer())];
  });
  assert.deepEqual(Buffer.from(received), PNG, 'the image bytes arrive unchanged');
  await bob.screenshot({ path: `${ARTIFACTS}02-bob-image.png` });

  // Restart the server on the same ports; the pages must notice and come back on their own.
  const { port } = demo;
  await demo.stop();
  await alice.waitForSelector('#state:not([data-state="connected"])', { timeout: 10_000 });
  await alice.screenshot({ path: `${ARTIFACTS}03-alice-reconnecting.png` });
  demo = await startDemo(port, tcpPort);
  await alice.waitForSelector('#state[data-state="connected"]', { timeout: 20_000 });
  await bob.waitForSelector('#state[data-state="connected"]', { timeout: 20_000 });

  await bob.fill('#text', 'back after restart');
  await bob.press('#text', 'Enter');
  await messageIn(alice, 'back after restart');
  await alice.screenshot({ path: `${ARTIFACTS}04-alice-after-restart.png` });
});
