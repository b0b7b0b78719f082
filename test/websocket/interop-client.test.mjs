// Our connectWebSocket against the `ws` package as an independent server.
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer as WsServer } from 'ws';
import { acceptKey, connectWebSocket } from '../../dist/websocket/index.js';
import { listen, once } from './helpers.mjs';
import { hasOpenssl, selfSignedCert } from '../support/tls.mjs';

const MiB = 1024 * 1024;

describe('our client -> ws server', () => {
  let wss;
  let url;
  let lastReq;
  before(async () => {
    wss = new WsServer({
      port: 0,
      host: '127.0.0.1',
      maxPayload: 17 * MiB,
      handleProtocols: (set) => (set.has('chat') ? 'chat' : false),
    });
    wss.on('connection', (ws, req) => {
      lastReq = req;
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => {
        if (req.url === '/echo') ws.send(data, { binary: isBinary });
      });
    });
    url = `ws://127.0.0.1:${await listen(wss)}`;
  });
  after(() => {
    // ws's close() waits for open connections: a failed test must not leave one behind
    for (const c of wss.clients) c.terminate();
    return new Promise((resolve) => wss.close(() => resolve()));
  });

  async function open(path = '/echo', opts) {
    const serverSide = once(wss, 'connection');
    const client = await connectWebSocket(url + path, { maxPayload: 17 * MiB, ...opts });
    const [server] = await serverSide;
    return { client, server };
  }

  const sizes = [0, 125, 126, 65535, 65536, 16 * MiB];
  for (const size of sizes) {
    it(`round-trips a ${size}-byte binary message (masked by us)`, async () => {
      const { client } = await open();
      const payload = randomFillSync(Buffer.alloc(size));
      const reply = once(client, 'message');
      assert.equal(typeof client.send(payload), 'boolean');
      const [data, isBinary] = await reply;
      assert.equal(isBinary, true);
      assert.ok(payload.equals(data), 'payload differs');
      client.close();
      await once(client, 'close');
    });
  }

  it('round-trips text, empty text, multi-byte text and bytes sent as text', async () => {
    const { client } = await open();
    for (const [input, expected] of [
      ['hello', 'hello'],
      ['', ''],
      ['\u00e9\u20ac\u{1F600}', '\u00e9\u20ac\u{1F600}'],
    ]) {
      const reply = once(client, 'message');
      client.send(input);
      const [data, isBinary] = await reply;
      assert.equal(isBinary, false);
      assert.equal(data.toString(), expected);
    }
    const reply = once(client, 'message');
    client.send(Buffer.from('as text'), { binary: false });
    const [data, isBinary] = await reply;
    assert.equal(isBinary, false);
    assert.equal(data.toString(), 'as text');
    client.close();
    await once(client, 'close');
  });

  it('reassembles fragmented messages from ws', async () => {
    const { client, server } = await open('/quiet');
    const got = once(client, 'message');
    server.send('frag', { fin: false });
    server.send('men', { fin: false });
    server.send('ted', { fin: true });
    const [data, isBinary] = await got;
    assert.equal(isBinary, false);
    assert.equal(data.toString(), 'fragmented');
    client.terminate();
  });

  it('ping/pong both ways', async () => {
    const { client, server } = await open('/quiet');
    const wsPinged = once(server, 'ping');
    const ourPongIn = once(client, 'pong');
    client.ping('from us'); // ws answers automatically
    assert.equal((await wsPinged)[0].toString(), 'from us');
    assert.equal((await ourPongIn)[0].toString(), 'from us');
    const ourPong = once(server, 'pong');
    const ourPing = once(client, 'ping');
    server.ping('from ws'); // we answer automatically
    assert.equal((await ourPing)[0].toString(), 'from ws');
    assert.equal((await ourPong)[0].toString(), 'from ws');
    client.terminate();
  });

  it('sends custom headers and negotiates a subprotocol', async () => {
    const { client } = await open('/quiet', { headers: { 'X-Token': 'abc', Origin: 'https://app.example' }, protocols: ['v2', 'chat'] });
    assert.equal(lastReq.headers['x-token'], 'abc');
    assert.equal(lastReq.headers.origin, 'https://app.example');
    assert.equal(client.protocol, 'chat');
    client.terminate();
  });

  it('client-initiated close: code and reason seen on both ends', async () => {
    const { client, server } = await open('/quiet');
    const serverClosed = once(server, 'close');
    const clientClosed = once(client, 'close');
    client.close(4100, 'done here');
    const [code, reason] = await serverClosed;
    assert.equal(code, 4100);
    assert.equal(reason.toString(), 'done here');
    const [ccode, creason] = await clientClosed;
    assert.equal(ccode, 4100);
    assert.equal(typeof creason, 'string');
  });

  it('server-initiated close reaches our close event with its code and reason', async () => {
    const { client, server } = await open('/quiet');
    const clientClosed = once(client, 'close');
    const serverClosed = once(server, 'close');
    server.close(4200, 'server says bye');
    assert.deepEqual(await clientClosed, [4200, 'server says bye']);
    assert.equal((await serverClosed)[0], 4200);
  });

  it('close without a code (1005) both ways', async () => {
    const a = await open('/quiet');
    const serverClosed = once(a.server, 'close');
    const ourClosed = once(a.client, 'close');
    a.client.close(1005);
    assert.equal((await serverClosed)[0], 1005);
    assert.equal((await ourClosed)[0], 1005);

    const b = await open('/quiet');
    const closed = once(b.client, 'close');
    b.server.close();
    assert.deepEqual(await closed, [1005, '']);
  });

  it('abrupt socket destroy is reported as 1006', async () => {
    const { client, server } = await open('/quiet');
    const closed = once(client, 'close');
    server.terminate();
    assert.equal((await closed)[0], 1006);
  });

  it('a message above our maxPayload: ws sees 1009', async () => {
    const { client, server } = await open('/quiet', { maxPayload: 1000 });
    const serverClosed = once(server, 'close');
    const errored = once(client, 'error');
    server.send(Buffer.alloc(1001));
    assert.equal((await errored)[0].code, 'STELAR_ERR_WS_MESSAGE_TOO_BIG');
    assert.equal((await serverClosed)[0], 1009);
  });
});

describe('connectWebSocket handshake failures', () => {
  it('rejects a non-101 answer with WS_HANDSHAKE_FAILED and the HTTP status', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(403);
      res.end('no');
    });
    server.listen(0, '127.0.0.1');
    const port = await listen(server);
    await assert.rejects(connectWebSocket(`ws://127.0.0.1:${port}/`), (err) => {
      assert.equal(err.code, 'STELAR_ERR_WS_HANDSHAKE_FAILED');
      assert.match(err.message, /403/);
      return true;
    });
    await new Promise((r) => server.close(r));
  });

  it('rejects a 101 with a wrong Sec-WebSocket-Accept', async () => {
    const server = http.createServer();
    server.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n');
    });
    server.listen(0, '127.0.0.1');
    const port = await listen(server);
    await assert.rejects(connectWebSocket(`ws://127.0.0.1:${port}/`), (err) => {
      assert.equal(err.code, 'STELAR_ERR_WS_HANDSHAKE_FAILED');
      assert.match(err.message, /101.*Accept/);
      return true;
    });
    await new Promise((r) => server.close(r));
  });

  it('times out a server that never answers', async () => {
    const sockets = [];
    const server = net.createServer((s) => sockets.push(s));
    server.listen(0, '127.0.0.1');
    const port = await listen(server);
    await assert.rejects(connectWebSocket(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 300 }), {
      code: 'STELAR_ERR_WS_HANDSHAKE_TIMEOUT',
    });
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it('rejects a bad URL and a refused connection', async () => {
    await assert.rejects(connectWebSocket('not a url'), { code: 'STELAR_ERR_INVALID_URL' });
    await assert.rejects(connectWebSocket('ftp://127.0.0.1/'), { code: 'STELAR_ERR_INVALID_URL' });
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    const port = await listen(server);
    await new Promise((r) => server.close(r));
    await assert.rejects(connectWebSocket(`ws://127.0.0.1:${port}/`), { code: 'STELAR_ERR_WS_HANDSHAKE_FAILED' });
  });

  it('feeds bytes that arrive in the same packet as the 101 to the receiver', async () => {
    const server = http.createServer();
    server.on('upgrade', (req, socket) => {
      const accept = acceptKey(req.headers['sec-websocket-key']);
      socket.write(
        Buffer.concat([
          Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`),
          Buffer.from([0x81, 0x05]),
          Buffer.from('early'),
        ]),
      );
      socket.on('error', () => {});
      setTimeout(() => socket.destroy(), 50);
    });
    server.listen(0, '127.0.0.1');
    const port = await listen(server);
    const client = await connectWebSocket(`ws://127.0.0.1:${port}/`);
    const [data] = await once(client, 'message');
    assert.equal(data.toString(), 'early');
    await once(client, 'close');
    await new Promise((r) => server.close(r));
  });
});

describe('wss://', { skip: hasOpenssl() ? false : 'openssl CLI not available' }, () => {
  let cert;
  let server;
  let wss;
  let port;
  before(async () => {
    const pair = selfSignedCert();
    cert = pair.cert;
    server = https.createServer(pair);
    wss = new WsServer({ server });
    wss.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
    server.listen(0, '127.0.0.1');
    port = await listen(server);
  });
  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
    await new Promise((r) => server.close(r));
  });

  it('connects with the self-signed cert as CA and echoes over TLS', async () => {
    const client = await connectWebSocket(`wss://localhost:${port}/`, { ca: cert });
    const reply = once(client, 'message');
    client.send('secure');
    assert.equal((await reply)[0].toString(), 'secure');
    client.close();
    assert.equal((await once(client, 'close'))[0], 1000);
  });

  it('refuses an untrusted certificate by default', async () => {
    await assert.rejects(connectWebSocket(`wss://localhost:${port}/`), { code: 'STELAR_ERR_WS_HANDSHAKE_FAILED' });
  });
});
