// WebSocketConnection over plain TCP socket pairs (no handshake): closing handshake in both
// roles, timeouts, the close event, send options, broadcast frames, protocol errors.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildFrame, Opcode, Receiver, WebSocketConnection } from '../../dist/websocket/index.js';
import { cf, closeBody, once, sf } from './helpers.mjs';

let server;
let port;
const pending = [];
before(async () => {
  server = net.createServer({ allowHalfOpen: true }, (s) => pending.shift()?.(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = server.address().port;
});
after(() => new Promise((r) => server.close(r)));

/** [serverSideSocket, clientSideSocket], both allowing half-open like http's sockets. */
async function pair() {
  const accepted = new Promise((resolve) => pending.push(resolve));
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(client, 'connect');
  const serverSide = await accepted;
  client.on('error', () => {});
  serverSide.on('error', () => {});
  return [serverSide, client];
}

/** Collects what a raw peer receives, parsed as frames (it plays the other role). */
function rawPeer(socket, { isServer }) {
  const frames = [];
  const receiver = new Receiver({
    isServer,
    maxPayload: 1 << 30,
    onMessage: (d, b) => frames.push({ type: b ? 'binary' : 'text', data: Buffer.from(d) }),
    onPing: (d) => frames.push({ type: 'ping', data: Buffer.from(d) }),
    onPong: (d) => frames.push({ type: 'pong', data: Buffer.from(d) }),
    onClose: (code, reason) => frames.push({ type: 'close', code, reason }),
    onError: (e) => frames.push({ type: 'error', code: e.code }),
  });
  const raw = [];
  socket.on('data', (c) => {
    raw.push(Buffer.from(c));
    receiver.write(c);
  });
  const ended = new Promise((r) => socket.once('end', r));
  const waitFor = async (n) => {
    for (let i = 0; i < 400 && frames.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(frames.length >= n, `expected ${n} frames, got ${JSON.stringify(frames)}`);
    return frames;
  };
  return { frames, raw, ended, waitFor };
}

describe('WebSocketConnection', () => {
  it('server role: echoes a peer close (code + reason) and ends TCP first', async () => {
    const [s, c] = await pair();
    const ws = new WebSocketConnection(s, { isServer: true });
    const peer = rawPeer(c, { isServer: false });
    const closed = once(ws, 'close');
    c.write(cf(Opcode.CLOSE, closeBody(4321, 'bye')));
    await peer.ended; // the server's FIN, before the peer ended anything
    assert.equal(s.destroyed, false, 'ended with a FIN, not destroyed by the close timer');
    assert.equal(s.writableEnded, true);
    assert.deepEqual(peer.frames, [{ type: 'close', code: 4321, reason: 'bye' }]);
    c.end();
    assert.deepEqual(await closed, [4321, 'bye']);
    assert.equal(ws.readyState, 3);
  });

  it('server role: an empty close is echoed empty and reported as 1005', async () => {
    const [s, c] = await pair();
    const ws = new WebSocketConnection(s, { isServer: true });
    const peer = rawPeer(c, { isServer: false });
    const closed = once(ws, 'close');
    c.write(cf(Opcode.CLOSE, ''));
    await peer.ended;
    assert.deepEqual(Buffer.concat(peer.raw), Buffer.from([0x88, 0x00]));
    c.end();
    assert.deepEqual(await closed, [1005, '']);
  });

  it('client role: echoes a masked close and waits for the server to end TCP', async () => {
    const [s, c] = await pair();
    const ws = new WebSocketConnection(c, { isServer: false });
    const peer = rawPeer(s, { isServer: true });
    let closedAt = 0;
    ws.on('close', () => (closedAt = Date.now()));
    s.write(sf(Opcode.CLOSE, closeBody(1001, 'restart')));
    const frames = await peer.waitFor(1);
    assert.deepEqual(frames, [{ type: 'close', code: 1001, reason: 'restart' }]);
    assert.equal(peer.raw[0][1] & 0x80, 0x80, 'client frames are masked');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(closedAt, 0, 'the client must not close before the server ends TCP');
    assert.equal(ws.readyState, 2);
    const closed = once(ws, 'close');
    s.end();
    assert.deepEqual(await closed, [1001, 'restart']);
  });

  it('close(): sends the close frame, waits for the peer, destroys after closeTimeout', async () => {
    const [s, c] = await pair();
    const ws = new WebSocketConnection(s, { isServer: true, closeTimeout: 200 });
    const peer = rawPeer(c, { isServer: false });
    let closes = 0;
    ws.on('close', () => closes++);
    const closed = once(ws, 'close');
    ws.close(4000, 'timeout please');
    assert.equal(ws.readyState, 2);
    ws.close(4000, 'twice'); // no second frame
    // the peer never answers
    const [code] = await closed;
    assert.equal(code, 1006, 'no close frame came back');
    assert.deepEqual(peer.frames, [{ type: 'close', code: 4000, reason: 'timeout please' }]);
    ws.terminate();
    ws.close();
    await new Promise((r) => setImmediate(r));
    assert.equal(closes, 1, 'close is emitted exactly once');
    c.destroy();
  });

  it('client role: gives up waiting for the server FIN after closeTimeout', async () => {
    const [s, c] = await pair();
    const ws = new WebSocketConnection(c, { isServer: false, closeTimeout: 200 });
    rawPeer(s, { isServer: true });
    const closed = once(ws, 'close');
    s.write(sf(Opcode.CLOSE, closeBody(1000)));
    assert.deepEqual(await closed, [1000, '']);
    s.destroy();
  });

  it('send: strings as text, bytes as binary, `binary` overrides; nothing after close', async () => {
    const [s, c] = await pair();
    const ws = new WebSocketConnection(s, { isServer: true });
    const peer = rawPeer(c, { isServer: false });
    assert.equal(ws.send('text'), true);
    ws.send(Buffer.from('bin'));
    ws.send(Buffer.from('bytes as text'), { binary: false });
    ws.send('string as binary', { binary: true });
    ws.send(new Uint8Array([1, 2, 3]));
    const big = Buffer.alloc(100_000, 7); // header and payload written separately
    ws.send(big);
    const frames = await peer.waitFor(6);
    assert.deepEqual(
      frames.slice(0, 5).map((f) => [f.type, f.data.toString('hex')]),
      [
        ['text', Buffer.from('text').toString('hex')],
        ['binary', Buffer.from('bin').toString('hex')],
        ['text', Buffer.from('bytes as text').toString('hex')],
        ['binary', Buffer.from('string as binary').toString('hex')],
        ['binary', '010203'],
      ],
    );
    assert.ok(frames[5].data.equals(big));
    ws.close();
    assert.equal(ws.send('late'), false);
    assert.equal(ws.sendFrame(buildFrame(Opcode.TEXT, 'late')), false);
    assert.equal(ws.ping(), false);
    c.end();
    await once(ws, 'close');
  });

  it('sendFrame: one prebuilt frame written to several connections', async () => {
    const peers = [];
    const conns = [];
    for (let i = 0; i < 3; i++) {
      const [s, c] = await pair();
      conns.push(new WebSocketConnection(s, { isServer: true }));
      peers.push(rawPeer(c, { isServer: false }));
    }
    const frame = buildFrame(Opcode.TEXT, 'to everyone');
    for (const ws of conns) assert.equal(ws.sendFrame(frame), true);
    for (const peer of peers) assert.deepEqual((await peer.waitFor(1))[0].data.toString(), 'to everyone');
    for (const ws of conns) ws.terminate();
  });

  it('refuses bad arguments with StelarErrors', async () => {
    const [s, c] = await pair();
    const ws = new WebSocketConnection(s, { isServer: true });
    assert.throws(() => ws.ping(Buffer.alloc(126)), { code: 'STELAR_ERR_WS_CONTROL_TOO_LONG' });
    assert.throws(() => ws.close(1006), { code: 'STELAR_ERR_WS_INVALID_CLOSE_CODE' });
    assert.throws(() => ws.close(1000, 'x'.repeat(124)), { code: 'STELAR_ERR_WS_INVALID_CLOSE_PAYLOAD' });
    assert.equal(ws.readyState, 1, 'a refused close() changes nothing');
    ws.terminate();
    c.destroy();
    await once(ws, 'close');
  });

  it('a protocol error sends its close code and ends, with or without an error listener', async () => {
    for (const listen of [true, false]) {
      const [s, c] = await pair();
      const ws = new WebSocketConnection(s, { isServer: true, maxPayload: 10 });
      const peer = rawPeer(c, { isServer: false });
      const errors = [];
      if (listen) ws.on('error', (e) => errors.push([e.code, e.closeCode]));
      const closed = once(ws, 'close');
      c.write(cf(Opcode.TEXT, 'more than ten bytes'));
      await peer.ended;
      assert.deepEqual(peer.frames, [{ type: 'close', code: 1009, reason: 'message larger than the limit of 10 bytes' }]);
      assert.deepEqual(errors, listen ? [['STELAR_ERR_WS_MESSAGE_TOO_BIG', 1009]] : []);
      c.end();
      assert.equal((await closed)[0], 1006);
    }
  });

  it('reads `head` bytes before the socket data and reports the remote address', async () => {
    const [s, c] = await pair();
    const ws = new WebSocketConnection(s, { isServer: true, head: cf(Opcode.TEXT, 'first') });
    assert.equal(ws.remoteAddress, '127.0.0.1');
    const got = [];
    ws.on('message', (d) => got.push(d.toString()));
    c.write(cf(Opcode.TEXT, 'second'));
    for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got, ['first', 'second']);
    ws.terminate();
    c.destroy();
  });

  it('answers a ping with a pong carrying the same payload', async () => {
    const [s, c] = await pair();
    const ws = new WebSocketConnection(c, { isServer: false });
    const peer = rawPeer(s, { isServer: true });
    s.write(sf(Opcode.PING, 'echo me'));
    const [frame] = await peer.waitFor(1);
    assert.deepEqual([frame.type, frame.data.toString()], ['pong', 'echo me']);
    ws.terminate();
    s.destroy();
  });
});
