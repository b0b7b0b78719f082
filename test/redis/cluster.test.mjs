// Three nodes on the real Redis (one with node-redis, one with ioredis, one with node-redis
// again), WebSocket and TCP clients on each: fan-out, toId, exclusion, cluster queries, the
// hook running once, encode-once, node membership.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket, PacketType } from '../../dist/protocol/index.js';
import { addressOf, closeRedis, connectClient, countKeys, deleteKeys, joinRoom, redisClient, sleep, startNode, uniquePrefix, until } from './helpers.mjs';

const prefix = uniquePrefix('cluster');
const KINDS = ['node-redis', 'ioredis', 'node-redis'];

describe('three nodes, WS and TCP clients on each', () => {
  const nodes = [];
  /** clients[node][mode] = { client, got } */
  const clients = [];
  const hookCalls = [0, 0, 0];
  const all = () => clients.flatMap((c) => [c.ws, c.tcp]);
  const clear = () =>
    all().forEach((c) => {
      c.got.length = 0;
    });

  before(async () => {
    for (let i = 0; i < 3; i++) {
      nodes.push(await startNode({ prefix, kind: KINDS[i], server: { hooks: { onBeforeBroadcast: () => void hookCalls[i]++ } } }));
    }
    await until(() => nodes.every((n) => n.adapter.getNodes().length === 3), 'every node sees three nodes');
    for (const node of nodes) {
      const ws = await connectClient(addressOf(node, 'ws'), { mode: 'ws' });
      const tcp = await connectClient(addressOf(node, 'tcp'), { mode: 'tcp' });
      clients.push({ ws, tcp });
    }
    // Everyone in 'room1' except the TCP client of the third node.
    for (const c of all()) if (c !== clients[2].tcp) await joinRoom(c.client, 'room1');
    await joinRoom(clients[1].ws.client, 'room2');
  });

  after(async () => {
    for (const c of all()) c.client.disconnect();
    for (const n of nodes) await n.stop();
    await deleteKeys(prefix);
    assert.equal(await countKeys(prefix), 0, 'no key left behind');
  });

  test('to(room) from one node reaches the room on every node, over both transports, once each', async () => {
    clear();
    const n = nodes[0].server.to('room1', 'news', { n: 1 });
    assert.equal(n, 2, 'returns the local recipients');
    const members = all().filter((c) => c !== clients[2].tcp);
    await until(() => members.every((c) => c.got.length === 1), 'five recipients');
    await sleep(100);
    for (const c of members) assert.deepEqual(c.got, [['news', { n: 1 }]]);
    assert.deepEqual(clients[2].tcp.got, [], 'not a member');
  });

  test('broadcast with excludeId skips that client wherever it is; broadcastBinary carries bytes', async () => {
    clear();
    const excluded = clients[0].ws;
    nodes[1].server.broadcast('all', 'x', excluded.client.getId());
    nodes[2].server.broadcastBinary('bin', Buffer.from([1, 2, 255]));
    const others = all().filter((c) => c !== excluded);
    await until(() => others.every((c) => c.got.length === 2) && excluded.got.length === 1, 'deliveries');
    for (const c of others) {
      assert.deepEqual(
        c.got.find(([e]) => e === 'all'),
        ['all', 'x'],
      );
      assert.deepEqual(
        c.got.find(([e]) => e === 'bin'),
        ['bin', 'bin:0102ff'],
      );
    }
    assert.deepEqual(excluded.got, [['bin', 'bin:0102ff']]);
  });

  test('toId reaches a client on another node, and only that one', async () => {
    clear();
    const target = clients[2].tcp;
    assert.equal(nodes[0].server.toId(target.client.getId(), 'direct', { hi: 1 }), true);
    await until(() => target.got.length === 1, 'the direct message');
    await sleep(100);
    assert.deepEqual(target.got, [['direct', { hi: 1 }]]);
    for (const c of all()) if (c !== target) assert.deepEqual(c.got, []);
  });

  test('onBeforeBroadcast runs once, on the node where the broadcast starts; false cancels it everywhere', async () => {
    clear();
    hookCalls.fill(0);
    nodes[1].server.broadcast('once', 1);
    await until(() => all().every((c) => c.got.length === 1), 'the broadcast');
    assert.deepEqual(hookCalls, [0, 1, 0]);
    await nodes[2].server.updateConfig({ hooks: { onBeforeBroadcast: () => false } });
    nodes[2].server.broadcast('cancelled', 1);
    nodes[0].server.broadcast('after', 1);
    await until(() => all().every((c) => c.got.length === 2), 'the next broadcast');
    for (const c of all())
      assert.deepEqual(
        c.got.map(([e]) => e),
        ['once', 'after'],
      );
    await nodes[2].server.updateConfig({ hooks: { onBeforeBroadcast: () => void hookCalls[2]++ } });
  });

  test('the payload is JSON-encoded once in the whole cluster; Redis carries the packet bytes as they are', async () => {
    clear();
    const spy = await redisClient('node-redis');
    const seen = [];
    await spy.subscribe(`${prefix}all`, (msg) => seen.push(msg), true);
    const data = { text: 'encode me once', list: [1, 2, 3] };
    const original = JSON.stringify;
    let encodings = 0;
    JSON.stringify = function (value, ...rest) {
      if (value === data) encodings++;
      return original.call(this, value, ...rest);
    };
    try {
      nodes[0].server.to('room1', 'once', data);
      await until(
        () =>
          all()
            .filter((c) => c !== clients[2].tcp)
            .every((c) => c.got.length === 1),
        'delivery',
      );
    } finally {
      JSON.stringify = original;
    }
    assert.equal(encodings, 1, 'one JSON encoding for five recipients on three nodes');
    await until(() => seen.length >= 1, 'the published message');
    const packet = Buffer.from(encodePacket({ type: PacketType.JSON, event: 'once', data }));
    assert.ok(seen[0].includes(packet), 'the envelope contains the packet bytes verbatim');
    assert.equal(seen[0].indexOf(Buffer.from('\\"text\\"')), -1, 'no JSON-in-JSON');
    await closeRedis(spy);
  });

  test('cluster queries: rooms, room members, clients and stats of every node', async () => {
    const ids = (list) => list.map((c) => c.client.getId()).sort();
    const room1 = ids(all().filter((c) => c !== clients[2].tcp));
    for (const node of nodes) {
      assert.deepEqual((await node.server.fetchRooms()).sort(), ['room1', 'room2']);
      assert.deepEqual((await node.server.fetchRoomMembers('room1')).sort(), room1);
      const rows = await node.server.fetchClients();
      assert.deepEqual(rows.map((r) => r.id).sort(), ids(all()));
      assert.deepEqual(rows.map((r) => r.protocol).sort(), ['tcp', 'tcp', 'tcp', 'ws', 'ws', 'ws']);
      const inRoom2 = await node.server.fetchClients('room2');
      assert.deepEqual(
        inRoom2.map((r) => r.id),
        [clients[1].ws.client.getId()],
      );
      assert.deepEqual(inRoom2[0].rooms.sort(), ['room1', 'room2']);
    }
    // The synchronous methods stay local.
    assert.deepEqual(nodes[0].server.getRoomMembers('room1').sort(), ids([clients[0].ws, clients[0].tcp]));
    const stats = await nodes[1].server.getClusterStats();
    assert.equal(stats.nodes.length, 3);
    assert.deepEqual(stats.nodes.map((s) => s.nodeId).sort(), nodes.map((n) => n.adapter.nodeId).sort());
    assert.equal(stats.activeConnections, 6);
    assert.equal(stats.wsConnections, 3);
    assert.equal(stats.tcpConnections, 3);
    assert.equal(stats.totalRooms, 2);
  });

  test('a node that stops says goodbye: nodeLeave elsewhere, its clients gone from queries', async () => {
    const left = [];
    const joined = [];
    nodes[0].adapter.on('nodeLeave', (id) => left.push(id)).on('nodeJoin', (id) => joined.push(id));
    const extra = await startNode({ prefix, kind: 'ioredis' });
    await until(() => joined.includes(extra.adapter.nodeId), 'nodeJoin');
    const c = await connectClient(addressOf(extra, 'ws'), { mode: 'ws' });
    await until(async () => (await nodes[0].server.fetchClients()).length === 7, 'seven clients');
    c.client.disconnect();
    await extra.stop();
    await until(() => left.includes(extra.adapter.nodeId), 'nodeLeave');
    assert.equal((await nodes[0].server.fetchClients()).length, 6);
    assert.equal(nodes[0].adapter.getNodes().length, 3);
  });
});
