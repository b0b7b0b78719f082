// The demo as `npm start` runs it (a child process), restarted under two open pages: a line typed
// while the server is down waits as "pending" and is posted under the sender's name once the
// server is back; the pages keep every line they showed; the history file brings the earlier
// messages back to a page opened after the restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, hasBrowser, launchBrowser, lines, messageIn, openChat, spawnDemo } from './demo-helpers.mjs';

let browser;
let demo;
let env;
let dir;

before(
  async () => {
    if (!hasBrowser) return;
    dir = mkdtempSync(join(tmpdir(), 'stelar-demo-restart-'));
    env = { PORT: String(await freePort()), TCP_PORT: String(await freePort()), HISTORY_FILE: join(dir, 'history.json'), REDIS_URL: '' };
    demo = spawnDemo(env);
    assert.equal(await demo.started, 'ready', demo.output().stderr);
    browser = await launchBrowser();
  },
  { timeout: 60_000 },
);

after(
  async () => {
    await browser?.close();
    await demo?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  },
  { timeout: 30_000 },
);

const fromOf = (page, text) =>
  page.$$eval(
    '#messages li',
    (lis, t) => lis.filter((li) => li.querySelector('.text')?.textContent === t).map((li) => li.querySelector('.from').textContent),
    text,
  );

test('a restart keeps the pages’ lines and the history, and a line typed while down is posted under its author', {
  skip: !hasBrowser && 'chromium not installed',
  timeout: 120_000,
}, async () => {
  const port = Number(env.PORT);
  const alice = await openChat(browser, port, 'alice');
  const bob = await openChat(browser, port, 'bob');
  await alice.fill('#text', 'said before the restart');
  await alice.press('#text', 'Enter');
  await messageIn(bob, 'said before the restart');

  const { code } = await demo.stop();
  assert.equal(code, 0, 'SIGTERM ends the demo cleanly (history saved)');
  await alice.waitForSelector('#state:not([data-state="connected"])', { timeout: 10_000 });

  await alice.fill('#text', 'typed while the server was down');
  await alice.press('#text', 'Enter');
  await alice.waitForSelector('#messages li.pending', { timeout: 5000 });

  demo = spawnDemo(env);
  assert.equal(await demo.started, 'ready', demo.output().stderr);
  await alice.waitForSelector('#state[data-state="connected"]', { timeout: 20_000 });
  await alice.waitForFunction(() => !document.querySelector('#messages li.pending'), null, { timeout: 20_000 });
  await messageIn(bob, 'typed while the server was down', 20_000);

  assert.deepEqual(await fromOf(bob, 'typed while the server was down'), ['alice'], 'posted as alice, not "anonymous"');
  assert.deepEqual(await fromOf(alice, 'typed while the server was down'), ['alice'], 'and shown once on her page');
  for (const page of [alice, bob]) {
    assert.equal((await lines(page)).filter((l) => l.includes('said before the restart')).length, 1, 'the page kept its line, once');
  }

  const carol = await openChat(browser, port, 'carol');
  await messageIn(carol, 'said before the restart');
  await messageIn(carol, 'typed while the server was down');
  assert.deepEqual(
    alice.problems.concat(bob.problems, carol.problems).filter((p) => !p.includes('WebSocket')),
    [],
  );
});
