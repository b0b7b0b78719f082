// Session (src/server/session.ts) without a socket: a fake SessionHost records what the
// session reports upward, a fake Transport records what it writes. The state machine, the
// send checks and the ordered inbound queue are exercised one to one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, SessionState, assertCloseCode } from '../../dist/server/session.js';
import { StatsCounters } from '../../dist/server/stats.js';
import { CloseCode, ErrorCode, PacketType, StelarError } from '../../dist/protocol/index.js';

function makeHost(maxBufferedBytes = 1000) {
  const calls = { handlePacket: [], onInvalid: [], onProtocolError: [], onClosed: [], onSlowConsumer: [] };
  const host = {
    calls,
    maxBufferedBytes,
    /** What handlePacket returns for a given packet (set by a test). */
    reply: () => undefined,
    handlePacket(session, bytes) {
      calls.handlePacket.push(bytes.toString());
      return host.reply(session, bytes);
    },
    onInvalid: (session, err) => calls.onInvalid.push({ session, err }),
    onProtocolError: (session, err) => calls.onProtocolError.push({ session, err }),
    onClosed: (session, code, reason) => calls.onClosed.push({ session, code, reason }),
    onSlowConsumer: (session, buffered) => calls.onSlowConsumer.push({ session, buffered }),
    counters: new StatsCounters(),
    roomsOf: () => new Set(),
  };
  return host;
}

function makeTransport() {
  return {
    protocol: 'ws',
    socket: null,
    bufferedAmount: 0,
    isOpen: true,
    sink: null,
    packets: [],
    encoded: [],
    closes: [],
    terminated: 0,
    sendPacket(packet) {
      this.packets.push(packet);
      return 10; // its size, as the transport reports it
    },
    sendEncoded(message) {
      this.encoded.push(message);
      return true;
    },
    close(code, reason) {
      this.closes.push([code, reason]);
    },
    terminate() {
      this.terminated++;
    },
  };
}

function makeSession({ maxBufferedBytes, req = null, id = 'tmp-1' } = {}) {
  const host = makeHost(maxBufferedBytes);
  const transport = makeTransport();
  const session = new Session(host, id, '127.0.0.1', req, (sink) => {
    transport.sink = sink;
    return transport;
  });
  return { host, transport, session };
}

function openSession(opts) {
  const s = makeSession(opts);
  assert.equal(s.session.beginHandshake(null), true);
  assert.equal(s.session.open(s.session.id), true);
  return s;
}

/** A promise settled from outside. */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets the session's `.then` callbacks run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

const pkt = (text) => Buffer.from(text);

// ---- construction and transitions ----------------------------------------------------------

test('a new session is AWAITING_CONNECT, is the transport sink, and exposes the transport protocol', () => {
  const { session, transport } = makeSession();
  assert.equal(session.state, SessionState.AWAITING_CONNECT);
  assert.equal(transport.sink, session);
  assert.equal(session.transport, transport);
  assert.equal(session.protocol, 'ws');
  assert.equal(session.remoteAddress, '127.0.0.1');
  assert.equal(session.id, 'tmp-1');
  assert.equal(session.connectedAt, 0);
  assert.equal(session.closingSince, 0);
  assert.equal(session.isOpen, false);
  assert.ok(session.openedAt > 0 && session.openedAt <= Date.now());
});

test('beginHandshake moves AWAITING_CONNECT -> HANDSHAKE once and keeps the recovery state', () => {
  const { session } = makeSession();
  const recovery = { lost: false };
  assert.equal(session.beginHandshake(recovery), true);
  assert.equal(session.state, SessionState.HANDSHAKE);
  assert.equal(session.recovery, recovery);
  assert.equal(session.beginHandshake(null), false, 'a second Connect must not restart the handshake');
  assert.equal(session.recovery, recovery);
});

test('open(id) is refused before the handshake, then adopts the id, sets connectedAt and moves to OPEN', () => {
  const { session } = makeSession();
  assert.equal(session.open('final'), false);
  assert.equal(session.id, 'tmp-1');
  session.beginHandshake(null);
  const before = Date.now();
  assert.equal(session.open('final-id'), true);
  assert.equal(session.state, SessionState.OPEN);
  assert.equal(session.isOpen, true);
  assert.equal(session.id, 'final-id');
  assert.ok(session.connectedAt >= before && session.connectedAt <= Date.now());
  assert.equal(session.open('again'), false);
  assert.equal(session.id, 'final-id');
});

test('open() slims the upgrade request: handshake-only headers dropped, the rest kept', () => {
  const req = {
    method: 'GET',
    url: '/chat?x=1',
    httpVersion: '1.1',
    socket: {},
    headers: {
      host: 'example.test',
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      'sec-websocket-extensions': 'permessage-deflate',
      cookie: 'a=1',
      'user-agent': 'test',
    },
  };
  const { session } = makeSession({ req });
  assert.equal(session.req, req, 'middleware sees the full request');
  session.beginHandshake(null);
  session.open('c1');
  const slim = session.req;
  assert.notEqual(slim, req);
  assert.deepEqual(slim, {
    method: 'GET',
    url: '/chat?x=1',
    httpVersion: '1.1',
    headers: { host: 'example.test', cookie: 'a=1', 'user-agent': 'test' },
  });
  assert.equal(req.headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==', 'the original request object is not mutated');
});

test('open() with no request (TCP) keeps req null', () => {
  const { session } = openSession();
  assert.equal(session.req, null);
});

test('close() moves to CLOSING, calls transport.close once with code and reason, sets closingSince; a second close is a no-op', () => {
  const { session, transport, host } = openSession();
  const before = Date.now();
  session.close(4009, 'kicked');
  assert.equal(session.state, SessionState.CLOSING);
  assert.deepEqual(transport.closes, [[4009, 'kicked']]);
  assert.ok(session.closingSince >= before && session.closingSince <= Date.now());
  const since = session.closingSince;
  session.close(1000, 'again');
  assert.deepEqual(transport.closes, [[4009, 'kicked']]);
  assert.equal(session.closingSince, since);
  assert.equal(host.calls.onClosed.length, 0, 'onClosed waits for the transport');
});

test('close() without arguments uses 1000 and an empty reason', () => {
  const { session, transport } = openSession();
  session.close();
  assert.deepEqual(transport.closes, [[CloseCode.NORMAL, '']]);
});

test('onClose moves to CLOSED and reports host.onClosed exactly once; the state never moves backwards', () => {
  const { session, host, transport } = openSession();
  session.close(1000, 'bye');
  session.onClose(1000, 'bye');
  assert.equal(session.state, SessionState.CLOSED);
  assert.equal(host.calls.onClosed.length, 1);
  assert.equal(host.calls.onClosed[0].session, session);
  assert.equal(host.calls.onClosed[0].code, 1000);
  assert.equal(host.calls.onClosed[0].reason, 'bye');
  session.onClose(1006, '');
  assert.equal(host.calls.onClosed.length, 1);
  assert.equal(session.beginHandshake(null), false);
  assert.equal(session.open('x'), false);
  session.close(1000, '');
  session.terminate();
  assert.equal(session.state, SessionState.CLOSED);
  assert.equal(transport.closes.length, 1);
  assert.equal(transport.terminated, 0, 'terminate after CLOSED does nothing');
});

test('a socket gone before Connect goes straight to CLOSED, and no later transition is allowed', () => {
  const { session, host } = makeSession();
  session.onClose(1006, '');
  assert.equal(session.state, SessionState.CLOSED);
  assert.equal(host.calls.onClosed.length, 1);
  assert.equal(session.beginHandshake(null), false);
  assert.equal(session.state, SessionState.CLOSED);
});

test('close during the handshake: beginHandshake/open afterwards return false', () => {
  const { session } = makeSession();
  session.beginHandshake(null);
  session.close(4001, 'rejected');
  assert.equal(session.open('c1'), false);
  assert.equal(session.state, SessionState.CLOSING);
  assert.equal(session.connectedAt, 0);
});

test('terminate() moves to CLOSING and calls transport.terminate (again while closing, never after CLOSED)', () => {
  const { session, transport } = openSession();
  session.terminate();
  assert.equal(session.state, SessionState.CLOSING);
  assert.equal(transport.terminated, 1);
  assert.ok(session.closingSince > 0);
  assert.equal(transport.closes.length, 0, 'terminate does not send a close');
  session.terminate();
  assert.equal(transport.terminated, 2, 'the sweep may terminate a session stuck closing');
  session.onClose(1006, '');
  session.terminate();
  assert.equal(transport.terminated, 2);
});

test('onProtocolError moves to CLOSING and reports to the host without closing the transport again', () => {
  const { session, host, transport } = openSession();
  const err = new StelarError(ErrorCode.WS_RSV_SET, 'rsv set');
  session.onProtocolError(err);
  assert.equal(session.state, SessionState.CLOSING);
  assert.equal(host.calls.onProtocolError.length, 1);
  assert.equal(host.calls.onProtocolError[0].err, err);
  assert.equal(host.calls.onProtocolError[0].session, session);
  assert.equal(transport.closes.length, 0);
});

test('onInvalid reports to the host while live, not once closing', () => {
  const { session, host } = openSession();
  const err = new StelarError(ErrorCode.PACKET_UNEXPECTED, 'text');
  session.onInvalid(err);
  assert.equal(host.calls.onInvalid.length, 1);
  assert.equal(host.calls.onInvalid[0].err, err);
  session.close();
  session.onInvalid(err);
  assert.equal(host.calls.onInvalid.length, 1);
});

test('assertCloseCode accepts 1000 and 3000-4999 only', () => {
  for (const ok of [1000, 3000, 4001, 4999]) assertCloseCode(ok);
  for (const bad of [999, 1001, 1006, 2999, 5000, 4000.5, Number.NaN]) assert.throws(() => assertCloseCode(bad), RangeError, String(bad));
});

// ---- sending -------------------------------------------------------------------------------

test('sendPacket writes through the transport and counts everything but Pongs', () => {
  const { session, transport, host } = openSession();
  const event = { type: PacketType.JSON, event: 'e', data: 1 };
  assert.equal(session.sendPacket(event), true);
  assert.equal(session.sendPacket({ type: PacketType.PONG, event: '', data: Buffer.alloc(0) }), true);
  assert.deepEqual(
    transport.packets.map((p) => p.type),
    [PacketType.JSON, PacketType.PONG],
  );
  assert.equal(transport.packets[0], event);
  assert.equal(host.counters.messagesSent, 1);
  // Both are counted as packets out, by type, with the size the transport reported.
  assert.equal(host.counters.packetsOut[PacketType.JSON], 1);
  assert.equal(host.counters.packetsOut[PacketType.PONG], 1);
  assert.equal(host.counters.bytesOut[PacketType.JSON], 10);
});

test('sendPacket works before acceptance (handshake replies) but is refused once closing', () => {
  const { session, transport } = makeSession();
  assert.equal(session.sendPacket({ type: PacketType.PONG, event: '' }), true);
  session.close();
  assert.equal(session.sendPacket({ type: PacketType.JSON, event: 'e' }), false);
  assert.equal(transport.packets.length, 1);
});

test('sendPacket is refused when the transport is no longer open', () => {
  const { session, transport, host } = openSession();
  transport.isOpen = false;
  assert.equal(session.sendPacket({ type: PacketType.JSON, event: 'e' }), false);
  assert.equal(transport.packets.length, 0);
  assert.equal(host.counters.messagesSent, 0);
  assert.equal(
    host.counters.packetsOut.reduce((a, b) => a + b),
    0,
  );
});

test('sendPacket over maxBufferedBytes is refused and reports a slow consumer; at the cap it is still sent', () => {
  const { session, transport, host } = openSession({ maxBufferedBytes: 100 });
  transport.bufferedAmount = 100;
  assert.equal(session.sendPacket({ type: PacketType.JSON, event: 'e' }), true, 'exactly at the cap is not over it');
  transport.bufferedAmount = 101;
  assert.equal(session.sendPacket({ type: PacketType.JSON, event: 'e' }), false);
  assert.equal(transport.packets.length, 1);
  assert.equal(host.calls.onSlowConsumer.length, 1);
  assert.equal(host.calls.onSlowConsumer[0].session, session);
  assert.equal(host.calls.onSlowConsumer[0].buffered, 101);
});

test('onAutoReply checks the backlog (a ping flood from a non-reader hits the cap), not once closing', () => {
  const { session, transport, host } = openSession({ maxBufferedBytes: 10 });
  session.onAutoReply();
  assert.equal(host.calls.onSlowConsumer.length, 0);
  transport.bufferedAmount = 11;
  session.onAutoReply();
  assert.equal(host.calls.onSlowConsumer.length, 1);
  session.close();
  session.onAutoReply();
  assert.equal(host.calls.onSlowConsumer.length, 1);
});

test('sendEncoded only writes while OPEN (not before acceptance, not when closing, not when backlogged)', () => {
  // A 4-byte TCP prefix, then a 6-byte JSON packet: what the counters read of a shared message.
  const frame = Uint8Array.of(0, 0, 0, 10, PacketType.JSON, 0, 1, 0x65, 0x31, 0x32);
  const msg = { tag: 'shared', tcpFrame: () => frame };
  const { session, transport, host } = makeSession({ maxBufferedBytes: 50 });
  assert.equal(session.sendEncoded(msg), false, 'AWAITING_CONNECT');
  session.beginHandshake(null);
  assert.equal(session.sendEncoded(msg), false, 'HANDSHAKE');
  session.open('c1');
  assert.equal(session.sendEncoded(msg), true);
  assert.deepEqual(transport.encoded, [msg]);
  assert.equal(host.counters.packetsOut[PacketType.JSON], 1);
  assert.equal(host.counters.bytesOut[PacketType.JSON], 6);
  // Shared bytes are not a sent message here: whoever fanned them out counts those, once.
  assert.equal(host.counters.messagesSent, 0);
  transport.bufferedAmount = 51;
  assert.equal(session.sendEncoded(msg), false);
  assert.equal(host.calls.onSlowConsumer.length, 1);
  transport.bufferedAmount = 0;
  session.close();
  assert.equal(session.sendEncoded(msg), false);
  assert.equal(transport.encoded.length, 1);
  assert.equal(host.counters.packetsOut[PacketType.JSON], 1);
});

test('fail(err) sends an Error packet { event: code, data: { message, ...extra } } and closes with err.closeCode', () => {
  const { session, transport, host } = openSession();
  const err = new StelarError(ErrorCode.PACKET_UNEXPECTED, 'nope');
  session.fail(err, { room: 'r' });
  assert.equal(
    host.counters.errors.reduce((a, b) => a + b),
    1,
    'counted once, by its code',
  );
  assert.deepEqual(transport.packets, [{ type: PacketType.ERROR, event: ErrorCode.PACKET_UNEXPECTED, data: { message: 'nope', room: 'r' } }]);
  assert.deepEqual(transport.closes, [[CloseCode.PROTOCOL_ERROR, 'nope']]);
  assert.equal(session.state, SessionState.CLOSING);
});

test('fail(err) with closeCode 0 only sends the Error packet', () => {
  const { session, transport } = openSession();
  session.fail(new StelarError(ErrorCode.ROOM_LIMIT, 'too many rooms'));
  assert.equal(transport.packets.length, 1);
  assert.equal(transport.packets[0].type, PacketType.ERROR);
  assert.deepEqual(transport.packets[0].data, { message: 'too many rooms' });
  assert.equal(transport.closes.length, 0);
  assert.equal(session.state, SessionState.OPEN);
});

// ---- metadata and rooms --------------------------------------------------------------------

test('metadata is created on first use; getMetadata/metadataObject work without it', () => {
  const { session } = openSession();
  assert.equal(session.getMetadata('a'), undefined);
  assert.deepEqual(session.metadataObject(), {});
  session.metadata.set('a', 1);
  assert.equal(session.getMetadata('a'), 1);
  assert.deepEqual(session.metadataObject(), { a: 1 });
  assert.equal(session.metadata, session.metadata);
});

test('rooms reads the host by the current id, and hands out a fresh Set when empty', () => {
  const { session, host } = openSession();
  const asked = [];
  const shared = new Set();
  host.roomsOf = (id) => {
    asked.push(id);
    return id === 'c9' ? new Set(['lobby']) : shared;
  };
  assert.notEqual(session.rooms, shared);
  assert.equal(session.rooms.size, 0);
  const { session: s2, host: h2 } = makeSession({ id: 'x' });
  h2.roomsOf = host.roomsOf;
  s2.beginHandshake(null);
  s2.open('c9');
  assert.deepEqual([...s2.rooms], ['lobby']);
  assert.ok(asked.includes('c9'));
});

// ---- inbound -------------------------------------------------------------------------------

test('onPacket hands each packet to host.handlePacket and updates lastSeen', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000 });
  const { session, host } = openSession();
  assert.equal(session.lastSeen, 1_000);
  t.mock.timers.tick(5_000);
  session.onPacket(pkt('a'));
  assert.equal(session.lastSeen, 6_000);
  assert.deepEqual(host.calls.handlePacket, ['a']);
  t.mock.timers.tick(1_000);
  session.onInvalid(new StelarError(ErrorCode.PACKET_UNEXPECTED, 'x'));
  assert.equal(session.lastSeen, 7_000, 'an invalid packet is still proof of life');
});

test('packets after close are not handled (lastSeen still moves)', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000 });
  const { session, host } = openSession();
  session.close();
  t.mock.timers.tick(10);
  session.onPacket(pkt('late'));
  assert.deepEqual(host.calls.handlePacket, []);
  assert.equal(session.lastSeen, 1_010);
});

test('while handlePacket is pending, later packets queue and run in order after it settles', async () => {
  const { session, host } = openSession();
  const first = deferred();
  host.reply = (_s, bytes) => (bytes.toString() === 'a' ? first.promise : undefined);
  session.onPacket(pkt('a'));
  session.onPacket(pkt('b'));
  session.onPacket(pkt('c'));
  assert.deepEqual(host.calls.handlePacket, ['a']);
  await flush();
  assert.deepEqual(host.calls.handlePacket, ['a'], 'nothing runs before the pending step settles');
  first.resolve();
  await flush();
  assert.deepEqual(host.calls.handlePacket, ['a', 'b', 'c']);
  session.onPacket(pkt('d'));
  assert.deepEqual(host.calls.handlePacket, ['a', 'b', 'c', 'd'], 'queue gone: next packet runs at once');
});

test('a rejected pending step also releases the queue', async () => {
  const { session, host } = openSession();
  const first = deferred();
  host.reply = (_s, bytes) => (bytes.toString() === 'a' ? first.promise : undefined);
  session.onPacket(pkt('a'));
  session.onPacket(pkt('b'));
  first.reject(new Error('limiter down'));
  await flush();
  assert.deepEqual(host.calls.handlePacket, ['a', 'b']);
});

test('a queued packet that goes async again holds the rest behind it, in order', async () => {
  const { session, host } = openSession();
  const steps = { a: deferred(), c: deferred() };
  host.reply = (_s, bytes) => steps[bytes.toString()]?.promise;
  for (const p of ['a', 'b', 'c', 'd', 'e']) session.onPacket(pkt(p));
  assert.deepEqual(host.calls.handlePacket, ['a']);
  steps.a.resolve();
  await flush();
  assert.deepEqual(host.calls.handlePacket, ['a', 'b', 'c']);
  session.onPacket(pkt('f'));
  assert.deepEqual(host.calls.handlePacket, ['a', 'b', 'c'], 'f waits behind d and e');
  steps.c.resolve();
  await flush();
  assert.deepEqual(host.calls.handlePacket, ['a', 'b', 'c', 'd', 'e', 'f']);
});

test('the queue is bounded by maxBufferedBytes: past it the session closes with 1008', async () => {
  const { session, host, transport } = openSession({ maxBufferedBytes: 10 });
  const first = deferred();
  host.reply = () => first.promise;
  session.onPacket(pkt('x'));
  session.onPacket(pkt('123456'));
  assert.equal(transport.closes.length, 0, '6 queued bytes are under the cap');
  session.onPacket(pkt('abcdef'));
  assert.equal(session.state, SessionState.CLOSING);
  assert.equal(transport.closes.length, 1);
  assert.equal(transport.closes[0][0], CloseCode.POLICY_VIOLATION);
  first.resolve();
  await flush();
  assert.deepEqual(host.calls.handlePacket, ['x'], 'queued packets are dropped once closing');
});

test('closing while a step is pending drops the queued packets', async () => {
  const { session, host } = openSession();
  const first = deferred();
  host.reply = () => first.promise;
  session.onPacket(pkt('a'));
  session.onPacket(pkt('b'));
  session.close();
  first.resolve();
  await flush();
  assert.deepEqual(host.calls.handlePacket, ['a']);
});

test('during the handshake packets are not queued behind the pending handshake (Pings answered at once)', async () => {
  const { session, host } = makeSession();
  const handshake = deferred();
  host.reply = (s, bytes) => {
    if (bytes.toString() === 'connect') {
      s.beginHandshake(null);
      return handshake.promise;
    }
    return undefined;
  };
  session.onPacket(pkt('connect'));
  assert.equal(session.state, SessionState.HANDSHAKE);
  session.onPacket(pkt('ping'));
  assert.deepEqual(host.calls.handlePacket, ['connect', 'ping']);
  session.open('c1');
  session.onPacket(pkt('after-open'));
  assert.deepEqual(host.calls.handlePacket, ['connect', 'ping'], 'once open, packets wait for the handshake step');
  handshake.resolve();
  await flush();
  assert.deepEqual(host.calls.handlePacket, ['connect', 'ping', 'after-open']);
});
