// Inter-node authentication: with a `secret`, whoever can PUBLISH on Redis still cannot make
// clients receive anything. Forged, altered and replayed envelopes are dropped and counted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket, PacketType } from '../../dist/protocol/index.js';
import { encodeEnvelope, Kind } from '../../dist/adapter/shared/envelope.js';
import { addressOf, closeRedis, connectClient, deleteKeys, redisClient, sleep, startNode, uniquePrefix, until } from './helpers.mjs';

const injected = (o = 'attacker', s = 1) =>
  encodeEnvelope(Kind.DELIVER, { o, s, t: Date.now() }, encodePacket({ type: PacketType.JSON, event: 'evil', data: 'pwned' }), null);

describe('with a secret', () => {
  const prefix = uniquePrefix('secret');
  const nodes = [];
  const clients = [];
  let attacker;
  let spy;
  const captured = [];

  before(async () => {
    nodes.push(await startNode({ prefix, kind: 'node-redis', adapter: { secret: 'correct horse battery staple' } }));
    nodes.push(await startNode({ prefix, kind: 'ioredis', adapter: { secret: 'correct horse battery staple' } }));
    await until(() => nodes.every((n) => n.adapter.getNodes().length === 2), 'two nodes');
    for (const n of nodes) clients.push(await connectClient(addressOf(n, 'ws'), { mode: 'ws' }));
    attacker = await redisClient('ioredis');
    spy = await redisClient('node-redis');
    await spy.subscribe(`${prefix}all`, (m) => captured.push(m), true);
  });

  after(async () => {
    for (const c of clients) c.client.disconnect();
    for (const n of nodes) await n.stop();
    await closeRedis(attacker);
    await closeRedis(spy);
    await deleteKeys(prefix);
  });

  test('signed messages flow between nodes', async () => {
    nodes[0].server.broadcast('legit', 1);
    await until(() => clients.every((c) => c.got.length === 1), 'delivery');
    assert.deepEqual(clients[1].got, [['legit', 1]]);
  });

  test('an unsigned (forged) envelope is dropped by every node and counted', async () => {
    const before = nodes.map((n) => n.adapter.getStats().forged);
    await attacker.publish(`${prefix}all`, injected());
    await until(() => nodes.every((n, i) => n.adapter.getStats().forged === before[i] + 1), 'counted');
    await sleep(100);
    for (const c of clients) assert.ok(!c.got.some(([e]) => e === 'evil'));
  });

  test('a real envelope with one byte altered is dropped; the same envelope replayed is dropped', async () => {
    captured.length = 0;
    nodes[0].server.broadcast('real', 'ok');
    await until(() => captured.length === 1 && clients[1].got.some(([e]) => e === 'real'), 'the real one');
    const original = captured[0];
    const altered = Buffer.from(original);
    const at = altered.indexOf(Buffer.from('"ok"'));
    altered[at + 1] = 'K'.charCodeAt(0);
    const forgedBefore = nodes[1].adapter.getStats().forged;
    const replayedBefore = nodes[1].adapter.getStats().replayed;
    await attacker.publish(`${prefix}all`, altered);
    await attacker.publish(`${prefix}all`, original);
    await until(() => nodes[1].adapter.getStats().forged === forgedBefore + 1 && nodes[1].adapter.getStats().replayed === replayedBefore + 1, 'both counted');
    await sleep(100);
    assert.equal(clients[1].got.filter(([e]) => e === 'real').length, 1, 'delivered once, never again');
    assert.ok(!clients[1].got.some(([, d]) => d === 'oK'));
  });
});

test('without a secret, anyone who can reach Redis can inject (why the option exists)', async () => {
  const prefix = uniquePrefix('nosecret');
  const node = await startNode({ prefix, kind: 'node-redis' });
  const c = await connectClient(addressOf(node, 'ws'), { mode: 'ws' });
  const attacker = await redisClient('node-redis');
  try {
    await attacker.publish(`${prefix}all`, injected());
    await until(() => c.got.length === 1, 'the injected message');
    assert.deepEqual(c.got, [['evil', 'pwned']]);
  } finally {
    c.client.disconnect();
    await node.stop();
    await closeRedis(attacker);
    await deleteKeys(prefix);
  }
});
