import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { once } from 'node:events';
import { TcpConnection, connectTcp } from '../../dist/tcp/index.js';
import { decodePacket, PacketType, StelarError } from '../../dist/protocol/index.js';
import { hasOpenssl, selfSignedCert } from '../support/tls.mjs';

const skip = hasOpenssl() ? false : 'openssl CLI not available to generate a self-signed certificate';
let key;
let cert;
let server;
let port;
const serverConns = [];

before(async () => {
  if (skip) return;
  ({ key, cert } = selfSignedCert());
  server = tls.createServer({ key, cert }, (socket) => {
    const conn = new TcpConnection(socket);
    serverConns.push(conn);
    // echo every packet back
    conn.on('frame', (p) => conn.send(Buffer.concat([lengthPrefix(p.length + 4), p])));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = server.address().port;
});

after(() => {
  server?.close();
});

function lengthPrefix(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

const onceEvent = (emitter, name) => new Promise((resolve) => emitter.once(name, (...args) => resolve(args)));

test('TLS: connect with the self-signed cert as CA, echo a packet, close handshake over TLS', { skip }, async () => {
  const client = await connectTcp({ host: 'localhost', port, tls: true, ca: cert });
  assert.ok(client.socket instanceof tls.TLSSocket);
  assert.equal(client.socket.authorized, true);
  const echoed = onceEvent(client, 'frame');
  client.sendPacket({ type: PacketType.JSON, event: 'secure', data: { a: 1 } });
  const [p] = await echoed;
  assert.deepEqual(decodePacket(p), { type: PacketType.JSON, event: 'secure', data: { a: 1 } });
  const serverConn = serverConns.at(-1);
  const closes = Promise.all([onceEvent(client, 'close'), onceEvent(serverConn, 'close')]);
  client.close(1001, 'going away');
  const [[c1, r1], [c2, r2]] = await closes;
  assert.deepEqual([c1, r1, c2, r2], [1001, 'going away', 1001, 'going away']);
});

test('TLS: an untrusted self-signed cert is refused by default', { skip }, async () => {
  await assert.rejects(connectTcp({ host: 'localhost', port, tls: true, timeout: 5000 }), (err) => {
    assert.ok(err instanceof StelarError);
    assert.match(err.message, /tls:\/\/localhost:\d+/);
    assert.match(err.message, /self[- ]signed|SELF_SIGNED/i);
    return true;
  });
});

test('TLS: rejectUnauthorized false connects to an IP host without SNI', { skip }, async () => {
  const client = await connectTcp({ host: '127.0.0.1', port, tls: true, rejectUnauthorized: false });
  const echoed = onceEvent(client, 'frame');
  client.sendPacket({ type: PacketType.BINARY, event: 'b', data: Buffer.from('xyz') });
  const [p] = await echoed;
  assert.equal(Buffer.from(decodePacket(p).data).toString(), 'xyz');
  const closed = onceEvent(client, 'close');
  client.close();
  const [code] = await closed;
  assert.equal(code, 1000);
});
