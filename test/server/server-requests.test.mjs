// Server -> client requests (server.request / ctx.request) on both transports: answered by
// StelarClient's onRequest handlers, and by raw clients speaking the packets by hand (ids,
// late and unknown answers, bad answers), with every way a request can end: answer, client
// error, no handler, timeout, the connection closing, no such client, caps, bad arguments.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StelarClient } from '../../dist/index.js';
import { closeAll, connect, delay, encodePacket, PacketType, startServer } from './helpers.mjs';

const NEVER = () => new Promise(() => {});

async function stelarClient(server, mode, options = {}) {
  const url = mode === 'ws' ? server.getPort() : `127.0.0.1:${server.getTcpPort()}`;
  const client = new StelarClient(url, { mode, logger: false, reconnection: false, ...options });
  await new Promise((resolve) => client.connect(resolve));
  return client;
}

/** Resolves with the next ACK Request the raw client receives. */
const nextRequest = (raw) => raw.next(PacketType.ACK_REQUEST);

for (const mode of ['ws', 'tcp']) {
  describe(`server -> client requests over ${mode}, answered by StelarClient`, () => {
    let server;
    let client;

    before(async () => {
      server = await startServer({ ackTimeout: 2000 });
      client = await stelarClient(server, mode);
      client.onRequest('whoami', (data, info) => ({ id: client.getId(), data, info }));
      client.onRequest('later', async (n) => {
        await delay(20);
        return n * 2;
      });
      client.onRequest('refuse', () => {
        throw Object.assign(new Error('not allowed'), { code: 'FORBIDDEN' });
      });
      client.onRequest('reject', () => Promise.reject(new Error('went wrong')));
      client.onRequest('never', NEVER);
      client.onRequest('bigint', () => 10n);
    });

    after(async () => {
      client.disconnect();
      await server.stop();
    });

    test('server.request resolves with what the handler returned; the handler sees data, event, ack name and id', async () => {
      const answer = await server.request(client.getId(), 'whoami', { q: 1 });
      assert.equal(answer.id, client.getId());
      assert.deepEqual(answer.data, { q: 1 });
      assert.equal(answer.info.event, 'whoami');
      assert.equal(answer.info.name, 'whoami');
      assert.ok(Number.isInteger(answer.info.ackId) && answer.info.ackId >= 1);
      assert.equal(await server.request(client.getId(), 'later', 21), 42, 'an async handler answers when it settles');
    });

    test('ackName picks the handler; the event name travels unchanged', async () => {
      const answer = await server.request(client.getId(), 'question', 5, { ackName: 'whoami' });
      assert.deepEqual([answer.info.event, answer.info.name, answer.data], ['question', 'whoami', 5]);
    });

    test("ids are the server's own per connection and never reused: each request gets the next one", async () => {
      const a = await server.request(client.getId(), 'whoami');
      const b = await server.request(client.getId(), 'whoami');
      assert.equal(b.info.ackId, a.info.ackId + 1);
    });

    test('ctx.request asks the client a handler runs for, from inside the handler', async () => {
      server.on('askMe', async (ctx) => {
        ctx.emit('asked', await ctx.request('whoami', 'from ctx'));
      });
      const got = new Promise((resolve) => client.once('asked', resolve));
      client.emit('askMe');
      const answer = await got;
      assert.equal(answer.data, 'from ctx');
    });

    test("the client's error keeps its message and code; a rejection becomes STELAR_ERR_ACK_FAILED", async () => {
      await assert.rejects(server.request(client.getId(), 'refuse'), { name: 'StelarError', code: 'FORBIDDEN', message: 'not allowed' });
      await assert.rejects(server.request(client.getId(), 'reject'), { code: 'STELAR_ERR_ACK_FAILED', message: 'went wrong' });
      await assert.rejects(server.request(client.getId(), 'bigint'), { code: 'STELAR_ERR_ACK_FAILED', message: /could not be encoded/ });
    });

    test('no handler on the client: STELAR_ERR_NO_ACK_HANDLER at once; offRequest removes one', async () => {
      await assert.rejects(server.request(client.getId(), 'nobody'), { code: 'STELAR_ERR_NO_ACK_HANDLER', message: 'no handler for "nobody"' });
      client.onRequest('temp', () => 1);
      assert.equal(await server.request(client.getId(), 'temp'), 1);
      client.offRequest('temp');
      await assert.rejects(server.request(client.getId(), 'temp'), { code: 'STELAR_ERR_NO_ACK_HANDLER' });
    });

    test('a handler that never answers: STELAR_ERR_ACK_TIMEOUT after the timeout (and ackTimeout by default)', async () => {
      const started = Date.now();
      await assert.rejects(server.request(client.getId(), 'never', null, { timeout: 150 }), { code: 'STELAR_ERR_ACK_TIMEOUT' });
      const took = Date.now() - started;
      assert.ok(took >= 140 && took < 1500, `${took} ms`);
      server.updateConfig({ ackTimeout: 100 });
      try {
        await assert.rejects(server.request(client.getId(), 'never'), { code: 'STELAR_ERR_ACK_TIMEOUT', message: /within 100 ms/ });
      } finally {
        server.updateConfig({ ackTimeout: 2000 });
      }
    });

    test('no such client: STELAR_ERR_NOT_CONNECTED at once', async () => {
      await assert.rejects(server.request('nobody-here', 'whoami'), { code: 'STELAR_ERR_NOT_CONNECTED' });
    });

    test('bad arguments and data that cannot be encoded reject the promise; nothing is sent', async () => {
      const id = client.getId();
      await assert.rejects(server.request(id, ''), TypeError);
      await assert.rejects(server.request(id, 42), TypeError);
      await assert.rejects(server.request('', 'whoami'), TypeError);
      await assert.rejects(server.request(id, 'whoami', null, { timeout: 0 }), RangeError);
      await assert.rejects(server.request(id, 'whoami', null, { timeout: 2 ** 31 }), RangeError);
      await assert.rejects(server.request(id, 'whoami', null, { ackName: '' }), TypeError);
      const circular = {};
      circular.self = circular;
      await assert.rejects(server.request(id, 'whoami', circular), TypeError);
      // The client is still fine and the next request works.
      assert.equal((await server.request(id, 'whoami', 3)).data, 3);
    });
  });

  describe(`server -> client requests over ${mode}: the connection ending`, () => {
    let server;
    before(async () => {
      server = await startServer();
    });
    after(() => server.stop());

    test('a client that disconnects rejects its pending requests with STELAR_ERR_CONNECTION_CLOSED at once', async () => {
      const client = await stelarClient(server, mode);
      client.onRequest('never', NEVER);
      const pending = [server.request(client.getId(), 'never', null, { timeout: 10_000 }), server.request(client.getId(), 'never', null, { timeout: 10_000 })];
      await delay(50);
      const started = Date.now();
      client.disconnect();
      for (const p of pending) await assert.rejects(p, { code: 'STELAR_ERR_CONNECTION_CLOSED' });
      assert.ok(Date.now() - started < 1000);
    });

    test('a close started by the server rejects them as soon as the close begins', async () => {
      const client = await stelarClient(server, mode);
      client.onRequest('never', NEVER);
      const id = client.getId();
      const pending = server.request(id, 'never', null, { timeout: 10_000 });
      await delay(50);
      let settled = false;
      pending.catch(() => {}).finally(() => (settled = true));
      server.disconnect(id);
      // A few microtask turns, no I/O: the rejection does not wait for the client's side of the close.
      for (let i = 0; i < 5; i++) await null;
      assert.equal(settled, true, 'rejected when the close began');
      await assert.rejects(pending, { code: 'STELAR_ERR_CONNECTION_CLOSED' });
      client.disconnect();
    });

    test('ctx.request in middleware (not accepted yet) fails with STELAR_ERR_NOT_CONNECTED', async () => {
      const s = await startServer();
      let seen;
      s.use(async (ctx, next) => {
        seen = await ctx.request('anything').catch((err) => err.code);
        next();
      });
      const client = await stelarClient(s, mode);
      assert.equal(seen, 'STELAR_ERR_NOT_CONNECTED');
      client.disconnect();
      await s.stop();
    });

    test('stop() rejects what is still waiting', async () => {
      const s = await startServer();
      const client = await stelarClient(s, mode);
      client.onRequest('never', NEVER);
      const pending = s.request(client.getId(), 'never', null, { timeout: 10_000 });
      await delay(50);
      const rejected = assert.rejects(pending, { code: 'STELAR_ERR_CONNECTION_CLOSED' });
      await s.stop();
      await rejected;
      client.disconnect();
    });
  });

  describe(`server -> client requests over ${mode}, answered by hand (raw packets)`, () => {
    let server;
    const raws = [];
    const open = async () => {
      const raw = await connect(server, mode);
      raws.push(raw);
      return raw;
    };

    before(async () => {
      server = await startServer({ maxPayloadSize: 4096 });
    });
    after(async () => {
      await closeAll(...raws);
      await server.stop();
    });

    test('the ACK Request carries ackId 1, then 2 (per connection), the event, the ack name and the JSON data', async () => {
      const raw = await open();
      const first = server.request(raw.id, 'calc', [1, 2], { ackName: 'sum' });
      const req1 = await nextRequest(raw);
      assert.deepEqual(req1, { type: PacketType.ACK_REQUEST, event: 'calc', ackId: 1, ackName: 'sum', data: [1, 2] });
      raw.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'sum', ackId: 1, ok: true, data: 3 });
      assert.equal(await first, 3);
      const second = server.request(raw.id, 'calc', null);
      const req2 = await nextRequest(raw);
      assert.equal(req2.ackId, 2);
      assert.equal(req2.ackName, 'calc', 'no ack name given: the event name (sent as length 0)');
      assert.equal(req2.data, null);
      raw.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'calc', ackId: 2, ok: true });
      assert.equal(await second, undefined, 'an empty body answers undefined');
      // Another connection starts at 1 again: the ids are per connection.
      const other = await open();
      const third = server.request(other.id, 'calc', 0);
      assert.equal((await nextRequest(other)).ackId, 1);
      other.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'calc', ackId: 1, ok: true, data: 'x' });
      assert.equal(await third, 'x');
    });

    test('an answer with an unknown id, or id 0, settles nothing and is ignored (no Error); the right one does', async () => {
      const raw = await open();
      const pending = server.request(raw.id, 'q', null);
      const req = await nextRequest(raw);
      raw.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'q', ackId: req.ackId + 100, ok: true, data: 'wrong' });
      raw.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'q', ackId: 0, ok: true, data: 'unsolicited' });
      raw.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'q', ackId: req.ackId, ok: true, data: 'right' });
      assert.equal(await pending, 'right');
      await delay(30);
      assert.equal(
        raw.has((p) => p.type === PacketType.ERROR),
        false,
      );
    });

    test('a late answer (after the timeout) is ignored; the next request gets a new id, so it cannot be confused', async () => {
      const raw = await open();
      const timedOut = server.request(raw.id, 'slow', null, { timeout: 50 });
      const req = await nextRequest(raw);
      await assert.rejects(timedOut, { code: 'STELAR_ERR_ACK_TIMEOUT' });
      const next = server.request(raw.id, 'slow', null);
      const req2 = await nextRequest(raw);
      assert.notEqual(req2.ackId, req.ackId);
      raw.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'slow', ackId: req.ackId, ok: true, data: 'late' });
      raw.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'slow', ackId: req2.ackId, ok: true, data: 'fresh' });
      assert.equal(await next, 'fresh');
    });

    test('status 1: the error body is read like any peer error (message, a short code kept, else ACK_FAILED)', async () => {
      const raw = await open();
      const cases = [
        [
          { message: 'nope', code: 'NOT_FOUND' },
          { code: 'NOT_FOUND', message: 'nope' },
        ],
        [
          { message: 'x', code: 'has spaces in it' },
          { code: 'STELAR_ERR_ACK_FAILED', message: 'x' },
        ],
        ['just text', { code: 'STELAR_ERR_ACK_FAILED', message: 'just text' }],
        [undefined, { code: 'STELAR_ERR_ACK_FAILED', message: 'request "e" failed on the client' }],
      ];
      for (const [body, expected] of cases) {
        const pending = server.request(raw.id, 'e', null);
        const req = await nextRequest(raw);
        raw.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'e', ackId: req.ackId, ok: false, data: body });
        await assert.rejects(pending, expected);
      }
    });

    test('an answer whose JSON does not parse fails the request with that error, and the client gets the Error packet', async () => {
      const raw = await open();
      const pending = server.request(raw.id, 'j', null);
      const req = await nextRequest(raw);
      const good = Buffer.from(encodePacket({ type: PacketType.ACK_RESPONSE, event: 'j', ackId: req.ackId, ok: true, data: 'abc' }, mode === 'tcp' ? 4 : 0));
      const bad = Buffer.from(good);
      bad[bad.length - 1] = 0x7b; // '"abc{' : not JSON
      raw._write(bad);
      await assert.rejects(pending, { code: 'STELAR_ERR_PACKET_INVALID_JSON' });
      await raw.next(PacketType.ERROR, 'STELAR_ERR_PACKET_INVALID_JSON');
    });

    test('an answer larger than maxPayloadSize fails the request with STELAR_ERR_PAYLOAD_TOO_LARGE', async () => {
      const raw = await open();
      const pending = server.request(raw.id, 'big', null);
      const req = await nextRequest(raw);
      raw.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'big', ackId: req.ackId, ok: true, data: 'x'.repeat(5000) });
      await assert.rejects(pending, { code: 'STELAR_ERR_PAYLOAD_TOO_LARGE' });
      await raw.next(PacketType.ERROR, 'STELAR_ERR_PAYLOAD_TOO_LARGE');
    });

    test('maxOutgoingRequestsPerClient and maxOutgoingRequests refuse at once with STELAR_ERR_REQUEST_LIMIT', async () => {
      const a = await open();
      const b = await open();
      server.updateConfig({ maxOutgoingRequestsPerClient: 2, maxOutgoingRequests: 3 });
      try {
        const held = [server.request(a.id, 'h', 1, { timeout: 300 }), server.request(a.id, 'h', 2, { timeout: 300 })];
        await assert.rejects(server.request(a.id, 'h', 3), { code: 'STELAR_ERR_REQUEST_LIMIT', message: /maxOutgoingRequestsPerClient/ });
        held.push(server.request(b.id, 'h', 4, { timeout: 300 }));
        await assert.rejects(server.request(b.id, 'h', 5), { code: 'STELAR_ERR_REQUEST_LIMIT', message: /maxOutgoingRequests\b/ });
        for (const p of held) await assert.rejects(p, { code: 'STELAR_ERR_ACK_TIMEOUT' });
        // The slots are free again.
        const again = server.request(a.id, 'h', 6);
        const req = await a.waitFor((p) => p.type === PacketType.ACK_REQUEST && p.data === 6, 'request 6');
        a.sendPacket({ type: PacketType.ACK_RESPONSE, event: 'h', ackId: req.ackId, ok: true, data: 'ok' });
        assert.equal(await again, 'ok');
      } finally {
        server.updateConfig({ maxOutgoingRequestsPerClient: 100, maxOutgoingRequests: 10_000 });
      }
    });
  });
}

describe('the client answers only on the connection its request came on', () => {
  test('an answer finishing after a reconnection is dropped, not sent on the new connection', async () => {
    const server = await startServer();
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    const client = new StelarClient(server.getPort(), { logger: false, reconnectionDelay: 20, maxReconnectionDelay: 50 });
    client.onRequest('wait', async () => {
      await gate;
      return 'late';
    });
    await new Promise((resolve) => client.connect(resolve));
    const firstId = client.getId();
    const pending = server.request(firstId, 'wait', null, { timeout: 5000 });
    await delay(50);
    // Drop the connection from the server side; the client reconnects as a new session.
    const reconnected = new Promise((resolve) => client.once('connect', resolve));
    server.disconnect(firstId, 4000, 'go away for a moment');
    await assert.rejects(pending, { code: 'STELAR_ERR_CONNECTION_CLOSED' });
    await reconnected;
    const sentBefore = client.getMessagesSent();
    release();
    await delay(100);
    assert.equal(client.getMessagesSent(), sentBefore, 'nothing was sent for the old request');
    client.disconnect();
    await server.stop();
  });
});

describe('bounds on the client side', () => {
  test('an answer above the server maxPayloadSize is not sent: the request fails with STELAR_ERR_PAYLOAD_TOO_LARGE', async () => {
    const server = await startServer({ maxPayloadSize: 1024 });
    const client = await stelarClient(server, 'tcp');
    client.onRequest('big', () => 'y'.repeat(2000));
    let errors = 0;
    server.updateConfig({ hooks: { onPayloadTooLarge: () => void errors++ } });
    await assert.rejects(server.request(client.getId(), 'big'), { code: 'STELAR_ERR_PAYLOAD_TOO_LARGE', message: /above the 1024-byte limit/ });
    assert.equal(errors, 0, 'the server never received the oversized answer');
    client.disconnect();
    await server.stop();
  });

  test('handlers still running are capped (MAX_UNANSWERED): past the cap the client answers STELAR_ERR_REQUEST_LIMIT', async () => {
    const { MAX_UNANSWERED } = await import('../../dist/client/answers.js');
    const server = await startServer({ maxOutgoingRequestsPerClient: MAX_UNANSWERED + 10, rateLimit: false });
    const client = await stelarClient(server, 'ws');
    client.onRequest('hold', NEVER);
    const held = [];
    for (let i = 0; i < MAX_UNANSWERED; i++) held.push(server.request(client.getId(), 'hold', i, { timeout: 5000 }).catch((e) => e.code));
    await assert.rejects(server.request(client.getId(), 'hold', 'one more'), { code: 'STELAR_ERR_REQUEST_LIMIT', message: /being handled already/ });
    client.disconnect();
    assert.ok((await Promise.all(held)).every((code) => code === 'STELAR_ERR_CONNECTION_CLOSED'));
    await server.stop();
  });
});
