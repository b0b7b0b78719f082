import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, PacketType } from '../../dist/index.js';
import { closeAll, connect, startServer, until } from './helpers.mjs';

test('join/leave are echoed; rooms exist while they have members and vanish with the last one', async () => {
  const server = await startServer();
  const a = await connect(server, 'ws');
  const b = await connect(server, 'tcp');
  assert.equal((await a.join('r1')).type, PacketType.JOIN_ROOM);
  assert.equal((await b.join('r1')).type, PacketType.JOIN_ROOM);
  assert.equal((await a.join('r2')).type, PacketType.JOIN_ROOM);
  assert.deepEqual(server.getRooms().sort(), ['r1', 'r2']);
  assert.deepEqual(server.getRoomMembers('r1').sort(), [a.id, b.id].sort());
  assert.equal(server.getStats().totalRooms, 2);

  assert.equal((await a.leave('r2')).type, PacketType.LEAVE_ROOM);
  assert.deepEqual(server.getRooms(), ['r1']);
  // Disconnecting removes the client from its rooms; the empty room goes away.
  await a.close();
  await until(() => server.getRoomMembers('r1').length === 1, 'a removed from r1');
  await b.close();
  await until(() => server.getRooms().length === 0, 'r1 removed');
  await server.stop();
});

test("the spec's joinChannel / channelMessage example works across transports", async () => {
  const server = await startServer();
  server.on('joinChannel', (ctx) => {
    ctx.joinRoom(ctx.data.channel);
    ctx.to(ctx.data.channel, 'userJoined', { userId: ctx.id });
  });
  server.on('channelMessage', (ctx) => {
    for (const room of ctx.clientInfo.rooms) ctx.to(room, 'channelMessage', ctx.data, ctx.id);
  });
  const ws = await connect(server, 'ws');
  const tcp = await connect(server, 'tcp');
  ws.emit('joinChannel', { channel: 'alpha' });
  assert.deepEqual(await ws.event('userJoined'), { userId: ws.id });
  tcp.emit('joinChannel', { channel: 'alpha' });
  assert.deepEqual(await ws.event('userJoined'), { userId: tcp.id });
  assert.deepEqual(await tcp.event('userJoined'), { userId: tcp.id });
  tcp.emit('channelMessage', { text: 'hi' });
  assert.deepEqual(await ws.event('channelMessage'), { text: 'hi' });
  ws.ping();
  await ws.next(PacketType.PONG);
  tcp.ping();
  await tcp.next(PacketType.PONG);
  assert.equal(
    tcp.has((p) => p.event === 'channelMessage'),
    false,
    'sender excluded',
  );
  await closeAll(ws, tcp);
  await server.stop();
});

test('maxRoomsPerClient and maxRooms refuse with an Error naming the room, and run their hooks', async () => {
  const calls = [];
  const server = await startServer({
    maxRoomsPerClient: 2,
    maxRooms: 3,
    hooks: {
      onMaxRoomsPerClientReached: (info) => calls.push(['perClient', info]),
      onMaxRoomsReached: (info) => calls.push(['global', info]),
    },
  });
  const a = await connect(server, 'ws');
  const b = await connect(server, 'tcp');
  await a.join('a1');
  await a.join('a2');
  const refused = await a.join('a3');
  assert.equal(refused.type, PacketType.ERROR);
  assert.equal(refused.event, ErrorCode.ROOM_LIMIT);
  assert.equal(refused.data.room, 'a3');
  assert.deepEqual(calls[0], ['perClient', { clientId: a.id, room: 'a3', currentRooms: 2, max: 2 }]);

  await b.join('b1'); // third room overall
  const full = await b.join('b2');
  assert.equal(full.event, ErrorCode.ROOM_LIMIT);
  assert.deepEqual(calls[1], ['global', { clientId: b.id, room: 'b2', totalRooms: 3, max: 3 }]);
  // Joining an existing room is fine even at the global limit.
  assert.equal((await b.join('a1')).type, PacketType.JOIN_ROOM);
  // The connection stayed open.
  a.ping();
  await a.next(PacketType.PONG);
  await closeAll(a, b);
  await server.stop();
});

test('onClientJoinRoom / onClientLeaveRoom returning false refuse; metadata is visible to the hook', async () => {
  const server = await startServer({
    hooks: {
      onClientJoinRoom: ({ room, metadata }) => {
        if (room.startsWith('admin-') && metadata.get('role') !== 'admin') return false;
      },
      onClientLeaveRoom: ({ room }) => (room === 'jail' ? false : undefined),
    },
  });
  server.on('promote', (ctx) => {
    ctx.setMetadata('role', 'admin');
    ctx.emit('promoted');
  });
  const c = await connect(server, 'tcp');
  const refused = await c.join('admin-room');
  assert.equal(refused.event, ErrorCode.ROOM_REJECTED);
  assert.equal(refused.data.room, 'admin-room');
  c.emit('promote');
  await c.event('promoted');
  assert.equal((await c.join('admin-room')).type, PacketType.JOIN_ROOM);
  await c.join('jail');
  const stuck = await c.leave('jail');
  assert.equal(stuck.event, ErrorCode.ROOM_REJECTED);
  assert.deepEqual(server.getRoomMembers('jail'), [c.id]);
  await closeAll(c);
  await server.stop();
});

test('invalid room names are refused (empty, too long)', async () => {
  const server = await startServer({ maxRoomNameLength: 8 });
  const c = await connect(server, 'ws');
  const long = await c.join('x'.repeat(9));
  assert.equal(long.event, ErrorCode.INVALID_ROOM);
  c.sendPacket({ type: PacketType.JOIN_ROOM, event: '' });
  const empty = await c.next(PacketType.ERROR);
  assert.equal(empty.event, ErrorCode.INVALID_ROOM);
  assert.equal(server.getRooms().length, 0);
  await closeAll(c);
  await server.stop();
});

test('ctx.joinRoom/leaveRoom return whether they succeeded; getClients(room) lists members with rooms and metadata', async () => {
  const server = await startServer({ maxRoomsPerClient: 1 });
  const results = [];
  server.on('go', (ctx) => {
    ctx.setMetadata('name', ctx.data);
    results.push(ctx.joinRoom('one'), ctx.joinRoom('two'), ctx.joinRoom('one'));
    ctx.emit('clients', ctx.getClients('one'));
  });
  const c = await connect(server, 'ws');
  c.emit('go', 'zed');
  const list = await c.event('clients');
  assert.deepEqual(results, [true, false, true]);
  assert.equal(list.length, 1);
  assert.equal(list[0].id, c.id);
  assert.equal(list[0].protocol, 'ws');
  assert.equal(list[0].remoteAddress, '127.0.0.1');
  assert.deepEqual(list[0].rooms, ['one']);
  assert.deepEqual(list[0].metadata, { name: 'zed' });
  assert.deepEqual(server.getClients('nope'), []);
  assert.equal(server.getClients().length, 1);
  await closeAll(c);
  await server.stop();
});

test('to(room) reaches members only, once each, and honours excludeId', async () => {
  const server = await startServer();
  const a = await connect(server, 'ws');
  const b = await connect(server, 'tcp');
  const c = await connect(server, 'tcp');
  await a.join('r');
  await b.join('r');
  assert.equal(server.to('r', 'msg', 1, b.id), 1);
  assert.equal(await a.event('msg'), 1);
  assert.equal(server.to('r', 'msg', 2), 2);
  assert.equal(await a.event('msg'), 2);
  assert.equal(await b.event('msg'), 2); // b's first msg is 2: excluded from 1
  assert.equal(server.to('missing', 'msg', 3), 0);
  c.ping();
  await c.next(PacketType.PONG);
  assert.equal(
    c.has((p) => p.event === 'msg'),
    false,
  );
  await closeAll(a, b, c);
  await server.stop();
});
