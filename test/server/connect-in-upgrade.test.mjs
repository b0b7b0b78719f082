// The client's Connect carried in the WebSocket upgrade (docs/PROTOCOL.md, "Connect in the
// upgrade"): the server takes it only when usable and says so in its 101; otherwise the
// session waits for the Connect frame as it always did. StelarClient uses it and still works
// with a server that does not take it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { StelarClient } from '../../dist/client/index.js';
import { decodePacket, encodePacket, HOST, PacketType, startServer, TIMEOUT } from './helpers.mjs';

const connectHeader = (data) => Buffer.from(encodePacket({ type: PacketType.CONNECT, event: '', data })).toString('base64');

/** A raw `ws` client sending `headers`; resolves with the socket, the 101's headers and a packet inbox. */
async function rawClient(port, headers) {
  const ws = new WebSocket(`ws://${HOST}:${port}/`, { headers, perMessageDeflate: false });
  const inbox = [];
  ws.on('message', (data) => inbox.push(decodePacket(data)));
  const upgraded = once(ws, 'upgrade');
  const opened = once(ws, 'open');
  const [res] = await upgraded;
  await opened;
  return { ws, inbox, headers: res.headers };
}

async function waitPacket(inbox, type) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const found = inbox.find((p) => p.type === type);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no packet of type ${type}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('Connect in the WebSocket upgrade', () => {
  const servers = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });

  it('is taken from the header: the 101 says so and the server Connect follows without a Connect frame', async () => {
    const server = await startServer();
    servers.push(server);
    const seen = [];
    server.use((ctx, next) => {
      seen.push(ctx.data);
      next();
    });
    const c = await rawClient(server.getPort(), { 'X-Stelar-Connect': connectHeader({ v: 1, auth: { token: 't1' } }) });
    assert.equal(c.headers['x-stelar-connect'], '1');
    const connect = await waitPacket(c.inbox, PacketType.CONNECT);
    assert.equal(typeof connect.data.id, 'string');
    assert.deepEqual(seen, [{ token: 't1' }]);
    c.ws.close();
  });

  it('a client that did not see the acknowledgement (a proxy dropped it) repeats its Connect as a frame: ignored once, the session goes on', async () => {
    const server = await startServer();
    servers.push(server);
    let middlewareRuns = 0;
    // A slow middleware: the repeat arrives while the handshake is still running.
    server.use((_ctx, next) => {
      middlewareRuns++;
      setTimeout(() => next(), 100);
    });
    server.onAck('echo', (ctx) => ctx.data);
    const header = connectHeader({ v: 1 });
    const c = await rawClient(server.getPort(), { 'X-Stelar-Connect': header });
    // What a client behind such a proxy does: it sends the same Connect again as its first frame.
    c.ws.send(Buffer.from(header, 'base64'));
    await waitPacket(c.inbox, PacketType.CONNECT);
    c.ws.send(encodePacket({ type: PacketType.ACK_REQUEST, event: 'echo', ackId: 1, data: 'still here' }));
    const reply = await waitPacket(c.inbox, PacketType.ACK_RESPONSE);
    assert.equal(reply.data, 'still here');
    assert.equal(middlewareRuns, 1);
    assert.equal(c.inbox.filter((p) => p.type === PacketType.ERROR).length, 0, 'no error for the repeat');
    c.ws.close();
  });

  it('is refused like a Connect frame: an unsupported version gets the Error and 1002', async () => {
    const server = await startServer();
    servers.push(server);
    const c = await rawClient(server.getPort(), { 'X-Stelar-Connect': connectHeader({ v: 99 }) });
    const [code] = await once(c.ws, 'close');
    assert.equal(code, 1002);
    assert.equal((await waitPacket(c.inbox, PacketType.ERROR)).event, 'STELAR_ERR_PACKET_UNEXPECTED');
  });

  for (const [what, value] of [
    ['not base64', '!!not-base64!!'],
    ['over maxHandshakePayloadSize', 'A'.repeat(2000)],
  ]) {
    it(`is not taken when ${what}: no acknowledgement, the session waits for the Connect frame`, async () => {
      const server = await startServer({ maxHandshakePayloadSize: 1024 });
      servers.push(server);
      const c = await rawClient(server.getPort(), { 'X-Stelar-Connect': value });
      assert.equal(c.headers['x-stelar-connect'], undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(c.inbox.length, 0, 'nothing before the Connect frame');
      c.ws.send(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1 } }));
      assert.equal(typeof (await waitPacket(c.inbox, PacketType.CONNECT)).data.id, 'string');
      c.ws.close();
    });
  }

  it('is not taken while refusing by admission: the refusal (Error + 4003) still comes', async () => {
    const server = await startServer({ maxConnectionsPerIP: 1 });
    servers.push(server);
    const header = { 'X-Stelar-Connect': connectHeader({ v: 1 }) };
    const first = await rawClient(server.getPort(), header);
    await waitPacket(first.inbox, PacketType.CONNECT);
    const second = await rawClient(server.getPort(), header);
    const [code] = await once(second.ws, 'close');
    assert.equal(code, 4003);
    assert.equal(second.inbox.filter((p) => p.type === PacketType.CONNECT).length, 0, 'never accepted');
    first.ws.close();
  });

  it('StelarClient sends it, and the server sees exactly one Connect', async () => {
    const server = await startServer();
    servers.push(server);
    const seen = [];
    server.use((ctx, next) => {
      seen.push(ctx.data);
      next();
    });
    const client = new StelarClient(`${HOST}:${server.getPort()}`, { auth: { user: 'u' }, reconnection: false, logger: false });
    await new Promise((resolve) => client.connect(resolve));
    assert.ok(client.getId());
    assert.deepEqual(seen, [{ user: 'u' }]);
    client.disconnect();
  });

  it('StelarClient sends the Connect frame to a server that does not acknowledge the header', async () => {
    const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false });
    await once(wss, 'listening');
    const got = [];
    wss.on('connection', (ws, req) => {
      got.push({ header: req.headers['x-stelar-connect'] });
      ws.on('message', (data) => {
        const packet = decodePacket(data);
        got.push({ frame: packet });
        if (packet.type === PacketType.CONNECT) {
          ws.send(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1, id: 'old-server' } }));
        }
      });
    });
    try {
      const client = new StelarClient(`${HOST}:${wss.address().port}`, { auth: 'a', reconnection: false, logger: false });
      await new Promise((resolve) => client.connect(resolve));
      assert.equal(client.getId(), 'old-server');
      assert.equal(typeof got[0].header, 'string', 'the header was offered');
      // `refresh: true`: a client with credentials offers to send fresh ones (an old server ignores it).
      assert.deepEqual(decodePacket(Buffer.from(got[0].header, 'base64')).data, { v: 1, auth: 'a', refresh: true });
      assert.equal(got[1].frame.type, PacketType.CONNECT, 'then sent as the first frame');
      assert.deepEqual(got[1].frame.data, { v: 1, auth: 'a', refresh: true });
      client.disconnect();
    } finally {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it('StelarClient with an auth callback sends no header (the callback runs at open, as before)', async () => {
    const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false });
    await once(wss, 'listening');
    const headers = [];
    wss.on('connection', (ws, req) => {
      headers.push(req.headers['x-stelar-connect']);
      ws.on('message', () => ws.send(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1, id: 'x' } })));
    });
    try {
      const client = new StelarClient(`${HOST}:${wss.address().port}`, { auth: async () => 'tok', reconnection: false, logger: false });
      await new Promise((resolve) => client.connect(resolve));
      assert.deepEqual(headers, [undefined]);
      client.disconnect();
    } finally {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
