// server.requestRoom() across two nodes on the real Redis: members on both nodes and both
// transports are asked, the answers come back to the asking node, a member without a handler
// fails with STELAR_ERR_NO_ACK_HANDLER, one that never answers is timed out (and the call still
// settles at the timeout), exceptId leaves a remote member out.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOf, connectClient, deleteKeys, joinRoom, startNode, uniquePrefix, until } from './helpers.mjs';

const prefix = uniquePrefix('roomreq');

describe('server.requestRoom across nodes', () => {
  const nodes = [];
  const m = {};

  before(async () => {
    nodes.push(await startNode({ prefix, kind: 'node-redis' }), await startNode({ prefix, kind: 'ioredis' }));
    await until(() => nodes.every((n) => n.adapter.getNodes().length === 2), 'both nodes see each other');
    const spec = [
      ['local', 0, 'ws', 'answer'],
      ['remoteWs', 1, 'ws', 'answer'],
      ['remoteTcp', 1, 'tcp', 'answer'],
      ['bare', 1, 'tcp', 'none'],
      ['silent', 1, 'ws', 'never'],
      ['skipped', 1, 'tcp', 'answer'],
    ];
    for (const [name, node, mode, kind] of spec) {
      const { client } = await connectClient(addressOf(nodes[node], mode), { mode, reconnection: false });
      if (kind === 'answer') client.onRequest('poll', (data) => ({ name, mode, node, data }));
      if (kind === 'never') client.onRequest('poll', () => new Promise(() => {}));
      await joinRoom(client, 'team');
      m[name] = client;
    }
  });

  after(async () => {
    for (const c of Object.values(m)) c.disconnect();
    for (const n of nodes) await n.stop();
    await deleteKeys(prefix);
  });

  test('members on both nodes answer the asking node; no handler fails, silence times out, exceptId is skipped', async () => {
    const started = Date.now();
    const result = await nodes[0].server.requestRoom('team', 'poll', { round: 1 }, { timeout: 800, exceptId: m.skipped.getId() });
    const took = Date.now() - started;
    assert.ok(took >= 750 && took < 3000, `settled at the timeout (${took} ms)`);
    const answered = Object.fromEntries(result.answers.map((a) => [a.id, a.data]));
    assert.deepEqual(Object.keys(answered).sort(), [m.local, m.remoteWs, m.remoteTcp].map((c) => c.getId()).sort());
    assert.deepEqual(answered[m.remoteTcp.getId()], { name: 'remoteTcp', mode: 'tcp', node: 1, data: { round: 1 } });
    assert.deepEqual(answered[m.local.getId()], { name: 'local', mode: 'ws', node: 0, data: { round: 1 } });
    assert.deepEqual(
      result.failed.map((f) => [f.id, f.code]),
      [[m.bare.getId(), 'STELAR_ERR_NO_ACK_HANDLER']],
    );
    assert.deepEqual(result.timedOut, [m.silent.getId()]);
  });

  test('the other node asks the same room: its own and the remote member answer, without waiting when all answer', async () => {
    const started = Date.now();
    const result = await nodes[1].server.requestRoom('team', 'poll', 2, { timeout: 5000, exceptId: m.silent.getId() });
    assert.ok(Date.now() - started < 3000, 'did not wait for the timeout');
    assert.equal(result.answers.length, 4);
    assert.ok(result.answers.some((a) => a.id === m.local.getId() && a.data.node === 0));
    assert.deepEqual(result.timedOut, []);
    assert.deepEqual(
      result.failed.map((f) => f.code),
      ['STELAR_ERR_NO_ACK_HANDLER'],
    );
  });
});
