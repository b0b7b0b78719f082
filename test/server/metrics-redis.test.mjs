// The adapter's part of /metrics, on the real Redis (127.0.0.1:6379): two nodes, a broadcast
// from one reaches the other; the publishing node's published counter and the receiving
// node's received counter move by one, the link is up, both see two nodes, and the whole
// exposition (adapter families included) passes promtool. A server on the in-memory adapter
// has no adapter families at all.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteKeys, startNode, uniquePrefix, until } from '../redis/helpers.mjs';
import { delta, readMetrics, scrape } from './metrics-helpers.mjs';
import { startServer } from './helpers.mjs';
import { assertPromtoolAccepts, needPromtool } from '../support/promtool.mjs';

const prefix = uniquePrefix('metrics');
after(() => deleteKeys(prefix));

test('two Redis nodes: published, received, link up, nodes; promtool accepts it', async (t) => {
  const a = await startNode({ prefix, server: { metrics: true } });
  t.after(() => a.stop());
  const b = await startNode({ prefix, server: { metrics: true } });
  t.after(() => b.stop());
  await until(() => a.adapter.getNodes().length === 2 && b.adapter.getNodes().length === 2, 'both nodes see two nodes');
  const beforeA = await readMetrics(a.port);
  const beforeB = await readMetrics(b.port);
  a.server.broadcast('hello', { n: 1 });
  await until(async () => delta(beforeB, await readMetrics(b.port), 'stelar_adapter_received_total') === 1, 'node b received the broadcast');
  const afterA = await readMetrics(a.port);
  assert.equal(delta(beforeA, afterA, 'stelar_adapter_published_total'), 1);
  assert.equal(delta(beforeA, afterA, 'stelar_adapter_dropped_total'), 0);
  assert.equal(afterA.get('stelar_adapter_link_up'), 1);
  assert.equal(afterA.get('stelar_adapter_nodes'), 2);
  assert.equal(afterA.get('stelar_adapter_rejected_total{reason="forged"}'), 0);
  const res = await scrape(b.port);
  if (needPromtool(t)) assertPromtoolAccepts(res.text);
});

test('the in-memory adapter keeps no cluster counters: no adapter families', async (t) => {
  const server = await startServer({ metrics: true });
  t.after(() => server.stop());
  const res = await scrape(server.getPort());
  assert.equal(res.status, 200);
  assert.doesNotMatch(res.text, /stelar_adapter_/);
});
