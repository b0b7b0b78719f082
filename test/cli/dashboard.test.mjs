// `stelar serve --dashboard [--dashboard-token T]`: the dashboard from the command line, its
// usage errors (no token off loopback, a short token), and the token from the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { assertNoStack, BIN, run } from './cli-helpers.mjs';

const TOKEN = 'cli-dashboard-token-0123456789';

/** `stelar serve … --port 0 --tcp-port off`, until it printed its dashboard line. */
async function serve(args, env = {}) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--tcp-port', 'off', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = once(child, 'exit');
  while (!/dashboard on (\S+)/.test(out)) {
    await Promise.race([
      once(child.stdout, 'data'),
      exited.then(() => {
        throw new Error(`serve exited: ${out}`);
      }),
    ]);
  }
  const url = /dashboard on (\S+)/.exec(out)[1];
  return {
    url,
    out: () => out,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

test('serve --dashboard on loopback: no token needed; the URL is printed', async () => {
  const s = await serve(['--dashboard', '--host', '127.0.0.1']);
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/dashboard$/);
    assert.doesNotMatch(s.out(), /token required/);
    const res = await fetch(s.url);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<title>stelar dashboard<\/title>/);
  } finally {
    await s.stop();
  }
});

test('serve --dashboard-token: the page needs the token (which implies --dashboard and is never printed)', async () => {
  const s = await serve(['--dashboard-token', TOKEN]);
  try {
    assert.match(s.url, /^http:\/\/localhost:\d+\/dashboard$/, 'every interface: shown as localhost');
    assert.match(s.out(), /\(token required\)/);
    assert.ok(!s.out().includes(TOKEN));
    const port = new URL(s.url).port;
    assert.equal((await fetch(`http://127.0.0.1:${port}/dashboard`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${port}/dashboard?token=${TOKEN}`)).status, 200);
  } finally {
    await s.stop();
  }
});

test('serve --dashboard with $STELAR_DASHBOARD_TOKEN: the token stays out of the process list', async () => {
  const s = await serve(['--dashboard'], { STELAR_DASHBOARD_TOKEN: TOKEN });
  try {
    const port = new URL(s.url).port;
    assert.equal((await fetch(`http://127.0.0.1:${port}/dashboard`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${port}/dashboard`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  } finally {
    await s.stop();
  }
});

test('serve --dashboard: no token off loopback, or a short token, is a usage error before anything starts', async () => {
  for (const [args, env, what] of [
    [['--dashboard'], {}, /--dashboard without a token is only served on loopback: add --host 127\.0\.0\.1, or --dashboard-token/],
    [['--dashboard', '--host', '0.0.0.0'], {}, /only served on loopback/],
    [['--dashboard-token', 'short'], {}, /--dashboard-token must be at least 16 characters .*got 5/],
    [['--dashboard'], { STELAR_DASHBOARD_TOKEN: 'tiny' }, /STELAR_DASHBOARD_TOKEN \(from the environment\) must be at least 16 characters/],
    [['--dashboard-token'], {}, /--dashboard-token needs a value/],
    [['--dashboard=yes'], {}, /--dashboard takes no value/],
  ]) {
    const res = await run(['serve', '--port', '0', '--tcp-port', 'off', ...args], { env });
    const label = args.join(' ');
    assert.equal(res.code, 2, `${label}: ${res.stderr}`);
    assertNoStack(res.stderr);
    const [first, second] = res.stderr.split('\n');
    assert.match(first, what, label);
    assert.match(second, /^usage: stelar serve/, label);
    assert.equal(res.stdout, '', label);
  }
  const help = await run(['serve', '--help']);
  assert.match(help.stdout, /--dashboard {9}serve the live dashboard/);
  assert.match(help.stdout, /--dashboard-token <token>/);
  assert.match((await run(['--help'])).stdout, /--dashboard \[--dashboard-token <token>\]/);
});
