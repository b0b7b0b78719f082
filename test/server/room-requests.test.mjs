// server.requestRoom(): one request to every member of a room, answers collected, on both
// transports with StelarClient members: answers, a member without a handler (failed with
// STELAR_ERR_NO_ACK_HANDLER), a handler that throws (its code kept), one that never answers
// (timedOut, and the call still settles at the timeout), exceptId, an empty room, the caps
// (maxRoomRequests rejects, maxRoomRequestMembers reports the rest as failed), bad arguments,
// and the to() 4-argument broadcast unchanged.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StelarClient } from '../../dist/index.js';
import { delay, startServer } from './helpers.mjs';

async function member(server, mode, room) {
  const url = mode === 'ws' ? server.getPort() : `127.0.0.1:${server.getTcpPort()}`;
  const client = new StelarClient(url, { mode, logger: false, reconnection: false });
  await new Promise((resolve) => client.connect(resolve));
  client.joinRoom(room);
  for (let i = 0; i < 200 && !server.getRoomMembers(room).includes(client.getId()); i++) await delay(5);
  assert.ok(server.getRoomMembers(room).includes(client.getId()), 'the member joined');
  return client;
}

const sortById = (list) => [...list].sort((a, b) => (a.id < b.id ? -1 : 1));

for (const mode of ['ws', 'tcp']) {
  describe(`server.requestRoom over ${mode}`, () => {
    let server;
    /** answers, throws, no handler, never answers */
    let ok1;
    let ok2;
    let thrower;
    let bare;
    let silent;

    before(async () => {
      server = await startServer({ ackTimeout: 3000, maxRoomRequests: 2, maxRoomRequestMembers: 5 });
      ok1 = await member(server, mode, 'lab');
      ok2 = await member(server, mode, 'lab');
      thrower = await member(server, mode, 'lab');
      bare = await member(server, mode, 'lab');
      silent = await member(server, mode, 'lab');
      for (const c of [ok1, ok2]) c.onRequest('vote', (data) => ({ me: c.getId(), data }));
      thrower.onRequest('vote', () => {
        throw Object.assign(new Error('abstain'), { code: 'ABSTAIN' });
      });
      silent.onRequest('vote', () => new Promise(() => {}));
      assert.equal(server.getRoomMembers('lab').length, 5, 'five members joined');
    });

    after(async () => {
      for (const c of [ok1, ok2, thrower, bare, silent]) c.disconnect();
      await server.stop();
    });

    test('answers, failures (handler error, no handler) and the silent member timed out, all within the timeout', async () => {
      const started = Date.now();
      const result = await server.requestRoom('lab', 'vote', { q: 1 }, { timeout: 400 });
      const took = Date.now() - started;
      assert.ok(took >= 350 && took < 1500, `settled at the timeout (${took} ms)`);
      assert.deepEqual(sortById(result.answers), sortById([ok1, ok2].map((c) => ({ id: c.getId(), data: { me: c.getId(), data: { q: 1 } } }))));
      const failed = Object.fromEntries(result.failed.map((f) => [f.id, f]));
      assert.equal(failed[thrower.getId()].code, 'ABSTAIN');
      assert.equal(failed[thrower.getId()].message, 'abstain');
      assert.equal(failed[bare.getId()].code, 'STELAR_ERR_NO_ACK_HANDLER');
      assert.equal(result.failed.length, 2);
      assert.deepEqual(result.timedOut, [silent.getId()]);
    });

    test('exceptId leaves a member out; with every remaining member answered it settles at once', async () => {
      const room = `ex-${mode}`;
      const a = await member(server, mode, room);
      const b = await member(server, mode, room);
      a.onRequest('ping', () => 'a');
      let bAsked = false;
      b.onRequest('ping', () => {
        bAsked = true;
        return 'b';
      });
      try {
        const started = Date.now();
        const result = await server.requestRoom(room, 'ping', undefined, { timeout: 2000, exceptId: b.getId() });
        assert.ok(Date.now() - started < 1000, 'did not wait for the timeout');
        assert.deepEqual(result, { answers: [{ id: a.getId(), data: 'a' }], failed: [], timedOut: [] });
        assert.equal(bAsked, false);
      } finally {
        a.disconnect();
        b.disconnect();
      }
    });

    test('ackName picks the handler; an empty room resolves at once with nothing', async () => {
      const result = await server.requestRoom('lab', 'question', 7, { timeout: 300, ackName: 'vote', exceptId: silent.getId() });
      assert.equal(result.answers.length, 2);
      assert.deepEqual(await server.requestRoom('nobody-here', 'vote'), { answers: [], failed: [], timedOut: [] });
    });

    test('maxRoomRequests: a call past the cap rejects with STELAR_ERR_REQUEST_LIMIT; the slot frees when one settles', async () => {
      const first = server.requestRoom('lab', 'vote', 1, { timeout: 200 });
      const second = server.requestRoom('lab', 'vote', 2, { timeout: 200 });
      await assert.rejects(server.requestRoom('lab', 'vote', 3), { name: 'StelarError', code: 'STELAR_ERR_REQUEST_LIMIT' });
      await Promise.all([first, second]);
      const again = await server.requestRoom('lab', 'vote', 4, { timeout: 200 });
      assert.equal(again.answers.length, 2);
    });

    test('maxRoomRequestMembers: members past the cap are not asked and are listed as failed', async () => {
      server.updateConfig({ maxRoomRequestMembers: 2 });
      try {
        const result = await server.requestRoom('lab', 'vote', null, { timeout: 200 });
        const limited = result.failed.filter((f) => f.code === 'STELAR_ERR_REQUEST_LIMIT');
        assert.equal(limited.length, 3);
        assert.equal(result.answers.length + result.failed.length + result.timedOut.length, 5, 'every member in exactly one list');
      } finally {
        server.updateConfig({ maxRoomRequestMembers: 5 });
      }
    });

    test('bad arguments and unencodable data reject; nothing is sent', async () => {
      await assert.rejects(server.requestRoom('', 'vote'), TypeError);
      await assert.rejects(server.requestRoom('lab', ''), TypeError);
      await assert.rejects(server.requestRoom('lab', 'vote', 1, { timeout: -1 }), RangeError);
      await assert.rejects(server.requestRoom('lab', 'vote', 1, { exceptId: 5 }), TypeError);
      await assert.rejects(server.requestRoom('lab', 'vote', 10n), TypeError);
    });

    test("to()'s 4-argument broadcast is unchanged", async () => {
      const got = new Promise((resolve) => ok1.once('news', resolve));
      assert.equal(server.to('lab', 'news', 'hi', silent.getId()), 4);
      assert.equal(await got, 'hi');
    });
  });
}
