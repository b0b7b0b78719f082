// InFlightRequests (src/server/in-flight.ts) and its hooks in the Dispatcher and StelarContext:
// what counts as a started, unanswered ACK request, what ends it, and the refusal once the
// server drains. No server, no socket: a fake session records what it is asked to send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dispatcher } from '../../dist/server/dispatcher.js';
import { Handlers } from '../../dist/server/handlers.js';
import { InFlightRequests } from '../../dist/server/in-flight.js';
import { resolveOptions } from '../../dist/server/options.js';
import { RateLimits } from '../../dist/server/rate-limiter.js';
import { SessionState } from '../../dist/server/session.js';
import { StatsCounters } from '../../dist/server/stats.js';
import { ErrorCode, PacketType, encodePacket } from '../../dist/protocol/index.js';

function fakeSession(id = 'c1') {
  return {
    id,
    state: SessionState.OPEN,
    protocol: 'ws',
    remoteAddress: '127.0.0.1',
    socket: null,
    req: null,
    metadata: new Map(),
    getMetadata(key) {
      return this.metadata.get(key);
    },
    sent: [],
    sendPacket(packet) {
      encodePacket(packet); // throws on what a real transport could not encode
      this.sent.push(packet);
      return true;
    },
    fail() {},
    close() {},
  };
}

function setup() {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const config = resolveOptions({ logger: quiet, rateLimit: false });
  const handlers = new Handlers();
  const inFlight = new InFlightRequests();
  const dispatcher = new Dispatcher({
    config,
    handlers,
    rateLimits: new RateLimits(config, config.rateLimit, config.eventRateLimits, () => {}),
    rooms: { joinRoom: () => null, leaveRoom: () => null },
    lifecycle: { handshake() {} },
    counters: new StatsCounters(),
    contextHost: { broadcast: () => 0, toId: () => false, joinRoom: () => null, leaveRoom: () => null, roomsOf: () => new Set(), getClients: () => [] },
    inFlight,
    reportInvalid() {},
  });
  return { dispatcher, handlers, inFlight };
}

const ackReq = (event, data = null, ackId = 7) => Buffer.from(encodePacket({ type: PacketType.ACK_REQUEST, event, data, ackId }));
const json = (event, data = null) => Buffer.from(encodePacket({ type: PacketType.JSON, event, data }));
const flush = () => new Promise((resolve) => setImmediate(resolve));
const answers = (session) => session.sent.filter((p) => p.type === PacketType.ACK_RESPONSE).map((p) => [p.ackId, p.ok, p.ok ? p.data : p.data.code]);

test('an async onAck request is in flight until its promise settles and the answer is sent', async () => {
  const { dispatcher, handlers, inFlight } = setup();
  let finish;
  handlers.acks.set('slow', () => new Promise((resolve) => (finish = resolve)));
  const s = fakeSession();
  dispatcher.handle(s, ackReq('slow'));
  assert.equal(inFlight.count, 1);
  const drained = inFlight.whenDrained(5000);
  finish('done');
  assert.equal(await drained, true);
  assert.equal(inFlight.count, 0);
  assert.deepEqual(answers(s), [[7, true, 'done']]);
});

test('a plain handler is in flight until it answers through ctx.ack / ctx.send', async () => {
  const { dispatcher, handlers, inFlight } = setup();
  const held = [];
  handlers.addEvent('later', (ctx) => {
    held.push(ctx);
  });
  const s = fakeSession();
  dispatcher.handle(s, ackReq('later', null, 1));
  dispatcher.handle(s, ackReq('later', null, 2));
  assert.equal(inFlight.count, 2);
  held[0].ack('later', 'a');
  assert.equal(inFlight.count, 1);
  held[1].send('later', 'b');
  assert.equal(inFlight.count, 0);
  held[1].ack('later', 'again'); // a second answer is not a request: the count stays at 0
  assert.equal(inFlight.count, 0);
  assert.deepEqual(answers(s).slice(0, 2), [
    [1, true, 'a'],
    [2, true, 'b'],
  ]);
});

test('answered at once (sync value, throw, no handler, unencodable answer): nothing stays in flight', async () => {
  const { dispatcher, handlers, inFlight } = setup();
  handlers.acks.set('sync', () => 42);
  handlers.acks.set('throws', () => {
    throw new Error('nope');
  });
  handlers.acks.set('bigint', () => 1n);
  handlers.acks.set('rejects', async () => {
    throw new Error('later nope');
  });
  const s = fakeSession();
  dispatcher.handle(s, ackReq('sync', null, 1));
  dispatcher.handle(s, ackReq('throws', null, 2));
  dispatcher.handle(s, ackReq('nobody', null, 3));
  dispatcher.handle(s, ackReq('bigint', null, 4));
  dispatcher.handle(s, ackReq('rejects', null, 5));
  await flush();
  assert.equal(inFlight.count, 0);
  assert.deepEqual(answers(s), [
    [1, true, 42],
    [2, false, ErrorCode.ACK_FAILED],
    [3, false, ErrorCode.NO_ACK_HANDLER],
    [4, false, ErrorCode.ACK_FAILED],
    [5, false, ErrorCode.ACK_FAILED],
  ]);
});

test('draining: a new request is refused with STELAR_ERR_SHUTTING_DOWN and its handler is not called; plain events still run', () => {
  const { dispatcher, handlers, inFlight } = setup();
  const calls = [];
  handlers.acks.set('work', () => calls.push('ack'));
  handlers.addEvent('note', () => calls.push('event'));
  inFlight.drain();
  const s = fakeSession();
  dispatcher.handle(s, ackReq('work', null, 9));
  dispatcher.handle(s, json('note'));
  assert.deepEqual(calls, ['event']);
  assert.deepEqual(answers(s), [[9, false, ErrorCode.SHUTTING_DOWN]]);
  assert.equal(inFlight.count, 0);
  inFlight.reset();
  dispatcher.handle(s, ackReq('work', null, 10));
  assert.deepEqual(calls, ['event', 'ack']);
});

test('a closing or gone session no longer holds the wait; an unanswered one times out with false', async () => {
  const { dispatcher, handlers, inFlight } = setup();
  handlers.acks.set('hang', () => new Promise(() => {}));
  const a = fakeSession('a');
  const b = fakeSession('b');
  dispatcher.handle(a, ackReq('hang'));
  dispatcher.handle(b, ackReq('hang'));
  assert.equal(inFlight.count, 2);
  a.state = SessionState.CLOSING; // its answer could not be delivered any more
  assert.equal(inFlight.count, 1);
  const drained = inFlight.whenDrained(5000);
  inFlight.release(b); // the session is gone (SessionHost.onClosed)
  assert.equal(await drained, true);

  const c = fakeSession('c');
  dispatcher.handle(c, ackReq('hang'));
  const t0 = Date.now();
  assert.equal(await inFlight.whenDrained(150), false);
  const took = Date.now() - t0;
  assert.ok(took >= 140 && took < 2000, `timed out after ${took} ms`);
  inFlight.release(c);
  assert.equal(inFlight.count, 0);
});
