// Issue 15 C: the dashboard page in headless Chromium. The token is required (form, wrong
// token refused, then the page), the charts move when traffic starts, the client list's search
// and Disconnect button work, and the page survives a server restart (reconnects and resumes),
// asking for a new token when the restarted server has another one. Screenshots go to a
// temporary directory printed by the test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StelarClient, StelarServer } from '../../dist/index.js';
import { freePort, hasBrowser, launchBrowser } from './demo-helpers.mjs';

const skip = !hasBrowser && 'chromium not installed';
const TOKEN = 'browser-test-token-0123456789';
const SHOTS = mkdtempSync(join(tmpdir(), 'stelar-dashboard-'));
let browser;

before(
  async () => {
    if (hasBrowser) browser = await launchBrowser();
  },
  { timeout: 60_000 },
);
after(
  async () => {
    await browser?.close();
    console.log(`# dashboard screenshots in ${SHOTS}`);
  },
  { timeout: 30_000 },
);

function startDashboard({ port = 0, token = TOKEN, ...options } = {}) {
  const server = new StelarServer({ port, host: '127.0.0.1', tcpPort: 0, logger: false, dashboard: { token }, ...options });
  return server.start().then(() => server);
}

/** A page collecting its script errors, console errors and CSP violations. */
async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => msg.type() === 'error' && page.problems.push(`console: ${msg.text()}`));
  return page;
}

async function openLive(port, token = TOKEN) {
  const page = await newPage();
  const res = await page.goto(`http://127.0.0.1:${port}/dashboard?token=${encodeURIComponent(token)}`);
  assert.equal(res.status(), 200);
  await page.waitForSelector('body[data-state="live"]', { timeout: 10_000 });
  return page;
}

const ticks = (page) => page.$eval('body', (b) => Number(b.dataset.ticks));
const chartLast = (page, id) => page.$eval(`#${id}`, (c) => c.dataset.last.split(',').map(Number));

async function connectClient(server, options = {}) {
  const client = new StelarClient(`ws://127.0.0.1:${server.getPort()}`, { logger: false, reconnection: false, ...options });
  await new Promise((resolve) => client.connect(resolve));
  return client;
}

test('the token is required: a form first, a wrong token refused, then the page (which drops the token from its address)', {
  skip,
  timeout: 60_000,
}, async () => {
  const server = await startDashboard();
  const page = await newPage();
  try {
    const port = server.getPort();
    let res = await page.goto(`http://127.0.0.1:${port}/dashboard`);
    assert.equal(res.status(), 401);
    assert.equal(await page.textContent('#login p'), 'This dashboard needs its token.');
    assert.equal(await page.$('#app'), null, 'no dashboard before the token');
    await page.screenshot({ path: join(SHOTS, '01-token-form.png') });

    await page.fill('input[name="token"]', 'not-the-token-at-all-sorry');
    [res] = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    assert.equal(res.status(), 401);
    assert.equal(await page.textContent('#login p'), 'Wrong token.');

    await page.fill('input[name="token"]', TOKEN);
    [res] = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    assert.equal(res.status(), 200);
    await page.waitForSelector('body[data-state="live"]', { timeout: 10_000 });
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
    assert.deepEqual(
      page.problems.filter((p) => !/status of 401/.test(p)),
      [],
      'nothing but the two 401 answers',
    );

    // The live channel checks the token on its own: a wrong one is refused even from the page's origin.
    const refused = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const ws = new WebSocket(`ws://${location.host}/dashboard`);
          ws.onopen = () => ws.send(JSON.stringify({ t: 'auth', token: 'guessing-the-token-1234567' }));
          ws.onmessage = () => resolve('got data');
          ws.onclose = (e) => resolve(e.code);
        }),
    );
    assert.equal(refused, 4001);
  } finally {
    await page.close();
    await server.stop();
  }
});

test('the charts move when traffic starts (messages and ACK latency), connections by transport', { skip, timeout: 60_000 }, async () => {
  const server = await startDashboard({ rateLimit: false });
  server.on('chat', (ctx) => ctx.broadcast('chat', ctx.data));
  server.onAck('work', async () => {
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    return 'done';
  });
  const clients = [];
  let traffic;
  const page = await openLive(server.getPort());
  try {
    for (let i = 0; i < 6; i++) clients.push(await connectClient(server));
    const tcp = new StelarClient(`127.0.0.1:${server.getTcpPort()}`, { mode: 'tcp', logger: false, reconnection: false });
    await new Promise((resolve) => tcp.connect(resolve));
    clients.push(tcp);
    await page.waitForFunction(() => document.querySelector('#c-conn').dataset.last === '6,1', null, { timeout: 10_000 });
    // Quiet before the traffic (once the clients' handshakes are a second old).
    await page.waitForFunction(() => document.querySelector('#c-rate').dataset.last === '0,0', null, { timeout: 10_000 });
    const quiet = await page.$eval('#c-rate', (c) => c.toDataURL());
    await page.screenshot({ path: join(SHOTS, '02-before-traffic.png') });

    traffic = setInterval(() => {
      for (const c of clients) {
        c.emit('chat', { text: 'hello' });
        c.request('work', {}).catch(() => {});
      }
    }, 50);
    await page.waitForFunction(
      () => {
        const [inRate, outRate] = document.querySelector('#c-rate').dataset.last.split(',').map(Number);
        const [p50] = document.querySelector('#c-ack').dataset.last.split(',').map(Number);
        return inRate > 0 && outRate > inRate && p50 > 0;
      },
      null,
      { timeout: 10_000 },
    );
    const [inRate, outRate] = await chartLast(page, 'c-rate');
    const [p50, p95] = await chartLast(page, 'c-ack');
    assert.ok(p95 >= p50 && p50 >= 4, `ACK p50 ${p50} ms, p95 ${p95} ms for a 5-25 ms handler`);
    assert.notEqual(await page.$eval('#c-rate', (c) => c.toDataURL()), quiet, 'the chart was redrawn with the traffic');
    assert.match(await page.textContent('#v-rate'), /^\d/);
    assert.match(await page.textContent('#v-ack'), / ms$/);
    await page.screenshot({ path: join(SHOTS, '03-traffic.png') });
    console.log(`# browser saw ${inRate} msg/s in, ${outRate} msg/s out, ACK p50 ${p50} ms, p95 ${p95} ms`);
    assert.deepEqual(page.problems, []);
  } finally {
    clearInterval(traffic);
    for (const c of clients) c.disconnect();
    await page.close();
    await server.stop();
  }
});

test('the client list: search on the server, Disconnect closes that client (4009) and the row goes', { skip, timeout: 60_000 }, async () => {
  const names = ['alice', 'bob', 'carol', 'dave', 'erin'];
  let n = 0;
  const server = await startDashboard({ generateClientId: () => `${names[n % names.length]}-${String(n++).padStart(2, '0')}` });
  server.on('join', (ctx) => ctx.joinRoom(ctx.data));
  const clients = [];
  const page = await openLive(server.getPort());
  try {
    for (let i = 0; i < 30; i++) {
      const c = await connectClient(server);
      c.emit('join', `team-${i % 4}`);
      clients.push(c);
    }
    await page.waitForFunction(() => document.querySelector('#clients-count').textContent === '1–20 of 30', null, { timeout: 10_000 });
    assert.equal(await page.$$eval('#clients-rows tr', (trs) => trs.length), 20);
    await page.waitForFunction(() => document.querySelector('#rooms-count').textContent === '1–4 of 4', null, { timeout: 10_000 });

    await page.click('#clients-next');
    await page.waitForFunction(() => document.querySelector('#clients-count').textContent === '21–30 of 30', null, { timeout: 5000 });

    await page.fill('#clients-search', 'BOB');
    await page.waitForFunction(() => document.querySelector('#clients-count').textContent === '1–6 of 6', null, { timeout: 5000 });
    const ids = await page.$$eval('#clients-rows tr', (trs) => trs.map((tr) => tr.dataset.id));
    assert.deepEqual(ids, ['bob-01', 'bob-06', 'bob-11', 'bob-16', 'bob-21', 'bob-26']);
    await page.screenshot({ path: join(SHOTS, '04-search.png') });

    const victim = clients[11];
    const gone = new Promise((resolve) => victim.on('disconnect', resolve));
    await page.click('#clients-rows tr[data-id="bob-11"] button.kick');
    const info = await gone;
    assert.equal(info.code, 4009);
    await page.waitForFunction(() => document.querySelector('#clients-count').textContent === '1–5 of 5', null, { timeout: 5000 });
    assert.equal(await page.$('#clients-rows tr[data-id="bob-11"]'), null);
    assert.match(await page.textContent('#toast'), /disconnected bob-11/);
    assert.equal(server.getClients().length, 29);

    await page.fill('#clients-search', 'nobody');
    await page.waitForFunction(() => document.querySelector('#clients-rows').textContent === 'nothing here', null, { timeout: 5000 });
    await page.fill('#rooms-search', 'team-2');
    await page.waitForFunction(() => document.querySelector('#rooms-count').textContent === '1–1 of 1', null, { timeout: 5000 });
    assert.deepEqual(page.problems, []);
  } finally {
    for (const c of clients) c.disconnect();
    await page.close();
    await server.stop();
  }
});

test('the page survives a server restart: it reconnects and resumes; a restarted server with another token is asked for it', {
  skip,
  timeout: 90_000,
}, async () => {
  const port = await freePort();
  let server = await startDashboard({ port });
  const page = await openLive(port);
  try {
    await page.waitForFunction(() => Number(document.body.dataset.ticks) >= 3, null, { timeout: 10_000 });
    await server.stop();
    await page.waitForSelector('body[data-state="reconnecting"]', { timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, '05-reconnecting.png') });

    server = await startDashboard({ port });
    const client = await connectClient(server);
    await page.waitForSelector('body[data-state="live"]', { timeout: 15_000 });
    const resumedAt = await ticks(page);
    await page.waitForFunction((t) => Number(document.body.dataset.ticks) >= t + 2, resumedAt, { timeout: 10_000 });
    // The new process's numbers: its one client, its uptime.
    await page.waitForFunction(() => document.querySelector('#c-conn').dataset.last === '1,0', null, { timeout: 5000 });
    assert.match(await page.textContent('#meta'), /^up \ds /);
    await page.screenshot({ path: join(SHOTS, '06-after-restart.png') });
    client.disconnect();

    // Restarted with another token: the page's token is refused and it asks for the new one.
    const NEW_TOKEN = 'the-rotated-token-9876543210';
    await server.stop();
    server = await startDashboard({ port, token: NEW_TOKEN });
    await page.waitForSelector('body[data-state="refused"]', { timeout: 15_000 });
    assert.equal(await page.isVisible('#login-error'), true);
    assert.equal(await page.isVisible('#app'), false);
    await page.screenshot({ path: join(SHOTS, '07-token-refused.png') });
    await page.fill('#token', NEW_TOKEN);
    await page.click('#login-form button');
    await page.waitForSelector('body[data-state="live"]', { timeout: 10_000 });
    assert.deepEqual(page.problems, []);
  } finally {
    await page.close();
    await server.stop();
  }
});
