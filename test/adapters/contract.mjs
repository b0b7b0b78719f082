// The adapter contract: what every adapter (engines.mjs) must do, run unchanged against each
// one by its own *.test.mjs. A cluster engine runs it on three nodes sharing a broker of the
// test's own (clients spread over the nodes, WebSocket and TCP alternating); the memory
// adapter runs the same tests on its one node. Cluster engines also run membership, a node
// killed with SIGKILL (a child process) and the broker killed and restarted mid-test.
//
// "Nobody else got it" is checked with a fence, not a sleep: after the sends, every node
// broadcasts a fence, and once each client has every node's fence, whatever a node sent
// before its fence has arrived (each node's messages keep their order).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CI, freePort, hasTool } from './brokers.mjs';
import { ENGINES, TIMINGS } from './engines.mjs';
import { captureLogger, connectClient, joinRoom, leaveRoom, next, sleep, spawnNode, StelarServer, startNode, uniquePrefix, until } from './nodes.mjs';

/** Registers the contract's tests for `engineName` (a key of ENGINES). */
export function adapterContract(engineName) {
  const engine = ENGINES[engineName];
  assert.ok(engine, `unknown engine ${engineName}`);
  const tool = engine.broker?.tool;
  if (tool !== undefined && !hasTool(tool)) {
    // A missing broker fails under CI (a test of its own, counted as failed) and skips elsewhere.
    const why = `${tool} is not installed (${engine.broker.install})`;
    test(`adapter contract: ${engine.label}: ${tool} is installed`, { skip: CI ? false : why }, () => assert.fail(why));
    return;
  }

  describe(`adapter contract: ${engine.label}`, () => {
    const NODES = engine.cluster ? 3 : 1;
    const prefix = uniquePrefix('c');
    let broker = null;
    const nodes = [];
    let open = [];

    before(async () => {
      broker = engine.broker ? await engine.broker.start(await freePort()) : null;
      for (let i = 0; i < NODES; i++) nodes.push(await startNode(engineName, { brokerPort: broker?.port, prefix }));
      if (engine.cluster) await until(() => nodes.every((n) => n.adapter.getNodes().length === NODES), `${NODES} nodes see each other`);
    });
    afterEach(async () => {
      for (const c of open) c.client.disconnect();
      open = [];
      await until(() => nodes.every((n) => n.server.getStats().activeConnections === 0), 'the clients gone');
    });
    after(async () => {
      for (const n of nodes) await n.stop();
      await broker?.kill();
    });

    /** `n` clients spread over the nodes, WebSocket and TCP alternating. */
    async function clients(n, options) {
      const out = [];
      for (let i = 0; i < n; i++) out.push(await connectClient(nodes[i % NODES], i % 2 ? 'tcp' : 'ws', options));
      open.push(...out);
      return out;
    }

    /** Resolves once every client has every node's fence (see the top of the file). */
    async function fence(cs) {
      const token = Math.random().toString(36).slice(2);
      for (const [i, n] of nodes.entries()) n.server.broadcast('fence', `${token}:${i}`);
      await until(() => cs.every((c) => c.of('fence').filter((f) => f.startsWith(token)).length === NODES), 'every fence');
    }

    /** Waits until the cluster sees `room` with exactly `ids` (interest has reached every node). */
    async function members(room, ids) {
      const want = [...ids].sort().join();
      await until(async () => (await nodes[0].server.fetchRoomMembers(room)).sort().join() === want, `members of ${room}`);
    }

    test('to(room) reaches its members on every node once each, and nobody else; a member that left gets nothing more', async () => {
      const room = 'lobby ☃ .*> \u0000';
      const long = 'L'.repeat(250); // past the NATS adapter's spelled-out limit: a hashed subject
      const cs = await clients(6);
      const inRoom = cs.slice(0, 4);
      for (const c of inRoom) await joinRoom(c.client, room);
      for (const c of cs.slice(0, 2)) await joinRoom(c.client, long);
      await members(
        room,
        inRoom.map((c) => c.id),
      );
      await members(long, [cs[0].id, cs[1].id]);

      for (const [i, n] of nodes.entries()) assert.equal(n.server.to(room, 'm', `from-${i}`), inRoom.filter((c) => c.node === n).length);
      nodes.at(-1).server.to(long, 'long', 'x');
      await fence(cs);
      const expected = nodes.map((_, i) => `from-${i}`);
      for (const c of inRoom) assert.deepEqual(c.of('m').sort(), expected, `member on ${c.node.nodeId}`);
      for (const c of cs.slice(4)) assert.deepEqual(c.of('m'), [], 'not a member');
      assert.deepEqual(
        cs.map((c) => c.of('long').length),
        [1, 1, 0, 0, 0, 0],
      );

      await leaveRoom(cs[1].client, room);
      await members(
        room,
        inRoom.filter((c) => c !== cs[1]).map((c) => c.id),
      );
      for (const n of nodes) n.server.to(room, 'm', 'after-leave');
      await fence(cs);
      assert.equal(cs[1].of('m').filter((m) => m === 'after-leave').length, 0, 'the member that left');
      for (const c of [cs[0], cs[2], cs[3]]) assert.equal(c.of('m').filter((m) => m === 'after-leave').length, NODES);
    });

    test('broadcast, broadcastBinary and to(room) with an excluded client: everyone else once, on every node', async () => {
      const cs = await clients(4);
      for (const c of cs) await joinRoom(c.client, 'ex');
      await members(
        'ex',
        cs.map((c) => c.id),
      );
      const skipped = cs.at(-1);
      for (const [i, n] of nodes.entries()) {
        n.server.broadcast('b', i, skipped.id);
        n.server.broadcastBinary('bin', Buffer.from([i, 0xff]), skipped.id);
        n.server.to('ex', 'r', i, skipped.id);
      }
      await fence(cs);
      for (const c of cs) {
        const want = c === skipped ? 0 : NODES;
        assert.equal(c.of('b').length, want, `broadcast to ${c.id}`);
        assert.equal(c.of('bin').length, want, `binary to ${c.id}`);
        assert.equal(c.of('r').length, want, `room send to ${c.id}`);
      }
      assert.deepEqual(cs[0].of('bin').sort(), nodes.map((_, i) => `bin:${Buffer.from([i, 0xff]).toString('hex')}`).sort());
    });

    test('toId reaches a client on any node, from any node; an unknown id reaches nobody', async () => {
      const cs = await clients(Math.max(3, NODES));
      for (const [i, n] of nodes.entries()) for (const c of cs) assert.equal(n.server.toId(c.id, 't', `${i}->${c.id}`), true);
      // A single node knows the id is nowhere; a cluster node hands it to the cluster.
      assert.equal(nodes[0].server.toId('nobody-has-this-id', 't', 'lost'), engine.cluster);
      await fence(cs);
      for (const c of cs) {
        assert.deepEqual(c.of('t').sort(), nodes.map((_, i) => `${i}->${c.id}`).sort());
      }
    });

    test('messages from one node arrive in the order they were sent, on every node', async () => {
      const cs = await clients(NODES * 2);
      for (const c of cs) await joinRoom(c.client, 'order');
      await members(
        'order',
        cs.map((c) => c.id),
      );
      const origin = nodes.at(-1).server;
      for (let i = 0; i < 300; i++) {
        if (i % 3 === 0) origin.broadcast('o', i);
        else origin.to('order', 'o', i);
      }
      await fence(cs);
      const sent = Array.from({ length: 300 }, (_, i) => i);
      for (const c of cs) assert.deepEqual(c.of('o'), sent);
    });

    test('cluster queries: fetchRooms, fetchRoomMembers, fetchClients and getClusterStats see every node', async () => {
      const cs = await clients(NODES * 2);
      const q1 = cs.filter((_, i) => i % 2 === 0);
      for (const c of q1) await joinRoom(c.client, 'q1');
      await joinRoom(cs[1].client, 'q2');
      await members(
        'q1',
        q1.map((c) => c.id),
      );
      for (const n of nodes) {
        const rooms = await n.server.fetchRooms();
        assert.ok(rooms.includes('q1') && rooms.includes('q2'), `rooms seen from ${n.nodeId}`);
        assert.deepEqual((await n.server.fetchRoomMembers('q1')).sort(), q1.map((c) => c.id).sort());
        const all = await n.server.fetchClients();
        assert.deepEqual(all.map((r) => r.id).sort(), cs.map((c) => c.id).sort());
        const rows = await n.server.fetchClients('q2');
        assert.deepEqual(
          rows.map((r) => [r.id, r.rooms]),
          [[cs[1].id, ['q2']]],
        );
        assert.deepEqual(new Set(all.map((r) => r.protocol)), new Set(['ws', 'tcp']));
      }
      const stats = await nodes[0].server.getClusterStats();
      assert.equal(stats.nodes.length, NODES);
      assert.equal(stats.activeConnections, cs.length);
      assert.equal(stats.wsConnections + stats.tcpConnections, cs.length);
      assert.ok(stats.totalRooms >= 2);
      if (engine.cluster) assert.deepEqual(stats.nodes.map((s) => s.nodeId).sort(), nodes.map((n) => n.nodeId).sort());
    });

    test('presence: every node and every member see the room on every node, with only the shown fields; joins and leaves reach members on other nodes', async () => {
      for (const n of nodes) {
        n.server.updateConfig({ presence: { fields: ['name'], notify: (room) => room === 'p-notify' } });
        n.server.onAck('set-name', (ctx) => {
          ctx.setMetadata('name', ctx.data);
          ctx.setMetadata('secret', `hidden-${ctx.data}`);
          return true;
        });
      }
      try {
        const cs = await clients(NODES * 2);
        for (const [i, c] of cs.entries()) await c.client.request('set-name', `n${i}`);
        const inRoom = cs.slice(0, -1);
        for (const c of inRoom) await joinRoom(c.client, 'p');
        const want = inRoom.map((c) => c.id).sort();
        await members('p', want);
        for (const n of nodes) {
          const here = await n.server.presence('p');
          assert.equal(here.count, inRoom.length, `count seen from ${n.nodeId}`);
          assert.deepEqual(here.members.map((m) => m.id).sort(), want);
          for (const m of here.members) assert.deepEqual(m.data, { name: `n${cs.findIndex((c) => c.id === m.id)}` });
        }
        for (const c of inRoom) assert.deepEqual((await c.client.presence('p')).members.map((m) => m.id).sort(), want, 'as a member sees it');
        await assert.rejects(cs.at(-1).client.presence('p'), { code: 'STELAR_ERR_NOT_IN_ROOM' });

        // Notifications: cs[0] and cs[1] are on different nodes of a cluster.
        const [watcher, mover] = cs;
        const seen = [];
        watcher.client.on('presence_join', (e) => seen.push(['join', e.id, e.data]));
        watcher.client.on('presence_leave', (e) => seen.push(['leave', e.id, e.data]));
        await joinRoom(watcher.client, 'p-notify');
        await members('p-notify', [watcher.id]);
        await joinRoom(mover.client, 'p-notify');
        await leaveRoom(mover.client, 'p-notify');
        await until(() => seen.length === 2, 'the join and the leave');
        assert.deepEqual(seen, [
          ['join', mover.id, { name: 'n1' }],
          ['leave', mover.id, { name: 'n1' }],
        ]);
      } finally {
        for (const n of nodes) n.server.updateConfig({ presence: false });
      }
    });

    test(`connection-state recovery (${engine.recovery})`, async () => {
      const recovery = { maxDisconnectionDuration: 10_000 };
      if (engine.recovery === 'refused') {
        // Asked for, refused at once and clearly, rather than replaying part of the history.
        assert.throws(
          () => new StelarServer({ adapter: engine.adapter(nodes[0].conn, { prefix }), recovery, logger: 'silent' }),
          /does not offer connection-state recovery/,
        );
        return;
      }
      const rec = [];
      try {
        const count = engine.recovery === 'cluster' ? 2 : 1;
        for (let i = 0; i < count; i++) rec.push(await startNode(engineName, { brokerPort: broker?.port, prefix: `${prefix}r`, server: { recovery } }));
        if (engine.cluster) await until(() => rec.every((n) => n.adapter.getNodes().length === 2), 'two recovery nodes');
        const c = await connectClient(rec[0], 'ws', { recovery: true, reconnection: true, customReconnectDelay: () => 150 });
        open.push(c);
        await joinRoom(c.client, 'rr');
        const sender = rec.at(-1).server;
        sender.to('rr', 'm', 0);
        await until(() => c.of('m').length === 1, 'the live message');
        // Back on the other node when there is one.
        c.client.setUrl(`ws://127.0.0.1:${rec.at(-1).port}`);
        let sent = false;
        rec[0].server.onDisconnect((ctx) => {
          if (ctx.id !== c.id || sent) return;
          sent = true;
          sender.to('rr', 'm', 1);
          sender.toId(c.id, 'm', 2);
          sender.broadcast('m', 3);
          sender.broadcast('m', 'excluded', c.id);
          sender.to('rr', 'm', 4);
        });
        const back = next(c.client, 'connect');
        rec[0].cut(c.id);
        assert.deepEqual((await back)[0], { recovered: true });
        assert.equal(c.client.getId(), c.id);
        await until(() => c.of('m').length === 5, 'the missed messages');
        assert.deepEqual(c.of('m'), [0, 1, 2, 3, 4]);
      } finally {
        for (const c of open) c.client.disconnect();
        open = [];
        for (const n of rec) await n.stop();
      }
    });
  });

  if (!engine.cluster) return;

  describe(`adapter contract: ${engine.label}: membership, a node killed, the broker restarted`, () => {
    let broker = null;
    before(async () => {
      broker = await engine.broker.start(await freePort());
    });
    after(async () => {
      await broker?.kill();
    });

    test('nodes see each other; a new node is announced (nodeJoin); a node that stops leaves at once (nodeLeave) and is not waited for', async () => {
      const prefix = uniquePrefix('m');
      const a = await startNode(engineName, { brokerPort: broker.port, prefix });
      const b = await startNode(engineName, { brokerPort: broker.port, prefix });
      try {
        await until(() => a.adapter.getNodes().length === 2 && b.adapter.getNodes().length === 2, 'two nodes');
        const joined = [];
        const left = [];
        a.adapter.on('nodeJoin', (id) => joined.push(id));
        a.adapter.on('nodeLeave', (id) => left.push(id));
        const c = await startNode(engineName, { brokerPort: broker.port, prefix });
        await until(() => joined.includes(c.nodeId), 'nodeJoin');
        await until(() => [a, b, c].every((n) => n.adapter.getNodes().length === 3), 'three nodes everywhere');
        assert.deepEqual(a.adapter.getNodes().sort(), [a.nodeId, b.nodeId, c.nodeId].sort());

        const stoppedAt = Date.now();
        await c.stop();
        await until(() => left.includes(c.nodeId), 'nodeLeave');
        // Said goodbye: gone well before a heartbeat timeout, and queries do not wait for it.
        assert.ok(Date.now() - stoppedAt < TIMINGS.heartbeatTimeout, `left after ${Date.now() - stoppedAt} ms`);
        const asked = Date.now();
        const stats = await a.server.getClusterStats();
        assert.ok(Date.now() - asked < TIMINGS.requestTimeout, 'answered without waiting for the stopped node');
        assert.deepEqual(stats.nodes.map((s) => s.nodeId).sort(), [a.nodeId, b.nodeId].sort());
      } finally {
        await a.stop();
        await b.stop();
      }
    });

    test('a node killed with SIGKILL: nodeLeave within the heartbeat timeout, its clients gone from queries, delivery goes on', async (t) => {
      const prefix = uniquePrefix('k');
      const local = await startNode(engineName, { brokerPort: broker.port, prefix });
      const survivor = await spawnNode(engineName, { brokerPort: broker.port, prefix });
      const victim = await spawnNode(engineName, { brokerPort: broker.port, prefix });
      const cs = [];
      try {
        await until(() => local.adapter.getNodes().length === 3, 'three nodes');
        for (const [node, mode] of [
          [local, 'ws'],
          [survivor, 'tcp'],
          [victim, 'ws'],
          [victim, 'tcp'],
        ]) {
          const c = await connectClient(node, mode);
          cs.push(c);
          await joinRoom(c.client, 'room');
        }
        const [onLocal, onSurvivor] = cs;
        await until(async () => (await local.server.fetchRoomMembers('room')).length === 4, 'four members cluster-wide');
        // The child nodes deliver too, before the kill.
        survivor.send({ op: 'to', room: 'room', event: 'pre', data: 'from the survivor' });
        await until(() => cs.every((c) => c.of('pre').length === 1), 'delivery from a child node');

        const left = [];
        local.adapter.on('nodeLeave', (id) => left.push(id));
        const killedAt = Date.now();
        await victim.kill();
        await until(() => left.includes(victim.nodeId), 'nodeLeave', TIMINGS.heartbeatTimeout * 4);
        const noticed = Date.now() - killedAt;
        t.diagnostic(`nodeLeave ${noticed} ms after the kill (heartbeat ${TIMINGS.heartbeatInterval}/${TIMINGS.heartbeatTimeout} ms)`);
        // Within the heartbeat timeout plus one interval, with slack for a busy machine.
        assert.ok(noticed < TIMINGS.heartbeatTimeout + TIMINGS.heartbeatInterval + 1500, `noticed after ${noticed} ms`);
        assert.deepEqual(local.adapter.getNodes().sort(), [local.nodeId, survivor.nodeId].sort());
        assert.deepEqual((await local.server.fetchRoomMembers('room')).sort(), [onLocal.id, onSurvivor.id].sort());
        const stats = await local.server.getClusterStats();
        assert.equal(stats.nodes.length, 2);
        assert.equal(stats.activeConnections, 2);

        local.server.to('room', 'still', 'here');
        survivor.send({ op: 'to', room: 'room', event: 'still', data: 'there' });
        await until(() => onSurvivor.of('still').length === 2 && onLocal.of('still').length === 2, 'delivery between the survivors');
      } finally {
        for (const c of cs) c.client.disconnect();
        await local.stop();
        await survivor.kill();
        await victim.kill();
      }
    });

    test('the broker killed and restarted: local clients still served, one log line each way, delivery resumes both ways', async () => {
      // A broker of this test's own, killed and started again on the same port.
      let own = await engine.broker.start(await freePort());
      const prefix = uniquePrefix('b');
      const logs = [captureLogger(), captureLogger()];
      const ns = [];
      const cs = [];
      try {
        for (const logger of logs) ns.push(await startNode(engineName, { brokerPort: own.port, prefix, server: { logger } }));
        await until(() => ns.every((n) => n.adapter.getNodes().length === 2), 'two nodes');
        for (const [i, mode] of [
          [0, 'ws'],
          [1, 'tcp'],
        ]) {
          const c = await connectClient(ns[i], mode);
          await joinRoom(c.client, 'room');
          cs.push(c);
        }
        await until(async () => (await ns[0].server.fetchRoomMembers('room')).length === 2, 'both members');
        const [a, b] = cs;
        ns[0].server.to('room', 'm', 'before');
        await until(() => b.of('m').includes('before'), 'cross-node delivery');

        await own.kill();
        await until(() => ns.every((n) => !engine.linkUp(n.adapter)), 'both nodes see the broker gone');
        const dropped = ns[0].adapter.getStats().dropped;
        for (let i = 0; i < 5; i++) ns[0].server.to('room', 'm', `during-${i}`);
        await until(() => a.of('m').length === 6, 'local delivery while the broker is down');
        assert.equal(ns[0].adapter.getStats().dropped, dropped + 5, 'dropped, not queued');
        assert.deepEqual(await ns[0].server.fetchRoomMembers('room'), [a.id], 'queries answer with what this node knows');
        await sleep(500); // several reconnect attempts
        assert.deepEqual(b.of('m'), ['before'], 'nothing crossed meanwhile');

        own = await engine.broker.start(own.port);
        await until(() => ns.every((n) => engine.linkUp(n.adapter) && n.adapter.getNodes().length === 2), 'reconnected and rejoined', 15_000);
        await until(
          async () => {
            ns[1].server.to('room', 'm', 'after');
            await sleep(50);
            return a.of('m').includes('after');
          },
          'cross-node delivery resumed',
          15_000,
        );
        ns[0].server.to('room', 'm', 'after-2');
        await until(() => b.of('m').includes('after-2'), 'and the other way');
        for (const log of logs) {
          assert.equal(log.lines.warn.filter((l) => /unavailable/.test(l)).length, 1, `one outage line: ${log.lines.warn.join(' | ')}`);
          assert.equal(log.lines.info.filter((l) => /reachable again/.test(l)).length, 1, 'one return line');
          assert.deepEqual(log.lines.error, []);
        }
      } finally {
        for (const c of cs) c.client.disconnect();
        for (const n of ns) await n.stop();
        await own.kill();
      }
    });
  });
}
