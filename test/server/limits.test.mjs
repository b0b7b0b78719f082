import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, PacketType } from '../../dist/index.js';
import { closeAll, connect, openTcp, openWs, startServer, until } from './helpers.mjs';

test('maxConnections: the next client gets Error SERVER_FULL and close 4002; the hook is told', async () => {
  const hits = [];
  const server = await startServer({ maxConnections: 2, hooks: { onMaxConnectionsReached: (i) => hits.push(i) } });
  const a = await connect(server, 'ws');
  const b = await connect(server, 'tcp');
  for (const extra of [await openWs(server.getPort()), await openTcp(server.getTcpPort())]) {
    const err = await extra.next(PacketType.ERROR);
    assert.equal(err.event, ErrorCode.SERVER_FULL);
    assert.equal((await extra.closed).code, 4002);
  }
  assert.equal(hits.length, 2);
  assert.deepEqual({ ...hits[0], protocol: undefined }, { activeConnections: 2, max: 2, ip: '127.0.0.1', protocol: undefined, reason: 'maxConnections' });
  // A slot frees up when someone leaves.
  await a.close();
  await until(() => server.getStats().activeConnections === 1, 'a gone');
  const c = await connect(server, 'ws');
  assert.ok(c.id);
  await closeAll(b, c);
  await server.stop();
});

test('maxConnectionsPerIP: close 4003 with TOO_MANY_FROM_IP', async () => {
  const hits = [];
  const server = await startServer({ maxConnectionsPerIP: 1, hooks: { onMaxConnectionsReached: (i) => hits.push(i) } });
  const a = await connect(server, 'tcp');
  const b = await openWs(server.getPort());
  assert.equal((await b.next(PacketType.ERROR)).event, ErrorCode.TOO_MANY_FROM_IP);
  assert.equal((await b.closed).code, 4003);
  assert.equal(hits[0].reason, 'maxConnectionsPerIP');
  assert.equal(hits[0].max, 1);
  await closeAll(a);
  await server.stop();
});

test('customIPTracker decides admission and sees add/remove for each connection', async () => {
  const events = [];
  class Tracker {
    counts = new Map();
    check(ip) {
      events.push(['check', ip]);
      return !this.blocked;
    }
    add(ip) {
      events.push(['add', ip]);
      this.counts.set(ip, (this.counts.get(ip) || 0) + 1);
    }
    remove(ip) {
      events.push(['remove', ip]);
      this.counts.set(ip, this.counts.get(ip) - 1);
    }
    getCount(ip) {
      return this.counts.get(ip) || 0;
    }
    cleanup() {}
  }
  const tracker = new Tracker();
  const server = await startServer({ customIPTracker: tracker, maxConnectionsPerIP: 1 });
  const a = await connect(server, 'ws');
  const b = await connect(server, 'tcp'); // the custom tracker allows more than maxConnectionsPerIP
  assert.equal(tracker.getCount('127.0.0.1'), 2);
  tracker.blocked = true;
  const c = await openTcp(server.getTcpPort());
  assert.equal((await c.closed).code, 4003);
  await a.close();
  await until(() => tracker.getCount('127.0.0.1') === 1, 'remove called');
  assert.deepEqual(events.slice(0, 4), [
    ['check', '127.0.0.1'],
    ['add', '127.0.0.1'],
    ['check', '127.0.0.1'],
    ['add', '127.0.0.1'],
  ]);
  assert.equal(server.getConfig().hasCustomIPTracker, true);
  await closeAll(b);
  await server.stop();
});

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: maxPayloadSize drops the message with an Error packet and keeps the connection`, async () => {
    const hits = [];
    const server = await startServer({ maxPayloadSize: 1000, hooks: { onPayloadTooLarge: (i) => hits.push(i) } });
    let got = 0;
    server.on('big', () => got++);
    server.on('small', (ctx) => ctx.emit('small-ok'));
    const c = await connect(server, protocol);
    c.emit('big', 'x'.repeat(2000));
    const err = await c.next(PacketType.ERROR);
    assert.equal(err.event, ErrorCode.PAYLOAD_TOO_LARGE);
    assert.equal(err.data.max, 1000);
    assert.equal(err.data.event, 'big');
    c.emit('small', 1);
    await c.event('small-ok');
    assert.equal(got, 0);
    assert.equal(hits.length, 1);
    assert.equal(hits[0].clientId, c.id);
    assert.equal(hits[0].event, 'big');
    assert.ok(hits[0].size > 2000);
    await closeAll(c);
    await server.stop();
  });

  test(`${protocol}: maxFrameSize is enforced by the transport with close 1009`, async () => {
    const server = await startServer({ maxFrameSize: 4096, maxPayloadSize: 100_000 });
    const c = await connect(server, protocol);
    c.emit('big', 'y'.repeat(10_000));
    assert.equal((await c.closed).code, 1009);
    await server.stop();
  });

  test(`${protocol}: invalid event names (empty, too long) get an Error, run onInvalidMessage, the connection stays`, async () => {
    const hits = [];
    const server = await startServer({ maxEventNameLength: 10, hooks: { onInvalidMessage: (i) => hits.push(i) } });
    let handled = 0;
    server.onAll(() => handled++);
    const c = await connect(server, protocol);
    c.emit('', 1);
    assert.equal((await c.next(PacketType.ERROR)).event, ErrorCode.PACKET_INVALID_EVENT);
    c.emit('a-very-long-event-name', 1);
    assert.equal((await c.next(PacketType.ERROR)).event, ErrorCode.PACKET_INVALID_EVENT);
    const ack = await c.request('', 1);
    assert.equal(ack.ok, false);
    assert.equal(ack.data.code, ErrorCode.PACKET_INVALID_EVENT);
    c.ping();
    await c.next(PacketType.PONG);
    assert.equal(handled, 0);
    assert.equal(hits.length, 3);
    assert.deepEqual({ ...hits[0], reason: typeof hits[0].reason }, { clientId: c.id, reason: 'string', code: ErrorCode.PACKET_INVALID_EVENT, protocol });
    await closeAll(c);
    await server.stop();
  });
}

test('invalid JSON is dropped with an Error (connection stays); an unknown packet type closes with 1002', async () => {
  const hits = [];
  const server = await startServer({ hooks: { onInvalidMessage: (i) => hits.push(i.code) } });
  const c = await connect(server, 'ws');
  // type 0, event "e", body "{not json"
  c._write(Buffer.concat([Buffer.from([0, 0, 1]), Buffer.from('e{not json')]));
  assert.equal((await c.next(PacketType.ERROR)).event, ErrorCode.PACKET_INVALID_JSON);
  c.ping();
  await c.next(PacketType.PONG);
  c._write(Buffer.from([42, 0, 0]));
  assert.equal((await c.next(PacketType.ERROR)).event, ErrorCode.PACKET_UNKNOWN_TYPE);
  assert.equal((await c.closed).code, 1002);
  assert.deepEqual(hits, [ErrorCode.PACKET_INVALID_JSON, ErrorCode.PACKET_UNKNOWN_TYPE]);
  await server.stop();
});

test('a WebSocket text message is refused with an Error packet and close 1003', async () => {
  const server = await startServer();
  const c = await connect(server, 'ws');
  c.sendText('hello');
  assert.equal((await c.next(PacketType.ERROR)).event, ErrorCode.PACKET_UNEXPECTED);
  assert.equal((await c.closed).code, 1003);
  await server.stop();
});

test('a broken TCP frame length closes the connection and reports onInvalidMessage', async () => {
  const hits = [];
  const server = await startServer({ hooks: { onInvalidMessage: (i) => hits.push(i.code) } });
  const c = await connect(server, 'tcp');
  c.writeRaw(Buffer.from([0, 0, 0, 2])); // below the 7-byte minimum
  assert.equal((await c.closed).code, 1002);
  await until(() => hits.length === 1, 'hook');
  assert.equal(hits[0], ErrorCode.TCP_FRAME_TOO_SHORT);
  await server.stop();
});

for (const protocol of ['tcp', 'ws']) {
  test(`${protocol}: a client that stops reading is disconnected (4006) once past maxBufferedBytes, with onSlowConsumer`, async () => {
    const hits = [];
    const server = await startServer({ maxBufferedBytes: 256 * 1024, hooks: { onSlowConsumer: (i) => hits.push(i) } });
    const c = await connect(server, protocol);
    const socket = protocol === 'tcp' ? c.socket : c.ws._socket;
    socket.pause();
    const chunk = Buffer.alloc(512 * 1024, 7);
    let sent = 0;
    for (let i = 0; i < 200 && hits.length === 0; i++) {
      server.broadcastBinary('flood', chunk);
      sent++;
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(hits.length, 1, `slow consumer detected after ${sent} messages`);
    assert.equal(hits[0].clientId, c.id);
    assert.ok(hits[0].bufferedBytes > 256 * 1024);
    // Further broadcasts skip it instead of queueing more.
    assert.equal(server.broadcastBinary('flood', chunk), 0);
    socket.resume();
    assert.equal((await c.closed).code, 4006);
    await server.stop();
  });
}

test('one message larger than maxBufferedBytes still reaches a client that reads (only a backlog trips the cap)', async () => {
  const hits = [];
  const server = await startServer({ maxBufferedBytes: 64 * 1024, hooks: { onSlowConsumer: (i) => hits.push(i) } });
  const ws = await connect(server, 'ws');
  const tcp = await connect(server, 'tcp');
  const big = Buffer.alloc(1024 * 1024, 3);
  assert.equal(server.broadcastBinary('big', big), 2);
  for (const c of [ws, tcp]) assert.equal((await c.next(PacketType.BINARY, 'big')).data.length, big.length);
  assert.equal(hits.length, 0);
  await closeAll(ws, tcp);
  await server.stop();
});
