// Regressions found while documenting: behaviour that crosses server and client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOf, connectClient, next, startServer, until } from './helpers/server.mjs';

for (const mode of ['ws', 'tcp']) {
  test(`${mode}: rooms the server puts a client in are announced, remembered and re-joined after a reconnect`, async () => {
    const srv = await startServer();
    srv.server.on('enlist', (ctx) => ctx.joinRoom(ctx.data.room));
    srv.server.on('discharge', (ctx) => ctx.leaveRoom(ctx.data.room));
    const client = await connectClient(addressOf(srv, mode), { mode, reconnectionDelay: 50, maxReconnectionDelay: 100 });
    try {
      const joined = next(client, 'room_joined');
      client.emit('enlist', { room: 'team' });
      assert.deepEqual(await joined, ['team']);
      assert.deepEqual(client.getRooms(), ['team']);

      // Drop the connection from the server side with a code that allows a reconnect.
      const [summary] = srv.server.getClients();
      const back = next(client, 'connect');
      srv.server.disconnect(summary.id, 4005);
      await back;
      await until(() => srv.server.getRoomMembers('team').length === 1, 'client back in its room');
      assert.notEqual(srv.server.getClients()[0].id, summary.id, 'a new session');

      const left = next(client, 'room_left');
      client.emit('discharge', { room: 'team' });
      assert.deepEqual(await left, ['team']);
      assert.deepEqual(client.getRooms(), []);
    } finally {
      client.disconnect();
      await srv.server.stop();
    }
  });

  test(`${mode}: bytes given to client.emit travel as binary; a custom error code thrown by onAck reaches request()`, async () => {
    const srv = await startServer();
    const seen = [];
    srv.server.on('raw', (ctx) => seen.push(Buffer.isBuffer(ctx.data) ? [...ctx.data] : ctx.data));
    srv.server.onAck('find', () => {
      throw Object.assign(new Error('no such user'), { code: 'NOT_FOUND' });
    });
    const client = await connectClient(addressOf(srv, mode), { mode });
    try {
      client.emit('raw', new Uint8Array([1, 2, 3]));
      await until(() => seen.length === 1, 'binary event handled');
      assert.deepEqual(seen[0], [1, 2, 3]);
      await assert.rejects(client.request('find', { id: 9 }, 'find'), (err) => err.code === 'NOT_FOUND' && err.message === 'no such user');
    } finally {
      client.disconnect();
      await srv.server.stop();
    }
  });
}
