// Presence's parts without sockets (src/server/presence/, src/contracts/presence.ts): the option,
// the projection (only the asked fields, never the rest), one node's listing in slices (a
// white-box registry of 10,000 members: how many turns of the event loop it takes and how long
// each holds the loop), the merge of the nodes' parts, and the checks on parts and queries that
// come from another node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { readPresencePart, readPresenceQuery } from '../../dist/contracts/index.js';
import { checkFields, describePresence, PRESENCE_DEFAULTS, resolvePresence } from '../../dist/server/presence/config.js';
import { listLocal, PRESENCE_SLICE, project } from '../../dist/server/presence/local.js';
import { gatherParts, mergeParts, partFromSummaries } from '../../dist/server/presence/merge.js';

/** A registry of fake accepted clients, as the hub hands it to listLocal. */
function registry(count, room = 'big') {
  const members = new Set();
  const clients = new Map();
  for (let i = 0; i < count; i++) {
    const id = `c-${i}`;
    members.add(id);
    const meta = new Map([
      ['name', `user ${i}`],
      ['token', `secret-${i}`],
    ]);
    clients.set(id, { getMetadata: (k) => meta.get(k) });
  }
  return {
    members,
    clients,
    source: {
      members: (r) => (r === room ? [...members] : []),
      isMember: (id, r) => r === room && members.has(id),
      client: (id) => clients.get(id),
    },
  };
}

test('resolvePresence: off, true, an object; bad values are refused naming the field', () => {
  assert.equal(resolvePresence(undefined), false);
  assert.equal(resolvePresence(false), false);
  assert.equal(resolvePresence(null), false);
  assert.deepEqual(resolvePresence(true), { fields: [], notify: false, maxMembers: 10_000 });
  assert.equal(resolvePresence(true), PRESENCE_DEFAULTS);
  const notify = (room) => room.startsWith('chat:');
  const c = resolvePresence({ fields: ['name', 'name', 'avatar'], notify, maxMembers: 50 });
  assert.deepEqual(c.fields, ['name', 'avatar'], 'duplicates dropped');
  assert.equal(c.notify, notify);
  assert.equal(c.maxMembers, 50);
  assert.deepEqual(describePresence(c), { fields: ['name', 'avatar'], notify: 'function', maxMembers: 50 });
  assert.equal(describePresence(false), false);
  assert.throws(() => resolvePresence('yes'), /presence must be false, true or/);
  assert.throws(() => resolvePresence({ fields: 'name' }), /presence.fields must be an array/);
  assert.throws(() => resolvePresence({ fields: [''] }), /presence.fields must hold non-empty metadata keys/);
  assert.throws(() => resolvePresence({ fields: ['__proto__'] }), /presence.fields/);
  assert.throws(() => resolvePresence({ fields: Array.from({ length: 65 }, (_, i) => `f${i}`) }), /at most 64/);
  assert.throws(() => resolvePresence({ notify: 'all' }), /presence.notify must be a boolean or a function/);
  assert.throws(() => resolvePresence({ maxMembers: 0 }), RangeError);
  assert.throws(() => resolvePresence({ maxMembers: 1.5 }), RangeError);
  assert.throws(() => resolvePresence({ fieldz: [] }), /presence.fieldz is not an option/);
  assert.throws(() => checkFields('fields', [1]), /fields must hold non-empty metadata keys/);
});

test('project: copies the asked fields that are set, and nothing else', () => {
  const meta = new Map([
    ['name', 'Ada'],
    ['token', 'secret'],
    ['empty', undefined],
    ['zero', 0],
  ]);
  const client = { getMetadata: (k) => meta.get(k) };
  assert.deepEqual(project(client, []), {});
  assert.deepEqual(project(client, ['name', 'missing', 'empty', 'zero']), { name: 'Ada', zero: 0 });
  const proto = project(client, ['__proto__']);
  assert.equal(Object.getPrototypeOf(proto), Object.prototype, 'no prototype can be set through a field');
});

test(`listLocal: 10,000 members are listed in slices of ${PRESENCE_SLICE}, each holding the loop briefly`, async () => {
  const { source, members } = registry(10_000);
  let turns = 0;
  let longest = 0;
  let last = performance.now();
  let pending = true;
  // Count the turns the listing gives back to the loop, and the longest stretch between them.
  const watch = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    turns++;
    if (pending) setImmediate(watch);
  };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  setImmediate(watch);
  const started = performance.now();
  const part = await listLocal(source, { room: 'big', fields: ['name'], limit: 10_000 });
  const ms = performance.now() - started;
  pending = false;
  delay.disable();
  assert.equal(part.count, 10_000);
  assert.equal(part.members.length, 10_000);
  assert.deepEqual(part.members[42], { id: 'c-42', data: { name: 'user 42' } });
  assert.ok(
    part.members.every((m) => !('token' in m.data)),
    'the token is never listed',
  );
  assert.ok(turns >= 10_000 / PRESENCE_SLICE - 1, `the loop ran between slices (${turns} turns)`);
  console.log(
    `# 10,000 members: listed in ${ms.toFixed(1)} ms, ${turns} turns, longest stretch ${longest.toFixed(1)} ms, loop delay max ${(delay.max / 1e6).toFixed(1)} ms`,
  );
  // Generous for a shared, loaded machine: one slice is ~1,000 map lookups and small objects.
  assert.ok(delay.max / 1e6 < 100, `loop delay max ${delay.max / 1e6} ms`);
  assert.ok(members.size === 10_000);
});

test('listLocal: the limit cuts the list, never the count; members gone between slices are not listed', async () => {
  const { source, members, clients } = registry(3 * PRESENCE_SLICE);
  const part = await listLocal(source, { room: 'big', fields: [], limit: 10 });
  assert.equal(part.count, 3 * PRESENCE_SLICE);
  assert.equal(part.members.length, 10);
  assert.deepEqual(part.members[0], { id: 'c-0', data: {} });

  // Leave during the first pause: one member left the room, one disconnected (no client any more).
  const listing = listLocal(source, { room: 'big', fields: [], limit: 100_000 });
  members.delete(`c-${PRESENCE_SLICE + 1}`);
  clients.delete(`c-${2 * PRESENCE_SLICE + 1}`);
  const after = await listing;
  assert.equal(after.count, 3 * PRESENCE_SLICE - 2);
  assert.ok(!after.members.some((m) => m.id === `c-${PRESENCE_SLICE + 1}` || m.id === `c-${2 * PRESENCE_SLICE + 1}`));

  // A member that is not an accepted client (still in its handshake) is neither listed nor counted.
  members.add('handshaking');
  const mid = await listLocal({ ...source, members: () => ['handshaking', 'c-0'] }, { room: 'big', fields: [], limit: 5 });
  assert.deepEqual(mid, { count: 1, members: [{ id: 'c-0', data: {} }] });
});

test('mergeParts: counts add up, ids are listed once, the limit cuts the list and says so', () => {
  const a = { count: 3, members: [1, 2, 3].map((i) => ({ id: `a${i}`, data: {} })) };
  const b = {
    count: 2,
    members: [
      { id: 'b1', data: { name: 'B' } },
      { id: 'a1', data: {} },
    ],
  };
  const merged = mergeParts('r', [a, b], 10);
  assert.equal(merged.room, 'r');
  assert.equal(merged.count, 4, 'a1 listed by two nodes counts once');
  assert.deepEqual(merged.members.map((m) => m.id).sort(), ['a1', 'a2', 'a3', 'b1']);
  assert.equal(merged.truncated, false);
  const cut = mergeParts('r', [a, b], 2);
  assert.equal(cut.count, 4);
  assert.equal(cut.members.length, 2);
  assert.equal(cut.truncated, true);
  // A node that listed fewer than it counted (its own limit) makes the answer truncated too.
  const partial = mergeParts('r', [{ count: 5, members: [{ id: 'x', data: {} }] }], 10);
  assert.deepEqual([partial.count, partial.members.length, partial.truncated], [5, 1, true]);
  assert.deepEqual(mergeParts('r', [], 10), { room: 'r', count: 0, members: [], truncated: false });
});

test('partFromSummaries and gatherParts: an adapter without fetchPresence falls back to fetchClients, projected', async () => {
  const rows = [
    { id: 'x', metadata: { name: 'X', token: 't' } },
    { id: 'y', metadata: {} },
  ];
  const query = { room: 'r', fields: ['name'], limit: 10 };
  assert.deepEqual(partFromSummaries(rows, query), {
    count: 2,
    members: [
      { id: 'x', data: { name: 'X' } },
      { id: 'y', data: {} },
    ],
  });
  assert.deepEqual(partFromSummaries(rows, { ...query, limit: 1 }).members.length, 1);
  const host = { presence: async () => ({ count: 1, members: [{ id: 'local', data: {} }] }) };
  assert.deepEqual(await gatherParts({}, host, query), [{ count: 1, members: [{ id: 'local', data: {} }] }]);
  const viaClients = await gatherParts({ fetchClients: async (room) => (room === 'r' ? rows : []) }, host, query);
  assert.equal(viaClients[0].count, 2);
  const viaPresence = await gatherParts({ fetchPresence: async (q) => [{ count: q.limit, members: [] }] }, host, query);
  assert.deepEqual(viaPresence, [{ count: 10, members: [] }]);
});

test('readPresenceQuery / readPresencePart: what comes from another node is checked', () => {
  assert.deepEqual(readPresenceQuery({ room: 'r', fields: ['name'], limit: 5 }), { room: 'r', fields: ['name'], limit: 5 });
  for (const bad of [
    null,
    'r',
    {},
    { room: '' },
    { room: 'r', fields: 'name', limit: 1 },
    { room: 'r', fields: [1], limit: 1 },
    { room: 'r', fields: [], limit: -1 },
  ]) {
    assert.equal(readPresenceQuery(bad), null, JSON.stringify(bad));
  }
  assert.equal(readPresenceQuery({ room: 'r', fields: Array(65).fill('a'), limit: 1 }), null);
  assert.equal(readPresenceQuery({ room: 'r', fields: [], limit: 2_000_000 }), null);
  assert.deepEqual(readPresencePart({ count: 2, members: [{ id: 'a', data: { n: 1 } }, { nope: 1 }, { id: 'b', data: [1] }] }), {
    count: 2,
    members: [
      { id: 'a', data: { n: 1 } },
      { id: 'b', data: {} },
    ],
  });
  assert.equal(readPresencePart({ count: -1, members: [] }), null);
  assert.equal(readPresencePart({ count: 1 }), null);
  assert.equal(readPresencePart(null), null);
  assert.equal(readPresencePart({ count: 0, members: [{ id: 'a' }] }).count, 1, 'never fewer than listed');
});
