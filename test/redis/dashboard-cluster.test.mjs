// Issue 15 C: the dashboard's cluster panel on the real Redis. Two nodes with a RedisAdapter,
// the dashboard on one: its ticks list both nodes (from getClusterStats), with each node's
// connections and message rates; a node that stops leaves the panel. Without a cluster
// adapter there is no panel (covered in test/server/dashboard.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TOKEN, Viewer } from '../server/dashboard-helpers.mjs';
import { addressOf, connectClient, deleteKeys, startNode, uniquePrefix, until } from './helpers.mjs';

const prefix = uniquePrefix('dashboard');

test('the cluster panel lists every node with its connections and rates, and drops a node that left', { timeout: 60_000 }, async () => {
  const watched = await startNode({ prefix, server: { dashboard: { token: TOKEN }, rateLimit: false } });
  const other = await startNode({ prefix, kind: 'ioredis', server: { rateLimit: false } });
  const clients = [];
  let viewer;
  let otherStopped = false;
  let traffic;
  try {
    await until(() => watched.adapter.getNodes().length === 2, 'both nodes see each other');
    other.server.on('chat', (ctx) => ctx.emit('chat', ctx.data));
    clients.push(await connectClient(addressOf(other, 'ws'), { mode: 'ws' }), await connectClient(addressOf(other, 'tcp'), { mode: 'tcp' }));
    clients.push(await connectClient(addressOf(watched, 'ws'), { mode: 'ws' }));

    viewer = await Viewer.open(watched.port, { token: TOKEN });
    const hello = await viewer.next((m) => m.t === 'hello', 'hello');
    assert.equal(hello.cluster, true);
    traffic = setInterval(() => clients[0].client.emit('chat', 'x'), 20);
    // Rates need two answers from the cluster (asked every 2 s).
    const t = await viewer.tick((m) => m.cluster?.nodes.length === 2 && m.cluster.nodes.some((n) => n.in > 0), 'two nodes, one busy', 15_000);
    const byId = new Map(t.cluster.nodes.map((n) => [n.id, n]));
    const busy = byId.get(other.adapter.nodeId);
    const quiet = byId.get(watched.adapter.nodeId);
    assert.ok(busy && quiet, JSON.stringify(t.cluster));
    assert.deepEqual([busy.ws, busy.tcp], [1, 1]);
    assert.deepEqual([quiet.ws, quiet.tcp], [1, 0]);
    assert.ok(busy.in > 0 && busy.out > 0, JSON.stringify(busy));
    assert.equal(quiet.in, 0);
    assert.equal(t.cluster.more, 0);
    assert.equal(t.cluster.error, undefined);
    // The lists stay this node's own.
    assert.equal(t.clients.all, 1);
    clearInterval(traffic);

    for (const c of clients.splice(0, 2)) c.client.disconnect();
    await other.stop();
    otherStopped = true;
    await viewer.tick((m) => m.cluster?.nodes.length === 1, 'one node left', 15_000);
  } finally {
    clearInterval(traffic);
    await viewer?.close();
    for (const c of clients) c.client.disconnect();
    if (!otherStopped) await other.stop();
    await watched.stop();
    await deleteKeys(prefix);
  }
});
