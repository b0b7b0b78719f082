// Dispatcher (src/server/dispatcher.ts) without a server or a socket: the real config
// (resolveOptions), Handlers, RateLimits and StatsCounters, with fakes for rooms, lifecycle
// and the context host, and a fake session recording what it is asked to send/fail/close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dispatcher } from '../../dist/server/dispatcher.js';
import { Handlers } from '../../dist/server/handlers.js';
import { resolveOptions } from '../../dist/server/options.js';
import { RateLimits } from '../../dist/server/rate-limiter.js';
import { SessionState } from '../../dist/server/session.js';
import { StatsCounters } from '../../dist/server/stats.js';
import { CloseCode, ErrorCode, PacketType, StelarError, encodePacket } from '../../dist/protocol/index.js';

function recordingLogger() {
  const logs = { debug: [], info: [], warn: [], error: [] };
  const logger = {};
  for (const level of Object.keys(logs)) logger[level] = (...args) => logs[level].push(args);
  return { logger, logs };
}

/** Stands in for a Session: what the dispatcher and StelarContext read and call. */
function fakeSession(state = SessionState.OPEN, id = 'c1') {
  return {
    id,
    state,
    protocol: 'ws',
    remoteAddress: '127.0.0.7',
    socket: null,
    req: null,
    metadata: new Map(),
    getMetadata(key) {
      return this.metadata.get(key);
    },
    sent: [],
    failed: [],
    closed: [],
    sendPacket(packet) {
      // Encoded like a real transport would, so an unencodable packet throws here too.
      encodePacket(packet);
      this.sent.push(packet);
      return true;
    },
    fail(err, extra) {
      this.failed.push({ err, extra });
    },
    close(code, reason) {
      this.closed.push([code, reason]);
    },
    invalidPackets: 0,
    noteInvalid() {
      return ++this.invalidPackets;
    },
  };
}

function setup({ options = {}, customRateLimiter } = {}) {
  const { logger, logs } = recordingLogger();
  const hookCalls = [];
  const config = resolveOptions({ logger, ...options });
  if (customRateLimiter) config.customRateLimiter = customRateLimiter;
  const handlers = new Handlers();
  const asyncErrors = [];
  const rateLimits = new RateLimits(config, config.rateLimit, config.eventRateLimits, (err) => asyncErrors.push(err));
  const counters = new StatsCounters();
  const rooms = {
    calls: [],
    refusal: null,
    joinRoom(session, room) {
      this.calls.push(['join', session.id, room]);
      return this.refusal;
    },
    leaveRoom(session, room) {
      this.calls.push(['leave', session.id, room]);
      return this.refusal;
    },
  };
  const lifecycle = {
    calls: [],
    result: undefined,
    handshake(session, packet) {
      this.calls.push({ session, packet });
      return this.result;
    },
  };
  const contextHost = {
    broadcast: () => 0,
    toId: () => false,
    joinRoom: () => null,
    leaveRoom: () => null,
    roomsOf: () => new Set(),
    getClients: () => [],
  };
  const refresh = {
    awaiting: false,
    answers: [],
    awaitsAnswer() {
      return this.awaiting;
    },
    answer(session, packet) {
      this.answers.push({ session, packet });
    },
  };
  const invalid = [];
  const dispatcher = new Dispatcher({
    config,
    handlers,
    rateLimits,
    rooms,
    lifecycle,
    refresh,
    counters,
    contextHost,
    reportInvalid: (session, err) => invalid.push({ session, err }),
  });
  return { dispatcher, config, handlers, rateLimits, counters, rooms, lifecycle, refresh, invalid, logs, hookCalls, asyncErrors };
}

const bytes = (packet) => Buffer.from(encodePacket(packet));
const json = (event, data) => bytes({ type: PacketType.JSON, event, data });
const ackReq = (event, data, ackId = 7, ackName) => bytes({ type: PacketType.ACK_REQUEST, event, data, ackId, ackName });
const flush = () => new Promise((resolve) => setImmediate(resolve));

// ---- size, decoding, state -----------------------------------------------------------------

test('an oversized ACK request runs onPayloadTooLarge, gets an error ACK response with its ackId, and an Error packet', () => {
  const seen = [];
  const { dispatcher, handlers, lifecycle } = setup({ options: { maxPayloadSize: 64, hooks: { onPayloadTooLarge: (info) => seen.push(info) } } });
  let ran = false;
  handlers.acks.set('big', () => {
    ran = true;
  });
  const session = fakeSession();
  const packet = ackReq('big', 'x'.repeat(200), 42);
  dispatcher.handle(session, packet);
  assert.equal(ran, false);
  assert.equal(lifecycle.calls.length, 0);
  assert.deepEqual(seen, [{ clientId: 'c1', event: 'big', size: packet.length, max: 64, protocol: 'ws' }]);
  assert.equal(session.sent.length, 1);
  const [res] = session.sent;
  assert.equal(res.type, PacketType.ACK_RESPONSE);
  assert.equal(res.ackId, 42);
  assert.equal(res.event, 'big');
  assert.equal(res.ok, false);
  assert.equal(res.data.code, ErrorCode.PAYLOAD_TOO_LARGE);
  assert.equal(session.failed.length, 1);
  assert.equal(session.failed[0].err.code, ErrorCode.PAYLOAD_TOO_LARGE);
  assert.equal(session.failed[0].err.closeCode, 0, 'an oversized packet does not end the connection');
  assert.deepEqual(session.failed[0].extra, { event: 'big', size: packet.length, max: 64 });
});

test('an oversized ACK request uses its ack name in the response when it has one', () => {
  const { dispatcher } = setup({ options: { maxPayloadSize: 64 } });
  const session = fakeSession();
  dispatcher.handle(session, ackReq('evt', 'y'.repeat(200), 3, 'other'));
  assert.equal(session.sent[0].event, 'other');
  assert.equal(session.sent[0].ackId, 3);
});

test('an oversized plain event gets only the Error (no ACK response); at exactly maxPayloadSize it is handled', () => {
  const { dispatcher, handlers } = setup({ options: { maxPayloadSize: 64 } });
  const got = [];
  handlers.addEvent('e', (ctx) => got.push(ctx.data));
  const session = fakeSession();
  dispatcher.handle(session, json('e', 'z'.repeat(100)));
  assert.equal(session.sent.length, 0);
  assert.equal(session.failed.length, 1);
  let fits = json('e', '');
  fits = json('e', 'a'.repeat(64 - fits.length));
  assert.equal(fits.length, 64);
  dispatcher.handle(session, fits);
  assert.equal(got.length, 1);
});

test('an oversized ACK request before acceptance is refused with an ACK response too (every refused request settles)', () => {
  const { dispatcher } = setup({ options: { maxHandshakePayloadSize: 64 } });
  const session = fakeSession(SessionState.AWAITING_CONNECT);
  dispatcher.handle(session, ackReq('big', 'x'.repeat(200), 42));
  assert.equal(session.sent.length, 1);
  assert.deepEqual(
    { type: session.sent[0].type, ackId: session.sent[0].ackId, ok: session.sent[0].ok, code: session.sent[0].data.code },
    { type: PacketType.ACK_RESPONSE, ackId: 42, ok: false, code: ErrorCode.PAYLOAD_TOO_LARGE },
  );
  assert.equal(session.failed[0].err.code, ErrorCode.PAYLOAD_TOO_LARGE);
  assert.equal(session.failed[0].err.closeCode, CloseCode.MESSAGE_TOO_BIG);
});

test('an ACK request before acceptance is refused (ACK response, then Error PACKET_UNEXPECTED and 1002) without its body being read', () => {
  const { dispatcher, lifecycle } = setup();
  const session = fakeSession(SessionState.AWAITING_CONNECT);
  const bytes = Buffer.from(ackReq('early', 1, 9));
  bytes[bytes.length - 1] = 0xff; // the body is not valid UTF-8: never looked at
  dispatcher.handle(session, bytes);
  assert.equal(lifecycle.calls.length, 0);
  assert.deepEqual([session.sent[0].type, session.sent[0].ackId, session.sent[0].ok], [PacketType.ACK_RESPONSE, 9, false]);
  assert.equal(session.sent[0].data.code, ErrorCode.PACKET_UNEXPECTED);
  assert.equal(session.failed[0].err.code, ErrorCode.PACKET_UNEXPECTED);
  assert.equal(session.failed[0].err.closeCode, CloseCode.PROTOCOL_ERROR);
});

test('an ACK request with ackId 0 is refused: ACK response with id 0, Error PACKET_INVALID_ACK_ID, counted invalid, no handler runs', () => {
  const { dispatcher, handlers } = setup();
  let ran = 0;
  handlers.acks.set('x', () => ran++);
  const session = fakeSession();
  dispatcher.handle(session, ackReq('x', 1, 0));
  assert.equal(ran, 0);
  assert.deepEqual([session.sent[0].type, session.sent[0].ackId, session.sent[0].ok, session.sent[0].event], [PacketType.ACK_RESPONSE, 0, false, 'x']);
  assert.equal(session.sent[0].data.code, ErrorCode.PACKET_INVALID_ACK_ID);
  assert.equal(session.failed[0].err.code, ErrorCode.PACKET_INVALID_ACK_ID);
  assert.equal(session.failed[0].err.closeCode, 0);
  assert.equal(session.invalidPackets, 1);
});

test('an undecodable packet is reported and the session fails with the decode error', () => {
  const { dispatcher, counters } = setup();
  const session = fakeSession();
  dispatcher.handle(session, Buffer.from([99, 0, 0]));
  assert.equal(session.failed.length, 1);
  assert.equal(session.failed[0].err.code, ErrorCode.PACKET_UNKNOWN_TYPE);
  assert.equal(session.failed[0].err.closeCode, CloseCode.PROTOCOL_ERROR);
  assert.equal(counters.messagesReceived, 0);
});

test('reportInvalid receives the session and the same error the session fails with', () => {
  const { dispatcher, invalid } = setup();
  const session = fakeSession();
  dispatcher.handle(session, Buffer.from([PacketType.JSON, 0]));
  assert.equal(invalid.length, 1);
  assert.equal(invalid[0].session, session);
  assert.equal(invalid[0].err.code, ErrorCode.PACKET_TRUNCATED);
  assert.equal(session.failed[0].err, invalid[0].err);
});

test('bad JSON is refused with PACKET_INVALID_JSON', () => {
  const { dispatcher } = setup();
  const session = fakeSession();
  const packet = Buffer.concat([json('e'), Buffer.from('{nope')]);
  dispatcher.handle(session, packet);
  assert.equal(session.failed[0].err.code, ErrorCode.PACKET_INVALID_JSON);
});

test('a first packet that is not Connect is refused with 1002', () => {
  const { dispatcher, lifecycle, invalid, handlers } = setup();
  let ran = false;
  handlers.addEvent('e', () => {
    ran = true;
  });
  const session = fakeSession(SessionState.AWAITING_CONNECT);
  dispatcher.handle(session, json('e', 1));
  assert.equal(ran, false);
  assert.equal(lifecycle.calls.length, 0);
  assert.equal(invalid.length, 1);
  assert.equal(session.failed[0].err.code, ErrorCode.PACKET_UNEXPECTED);
  assert.equal(session.failed[0].err.closeCode, 1002);
});

test('Connect in AWAITING_CONNECT goes to lifecycle.handshake (its Promise is returned); a second Connect during the handshake is refused', async () => {
  const { dispatcher, lifecycle } = setup();
  const session = fakeSession(SessionState.AWAITING_CONNECT);
  const pending = Promise.resolve();
  lifecycle.result = pending;
  const out = dispatcher.handle(session, bytes({ type: PacketType.CONNECT, event: '', data: { auth: { token: 't' } } }));
  assert.equal(out, pending);
  assert.equal(lifecycle.calls.length, 1);
  assert.equal(lifecycle.calls[0].session, session);
  assert.equal(lifecycle.calls[0].packet.type, PacketType.CONNECT);
  assert.deepEqual(lifecycle.calls[0].packet.data, { auth: { token: 't' } });
  session.state = SessionState.HANDSHAKE;
  dispatcher.handle(session, bytes({ type: PacketType.CONNECT, event: '' }));
  assert.equal(lifecycle.calls.length, 1);
  assert.equal(session.failed[0].err.closeCode, 1002);
});

test('a Connect on an open session is ignored (proof of life, no handshake) unless fresh credentials were asked for', () => {
  const { dispatcher, lifecycle, refresh } = setup();
  const session = fakeSession();
  dispatcher.handle(session, bytes({ type: PacketType.CONNECT, event: '', data: { v: 1, auth: 'a' } }));
  assert.equal(lifecycle.calls.length, 0);
  assert.equal(refresh.answers.length, 0);
  assert.equal(session.failed.length, 0);
  assert.equal(session.sent.length, 0);
  // Asked: the Connect is the answer, decoded and handed over (never to the handshake).
  refresh.awaiting = true;
  dispatcher.handle(session, bytes({ type: PacketType.CONNECT, event: '', data: { v: 1, auth: 'b' } }));
  assert.equal(lifecycle.calls.length, 0);
  assert.equal(refresh.answers.length, 1);
  assert.deepEqual(refresh.answers[0].packet.data, { v: 1, auth: 'b' });
});

test('an answer with fresh credentials above the handshake size limit is refused (1009) before it is decoded', () => {
  const { dispatcher, refresh } = setup({ options: { maxHandshakePayloadSize: 1024 } });
  refresh.awaiting = true;
  const session = fakeSession();
  dispatcher.handle(session, bytes({ type: PacketType.CONNECT, event: '', data: { v: 1, auth: 'x'.repeat(2000) } }));
  assert.equal(refresh.answers.length, 0);
  assert.equal(session.failed.length, 1);
  assert.equal(session.failed[0].err.code, ErrorCode.PAYLOAD_TOO_LARGE);
  assert.equal(session.failed[0].err.closeCode, 1009);
});

test('Ping is answered with a Pong carrying the same event and body, in every live state, and is not counted', () => {
  const { dispatcher, counters } = setup();
  for (const state of [SessionState.AWAITING_CONNECT, SessionState.HANDSHAKE, SessionState.OPEN]) {
    const session = fakeSession(state);
    dispatcher.handle(session, bytes({ type: PacketType.PING, event: 'hb', data: Buffer.from([1, 2, 3]) }));
    assert.equal(session.sent.length, 1, `state ${state}`);
    assert.equal(session.sent[0].type, PacketType.PONG);
    assert.equal(session.sent[0].event, 'hb');
    assert.deepEqual(Buffer.from(session.sent[0].data), Buffer.from([1, 2, 3]));
    assert.equal(session.failed.length, 0);
  }
  assert.equal(counters.messagesReceived, 0);
});

test('a Disconnect packet closes the session with 1000', () => {
  const { dispatcher } = setup();
  const session = fakeSession();
  dispatcher.handle(session, bytes({ type: PacketType.DISCONNECT, event: '' }));
  assert.deepEqual(session.closed, [[1000, 'client disconnected']]);
});

// ---- events --------------------------------------------------------------------------------

test('a JSON event runs onAll handlers then on(event) handlers, each with a context carrying the payload', () => {
  const { dispatcher, handlers, counters } = setup();
  const order = [];
  const contexts = [];
  handlers.all.push((ctx) => {
    order.push('all');
    contexts.push(ctx);
  });
  handlers.addEvent('chat', (ctx) => {
    order.push('chat1');
    contexts.push(ctx);
  });
  handlers.addEvent('chat', () => order.push('chat2'));
  handlers.addEvent('other', () => order.push('other'));
  const session = fakeSession();
  dispatcher.handle(session, json('chat', { text: 'hi', n: 2 }));
  assert.deepEqual(order, ['all', 'chat1', 'chat2']);
  assert.equal(contexts[0], contexts[1], 'one context per message');
  assert.deepEqual(contexts[0].data, { text: 'hi', n: 2 });
  assert.equal(contexts[0].eventName, 'chat');
  assert.equal(contexts[0].id, 'c1');
  assert.equal(contexts[0].awaitingAck, false);
  assert.equal(counters.messagesReceived, 1);
});

test('a binary event hands the handler the bytes', () => {
  const { dispatcher, handlers } = setup();
  let got;
  handlers.addEvent('bin', (ctx) => {
    got = ctx.data;
  });
  dispatcher.handle(fakeSession(), bytes({ type: PacketType.BINARY, event: 'bin', data: Buffer.from('abc') }));
  assert.ok(Buffer.isBuffer(got));
  assert.equal(got.toString(), 'abc');
});

test('a handler that throws is logged and the next handlers still run', async () => {
  const { dispatcher, handlers, logs } = setup();
  const ran = [];
  handlers.addEvent('e', () => {
    throw new Error('boom');
  });
  handlers.addEvent('e', async () => {
    throw new Error('async boom');
  });
  handlers.addEvent('e', () => ran.push('third'));
  const session = fakeSession();
  assert.doesNotThrow(() => dispatcher.handle(session, json('e', 1)));
  assert.deepEqual(ran, ['third']);
  await flush();
  assert.equal(logs.error.length, 2);
  assert.match(String(logs.error[0][0]), /on\('e'\) handler threw/);
  assert.match(String(logs.error[1][0]), /on\('e'\) handler failed/);
  assert.equal(session.failed.length, 0);
});

test('an event nobody listens to is counted and dropped quietly', () => {
  const { dispatcher, counters } = setup();
  const session = fakeSession();
  dispatcher.handle(session, json('nobody', 1));
  assert.equal(counters.messagesReceived, 1);
  assert.equal(session.sent.length, 0);
  assert.equal(session.failed.length, 0);
});

test('an invalid event name is counted, reported and refused; handlers do not run', () => {
  const { dispatcher, handlers, counters, invalid } = setup({ options: { maxEventNameLength: 4 } });
  let ran = 0;
  handlers.all.push(() => ran++);
  handlers.addEvent('toolong', () => ran++);
  const session = fakeSession();
  dispatcher.handle(session, json('toolong', 1));
  dispatcher.handle(session, json('', 1));
  assert.equal(ran, 0);
  assert.equal(counters.messagesReceived, 2);
  assert.equal(invalid.length, 2);
  assert.equal(session.failed.length, 2);
  for (const { err } of session.failed) {
    assert.equal(err.code, ErrorCode.PACKET_INVALID_EVENT);
    assert.equal(err.closeCode, 0);
  }
  assert.equal(session.sent.length, 0, 'no ACK response for a plain event');
});

test('an ACK request with an invalid event name also gets an error ACK response', () => {
  const { dispatcher } = setup({ options: { maxEventNameLength: 4 } });
  const session = fakeSession();
  dispatcher.handle(session, ackReq('toolong', 1, 9));
  assert.equal(session.sent.length, 1);
  assert.equal(session.sent[0].type, PacketType.ACK_RESPONSE);
  assert.equal(session.sent[0].ackId, 9);
  assert.equal(session.sent[0].ok, false);
  assert.equal(session.sent[0].data.code, ErrorCode.PACKET_INVALID_EVENT);
});

// ---- rate limits ---------------------------------------------------------------------------

test('over the global rate limit: onRateLimitExceeded runs, the message is dropped and the client is disconnected (4008)', () => {
  const seen = [];
  const { dispatcher, handlers, counters } = setup({
    options: { rateLimit: { maxPoints: 1, windowMs: 60_000 }, hooks: { onRateLimitExceeded: (info) => seen.push(info) } },
  });
  let ran = 0;
  handlers.addEvent('e', () => ran++);
  const session = fakeSession();
  dispatcher.handle(session, json('e', 1));
  dispatcher.handle(session, json('e', 2));
  assert.equal(ran, 1);
  assert.equal(counters.messagesReceived, 2);
  assert.deepEqual(seen, [{ clientId: 'c1', event: 'e', protocol: 'ws', ip: '127.0.0.7', scope: 'global' }]);
  assert.equal(session.failed.length, 1);
  assert.equal(session.failed[0].err.code, ErrorCode.RATE_LIMITED);
  assert.equal(session.failed[0].err.closeCode, CloseCode.RATE_LIMITED);
  assert.deepEqual(session.failed[0].extra, { event: 'e', scope: 'global' });
});

test('onRateLimitExceeded returning false keeps the client connected (closeCode 0)', () => {
  const { dispatcher } = setup({ options: { rateLimit: { maxPoints: 1, windowMs: 60_000 }, hooks: { onRateLimitExceeded: () => false } } });
  const session = fakeSession();
  dispatcher.handle(session, json('e', 1));
  dispatcher.handle(session, json('e', 2));
  assert.equal(session.failed[0].err.closeCode, 0);
});

test('a rate-limited ACK request gets an error ACK response; per-event limits report scope "event"', () => {
  const { dispatcher, handlers } = setup({ options: { eventRateLimits: { ask: { maxPoints: 1, windowMs: 60_000 } } } });
  handlers.acks.set('ask', () => 'yes');
  const session = fakeSession();
  dispatcher.handle(session, ackReq('ask', null, 1));
  dispatcher.handle(session, ackReq('ask', null, 2));
  assert.deepEqual(
    session.sent.map((p) => [p.ackId, p.ok]),
    [
      [1, true],
      [2, false],
    ],
  );
  assert.equal(session.sent[1].data.code, ErrorCode.RATE_LIMITED);
  assert.equal(session.failed[0].extra.scope, 'event');
});

test('an async custom limiter: handle returns a Promise and the handler runs after its verdict', async () => {
  const checks = [];
  const limiter = {
    check: (id, cost) => {
      checks.push([id, cost]);
      return Promise.resolve(checks.length === 1);
    },
    reset() {},
    cleanup() {},
    size: () => 0,
  };
  const { dispatcher, handlers } = setup({ customRateLimiter: limiter });
  const ran = [];
  handlers.addEvent('e', (ctx) => ran.push(ctx.data));
  const session = fakeSession();
  const first = dispatcher.handle(session, json('e', 1));
  assert.ok(first instanceof Promise);
  assert.deepEqual(ran, []);
  await first;
  assert.deepEqual(ran, [1]);
  await dispatcher.handle(session, json('e', 2));
  assert.deepEqual(ran, [1]);
  assert.equal(session.failed[0].extra.scope, 'custom');
  assert.deepEqual(checks, [
    ['c1', 1],
    ['c1', 1],
  ]);
});

test('a custom limiter that rejects is logged and the message is allowed', async () => {
  const limiter = { check: () => Promise.reject(new Error('redis down')), reset() {}, cleanup() {}, size: () => 0 };
  const { dispatcher, handlers, logs } = setup({ customRateLimiter: limiter });
  let ran = 0;
  handlers.addEvent('e', () => ran++);
  await dispatcher.handle(fakeSession(), json('e', 1));
  assert.equal(ran, 1);
  assert.equal(logs.error.length, 1);
  assert.match(String(logs.error[0][0]), /custom rate limiter failed/);
});

test('a session that closed while the async limiter decided gets nothing routed', async () => {
  const limiter = { check: () => Promise.resolve(true), reset() {}, cleanup() {}, size: () => 0 };
  const { dispatcher, handlers } = setup({ customRateLimiter: limiter });
  let ran = 0;
  handlers.addEvent('e', () => ran++);
  const session = fakeSession();
  const pending = dispatcher.handle(session, json('e', 1));
  session.state = SessionState.CLOSING;
  await pending;
  assert.equal(ran, 0);
});

// ---- ACK -----------------------------------------------------------------------------------

test("an onAck handler's sync return value is the ACK response (ok, same ackId and name)", () => {
  const { dispatcher, handlers } = setup();
  let ctxSeen;
  handlers.acks.set('sum', (ctx) => {
    ctxSeen = ctx;
    return ctx.data.a + ctx.data.b;
  });
  const session = fakeSession();
  dispatcher.handle(session, ackReq('sum', { a: 2, b: 3 }, 11));
  assert.deepEqual(session.sent, [{ type: PacketType.ACK_RESPONSE, event: 'sum', ackId: 11, ok: true, data: 5 }]);
  assert.equal(ctxSeen.awaitingAck, false, 'answered');
});

test('an onAck handler returning undefined still answers (ok, no data)', () => {
  const { dispatcher, handlers } = setup();
  handlers.acks.set('void', () => undefined);
  const session = fakeSession();
  dispatcher.handle(session, ackReq('void', null, 4));
  assert.equal(session.sent.length, 1);
  assert.equal(session.sent[0].ok, true);
  assert.equal(session.sent[0].data, undefined);
});

test('the ack name selects the onAck handler when it differs from the event', () => {
  const { dispatcher, handlers } = setup();
  handlers.acks.set('named', (ctx) => `named:${ctx.eventName}`);
  handlers.acks.set('evt', () => 'wrong');
  const session = fakeSession();
  dispatcher.handle(session, ackReq('evt', null, 5, 'named'));
  assert.equal(session.sent[0].event, 'named');
  assert.equal(session.sent[0].data, 'named:evt');
});

test("an async onAck handler's resolved value is the ACK response", async () => {
  const { dispatcher, handlers } = setup();
  handlers.acks.set('later', async (ctx) => ({ echoed: ctx.data }));
  const session = fakeSession();
  dispatcher.handle(session, ackReq('later', 'x', 6));
  assert.equal(session.sent.length, 0);
  await flush();
  assert.deepEqual(session.sent, [{ type: PacketType.ACK_RESPONSE, event: 'later', ackId: 6, ok: true, data: { echoed: 'x' } }]);
});

test('an onAck handler that throws answers ok:false with { message, code } (ACK_FAILED unless the error has a code)', () => {
  const { dispatcher, handlers } = setup();
  handlers.acks.set('plain', () => {
    throw new Error('bad input');
  });
  handlers.acks.set('coded', () => {
    throw new StelarError(ErrorCode.ROOM_LIMIT, 'coded failure');
  });
  const session = fakeSession();
  dispatcher.handle(session, ackReq('plain', null, 1));
  dispatcher.handle(session, ackReq('coded', null, 2));
  assert.deepEqual(session.sent[0], {
    type: PacketType.ACK_RESPONSE,
    event: 'plain',
    ackId: 1,
    ok: false,
    data: { message: 'bad input', code: ErrorCode.ACK_FAILED },
  });
  assert.deepEqual(session.sent[1].data, { message: 'coded failure', code: ErrorCode.ROOM_LIMIT });
  assert.equal(session.failed.length, 0, 'a failing handler does not fail the session');
});

test('an async onAck handler that rejects answers ok:false', async () => {
  const { dispatcher, handlers } = setup();
  handlers.acks.set('rej', async () => {
    throw new Error('later failure');
  });
  const session = fakeSession();
  dispatcher.handle(session, ackReq('rej', null, 8));
  await flush();
  assert.deepEqual(session.sent, [
    { type: PacketType.ACK_RESPONSE, event: 'rej', ackId: 8, ok: false, data: { message: 'later failure', code: ErrorCode.ACK_FAILED } },
  ]);
});

test('an ACK request nobody handles is answered with NO_ACK_HANDLER', () => {
  const { dispatcher } = setup();
  const session = fakeSession();
  dispatcher.handle(session, ackReq('missing', null, 12));
  assert.equal(session.sent.length, 1);
  assert.equal(session.sent[0].ok, false);
  assert.equal(session.sent[0].ackId, 12);
  assert.equal(session.sent[0].data.code, ErrorCode.NO_ACK_HANDLER);
  assert.match(session.sent[0].data.message, /missing/);
});

test('a plain on(event) handler answers an ACK request by returning a value; returning undefined leaves it unanswered', () => {
  const { dispatcher, handlers } = setup();
  handlers.addEvent('value', () => 'v');
  handlers.addEvent('silent', () => undefined);
  handlers.addEvent('manual', (ctx) => {
    ctx.ack('manual', 'by hand');
  });
  const session = fakeSession();
  dispatcher.handle(session, ackReq('value', null, 1));
  dispatcher.handle(session, ackReq('silent', null, 2));
  dispatcher.handle(session, ackReq('manual', null, 3));
  assert.deepEqual(
    session.sent.map((p) => [p.ackId, p.ok, p.data]),
    [
      [1, true, 'v'],
      [3, true, 'by hand'],
    ],
  );
});

test('an answer that cannot be encoded is logged and answered with ACK_FAILED instead of throwing', () => {
  const { dispatcher, handlers, logs } = setup();
  handlers.acks.set('big', () => 10n);
  const session = fakeSession();
  assert.doesNotThrow(() => dispatcher.handle(session, ackReq('big', null, 77)));
  assert.equal(session.sent.length, 1);
  assert.equal(session.sent[0].ok, false);
  assert.equal(session.sent[0].ackId, 77);
  assert.equal(session.sent[0].data.code, ErrorCode.ACK_FAILED);
  assert.equal(logs.error.length, 1);
});

// ---- rooms ---------------------------------------------------------------------------------

test('Join/Leave go to the room policy and are echoed on success', () => {
  const { dispatcher, rooms, counters } = setup();
  const session = fakeSession();
  dispatcher.handle(session, bytes({ type: PacketType.JOIN_ROOM, event: 'lobby' }));
  dispatcher.handle(session, bytes({ type: PacketType.LEAVE_ROOM, event: 'lobby' }));
  assert.deepEqual(rooms.calls, [
    ['join', 'c1', 'lobby'],
    ['leave', 'c1', 'lobby'],
  ]);
  assert.deepEqual(session.sent, [
    { type: PacketType.JOIN_ROOM, event: 'lobby' },
    { type: PacketType.LEAVE_ROOM, event: 'lobby' },
  ]);
  assert.equal(counters.messagesReceived, 2);
});

test('a refused Join/Leave fails with the refusal and the room, and is not echoed', () => {
  const { dispatcher, rooms } = setup();
  const refusal = new StelarError(ErrorCode.ROOM_LIMIT, 'full');
  rooms.refusal = refusal;
  const session = fakeSession();
  dispatcher.handle(session, bytes({ type: PacketType.JOIN_ROOM, event: 'vip' }));
  dispatcher.handle(session, bytes({ type: PacketType.LEAVE_ROOM, event: 'jail' }));
  assert.equal(session.sent.length, 0);
  assert.deepEqual(
    session.failed.map(({ err, extra }) => [err, extra]),
    [
      [refusal, { room: 'vip' }],
      [refusal, { room: 'jail' }],
    ],
  );
});

test('Join is rate limited under the global tier too', () => {
  const { dispatcher, rooms } = setup({ options: { rateLimit: { maxPoints: 1, windowMs: 60_000 } } });
  const session = fakeSession();
  dispatcher.handle(session, bytes({ type: PacketType.JOIN_ROOM, event: 'a' }));
  dispatcher.handle(session, bytes({ type: PacketType.JOIN_ROOM, event: 'b' }));
  assert.equal(rooms.calls.length, 1);
  assert.equal(session.failed[0].err.code, ErrorCode.RATE_LIMITED);
});

test('Join before acceptance is refused as a non-Connect first packet', () => {
  const { dispatcher, rooms } = setup();
  const session = fakeSession(SessionState.HANDSHAKE);
  dispatcher.handle(session, bytes({ type: PacketType.JOIN_ROOM, event: 'a' }));
  assert.equal(rooms.calls.length, 0);
  assert.equal(session.failed[0].err.closeCode, 1002);
});
