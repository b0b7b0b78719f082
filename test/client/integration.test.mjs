// StelarClient (Node) against the real StelarServer, once over WebSocket and once over TCP:
// every method, event and hook that needs a server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressOf, connectClient, next, startServer, StelarClient, until } from './helpers/server.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'stelar-client-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

for (const mode of ['ws', 'tcp']) {
  describe(`StelarClient over ${mode}`, () => {
    let srv;
    const received = [];
    const clients = [];
    const track = (c) => (clients.push(c), c);
    const open = async (options = {}) => track(await connectClient(addressOf(srv, mode), { mode, ...options }));

    before(async () => {
      srv = await startServer({ hooks: { onClientJoinRoom: ({ room }) => (room.startsWith('admin-') ? false : undefined) } });
      const s = srv.server;
      s.use((ctx, next) => {
        if (ctx.data?.token === 'bad') return next(new Error('Token rejected'));
        if (ctx.data?.token === 'push') ctx.ack('welcome-ack', { hello: 'from middleware' });
        next();
      });
      s.onConnection((client) => {
        if (client.req?.headers?.['x-stelar-test']) client.setMetadata('header', client.req.headers['x-stelar-test']);
      });
      s.on('chat', (ctx) => {
        received.push(['chat', ctx.data]);
        ctx.emit('chat-echo', ctx.data);
      });
      s.on('bin', (ctx) => {
        received.push(['bin', Buffer.isBuffer(ctx.data), ctx.data.length]);
        ctx.emitBinary('bin-echo', ctx.data);
      });
      s.on('file', (ctx) => received.push(['file', Buffer.from(ctx.data).toString()]));
      s.on('image', (ctx) => received.push(['image', ctx.data.length]));
      s.on('whoami-header', (ctx) => ctx.emit('header', ctx.getMetadata('header') ?? null));
      s.onAck('getUser', (ctx) => ({ id: ctx.data.id, name: 'John' }));
      s.onAck('validateToken', () => {
        throw new Error('Invalid token');
      });
      s.onAck('never', () => new Promise(() => {}));
      s.onAck('sum', (ctx) => ctx.data.a + ctx.data.b);
    });

    after(async () => {
      for (const c of clients) c.disconnect();
      await srv.server.stop();
    });

    test('connect: state, id from the server, url, connect time; the server sees the same id', async () => {
      const ids = [];
      srv.server.onConnection((c) => ids.push(c.id));
      const states = [];
      const client = track(
        new StelarClient(addressOf(srv, mode), { mode, logger: 'silent', hooks: { onStateChange: ({ from, to }) => states.push(`${from}>${to}`) } }),
      );
      assert.equal(client.getUrl(), `${mode}://${addressOf(srv, mode)}`);
      const connected = new Promise((resolve) => client.connect(resolve));
      assert.equal(client.getState(), 'connecting');
      await connected;
      assert.equal(client.isConnected(), true);
      assert.equal(client.getState(), 'connected');
      assert.ok(ids.includes(client.getId()), 'the id is the server-side client id');
      assert.ok(typeof client.getConnectTime() === 'number');
      assert.deepEqual(states, ['disconnected>connecting', 'connecting>connected']);
      assert.equal(srv.server.getClients().find((c) => c.id === client.getId())?.protocol, mode);
    });

    test('emit and on: JSON both ways; messages counted; onMessage and onAll see them', async () => {
      const messages = [];
      const all = [];
      const client = await open({ hooks: { onMessage: (m) => messages.push(m) } });
      client.onAll((event, data) => all.push([event, data]));
      const echo = next(client, 'chat-echo');
      assert.equal(client.emit('chat', { text: `hello ${mode}` }), true);
      assert.deepEqual(await echo, [{ text: `hello ${mode}` }]);
      assert.deepEqual(received.at(-1), ['chat', { text: `hello ${mode}` }]);
      assert.deepEqual(messages, [{ event: 'chat-echo', data: { text: `hello ${mode}` }, isBinary: false }]);
      assert.deepEqual(all, [['chat-echo', { text: `hello ${mode}` }]]);
      assert.equal(client.getMessagesSent(), 1);
      assert.equal(client.getMessagesReceived(), 1);
    });

    test('emitBinary round-trips bytes as a Buffer; sendFile takes a path or a Buffer; sendImage', async () => {
      const client = await open();
      const payload = Buffer.from([0, 1, 2, 253, 254, 255]);
      const echo = next(client, 'bin-echo');
      client.emitBinary('bin', payload);
      const [back] = await echo;
      assert.ok(Buffer.isBuffer(back));
      assert.deepEqual(back, payload);
      const path = join(tmp, `note-${mode}.txt`);
      writeFileSync(path, `file over ${mode}`);
      assert.equal(await client.sendFile(path), true);
      assert.equal(await client.sendFile(Buffer.from('from a buffer')), true);
      assert.equal(await client.sendImage(new Uint8Array(64)), true);
      await until(() => received.some((r) => r[0] === 'image'), 'image received');
      const files = received.filter((r) => r[0] === 'file').map((r) => r[1]);
      assert.deepEqual(files.slice(-2), [`file over ${mode}`, 'from a buffer']);
      await assert.rejects(client.sendFile(join(tmp, 'missing.bin')), /ENOENT/);
      received.length = 0;
    });

    test('frames of every header size arrive intact and in order, JSON (ASCII or not) and binary mixed', async () => {
      const got = [];
      srv.server.on('sizes', (ctx) => got.push(ctx.data));
      const client = await open();
      // Packet = 3 + 5 ("sizes") + the JSON {"t":"…"} (8 + text): WebSocket headers change at 125/126 and 65535/65536 payload bytes.
      const lengths = [0, 1, 108, 109, 110, 111, 1360, 1370, 4090, 65511, 65512, 65513, 200000];
      const sent = [];
      for (const n of lengths) {
        sent.push({ t: 'a'.repeat(n) }, { t: 'é'.repeat(n >> 1) });
        sent.push(Buffer.alloc(n, n & 0xff));
      }
      for (const data of sent) {
        if (Buffer.isBuffer(data)) client.emitBinary('sizes', data);
        else client.emit('sizes', data);
      }
      await until(() => got.length === sent.length, 'all sizes received');
      for (let i = 0; i < sent.length; i++) {
        if (Buffer.isBuffer(sent[i])) assert.ok(Buffer.from(got[i]).equals(sent[i]), `#${i}: ${sent[i].length} bytes`);
        else assert.deepEqual(got[i], sent[i], `#${i}: text of ${sent[i].t.length}`);
      }
    });

    test('request resolves with the onAck value; a server throw rejects with its message; timeout rejects', async () => {
      const client = await open({ ackTimeout: 300 });
      assert.deepEqual(await client.request('getUser', { id: 1 }, 'getUser'), { id: 1, name: 'John' });
      await assert.rejects(client.request('validateToken', { token: 'abc' }, 'validateToken'), (err) => err.message === 'Invalid token');
      await assert.rejects(client.request('never', {}, 'never'), (err) => err.code === 'STELAR_ERR_ACK_TIMEOUT');
      await assert.rejects(client.request('nothing-here', {}, 'nothing-here'), (err) => err.code === 'STELAR_ERR_NO_ACK_HANDLER');
      // Event name and ack handler name differ.
      assert.equal(await client.request('anything', { a: 2, b: 3 }, 'sum'), 5);
    });

    test('emit with opts.ack: callback form and ack-name form (answer through onAck)', async () => {
      const client = await open();
      const [err, data] = await new Promise((resolve) => client.emit('sum', { a: 1, b: 1 }, { ack: (...args) => resolve(args) }));
      assert.equal(err, null);
      assert.equal(data, 2);
      const viaName = new Promise((resolve) => client.onAck('sum', (value, info) => resolve([value, info.ok])));
      client.emit('calc', { a: 4, b: 4 }, { ack: 'sum' });
      assert.deepEqual(await viaName, [8, true]);
    });

    test('onAck hears an unsolicited ACK (id 0) sent by middleware; auth travels in Connect', async () => {
      const client = track(new StelarClient(addressOf(srv, mode), { mode, logger: 'silent', auth: { token: 'push' } }));
      const pushed = new Promise((resolve) => client.onAck('welcome-ack', (data, info) => resolve([data, info.ackId])));
      client.connect();
      assert.deepEqual(await pushed, [{ hello: 'from middleware' }, 0]);
    });

    test('a middleware refusal: Error packet -> error event + onError, close 4001 -> no reconnection', async () => {
      const contexts = [];
      const client = track(
        new StelarClient(addressOf(srv, mode), {
          mode,
          logger: 'silent',
          reconnectionDelay: 10,
          auth: { token: 'bad' },
          hooks: { onError: ({ context }) => contexts.push(context) },
        }),
      );
      const err = next(client, 'error');
      client.connect();
      const [e] = await err;
      assert.equal(e.code, 'STELAR_ERR_MIDDLEWARE_REJECTED');
      assert.equal(e.message, 'Token rejected');
      await until(() => client.getState() === 'disconnected', 'stopped');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(client.getState(), 'disconnected', '4001 means stop');
      assert.ok(contexts.includes('server'));
      assert.equal(client.getLastError().code, 'STELAR_ERR_MIDDLEWARE_REJECTED');
    });

    test('rooms: join/leave echoed, broadcasts to the room arrive; a refused join is an error and forgotten', async () => {
      const client = await open();
      const joined = next(client, 'room_joined');
      client.joinRoom(`news-${mode}`);
      assert.deepEqual(await joined, [`news-${mode}`]);
      assert.ok(srv.server.getRoomMembers(`news-${mode}`).includes(client.getId()));
      const news = next(client, 'headline');
      srv.server.to(`news-${mode}`, 'headline', { t: 1 });
      assert.deepEqual(await news, [{ t: 1 }]);
      const refused = next(client, 'error');
      client.joinRoom(`admin-${mode}`);
      const [e] = await refused;
      assert.equal(typeof e.message, 'string');
      assert.deepEqual(client.getRooms(), [`news-${mode}`]);
      const left = next(client, 'room_left');
      client.leaveRoom(`news-${mode}`);
      await left;
      assert.deepEqual(srv.server.getRoomMembers(`news-${mode}`), []);
    });

    test('offline queue: messages emitted before connect are sent in order after it; hooks report them', async () => {
      const queued = [];
      const drained = [];
      const client = track(
        new StelarClient(addressOf(srv, mode), {
          mode,
          logger: 'silent',
          hooks: { onMessageQueued: ({ event, queueSize }) => queued.push([event, queueSize]), onQueueDrained: ({ count }) => drained.push(count) },
        }),
      );
      for (let i = 1; i <= 3; i++) client.emit('chat', { i });
      assert.equal(client.getQueueSize(), 3);
      const before = received.length;
      client.connect();
      await next(client, 'connect');
      await until(() => received.length >= before + 3, 'three queued chats');
      assert.deepEqual(
        received.slice(before).map((r) => r[1].i),
        [1, 2, 3],
      );
      assert.deepEqual(queued, [
        ['chat', 1],
        ['chat', 2],
        ['chat', 3],
      ]);
      assert.deepEqual(drained, [3]);
      assert.equal(client.getQueueSize(), 0);
    });

    test('onBeforeEmit returning false cancels; updateOptions swaps the hook at runtime', async () => {
      const client = await open({ hooks: { onBeforeEmit: ({ event }) => (event === 'debug' ? false : undefined) } });
      assert.equal(client.emit('debug', 1), false);
      client.updateOptions({ hooks: { onBeforeEmit: ({ event }) => (event === 'chat' ? false : undefined) } });
      assert.equal(client.emit('chat', { blocked: true }), false);
      assert.equal(client.emit('debug', 2), true);
      assert.ok(!received.some((r) => r[1]?.blocked));
    });

    test('disconnect(): the server sees the client leave, state disconnected, no reconnection', async () => {
      const client = await open({ reconnectionDelay: 10 });
      const id = client.getId();
      const gone = new Promise((resolve) => srv.server.onDisconnect((c) => c.id === id && resolve()));
      const disc = next(client, 'disconnect');
      client.disconnect();
      assert.deepEqual(await disc, [{ code: 1000, reason: 'client disconnect' }]);
      await gone;
      assert.equal(client.getState(), 'disconnected');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(client.getState(), 'disconnected');
    });

    test('kicked by the server (4009): disconnect event with the code, no reconnection', async () => {
      const client = await open({ reconnectionDelay: 10 });
      const disc = next(client, 'disconnect');
      srv.server.disconnect(client.getId());
      const [info] = await disc;
      assert.equal(info.code, 4009);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(client.getState(), 'disconnected');
    });

    test('removeAllListeners(event) and off', async () => {
      const client = await open();
      let n = 0;
      const h = () => n++;
      client.on('chat-echo', h);
      client.on('chat-echo', h);
      client.off('chat-echo', h);
      const echo = next(client, 'chat-echo');
      client.emit('chat', { x: 1 });
      await echo;
      assert.equal(n, 1);
      client.removeAllListeners('chat-echo');
      assert.equal(client.listenerCount('chat-echo'), 0);
    });
  });
}

test('ws: headers go with the WebSocket handshake', async () => {
  const srv = await startServer();
  srv.server.onConnection((client) => client.setMetadata('header', client.req?.headers?.['x-stelar-test'] ?? null));
  srv.server.on('whoami-header', (ctx) => ctx.emit('header', ctx.getMetadata('header')));
  const client = await connectClient(`ws://127.0.0.1:${srv.port}`, { headers: { 'X-Stelar-Test': 'yes' } });
  const answer = next(client, 'header');
  client.emit('whoami-header');
  assert.deepEqual(await answer, ['yes']);
  client.disconnect();
  await srv.server.stop();
});

test('the client follows the server heartbeat: it pings often enough to outlive several server timeouts', async () => {
  const srv = await startServer({ heartbeatInterval: 50, heartbeatTimeout: 200 });
  const client = await connectClient(`127.0.0.1:${srv.tcpPort}`, { mode: 'tcp' });
  let disconnected = false;
  client.on('disconnect', () => (disconnected = true));
  // Control: a client told to ping rarely (a user-set interval wins over the server's) is dropped.
  const lazy = await connectClient(`127.0.0.1:${srv.tcpPort}`, { mode: 'tcp', heartbeatInterval: 60000, reconnection: false });
  const [info] = await next(lazy, 'disconnect');
  assert.equal(info.code, 4005);
  assert.equal(disconnected, false);
  assert.equal(client.isConnected(), true);
  client.disconnect();
  await srv.server.stop();
});

test('connection refused: error event names ECONNREFUSED; reconnect_failed after the attempts', async () => {
  const srv = await startServer();
  const port = srv.tcpPort;
  await srv.server.stop();
  const client = new StelarClient(`127.0.0.1:${port}`, {
    mode: 'tcp',
    logger: 'silent',
    reconnectionAttempts: 2,
    reconnectionDelay: 5,
    maxReconnectionDelay: 10,
  });
  const errors = [];
  const attempts = [];
  client.on('error', (e) => errors.push(e.message));
  client.on('reconnecting', (n) => attempts.push(n));
  const failed = next(client, 'reconnect_failed');
  client.connect();
  await failed;
  assert.deepEqual(attempts, [1, 2]);
  assert.equal(errors.length, 3);
  assert.match(errors[0], /ECONNREFUSED/);
  assert.equal(client.getState(), 'disconnected');
});
