// Issue 15 (part B), the client's side: the Node StelarClient publishes its sessions and its
// requests on node:diagnostics_channel (stelar:client:*), over both transports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { ClientDiagnosticsChannel, ErrorCode } from '../../dist/index.js';
import { nodeChannels } from '../../dist/client/node-diagnostics.js';
import { addressOf, connectClient, StelarClient, startServer, until } from './helpers/server.mjs';

/** A client made before it connects, so a recorder can know it by identity from its first message. */
async function open(srv, mode, onCreate) {
  const client = new StelarClient(addressOf(srv, mode), { mode, logger: 'silent', reconnection: false });
  onCreate(client);
  await new Promise((resolve) => client.connect(resolve));
  return client;
}

const NAMES = Object.values(ClientDiagnosticsChannel);

/** Subscribes to every client channel; keeps what `client()` published, in order. */
function record(client) {
  const log = [];
  const subscribers = NAMES.map((name) => {
    const fn = (message) => {
      if (message.client === client()) log.push([name.slice('stelar:client:'.length), message]);
    };
    dc.subscribe(name, fn);
    return [name, fn];
  });
  return {
    log,
    of: (kind) => log.filter(([k]) => k === kind).map(([, m]) => m),
    stop: () => {
      for (const [name, fn] of subscribers) dc.unsubscribe(name, fn);
    },
  };
}

for (const mode of ['ws', 'tcp']) {
  test(`${mode}: connection open/close and request start/end, with their fields, for answers, refusals and timeouts`, async () => {
    const srv = await startServer();
    srv.server.onAck('sum', (ctx) => ctx.data.a + ctx.data.b);
    srv.server.onAck('fail', () => {
      throw Object.assign(new Error('nope'), { code: 'E_NOPE' });
    });
    srv.server.on('never', () => {}); // takes the request, never answers it
    let client = null;
    const rec = record(() => client);
    try {
      await open(srv, mode, (c) => (client = c));
      const id = client.getId();
      const url = client.getUrl();
      assert.equal(await client.request('sum', { a: 1, b: 2 }), 3);
      await assert.rejects(client.request('fail', null), /nope/);
      await assert.rejects(client.request('never', null, undefined, { timeout: 30 }), (err) => err.code === ErrorCode.ACK_TIMEOUT);
      srv.server.disconnect(id); // 4009, kicked
      await until(() => rec.of('connection:close').length === 1, 'connection:close');

      assert.deepEqual(rec.of('connection:open'), [{ client, url, mode, clientId: id, recovered: false }]);
      assert.deepEqual(rec.of('connection:close'), [{ client, url, mode, clientId: id, code: 4009, reason: 'disconnected by the server' }]);
      const starts = rec.of('request:start');
      const ends = rec.of('request:end');
      assert.equal(starts.length, 3);
      for (let i = 0; i < 3; i++) assert.equal(starts[i], ends[i], 'request:end gets the start object');
      const strip = ({ duration, ackId, client: c, ...rest }) => {
        assert.ok(duration >= 0 && duration < 5000, `duration ${duration}`);
        assert.ok(Number.isInteger(ackId) && ackId > 0);
        assert.equal(c, client);
        return rest;
      };
      assert.deepEqual(ends.map(strip), [
        { event: 'sum', ackName: 'sum', ok: true },
        { event: 'fail', ackName: 'fail', ok: false, error: { code: 'E_NOPE', message: 'nope' } },
        { event: 'never', ackName: 'never', ok: false, error: { code: ErrorCode.ACK_TIMEOUT, message: ends[2].error.message } },
      ]);
      assert.equal(new Set(ends.map((m) => m.ackId)).size, 3);
      assert.equal(ends[2].duration >= 25, true, 'timed until the timeout');
      // Order: open, then each request's start and end in turn, then close.
      assert.deepEqual(
        rec.log.map(([k]) => k),
        ['connection:open', 'request:start', 'request:end', 'request:start', 'request:end', 'request:start', 'request:end', 'connection:close'],
      );
    } finally {
      rec.stop();
      client?.disconnect();
      await srv.server.stop();
    }
  });
}

test('disconnect(): close with 1000, and a request still queued offline ends as cancelled', async () => {
  const srv = await startServer();
  let client = null;
  const rec = record(() => client);
  try {
    await open(srv, 'tcp', (c) => (client = c));
    const id = client.getId();
    client.disconnect();
    const queued = client.request('later', null); // offline: queued, then cancelled below
    queued.catch(() => {});
    client.connect();
    client.disconnect();
    await assert.rejects(queued, (err) => err.code === ErrorCode.CONNECTION_CLOSED);
    assert.deepEqual(
      rec.log.map(([k]) => k),
      ['connection:open', 'connection:close', 'request:start', 'request:end'],
    );
    const close = rec.of('connection:close')[0];
    assert.deepEqual([close.clientId, close.code, close.reason], [id, 1000, 'client disconnect']);
    const end = rec.of('request:end')[0];
    assert.equal(end.ok, false);
    assert.equal(end.error.code, ErrorCode.CONNECTION_CLOSED);
  } finally {
    rec.stop();
    client?.disconnect();
    await srv.server.stop();
  }
});

test('nobody subscribed: the client builds no message (a publish would throw here)', async () => {
  const originals = { ...nodeChannels };
  const published = [];
  const fake = (name, listening) => ({
    get hasSubscribers() {
      return listening();
    },
    publish(message) {
      if (!listening()) throw new Error(`${name}: published without subscribers`);
      published.push(name);
      void message;
    },
  });
  let on = false;
  for (const key of Object.keys(nodeChannels)) nodeChannels[key] = fake(key, () => on);
  const srv = await startServer();
  srv.server.onAck('sum', (ctx) => ctx.data.a + ctx.data.b);
  const run = async () => {
    for (const mode of ['ws', 'tcp']) {
      const client = await connectClient(addressOf(srv, mode), { mode, reconnection: false });
      assert.equal(await client.request('sum', { a: 2, b: 2 }), 4);
      client.disconnect();
    }
  };
  try {
    await run();
    assert.deepEqual(published, []);
    on = true;
    await run();
    assert.deepEqual(published.sort(), [
      'connectionClose',
      'connectionClose',
      'connectionOpen',
      'connectionOpen',
      'requestEnd',
      'requestEnd',
      'requestStart',
      'requestStart',
    ]);
  } finally {
    Object.assign(nodeChannels, originals);
    await srv.server.stop();
  }
  assert.ok(NAMES.every((name) => !dc.channel(name).hasSubscribers));
});
