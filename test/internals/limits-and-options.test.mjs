// The pure policy modules of the server, one to one: limits.ts (names, admission, room
// joins), options.ts (resolve / runtime patch / snapshot), rate-limiter.ts (RateLimits tier
// priority and management) and rooms.ts (RoomPolicy over a real MemoryAdapter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitConnection, checkRoomJoin, validName } from '../../dist/server/limits.js';
import { DEFAULTS, applyRuntimeConfig, describeConfig, resolveOptions } from '../../dist/server/options.js';
import { RateLimits } from '../../dist/server/rate-limiter.js';
import { RoomPolicy } from '../../dist/server/rooms.js';
import { SessionState } from '../../dist/server/session.js';
import { MemoryAdapter } from '../../dist/adapter/memory.js';
import { ErrorCode } from '../../dist/protocol/index.js';

function recordingLogger() {
  const logs = { debug: [], info: [], warn: [], error: [] };
  const logger = {};
  for (const level of Object.keys(logs)) logger[level] = (...args) => logs[level].push(args);
  return { logger, logs };
}

const config = (options = {}) => resolveOptions({ logger: false, ...options });

// ---- validName -----------------------------------------------------------------------------

test('validName: non-empty strings within the UTF-8 byte limit only', () => {
  assert.equal(validName('a', 1), true);
  assert.equal(validName('abcd', 4), true);
  assert.equal(validName('abcde', 4), false);
  assert.equal(validName('', 10), false);
  for (const bad of [undefined, null, 1, {}, ['a']]) assert.equal(validName(bad, 10), false, String(bad));
});

test('validName counts UTF-8 bytes, not UTF-16 units', () => {
  assert.equal(validName('éé', 4), true, 'é is 2 bytes');
  assert.equal(validName('ééé', 5), false);
  assert.equal(validName('€', 3), true, '€ is 3 bytes');
  assert.equal(validName('€', 2), false);
  assert.equal(validName('😀', 4), true, 'a surrogate pair is 4 bytes');
  assert.equal(validName('😀', 3), false);
});

// ---- admitConnection -----------------------------------------------------------------------

function tracker({ allow = true, count = 0, throws = false } = {}) {
  return {
    checked: [],
    check(ip) {
      this.checked.push(ip);
      if (throws) throw new Error('tracker broke');
      return allow;
    },
    add() {},
    remove() {},
    getCount: () => count,
    cleanup() {},
  };
}

test('admitConnection: under both limits is admitted (null) and the tracker is asked about the ip', () => {
  const t = tracker();
  assert.equal(admitConnection(config({ maxConnections: 2 }), 1, t, '1.1.1.1', 'ws'), null);
  assert.deepEqual(t.checked, ['1.1.1.1']);
});

test('admitConnection: at maxConnections the server is full, the hook is told, and the tracker is not consulted', () => {
  const seen = [];
  const c = config({ maxConnections: 2, hooks: { onMaxConnectionsReached: (i) => seen.push(i) } });
  const t = tracker();
  const err = admitConnection(c, 2, t, '1.1.1.1', 'tcp');
  assert.equal(err.code, ErrorCode.SERVER_FULL);
  assert.deepEqual(seen, [{ activeConnections: 2, max: 2, ip: '1.1.1.1', protocol: 'tcp', reason: 'maxConnections' }]);
  assert.deepEqual(t.checked, []);
});

test('admitConnection: a tracker refusal is TOO_MANY_FROM_IP with the per-ip count in the hook', () => {
  const seen = [];
  const c = config({ maxConnectionsPerIP: 3, hooks: { onMaxConnectionsReached: (i) => seen.push(i) } });
  const err = admitConnection(c, 0, tracker({ allow: false, count: 3 }), '2.2.2.2', 'ws');
  assert.equal(err.code, ErrorCode.TOO_MANY_FROM_IP);
  assert.match(err.message, /2\.2\.2\.2/);
  assert.deepEqual(seen, [{ activeConnections: 3, max: 3, ip: '2.2.2.2', protocol: 'ws', reason: 'maxConnectionsPerIP' }]);
});

test('admitConnection: a tracker that throws is logged and the connection is refused', () => {
  const { logger, logs } = recordingLogger();
  const c = resolveOptions({ logger });
  const err = admitConnection(c, 0, tracker({ throws: true }), '3.3.3.3', 'ws');
  assert.equal(err.code, ErrorCode.TOO_MANY_FROM_IP);
  assert.equal(logs.error.length, 1);
});

// ---- checkRoomJoin -------------------------------------------------------------------------

function joinRequest(over = {}) {
  return { clientId: 'c1', room: 'r', protocol: 'ws', currentRooms: 0, totalRooms: 0, roomExists: false, metadata: () => new Map(), ...over };
}

test('checkRoomJoin: allowed under the limits', () => {
  assert.equal(checkRoomJoin(config(), joinRequest()), null);
});

test('checkRoomJoin: invalid room names are INVALID_ROOM', () => {
  const c = config({ maxRoomNameLength: 3 });
  for (const room of ['', 'four', 42]) assert.equal(checkRoomJoin(c, joinRequest({ room })).code, ErrorCode.INVALID_ROOM, String(room));
});

test('checkRoomJoin: maxRoomsPerClient refuses with ROOM_LIMIT and runs its hook', () => {
  const seen = [];
  const c = config({ maxRoomsPerClient: 2, hooks: { onMaxRoomsPerClientReached: (i) => seen.push(i) } });
  assert.equal(checkRoomJoin(c, joinRequest({ currentRooms: 1 })), null);
  assert.equal(checkRoomJoin(c, joinRequest({ currentRooms: 2 })).code, ErrorCode.ROOM_LIMIT);
  assert.deepEqual(seen, [{ clientId: 'c1', room: 'r', currentRooms: 2, max: 2 }]);
});

test('checkRoomJoin: maxRooms only blocks creating a new room', () => {
  const seen = [];
  const c = config({ maxRooms: 5, hooks: { onMaxRoomsReached: (i) => seen.push(i) } });
  assert.equal(checkRoomJoin(c, joinRequest({ totalRooms: 5, roomExists: true })), null);
  assert.equal(checkRoomJoin(c, joinRequest({ totalRooms: 5, roomExists: false })).code, ErrorCode.ROOM_LIMIT);
  assert.deepEqual(seen, [{ clientId: 'c1', room: 'r', totalRooms: 5, max: 5 }]);
});

test('checkRoomJoin: onClientJoinRoom returning false is ROOM_REJECTED; metadata is only built for the hook', () => {
  let built = 0;
  const metadata = () => {
    built++;
    return new Map([['role', 'guest']]);
  };
  assert.equal(checkRoomJoin(config(), joinRequest({ metadata })), null);
  assert.equal(built, 0);
  const seen = [];
  const c = config({
    hooks: {
      onClientJoinRoom: (i) => {
        seen.push(i);
        return i.metadata.get('role') !== 'guest';
      },
    },
  });
  const err = checkRoomJoin(c, joinRequest({ metadata }));
  assert.equal(err.code, ErrorCode.ROOM_REJECTED);
  assert.equal(built, 1);
  assert.equal(seen[0].room, 'r');
  assert.equal(seen[0].protocol, 'ws');
});

// ---- resolveOptions / applyRuntimeConfig / describeConfig ----------------------------------

test('resolveOptions() resolves every DEFAULTS entry to its default', () => {
  const c = resolveOptions();
  for (const [key, value] of Object.entries(DEFAULTS)) {
    if (key === 'logLevel') continue; // resolved into a logger object
    assert.deepEqual(c[key], value, key);
  }
  assert.equal(typeof c.logger.info, 'function');
  assert.equal(c.hasCustomClientId, false);
  assert.deepEqual(c.hooks, {});
  assert.equal(c.eventRateLimits.size, 0);
  assert.equal(c.recovery, null);
  assert.equal(c.tcpPort, false);
});

test('resolveOptions does not share the default rateLimit object', () => {
  const c = resolveOptions();
  c.rateLimit.maxPoints = 1;
  assert.equal(DEFAULTS.rateLimit.maxPoints, 100);
  assert.equal(resolveOptions().rateLimit.maxPoints, 100);
});

test('resolveOptions: bad values throw TypeError/RangeError naming the option', () => {
  const cases = [
    [{ port: 70000 }, RangeError, /port/],
    [{ namespace: 'chat' }, TypeError, /namespace/],
    [{ tcpPort: -1 }, RangeError, /tcpPort/],
    [{ maxRooms: 0 }, RangeError, /maxRooms/],
    [{ maxPayloadSize: 1.5 }, RangeError, /maxPayloadSize/],
    [{ heartbeatInterval: '100' }, RangeError, /heartbeatInterval/],
    [{ rateLimit: { maxPoints: 1 } }, RangeError, /rateLimit\.windowMs/],
    [{ rateLimit: 5 }, TypeError, /rateLimit/],
    [{ eventRateLimits: { chat: { maxPoints: 0, windowMs: 1 } } }, RangeError, /eventRateLimits\.chat\.maxPoints/],
    [{ healthEndpoint: 'health' }, TypeError, /healthEndpoint/],
    [{ allowedOrigins: 'https://a' }, TypeError, /allowedOrigins/],
    [{ customRateLimiter: { check() {} } }, TypeError, /customRateLimiter/],
    [{ customIPTracker: {} }, TypeError, /customIPTracker/],
    [{ generateClientId: 'x' }, TypeError, /generateClientId/],
    [{ hooks: { onClientConnect: 1 } }, TypeError, /hooks\.onClientConnect/],
    [{ recovery: 'yes' }, TypeError, /recovery/],
    [{ recovery: { maxDisconnectionDuration: -5 } }, RangeError, /recovery\.maxDisconnectionDuration/],
    [{ bogusOption: 1 }, TypeError, /bogusOption/],
  ];
  for (const [options, type, name] of cases) {
    assert.throws(
      () => resolveOptions({ logger: false, ...options }),
      (err) => err instanceof type && name.test(err.message),
      JSON.stringify(options),
    );
  }
});

test('resolveOptions: given values are kept, false turns optional features off', () => {
  const gen = () => 'id';
  const c = config({
    port: 0,
    maxRooms: 7,
    rateLimit: false,
    healthEndpoint: false,
    allowedOrigins: ['https://a'],
    generateClientId: gen,
    recovery: true,
    eventRateLimits: { e: { maxPoints: 2, windowMs: 10 } },
  });
  assert.equal(c.port, 0);
  assert.equal(c.maxRooms, 7);
  assert.equal(c.rateLimit, null);
  assert.equal(c.healthEndpoint, false);
  assert.deepEqual(c.allowedOrigins, ['https://a']);
  assert.equal(c.generateClientId, gen);
  assert.equal(c.hasCustomClientId, true);
  assert.equal(typeof c.recovery.maxDisconnectionDuration, 'number');
  assert.deepEqual([...c.eventRateLimits], [['e', { maxPoints: 2, windowMs: 10 }]]);
});

test('resolveOptions: with `server`, port is not used', () => {
  const c = config({ server: {}, port: 1234 });
  assert.equal(c.port, undefined);
});

test('applyRuntimeConfig changes runtime options in place and returns the keys it was given', () => {
  const c = config();
  const changed = applyRuntimeConfig(c, { maxRooms: 3, rateLimit: { maxPoints: 5, windowMs: 100 }, gracefulShutdown: false });
  assert.deepEqual([...changed].sort(), ['gracefulShutdown', 'maxRooms', 'rateLimit']);
  assert.equal(c.maxRooms, 3);
  assert.deepEqual(c.rateLimit, { maxPoints: 5, windowMs: 100 });
  assert.equal(c.gracefulShutdown, false);
  assert.equal(c.maxRoomsPerClient, DEFAULTS.maxRoomsPerClient, 'keys not given are untouched');
});

test('applyRuntimeConfig: undefined keeps the current value of a numeric option', () => {
  const c = config({ maxRooms: 9 });
  applyRuntimeConfig(c, { maxRooms: undefined });
  assert.equal(c.maxRooms, 9);
});

test('applyRuntimeConfig validates everything before changing anything', () => {
  const c = config();
  const before = describeConfig(c, 0, undefined);
  const hooksBefore = c.hooks;
  assert.throws(
    () => applyRuntimeConfig(c, { maxRooms: 3, hooks: { onSlowConsumer() {} }, maxRoomsPerClient: -1 }),
    (err) => err instanceof RangeError && /maxRoomsPerClient/.test(err.message),
  );
  assert.deepEqual(describeConfig(c, 0, undefined), before);
  assert.equal(c.hooks, hooksBefore);
  assert.equal(c.maxRooms, DEFAULTS.maxRooms);
});

test('applyRuntimeConfig refuses fixed options (and changes nothing), unknown options and non-objects', () => {
  const c = config();
  for (const key of ['port', 'namespace', 'tcpPort', 'tls', 'server', 'adapter', 'recovery', 'host']) {
    assert.throws(
      () => applyRuntimeConfig(c, { maxRooms: 1, [key]: undefined }),
      (err) => err instanceof TypeError && err.message.includes(key) && /runtime/.test(err.message),
      key,
    );
  }
  assert.equal(c.maxRooms, DEFAULTS.maxRooms);
  assert.throws(() => applyRuntimeConfig(c, { nope: 1 }), /unknown option nope/);
  assert.throws(() => applyRuntimeConfig(c, null), TypeError);
  assert.throws(() => applyRuntimeConfig(c, 'maxRooms=1'), TypeError);
});

test('applyRuntimeConfig merges hooks; null removes one', () => {
  const a = () => {};
  const b = () => {};
  const c = config({ hooks: { onClientConnect: a } });
  applyRuntimeConfig(c, { hooks: { onSlowConsumer: b } });
  assert.deepEqual(Object.keys(c.hooks).sort(), ['onClientConnect', 'onSlowConsumer']);
  applyRuntimeConfig(c, { hooks: { onClientConnect: null } });
  assert.deepEqual(Object.keys(c.hooks), ['onSlowConsumer']);
  assert.equal(c.hooks.onSlowConsumer, b);
});

test('applyRuntimeConfig: generateClientId null restores the default and clears hasCustomClientId', () => {
  const c = config({ generateClientId: () => 'x' });
  assert.equal(c.hasCustomClientId, true);
  applyRuntimeConfig(c, { generateClientId: null });
  assert.equal(c.hasCustomClientId, false);
  assert.match(c.generateClientId(), /^[0-9a-f-]{36}$/);
});

function assertNoFunctions(value, path = 'snapshot') {
  assert.notEqual(typeof value, 'function', path);
  if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) assertNoFunctions(v, `${path}.${k}`);
}

test('describeConfig: no functions, hooks by name, components as flags, the live port', () => {
  const limiter = { check: () => true, reset() {}, cleanup() {}, size: () => 0 };
  const c = config({
    hooks: { onClientConnect() {}, onSlowConsumer() {} },
    customRateLimiter: limiter,
    customHealthHandler: () => {},
    generateClientId: () => 'id',
    eventRateLimits: { chat: { maxPoints: 1, windowMs: 1 } },
    tls: { key: 'k', cert: 'c' },
  });
  const snap = describeConfig(c, 4, 4567);
  assertNoFunctions(snap);
  assert.deepEqual(snap.hooks.sort(), ['onClientConnect', 'onSlowConsumer']);
  assert.equal(snap.hasCustomRateLimiter, true);
  assert.equal(snap.hasCustomHealthHandler, true);
  assert.equal(snap.hasCustomIPTracker, false);
  assert.equal(snap.hasCustomClientId, true);
  assert.equal(snap.tls, true, 'TLS material is not exposed');
  assert.deepEqual(snap.eventRateLimits, ['chat']);
  assert.equal(snap.clientRateLimits, 4);
  assert.equal(snap.port, 4567);
  assert.equal(describeConfig(c, 0, undefined).port, DEFAULTS.port);
  assert.ok(!('logger' in snap));
  snap.rateLimit.maxPoints = 1;
  assert.equal(c.rateLimit.maxPoints, DEFAULTS.rateLimit.maxPoints, 'the snapshot is a copy');
});

// ---- RateLimits ----------------------------------------------------------------------------

const cfg = (maxPoints) => ({ maxPoints, windowMs: 60_000 });
const noErrors = (err) => {
  throw err;
};

function limits({ global = cfg(100), events = {}, custom = null, onAsyncError = noErrors } = {}) {
  const source = { customRateLimiter: custom };
  const rl = new RateLimits(source, global, new Map(Object.entries(events)), onAsyncError);
  return { rl, source };
}

/** Runs `n` checks, returns the verdicts. */
const run = (rl, id, event, n) => Array.from({ length: n }, () => rl.check(id, event));

test('RateLimits: the global bucket allows maxPoints then refuses with "global"; no global = no limit', () => {
  const { rl } = limits({ global: cfg(2) });
  assert.deepEqual(run(rl, 'a', '', 3), [null, null, 'global']);
  assert.equal(rl.check('b', ''), null, 'buckets are per client');
  const { rl: open } = limits({ global: null });
  assert.deepEqual(run(open, 'a', 'e', 5), [null, null, null, null, null]);
});

test('RateLimits: a per-event limit decides for its event and the global bucket is not consulted', () => {
  const { rl } = limits({ global: cfg(1), events: { chat: cfg(3) } });
  assert.deepEqual(run(rl, 'a', 'chat', 4), [null, null, null, 'event']);
  assert.equal(rl.check('a', 'other'), null, 'the global bucket was left untouched by chat');
  assert.equal(rl.check('a', 'other'), 'global');
  assert.equal(rl.check('a', ''), 'global', 'room ops (no event) use the global tier');
});

test('RateLimits: a custom limiter replaces the global bucket, and is below per-event limits', () => {
  const asked = [];
  const custom = {
    check: (id, cost) => {
      asked.push([id, cost]);
      return false;
    },
    reset() {},
    cleanup() {},
    size: () => 0,
  };
  const { rl } = limits({ global: cfg(100), events: { chat: cfg(5) }, custom });
  assert.equal(rl.check('a', 'x'), 'custom');
  assert.equal(rl.check('a', 'chat'), null);
  assert.deepEqual(asked, [['a', 1]]);
});

test('RateLimits: a custom async limiter gives a Promise of the verdict', async () => {
  let allow = true;
  const custom = { check: async () => allow, reset() {}, cleanup() {}, size: () => 0 };
  const { rl } = limits({ custom });
  const ok = rl.check('a', 'e');
  assert.ok(ok instanceof Promise);
  assert.equal(await ok, null);
  allow = false;
  assert.equal(await rl.check('a', 'e'), 'custom');
});

test('RateLimits: the custom limiter is read from the source at each check (swappable)', () => {
  const { rl, source } = limits({ global: cfg(100) });
  assert.equal(rl.check('a', 'e'), null);
  source.customRateLimiter = { check: () => false, reset() {}, cleanup() {}, size: () => 0 };
  assert.equal(rl.check('a', 'e'), 'custom');
});

test('RateLimits: a per-client override beats everything else', () => {
  const custom = { check: () => true, reset() {}, cleanup() {}, size: () => 0 };
  const { rl } = limits({ events: { chat: cfg(100) }, custom });
  rl.setClientLimit('vip', cfg(1));
  assert.equal(rl.clientLimitCount, 1);
  assert.deepEqual(run(rl, 'vip', 'chat', 2), [null, 'client']);
  assert.equal(rl.check('vip', 'x'), 'client');
  assert.equal(rl.check('other', 'chat'), null);
  assert.equal(rl.removeClientLimit('vip'), true);
  assert.equal(rl.removeClientLimit('vip'), false);
  assert.equal(rl.check('vip', 'chat'), null);
});

test('RateLimits: setGlobalLimit reconfigures in place and null turns the tier off', () => {
  const { rl } = limits({ global: cfg(1) });
  assert.deepEqual(run(rl, 'a', '', 2), [null, 'global']);
  rl.setGlobalLimit(null);
  assert.equal(rl.check('a', ''), null);
  rl.setGlobalLimit(cfg(2));
  assert.deepEqual(run(rl, 'b', '', 3), [null, null, 'global']);
});

test('RateLimits: setEventLimit / removeEventLimit / replaceEventLimits / eventNames', () => {
  const { rl } = limits({ global: null, events: { a: cfg(1) } });
  assert.deepEqual(rl.eventNames(), ['a']);
  rl.setEventLimit('b', cfg(1));
  assert.deepEqual(rl.eventNames().sort(), ['a', 'b']);
  assert.deepEqual(run(rl, 'x', 'b', 2), [null, 'event']);
  assert.equal(rl.removeEventLimit('b'), true);
  assert.equal(rl.removeEventLimit('b'), false);
  assert.equal(rl.check('x', 'b'), null, 'no limit left for b');
  rl.replaceEventLimits(new Map([['c', cfg(1)]]));
  assert.deepEqual(rl.eventNames(), ['c']);
  assert.equal(rl.check('x', 'a'), null);
  assert.equal(rl.check('x', 'a'), null, 'a is gone');
  assert.deepEqual(run(rl, 'x', 'c', 2), [null, 'event']);
});

test('RateLimits: replaceEventLimits keeps the bucket (and its spent tokens) of an event that stays', () => {
  const { rl } = limits({ global: null, events: { a: cfg(1) } });
  assert.equal(rl.check('x', 'a'), null);
  rl.replaceEventLimits(new Map([['a', cfg(1)]]));
  assert.equal(rl.check('x', 'a'), 'event');
});

test('RateLimits: forget(id) resets the client everywhere and tells the custom limiter', () => {
  const resets = [];
  const { rl, source } = limits({ global: cfg(1), events: { e: cfg(1) } });
  rl.setClientLimit('a', cfg(1));
  rl.check('a', '');
  rl.forget('a');
  assert.equal(rl.clientLimitCount, 0);
  assert.equal(rl.check('a', ''), null, 'global bucket reset');
  assert.equal(rl.check('a', 'e'), null, 'event bucket reset');
  source.customRateLimiter = { check: () => true, reset: (id) => resets.push(id), cleanup() {}, size: () => 0 };
  rl.forget('a');
  assert.deepEqual(resets, ['a']);
});

test("RateLimits: a custom limiter's async reset failure goes to onAsyncError", async () => {
  const errors = [];
  const boom = new Error('reset failed');
  const custom = { check: () => true, reset: () => Promise.reject(boom), cleanup() {}, size: () => 0 };
  const { rl } = limits({ custom, onAsyncError: (err) => errors.push(err) });
  rl.forget('a');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(errors, [boom]);
});

test('RateLimits: size counts built-in entries plus a synchronous custom size', () => {
  const { rl, source } = limits({ global: cfg(10), events: { e: cfg(10) } });
  rl.check('a', '');
  rl.check('b', 'e');
  rl.setClientLimit('c', cfg(1));
  assert.equal(rl.size(), 3);
  source.customRateLimiter = { check: () => true, reset() {}, cleanup() {}, size: () => 10 };
  assert.equal(rl.size(), 13);
});

// ---- RoomPolicy ----------------------------------------------------------------------------

function roomSession(id, state = SessionState.OPEN) {
  return { id, state, protocol: 'tcp', metadata: new Map([['role', 'member']]) };
}

function policy(options = {}) {
  const adapter = new MemoryAdapter();
  return { adapter, rooms: new RoomPolicy(config(options), adapter) };
}

test('RoomPolicy.joinRoom adds the member to the adapter; joining again is success without a second add', () => {
  const { adapter, rooms } = policy({ maxRoomsPerClient: 1 });
  const s = roomSession('a');
  assert.equal(rooms.joinRoom(s, 'lobby'), null);
  assert.equal(adapter.isMember('a', 'lobby'), true);
  assert.equal(rooms.joinRoom(s, 'lobby'), null, 'already a member: success even at maxRoomsPerClient');
  assert.deepEqual(adapter.getRoomMembers('lobby'), ['a']);
  assert.deepEqual([...rooms.roomsOf('a')], ['lobby']);
});

test('RoomPolicy.joinRoom respects maxRoomsPerClient', () => {
  const { adapter, rooms } = policy({ maxRoomsPerClient: 2 });
  const s = roomSession('a');
  assert.equal(rooms.joinRoom(s, 'r1'), null);
  assert.equal(rooms.joinRoom(s, 'r2'), null);
  assert.equal(rooms.joinRoom(s, 'r3').code, ErrorCode.ROOM_LIMIT);
  assert.equal(adapter.hasRoom('r3'), false);
  assert.equal(rooms.joinRoom(roomSession('b'), 'r3'), null, 'the limit is per client');
});

test('RoomPolicy.joinRoom respects maxRooms: existing rooms can still be joined', () => {
  const { adapter, rooms } = policy({ maxRooms: 1 });
  assert.equal(rooms.joinRoom(roomSession('a'), 'only'), null);
  assert.equal(rooms.joinRoom(roomSession('b'), 'only'), null);
  assert.equal(rooms.joinRoom(roomSession('b'), 'second').code, ErrorCode.ROOM_LIMIT);
  assert.equal(adapter.roomCount(), 1);
});

test('RoomPolicy.joinRoom refuses invalid names and closing sessions', () => {
  const { adapter, rooms } = policy({ maxRoomNameLength: 4 });
  assert.equal(rooms.joinRoom(roomSession('a'), '').code, ErrorCode.INVALID_ROOM);
  assert.equal(rooms.joinRoom(roomSession('a'), 'toolong').code, ErrorCode.INVALID_ROOM);
  assert.equal(rooms.joinRoom(roomSession('a'), 7).code, ErrorCode.INVALID_ROOM);
  assert.equal(rooms.joinRoom(roomSession('a', SessionState.CLOSING), 'ok').code, ErrorCode.NOT_CONNECTED);
  assert.equal(adapter.roomCount(), 0);
});

test('RoomPolicy.joinRoom: onClientJoinRoom can veto, and sees id, room, metadata and protocol', () => {
  const seen = [];
  const { adapter, rooms } = policy({
    hooks: {
      onClientJoinRoom: (info) => {
        seen.push(info);
        return info.room !== 'private';
      },
    },
  });
  const s = roomSession('a');
  assert.equal(rooms.joinRoom(s, 'public'), null);
  assert.equal(rooms.joinRoom(s, 'private').code, ErrorCode.ROOM_REJECTED);
  assert.equal(adapter.isMember('a', 'private'), false);
  assert.equal(seen.length, 2);
  assert.equal(seen[1].clientId, 'a');
  assert.equal(seen[1].protocol, 'tcp');
  assert.equal(seen[1].metadata, s.metadata);
});

test('RoomPolicy.leaveRoom removes the member; not a member is success', () => {
  const { adapter, rooms } = policy();
  const s = roomSession('a');
  rooms.joinRoom(s, 'r');
  assert.equal(rooms.leaveRoom(s, 'r'), null);
  assert.equal(adapter.isMember('a', 'r'), false);
  assert.equal(adapter.hasRoom('r'), false, 'an emptied room is deleted');
  assert.equal(rooms.leaveRoom(s, 'r'), null);
  assert.equal(rooms.leaveRoom(s, 42), null);
});

test('RoomPolicy.leaveRoom honours the onClientLeaveRoom veto (the hook is not asked about non-members)', () => {
  const seen = [];
  const { adapter, rooms } = policy({
    hooks: {
      onClientLeaveRoom: (info) => {
        seen.push(info);
        return false;
      },
    },
  });
  const s = roomSession('a');
  rooms.joinRoom(s, 'jail');
  const err = rooms.leaveRoom(s, 'jail');
  assert.equal(err.code, ErrorCode.ROOM_REJECTED);
  assert.equal(adapter.isMember('a', 'jail'), true);
  assert.deepEqual(seen, [{ clientId: 'a', room: 'jail', metadata: s.metadata, protocol: 'tcp' }]);
  assert.equal(rooms.leaveRoom(s, 'elsewhere'), null);
  assert.equal(seen.length, 1);
});
