// Presence on one server, over real sockets and both transports: server.presence() and
// client.presence() (only the exposed metadata fields, members only, one request at a time),
// join/leave notifications (opt-in per room, never to the client itself, on joins and leaves
// made by either side, on disconnection, on acceptance with rooms joined in middleware or
// restored by recovery), and the reserved `$stelar:` names (never the application's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAdapter } from '../../dist/index.js';
import { StelarClient } from '../../dist/client/index.js';
import { delay, startServer, until } from './helpers.mjs';
import { nextEvent } from '../support/waits.mjs';

const MODES = ['ws', 'tcp'];

function url(server, mode) {
  return mode === 'tcp' ? `127.0.0.1:${server.getTcpPort()}` : `127.0.0.1:${server.getPort()}`;
}

/** A client connected to `server`, in `rooms` (joined before connecting, confirmed). */
async function member(server, mode, rooms, auth) {
  const client = new StelarClient(url(server, mode), { mode, auth, logger: false, reconnection: false });
  const confirmed = new Set();
  const all = new Promise((resolve) => {
    const on = (room) => {
      confirmed.add(room);
      if (rooms.every((r) => confirmed.has(r))) {
        client.off('room_joined', on);
        resolve();
      }
    };
    client.on('room_joined', on);
  });
  for (const r of rooms) client.joinRoom(r);
  const connected = nextEvent(client, 'connect', 5000);
  client.connect();
  await connected;
  if (rooms.length) await all;
  return client;
}

/** Collects presence_join / presence_leave events as [kind, room, id, data]. */
function recordChanges(client) {
  const seen = [];
  client.on('presence_join', (c) => seen.push(['join', c.room, c.id, c.data]));
  client.on('presence_leave', (c) => seen.push(['leave', c.room, c.id, c.data]));
  return seen;
}

function nameMiddleware(server) {
  server.use((ctx, next) => {
    ctx.setMetadata('name', ctx.data?.name);
    ctx.setMetadata('token', 'secret-of-' + ctx.data?.name);
    next();
  });
}

const ids = (result) => result.members.map((m) => m.id).sort();

for (const mode of MODES) {
  test(`${mode}: a member asks who is in its room; only the exposed fields, members only`, async () => {
    const server = await startServer({ presence: { fields: ['name'] } });
    nameMiddleware(server);
    const clients = [];
    try {
      const ada = await member(server, mode, ['lobby'], { name: 'Ada' });
      const bob = await member(server, mode === 'ws' ? 'tcp' : 'ws', ['lobby', 'side'], { name: 'Bob' });
      const eve = await member(server, mode, ['side'], { name: 'Eve' });
      clients.push(ada, bob, eve);

      const seen = await ada.presence('lobby');
      assert.equal(seen.room, 'lobby');
      assert.equal(seen.count, 2);
      assert.equal(seen.truncated, false);
      assert.deepEqual(ids(seen), [ada.getId(), bob.getId()].sort());
      const bobRow = seen.members.find((m) => m.id === bob.getId());
      assert.deepEqual(bobRow.data, { name: 'Bob' }, 'the token is never shown');

      // The server's own view: the option's fields by default, its own when it asks.
      assert.deepEqual(await server.presence('lobby'), { ...seen, members: seen.members });
      const full = await server.presence('side', { fields: ['name', 'token'] });
      assert.deepEqual(full.members.find((m) => m.id === eve.getId()).data, { name: 'Eve', token: 'secret-of-Eve' });
      assert.deepEqual(await server.presence('nobody-here'), { room: 'nobody-here', count: 0, members: [], truncated: false });

      // Not a member: refused, with a code that says why.
      await assert.rejects(eve.presence('lobby'), (err) => err.code === 'STELAR_ERR_NOT_IN_ROOM' && /only members of "lobby"/.test(err.message));
      // A bad request body (raw, as a hand-written client could send it).
      await assert.rejects(eve.request('$stelar:presence', 'side'), { code: 'STELAR_ERR_INVALID_ROOM' });
      // The connection stays open and usable.
      assert.equal((await eve.presence('side')).count, 2);
    } finally {
      for (const c of clients) c.disconnect();
      await server.stop();
    }
  });
}

test('server.presence: ids only without the option; limit cuts the list, never the count; bad arguments reject', async () => {
  const server = await startServer();
  nameMiddleware(server);
  const clients = [];
  try {
    for (let i = 0; i < 5; i++) clients.push(await member(server, MODES[i % 2], ['r'], { name: `n${i}` }));
    const all = await server.presence('r');
    assert.equal(all.count, 5);
    assert.ok(all.members.every((m) => Object.keys(m.data).length === 0));
    const cut = await server.presence('r', { limit: 2, fields: ['name'] });
    assert.equal(cut.count, 5);
    assert.equal(cut.members.length, 2);
    assert.equal(cut.truncated, true);
    assert.match(cut.members[0].data.name, /^n\d$/);
    await assert.rejects(server.presence(''), TypeError);
    await assert.rejects(server.presence('r', { limit: 0 }), RangeError);
    await assert.rejects(server.presence('r', { fields: 'name' }), TypeError);
    // Clients may not ask while the option is off.
    await assert.rejects(clients[0].presence('r'), (err) => err.code === 'STELAR_ERR_NO_ACK_HANDLER' && /not enabled/.test(err.message));
    // ...and may once it is turned on at runtime.
    server.updateConfig({ presence: { maxMembers: 3 } });
    const capped = await clients[0].presence('r');
    assert.deepEqual([capped.count, capped.members.length, capped.truncated], [5, 3, true]);
    assert.deepEqual(server.getConfig().presence, { fields: [], notify: false, maxMembers: 3 });
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
});

test('one presence request at a time per client: a second one while the first is unanswered is refused', async () => {
  // An adapter whose cluster query is slow (and that has no fetchPresence: the fetchClients fallback).
  class SlowAdapter extends MemoryAdapter {
    #host = null;
    init(host) {
      this.#host = host;
      super.init(host);
    }
    async fetchClients(room) {
      await delay(200);
      return this.#host.getClients(room);
    }
  }
  const server = await startServer({ adapter: new SlowAdapter(), presence: { fields: ['name'] } });
  nameMiddleware(server);
  const clients = [];
  try {
    const a = await member(server, 'tcp', ['r'], { name: 'A' });
    const b = await member(server, 'ws', ['r'], { name: 'B' });
    clients.push(a, b);
    const first = a.presence('r');
    const second = a.presence('r');
    const other = b.presence('r'); // another client is not held back
    await assert.rejects(second, { code: 'STELAR_ERR_PRESENCE_BUSY' });
    const [one, two] = await Promise.all([first, other]);
    assert.equal(one.count, 2);
    assert.deepEqual(one.members.find((m) => m.id === b.getId()).data, { name: 'B' }, 'projected from the fallback rows too');
    assert.deepEqual(ids(two), ids(one));
    // Answered: the next one is accepted.
    assert.equal((await a.presence('r')).count, 2);
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
});

test('notifications: only in the rooms that ask, to the other members, for joins and leaves from either side and on disconnect', async () => {
  const broadcasts = [];
  const server = await startServer({
    presence: { fields: ['name'], notify: (room) => room.startsWith('chat:') },
    hooks: { onBeforeBroadcast: ({ event }) => (broadcasts.push(event), true) },
  });
  nameMiddleware(server);
  server.on('move', (ctx) => {
    if (ctx.data.join) ctx.joinRoom(ctx.data.join);
    if (ctx.data.leave) ctx.leaveRoom(ctx.data.leave);
  });
  const clients = [];
  try {
    const ada = await member(server, 'ws', ['chat:a', 'quiet'], { name: 'Ada' });
    const adaSeen = recordChanges(ada);
    clients.push(ada);
    const bob = await member(server, 'tcp', [], { name: 'Bob' });
    const bobSeen = recordChanges(bob);
    clients.push(bob);

    // Bob's own join (a client packet), in a quiet room and an announcing one.
    bob.joinRoom('quiet');
    bob.joinRoom('chat:a');
    await until(() => adaSeen.length === 1, 'the join of Bob');
    assert.deepEqual(adaSeen[0], ['join', 'chat:a', bob.getId(), { name: 'Bob' }]);
    // A join made by the server (ctx.joinRoom) is announced the same way.
    bob.emit('move', { join: 'chat:b' });
    const cara = await member(server, 'ws', ['chat:b'], { name: 'Cara' });
    clients.push(cara);
    await until(() => bobSeen.some(([k, r, id]) => k === 'join' && r === 'chat:b' && id === cara.getId()), 'Cara seen by Bob');
    // Leaves: the client's own, then the server's.
    bob.leaveRoom('chat:a');
    await until(() => adaSeen.length === 2, 'the leave of Bob');
    assert.deepEqual(adaSeen[1], ['leave', 'chat:a', bob.getId(), { name: 'Bob' }]);
    cara.emit('move', { leave: 'chat:b' });
    await until(() => bobSeen.some(([k, r, id]) => k === 'leave' && r === 'chat:b' && id === cara.getId()), 'Cara left, seen by Bob');
    // A disconnection is a leave of every room; Bob is in chat:b with nobody else now, Ada in chat:a.
    cara.joinRoom('chat:b');
    await until(() => bobSeen.filter(([k]) => k === 'join').length === 2, 'Cara back');
    const caraId = cara.getId();
    cara.disconnect();
    await until(() => bobSeen.filter(([k]) => k === 'leave').length === 2, 'Cara gone');
    assert.deepEqual(bobSeen.at(-1), ['leave', 'chat:b', caraId, { name: 'Cara' }]);

    await delay(100);
    // Nobody ever hears about itself, nor about the quiet room; the hook never sees them.
    assert.ok(!adaSeen.some(([, , id]) => id === ada.getId()));
    assert.ok(!bobSeen.some(([, , id]) => id === bob.getId()));
    assert.ok(![...adaSeen, ...bobSeen].some(([, room]) => room === 'quiet'));
    assert.ok(!broadcasts.some((e) => e.startsWith('$stelar:')), 'onBeforeBroadcast does not see notifications');
    assert.equal(adaSeen.length, 2);
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
});

test('notifications: rooms joined in middleware are announced once the client is accepted; a throwing notify counts as no', async () => {
  const server = await startServer({
    presence: {
      notify: (room) => {
        if (room === 'broken') throw new Error('no');
        return true;
      },
    },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  server.use((ctx, next) => {
    ctx.joinRoom('lobby');
    ctx.joinRoom('broken');
    next();
  });
  const clients = [];
  try {
    const first = await member(server, 'ws', [], {});
    clients.push(first);
    const seen = recordChanges(first);
    const second = await member(server, 'tcp', [], {});
    clients.push(second);
    await until(() => seen.length === 1, 'the join');
    assert.deepEqual(seen[0], ['join', 'lobby', second.getId(), {}]);
    assert.deepEqual(ids(await first.presence('lobby')), [first.getId(), second.getId()].sort());
    await delay(50);
    assert.equal(seen.length, 1, 'nothing for the room whose notify threw');
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
});

test('notifications with recovery: a resumed client is announced again, and a resumed watcher gets the changes it missed', async () => {
  const sockets = new Map();
  const server = await startServer({ recovery: true, presence: { notify: true } });
  server.onConnection((ctx) => sockets.set(ctx.id, ctx.socket));
  const clients = [];
  try {
    const watcher = new StelarClient(url(server, 'ws'), { logger: false, recovery: true });
    clients.push(watcher);
    const seen = recordChanges(watcher);
    watcher.joinRoom('r');
    watcher.connect();
    await nextEvent(watcher, 'room_joined', 5000);
    const mover = await member(server, 'tcp', ['r'], {});
    clients.push(mover);
    await until(() => seen.length === 1, 'the first join');

    // The watcher drops and comes back: the changes it missed are replayed in order.
    const back = nextEvent(watcher, 'connect', 5000);
    sockets.get(watcher.getId())?.destroy();
    await until(() => server.getClients().length === 1, 'the watcher gone on the server');
    mover.leaveRoom('r');
    await nextEvent(mover, 'room_left', 5000);
    mover.joinRoom('r');
    await nextEvent(mover, 'room_joined', 5000);
    const [info] = await back;
    assert.equal(info.recovered, true);
    await until(() => seen.length === 3, 'the missed leave and join');
    assert.deepEqual(
      seen.map(([k, , id]) => [k, id]),
      [
        ['join', mover.getId()],
        ['leave', mover.getId()],
        ['join', mover.getId()],
      ],
    );

    // The mover sees the watcher leave (its socket dropped) and, resumed, join again.
    const moverSeen = recordChanges(mover);
    const again = nextEvent(watcher, 'connect', 5000);
    sockets.get(watcher.getId())?.destroy();
    await again;
    await until(() => moverSeen.length === 2, 'leave and join of the resumed watcher');
    assert.deepEqual(
      moverSeen.map(([k, , id]) => [k, id]),
      [
        ['leave', watcher.getId()],
        ['join', watcher.getId()],
      ],
    );
    assert.equal((await mover.presence('r')).count, 2);
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
});

test('reserved names: the application cannot register them, and clients cannot reach its handlers with them', async () => {
  const server = await startServer({ presence: true });
  assert.throws(() => server.on('$stelar:presence', () => {}), /reserved for the protocol/);
  assert.throws(() => server.onAck('$stelar:anything', () => {}), /reserved for the protocol/);
  const heard = [];
  server.onAll((ctx) => heard.push(ctx.eventName));
  server.on('ping-me', (ctx) => ctx.eventName);
  const clients = [];
  try {
    const c = await member(server, 'tcp', ['r'], {});
    clients.push(c);
    c.emit('$stelar:join', { room: 'r', id: 'forged', data: {} });
    await assert.rejects(c.request('$stelar:unknown', {}), (err) => err.code === 'STELAR_ERR_NO_ACK_HANDLER' && /\$stelar:unknown/.test(err.message));
    assert.equal(await c.request('ping-me'), 'ping-me');
    c.emit('hello', 1);
    await until(() => heard.length > 0, 'the ordinary event');
    assert.deepEqual(heard, ['hello'], 'onAll saw only the ordinary event');
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
});

test('the client turns the notifications it knows into its events, drops malformed and unknown reserved ones, and onAll sees none', async () => {
  const server = await startServer();
  const clients = [];
  try {
    const c = await member(server, 'ws', ['r'], {});
    clients.push(c);
    const seen = recordChanges(c);
    const all = [];
    c.onAll((event) => all.push(event));
    server.to('r', '$stelar:future', { room: 'r', id: 'x', data: {} });
    server.to('r', '$stelar:join', { room: 'r' }); // no id
    server.to('r', '$stelar:leave', 'nonsense');
    server.to('r', '$stelar:join', { room: 'r', id: 'x', data: 'not an object' });
    server.to('r', '$stelar:leave', { room: 'r', id: 'x', data: { name: 'X' } });
    server.to('r', 'plain', 1);
    await until(() => all.length === 1, 'the plain event');
    assert.deepEqual(all, ['plain']);
    assert.deepEqual(seen, [
      ['join', 'r', 'x', {}],
      ['leave', 'r', 'x', { name: 'X' }],
    ]);
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
});
