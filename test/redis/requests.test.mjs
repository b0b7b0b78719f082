// Server -> client requests across nodes (server.request(id, …) for a client on another node)
// on the real Redis: the answer comes back to the asking node only, over both transports; an
// unknown id fails at once (every node says it has no such client); the client's error, the
// timeout, the client leaving and its node leaving all settle the request; the caps hold.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kind } from '../../dist/adapter/shared/envelope.js';
import { addressOf, closeRedis, connectClient, deleteKeys, redisClient, sleep, startNode, uniquePrefix, until } from './helpers.mjs';

const prefix = uniquePrefix('requests');

describe('server.request across nodes', () => {
  const nodes = [];
  const clients = {};

  before(async () => {
    for (const kind of ['node-redis', 'ioredis', 'node-redis']) nodes.push(await startNode({ prefix, kind }));
    await until(() => nodes.every((n) => n.adapter.getNodes().length === 3), 'every node sees three nodes');
    for (const mode of ['ws', 'tcp']) {
      const c = await connectClient(addressOf(nodes[1], mode), { mode });
      c.client.onRequest('whereAmI', (data, info) => ({ mode, data, info }));
      c.client.onRequest('fail', () => {
        throw Object.assign(new Error('not today'), { code: 'NOT_TODAY' });
      });
      c.client.onRequest('never', () => new Promise(() => {}));
      clients[mode] = c;
    }
  });

  after(async () => {
    for (const c of Object.values(clients)) c.client.disconnect();
    for (const n of nodes) await n.stop();
    await deleteKeys(prefix);
  });

  for (const mode of ['ws', 'tcp']) {
    test(`${mode}: the node without the client gets the answer of the client on another node`, async () => {
      const id = clients[mode].client.getId();
      assert.equal(nodes[0].server.getClients().length, 0, 'the asking node has no clients');
      const answer = await nodes[0].server.request(id, 'whereAmI', { n: 7 });
      assert.deepEqual(answer, { mode, data: { n: 7 }, info: { event: 'whereAmI', name: 'whereAmI', ackId: answer.info.ackId } });
      assert.ok(answer.info.ackId >= 1);
      // A distinct ack name travels too.
      const named = await nodes[2].server.request(id, 'anything', 1, { ackName: 'whereAmI' });
      assert.deepEqual(named.info, { event: 'anything', name: 'whereAmI', ackId: named.info.ackId });
    });

    test(`${mode}: the client's own error and the missing handler come back with their codes`, async () => {
      const id = clients[mode].client.getId();
      await assert.rejects(nodes[0].server.request(id, 'fail'), { code: 'NOT_TODAY', message: 'not today' });
      await assert.rejects(nodes[2].server.request(id, 'nobodyHome'), { code: 'STELAR_ERR_NO_ACK_HANDLER' });
    });

    test(`${mode}: a timeout settles the request on the asking node`, async () => {
      const id = clients[mode].client.getId();
      const started = Date.now();
      await assert.rejects(nodes[0].server.request(id, 'never', null, { timeout: 300 }), { code: 'STELAR_ERR_ACK_TIMEOUT' });
      const took = Date.now() - started;
      assert.ok(took >= 290 && took < 2000, `settled after ${took} ms`);
    });
  }

  test('an id no node has fails at once with STELAR_ERR_NOT_CONNECTED (every node answers "not here")', async () => {
    const started = Date.now();
    await assert.rejects(nodes[0].server.request('no-such-client', 'whereAmI', null, { timeout: 5000 }), { code: 'STELAR_ERR_NOT_CONNECTED' });
    assert.ok(Date.now() - started < 2000, 'did not wait for the timeout');
  });

  test('answers go to the asking node only: the other nodes see no CLIENT_ANSWER for it', async () => {
    const id = clients.ws.client.getId();
    const seen = nodes.map(() => 0);
    // Count CLIENT_ANSWER envelopes arriving on each node's subscriber (its own channel or all).
    const subs = [];
    for (let i = 0; i < nodes.length; i++) {
      const sub = await redisClient('node-redis');
      const channel = `${prefix}node:${nodes[i].adapter.nodeId}`;
      await sub.subscribe(
        [channel, `${prefix}all`],
        (message) => {
          if (message[1] === Kind.CLIENT_ANSWER) seen[i]++;
        },
        true,
      );
      subs.push(sub);
    }
    await nodes[0].server.request(id, 'whereAmI', 1);
    await sleep(200);
    for (const s of subs) await closeRedis(s);
    // Node 0 asked: one count from each of the two others, then the answer from node 1.
    assert.equal(seen[0], 3, 'the asking node got two counts and one answer');
    assert.equal(seen[1], 0);
    assert.equal(seen[2], 0);
  });

  test('the client leaving rejects with STELAR_ERR_CONNECTION_CLOSED on the asking node', async () => {
    const extra = await connectClient(addressOf(nodes[2], 'ws'), { mode: 'ws', reconnection: false });
    extra.client.onRequest('never', () => new Promise(() => {}));
    const asked = nodes[0].server.request(extra.client.getId(), 'never', null, { timeout: 5000 });
    await sleep(150);
    const started = Date.now();
    extra.client.disconnect();
    await assert.rejects(asked, { code: 'STELAR_ERR_CONNECTION_CLOSED' });
    assert.ok(Date.now() - started < 2000);
  });

  test('the holding node leaving the cluster rejects with STELAR_ERR_CONNECTION_CLOSED', async () => {
    const node = await startNode({ prefix });
    await until(() => nodes[0].adapter.getNodes().length === 4, 'node 0 sees the fourth node');
    const c = await connectClient(addressOf(node, 'tcp'), { mode: 'tcp', reconnection: false });
    c.client.onRequest('never', () => new Promise(() => {}));
    const asked = nodes[0].server.request(c.client.getId(), 'never', null, { timeout: 8000 });
    await sleep(150);
    const started = Date.now();
    // The node leaves the cluster (BYE) while its client stays connected to it: nobody can answer.
    await node.adapter.close();
    await assert.rejects(asked, { code: 'STELAR_ERR_CONNECTION_CLOSED', message: /left before it answered/ });
    assert.ok(Date.now() - started < 3000);
    c.client.disconnect();
    await node.stop();
    await until(() => nodes[0].adapter.getNodes().length === 3, 'node 0 sees three nodes again');
  });

  test('maxOutgoingRequests counts requests waiting on other nodes too', async () => {
    const id = clients.tcp.client.getId();
    nodes[0].server.updateConfig({ maxOutgoingRequests: 2 });
    try {
      const a = nodes[0].server.request(id, 'never', null, { timeout: 400 });
      const b = nodes[0].server.request(id, 'never', null, { timeout: 400 });
      await assert.rejects(nodes[0].server.request(id, 'whereAmI'), { code: 'STELAR_ERR_REQUEST_LIMIT' });
      await assert.rejects(a, { code: 'STELAR_ERR_ACK_TIMEOUT' });
      await assert.rejects(b, { code: 'STELAR_ERR_ACK_TIMEOUT' });
      assert.equal((await nodes[0].server.request(id, 'whereAmI', 2)).data, 2, 'slots are free again');
    } finally {
      nodes[0].server.updateConfig({ maxOutgoingRequests: 10_000 });
    }
  });
});
