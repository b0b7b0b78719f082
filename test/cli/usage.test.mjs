// `stelar` usage errors: one line saying what is wrong, then the command's usage, exit 2, no
// stack trace; --help and --version exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assertNoStack, closedPort, run } from './cli-helpers.mjs';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

/** Exit 2; stderr: `stelar: <what>` then the usage of `command` ('<command>' for the top level). */
async function assertUsageError(args, what, command, env) {
  const res = await run(args, { env });
  const label = `stelar ${args.join(' ')}`;
  assert.equal(res.code, 2, `${label}: ${res.stderr}`);
  assertNoStack(res.stderr);
  const [first, second] = res.stderr.split('\n');
  assert.match(first, /^stelar: /, label);
  assert.match(first, what, label);
  assert.match(second, new RegExp(`^usage: stelar ${command}`), `${label}:\n${res.stderr}`);
  assert.equal(res.stdout, '', label);
}

test('--help on every command, and at the top: the usage on stdout, exit 0', async () => {
  for (const [args, command] of [
    [['--help'], '<command>'],
    [['-h'], '<command>'],
    [['help'], '<command>'],
    [['serve', '--help'], 'serve'],
    [['serve', '--port', '1', '-h'], 'serve'],
    [['connect', '--help'], 'connect'],
    [['health', '--help'], 'health'],
    [['help', 'health'], 'health'],
  ]) {
    const res = await run(args);
    assert.equal(res.code, 0, `stelar ${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stdout, new RegExp(`^usage: stelar ${command}`), res.stdout);
    assert.equal(res.stderr, '');
  }
});

test('--version prints the package version, exit 0', async () => {
  for (const flag of ['--version', '-v']) {
    const res = await run([flag]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `${version}\n`);
  }
});

test('unknown or missing commands: named, with the top-level usage', async () => {
  await assertUsageError(['bogus'], /unknown command "bogus"/, '<command>');
  await assertUsageError([], /missing command/, '<command>');
  await assertUsageError(['--bogus'], /unknown option --bogus/, '<command>');
  await assertUsageError(['help', 'bogus'], /unknown command "bogus"/, '<command>');
});

test('unknown options, missing values, extra or missing arguments, on every command', async () => {
  await assertUsageError(['serve', '--bogus'], /unknown option --bogus/, 'serve');
  await assertUsageError(['serve', '-x'], /unknown option -x/, 'serve');
  await assertUsageError(['serve', '--port'], /--port needs a value/, 'serve');
  await assertUsageError(['serve', '--host', '--port', '3000'], /--host needs a value/, 'serve');
  await assertUsageError(['serve', 'extra'], /unexpected argument "extra"/, 'serve');
  await assertUsageError(['connect'], /missing <url>/, 'connect');
  await assertUsageError(['connect', '127.0.0.1:1', 'extra'], /unexpected argument "extra"/, 'connect');
  await assertUsageError(['connect', '127.0.0.1:1', '--bogus'], /unknown option --bogus/, 'connect');
  await assertUsageError(['connect', '127.0.0.1:1', '--tcp=yes'], /--tcp takes no value/, 'connect');
  await assertUsageError(['connect', 'not a url::'], /bad url "not a url::"/, 'connect');
  await assertUsageError(['connect', 'ws://127.0.0.1:1', '--tcp'], /bad url/, 'connect');
  await assertUsageError(['health'], /missing <url>/, 'health');
  await assertUsageError(['health', '127.0.0.1:1', 'extra'], /unexpected argument "extra"/, 'health');
  await assertUsageError(['health', '--bogus', '127.0.0.1:1'], /unknown option --bogus/, 'health');
});

test('serve: bad ports (options and environment) and --redis urls are refused before anything starts', async () => {
  await assertUsageError(['serve', '--port', '-1'], /--port must be a port number \(0-65535\), got "-1"/, 'serve');
  await assertUsageError(['serve', '--port', '70000'], /--port must be a port number/, 'serve');
  await assertUsageError(['serve', '--port', '0', '--tcp-port', 'abc'], /--tcp-port must be a port number \(0-65535\) or "off", got "abc"/, 'serve');
  await assertUsageError(['serve'], /PORT \(from the environment\) must be a port number \(0-65535\), got "abc"/, 'serve', { PORT: 'abc' });
  const port = String(await closedPort());
  await assertUsageError(['serve', '--port', port, '--tcp-port', port], /--port and --tcp-port are both \d+/, 'serve');
  await assertUsageError(['serve', '--port', '0', '--host', ''], /--host must not be empty/, 'serve');
  await assertUsageError(['serve', '--port', '0', '--metrics=yes'], /--metrics takes no value/, 'serve');
  await assertUsageError(['serve', '--port', '0', '--metrics'], /STELAR_METRICS_TOKEN \(from the environment\) must be/, 'serve', {
    STELAR_METRICS_TOKEN: 'two words',
  });
  // The Redis client used to throw "Invalid URL" from inside itself, with its stack.
  await assertUsageError(['serve', '--port', '0', '--redis', 'notaurl'], /--redis must be a redis:\/\/ or rediss:\/\/ url .*"notaurl"/, 'serve');
  await assertUsageError(['serve', '--port', '0', '--redis', 'http://127.0.0.1:1'], /--redis must be a redis:\/\/ or rediss:\/\/ url/, 'serve');
});

test('health: bad urls are usage errors, a TCP url is pointed at the right port', async () => {
  await assertUsageError(['health', '70000'], /bad url "70000": a port must be from 1 to 65535/, 'health');
  await assertUsageError(['health', 'tcp://127.0.0.1:1'], /served on the WebSocket\/HTTP port, not over TCP/, 'health');
  await assertUsageError(['health', 'ftp://127.0.0.1:1'], /bad url "ftp:\/\/127.0.0.1:1": expected http/, 'health');
});

test('serve --redis: a Redis that cannot be reached is one line, exit 1', async () => {
  const port = await closedPort();
  const res = await run(['serve', '--port', '0', '--tcp-port', 'off', '--host', '127.0.0.1', '--redis', `redis://127.0.0.1:${port}`]);
  assert.equal(res.code, 1, res.stdout + res.stderr);
  assert.match(res.stderr, new RegExp(`^stelar: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\n$`));
  assertNoStack(res.stderr);
});
