// The demo page in a real Chromium, one test per bug of issue 13 that shows on the page: the
// login screen, whitespace names, long words, the room pattern, refusals, rate limits, typing,
// timestamps, a phone-sized screen and recovery of a short outage. The server runs in this process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { StelarClient } from '../../dist/index.js';
import { hasBrowser, launchBrowser, lines, messageIn, openChat, startDemo } from './demo-helpers.mjs';

const skip = !hasBrowser && 'chromium not installed';
let browser;
let demo;
const pages = [];
const nodeClients = [];

before(
  async () => {
    if (!hasBrowser) return;
    // A small message budget so the rate-limit test needs few sends.
    mkdirSync('test-artifacts/e2e', { recursive: true });
    demo = await startDemo({ messageRateLimit: { maxPoints: 4, windowMs: 60_000 } });
    browser = await launchBrowser();
  },
  { timeout: 60_000 },
);

after(
  async () => {
    for (const c of nodeClients) c.disconnect();
    await browser?.close();
    await demo?.stop();
  },
  { timeout: 30_000 },
);

async function chat(name, opts) {
  const page = await openChat(browser, demo.port, name, opts);
  pages.push(page);
  return page;
}

/** A Node client with its own name (so every test has its own message budget). */
async function nodeClient(auth) {
  const client = new StelarClient(demo.port, { auth, reconnection: false, logger: false });
  nodeClients.push(client);
  return client;
}

test('the login screen shows no chat, loads without 404 or console error, and refuses a whitespace-only name', { skip, timeout: 60_000 }, async () => {
  const page = await chat(undefined);
  assert.equal(await page.isVisible('#chat'), false, 'the chat panel is hidden behind the login form');
  await page.fill('#name', '    ');
  await page.click('#login button');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
  assert.equal(await page.isVisible('#chat'), false, 'a blank name does not enter the chat');
  assert.equal(await page.getAttribute('#state', 'data-state'), 'disconnected', 'nor connect as "anonymous"');
  await page.fill('#name', 'zoe');
  await page.click('#login button');
  await page.waitForSelector('#state[data-state="connected"]');
  assert.equal(await page.isVisible('#chat'), true);
  assert.deepEqual(page.problems, [], 'no failed request (favicon) and no console error (pattern)');
});

test('the server refuses a connection without a usable name', { skip, timeout: 60_000 }, async () => {
  for (const auth of [undefined, { name: '   ' }, { name: 42 }]) {
    const client = await nodeClient(auth);
    const refused = new Promise((resolve) => client.once('error', resolve));
    client.connect();
    const err = await refused;
    assert.equal(err.code, 'STELAR_ERR_MIDDLEWARE_REJECTED', `auth ${JSON.stringify(auth)} is refused`);
    client.disconnect();
  }
});

test('a long unbroken word wraps: the page stays as wide as the window, the sidebar on screen', { skip, timeout: 60_000 }, async () => {
  const page = await chat('wrapper', { viewport: { width: 1280, height: 800 } });
  await page.fill('#text', 'x'.repeat(2000));
  await page.press('#text', 'Enter');
  await messageIn(page, 'x'.repeat(100));
  const size = await page.evaluate(() => ({
    width: document.documentElement.scrollWidth,
    window: window.innerWidth,
    aside: document.querySelector('aside').getBoundingClientRect().right,
  }));
  assert.ok(size.width <= size.window, `page is ${size.width} px wide in a ${size.window} px window`);
  assert.ok(size.aside <= size.window && size.aside > 0, 'the sidebar is on screen');
});

test('a bad room name is caught by the page, the pattern is valid, and the server refuses it too', { skip, timeout: 60_000 }, async () => {
  const page = await chat('roomer');
  await page.fill('#join-room', 'bad room!');
  assert.equal(await page.$eval('#join-room', (i) => i.validity.patternMismatch), true, 'the pattern compiles and rejects it');
  await page.click('#join-form button');
  await page.waitForFunction(() => document.querySelector('#join-error').textContent.includes('letters'));
  assert.deepEqual(await page.$$eval('#rooms li', (lis) => lis.map((li) => li.textContent)), ['# general'], 'no room was added');

  // Past the page's own check (as an older page or another client would be): the server says no, visibly.
  await page.evaluate(() => window.stelarClient.joinRoom('bad room!'));
  await messageIn(page, 'Room refused');
  const client = await nodeClient({ name: 'raw' });
  await new Promise((resolve) => client.connect(resolve));
  await assert.rejects(client.request('join', { room: 'bad room!' }), { code: 'BAD_ROOM' });
  await assert.rejects(client.request('message', { room: 'nowhere', text: 'lost?' }), { code: 'NOT_IN_ROOM' });

  // A good name still works from the form.
  await page.fill('#join-room', 'dev-room_1');
  await page.click('#join-form button');
  await page.waitForSelector('#rooms li.active:text("# dev-room_1")');
  assert.deepEqual(page.problems, []);
});

test('a rate-limited send is shown: a notice, and the line marked not sent', { skip, timeout: 60_000 }, async () => {
  const page = await chat('speedy');
  for (let i = 1; i <= 6; i++) {
    await page.fill('#text', `fast ${i}`);
    await page.press('#text', 'Enter');
  }
  await messageIn(page, 'rate limit');
  await page.waitForSelector('#messages li.failed');
  const failed = await page.$$eval('#messages li.failed', (lis) => lis.map((li) => li.textContent));
  assert.ok(failed.length >= 1 && failed.every((t) => t.includes('not sent')), failed.join(' | '));
  assert.equal(await page.$$eval('#messages li.pending', (lis) => lis.length), 0, 'nothing left hanging as pending');
});

test('"is typing…" goes away when that user’s message arrives; lines carry a time', { skip, timeout: 60_000 }, async () => {
  const ann = await chat('ann');
  const ben = await nodeClient({ name: 'ben' });
  await new Promise((resolve) => ben.connect(resolve));
  await ben.request('join', { room: 'general' });
  ben.emit('typing', { room: 'general' });
  await ann.waitForFunction(() => document.querySelector('#typing').textContent === 'ben is typing…');
  await ben.request('message', { room: 'general', text: 'done typing' });
  await messageIn(ann, 'done typing');
  assert.equal(await ann.textContent('#typing'), '', 'cleared by the message, not by a timer seconds later');
  const time = await ann.$eval('#messages li:last-child time', (t) => ({ text: t.textContent, iso: t.dateTime }));
  assert.match(time.text, /\d{1,2}:\d{2}/);
  assert.ok(Math.abs(Date.parse(time.iso) - Date.now()) < 60_000);
});

test('at 390 px wide the chat fits the screen and can be used', { skip, timeout: 60_000 }, async () => {
  const page = await chat('phone', { viewport: { width: 390, height: 844 } });
  const layout = await page.evaluate(() => {
    const box = (sel) => document.querySelector(sel).getBoundingClientRect();
    return { width: document.documentElement.scrollWidth, text: box('#text'), send: box('#send-form button'), rooms: box('#rooms') };
  });
  assert.ok(layout.width <= 390, `page is ${layout.width} px wide`);
  for (const [what, b] of Object.entries({ text: layout.text, send: layout.send, rooms: layout.rooms })) {
    assert.ok(b.left >= 0 && b.right <= 390 && b.width > 0 && b.bottom <= 844, `${what} is on screen: ${JSON.stringify(b)}`);
  }
  await page.fill('#text', 'from a phone');
  await page.click('#send-form button');
  await page.waitForSelector('#messages li:not(.pending):has-text("from a phone")');
  await page.screenshot({ path: 'test-artifacts/e2e/phone-390.png' });
});

test('a short outage is recovered: same session, and the message sent meanwhile is replayed', { skip, timeout: 60_000 }, async () => {
  const page = await chat('recoverer');
  const id = await page.evaluate(() => window.stelarClient.getId());
  const other = await nodeClient({ name: 'teller' });
  await new Promise((resolve) => other.connect(resolve));
  await other.request('join', { room: 'general' });
  await other.request('message', { room: 'general', text: 'before the blip' });
  await messageIn(page, 'before the blip');

  await page.evaluate(() => {
    window.recoveredAt = new Promise((resolve) => window.stelarClient.once('connect', resolve));
  });
  demo.stelar.disconnect(id, 4000, 'network blip'); // not 1000/4009: the page comes back
  await other.request('message', { room: 'general', text: 'said while you were away' });
  const info = await page.evaluate(() => window.recoveredAt);
  assert.deepEqual(info, { recovered: true });
  assert.equal(await page.evaluate(() => window.stelarClient.getId()), id);
  await messageIn(page, 'said while you were away');
  const all = await lines(page);
  assert.equal(all.filter((l) => l.includes('before the blip')).length, 1, 'nothing shown twice');
});
