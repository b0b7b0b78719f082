// Issue 15 (part B): the server's node:diagnostics_channel channels. Known traffic over both
// transports (StelarClient for the application flow, raw clients where a test needs a peer
// that misbehaves) must produce each channel's messages with the documented fields and
// counts; ack:start and ack:end share one object; an unobserved server builds no message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { DiagnosticsChannel, StelarClient } from '../../dist/index.js';
import { ServerDiagnostics } from '../../dist/server/diagnostics.js';
import { closeAll, connect, delay, encodePacket, HOST, PacketType, startServer, until } from './helpers.mjs';

const NAMES = Object.values(DiagnosticsChannel);
const SHORT = {
  [DiagnosticsChannel.CONNECTION_OPEN]: 'open',
  [DiagnosticsChannel.CONNECTION_CLOSE]: 'close',
  [DiagnosticsChannel.MESSAGE_IN]: 'in',
  [DiagnosticsChannel.MESSAGE_OUT]: 'out',
  [DiagnosticsChannel.BROADCAST]: 'broadcast',
  [DiagnosticsChannel.ACK_START]: 'ackStart',
  [DiagnosticsChannel.ACK_END]: 'ackEnd',
  [DiagnosticsChannel.RATE_LIMIT]: 'rateLimit',
  [DiagnosticsChannel.SLOW_CONSUMER]: 'slowConsumer',
};

/** Subscribes to every channel; keeps what `server` published, per channel and in one ordered log. */
function record(server) {
  const seen = Object.fromEntries(Object.values(SHORT).map((k) => [k, []]));
  const log = [];
  const subscribers = NAMES.map((name) => {
    const fn = (message, channelName) => {
      if (message.server !== server) return; // another test's server, still closing
      assert.equal(channelName, name);
      seen[SHORT[name]].push(message);
      log.push([SHORT[name], message]);
    };
    dc.subscribe(name, fn);
    return [name, fn];
  });
  return {
    seen,
    log,
    indexOf: (kind, pred) => log.findIndex(([k, m]) => k === kind && pred(m)),
    stop: () => {
      for (const [name, fn] of subscribers) dc.unsubscribe(name, fn);
    },
  };
}

const nobodyListens = () => NAMES.every((name) => !dc.channel(name).hasSubscribers);
const size = (packet) => encodePacket(packet).length;
const nextOn = (client, event) => new Promise((resolve) => client.once(event, resolve));

/** Only strings, numbers, booleans and plain objects of them (and the server itself): nothing of the server's insides. */
function assertPlain(message, server) {
  assert.equal(Object.getPrototypeOf(message), Object.prototype);
  for (const [key, value] of Object.entries(message)) {
    if (key === 'server') assert.equal(value, server);
    else if (key === 'error') assert.deepEqual(Object.keys(value).sort(), ['code', 'message']);
    else assert.ok(['string', 'number', 'boolean'].includes(typeof value), `${key} is a ${typeof value}`);
  }
}

for (const mode of ['ws', 'tcp']) {
  test(`${mode}: a StelarClient's session publishes open, in, out, broadcast, ack start/end and close with their fields`, async () => {
    assert.ok(nobodyListens(), 'no subscriber left by an earlier test');
    const server = await startServer();
    server.on('chat', (ctx) => ctx.emit('echo', ctx.data));
    server.onAck('sum', (ctx) => ctx.data.a + ctx.data.b);
    server.onAck('fail', () => {
      throw Object.assign(new Error('nope'), { code: 'E_NOPE' });
    });
    const rec = record(server);
    const { seen } = rec;
    try {
      const client = new StelarClient(`${HOST}:${mode === 'tcp' ? server.getTcpPort() : server.getPort()}`, { mode, logger: 'silent', reconnection: false });
      await new Promise((resolve) => client.connect(resolve));
      const id = client.getId();
      const joined = nextOn(client, 'room_joined');
      client.joinRoom('r');
      await joined;
      const echo = nextOn(client, 'echo');
      client.emit('chat', { text: 'hi' });
      assert.deepEqual(await echo, { text: 'hi' });
      assert.equal(await client.request('sum', { a: 1, b: 2 }), 3);
      await assert.rejects(client.request('fail', {}), /nope/);
      const news = nextOn(client, 'news');
      assert.equal(server.to('r', 'news', { n: 1 }), 1);
      await news;
      const stats = server.getStats();
      client.disconnect();
      await until(() => seen.close.length === 1, 'connection:close');

      const base = { server, clientId: id, protocol: mode };
      assert.deepEqual(seen.open, [{ ...base, remoteAddress: '127.0.0.1', recovered: false }]);

      const sumId = seen.in.find((m) => m.event === 'sum').ackId;
      const failId = seen.in.find((m) => m.event === 'fail').ackId;
      assert.ok(Number.isInteger(sumId) && sumId > 0 && failId !== sumId);
      assert.deepEqual(
        seen.in.map(({ server: _s, size: _n, ...m }) => m),
        [
          { clientId: id, protocol: mode, type: 'join-room', event: 'r' },
          { clientId: id, protocol: mode, type: 'json', event: 'chat' },
          { clientId: id, protocol: mode, type: 'ack-request', event: 'sum', ackId: sumId },
          { clientId: id, protocol: mode, type: 'ack-request', event: 'fail', ackId: failId },
        ],
      );
      assert.equal(seen.in[1].size, size({ type: PacketType.JSON, event: 'chat', data: { text: 'hi' } }));
      assert.ok(seen.in.every((m) => m.size > 0 && m.server === server));
      // Everything received was handled: the server's own count agrees.
      assert.equal(seen.in.length, stats.totalMessagesReceived);

      assert.deepEqual(
        seen.out.map((m) => [m.type, m.event, m.ackId]),
        [
          ['connect', '', undefined],
          ['join-room', 'r', undefined],
          ['json', 'echo', undefined],
          ['ack-response', 'sum', sumId],
          ['ack-response', 'fail', failId],
        ],
      );
      assert.ok(seen.out.every((m) => m.clientId === id && m.protocol === mode));
      assert.equal(seen.out[2].size, size({ type: PacketType.JSON, event: 'echo', data: { text: 'hi' } }));
      assert.equal(seen.out[3].size, size({ type: PacketType.ACK_RESPONSE, event: 'sum', ackId: sumId, ok: true, data: 3 }));

      assert.deepEqual(seen.broadcast, [
        { server, type: 'json', event: 'news', size: size({ type: PacketType.JSON, event: 'news', data: { n: 1 } }), room: 'r', recipients: 1 },
      ]);
      // One message per direct send plus one per broadcast recipient: the server's sent count.
      const recipients = seen.broadcast.reduce((n, m) => n + m.recipients, 0);
      assert.equal(seen.out.length + recipients, stats.totalMessagesSent);

      // ack:start and ack:end: the very same object, completed with the outcome.
      assert.equal(seen.ackStart.length, 2);
      assert.equal(seen.ackEnd.length, 2);
      assert.equal(seen.ackStart[0], seen.ackEnd[0]);
      assert.equal(seen.ackStart[1], seen.ackEnd[1]);
      const [sum, fail] = seen.ackEnd;
      const { duration: d1, ...sumRest } = sum;
      assert.deepEqual(sumRest, { ...base, event: 'sum', ackName: 'sum', ackId: sumId, ok: true, sent: true });
      assert.ok(d1 >= 0 && d1 < 5000, `duration ${d1}`);
      const { duration: d2, ...failRest } = fail;
      assert.deepEqual(failRest, { ...base, event: 'fail', ackName: 'fail', ackId: failId, ok: false, sent: true, error: { code: 'E_NOPE', message: 'nope' } });
      assert.ok(d2 >= 0);
      // Order: the request arrives, its handler starts, the answer goes out, then the end.
      const at = (kind, ackId) => rec.indexOf(kind, (m) => m.ackId === ackId);
      assert.ok(at('in', sumId) < at('ackStart', sumId));
      assert.ok(at('ackStart', sumId) < at('out', sumId));
      assert.ok(at('out', sumId) < at('ackEnd', sumId));

      const [close] = seen.close;
      assert.deepEqual({ ...close, duration: 0 }, { ...base, remoteAddress: '127.0.0.1', code: 1000, reason: close.reason, duration: 0 });
      assert.ok(close.duration >= 0 && close.duration < 10_000);
      assert.ok(rec.indexOf('open', () => true) < rec.indexOf('in', () => true));
      assert.equal(rec.log.at(-1)[0], 'close');

      for (const [, message] of rec.log) assertPlain(message, server);
      assert.equal(seen.rateLimit.length + seen.slowConsumer.length, 0);
    } finally {
      rec.stop();
      await server.stop();
    }
    assert.ok(nobodyListens());
  });
}

test('a toId through the adapter is a broadcast message with toId; a local toId is a message:out', async () => {
  const server = await startServer({ recovery: { maxDisconnectionDuration: 10_000 } });
  const rec = record(server);
  try {
    const a = await connect(server, 'ws');
    // Recovery records every toId, so it takes the adapter's path even for a local client.
    assert.equal(server.toId(a.id, 'direct', { x: 1 }), true);
    await a.event('direct');
    assert.equal(server.toId('nobody', 'direct', 1), false);
    assert.deepEqual(
      rec.seen.broadcast.map(({ server: _s, size: _n, ...m }) => m),
      [
        { type: 'json', event: 'direct', toId: a.id, recipients: 1 },
        { type: 'json', event: 'direct', toId: 'nobody', recipients: 0 },
      ],
    );
    await closeAll(a);
  } finally {
    rec.stop();
    await server.stop();
  }
  const plain = await startServer();
  const rec2 = record(plain);
  try {
    const b = await connect(plain, 'tcp');
    plain.toId(b.id, 'direct', { x: 2 });
    await b.event('direct');
    assert.equal(rec2.seen.broadcast.length, 0);
    assert.deepEqual(rec2.seen.out.at(-1).event, 'direct');
    await closeAll(b);
  } finally {
    rec2.stop();
    await plain.stop();
  }
});

test('ack:start is published with runStores: a store bound to it is current in the handler, across awaits', async () => {
  const server = await startServer();
  const store = new AsyncLocalStorage();
  const start = dc.channel(DiagnosticsChannel.ACK_START);
  start.bindStore(store, (message) => ({ span: `${message.ackName}#${message.ackId}` }));
  const outside = [];
  server.on('plain', () => outside.push(store.getStore()));
  server.onAck('later', async () => {
    await delay(5);
    return store.getStore();
  });
  try {
    assert.equal(start.hasSubscribers, true, 'a bound store makes the channel active');
    const c = await connect(server, 'tcp');
    const answer = await c.request('later', null);
    assert.equal(answer.ok, true);
    assert.deepEqual(answer.data, { span: `later#${answer.ackId}` });
    c.emit('plain', 1);
    await until(() => outside.length === 1, 'plain handler');
    assert.deepEqual(outside, [undefined], 'only ACK handlers run in the store');
    await closeAll(c);
  } finally {
    start.unbindStore(store);
    await server.stop();
  }
  assert.equal(start.hasSubscribers, false);
});

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: rate-limit fires for messages refused by a limit (scope, disconnect) and for pings past pingLimit`, async () => {
    const server = await startServer({
      rateLimit: { maxPoints: 3, windowMs: 60_000 },
      pingLimit: { maxPoints: 2, windowMs: 60_000 },
      hooks: { onRateLimitExceeded: () => false },
    });
    const rec = record(server);
    try {
      const c = await connect(server, protocol);
      for (let i = 0; i < 5; i++) c.emit('spam', i);
      for (let i = 0; i < 2; i++) await c.next(PacketType.ERROR);
      const refused = { server, clientId: c.id, protocol, remoteAddress: '127.0.0.1', event: 'spam', scope: 'global', disconnect: false };
      assert.deepEqual(rec.seen.rateLimit, [refused, refused]);
      assert.equal(rec.seen.in.length, 3, 'the three allowed messages');

      const p = await connect(server, protocol);
      for (let i = 0; i < 3; i++) p.ping();
      assert.equal((await p.closed).code, 4008);
      assert.deepEqual(rec.seen.rateLimit.at(-1), { server, clientId: p.id, protocol, remoteAddress: '127.0.0.1', event: '', scope: 'ping', disconnect: true });
      assert.equal(rec.seen.rateLimit.length, 3);
      await closeAll(c, p);
    } finally {
      rec.stop();
      await server.stop();
    }
  });

  test(`${protocol}: slow-consumer fires when a client that stops reading passes maxBufferedBytes`, async () => {
    const max = 256 * 1024;
    const server = await startServer({ maxBufferedBytes: max });
    const rec = record(server);
    try {
      const c = await connect(server, protocol);
      const socket = protocol === 'tcp' ? c.socket : c.ws._socket;
      socket.pause();
      const chunk = Buffer.alloc(512 * 1024, 7);
      for (let i = 0; i < 200 && rec.seen.slowConsumer.length === 0; i++) {
        server.broadcastBinary('flood', chunk);
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(rec.seen.slowConsumer.length, 1);
      const [slow] = rec.seen.slowConsumer;
      assert.deepEqual({ ...slow, bufferedBytes: 0 }, { server, clientId: c.id, protocol, bufferedBytes: 0, max });
      assert.ok(slow.bufferedBytes > max);
      // The broadcasts before it reached the client; the one that found it behind did not.
      assert.equal(rec.seen.broadcast.at(-1).recipients, 0);
      assert.equal(rec.seen.broadcast.at(-1).type, 'binary');
      socket.resume();
      assert.equal((await c.closed).code, 4006);
      await until(() => rec.seen.close.length === 1, 'connection:close');
      assert.equal(rec.seen.close[0].code, 4006);
    } finally {
      rec.stop();
      await server.stop();
    }
  });
}

test('nobody subscribed: no message is built; one subscriber: only its channel is; unsubscribed: every channel is idle again', async () => {
  // Every ServerDiagnostics method counts its calls: a call site that forgot its hasSubscribers guard shows up here.
  const calls = {};
  const originals = {};
  const methods = Object.getOwnPropertyNames(ServerDiagnostics.prototype).filter((n) => n !== 'constructor');
  for (const name of methods) {
    originals[name] = ServerDiagnostics.prototype[name];
    calls[name] = 0;
    ServerDiagnostics.prototype[name] = function (...args) {
      calls[name]++;
      return originals[name].apply(this, args);
    };
  }
  // A fresh server per round: a rate-limited client's bucket is carried to the next client from its address.
  const traffic = async () => {
    const server = await startServer({ rateLimit: { maxPoints: 5, windowMs: 60_000 }, pingLimit: { maxPoints: 2, windowMs: 60_000 } });
    server.onAck('sum', (ctx) => ctx.data.a + ctx.data.b);
    server.on('chat', (ctx) => ctx.emit('echo', 1));
    try {
      const ws = await connect(server, 'ws');
      const tcp = await connect(server, 'tcp');
      for (const c of [ws, tcp]) {
        await c.join('r');
        c.emit('chat', 1);
        assert.equal((await c.request('sum', { a: 2, b: 3 })).data, 5);
      }
      server.to('r', 'news', 1);
      server.toId(ws.id, 'direct', 1);
      await ws.event('direct');
      for (let i = 0; i < 10; i++) tcp.emit('spam', i);
      await tcp.closed; // rate-limited past 5 messages
      const pinger = await connect(server, 'ws');
      for (let i = 0; i < 3; i++) pinger.ping();
      await pinger.closed; // past pingLimit
      await ws.close();
      await until(() => server.getStats().activeConnections === 0, 'every client gone');
    } finally {
      await server.stop();
    }
  };
  const used = () => Object.entries(calls).filter(([, n]) => n > 0);
  try {
    assert.ok(nobodyListens());
    await traffic();
    assert.deepEqual(used(), [], 'no message built');
    const seen = [];
    const fn = (m) => seen.push(m);
    dc.subscribe(DiagnosticsChannel.MESSAGE_IN, fn);
    assert.equal(dc.channel(DiagnosticsChannel.MESSAGE_IN).hasSubscribers, true);
    await traffic();
    assert.deepEqual(used(), [['messageIn', seen.length]]);
    assert.ok(seen.length >= 8, `${seen.length} messages`);
    dc.unsubscribe(DiagnosticsChannel.MESSAGE_IN, fn);
    assert.ok(nobodyListens());
    calls.messageIn = 0;
    await traffic();
    assert.deepEqual(used(), []);
  } finally {
    for (const name of methods) ServerDiagnostics.prototype[name] = originals[name];
  }
});

test('a subscriber that throws does not stop the server: the error reaches uncaughtException on a later tick', () => {
  // In a child process: the test runner treats an uncaught exception as a failure of its own.
  const dist = new URL('../../dist/index.js', import.meta.url).href;
  const script = `
    import dc from 'node:diagnostics_channel';
    import { DiagnosticsChannel, StelarClient, StelarServer } from ${JSON.stringify(dist)};
    let uncaught = 0;
    process.on('uncaughtException', (err) => {
      if (err.message !== 'subscriber boom') throw err;
      uncaught++;
    });
    for (const name of Object.values(DiagnosticsChannel)) dc.subscribe(name, () => { throw new Error('subscriber boom'); });
    const server = new StelarServer({ port: 0, host: '127.0.0.1', tcpPort: 0, logger: false, gracefulShutdown: false });
    server.onAck('sum', (ctx) => ctx.data.a + ctx.data.b);
    server.on('chat', (ctx) => ctx.emit('echo', ctx.data));
    await server.start();
    const answers = [];
    for (const mode of ['ws', 'tcp']) {
      const client = new StelarClient('127.0.0.1:' + (mode === 'tcp' ? server.getTcpPort() : server.getPort()), { mode, logger: 'silent', reconnection: false });
      await new Promise((resolve) => client.connect(resolve));
      const echo = new Promise((resolve) => client.once('echo', resolve));
      client.emit('chat', mode);
      answers.push(await echo, await client.request('sum', { a: 1, b: 2 }));
      server.broadcast('news', 1);
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 100));
    const { activeConnections } = server.getStats();
    await server.stop();
    console.log(JSON.stringify({ answers, uncaught, activeConnections }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
  assert.deepEqual(out.answers, ['ws', 3, 'tcp', 3]);
  assert.equal(out.activeConnections, 0);
  // open, in, out, ack start/end, broadcast, close... several per client, each one reported.
  assert.ok(out.uncaught >= 2 * 9, `${out.uncaught} errors reported`);
});
