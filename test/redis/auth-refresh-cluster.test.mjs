// Auth that refreshes with the Redis adapter: a refresh happens on the client's own node and
// leaves its room membership alone, so the other nodes keep reaching it through the room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOf, connectClient, deleteKeys, joinRoom, startNode, uniquePrefix, until } from './helpers.mjs';

const prefix = uniquePrefix('refresh');

test('two nodes: after a refresh on node A, node B still sees the client in its room and reaches it', async () => {
  const middleware = (ctx, next) => {
    const [user, exp] = String(ctx.data?.token ?? '').split(':');
    ctx.setMetadata('user', user);
    ctx.setExpiry(Number(exp));
    next();
  };
  const a = await startNode({ prefix, server: { authRefreshLeadTime: 150 } });
  const b = await startNode({ prefix, kind: 'ioredis' });
  a.server.use(middleware);
  let issued = 0;
  let conn;
  try {
    await until(() => a.adapter.getNodes().length === 2 && b.adapter.getNodes().length === 2, 'both nodes see each other');
    for (const mode of ['ws', 'tcp']) {
      conn = await connectClient(addressOf(a, mode), { mode, auth: () => ({ token: `u${++issued}:${Date.now() + 400}` }) });
      const id = conn.client.getId();
      const disconnects = [];
      conn.client.on('disconnect', (info) => disconnects.push(info.code));
      await joinRoom(conn.client, `lab-${mode}`);
      const before = issued;
      await until(() => a.server.getClients()[0]?.metadata.user === `u${before + 1}`, 'the refresh on node A');
      assert.deepEqual(await b.server.fetchRoomMembers(`lab-${mode}`), [id]);
      b.server.to(`lab-${mode}`, 'news', `from B over ${mode}`);
      await until(() => conn.got.some(([event]) => event === 'news'), 'the room send from node B');
      assert.deepEqual(
        conn.got.find(([event]) => event === 'news'),
        ['news', `from B over ${mode}`],
      );
      assert.equal(conn.client.getId(), id);
      assert.deepEqual(disconnects, []);
      conn.client.disconnect();
      await until(() => a.server.getStats().activeConnections === 0, 'gone');
    }
  } finally {
    conn?.client.disconnect();
    await a.stop();
    await b.stop();
    await deleteKeys(prefix);
  }
});
