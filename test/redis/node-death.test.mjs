// A node process killed with SIGKILL (no goodbye, no cleanup): the others notice through the
// missing heartbeats, and its clients vanish from cluster queries within the heartbeat timeout,
// while the rest of the cluster keeps delivering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { addressOf, connectClient, deleteKeys, joinRoom, startNode, uniquePrefix, until } from './helpers.mjs';

const FIXTURE = fileURLToPath(new URL('./fixtures/node.mjs', import.meta.url));
const HEARTBEAT_TIMEOUT = 1200; // helpers' default for test nodes (interval 300)

function spawnNode(options) {
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const ready = new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const line = buf.split('\n')[0];
      if (buf.includes('\n')) resolve({ child, ...JSON.parse(line) });
    });
    child.once('exit', (code) => reject(new Error(`node process exited early (${code})`)));
  });
  return ready;
}

test('a killed node: nodeLeave, its clients gone from queries within the heartbeat timeout, delivery goes on', async () => {
  const prefix = uniquePrefix('death');
  const local = await startNode({ prefix, kind: 'ioredis' });
  const survivor = await spawnNode({ prefix, kind: 'node-redis' });
  const victim = await spawnNode({ prefix, kind: 'ioredis' });
  const clients = [];
  try {
    await until(() => local.adapter.getNodes().length === 3, 'three nodes');
    const open = async (node, mode) => {
      const c = await connectClient(addressOf(node, mode), { mode, reconnection: false });
      clients.push(c);
      await joinRoom(c.client, 'room');
      return c;
    };
    const onLocal = await open(local, 'ws');
    const onSurvivor = await open(survivor, 'tcp');
    const onVictimWs = await open(victim, 'ws');
    const onVictimTcp = await open(victim, 'tcp');
    await until(async () => (await local.server.fetchRoomMembers('room')).length === 4, 'four members cluster-wide');

    const left = [];
    local.adapter.on('nodeLeave', (id) => left.push(id));
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');

    // Gone from the queries...
    await until(async () => (await local.server.fetchRoomMembers('room')).length === 2, "the victim's members gone", HEARTBEAT_TIMEOUT * 4);
    const members = (await local.server.fetchRoomMembers('room')).sort();
    assert.deepEqual(members, [onLocal.client.getId(), onSurvivor.client.getId()].sort());
    const ids = (await local.server.fetchClients()).map((c) => c.id);
    assert.ok(!ids.includes(onVictimWs.client.getId()) && !ids.includes(onVictimTcp.client.getId()));
    // ...and from the membership, within the heartbeat timeout (plus one beat and some slack for a busy machine).
    await until(() => left.includes(victim.nodeId), 'nodeLeave', HEARTBEAT_TIMEOUT * 4);
    assert.ok(Date.now() - killedAt < HEARTBEAT_TIMEOUT * 4, 'noticed within a few heartbeat timeouts');
    assert.deepEqual(local.adapter.getNodes().sort(), [local.adapter.nodeId, survivor.nodeId].sort());
    const stats = await local.server.getClusterStats();
    assert.equal(stats.nodes.length, 2);
    assert.equal(stats.activeConnections, 2);

    // The living keep talking to each other.
    local.server.to('room', 'still', 'here');
    await until(() => onSurvivor.got.some(([e]) => e === 'still'), 'delivery to the survivor');
  } finally {
    for (const c of clients) c.client.disconnect();
    await local.stop();
    for (const { child } of [survivor, victim]) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    await deleteKeys(prefix);
  }
});
