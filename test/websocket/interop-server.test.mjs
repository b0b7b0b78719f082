// The `ws` package as an independent client against our WebSocketServer.
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Opcode, WebSocketServer } from '../../dist/websocket/index.js';
import { cf, listen, once, rawExchange, upgradeRequest } from './helpers.mjs';

const MiB = 1024 * 1024;

describe('ws client -> our server', () => {
  let wss;
  let url;
  const conns = [];
  before(async () => {
    wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      maxPayload: 17 * MiB,
      handleProtocols: (list) => (list.includes('chat') ? 'chat' : false),
    });
    wss.on('connection', (ws, req) => {
      conns.push(ws);
      ws.on('message', (data, isBinary) => {
        if (req.url === '/echo') ws.send(data, { binary: isBinary });
      });
    });
    url = `ws://127.0.0.1:${await listen(wss)}`;
  });
  after(() => new Promise((resolve) => wss.close(() => resolve())));

  async function open(path = '/echo', protocols) {
    const client = new WebSocket(url + path, protocols);
    const [serverSide] = await Promise.all([once(wss, 'connection'), once(client, 'open')]);
    return { client, server: serverSide[0] };
  }

  function nextMessage(client) {
    return once(client, 'message').then(([data, isBinary]) => ({ data, isBinary }));
  }

  const sizes = [0, 125, 126, 65535, 65536, 16 * MiB];
  for (const size of sizes) {
    it(`echoes a ${size}-byte binary message`, async () => {
      const { client } = await open();
      const payload = randomFillSync(Buffer.alloc(size));
      const reply = nextMessage(client);
      client.send(payload);
      const { data, isBinary } = await reply;
      assert.equal(isBinary, true);
      assert.equal(data.length, size);
      assert.ok(payload.equals(data), 'payload differs');
      client.close();
      await once(client, 'close');
    });
  }

  it('echoes text, empty text and multi-byte text', async () => {
    const { client } = await open();
    for (const text of ['hello', '', 'h\u00e9llo \u20ac \u{1F600}', 'x'.repeat(70000)]) {
      const reply = nextMessage(client);
      client.send(text);
      const { data, isBinary } = await reply;
      assert.equal(isBinary, false);
      assert.equal(data.toString(), text);
    }
    client.close();
    await once(client, 'close');
  });

  it('reassembles messages ws sends in fragments', async () => {
    const { client, server } = await open('/quiet');
    const got = once(server, 'message');
    client.send('Hel', { fin: false });
    client.send('lo \u20ac', { fin: false });
    client.send(' world', { fin: true });
    const [data, isBinary] = await got;
    assert.equal(isBinary, false);
    assert.equal(data.toString(), 'Hello \u20ac world');
    const gotBinary = once(server, 'message');
    client.send(Buffer.from([1, 2]), { fin: false, binary: true });
    client.send(Buffer.from([3]), { fin: true, binary: true });
    const [bin, binFlag] = await gotBinary;
    assert.equal(binFlag, true);
    assert.deepEqual([...bin], [1, 2, 3]);
    client.terminate();
  });

  it('answers ws pings with the same payload, and ws answers ours', async () => {
    const { client, server } = await open('/quiet');
    const pong = once(client, 'pong');
    const pinged = once(server, 'ping');
    client.ping(Buffer.from('are you there'));
    assert.equal((await pinged)[0].toString(), 'are you there');
    assert.equal((await pong)[0].toString(), 'are you there');
    const ourPong = once(server, 'pong');
    server.ping('and you?');
    assert.equal((await ourPong)[0].toString(), 'and you?');
    client.terminate();
  });

  it('negotiates a subprotocol', async () => {
    const { client, server } = await open('/quiet', ['v2', 'chat']);
    assert.equal(client.protocol, 'chat');
    assert.equal(server.protocol, 'chat');
    client.terminate();
  });

  it('client-initiated close: code and reason seen on both ends', async () => {
    const { client, server } = await open('/quiet');
    const serverClosed = once(server, 'close');
    const clientClosed = once(client, 'close');
    client.close(4001, 'bye now');
    const [code, reason] = await serverClosed;
    assert.equal(code, 4001);
    assert.equal(reason, 'bye now');
    const [ccode, creason] = await clientClosed;
    assert.equal(ccode, 4001);
    assert.equal(creason.toString(), 'bye now');
    assert.equal(server.readyState, 3);
  });

  it('server-initiated close: ws sees our code and reason, we see its echo', async () => {
    const { client, server } = await open('/quiet');
    const clientClosed = once(client, 'close');
    const serverClosed = once(server, 'close');
    server.close(4002, 'go away');
    assert.equal(server.readyState, 2);
    const [code, reason] = await clientClosed;
    assert.equal(code, 4002);
    assert.equal(reason.toString(), 'go away');
    assert.equal((await serverClosed)[0], 4002);
  });

  it('a close frame without a code is reported as 1005 on both ends', async () => {
    const { client, server } = await open('/quiet');
    const serverClosed = once(server, 'close');
    const clientClosed = once(client, 'close');
    client.close();
    assert.deepEqual(await serverClosed, [1005, '']);
    assert.equal((await clientClosed)[0], 1005);
  });

  it('a socket that dies without a close frame is reported as 1006 (both directions)', async () => {
    const a = await open('/quiet');
    const closedA = once(a.server, 'close');
    a.client.terminate();
    assert.equal((await closedA)[0], 1006);

    const b = await open('/quiet');
    const closedB = once(b.client, 'close');
    b.server.terminate();
    assert.equal((await closedB)[0], 1006);
  });

  it('send returns false past the high-water mark, bufferedAmount grows, and drain follows', async () => {
    const connected = once(wss, 'connection');
    const res = await rawExchange(Number(new URL(url).port), upgradeRequest({ path: '/quiet' }));
    const [server] = await connected;
    assert.equal(res.status, 101);
    res.socket.pause(); // a slow reader
    const chunk = Buffer.alloc(256 * 1024);
    let sent = 0;
    while (server.send(chunk)) {
      sent++;
      assert.ok(sent < 4096, 'send never reported backpressure');
    }
    assert.ok(server.bufferedAmount > 0);
    const drained = once(server, 'drain');
    res.socket.resume();
    await drained;
    res.socket.destroy();
  });
});

describe('ws client -> our server: limits', () => {
  it('ws sending more than maxPayload gets 1009, and we emit the error', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 1000 });
    const port = await listen(wss);
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    const [[server]] = await Promise.all([once(wss, 'connection'), once(client, 'open')]);
    const errored = once(server, 'error');
    const clientClosed = once(client, 'close');
    client.send(Buffer.alloc(999)); // fits
    client.send(Buffer.alloc(1001));
    const [err] = await errored;
    assert.equal(err.code, 'STELAR_ERR_WS_MESSAGE_TOO_BIG');
    assert.equal(err.closeCode, 1009);
    assert.equal((await clientClosed)[0], 1009);
    await new Promise((resolve) => wss.close(() => resolve()));
  });

  it('a protocol error from the peer: close 1002 sent, then the socket ends', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    const port = await listen(wss);
    const connected = once(wss, 'connection');
    const res = await rawExchange(port, upgradeRequest());
    const [server] = await connected;
    const errors = [];
    server.on('error', (e) => errors.push(e.code));
    const closed = once(server, 'close');
    const data = [];
    res.socket.on('data', (d) => data.push(d));
    res.socket.write(cf(Opcode.TEXT, 'x', { rsv: 4 }));
    await res.closed;
    const bytes = Buffer.concat(data);
    assert.equal(bytes[0], 0x88);
    assert.equal(bytes.readUInt16BE(2), 1002);
    assert.deepEqual(errors, ['STELAR_ERR_WS_RSV_SET']);
    assert.equal((await closed)[0], 1006);
    await new Promise((resolve) => wss.close(() => resolve()));
  });
});
