// Hostile servers against our own client code: a raw `net` server that speaks just enough
// WebSocket or TCP framing to misbehave (masked server frames, ACK responses nobody asked
// for, prototype-named events). The client must refuse with the exact close code or ignore,
// and never crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { StelarClient } from '../../dist/client/index.js';
import { connectWebSocket } from '../../dist/websocket/index.js';
import { decodePacket, encodePacket, ErrorCode, PacketType } from '../../dist/protocol/index.js';
import { closeBody, frame, guard, HOST, Op, until } from './helpers.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * A raw WebSocket server: answers the upgrade by hand, then calls `onOpen(peer)` where
 * `peer.frames` collects the client's frames (opcode, payload) and `peer.socket` is raw.
 */
async function rawWsServer(onOpen) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    let head = '';
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)[1];
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      const peer = { socket, frames: [], waiters: new Set() };
      let buf = Buffer.alloc(0);
      socket.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        for (;;) {
          if (buf.length < 6) break;
          let len = buf[1] & 0x7f;
          let off = 2;
          if (len === 126) {
            len = buf.readUInt16BE(2);
            off = 4;
          } else if (len === 127) {
            len = Number(buf.readBigUInt64BE(2));
            off = 10;
          }
          if (buf.length < off + 4 + len) break;
          const mask = buf.subarray(off, off + 4);
          const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len));
          for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
          peer.frames.push({ opcode: buf[0] & 0x0f, payload });
          buf = buf.subarray(off + 4 + len);
        }
        for (const w of [...peer.waiters]) w();
      });
      peer.waitFrame = (pred, what) =>
        guard(
          new Promise((resolve) => {
            const check = () => {
              const f = peer.frames.find(pred);
              if (f) {
                peer.waiters.delete(check);
                resolve(f);
              }
            };
            peer.waiters.add(check);
            check();
          }),
          what,
        );
      onOpen(peer);
    };
    socket.on('data', onData);
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return {
    port: server.address().port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A raw TCP-protocol server: `onPacket(peer, packet)` for each client packet; `peer.send(packet)`. */
async function rawTcpServer(onPacket) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    const peer = { socket, send: (p) => socket.write(encodePacket(p, 4)), writeRaw: (b) => socket.write(b) };
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        const packet = decodePacket(buf.subarray(4, len));
        buf = buf.subarray(len);
        onPacket(peer, packet);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return {
    port: server.address().port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const serverHello = {
  type: PacketType.CONNECT,
  event: '',
  data: { v: 1, id: 'raw-1', heartbeatInterval: 30000, heartbeatTimeout: 60000, maxPayloadSize: 1 << 20 },
};

test('connectWebSocket: a masked frame from the server -> the client closes with 1002 and reports WS_UNEXPECTED_MASK', async () => {
  let peer;
  const server = await rawWsServer((p) => {
    peer = p;
    p.socket.write(frame({ opcode: Op.BINARY, payload: Buffer.from('masked!'), mask: true }));
  });
  try {
    const ws = await connectWebSocket(`ws://${HOST}:${server.port}/`);
    const errors = [];
    const messages = [];
    ws.on('error', (err) => errors.push(err));
    ws.on('message', (m) => messages.push(m));
    const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
    const close = await until(() => peer?.frames.find((f) => f.opcode === Op.CLOSE), 'the client close frame');
    assert.equal(close.payload.readUInt16BE(0), 1002);
    // The client failed the connection: it reads nothing more (not even an echoed close frame),
    // so locally the close is 1006 (RFC 6455 7.1.5); the error event carries the 1002.
    peer.socket.end(frame({ opcode: Op.CLOSE, payload: closeBody(1002), mask: false }));
    assert.equal(await guard(closed, 'client close'), 1006);
    assert.deepEqual(
      errors.map((e) => [e.code, e.closeCode]),
      [[ErrorCode.WS_UNEXPECTED_MASK, 1002]],
    );
    assert.deepEqual(messages, [], 'the masked frame was not delivered');
  } finally {
    await server.close();
  }
});

test('StelarClient over ws: a masked server frame -> close 1002, no session, no reconnect (regression: retried as 1006), the error reported', async () => {
  const peers = [];
  const server = await rawWsServer((p) => {
    peers.push(p);
    // Answer the client's Connect with a correct packet in an illegally masked frame.
    p.waitFrame((f) => f.opcode === Op.BINARY, 'client Connect').then(() => {
      p.socket.write(frame({ opcode: Op.BINARY, payload: encodePacket(serverHello), mask: true }));
    });
  });
  const errors = [];
  const client = new StelarClient(`ws://${HOST}:${server.port}`, { logger: false, reconnectionDelay: 50, hooks: { onError: (i) => errors.push(i.error) } });
  client.on('error', () => {});
  try {
    client.connect();
    const p = await until(() => peers[0], 'connection');
    const close = await p.waitFrame((f) => f.opcode === Op.CLOSE, 'the client close frame');
    assert.equal(close.payload.readUInt16BE(0), 1002);
    p.socket.end(frame({ opcode: Op.CLOSE, payload: closeBody(1002), mask: false }));
    await until(() => client.getState() === 'disconnected', 'disconnected');
    assert.equal(client.getId(), null, 'never got a session');
    assert.ok(
      errors.some((e) => e.code === ErrorCode.WS_UNEXPECTED_MASK),
      `errors: ${errors.map((e) => e.code)}`,
    );
    // 1002 means "do not reconnect": no second connection arrives.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(peers.length, 1);
  } finally {
    client.disconnect();
    await server.close();
  }
});

test('StelarClient over tcp: ACK responses with unknown, reused, 0 and 2^32-1 ids are ignored; the request settles once', async () => {
  const requests = [];
  const server = await rawTcpServer((peer, p) => {
    if (p.type === PacketType.CONNECT) return peer.send(serverHello);
    if (p.type !== PacketType.ACK_REQUEST) return;
    requests.push(p);
    const answer = (ackId, data, ok = true) => peer.send({ type: PacketType.ACK_RESPONSE, event: p.ackName ?? p.event, ackId, ok, data });
    answer(p.ackId + 1000, 'unknown');
    answer(0xffffffff, 'max');
    answer(0, 'unsolicited');
    answer(p.ackId, `answer ${p.ackId}`);
    answer(p.ackId, 'reused');
    answer(p.ackId, 'reused, failing', false);
  });
  const errors = [];
  const client = new StelarClient(`${HOST}:${server.port}`, {
    mode: 'tcp',
    logger: false,
    reconnection: false,
    hooks: { onError: (i) => errors.push(i.error) },
  });
  client.on('error', () => {});
  try {
    await new Promise((resolve) => client.connect(resolve));
    assert.equal(await client.request('q', 1), `answer ${requests[0].ackId}`);
    assert.equal(await client.request('q', 2), `answer ${requests[1].ackId}`);
    assert.notEqual(requests[0].ackId, requests[1].ackId);
    assert.equal(client.isConnected(), true);
    assert.deepEqual(errors, []);
  } finally {
    client.disconnect();
    await server.close();
  }
});

test('StelarClient: prototype-named server events reach onAll and only registered handlers; nothing polluted', async () => {
  const names = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'];
  const server = await rawTcpServer((peer, p) => {
    if (p.type !== PacketType.CONNECT) return;
    peer.send(serverHello);
    for (const event of names) peer.send({ type: PacketType.JSON, event, data: { from: event } });
    // A JSON body with __proto__ as an own key.
    const ev = Buffer.from('payload');
    const json = Buffer.from('{"__proto__":{"polluted":"yes"}}');
    const body = Buffer.concat([Buffer.from([PacketType.JSON, 0, ev.length]), ev, json]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length + 4);
    peer.writeRaw(Buffer.concat([len, body]));
    peer.send({ type: PacketType.JSON, event: 'done', data: null });
  });
  const all = [];
  let proto;
  let payload;
  const client = new StelarClient(`${HOST}:${server.port}`, { mode: 'tcp', logger: false, reconnection: false });
  client.on('error', () => {});
  client.onAll((event) => all.push(event));
  client.on('__proto__', (data) => (proto = data));
  client.on('payload', (data) => (payload = data));
  try {
    client.connect();
    await until(() => all.includes('done'), 'done');
    assert.deepEqual(all, [...names, 'payload', 'done']);
    assert.deepEqual(proto, { from: '__proto__' });
    assert.equal(client.listenerCount('constructor'), 0);
    assert.ok(Object.hasOwn(payload, '__proto__'));
    assert.equal({}.polluted, undefined);
    assert.equal(client.isConnected(), true);
  } finally {
    client.disconnect();
    await server.close();
  }
});
