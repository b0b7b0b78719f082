// Unit tests of the client's small modules: url parsing, backoff, queue, emitter, ack ids, options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTarget } from '../../dist/client/url.js';
import { exponentialDelay, reconnectDelay } from '../../dist/client/backoff.js';
import { BoundedQueue } from '../../dist/client/queue.js';
import { Emitter } from '../../dist/client/emitter.js';
import { AckTracker, nextAckId } from '../../dist/client/acks.js';
import { resolveOptions, copyOptions, CLIENT_DEFAULTS } from '../../dist/client/options.js';
import { MAX_ACK_ID } from '../../dist/protocol/index.js';

const INVALID_URL = 'STELAR_ERR_INVALID_URL';

test('url: a port, host:port and ws urls give one normalised target', () => {
  assert.deepEqual(resolveTarget(3000), { mode: 'ws', secure: false, host: 'localhost', port: 3000, path: '/', url: 'ws://localhost:3000' });
  assert.equal(resolveTarget('3000').url, 'ws://localhost:3000');
  assert.equal(resolveTarget('localhost:3000').url, 'ws://localhost:3000');
  assert.equal(resolveTarget('127.0.0.1:8080/chat?x=1').url, 'ws://127.0.0.1:8080/chat?x=1');
  assert.equal(resolveTarget('ws://example.com').port, 80);
  const wss = resolveTarget('wss://example.com/socket');
  assert.equal(wss.secure, true);
  assert.equal(wss.port, 443);
  assert.equal(wss.url, 'wss://example.com:443/socket');
  assert.equal(resolveTarget('wss://example.com:80').port, 80, 'an explicit :80 is kept under wss');
  assert.equal(resolveTarget('https://example.com:8443').url, 'wss://example.com:8443');
  assert.equal(resolveTarget('http://example.com:81').url, 'ws://example.com:81');
  assert.equal(resolveTarget('[::1]:3000').host, '::1');
  assert.equal(resolveTarget('[::1]:3000').url, 'ws://[::1]:3000');
  assert.equal(resolveTarget('localhost:3000', 'ws', true).url, 'wss://localhost:3000', 'tls: true makes it wss');
});

test('url: tcp mode takes host:port, tcp:// and tcps://', () => {
  assert.deepEqual(resolveTarget('localhost:3001', 'tcp'), {
    mode: 'tcp',
    secure: false,
    host: 'localhost',
    port: 3001,
    path: '/',
    url: 'tcp://localhost:3001',
  });
  assert.equal(resolveTarget(3001, 'tcp').url, 'tcp://localhost:3001');
  assert.equal(resolveTarget('tcp://10.0.0.1:9', 'tcp').host, '10.0.0.1');
  assert.equal(resolveTarget('tcps://h:9', 'tcp').secure, true);
  assert.equal(resolveTarget('h:9', 'tcp', true).url, 'tcps://h:9');
});

test('url: bad input throws INVALID_URL with the input in the message', () => {
  for (const [input, mode] of [
    ['', 'ws'],
    ['   ', 'ws'],
    [0, 'ws'],
    [70000, 'ws'],
    [3.5, 'ws'],
    ['localhost:99999', 'ws'],
    ['ftp://x:1', 'ws'],
    ['ws://x:1', 'tcp'],
    ['localhost', 'tcp'],
    ['h:1/path', 'tcp'],
    ['ws://:3000', 'ws'],
    ['/socket', 'ws'], // no page location in Node
    ['host name:80', 'ws'],
  ]) {
    assert.throws(
      () => resolveTarget(input, mode),
      (err) => err.code === INVALID_URL && err.message.includes('invalid server url'),
      `${input} (${mode})`,
    );
  }
  assert.throws(
    () => resolveTarget({}, 'ws'),
    (err) => err.code === INVALID_URL,
  );
  assert.throws(() => resolveTarget(3000, 'udp'), TypeError);
});

test('backoff: exponential, capped, jittered within bounds', () => {
  const lo = () => 0;
  const hi = () => 0.999999;
  // 'backoff' advice: between half and all of base * 2^(attempt-1)
  assert.equal(exponentialDelay(1, 1000, 30000, 'backoff', lo), 500);
  assert.equal(exponentialDelay(1, 1000, 30000, 'backoff', hi), 1000);
  assert.equal(exponentialDelay(3, 1000, 30000, 'backoff', lo), 2000);
  assert.equal(exponentialDelay(3, 1000, 30000, 'backoff', hi), 4000);
  assert.equal(exponentialDelay(20, 1000, 30000, 'backoff', hi), 30000, 'capped');
  assert.equal(exponentialDelay(5000, 1000, 30000, 'backoff', hi), 30000, 'huge attempts do not overflow');
  // 'reconnect' advice: full jitter, may be immediate
  assert.equal(exponentialDelay(1, 1000, 30000, 'reconnect', lo), 0);
  assert.equal(exponentialDelay(2, 1000, 30000, 'reconnect', hi), 2000);
  for (let i = 1; i < 40; i++) {
    const d = exponentialDelay(i, 100, 5000);
    assert.ok(d >= 0 && d <= 5000, `attempt ${i}: ${d}`);
  }
});

test('backoff: customReconnectDelay replaces the default, the hook sees it and may replace it', () => {
  const seen = [];
  const delay = reconnectDelay({
    attempt: 2,
    baseDelay: 1000,
    maxDelay: 30000,
    advice: 'backoff',
    custom: (attempt, base, max) => (seen.push(['custom', attempt, base, max]), 1234),
    hook: (info) => (seen.push(['hook', info]), undefined),
  });
  assert.equal(delay, 1234);
  assert.deepEqual(seen, [
    ['custom', 2, 1000, 30000],
    ['hook', { attempt: 2, defaultDelay: 1234 }],
  ]);
  assert.equal(reconnectDelay({ attempt: 1, baseDelay: 1000, maxDelay: 30000, advice: 'backoff', hook: () => 7 }), 7);
  // Bad return values and throws are ignored and reported.
  const faults = [];
  const d = reconnectDelay(
    {
      attempt: 1,
      baseDelay: 1000,
      maxDelay: 1000,
      advice: 'backoff',
      random: () => 0,
      custom: () => -5,
      hook: () => {
        throw new Error('boom');
      },
    },
    (_err, where) => faults.push(where),
  );
  assert.equal(d, 500);
  assert.deepEqual(faults, ['customReconnectDelay', 'onReconnectDelay']);
});

test('queue: bounded, oldest dropped first, resize, remove, drain in order', () => {
  const q = new BoundedQueue(3);
  assert.deepEqual(q.push('a'), []);
  q.push('b');
  q.push('c');
  assert.deepEqual(q.push('d'), ['a']);
  assert.equal(q.size, 3);
  assert.equal(q.remove('c'), true);
  assert.equal(q.remove('zz'), false);
  assert.deepEqual(q.resize(1), ['b']);
  assert.deepEqual(q.drain(), ['d']);
  assert.equal(q.size, 0);
  const zero = new BoundedQueue(0);
  assert.deepEqual(zero.push('x'), ['x']);
  assert.equal(zero.size, 0);
});

test('emitter: on/once/off, snapshot iteration, errors reported and the rest still run', () => {
  const errors = [];
  const e = new Emitter((err, event) => errors.push([err.message, event]));
  const calls = [];
  const a = (x) => calls.push(['a', x]);
  e.on('x', a);
  e.once('x', (x) => calls.push(['once', x]));
  e.on('x', () => {
    throw new Error('bad');
  });
  e.on('x', (x) => calls.push(['last', x]));
  assert.equal(e.emit('x', 1), true);
  e.emit('x', 2);
  e.off('x', a);
  e.emit('x', 3);
  assert.deepEqual(calls, [
    ['a', 1],
    ['once', 1],
    ['last', 1],
    ['a', 2],
    ['last', 2],
    ['last', 3],
  ]);
  assert.equal(errors.length, 3);
  assert.deepEqual(errors[0], ['bad', 'x']);
  assert.equal(e.emit('nobody'), false);
  e.removeAllListeners('x');
  assert.equal(e.listenerCount('x'), 0);
  assert.throws(() => e.on('x', 'not a function'), TypeError);
});

test('emitter: a rejected promise from an async listener is reported', async () => {
  const errors = [];
  const e = new Emitter((err) => errors.push(err.message));
  e.on('x', async () => {
    throw new Error('async bad');
  });
  e.emit('x');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(errors, ['async bad']);
});

test('ack ids: start at 1, wrap from 2^32-1 back to 1, never 0, skip ids in use', () => {
  assert.equal(nextAckId(0), 1);
  assert.equal(nextAckId(1), 2);
  assert.equal(nextAckId(MAX_ACK_ID), 1);
  const t = new AckTracker(MAX_ACK_ID - 1);
  const rejected = [];
  const entry = (id) => ({ id, event: 'e', ackName: 'e', resolve() {}, reject: (err) => rejected.push(err.message), timer: undefined, queued: undefined });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const id = t.allocate();
    ids.push(id);
    t.add(entry(id));
  }
  assert.deepEqual(ids, [MAX_ACK_ID - 1, MAX_ACK_ID, 1]);
  // Wrap again while 1 is still waiting: it is skipped.
  const t2 = new AckTracker(MAX_ACK_ID);
  t2.add(entry(1));
  assert.equal(t2.allocate(), MAX_ACK_ID);
  assert.equal(t2.allocate(), 2);
  assert.equal(
    t.rejectWhere(
      (e) => e.id !== 1,
      (e) => ({ message: `x${e.id}` }),
    ),
    2,
  );
  assert.deepEqual(rejected.sort(), [`x${MAX_ACK_ID - 1}`, `x${MAX_ACK_ID}`].sort());
  assert.equal(t.size, 1);
  assert.ok(t.take(1));
  assert.equal(t.take(1), undefined);
});

test('options: defaults, validation, merge of hooks, copies', () => {
  const o = resolveOptions({});
  assert.equal(o.reconnection, true);
  assert.equal(o.reconnectionAttempts, 10);
  assert.equal(o.reconnectionDelay, 1000);
  assert.equal(o.maxReconnectionDelay, 30000);
  assert.equal(o.heartbeatInterval, 30000);
  assert.equal(o.mode, 'ws');
  assert.equal(o.maxPayloadSize, 10 * 1024 * 1024);
  assert.equal(o.maxFrameSize, 10 * 1024 * 1024);
  assert.equal(o.ackTimeout, 5000);
  assert.equal(o.messageQueueSize, 100);
  assert.equal(o.tls, false);
  assert.equal(o.rejectUnauthorized, true);
  assert.deepEqual(o.headers, {});
  assert.equal(o.logger, 'warn');
  assert.equal(resolveOptions({ reconnectionAttempts: Infinity }).reconnectionAttempts, Infinity);
  assert.throws(() => resolveOptions({ ackTimeout: -1 }), RangeError);
  assert.throws(() => resolveOptions({ ackTimeout: 'soon' }), TypeError);
  assert.throws(() => resolveOptions({ mode: 'udp' }), TypeError);
  assert.throws(() => resolveOptions({ reconnection: 'yes' }), TypeError);
  assert.throws(() => resolveOptions({ hooks: { onNope() {} } }), /unknown client hook/);
  assert.throws(() => resolveOptions({ hooks: { onError: 5 } }), TypeError);
  assert.throws(() => resolveOptions({ customReconnectDelay: 5 }), TypeError);
  const a = () => {};
  const b = () => {};
  const base = resolveOptions({ hooks: { onError: a }, heartbeatInterval: 100 });
  const merged = resolveOptions({ hooks: { onMessage: b }, ackTimeout: 10 }, base);
  assert.equal(merged.hooks.onError, a, 'existing hooks stay');
  assert.equal(merged.hooks.onMessage, b);
  assert.equal(merged.heartbeatInterval, 100);
  assert.equal(merged.ackTimeout, 10);
  assert.equal(resolveOptions({ hooks: { onError: undefined } }, merged).hooks.onError, undefined, 'undefined removes a hook');
  const copy = copyOptions(merged);
  copy.hooks.onError = null;
  copy.headers.x = 'y';
  assert.equal(merged.hooks.onError, a);
  assert.deepEqual(merged.headers, {});
  assert.ok(Object.isFrozen(CLIENT_DEFAULTS));
});
