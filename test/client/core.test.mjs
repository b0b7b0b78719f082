// The client core against a scripted in-memory server: the session protocol, acks, rooms,
// the offline queue, hooks, heartbeat and the reconnection policy, without sockets.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { StelarClientCore } from '../../dist/client/stelar-client.js';
import { PacketType, decodePacket, encodePacket, MAX_ACK_ID } from '../../dist/protocol/index.js';
import { fakePlatform, next, tick, until } from './helpers/fake-platform.mjs';

const quiet = { logger: 'silent' };
// The client's own timers are unref'd (a real socket keeps the process up); the fake
// transports hold nothing, so this keeps the loop alive while a test awaits a timeout.
const keepAlive = setInterval(() => {}, 1000);
after(() => clearInterval(keepAlive));

function make(url, options = {}, platformOptions = {}) {
  const platform = fakePlatform(platformOptions);
  const client = new StelarClientCore(url, { ...quiet, ...options }, platform);
  return { client, platform };
}

test('handshake: Connect {v:1, auth, refresh: true} first, connected only after the server Connect with the id', async () => {
  const states = [];
  const { client, platform } = make(3000, { auth: { token: 't1' }, hooks: { onStateChange: (s) => states.push(`${s.from}>${s.to}`) } }, { autoOpen: false });
  assert.equal(client.getState(), 'disconnected');
  assert.equal(client.getId(), null);
  client.connect();
  assert.equal(client.getState(), 'connecting');
  const t = platform.last;
  assert.equal(t.options.target.url, 'ws://localhost:3000');
  const connected = next(client, 'connect');
  t.open();
  // `refresh: true`: a client with credentials can send fresh ones when the server asks.
  assert.deepEqual(t.sent[0], { type: PacketType.CONNECT, event: '', data: { v: 1, auth: { token: 't1' }, refresh: true } });
  await connected;
  assert.equal(client.isConnected(), true);
  assert.equal(client.getId(), 'client-1');
  assert.ok(client.getConnectTime() <= Date.now() && client.getConnectTime() > Date.now() - 5000);
  assert.deepEqual(states, ['disconnected>connecting', 'connecting>connected']);
  client.disconnect();
  assert.deepEqual(t.closedWith, { code: 1000, reason: 'client disconnect' });
  assert.equal(client.getState(), 'disconnected');
  assert.equal(client.getId(), null);
});

test('auth as a function is called on every connection; without auth Connect carries only v (and no refresh offer)', async () => {
  let calls = 0;
  const { client, platform } = make(3000, { auth: async () => ({ n: ++calls }), reconnectionDelay: 1, hooks: { onReconnectDelay: () => 0 } });
  client.connect();
  await next(client, 'connect');
  assert.deepEqual(platform.last.sent[0].data, { v: 1, auth: { n: 1 }, refresh: true });
  platform.last.drop(1006);
  await next(client, 'connect');
  assert.deepEqual(platform.last.sent[0].data, { v: 1, auth: { n: 2 }, refresh: true });
  client.disconnect();
  const plain = make(3000);
  plain.client.connect();
  await next(plain.client, 'connect');
  assert.deepEqual(plain.platform.last.sent[0].data, { v: 1 });
  plain.client.disconnect();
});

test('connect(cb) runs the callback once connected; connect() twice opens one transport', async () => {
  const { client, platform } = make(3000);
  let called = 0;
  client.connect(() => called++);
  client.connect();
  await next(client, 'connect');
  await tick();
  assert.equal(called, 1);
  assert.equal(platform.transports.length, 1);
  await new Promise((resolve) => client.connect(resolve)); // already connected: still called
  client.disconnect();
});

test('events: on/once/off/onAll, binary as Buffer, onMessage hook, reserved names only via onAll', async () => {
  const seen = [];
  const { client, platform } = make(3000, { hooks: { onMessage: (m) => seen.push(['hook', m.event, m.isBinary]) } });
  client.connect();
  await next(client, 'connect');
  const t = platform.last;
  const chat = [];
  const handler = (d) => chat.push(d);
  client.on('chat', handler);
  client.once('chat', (d) => chat.push(['once', d]));
  const all = [];
  client.onAll((event, data) => all.push([event, data]));
  let spoofed = 0;
  client.on('connect', () => spoofed++);
  t.deliver({ type: PacketType.JSON, event: 'chat', data: { n: 1 } });
  t.deliver({ type: PacketType.JSON, event: 'chat', data: { n: 2 } });
  client.off('chat', handler);
  t.deliver({ type: PacketType.JSON, event: 'chat', data: { n: 3 } });
  const bin = next(client, 'file');
  t.deliver({ type: PacketType.BINARY, event: 'file', data: new Uint8Array([1, 2, 3]) });
  const [buf] = await bin;
  assert.ok(Buffer.isBuffer(buf));
  assert.deepEqual([...buf], [1, 2, 3]);
  t.deliver({ type: PacketType.JSON, event: 'connect', data: 'fake' });
  assert.equal(spoofed, 0, 'a server event named connect does not fire the client connect listeners');
  assert.deepEqual(chat, [{ n: 1 }, ['once', { n: 1 }], { n: 2 }]);
  assert.deepEqual(
    all.map((a) => a[0]),
    ['chat', 'chat', 'chat', 'file', 'connect'],
  );
  assert.equal(seen.length, 5);
  assert.deepEqual(seen[3], ['hook', 'file', true]);
  assert.equal(client.getMessagesReceived(), 5);
  client.removeAllListeners();
  t.deliver({ type: PacketType.JSON, event: 'chat', data: 4 });
  assert.equal(all.length, 5, 'removeAllListeners() also clears onAll');
  client.disconnect();
});

test('a throwing listener is reported as an error (context handler) and others still run', async () => {
  const reports = [];
  const { client, platform } = make(3000, { hooks: { onError: (r) => reports.push(r.context) } });
  client.connect();
  await next(client, 'connect');
  const errors = [];
  client.on('error', (e) => errors.push(e.message));
  let after = 0;
  client.on('x', () => {
    throw new Error('listener broke');
  });
  client.on('x', () => after++);
  platform.last.deliver({ type: PacketType.JSON, event: 'x' });
  assert.equal(after, 1);
  assert.deepEqual(errors, ['listener broke']);
  assert.deepEqual(reports, ['handler']);
  assert.equal(client.getLastError().message, 'listener broke');
  client.disconnect();
});

test('emit / emitBinary / sendFile send packets; onBeforeEmit false cancels; counts messages sent', async () => {
  const { client, platform } = make(3000, { hooks: { onBeforeEmit: ({ event }) => (event === 'debug' ? false : undefined) } });
  client.connect();
  await next(client, 'connect');
  const t = platform.last;
  assert.equal(client.emit('chat', { text: 'hi' }), true);
  assert.equal(client.emit('debug', { x: 1 }), false);
  assert.equal(client.emitBinary('bin', Buffer.from('abc')), true);
  assert.equal(await client.sendFile(new Uint8Array([9])), true);
  assert.equal(await client.sendImage('/tmp/pic.png'), true);
  assert.equal(await client.sendFile(new ArrayBuffer(2), 'upload'), true);
  assert.deepEqual(t.events(), ['chat', 'bin', 'file', 'image', 'upload']);
  const image = t.sent.find((p) => p.event === 'image');
  assert.equal(Buffer.from(image.data).toString(), 'contents of /tmp/pic.png');
  assert.equal(client.getMessagesSent(), 5);
  assert.throws(() => client.emit('', 1), TypeError);
  assert.throws(() => client.emitBinary('x', 'not bytes'), TypeError);
  client.disconnect();
});

test('request: resolves with the answer, server error keeps its message, timeout rejects ACK_TIMEOUT', async () => {
  const reports = [];
  const { client, platform } = make(
    3000,
    {
      ackTimeout: 100,
      hooks: { onError: (r) => reports.push(r.context) },
    },
    {
      server: {
        acks: {
          getUser: (d) => ({ id: d.id, name: 'John' }),
          validateToken: () => {
            throw new Error('Invalid token');
          },
        },
      },
    },
  );
  client.connect();
  await next(client, 'connect');
  assert.deepEqual(await client.request('getUser', { id: 1 }, 'getUser'), { id: 1, name: 'John' });
  await assert.rejects(
    client.request('validateToken', { token: 'abc' }, 'validateToken'),
    (err) => err.message === 'Invalid token' && err.code === 'STELAR_ERR_ACK_FAILED',
  );
  await assert.rejects(client.request('nobody', {}, 'nobody'), (err) => err.code === 'STELAR_ERR_ACK_TIMEOUT');
  await assert.rejects(client.request('x', {}, 'nobody', { timeout: 20 }), (err) => err.code === 'STELAR_ERR_ACK_TIMEOUT');
  assert.ok(reports.includes('ack'));
  // Different event and ack name travel separately.
  const req = platform.last.sent.find((p) => p.type === PacketType.ACK_REQUEST && p.event === 'x');
  assert.equal(req.ackName, 'nobody');
  assert.ok(req.ackId > 0);
  client.disconnect();
});

test('emit with opts.ack: callback (err, data), or an ack name answered through onAck; unsolicited id 0 reaches onAck', async () => {
  const { client, platform } = make(3000, {}, { server: { acks: { sum: (d) => d.a + d.b } } });
  client.connect();
  await next(client, 'connect');
  const viaCallback = await new Promise((resolve) => client.emit('sum', { a: 1, b: 2 }, { ack: (err, data) => resolve([err, data]) }));
  assert.deepEqual(viaCallback, [null, 3]);
  const viaName = new Promise((resolve) => client.onAck('sum', (data, info) => resolve([data, info.ok, info.ackId > 0])));
  client.emit('calc', { a: 2, b: 5 }, { ack: 'sum' });
  assert.deepEqual(await viaName, [7, true, true]);
  client.offAck('sum');
  const pushed = new Promise((resolve) => client.onAck('error', (data, info) => resolve([data, info])));
  platform.last.deliver({ type: PacketType.ACK_RESPONSE, event: 'error', ackId: 0, ok: true, data: { message: 'Token required' } });
  assert.deepEqual(await pushed, [{ message: 'Token required' }, { ok: true, ackId: 0, name: 'error' }]);
  client.disconnect();
});

test('offline queue: flushed in order after the rooms are re-joined and echoed; hooks report size and drain', async () => {
  const queued = [];
  const drained = [];
  const { client, platform } = make(
    3000,
    {
      messageQueueSize: 3,
      hooks: { onMessageQueued: (i) => queued.push(i), onQueueDrained: (i) => drained.push(i.count), onError: (r) => queued.push(r.context) },
    },
    { autoOpen: false },
  );
  client.joinRoom('general');
  client.emit('m', 1);
  client.emit('m', 2);
  client.emit('m', 3);
  assert.equal(client.getQueueSize(), 3);
  client.emit('m', 4); // drops m=1
  assert.equal(client.getQueueSize(), 3);
  assert.deepEqual(
    queued.slice(0, 3).map((q) => q.queueSize),
    [1, 2, 3],
  );
  assert.deepEqual(queued[3], { event: 'm', queueSize: 3, dropped: ['m'] });
  assert.equal(queued[4], 'queue', 'the drop is reported to onError with context queue');
  assert.equal(client.getLastError().code, 'STELAR_ERR_QUEUE_FULL');
  client.connect();
  const t = platform.last;
  const connected = next(client, 'connect');
  t.open();
  await connected;
  const order = t.sent.map((p) => `${p.type}:${p.event}:${p.data ?? ''}`);
  assert.deepEqual(order, [
    `${PacketType.CONNECT}::[object Object]`,
    `${PacketType.JOIN_ROOM}:general:`,
    `${PacketType.JSON}:m:2`,
    `${PacketType.JSON}:m:3`,
    `${PacketType.JSON}:m:4`,
  ]);
  assert.deepEqual(drained, [3]);
  assert.equal(client.getQueueSize(), 0);
  assert.deepEqual(client.getRooms(), ['general']);
  client.disconnect();
});

test('the queue waits for the room echo: nothing is flushed before it, the wait is bounded by ackTimeout', async () => {
  const { client, platform } = make(3000, { ackTimeout: 100 }, { server: { noEcho: true } });
  client.joinRoom('r1');
  client.emit('after-join', 1);
  client.connect();
  await until(() => platform.last?.sent.some((p) => p.type === PacketType.JOIN_ROOM), 'join sent');
  await tick();
  assert.equal(client.getState(), 'connecting');
  assert.deepEqual(platform.last.events(), []);
  await next(client, 'connect');
  assert.deepEqual(platform.last.events(), ['after-join']);
  client.disconnect();
});

test('a refused room (Error packet with the room) is reported and forgotten', async () => {
  const { client, platform } = make(3000, {}, { server: { refuseRooms: ['admin'] } });
  client.connect();
  await next(client, 'connect');
  const err = next(client, 'error');
  client.joinRoom('admin');
  const [e] = await err;
  assert.equal(e.code, 'STELAR_ERR_ROOM_REJECTED');
  assert.equal(e.message, 'join admin refused');
  assert.deepEqual(client.getRooms(), []);
  const joined = next(client, 'room_joined');
  client.joinRoom('ok');
  assert.deepEqual(await joined, ['ok']);
  const left = next(client, 'room_left');
  client.leaveRoom('ok');
  assert.deepEqual(await left, ['ok']);
  assert.deepEqual(
    platform.last.sent.filter((p) => p.type === PacketType.LEAVE_ROOM).map((p) => p.event),
    ['ok'],
  );
  client.disconnect();
});

test('a request made offline waits in the queue with its timeout running; expired, it leaves the queue', async () => {
  const { client, platform } = make(3000, { ackTimeout: 50 }, { autoOpen: false, server: { acks: { echo: (d) => d } } });
  const lost = client.request('echo', 'a', 'echo');
  const kept = client.request('echo', 'b', 'echo', { timeout: 5000 });
  assert.equal(client.getQueueSize(), 2);
  await assert.rejects(lost, (err) => err.code === 'STELAR_ERR_ACK_TIMEOUT' && /queued/.test(err.message));
  assert.equal(client.getQueueSize(), 1);
  client.connect();
  platform.last.open();
  assert.equal(await kept, 'b');
  assert.equal(platform.last.sent.filter((p) => p.type === PacketType.ACK_REQUEST).length, 1, 'the expired request is never sent');
  client.disconnect();
});

test('a close fails requests in flight with CONNECTION_CLOSED, emits disconnect {code, reason} and reconnects with the hook delay', async () => {
  const delays = [];
  const { client, platform } = make(3000, { hooks: { onReconnectDelay: (i) => (delays.push(i), 0) } });
  client.joinRoom('lobby');
  client.connect();
  await next(client, 'connect');
  const inflight = client.request('slow', {}, 'slow');
  const disc = next(client, 'disconnect');
  const reco = next(client, 'reconnecting');
  platform.last.drop(1001, 'server going away');
  assert.deepEqual(await disc, [{ code: 1001, reason: 'server going away' }]);
  assert.deepEqual(await reco, [1]);
  await assert.rejects(inflight, (err) => err.code === 'STELAR_ERR_CONNECTION_CLOSED');
  assert.equal(delays.length, 1);
  assert.equal(delays[0].attempt, 1);
  assert.ok(delays[0].defaultDelay >= 500 && delays[0].defaultDelay <= 1000, `backoff advice: ${delays[0].defaultDelay}`);
  await next(client, 'connect');
  assert.equal(client.getId(), 'client-2');
  assert.deepEqual(
    platform.last.sent.filter((p) => p.type === PacketType.JOIN_ROOM).map((p) => p.event),
    ['lobby'],
    'rooms re-joined',
  );
  client.disconnect();
});

test("close codes whose advice is 'stop' do not reconnect", async () => {
  for (const code of [1000, 1008, 4001, 4009]) {
    const { client, platform } = make(3000, { reconnectionDelay: 1 });
    client.connect();
    await next(client, 'connect');
    const disc = next(client, 'disconnect');
    platform.last.drop(code, 'bye');
    assert.deepEqual(await disc, [{ code, reason: 'bye' }]);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(client.getState(), 'disconnected', `code ${code}`);
    assert.equal(platform.transports.length, 1);
  }
});

test('a Disconnect packet gives its code when the transport only reports 1006', async () => {
  const { client, platform } = make(3000, { reconnection: false });
  client.connect();
  await next(client, 'connect');
  const disc = next(client, 'disconnect');
  platform.last.deliver({ type: PacketType.DISCONNECT, event: '', data: { code: 4009, reason: 'kicked' } });
  platform.last.drop(1006, '');
  assert.deepEqual(await disc, [{ code: 4009, reason: 'kicked' }]);
});

test('reconnection attempts are counted; exhausted -> reconnect_failed and disconnected; custom delay used', async () => {
  const attempts = [];
  const custom = [];
  const { client, platform } = make(
    3000,
    {
      reconnectionAttempts: 2,
      customReconnectDelay: (attempt, base, max) => (custom.push([attempt, base, max]), 1),
      reconnectionDelay: 10,
      maxReconnectionDelay: 20,
    },
    { autoOpen: false },
  );
  platform.onTransport = (t) => queueMicrotask(() => t.fail());
  const errors = [];
  client.on('error', (e) => errors.push(e.message));
  client.on('reconnecting', (n) => attempts.push(n));
  const failed = next(client, 'reconnect_failed');
  client.connect();
  await failed;
  assert.deepEqual(attempts, [1, 2]);
  assert.deepEqual(custom, [
    [1, 10, 20],
    [2, 10, 20],
  ]);
  assert.equal(platform.transports.length, 3);
  assert.equal(errors.length, 3);
  assert.equal(client.getState(), 'disconnected');
});

test('reconnection: false -> a failed connect stays disconnected', async () => {
  const { client, platform } = make(3000, { reconnection: false }, { autoOpen: false });
  platform.onTransport = (t) => queueMicrotask(() => t.fail('ECONNREFUSED'));
  const [err] = await new Promise((resolve) => {
    client.on('error', (...a) => resolve(a));
    client.connect();
  });
  assert.match(err.message, /ECONNREFUSED/);
  await tick();
  assert.equal(client.getState(), 'disconnected');
  assert.equal(platform.transports.length, 1);
});

test('heartbeat: the server interval is used unless set by the user; pings go out; a silent server is dropped (4005)', async () => {
  const { client, platform } = make(3000, { reconnection: false }, { server: { heartbeatInterval: 20, noPong: true } });
  client.connect();
  await next(client, 'connect');
  const errs = [];
  client.on('error', (e) => errs.push(e.code));
  const [info] = await next(client, 'disconnect');
  assert.equal(info.code, 4005);
  assert.ok(platform.last.sent.filter((p) => p.type === PacketType.PING).length >= 1);
  assert.deepEqual(errs, ['STELAR_ERR_HEARTBEAT_TIMEOUT']);

  const pinged = make(3000, { heartbeatInterval: 15 }, { server: { heartbeatInterval: 60000 } });
  pinged.client.connect();
  await next(pinged.client, 'connect');
  await until(() => pinged.platform.last.sent.filter((p) => p.type === PacketType.PING).length >= 3, 'user-set pings');
  assert.equal(pinged.client.isConnected(), true, 'pongs keep it alive');
  pinged.client.disconnect();
});

test('the server Ping is answered with a Pong carrying the same body', async () => {
  const { client, platform } = make(3000);
  client.connect();
  await next(client, 'connect');
  platform.last.deliver({ type: PacketType.PING, event: '', data: new Uint8Array([7, 7]) });
  const pong = platform.last.sent.find((p) => p.type === PacketType.PONG);
  assert.deepEqual([...pong.data], [7, 7]);
  client.disconnect();
});

test('connect timeout: no server Connect in time -> CONNECT_TIMEOUT error and a retry', async () => {
  const { client, platform } = make(3000, { connectTimeout: 30, reconnectionAttempts: 1, hooks: { onReconnectDelay: () => 0 } }, { server: { silent: true } });
  const errs = [];
  client.on('error', (e) => errs.push(e.code));
  const failed = next(client, 'reconnect_failed');
  client.connect();
  await failed;
  assert.deepEqual(errs, ['STELAR_ERR_CONNECT_TIMEOUT', 'STELAR_ERR_CONNECT_TIMEOUT']);
  assert.equal(platform.transports.length, 2);
});

test('an undecodable packet is a protocol error and closes with its close code', async () => {
  const { client, platform } = make(3000, { reconnection: false });
  client.connect();
  await next(client, 'connect');
  const err = next(client, 'error');
  platform.last.deliverBytes(new Uint8Array([99, 0, 0]));
  const [e] = await err;
  assert.equal(e.code, 'STELAR_ERR_PACKET_UNKNOWN_TYPE');
  assert.equal(platform.last.closedWith.code, 1002);
});

test('payload limits: our maxPayloadSize and the smaller server limit refuse before sending', async () => {
  const { client, platform } = make(3000, { maxPayloadSize: 1000 }, { server: { maxPayloadSize: 500 } });
  client.connect();
  await next(client, 'connect');
  const errs = [];
  client.on('error', (e) => errs.push(e.code));
  assert.equal(client.emit('big', 'x'.repeat(600)), false);
  assert.equal(client.emitBinary('big', new Uint8Array(2000)), false);
  await assert.rejects(client.request('big', 'x'.repeat(600)), (e) => e.code === 'STELAR_ERR_PAYLOAD_TOO_LARGE');
  assert.equal(client.emit('small', 'x'.repeat(400)), true);
  assert.deepEqual(errs, ['STELAR_ERR_PAYLOAD_TOO_LARGE', 'STELAR_ERR_PAYLOAD_TOO_LARGE']);
  assert.deepEqual(platform.last.events(), ['small']);
  client.disconnect();
});

test('disconnect(): rejects waiting and queued requests, empties the queue, no reconnection afterwards', async () => {
  const { client, platform } = make(3000, { reconnectionDelay: 1 });
  client.connect();
  await next(client, 'connect');
  const waiting = client.request('slow', 1, 'slow');
  const disc = next(client, 'disconnect');
  client.disconnect();
  assert.deepEqual(await disc, [{ code: 1000, reason: 'client disconnect' }]);
  await assert.rejects(waiting, (e) => e.code === 'STELAR_ERR_CONNECTION_CLOSED');
  const queued = client.request('later', 1, 'later');
  assert.equal(client.getQueueSize(), 1);
  client.disconnect();
  await assert.rejects(queued, (e) => e.code === 'STELAR_ERR_CONNECTION_CLOSED');
  assert.equal(client.getQueueSize(), 0);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(platform.transports.length, 1);
  assert.equal(client.getState(), 'disconnected');
});

test('disconnect() from a disconnect listener stops the reconnection', async () => {
  const { client, platform } = make(3000, { reconnectionDelay: 1 });
  client.connect();
  await next(client, 'connect');
  client.on('disconnect', () => client.disconnect());
  let reconnecting = 0;
  client.on('reconnecting', () => reconnecting++);
  platform.last.drop(1006);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(reconnecting, 0);
  assert.equal(client.getState(), 'disconnected');
  assert.equal(platform.transports.length, 1);
});

test('updateOptions/getOptions: applied at once, hooks merged, queue resized, reconnection off cancels a pending retry', async () => {
  const a = () => {};
  const { client, platform } = make(3000, { hooks: { onError: a }, messageQueueSize: 5, reconnectionDelay: 5000 });
  for (let i = 0; i < 5; i++) client.emit('q', i);
  const cancelled = [];
  client.updateOptions({ ackTimeout: 10000, messageQueueSize: 2, hooks: { onBeforeEmit: ({ event }) => (event === 'log' ? false : undefined) } });
  const opts = client.getOptions();
  assert.equal(opts.ackTimeout, 10000);
  assert.equal(opts.hooks.onError, a);
  assert.equal(typeof opts.hooks.onBeforeEmit, 'function');
  assert.equal(client.getQueueSize(), 2);
  assert.equal(client.emit('log', 1), false);
  assert.equal(client.getQueueSize(), 2);
  opts.ackTimeout = 1;
  assert.equal(client.getOptions().ackTimeout, 10000, 'getOptions returns a copy');
  assert.throws(() => client.updateOptions({ heartbeatInterval: -1 }), RangeError);
  client.connect();
  await next(client, 'connect');
  assert.deepEqual(platform.last.events(), ['q', 'q']);
  assert.deepEqual(
    platform.last.sent.filter((p) => p.event === 'q').map((p) => p.data),
    [3, 4],
  );
  platform.last.drop(1006);
  assert.equal(client.getState(), 'reconnecting');
  client.updateOptions({ reconnection: false });
  assert.equal(client.getState(), 'disconnected');
  assert.deepEqual(cancelled, []);
});

test('updateOptions: heartbeatInterval restarts the ping timer with the new value', async () => {
  const { client, platform } = make(3000, {}, { server: { heartbeatInterval: 60000 } });
  client.connect();
  await next(client, 'connect');
  client.updateOptions({ heartbeatInterval: 10 });
  await until(() => platform.last.sent.filter((p) => p.type === PacketType.PING).length >= 2, 'pings at the new interval');
  client.disconnect();
});

test('getUrl/setUrl; bad urls throw INVALID_URL at once; tcp mode is refused on a ws-only platform', () => {
  const { client } = make('localhost:3000');
  assert.equal(client.getUrl(), 'ws://localhost:3000');
  client.setUrl('wss://example.com/s');
  assert.equal(client.getUrl(), 'wss://example.com:443/s');
  assert.throws(
    () => client.setUrl('nope:99999'),
    (e) => e.code === 'STELAR_ERR_INVALID_URL',
  );
  assert.equal(client.getUrl(), 'wss://example.com:443/s');
  assert.throws(
    () => make(''),
    (e) => e.code === 'STELAR_ERR_INVALID_URL',
  );
  assert.equal(make('localhost:3001', { mode: 'tcp' }).client.getUrl(), 'tcp://localhost:3001');
  assert.throws(() => make(3000, { mode: 'tcp' }, { name: 'browser', modes: ['ws'] }), /not available/);
});

test('ack ids on the wire are u32 > 0 and distinct', async () => {
  const { client, platform } = make(3000, {}, { server: { acks: { e: (d) => d } } });
  client.connect();
  await next(client, 'connect');
  const results = await Promise.all([1, 2, 3].map((n) => client.request('e', n, 'e')));
  assert.deepEqual(results, [1, 2, 3]);
  const ids = platform.last.sent.filter((p) => p.type === PacketType.ACK_REQUEST).map((p) => p.ackId);
  assert.equal(new Set(ids).size, 3);
  assert.ok(ids.every((id) => id > 0 && id <= MAX_ACK_ID));
  client.disconnect();
});

test('TCP framing: the core encodes with the transport prefix', async () => {
  const { client, platform } = make(3001, { mode: 'tcp' }, { autoOpen: false });
  client.emit('queued', 1); // encoded with the tcp prefix while offline
  client.connect();
  const t = platform.last;
  const connected = next(client, 'connect');
  t.open();
  await connected;
  client.emit('live', 2);
  for (const bytes of t.raw) assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0), bytes.length);
  assert.deepEqual(t.events(), ['queued', 'live']);
  assert.deepEqual([...t.raw.at(-1)], [...encodePacket({ type: PacketType.JSON, event: 'live', data: 2 }, 4)]);
  client.disconnect();
});

test('room for the frame header: every packet comes with the layout room free in front, queued ones too', async () => {
  const layouts = { ws: { prefix: 0, room: 14 }, tcp: { prefix: 4, room: 6 } };
  for (const mode of ['ws', 'tcp']) {
    const { client, platform } = make(3002, { mode }, { autoOpen: false, layouts });
    client.emit('queued', 'é'); // encoded with the room while offline
    client.connect();
    const t = platform.last;
    const connected = next(client, 'connect');
    t.open();
    await connected;
    client.emit('live', { n: 2 });
    client.emitBinary('bin', new Uint8Array([1, 2, 3]));
    const { prefix, room } = layouts[mode];
    for (const bytes of t.raw) assert.deepEqual([...bytes.subarray(0, room)], new Array(room).fill(0), mode);
    assert.deepEqual(t.events(), ['queued', 'live', 'bin']);
    const live = t.raw.findLast((b) => decodePacket(b.subarray(prefix + room)).event === 'live');
    assert.deepEqual([...live.subarray(room)], [...encodePacket({ type: PacketType.JSON, event: 'live', data: { n: 2 } }, prefix)]);
    client.disconnect();
  }
});

test('a queued message encoded for another layout is re-encoded for the transport it goes out on', async () => {
  const layouts = { ws: { prefix: 0, room: 0 }, tcp: { prefix: 4, room: 0 } };
  const { client, platform } = make(3003, { mode: 'ws' }, { autoOpen: false, layouts });
  client.emit('queued', 1); // encoded for ws
  client.connect();
  const t = platform.last;
  t.layout = { prefix: 0, room: 14 }; // the transport wants another layout than the platform said
  const connected = next(client, 'connect');
  t.open();
  await connected;
  assert.deepEqual(t.events(), ['queued']);
  const queued = t.raw.find((b) => decodePacket(b.subarray(14)).event === 'queued');
  assert.deepEqual([...queued.subarray(14)], [...encodePacket({ type: PacketType.JSON, event: 'queued', data: 1 })]);
  client.disconnect();
});
