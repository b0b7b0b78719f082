// RoomRequests (src/server/room-requests.ts) without a server: fake members and a fake cluster.
// Members found on both sides asked once, a cluster query that fails or comes too late, the
// deadline bounding members found late, an ask that throws, the outstanding count.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomRequests } from '../../dist/server/room-requests.js';

const REQ = { event: 'q', ackName: 'q', data: null };
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

// The call's timer is unref'd (a server keeps the process alive); here nothing else would.
let keepAlive;
before(() => {
  keepAlive = setInterval(() => {}, 1000);
});
after(() => clearInterval(keepAlive));

/** `answer(id)`: an answer object, 'never', or a function throwing. */
function rooms({ local = [], cluster = null, answer = (id) => ({ ok: true, data: id }), limits = {} }) {
  const asked = [];
  const rr = new RoomRequests({
    limits: { maxRoomRequests: 10, maxRoomRequestMembers: 100, ...limits },
    localMembers: () => local,
    clusterMembers: () => cluster?.() ?? null,
    ask: (id, request, timeout, settle) => {
      asked.push({ id, timeout, event: request.event });
      const a = answer(id);
      if (a === 'never') return;
      if (a instanceof Error) throw a;
      queueMicrotask(() => settle(a));
    },
  });
  return { rr, asked };
}

test('members known locally and to the cluster are asked once; the remote ones get the time left', async () => {
  const { rr, asked } = rooms({ local: ['a', 'b'], cluster: () => delay(50).then(() => ['b', 'a', 'c']) });
  const result = await rr.start('r', REQ, 1000, undefined);
  assert.deepEqual(
    asked.map((x) => x.id),
    ['a', 'b', 'c'],
  );
  assert.ok(
    asked.every((x) => x.event === 'q'),
    'every member gets the same request',
  );
  assert.ok(asked[2].timeout <= 960, `the remote member got what was left (${asked[2].timeout} ms)`);
  assert.deepEqual(result, {
    answers: [
      { id: 'a', data: 'a' },
      { id: 'b', data: 'b' },
      { id: 'c', data: 'c' },
    ],
    failed: [],
    timedOut: [],
  });
  assert.equal(rr.size, 0);
});

test('a cluster query that fails leaves the local answers; one that comes after the timeout asks nobody more', async () => {
  const failing = rooms({ local: ['a'], cluster: () => Promise.reject(new Error('redis away')) });
  assert.deepEqual((await failing.rr.start('r', REQ, 500, undefined)).answers, [{ id: 'a', data: 'a' }]);

  const late = rooms({ local: ['a'], cluster: () => delay(300).then(() => ['a', 'z']) });
  const started = Date.now();
  const result = await late.rr.start('r', REQ, 100, undefined);
  assert.ok(Date.now() - started < 250, 'settled at the timeout, not when the cluster answered');
  assert.deepEqual(result.answers, [{ id: 'a', data: 'a' }]);
  await delay(250);
  assert.deepEqual(
    late.asked.map((x) => x.id),
    ['a'],
    'z, found after the call settled, was never asked',
  );
});

test('an ask that throws is that member failing; a silent member is timed out; the count returns to 0', async () => {
  const { rr } = rooms({
    local: ['ok', 'boom', 'quiet'],
    answer: (id) => (id === 'boom' ? new Error('cannot encode') : id === 'quiet' ? 'never' : { ok: true, data: 1 }),
  });
  const pending = rr.start('r', REQ, 80, undefined);
  assert.equal(rr.size, 1);
  const result = await pending;
  assert.deepEqual(result.answers, [{ id: 'ok', data: 1 }]);
  assert.equal(result.failed[0].id, 'boom');
  assert.equal(result.failed[0].code, 'STELAR_ERR_ACK_FAILED');
  assert.deepEqual(result.timedOut, ['quiet']);
  assert.equal(rr.size, 0);
});

test('maxRoomRequests rejects at once; maxRoomRequestMembers lists the rest as failed unasked', async () => {
  const { rr, asked } = rooms({ local: ['a', 'b', 'c'], answer: () => 'never', limits: { maxRoomRequests: 1, maxRoomRequestMembers: 2 } });
  const first = rr.start('r', REQ, 60, 'x');
  await assert.rejects(rr.start('r', REQ, 60, undefined), { code: 'STELAR_ERR_REQUEST_LIMIT' });
  const result = await first;
  assert.deepEqual(
    asked.map((x) => x.id),
    ['a', 'b'],
  );
  assert.deepEqual(
    result.failed.map((f) => [f.id, f.code]),
    [['c', 'STELAR_ERR_REQUEST_LIMIT']],
  );
  assert.deepEqual(result.timedOut, ['a', 'b']);
});
