// What only NatsAdapter has, beyond the shared contract (nats.test.mjs): its checks on what
// it is given, room subjects (safe for any room name, listened to only while the room has
// local members), HMAC authentication of every inter-node message against forged and replayed
// publishes, messages above the server's max_payload, and heartbeat membership without a broker.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { Membership } from '../../dist/adapter/nats/membership.js';
import { NatsAdapter, ROOM_BYTES, roomToken } from '../../dist/adapter/nats/index.js';
import { encodeEnvelope, Kind } from '../../dist/adapter/shared/envelope.js';
import { CI, freePort, hasTool, NATS } from './brokers.mjs';
import { TIMINGS } from './engines.mjs';
import { captureLogger, connectClient, joinRoom, leaveRoom, sleep, StelarServer, uniquePrefix, until } from './nodes.mjs';

const installed = hasTool('nats-server');

describe('NatsAdapter without a broker', () => {
  test('room tokens: any name becomes one subject token, bounded in length', () => {
    const TOKEN = /^[A-Za-z0-9_-]+$/;
    for (const room of [
      'a',
      'lobby',
      'a.b',
      '*',
      '>',
      'with space',
      '☃',
      '\u0000\r\n',
      'x'.repeat(ROOM_BYTES),
      'x'.repeat(ROOM_BYTES + 1),
      '日本'.repeat(200),
    ]) {
      const t = roomToken(room);
      assert.match(t, TOKEN, room);
      assert.ok(t.length <= 1 + Math.ceil((ROOM_BYTES * 4) / 3), `${t.length} characters`);
    }
    assert.notEqual(roomToken('a.b'), roomToken('a_b'));
    assert.equal(roomToken('x'.repeat(ROOM_BYTES))[0], 'r', 'spelled out up to the limit');
    assert.equal(roomToken('x'.repeat(ROOM_BYTES + 1))[0], 'h', 'hashed past it');
    assert.equal(Buffer.from(roomToken('lobby').slice(1), 'base64url').toString(), 'lobby');
  });

  test('membership: hello, goodbye, expiry, and no expiry for our own outage', () => {
    const m = new Membership('me', 3);
    assert.equal(m.heard('me', 0), false, 'never itself');
    assert.equal(m.heard('a', 0), true);
    assert.equal(m.heard('a', 100), false, 'known');
    assert.equal(m.heard('b', 100), true);
    assert.deepEqual(m.all(), ['me', 'a', 'b']);
    assert.deepEqual(m.expire(1100, 1000), [], 'within the timeout');
    m.refresh(5000); // back from an outage: a fresh timeout for everyone
    assert.deepEqual(m.expire(5900, 1000), []);
    assert.deepEqual(m.expire(6001, 1000).sort(), ['a', 'b']);
    assert.equal(m.heard('c', 0), true);
    assert.equal(m.left('c'), true);
    assert.equal(m.left('c'), false);
    for (const id of ['x', 'y', 'z']) m.heard(id, 0);
    assert.equal(m.heard('w', 0), false, 'bounded: made-up ids cannot grow it');
    assert.deepEqual(m.others(), ['x', 'y', 'z']);
  });

  test('what it is given is checked at construction', () => {
    const fake = { publish() {}, subscribe() {}, flush() {}, status() {}, isClosed: () => false, closed: () => new Promise(() => {}) };
    assert.throws(() => new NatsAdapter(null), TypeError);
    assert.throws(() => new NatsAdapter({}), /missing publish, subscribe, flush, status, isClosed, closed/);
    assert.throws(() => new NatsAdapter({ ...fake, isClosed: () => true }), /closed/);
    for (const subjectPrefix of ['', 'a b', 'a.*', 'a.>', 'a..b', '.a', 'x'.repeat(129), 7]) {
      assert.throws(() => new NatsAdapter(fake, { subjectPrefix }), /subjectPrefix/, String(subjectPrefix));
    }
    assert.doesNotThrow(() => new NatsAdapter(fake, { subjectPrefix: 'app.prod-1' }));
    for (const nodeId of ['', 'a.b', 'a b', '*', 'x'.repeat(65)]) assert.throws(() => new NatsAdapter(fake, { nodeId }), /nodeId/);
    assert.throws(() => new NatsAdapter(fake, { secret: '' }), /secret/);
    assert.throws(() => new NatsAdapter(fake, { heartbeatInterval: 0 }), RangeError);
    assert.throws(() => new NatsAdapter(fake, { heartbeatInterval: 1000, heartbeatTimeout: 1000 }), /longer/);
    assert.throws(() => new NatsAdapter(fake, { requestTimeout: Number.NaN }), RangeError);
  });
});

const missing = 'nats-server is not installed (apt-get install -y nats-server)';
// Fails under CI when the program is missing, skips elsewhere.
if (!installed) test(`NatsAdapter on a nats-server: ${missing}`, { skip: CI ? false : missing }, () => assert.fail(missing));

describe('NatsAdapter on a nats-server of its own', { skip: !installed }, () => {
  let broker;
  const conns = [];
  const servers = [];

  before(async () => {
    broker = await NATS.start(await freePort());
  });
  after(async () => {
    for (const s of servers) await s.stop();
    for (const c of conns) await c.close();
    await broker?.kill();
  });

  async function conn() {
    const c = await connect({ servers: `127.0.0.1:${broker.port}` });
    conns.push(c);
    return c;
  }

  async function node(prefix, options = {}, serverOptions = {}) {
    const adapter = new NatsAdapter(await conn(), { subjectPrefix: prefix, ...TIMINGS, ...options });
    const server = new StelarServer({ port: 0, host: '127.0.0.1', tcpPort: 0, logger: 'silent', gracefulShutdown: false, adapter, ...serverOptions });
    await server.start();
    servers.push(server);
    return { server, adapter, port: server.getPort(), tcpPort: server.getTcpPort(), nodeId: adapter.nodeId };
  }

  /** Every message published under `prefix`, as [subject, bytes]. */
  async function tap(prefix) {
    const c = await conn();
    const seen = [];
    c.subscribe(`${prefix}.>`, { callback: (_err, msg) => seen.push([msg.subject, Buffer.from(msg.data)]) });
    await c.flush();
    return seen;
  }

  test('a room is listened to only while it has local members, and a send to it goes on its own subject', async () => {
    const prefix = uniquePrefix('rs');
    const a = await node(prefix);
    const b = await node(prefix);
    await until(() => a.adapter.getNodes().length === 2 && b.adapter.getNodes().length === 2, 'two nodes');
    const seen = await tap(prefix);
    const c = await connectClient(b, 'ws');
    try {
      assert.equal(b.adapter.getStats().roomSubscriptions, 0);
      await joinRoom(c.client, 'news.*');
      assert.equal(b.adapter.getStats().roomSubscriptions, 1);
      assert.equal(a.adapter.getStats().roomSubscriptions, 0, 'no member on a: not listened to there');
      await until(async () => (await a.server.fetchRoomMembers('news.*')).length === 1, 'the member seen from a');
      a.server.to('news.*', 'n', 1);
      await until(() => c.got.length === 1, 'delivered');
      const roomSubject = `${prefix}.room.${roomToken('news.*')}`;
      assert.ok(
        seen.some(([s]) => s === roomSubject),
        'published on the room subject',
      );
      await leaveRoom(c.client, 'news.*');
      assert.equal(b.adapter.getStats().roomSubscriptions, 0, 'unsubscribed when the last member left');
    } finally {
      c.client.disconnect();
    }
  });

  test('with a secret: forged and replayed publishes are dropped and counted; the nodes still talk', async () => {
    const prefix = uniquePrefix('sec');
    const secret = 'a long shared secret';
    const a = await node(prefix, { secret });
    const b = await node(prefix, { secret });
    await until(() => a.adapter.getNodes().length === 2 && b.adapter.getNodes().length === 2, 'two nodes');
    const seen = await tap(prefix);
    const c = await connectClient(b, 'ws');
    try {
      await joinRoom(c.client, 'r');
      await until(async () => (await a.server.fetchRoomMembers('r')).length === 1, 'member seen');
      a.server.to('r', 'm', 'authentic');
      await until(() => c.got.length === 1, 'authentic delivered');
      const raw = await conn();
      const packet = seen.find(([s]) => s.includes('.room.'))[1];
      const before = b.adapter.getStats();
      // Replay: the same signed bytes again.
      raw.publish(`${prefix}.room.${roomToken('r')}`, packet);
      // Forged: signed with another secret, unsigned, and garbage, on every subject b listens to.
      const header = { o: 'intruder', s: 1, t: Date.now(), r: ['r'] };
      const body = packet.subarray(0, 0);
      for (const subject of [`${prefix}.all`, `${prefix}.room.${roomToken('r')}`, `${prefix}.node.${b.nodeId}`]) {
        raw.publish(subject, encodeEnvelope(Kind.DELIVER, header, body, Buffer.from('wrong')));
        raw.publish(subject, encodeEnvelope(Kind.DELIVER, header, body, null));
      }
      raw.publish(`${prefix}.all`, Buffer.from('not an envelope'));
      await raw.flush();
      await until(() => b.adapter.getStats().forged >= before.forged + 6, 'forged counted');
      await until(() => b.adapter.getStats().replayed >= before.replayed + 1, 'replay counted');
      await until(() => b.adapter.getStats().malformed >= before.malformed + 1, 'garbage counted');
      a.server.to('r', 'm', 'still authentic');
      await until(() => c.got.length === 2, 'the cluster still works');
      assert.deepEqual(
        c.got.map(([, d]) => d),
        ['authentic', 'still authentic'],
      );
      assert.equal(b.adapter.getNodes().includes('intruder'), false);
    } finally {
      c.client.disconnect();
    }
  });

  test('a message above max_payload: delivered on its own node, dropped for the others, said once', async () => {
    const prefix = uniquePrefix('big');
    const logger = captureLogger();
    const a = await node(prefix, {}, { logger });
    const b = await node(prefix);
    await until(() => a.adapter.getNodes().length === 2 && b.adapter.getNodes().length === 2, 'two nodes');
    const onA = await connectClient(a, 'ws');
    const onB = await connectClient(b, 'tcp');
    try {
      const big = 'x'.repeat(1024 * 1024 + 10); // NATS' default max_payload is 1 MiB
      const dropped = a.adapter.getStats().dropped;
      a.server.broadcast('big', big);
      a.server.broadcast('big', big);
      a.server.broadcast('small', 1);
      await until(() => onA.got.length === 3 && onB.got.length === 1, 'local delivery, and the small one across');
      assert.deepEqual(
        onB.got.map(([e]) => e),
        ['small'],
      );
      assert.equal(a.adapter.getStats().dropped, dropped + 2);
      assert.equal(logger.lines.warn.filter((l) => l.includes('max_payload')).length, 1);
      assert.equal(a.adapter.getStats().natsReady, true, 'not an outage');
    } finally {
      onA.client.disconnect();
      onB.client.disconnect();
    }
  });

  test('the application closes its NATS client: the node says so once and keeps serving its clients', async () => {
    const prefix = uniquePrefix('cl');
    const logger = captureLogger();
    const a = await node(prefix, {}, { logger });
    const c = await connectClient(a, 'ws');
    try {
      await conns.at(-1).close();
      await until(() => !a.adapter.getStats().natsReady, 'link down');
      a.server.broadcast('m', 1);
      await until(() => c.got.length === 1, 'local delivery');
      await sleep(50);
      assert.equal(logger.lines.warn.filter((l) => l.includes('NATS unavailable')).length, 1);
      assert.deepEqual(await a.server.fetchRooms(), []);
    } finally {
      c.client.disconnect();
    }
  });
});
