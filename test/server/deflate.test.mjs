// StelarServer with perMessageDeflate: the option (fixed, shown by getConfig), fan-out that stays
// encode-once (one compression per broadcast whatever the number of recipients, per window size
// in use; one per recipient only when contexts are kept), replies compressed from the threshold
// up, and TCP clients in the same room untouched.
import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { after, describe, it } from 'node:test';
import { StelarClient, StelarServer } from '../../dist/index.js';
import { decodePacket, encodePacket, PacketType } from '../../dist/protocol/index.js';
import { cf } from '../websocket/helpers.mjs';
import { messageOf, rawSession } from '../websocket/deflate-helpers.mjs';

const zlib = createRequire(import.meta.url)('node:zlib');
const BINARY = 0x2;

/** Counts zlib one-shot compressions made by anyone in this process while `fn` runs. */
async function countCompressions(fn) {
  const original = zlib.deflateRawSync;
  let calls = 0;
  zlib.deflateRawSync = (...args) => {
    calls++;
    return original(...args);
  };
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    zlib.deflateRawSync = original;
    syncBuiltinESMExports();
  }
  return calls;
}

const servers = [];
after(() => Promise.all(servers.map((s) => s.stop())));
async function start(options) {
  const server = new StelarServer({ port: 0, tcpPort: 0, host: '127.0.0.1', logger: false, gracefulShutdown: false, connectionRateLimit: false, ...options });
  servers.push(server);
  await server.start();
  return server;
}

/** A raw WebSocket peer that offers `offer`, connects and joins `room`; its frames are recorded. */
async function member(server, room, offer = 'permessage-deflate; client_max_window_bits') {
  const peer = await rawSession(server.getPort(), offer);
  peer.socket.write(cf(BINARY, encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1 } })));
  peer.socket.write(cf(BINARY, encodePacket({ type: PacketType.JOIN_ROOM, event: room })));
  await peer.waitFor(2);
  assert.deepEqual(
    peer.frames.slice(0, 2).map((f) => decodePacket(messageOf(f)).type),
    [PacketType.CONNECT, PacketType.JOIN_ROOM],
  );
  return peer;
}

const news = { headline: 'compressed once', body: 'the same words for every reader '.repeat(100) };

describe('StelarServer perMessageDeflate', () => {
  it('is off by default, fixed once the server exists, and shown by getConfig()', async () => {
    const off = await start({});
    assert.equal(off.getConfig().perMessageDeflate, false);
    const peer = await rawSession(off.getPort(), 'permessage-deflate');
    assert.equal(peer.res.headers['sec-websocket-extensions'], undefined);
    peer.socket.destroy();
    const on = await start({ perMessageDeflate: { threshold: 200 } });
    assert.deepEqual(on.getConfig().perMessageDeflate, {
      threshold: 200,
      level: 1,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
      concurrency: 10,
    });
    assert.throws(() => on.updateConfig({ perMessageDeflate: false }), /cannot be changed at runtime/);
    assert.throws(() => new StelarServer({ perMessageDeflate: { level: 12 } }), /perMessageDeflate\.level/);
  });

  it('a broadcast is compressed once per window size, whatever the number of recipients', async () => {
    const server = await start({ perMessageDeflate: true });
    const members = [];
    for (let i = 0; i < 20; i++) members.push(await member(server, 'r'));
    const small = await member(server, 'r', 'permessage-deflate; server_max_window_bits=10');
    const plain = await member(server, 'r', null);
    const tcp = new StelarClient(`127.0.0.1:${server.getTcpPort()}`, { mode: 'tcp', logger: false, reconnection: false });
    await tcp.connect();
    const tcpGot = new Promise((resolve) => tcp.once('news', resolve));
    tcp.joinRoom('r');
    await new Promise((resolve) => tcp.once('room_joined', resolve));

    const calls = await countCompressions(async () => {
      assert.equal(server.to('r', 'news', news), 23);
      for (const peer of [...members, small, plain]) await peer.waitFor(3);
    });
    assert.equal(calls, 2, 'one compression for the 20 default windows, one for the 10-bit window');
    const frames = members.map((p) => p.frames[2]);
    for (const f of frames) {
      assert.equal(f.rsv, 4, 'compressed');
      assert.ok(f.payload.equals(frames[0].payload), 'the same bytes for every recipient');
    }
    assert.deepEqual(decodePacket(messageOf(frames[0])).data, news);
    assert.equal(small.frames[2].rsv, 4);
    assert.deepEqual(decodePacket(messageOf(small.frames[2])).data, news);
    assert.equal(plain.frames[2].rsv, 0, 'no extension, no compression');
    assert.deepEqual(decodePacket(plain.frames[2].payload).data, news);
    assert.deepEqual(await tcpGot, news);
    tcp.disconnect();
    for (const p of [...members, small, plain]) p.socket.destroy();
  });

  it('with contexts kept, each recipient gets its own compression (on the thread pool), in order', async () => {
    const server = await start({ perMessageDeflate: { serverNoContextTakeover: false } });
    const members = [];
    for (let i = 0; i < 5; i++) members.push(await member(server, 'k', 'permessage-deflate'));
    assert.equal(members[0].res.headers['sec-websocket-extensions'], 'permessage-deflate; client_no_context_takeover');
    const calls = await countCompressions(async () => {
      for (let n = 0; n < 3; n++) server.to('k', 'news', { ...news, n });
      server.to('k', 'tiny', 1); // below the threshold: plain, but after the three
      for (const peer of members) await peer.waitFor(6);
    });
    assert.equal(calls, 0, 'nothing compressed on the event loop');
    // Each peer inflates its own stream with one context, as a client keeping it would.
    for (const peer of members) {
      const inflater = zlib.createInflateRaw();
      const out = [];
      for (const f of peer.frames.slice(2)) {
        if (!(f.rsv & 4)) {
          out.push(decodePacket(f.payload));
          continue;
        }
        const chunks = [];
        const onData = (c) => chunks.push(c);
        inflater.on('data', onData);
        inflater.write(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]));
        await new Promise((resolve) => inflater.flush(zlib.constants.Z_SYNC_FLUSH, resolve));
        inflater.off('data', onData);
        out.push(decodePacket(Buffer.concat(chunks)));
      }
      inflater.close();
      assert.deepEqual(
        out.map((p) => [p.event, p.data?.n ?? p.data]),
        [
          ['news', 0],
          ['news', 1],
          ['news', 2],
          ['tiny', 1],
        ],
      );
      peer.socket.destroy();
    }
  });

  it('replies are compressed from the threshold up; a StelarClient reads both', async () => {
    const server = await start({ perMessageDeflate: { threshold: 100 } });
    server.onAck('size', (ctx) => ({ size: ctx.data.length, echo: ctx.data }));
    const client = new StelarClient(`ws://127.0.0.1:${server.getPort()}`, { logger: false, reconnection: false });
    await client.connect();
    for (const text of ['short', 'long '.repeat(1000)]) assert.deepEqual(await client.request('size', text), { size: text.length, echo: text });
    client.disconnect();
    const peer = await member(server, 'x');
    peer.socket.write(cf(BINARY, encodePacket({ type: PacketType.ACK_REQUEST, event: 'size', ackId: 1, data: 'a' })));
    peer.socket.write(cf(BINARY, encodePacket({ type: PacketType.ACK_REQUEST, event: 'size', ackId: 2, data: 'b'.repeat(500) })));
    await peer.waitFor(4);
    assert.deepEqual(
      peer.frames.slice(2).map((f) => [f.rsv, decodePacket(messageOf(f)).ackId]),
      [
        [0, 1],
        [4, 2],
      ],
    );
    peer.socket.destroy();
  });
});
