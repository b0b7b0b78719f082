// RedisAdapter on a real Redis Cluster (3 primaries, 1 replica each, started here on free
// loopback ports and torn down after), through node-redis createCluster() and ioredis
// Cluster: room traffic on sharded channels spread over every shard, keys of one hash tag,
// membership, queries, the rate limiter and recovery history; then a primary killed with
// SIGKILL: delivery resumes, one log line each way, never a partial replay.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { keySlot } from '../../dist/adapter/redis/slots.js';
import { encodePacket, PacketType } from '../../dist/protocol/index.js';
import { WireMessage } from '../../dist/wire/index.js';
import { clusterNames } from '../../dist/adapter/redis/names.js';
import { addressOf, connectClient, freePort, joinRoom, next, RedisRateLimiter, RedisAdapter, sleep, startNode, until } from './helpers.mjs';
import { clusterClient, startRedisCluster } from './redis-cluster.mjs';

const run = promisify(execFile);
const KINDS = ['node-redis', 'ioredis', 'node-redis'];
const PREFIX = 'rc-test:';

function captureLogger() {
  const lines = { info: [], warn: [], error: [] };
  return {
    lines,
    debug() {},
    info: (...a) => lines.info.push(a.join(' ')),
    warn: (...a) => lines.warn.push(a.join(' ')),
    error: (...a) => lines.error.push(a.join(' ')),
  };
}

async function cli(port, ...args) {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout.trim();
}

describe('RedisAdapter on Redis Cluster', () => {
  let cluster;
  const nodes = [];
  const logs = [];
  const clients = [];
  const extra = [];
  const fanoutPrefix = PREFIX;
  let recoveryPrefix;

  before(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
    for (const kind of KINDS) {
      const logger = captureLogger();
      logs.push(logger);
      const redis = await clusterClient(kind, cluster);
      nodes.push(await startNode({ prefix: fanoutPrefix, redis, server: { logger } }));
    }
    await until(() => nodes.every((n) => n.adapter.getNodes().length === 3), 'every node sees three nodes');
    for (const node of nodes) {
      const ws = await connectClient(addressOf(node, 'ws'), { mode: 'ws' });
      const tcp = await connectClient(addressOf(node, 'tcp'), { mode: 'tcp' });
      clients.push(ws, tcp);
    }
  });

  after(async () => {
    for (const c of clients) c.client.disconnect();
    for (const n of [...nodes, ...extra]) await n.stop().catch(() => {});
    await cluster?.stop();
  });

  test('a cluster client is recognised; a prefix with braces is refused (the adapter adds its own hash tag)', async () => {
    assert.equal(nodes[0].adapter.getStats().redisReady, true);
    assert.throws(() => new RedisAdapter(nodes[0].redis, { keyPrefix: 'a{b}:' }), /must not contain/);
    assert.throws(() => new RedisAdapter(nodes[0].redis, { roomChannels: 0 }), RangeError);
    // Our slot arithmetic (room channel spreading) is Redis' own.
    for (const key of ['foo', '{user1000}.following', 'a{b}c', '{}x', 'x{}{y}', 'été', `${PREFIX}room:{3.0}`]) {
      assert.equal(keySlot(key), Number(await cli(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', key)), key);
    }
  });

  test('room channels are sharded channels spread over every primary; no classic pub/sub is used', async () => {
    const names = clusterNames(fanoutPrefix, 16);
    const primaries = new Set();
    for (let slot = 0; slot < 16384; slot += 1024) primaries.add(await cluster.primaryOf(slot));
    assert.equal(primaries.size, 3);
    const expected = new Set([...names.shared, ...nodes.map((n) => names.node(n.adapter.nodeId))]);
    const seen = new Set();
    for (const port of primaries) {
      const channels = (await cli(port, 'PUBSUB', 'SHARDCHANNELS', `${fanoutPrefix}*`)).split('\n').filter(Boolean);
      const hashTagged = (await cli(port, 'PUBSUB', 'SHARDCHANNELS', `{${fanoutPrefix}}*`)).split('\n').filter(Boolean);
      const rooms = channels.filter((c) => c.startsWith(`${fanoutPrefix}room:`));
      assert.ok(rooms.length >= 3, `primary ${port} carries room channels: ${rooms.length}`);
      for (const c of [...channels, ...hashTagged]) seen.add(c);
      assert.equal(await cli(port, 'PUBSUB', 'CHANNELS', `*${fanoutPrefix}*`), '', 'no classic channel');
    }
    assert.deepEqual([...seen].sort(), [...expected].sort(), 'every channel subscribed, on the primary that owns its slot');
  });

  test('to(room), broadcast with exclusion, toId, several rooms: each recipient once, over WS and TCP', async () => {
    const got = (c, e) => c.got.filter(([ev]) => ev === e).map(([, d]) => d);
    // clients: [n0 ws, n0 tcp, n1 ws, n1 tcp, n2 ws, n2 tcp]
    for (const c of clients) await joinRoom(c.client, 'everyone');
    await joinRoom(clients[1].client, 'r1');
    await joinRoom(clients[4].client, 'r1');
    await joinRoom(clients[4].client, 'r2');
    await joinRoom(clients[3].client, 'r2');

    nodes[0].server.to('everyone', 'a', 1);
    nodes[1].server.broadcast('b', 2, clients[5].client.getId());
    nodes[2].server.toId(clients[0].client.getId(), 'c', 3);
    // Several rooms at once (the adapter's contract; the server's own calls name one room).
    nodes[1].adapter.broadcast(WireMessage.fromBytes(encodePacket({ type: PacketType.JSON, event: 'd', data: 4 })), { rooms: ['r1', 'r2'] });
    await until(() => clients.every((c) => got(c, 'a').length === 1) && got(clients[0], 'c').length === 1, 'deliveries');
    await until(() => [1, 3, 4].every((i) => got(clients[i], 'd').length === 1), 'the two-room message');
    await sleep(150);
    for (const c of clients) assert.deepEqual(got(c, 'a'), [1]);
    clients.forEach((c, i) => {
      assert.deepEqual(got(c, 'b'), i === 5 ? [] : [2], `client ${i}`);
      assert.deepEqual(got(c, 'c'), i === 0 ? [3] : [], `client ${i}`);
      assert.deepEqual(got(c, 'd'), [1, 3, 4].includes(i) ? [4] : [], `client ${i}`);
    });
  });

  test('cluster queries and membership', async () => {
    const members = await nodes[1].server.fetchRoomMembers('r1');
    assert.deepEqual([...members].sort(), [clients[1].client.getId(), clients[4].client.getId()].sort());
    assert.equal(members.incomplete, false);
    const stats = await nodes[2].server.getClusterStats();
    assert.equal(stats.nodes.length, 3);
    assert.equal(stats.activeConnections, 6);
    assert.equal(stats.incomplete, false);
    assert.equal((await nodes[0].server.fetchClients('everyone')).length, 6);
    assert.ok((await nodes[0].server.fetchRooms()).includes('r2'));
    for (const n of nodes) assert.equal(n.adapter.getNodes().length, 3);
  });

  test('RedisRateLimiter: one bucket per id across node-redis and ioredis cluster clients', async () => {
    const quiet = { info() {}, warn() {}, error() {} };
    const a = new RedisRateLimiter(nodes[0].redis, { maxPoints: 3, windowMs: 60_000, keyPrefix: `${fanoutPrefix}rl:`, logger: quiet });
    const b = new RedisRateLimiter(nodes[1].redis, { maxPoints: 3, windowMs: 60_000, keyPrefix: `${fanoutPrefix}rl:`, logger: quiet });
    const verdicts = [];
    for (const limiter of [a, b, a, b]) verdicts.push(await limiter.check('user-7'));
    assert.deepEqual(verdicts, [true, true, true, false]);
    await a.clear('user-7');
    assert.equal(await b.check('user-7'), true, 'cleared for everyone');
    await b.clear('user-7');
  });

  test('recovery history on the cluster: a client comes back on another node with what it missed', async () => {
    // The recovery keys' shard is the one the failover test below kills.
    recoveryPrefix = await prefixOnShardOf(cluster, clusterNames(fanoutPrefix, 16).roomChannel(['everyone']));
    const recovery = { maxDisconnectionDuration: 30_000, maxMessages: 1000 };
    for (const kind of ['ioredis', 'node-redis']) {
      const logger = captureLogger();
      const redis = await clusterClient(kind, cluster);
      extra.push(await startNode({ prefix: recoveryPrefix, redis, server: { recovery, logger } }));
      logs.push(logger);
    }
    await until(() => extra.every((n) => n.adapter.getNodes().length === 2), 'two recovery nodes');
    const { client, got } = await connectClient(addressOf(extra[0], 'ws'), {
      mode: 'ws',
      recovery: true,
      customReconnectDelay: () => 200,
      reconnectionAttempts: Infinity,
    });
    clients.push({ client, got });
    await joinRoom(client, 'r');
    const id = client.getId();
    const messages = () => got.filter(([e]) => e === 'm').map(([, d]) => d);
    extra[1].server.to('r', 'm', 0);
    await until(() => messages().length === 1, 'live message');

    client.setUrl(addressOf(extra[1], 'ws'));
    extra[0].server.onDisconnect((ctx) => {
      if (ctx.id !== id) return;
      extra[0].server.to('r', 'm', 1);
      extra[0].server.toId(id, 'm', 2);
    });
    const back = next(client, 'connect');
    extra[0].cut(id);
    assert.deepEqual((await back)[0], { recovered: true });
    assert.equal(client.getId(), id);
    await until(() => messages().length === 3, 'the missed messages');
    assert.deepEqual(messages(), [0, 1, 2]);

    // Every key the cluster wrote shares the hash tag (one slot) and has an expiry.
    const port = await cluster.primaryOf(keySlot(`{${recoveryPrefix}}`));
    const keys = (await cli(port, '--scan', '--pattern', `{${recoveryPrefix}}*`)).split('\n').filter(Boolean);
    for (const k of ['nodes', 'history', 'epoch']) assert.ok(keys.includes(`{${recoveryPrefix}}${k}`), `${k} in ${keys}`);
    for (const k of keys) assert.ok(Number(await cli(port, 'PTTL', k)) > 0, `${k} expires`);
  });

  test('a primary killed with SIGKILL: delivery resumes after the failover, one log line each way, no partial replay', async (t) => {
    const names = clusterNames(fanoutPrefix, 16);
    const victim = await cluster.primaryOf(keySlot(names.roomChannel(['everyone'])));
    assert.equal(await cluster.primaryOf(keySlot(`{${recoveryPrefix}}`)), victim, 'the history lives on the same shard');
    const fanout = clients.slice(0, 6);
    const ticks = (c) => c.got.filter(([e]) => e === 'tick').map(([, d]) => d);

    // A recovering client away during the failover: it must get all it missed, or a new session.
    const away = clients[6];
    const awayId = away.client.getId();
    extra[1].server.onDisconnect((ctx) => {
      if (ctx.id === awayId) for (let i = 100; i < 103; i++) extra[0].server.to('r', 'm', i);
    });
    away.client.setUrl(`127.0.0.1:${await freePort()}`); // nowhere, for now
    extra[1].cut(awayId);
    await until(() => !away.client.isConnected(), 'the client is away');
    await sleep(200);

    await cluster.kill(victim);
    const killedAt = performance.now();
    // Publish from every node (tick n from node n % 3) until every client has a recent tick
    // from each node: deliveries across nodes resumed.
    let n = 0;
    await until(
      async () => {
        nodes[n % 3].server.to('everyone', 'tick', n);
        n++;
        await sleep(100);
        return n > 6 && fanout.every((c) => [0, 1, 2].every((k) => ticks(c).some((t) => t % 3 === k && t >= n - 7)));
      },
      'delivery after the failover',
      30_000,
    );
    t.diagnostic(`cross-node delivery resumed ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL`);
    await cluster.healthy();
    // Ticks sent now arrive everywhere, each node's in the order it sent them.
    const from = n;
    for (let i = 0; i < 20; i++) nodes[i % 3].server.to('everyone', 'tick', from + i);
    await until(() => fanout.every((c) => ticks(c).filter((t) => t >= from).length === 20), 'twenty ticks everywhere').catch((err) => {
      console.log(
        from,
        fanout.map((c) => ticks(c).filter((t) => t >= from)),
      );
      console.log(nodes.map((n) => n.adapter.getStats()));
      throw err;
    });
    for (const c of fanout) {
      const seen = ticks(c).filter((t) => t >= from);
      assert.deepEqual(
        [...seen].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => from + i),
      );
      for (const k of [0, 1, 2]) {
        const mine = seen.filter((t) => (t - from) % 3 === k);
        assert.deepEqual(
          mine,
          [...mine].sort((a, b) => a - b),
          'in order per sender',
        );
      }
    }

    // One line each way on every node (the watch may need a beat or two to see it back).
    for (const log of logs.slice(0, 3)) await until(() => log.lines.info.some((l) => l.includes('delivers again')), 'the "back" line', 10_000);
    await sleep(1000);
    logs.slice(0, 3).forEach((log, i) => {
      assert.equal(log.lines.warn.filter((l) => l.includes('stopped delivering')).length, 1, `node ${i}: ${log.lines.warn}`);
      assert.equal(log.lines.info.filter((l) => l.includes('delivers again')).length, 1, `node ${i}`);
      assert.deepEqual(log.lines.error, []);
    });

    // The recovering client comes back: all it missed, in order, or a new session; never a hole.
    for (const i of [103, 104]) extra[1].server.to('r', 'm', i);
    const failed = [];
    away.client.on('recovery_failed', (info) => failed.push(info));
    const back = next(away.client, 'connect', 15_000);
    away.client.setUrl(addressOf(extra[0], 'ws'));
    const [{ recovered }] = await back;
    const after = () => away.got.filter(([e, d]) => e === 'm' && d >= 100).map(([, d]) => d);
    if (recovered) {
      await until(() => after().length >= 5, 'the missed messages', 5000);
      assert.deepEqual(after(), [100, 101, 102, 103, 104]);
    } else {
      assert.equal(failed.length, 1, 'a new session, said so');
      assert.deepEqual(after(), [], 'nothing replayed');
    }
  });

  test("a slot migration: a room's channel follows its slot to another primary, delivery goes on", async () => {
    const channel = clusterNames(fanoutPrefix, 16).roomChannel(['everyone']);
    const slot = keySlot(channel);
    const src = await cluster.primaryOf(slot);
    const ports = new Set();
    for (let s = 0; s < 16384; s += 1024) ports.add(await cluster.primaryOf(s));
    const dst = [...ports].find((p) => p !== src);
    const srcId = await cli(src, 'CLUSTER', 'MYID');
    const dstId = await cli(dst, 'CLUSTER', 'MYID');
    // The slot holds no key (only channels): the migration is the ownership change itself.
    assert.equal(await cli(src, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot)), '0');
    await cli(dst, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', srcId);
    await cli(src, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', dstId);
    await cli(dst, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId);
    await cli(src, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId);
    await until(async () => (await cluster.primaryOf(slot)) === dst, 'the slot moved');

    const fanout = clients.slice(0, 6);
    const marks = (c) => c.got.filter(([e]) => e === 'moved').map(([, d]) => d);
    let n = 0;
    await until(
      async () => {
        nodes[n % 3].server.to('everyone', 'moved', n);
        n++;
        await sleep(100);
        return n > 6 && fanout.every((c) => [0, 1, 2].every((k) => marks(c).some((t) => t % 3 === k && t >= n - 7)));
      },
      'delivery after the migration',
      20_000,
    );
    const subscribed = (await cli(dst, 'PUBSUB', 'SHARDNUMSUB', channel)).split('\n');
    assert.equal(subscribed[1], '3', `three subscribers on the new owner (${subscribed})`);
  });
});

/** A key prefix whose hash tag lands on the shard that owns `channel`'s slot. */
async function prefixOnShardOf(cluster, channel) {
  const target = await cluster.primaryOf(keySlot(channel));
  for (let i = 0; ; i++) {
    const prefix = `rc-rec-${i}:`;
    if ((await cluster.primaryOf(keySlot(`{${prefix}}`))) === target) return prefix;
  }
}
