// `stelar connect`, `health` and `serve` against a real StelarServer listening on both ports:
// each port pointed at with the wrong protocol, bare ports, non-JSON payloads, quitting with
// requests outstanding, ports already in use.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { StelarServer } from '../../dist/index.js';
import { assertNoStack, run } from './cli-helpers.mjs';

let server;
let ws;
let tcp;

before(async () => {
  server = new StelarServer({ port: 0, tcpPort: 0, host: '127.0.0.1', logger: 'silent' });
  server.on('echo', (ctx) => ctx.emit('echo', ctx.data));
  // Answers well after the end of the piped input: the CLI must wait for it.
  server.onAck('slow', async (ctx) => {
    await new Promise((r) => setTimeout(r, 600));
    return { late: ctx.data ?? true };
  });
  ws = await server.start();
  tcp = server.getTcpPort();
});

after(() => server.stop());

test('connect: a WebSocket client on the TCP port is told to use --tcp', async () => {
  const res = await run(['connect', `ws://127.0.0.1:${tcp}`]);
  assert.equal(res.code, 1, res.stdout + res.stderr);
  assert.match(res.stdout, /this port speaks TCP, try --tcp/);
  assert.doesNotMatch(res.stdout, /Parse Error/);
  assertNoStack(res.stdout + res.stderr);
});

test('connect --tcp: a TCP client on the WebSocket port is told to drop --tcp', async () => {
  const res = await run(['connect', `127.0.0.1:${ws}`, '--tcp']);
  assert.equal(res.code, 1, res.stdout + res.stderr);
  assert.match(res.stdout, /this port speaks WebSocket \(HTTP\), drop --tcp/);
  assert.doesNotMatch(res.stdout, /1213486160/);
  assertNoStack(res.stdout + res.stderr);
});

test('health: a bare port is 127.0.0.1; the TCP port is named as the wrong one', async () => {
  let res = await run(['health', String(ws)]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).status, 'ok');

  res = await run(['health', `127.0.0.1:${tcp}`]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /^stelar: 127\.0\.0\.1:\d+ did not answer with HTTP: is it the TCP port\? health needs the WebSocket\/HTTP port\n$/);
});

test('connect: text that is not JSON is sent as a string, and says so', async () => {
  for (const [url, flags] of [
    [`ws://127.0.0.1:${ws}`, []],
    [`127.0.0.1:${tcp}`, ['--tcp']],
  ]) {
    const res = await run(['connect', url, ...flags], { input: 'emit echo {oops\nemit echo {"ok":1}\nrequest slow\n' });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /warning: not JSON, sent as the string "\{oops"/);
    assert.match(res.stdout, /< echo "\{oops"/);
    assert.match(res.stdout, /< echo \{"ok":1\}/);
    // Valid JSON goes without a warning: exactly one.
    assert.equal(res.stdout.match(/warning:/g)?.length, 1, res.stdout);
  }
});

test('connect: at the end of piped input, and at quit, outstanding requests are answered before exit', async () => {
  for (const input of ['request slow 1\nrequest slow 2\n', 'request slow 1\nrequest slow 2\nquit\nrequest slow 3\n']) {
    const res = await run(['connect', `127.0.0.1:${tcp}`, '--tcp'], { input });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /= \{"late":1\}/, res.stdout);
    assert.match(res.stdout, /= \{"late":2\}/, res.stdout);
    // Lines after quit are not run.
    assert.doesNotMatch(res.stdout, /"late":3/, res.stdout);
  }
});

test('connect: a command without its argument says what it needs', async () => {
  const res = await run(['connect', `ws://127.0.0.1:${ws}`], { input: 'emit\njoin\nleave\nrequest\nbinary\nbinary ev\nfrobnicate\n' });
  assert.equal(res.code, 0, res.stdout + res.stderr);
  for (const re of [
    /emit needs an event name/,
    /join needs a room/,
    /leave needs a room/,
    /request needs an event name/,
    /binary needs an event name and a file/,
    /binary needs a file/,
    /unknown command "frobnicate"/,
  ]) {
    assert.match(res.stdout, re);
  }
  assertNoStack(res.stdout + res.stderr);
});

test('serve: a port in use is one clean line (TCP port and WebSocket port), exit 1', async () => {
  const taken = net.createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const port = String(taken.address().port);
  try {
    for (const [args, re] of [
      [['--port', '0', '--tcp-port', port], /^stelar: the TCP port \(--tcp-port\) \d+ is already in use/],
      [['--port', port, '--tcp-port', '0'], /^stelar: the WebSocket port \(--port\) \d+ is already in use/],
    ]) {
      const res = await run(['serve', '--host', '127.0.0.1', ...args]);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.equal(res.stderr.split('\n').filter(Boolean).length, 1, `more than one line:\n${res.stderr}`);
      assert.match(res.stderr, re);
      assertNoStack(res.stderr);
    }
  } finally {
    taken.close();
  }
});
