import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { acceptKey, Opcode, WebSocketServer } from '../../dist/websocket/index.js';
import { cf, listen, once, rawExchange, RFC_ACCEPT, RFC_KEY, upgradeRequest } from './helpers.mjs';

function closeWss(wss) {
  return new Promise((resolve) => wss.close(() => resolve()));
}

describe('handshake on an own server', () => {
  let wss;
  let port;
  before(async () => {
    wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyClient: (req) =>
        req.headers.origin === 'https://evil.example' ? { status: 403, message: 'Origin not allowed', headers: { 'X-Why': 'origin' } } : true,
      handleProtocols: (protocols) => (protocols.includes('chat') ? 'chat' : protocols.includes('liar') ? 'not-offered' : false),
    });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    port = await listen(wss);
  });
  after(() => closeWss(wss));

  it('computes the RFC 6455 example accept key', () => {
    assert.equal(acceptKey(RFC_KEY), RFC_ACCEPT);
  });

  it('accepts a good handshake and answers with the right Accept, then echoes a frame', async () => {
    const res = await rawExchange(port, upgradeRequest());
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-accept'], RFC_ACCEPT);
    assert.equal(res.headers.upgrade.toLowerCase(), 'websocket');
    assert.equal(res.headers.connection.toLowerCase(), 'upgrade');
    assert.equal(res.headers['sec-websocket-protocol'], undefined);
    res.socket.write(cf(Opcode.TEXT, 'ping?'));
    const [chunk] = await once(res.socket, 'data');
    assert.deepEqual(chunk, Buffer.from([0x81, 5, ...Buffer.from('ping?')]));
    res.socket.destroy();
  });

  it('accepts header tokens in any case and within lists', async () => {
    const res = await rawExchange(port, upgradeRequest({ headers: { Upgrade: 'WebSocket', Connection: 'keep-alive, UPGRADE' } }));
    assert.equal(res.status, 101);
    res.socket.destroy();
  });

  it('takes bytes sent right behind the request (head) as the first frame', async () => {
    const frame = cf(Opcode.TEXT, 'early');
    const res = await rawExchange(port, Buffer.concat([Buffer.from(upgradeRequest()), frame]));
    assert.equal(res.status, 101);
    const got = res.rest.length > 0 ? res.rest : (await once(res.socket, 'data'))[0];
    assert.equal(got.subarray(2).toString(), 'early');
    res.socket.destroy();
  });

  const bad = {
    'a missing key': { headers: { 'Sec-WebSocket-Key': null } },
    'a key of 15 bytes': { headers: { 'Sec-WebSocket-Key': Buffer.alloc(15, 1).toString('base64') } },
    'a key of 17 bytes': { headers: { 'Sec-WebSocket-Key': Buffer.alloc(17, 1).toString('base64') } },
    'a key that is not base64': { headers: { 'Sec-WebSocket-Key': '!!!!!!!!!!!!!!!!!!!!!!==' } },
    'a duplicate key': { extraLines: [`Sec-WebSocket-Key: ${RFC_KEY}`] },
    'a missing Upgrade header': { headers: { Upgrade: null } },
    'an Upgrade to something else': { headers: { Upgrade: 'h2c' } },
    'a Connection header without upgrade': { headers: { Connection: 'keep-alive' } },
    'a missing Connection header': { headers: { Connection: null } },
    'an empty element in the subprotocol list': { headers: { 'Sec-WebSocket-Protocol': 'a,,b' } },
    'a subprotocol that is not a token': { headers: { 'Sec-WebSocket-Protocol': 'a b' } },
  };
  for (const [name, request] of Object.entries(bad)) {
    it(`answers 400 to ${name} and closes the socket`, async () => {
      const res = await rawExchange(port, upgradeRequest(request));
      assert.equal(res.status, 400, res.statusLine);
      await res.closed;
    });
  }

  it('answers 426 with Sec-WebSocket-Version: 13 to version 8 and to a missing version', async () => {
    for (const version of ['8', null, '13, 8']) {
      const res = await rawExchange(port, upgradeRequest({ headers: { 'Sec-WebSocket-Version': version } }));
      assert.equal(res.status, 426, `version ${version}`);
      assert.equal(res.headers['sec-websocket-version'], '13');
      await res.closed;
    }
  });

  it('refuses a POST upgrade with a 4xx', async () => {
    const res = await rawExchange(port, upgradeRequest({ method: 'POST', headers: { 'Content-Length': '0' } }));
    assert.ok(res.status >= 400 && res.status < 500, res.statusLine);
    await res.closed;
  });

  it('answers plain HTTP with 426', async () => {
    const res = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(res.status, 426);
  });

  it('answers 403 from verifyClient with its headers', async () => {
    const res = await rawExchange(port, upgradeRequest({ headers: { Origin: 'https://evil.example' } }));
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-why'], 'origin');
    assert.equal(res.body, 'Origin not allowed');
    await res.closed;
    const ok = await rawExchange(port, upgradeRequest({ headers: { Origin: 'https://good.example' } }));
    assert.equal(ok.status, 101);
    ok.socket.destroy();
  });

  it('replies with the subprotocol handleProtocols chose, and none when it chose none', async () => {
    const res = await rawExchange(port, upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'v1.x, chat ,other' } }));
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-protocol'], 'chat');
    res.socket.destroy();
    const none = await rawExchange(port, upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'v1.x' } }));
    assert.equal(none.status, 101);
    assert.equal(none.headers['sec-websocket-protocol'], undefined);
    none.socket.destroy();
    const liar = await rawExchange(port, upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'liar' } }));
    assert.equal(liar.status, 101);
    assert.equal(liar.headers['sec-websocket-protocol'], undefined, 'a protocol the client did not offer is never sent');
    liar.socket.destroy();
  });

  it('refuses a request head larger than maxHeaderSize (default 16 KiB)', async () => {
    const res = await rawExchange(port, upgradeRequest({ headers: { 'X-Big': 'a'.repeat(20 * 1024) } }));
    assert.ok(res.status === 431 || res.status === 0, res.statusLine);
    await res.closed;
    const fits = await rawExchange(port, upgradeRequest({ headers: { 'X-Big': 'a'.repeat(8 * 1024) } }));
    assert.equal(fits.status, 101);
    fits.socket.destroy();
  });
});

describe('handshake timeout', () => {
  it('drops a request trickled one byte at a time, but not an established connection', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handshakeTimeout: 300 });
    wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
    const port = await listen(wss);

    const established = await rawExchange(port, upgradeRequest());
    assert.equal(established.status, 101);

    const request = Buffer.from(upgradeRequest());
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let sent = 0;
    let timer;
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('connect', () => {
      // one byte every 50 ms: the whole head would take > 7 s
      timer = setInterval(() => {
        if (sent < request.length && !socket.destroyed) socket.write(request.subarray(sent, ++sent));
      }, 50);
    });
    const guard = new Promise((_, reject) => setTimeout(() => reject(new Error('trickling socket not dropped in 6 s')), 6000).unref());
    await Promise.race([closed, guard]);
    clearInterval(timer);
    assert.ok(sent < request.length, `server waited for all ${sent} bytes`);

    // The upgraded connection opened before is still usable after the timeout passed.
    established.socket.write(cf(Opcode.TEXT, 'still here'));
    const [chunk] = await once(established.socket, 'data');
    assert.equal(chunk.subarray(2).toString(), 'still here');
    established.socket.destroy();
    await closeWss(wss);
  });
});

describe('attached to an existing http.Server', () => {
  let server;
  let port;
  before(async () => {
    server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`route ${req.url}`);
    });
    server.listen(0, '127.0.0.1');
    port = await listen(server);
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it('leaves normal requests and other upgrade handlers alone, routes by path', async () => {
    const unclaimed = [];
    const opened = [];
    const other = (req, socket) => {
      if (req.url === '/nowhere') unclaimed.push(socket); // this test plays the other library: it keeps it
      if (req.url !== '/other') return;
      socket.end('HTTP/1.1 418 Teapot\r\nContent-Length: 5\r\nConnection: close\r\n\r\nother');
    };
    server.on('upgrade', other);
    const a = new WebSocketServer({ server, path: '/a' });
    const b = new WebSocketServer({ server, path: '/b' });
    try {
      const seen = [];
      a.on('connection', () => seen.push('a'));
      b.on('connection', () => seen.push('b'));
      assert.equal(server.listenerCount('upgrade'), 2, 'one shared listener for both WebSocketServers');

      const page = await fetch(`http://127.0.0.1:${port}/hello`);
      assert.equal(await page.text(), 'route /hello');

      const ra = await rawExchange(port, upgradeRequest({ path: '/a?x=1' }));
      opened.push(ra.socket);
      const rb = await rawExchange(port, upgradeRequest({ path: '/b' }));
      opened.push(rb.socket);
      assert.equal(ra.status, 101);
      assert.equal(rb.status, 101);
      assert.deepEqual(seen, ['a', 'b']);

      const ro = await rawExchange(port, upgradeRequest({ path: '/other' }));
      assert.equal(ro.status, 418);
      assert.equal(ro.body, 'other');

      // nobody owns /nowhere but another listener exists: it is left alone (no answer from us)
      const leftAlone = net.connect(port, '127.0.0.1');
      opened.push(leftAlone);
      leftAlone.on('error', () => {});
      leftAlone.write(upgradeRequest({ path: '/nowhere' }));
      let answered = false;
      leftAlone.on('data', () => (answered = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(answered, false);
      assert.equal(unclaimed.length, 1);
      assert.equal(unclaimed[0].destroyed, false, 'the unowned upgrade socket was not destroyed by us');
    } finally {
      for (const s of [...opened, ...unclaimed]) s.destroy();
      server.off('upgrade', other);
      await closeWss(a);
      await closeWss(b);
    }
    assert.equal(server.listenerCount('upgrade'), 0, 'the shared listener is removed with the last one');
    assert.equal(server.listening, true, 'the user server is never closed');
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/still`)).text(), 'route /still');
  });

  it('answers 404 to an unowned path when nobody else listens, and "/" catches the rest', async () => {
    const only = new WebSocketServer({ server, path: '/only' });
    const missing = await rawExchange(port, upgradeRequest({ path: '/missing' }));
    assert.equal(missing.status, 404);
    await missing.closed;

    const catchAll = new WebSocketServer({ server });
    let caught = 0;
    catchAll.on('connection', () => caught++);
    const res = await rawExchange(port, upgradeRequest({ path: '/missing' }));
    assert.equal(res.status, 101);
    assert.equal(caught, 1);
    res.socket.destroy();
    await closeWss(only);
    await closeWss(catchAll);
    assert.equal(server.listenerCount('upgrade'), 0);
  });

  it('closes its connections with 1001 on close()', async () => {
    const wss = new WebSocketServer({ server, path: '/bye' });
    const res = await rawExchange(port, upgradeRequest({ path: '/bye' }));
    assert.equal(res.status, 101);
    const framePromise = once(res.socket, 'data');
    wss.close();
    const [frame] = await framePromise;
    assert.equal(frame[0], 0x88);
    assert.equal(frame.readUInt16BE(2), 1001);
    res.socket.destroy();
    assert.equal(wss.clients.size === 0 || wss.clients.size === 1, true);
  });
});

describe('own server lifecycle', () => {
  it('close() closes the server it created', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    const port = await listen(wss);
    await closeWss(wss);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  });
});
