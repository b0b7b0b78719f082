// The `stelar` command line, run as a user would: serve, health, connect (scripted stdin), bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { BIN, closedPort, run } from './cli-helpers.mjs';

async function startServe(extra = [], env = {}) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--tcp-port', '0', '--host', '127.0.0.1', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  while (!/TCP on :\d+/.test(out)) {
    const [chunk] = await Promise.race([
      once(child.stdout, 'data'),
      once(child, 'exit').then(() => {
        throw new Error(`serve exited: ${out}`);
      }),
    ]);
    void chunk;
  }
  const [, ws, tcp] = out.match(/WebSocket on :(\d+), TCP on :(\d+)/);
  return { child, ws: Number(ws), tcp: Number(tcp), out };
}

async function stopServe(child) {
  child.kill('SIGTERM');
  await once(child, 'exit');
}

test('serve + health: the JSON of /health, exit 0', async () => {
  const { child, ws } = await startServe();
  try {
    const res = await run(['health', `http://127.0.0.1:${ws}`]);
    assert.equal(res.code, 0, res.stderr);
    const body = JSON.parse(res.stdout);
    assert.equal(body.status, 'ok');
    assert.equal(typeof body.activeConnections, 'number');
  } finally {
    await stopServe(child);
  }
});

test('serve --metrics: Prometheus text at /metrics (behind $STELAR_METRICS_TOKEN when set); without it, 404', async () => {
  const metrics = (port, headers = {}) => fetch(`http://127.0.0.1:${port}/metrics`, { headers });
  let serve = await startServe();
  try {
    assert.equal((await metrics(serve.ws)).status, 404);
  } finally {
    await stopServe(serve.child);
  }
  serve = await startServe(['--metrics']);
  try {
    assert.match(serve.out, /metrics at \/metrics\n/);
    const res = await metrics(serve.ws);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(await res.text(), /^stelar_connections_open\{transport="tcp"\} 0$/m);
  } finally {
    await stopServe(serve.child);
  }
  serve = await startServe(['--metrics'], { STELAR_METRICS_TOKEN: 'cli-token' });
  try {
    assert.match(serve.out, /metrics at \/metrics \(bearer token\)/);
    assert.doesNotMatch(serve.out, /cli-token/, 'the token is never printed');
    assert.equal((await metrics(serve.ws)).status, 401);
    assert.equal((await metrics(serve.ws, { authorization: 'Bearer cli-token' })).status, 200);
  } finally {
    await stopServe(serve.child);
  }
});

test('connect over WebSocket and TCP: emit, join, request, quit', async () => {
  const { child, ws, tcp } = await startServe();
  try {
    for (const [url, flags] of [
      [`ws://127.0.0.1:${ws}`, []],
      [`127.0.0.1:${tcp}`, ['--tcp']],
    ]) {
      const script = 'help\njoin lobby\nemit echo {"hello":"there"}\nrequest ping\n';
      const proc = spawn(process.execPath, [BIN, 'connect', url, ...flags], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout.on('data', (d) => (out += d));
      proc.stderr.on('data', (d) => (out += d));
      const until = async (re) => {
        const deadline = Date.now() + 10_000;
        while (!re.test(out)) {
          if (Date.now() > deadline) throw new Error(`no ${re} in:\n${out}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await until(/connected as /);
      proc.stdin.write(script);
      await until(/< echo \{"hello":"there"\}/);
      await until(/= \{"pong":\d+\}/);
      proc.stdin.write('quit\n');
      const [code] = await once(proc, 'exit');
      assert.equal(code, 0, out);
    }
  } finally {
    await stopServe(child);
  }
});

test('clear errors: refused connections, bad urls, unknown commands', async () => {
  const port = await closedPort();
  let res = await run(['health', `127.0.0.1:${port}`]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /connection refused/);

  res = await run(['connect', `ws://127.0.0.1:${port}`], { input: '' });
  assert.equal(res.code, 1);
  assert.match(res.stdout + res.stderr, /connection refused/i);

  res = await run(['connect', 'not a url::'], { input: '' });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /bad url/);

  res = await run(['serve', '--port', 'abc']);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /--port must be a port number/);

  res = await run(['frobnicate']);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /usage:/);
});
