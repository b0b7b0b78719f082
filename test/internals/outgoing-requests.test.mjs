// OutgoingRequests (src/server/outgoing-requests.ts) without a server: a fake peer records the
// ACK Requests it is asked to send. Ids, caps, timeouts, answers, release, remote waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRequest, OutgoingRequests, settleWith } from '../../dist/server/outgoing-requests.js';
import { encodePacket, PacketType } from '../../dist/protocol/index.js';

function peer(id = 'c1') {
  return {
    id,
    isOpen: true,
    writable: true,
    sent: [],
    sendPacket(packet) {
      encodePacket(packet); // throws like a real transport for data that cannot be encoded
      if (!this.writable) return false;
      this.sent.push(packet);
      return true;
    },
  };
}

function setup(limits = {}) {
  const live = { maxOutgoingRequests: 100, maxOutgoingRequestsPerClient: 10, ...limits };
  const outgoing = new OutgoingRequests(live);
  const settled = [];
  const settle = (answer) => settled.push(answer);
  return { outgoing, settled, settle, live };
}

const req = (event = 'q', data = null, ackName = event) => ({ event, ackName, data });
const flush = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

test('send writes an ACK Request with the next id of that connection; answer settles it once', () => {
  const { outgoing, settled, settle } = setup();
  const a = peer('a');
  const b = peer('b');
  outgoing.send(a, req('calc', [1, 2], 'sum'), 1000, settle);
  outgoing.send(a, req('calc'), 1000, settle);
  outgoing.send(b, req('calc'), 1000, settle);
  assert.deepEqual(a.sent[0], { type: PacketType.ACK_REQUEST, event: 'calc', ackName: 'sum', ackId: 1, data: [1, 2] });
  assert.deepEqual([a.sent[1].ackId, b.sent[0].ackId], [2, 1]);
  assert.equal(outgoing.size, 3);
  assert.equal(outgoing.pendingFor(a), 2);
  assert.equal(outgoing.isWaiting(a, 1), true);
  assert.equal(outgoing.answer(a, 1, true, 3), true);
  assert.equal(outgoing.answer(a, 1, true, 4), false, 'answered already');
  assert.equal(outgoing.answer(b, 2, true, 4), false, 'not an id of that connection');
  assert.deepEqual(settled, [{ ok: true, data: 3 }]);
  assert.equal(outgoing.size, 2);
  outgoing.release(a);
  outgoing.release(b);
});

test('ids are never reused while the connection lives: after a timeout the next id is new', async () => {
  const { outgoing, settled, settle } = setup();
  const a = peer();
  outgoing.send(a, req(), 10, settle);
  await flush(30);
  assert.equal(settled[0].error.code, 'STELAR_ERR_ACK_TIMEOUT');
  outgoing.send(a, req(), 1000, settle);
  assert.equal(a.sent[1].ackId, 2);
  assert.equal(outgoing.answer(a, 1, true, 'late'), false, 'the late answer matches nothing');
  outgoing.release(a);
});

test('an error answer is read like any peer error: message, short code kept, else ACK_FAILED', () => {
  const { outgoing, settled, settle } = setup();
  const a = peer();
  for (let i = 0; i < 3; i++) outgoing.send(a, req('e'), 1000, settle);
  outgoing.answer(a, 1, false, { message: 'no', code: 'NOT_FOUND' });
  outgoing.answer(a, 2, false, { message: 'x', code: 'not a code at all' });
  outgoing.answer(a, 3, false, 42);
  assert.deepEqual(
    settled.map((s) => s.error),
    [
      { message: 'no', code: 'NOT_FOUND' },
      { message: 'x', code: 'STELAR_ERR_ACK_FAILED' },
      { message: 'request "e" failed on the client', code: 'STELAR_ERR_ACK_FAILED' },
    ],
  );
});

test('caps: per connection and in total, refused at once without sending; live values are read each time', () => {
  const { outgoing, settled, settle, live } = setup({ maxOutgoingRequests: 3, maxOutgoingRequestsPerClient: 2 });
  const a = peer('a');
  const b = peer('b');
  outgoing.send(a, req(), 1000, settle);
  outgoing.send(a, req(), 1000, settle);
  outgoing.send(a, req(), 1000, settle);
  assert.equal(a.sent.length, 2);
  assert.match(settled[0].error.message, /maxOutgoingRequestsPerClient/);
  outgoing.send(b, req(), 1000, settle);
  outgoing.send(b, req(), 1000, settle);
  assert.equal(b.sent.length, 1);
  assert.match(settled[1].error.message, /maxOutgoingRequests\b/);
  assert.ok(settled.every((s) => s.error.code === 'STELAR_ERR_REQUEST_LIMIT'));
  live.maxOutgoingRequests = 4;
  outgoing.send(b, req(), 1000, settle);
  assert.equal(b.sent.length, 2, 'the raised cap applies at once');
  outgoing.release(a);
  outgoing.release(b);
  assert.equal(outgoing.size, 0);
});

test('release fails every waiting request with CONNECTION_CLOSED and clears their timers; a closed peer is refused', async () => {
  const { outgoing, settled, settle } = setup();
  const a = peer();
  outgoing.send(a, req('x'), 50, settle);
  outgoing.send(a, req('y'), 50, settle);
  outgoing.release(a);
  outgoing.release(a); // twice: nothing more
  a.isOpen = false;
  outgoing.send(a, req('z'), 50, settle);
  await flush(80);
  assert.deepEqual(
    settled.map((s) => s.error.code),
    ['STELAR_ERR_CONNECTION_CLOSED', 'STELAR_ERR_CONNECTION_CLOSED', 'STELAR_ERR_NOT_CONNECTED'],
    'no timeout fired after the release',
  );
  assert.equal(outgoing.size, 0);
});

test('a packet that cannot be written fails at once; data that cannot be encoded throws and counts nothing', () => {
  const { outgoing, settled, settle } = setup();
  const a = peer();
  a.writable = false;
  outgoing.send(a, req(), 1000, settle);
  assert.equal(settled[0].error.code, 'STELAR_ERR_CONNECTION_CLOSED');
  a.writable = true;
  assert.throws(() => outgoing.send(a, req('big', 10n), 1000, settle), TypeError);
  assert.equal(outgoing.size, 0);
  assert.equal(settled.length, 1);
});

test('wait: a remote request counts against the total, is bounded by its own timer, and settles once', async () => {
  const { outgoing, settled, settle } = setup({ maxOutgoingRequests: 1 });
  let answer;
  outgoing.wait(() => new Promise((resolve) => (answer = resolve)), 'far', 1000, settle);
  assert.equal(outgoing.size, 1);
  outgoing.wait(() => assert.fail('not started past the cap'), 'far', 1000, settle);
  assert.equal(settled[0].error.code, 'STELAR_ERR_REQUEST_LIMIT');
  answer({ ok: true, data: 'there' });
  await flush();
  assert.deepEqual(settled[1], { ok: true, data: 'there' });
  assert.equal(outgoing.size, 0);
  outgoing.wait(() => new Promise(() => {}), 'never', 20, settle);
  await flush(50);
  assert.equal(settled[2].error.code, 'STELAR_ERR_ACK_TIMEOUT');
  outgoing.wait(() => Promise.reject(new Error('redis down')), 'broken', 1000, settle);
  await flush();
  assert.equal(settled[3].error.code, 'STELAR_ERR_NOT_CONNECTED');
  assert.equal(outgoing.size, 0);
});

test('checkRequest and settleWith', async () => {
  assert.equal(checkRequest('e', undefined, 5000), 5000);
  assert.equal(checkRequest('e', { timeout: 10 }, 5000), 10);
  assert.throws(() => checkRequest('', undefined, 5000), TypeError);
  assert.throws(() => checkRequest('e', { timeout: -1 }, 5000), RangeError);
  assert.throws(() => checkRequest('e', { timeout: Number.NaN }, 5000), RangeError);
  assert.throws(() => checkRequest('e', { ackName: 7 }, 5000), TypeError);
  assert.throws(() => checkRequest('e', 'fast', 5000), TypeError);
  const outcome = await new Promise((resolve, reject) => settleWith(resolve, reject)({ ok: true, data: 1 }));
  assert.equal(outcome, 1);
  await assert.rejects(
    new Promise((resolve, reject) => settleWith(resolve, reject)({ ok: false, error: { message: 'm', code: 'C' } })),
    (err) => err.name === 'StelarError' && err.code === 'C' && err.message === 'm' && err.closeCode === 0,
  );
});
