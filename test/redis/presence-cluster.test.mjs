// Presence across nodes on the real Redis: answers from every node agree and show only the
// exposed fields (nothing else crosses Redis either), notifications reach members on other
// nodes, a killed node vanishes from presence within the heartbeat timeout, and 1,000 clients
// joining, leaving, disconnecting and being cut at random over three nodes end in exact lists
// (and in exact lists kept from notifications alone).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { fuzzRng } from '../support/fuzz-rng.mjs';
import { addressOf, closeRedis, deleteKeys, redisClient, sleep, startNode, StelarClient, uniquePrefix, until } from './helpers.mjs';

const FIXTURE = fileURLToPath(new URL('./fixtures/node.mjs', import.meta.url));
const KINDS = ['node-redis', 'ioredis', 'node-redis'];

/** Nodes whose clients carry `name` (shown) and `token` (never shown) in their metadata. */
async function startNodes(prefix, count, presence, adapter = {}) {
  const nodes = [];
  for (let i = 0; i < count; i++) {
    const node = await startNode({
      prefix,
      kind: KINDS[i % KINDS.length],
      adapter,
      server: { presence, maxConnectionsPerIP: 5000, connectionRateLimit: false, rateLimit: false, maxConnections: 5000 },
    });
    node.server.use((ctx, next) => {
      ctx.setMetadata('name', ctx.data?.name);
      ctx.setMetadata('token', `secret-${ctx.data?.name}`);
      next();
    });
    node.server.on('sync', () => 'ok');
    nodes.push(node);
  }
  await until(() => nodes.every((n) => n.adapter.getNodes().length >= count), 'every node sees the others');
  return nodes;
}

/** A StelarClient on `node`, connected, in `rooms` (confirmed). */
async function open(node, mode, name, rooms = [], options = {}) {
  const client = new StelarClient(addressOf(node, mode), {
    mode,
    auth: { name },
    logger: 'silent',
    reconnectionDelay: 50,
    maxReconnectionDelay: 200,
    ...options,
  });
  const pending = new Set(rooms);
  const joined = new Promise((resolve) => {
    if (pending.size === 0) resolve();
    const on = (room) => {
      pending.delete(room);
      if (pending.size === 0) {
        client.off('room_joined', on);
        resolve();
      }
    };
    client.on('room_joined', on);
  });
  for (const r of rooms) client.joinRoom(r);
  const connected = new Promise((resolve) => client.once('connect', resolve));
  client.connect();
  await connected;
  await joined;
  return client;
}

const sortedIds = (result) => result.members.map((m) => m.id).sort();

test('three nodes: every node and every member sees the same room, with only the exposed fields, over both transports', async () => {
  const prefix = uniquePrefix('presence');
  const nodes = await startNodes(prefix, 3, { fields: ['name'], notify: true });
  // Everything that crosses Redis under this prefix, to check no hidden field travels.
  const spy = await redisClient('node-redis');
  const crossed = [];
  await spy.pSubscribe(`${prefix}*`, (message) => crossed.push(message), true);
  const clients = [];
  try {
    const changes = [];
    for (const [i, node] of nodes.entries()) {
      for (const mode of ['ws', 'tcp']) {
        const c = await open(node, mode, `${mode}${i}`, ['room']);
        c.on('presence_join', (e) => changes.push([c.getId(), 'join', e.id, e.data.name]));
        c.on('presence_leave', (e) => changes.push([c.getId(), 'leave', e.id, e.data.name]));
        clients.push(c);
      }
    }
    const expected = clients.map((c) => c.getId()).sort();
    for (const node of nodes) {
      const here = await node.server.presence('room');
      assert.equal(here.count, 6);
      assert.deepEqual(sortedIds(here), expected);
      assert.deepEqual(here.members.map((m) => m.data.name).sort(), ['tcp0', 'tcp1', 'tcp2', 'ws0', 'ws1', 'ws2']);
    }
    for (const c of clients) {
      const seen = await c.presence('room');
      assert.deepEqual(sortedIds(seen), expected, `as seen by a client on ${c.getUrl()}`);
      assert.ok(seen.members.every((m) => Object.keys(m.data).join() === 'name'));
    }
    // Each arrival was announced to the members already there, wherever they were: 5+4+...+0.
    await until(() => changes.length === 15, 'every join seen by the earlier members');
    // A leave on the third node reaches the other five.
    const leaver = clients[5];
    const leaverId = leaver.getId();
    leaver.leaveRoom('room');
    await until(() => changes.filter(([, kind]) => kind === 'leave').length === 5, 'the leave seen by five');
    assert.ok(changes.filter(([, kind]) => kind === 'leave').every(([, , id, name]) => id === leaverId && name === 'tcp2'));
    assert.equal((await nodes[0].server.presence('room')).count, 5);
    // The server's own query may show more (the token), and nothing hidden ever crossed Redis before it.
    assert.ok(crossed.length > 0, 'the spy saw the cluster traffic');
    assert.ok(!crossed.some((m) => m.includes('secret-')), 'no hidden metadata crossed Redis');
    const full = await nodes[1].server.presence('room', { fields: ['name', 'token'] });
    assert.ok(full.members.every((m) => m.data.token === `secret-${m.data.name}`));
  } finally {
    for (const c of clients) c.disconnect();
    await spy.pUnsubscribe();
    await closeRedis(spy);
    for (const n of nodes) await n.stop();
    await deleteKeys(prefix);
  }
});

function spawnNode(options) {
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve({ child, ...JSON.parse(buf.split('\n')[0]) });
    });
    child.once('exit', (code) => reject(new Error(`node process exited early (${code})`)));
  });
}

test('a killed node: its members vanish from presence within the heartbeat timeout, and later queries do not wait for it', async () => {
  const prefix = uniquePrefix('presence-death');
  const HEARTBEAT = { heartbeatInterval: 300, heartbeatTimeout: 1200 };
  // A long requestTimeout: a query that waited for the dead node would take 5 s.
  const [local] = await startNodes(prefix, 1, { fields: ['name'] }, { ...HEARTBEAT, requestTimeout: 5000 });
  const victim = await spawnNode({ prefix, kind: 'ioredis', adapter: HEARTBEAT });
  const clients = [];
  try {
    await until(() => local.adapter.getNodes().length === 2, 'two nodes');
    const mine = await open(local, 'ws', 'local', ['room'], { reconnection: false });
    clients.push(mine);
    const theirs = [];
    for (const mode of ['ws', 'tcp']) {
      const c = await open({ port: victim.port, tcpPort: victim.tcpPort }, mode, 'remote', ['room'], { reconnection: false });
      clients.push(c);
      theirs.push(c.getId());
    }
    assert.equal((await local.server.presence('room')).count, 3);

    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');
    // Asked at once: the answer comes when the node is dropped (its heartbeats missed), without it.
    const first = await local.server.presence('room');
    const firstMs = Date.now() - killedAt;
    assert.deepEqual(sortedIds(first), [mine.getId()]);
    assert.equal(first.count, 1);
    console.log(`# killed node gone from presence after ${firstMs} ms (heartbeatTimeout ${HEARTBEAT.heartbeatTimeout} ms, requestTimeout 5000 ms)`);
    assert.ok(firstMs < HEARTBEAT.heartbeatTimeout * 4, `gone within a few heartbeat timeouts (${firstMs} ms)`);
    await until(() => local.adapter.getNodes().length === 1, 'the victim dropped');
    const started = Date.now();
    const next = await mine.presence('room');
    const nextMs = Date.now() - started;
    assert.deepEqual(sortedIds(next), [mine.getId()]);
    assert.ok(nextMs < 2500, `a later query does not wait for the dead node (${nextMs} ms)`);
    assert.ok(!theirs.some((id) => sortedIds(next).includes(id)));
  } finally {
    for (const c of clients) c.disconnect();
    await local.stop();
    if (victim.child.exitCode === null && victim.child.signalCode === null) {
      victim.child.kill('SIGKILL');
      await once(victim.child, 'exit');
    }
    await deleteKeys(prefix);
  }
});

const CHURN_CLIENTS = 1000;
const ROOMS = ['r0', 'r1', 'r2', 'r3', 'watched'];
const OPS_PER_CLIENT = 6;

test(`${CHURN_CLIENTS} clients joining, leaving, disconnecting and cut at random over three nodes end in exact lists`, { timeout: 300_000 }, async () => {
  const rng = fuzzRng('presence churn');
  const prefix = uniquePrefix('presence-churn');
  const nodes = await startNodes(prefix, 3, { fields: ['name'], notify: (room) => room === 'watched' });
  // Server-side sockets, to cut clients without a close (they reconnect and re-join on their own).
  const sockets = new Map();
  for (const n of nodes) n.server.onConnection((ctx) => sockets.set(ctx.id, ctx.socket));
  const clients = [];
  const watchers = [];
  try {
    // One watcher per node in 'watched', never churning: each keeps a member list from notifications,
    // starting from presence() once all three are in.
    for (const [i, node] of nodes.entries()) {
      const w = await open(node, i % 2 ? 'tcp' : 'ws', `watcher${i}`, ['watched'], { reconnection: false });
      watchers.push({ client: w, list: new Set() });
    }
    await sleep(200);
    for (const w of watchers) {
      for (const m of (await w.client.presence('watched')).members) w.list.add(m.id);
      w.client.on('presence_join', (e) => w.list.add(e.id));
      w.client.on('presence_leave', (e) => w.list.delete(e.id));
    }

    const setupStart = Date.now();
    for (let i = 0; i < CHURN_CLIENTS; i += 100) {
      const batch = [];
      for (let k = i; k < Math.min(CHURN_CLIENTS, i + 100); k++) {
        batch.push(open(nodes[k % 3], k % 2 ? 'tcp' : 'ws', `c${k}`, [rng.pick(ROOMS)]));
      }
      clients.push(...(await Promise.all(batch)));
    }
    const setupMs = Date.now() - setupStart;

    // The churn: every client runs its own random sequence, all at once.
    const counts = { join: 0, leave: 0, disconnect: 0, cut: 0 };
    const churnStart = Date.now();
    await Promise.all(
      clients.map(async (c) => {
        for (let op = 0; op < OPS_PER_CLIENT; op++) {
          await sleep(rng.int(30));
          const r = rng.int(100);
          if (r < 45) {
            counts.join++;
            c.joinRoom(rng.pick(ROOMS));
          } else if (r < 85) {
            const mine = c.getRooms();
            if (mine.length) {
              counts.leave++;
              c.leaveRoom(rng.pick(mine));
            }
          } else if (r < 93) {
            // Gone for good from every room, then back as a new client in one room.
            counts.disconnect++;
            c.disconnect();
            await sleep(rng.int(20));
            c.joinRoom(rng.pick(ROOMS));
            const back = new Promise((resolve) => c.once('connect', resolve));
            c.connect();
            await back;
          } else if (c.isConnected()) {
            // Cut by the server without a close: the client reconnects with a new id and re-joins its rooms.
            counts.cut++;
            const back = new Promise((resolve) => c.once('connect', resolve));
            sockets.get(c.getId())?.destroy();
            await back;
          }
        }
      }),
    );
    // Quiet again: every client connected and its room packets handled (a request after them
    // is answered in order), and every dropped session gone from its node.
    await until(() => clients.every((c) => c.isConnected()), 'every client connected', 60_000);
    await Promise.all(clients.map((c) => c.request('sync')));
    const live = CHURN_CLIENTS + watchers.length;
    await until(() => nodes.reduce((n, node) => n + node.server.getStats().activeConnections, 0) === live, 'dropped sessions gone', 30_000);
    const churnMs = Date.now() - churnStart;

    const expected = new Map(ROOMS.map((r) => [r, new Set()]));
    for (const c of clients) for (const r of c.getRooms()) expected.get(r).add(c.getId());
    for (const w of watchers) expected.get('watched').add(w.client.getId());
    const sizes = {};
    for (const room of ROOMS) {
      const want = [...expected.get(room)].sort();
      sizes[room] = want.length;
      for (const node of nodes) {
        const got = await node.server.presence(room);
        assert.equal(got.count, want.length, `count of ${room} on a node`);
        assert.deepEqual(sortedIds(got), want, `members of ${room} on a node`);
        assert.ok(got.members.every((m) => /^c\d+$|^watcher\d$/.test(m.data.name)));
      }
      // And as members on each node see it.
      for (const node of nodes) {
        const asker = clients.find((c) => c.getRooms().includes(room) && c.getUrl().includes(`:${node.port}`));
        if (asker) assert.deepEqual(sortedIds(await asker.presence(room)), want, `${room} as a client on a node sees it`);
      }
    }
    // The lists kept from notifications alone match too (started from a presence() that listed the
    // watcher itself; nobody is told about itself).
    await until(() => watchers.every((w) => w.list.size === expected.get('watched').size), 'notifications settled', 10_000).catch(() => {});
    for (const w of watchers) {
      assert.deepEqual([...w.list].sort(), [...expected.get('watched')].sort(), 'a list kept from join/leave notifications');
    }
    console.log(
      `# churn: ${CHURN_CLIENTS} clients (set up in ${setupMs} ms), ops ${JSON.stringify(counts)}, quiet after ${churnMs} ms; final sizes ${JSON.stringify(sizes)}`,
    );
    assert.ok(counts.join > 1000 && counts.leave > 500 && counts.disconnect > 100 && counts.cut > 100, 'every kind of change happened');
  } finally {
    for (const c of clients) c.disconnect();
    for (const w of watchers) w.client.disconnect();
    for (const n of nodes) await n.stop();
    await deleteKeys(prefix);
  }
});
