// Issue 12, items 1 and 2: no work before trust, and limits that count before the work.
// - A Connect carrying a huge or deeply nested `auth` is refused before any JSON is parsed.
// - A peer's JSON is bounded in depth wherever it chooses it (Connect, events, requests).
// - Messages are rate-limited by count and by bytes before their bodies are decoded; invalid
//   packets are counted, and past a cap the session is closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ErrorCode } from '../../dist/index.js';
import { decodePacket, jsonNestsDeeper } from '../../dist/protocol/index.js';
import { frame, Op, PacketType, rawTcp, rawWs, session, startServer, until } from './helpers.mjs';

/** A JSON text `depth` arrays deep: `[[[ ... ]]]`. */
const nested = (depth) => '['.repeat(depth) + ']'.repeat(depth);

/** Packet bytes with a raw JSON body (encodePacket would stringify it again). */
function rawJsonPacket(type, event, json, ackId) {
  const ev = Buffer.from(event);
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(ev.length, 1);
  const ack = type === PacketType.ACK_REQUEST ? Buffer.from([ackId >>> 24, (ackId >> 16) & 255, (ackId >> 8) & 255, ackId & 255, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([head, ev, ack, Buffer.from(json)]);
}

test('jsonNestsDeeper: finds the depth in one pass, skips strings and escapes, never scans short texts', () => {
  const bytes = (s) => Buffer.from(s);
  assert.equal(jsonNestsDeeper(bytes(nested(5)), 0, 5), false);
  assert.equal(jsonNestsDeeper(bytes(nested(6)), 0, 5), true);
  assert.equal(jsonNestsDeeper(bytes(`["${'['.repeat(50)}"]`), 0, 5), false, 'brackets inside a string do not count');
  assert.equal(jsonNestsDeeper(bytes(`["\\"${'['.repeat(50)}"]`), 0, 5), false, 'an escaped quote does not end the string');
  assert.equal(jsonNestsDeeper(bytes('{"a":{"b":{"c":[1,[2,[3]]]}}}'), 0, 5), true);
  assert.equal(jsonNestsDeeper(bytes('{"a":{"b":{"c":[1,[2,[3]]]}}}'), 0, 6), false);
  assert.throws(() => decodePacket(rawJsonPacket(PacketType.JSON, 'e', nested(200))), { code: ErrorCode.PACKET_INVALID_JSON });
  assert.deepEqual(decodePacket(rawJsonPacket(PacketType.JSON, 'e', nested(100))).data.length, 1);
  assert.throws(() => decodePacket(rawJsonPacket(PacketType.JSON, 'e', nested(10)), 5), { code: ErrorCode.PACKET_INVALID_JSON });
});

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: a 4 MiB Connect nested a million levels deep is refused (1009) from its frame header, and the event loop stays free`, async () => {
    const server = await startServer({ maxFrameSize: 8 * 1024 * 1024 });
    let middlewareRan = false;
    server.use((_ctx, next) => {
      middlewareRan = true;
      next();
    });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    try {
      const auth = nested(2 * 1024 * 1024);
      delay.enable();
      const hostile = protocol === 'tcp' ? await rawTcp(server.getTcpPort()) : await rawWs(server.getPort());
      const body = Buffer.from(`{"v":1,"auth":${auth}}`);
      const head = Buffer.from([PacketType.CONNECT, 0, 0]);
      const packet = Buffer.concat([head, body]);
      hostile.write(protocol === 'tcp' ? tcp(packet) : wsFrame(packet));
      // A framing-level refusal: the close (WebSocket close frame or TCP Disconnect) names the limit.
      assert.equal(await hostile.closeCode(), 1009);
      const reason = protocol === 'tcp' ? hostile.disconnect.reason : hostile.closeFrame.reason;
      assert.match(reason, protocol === 'tcp' ? /frame limit of 65540 bytes/ : /65536 bytes/);
      delay.disable();
      assert.equal(middlewareRan, false, 'middleware never saw it');
      // Refused by its length: no stall anywhere near a JSON.parse of it (which takes seconds).
      assert.ok(delay.max < 1e9, `event loop blocked ${Math.round(delay.max / 1e6)} ms`);
      await hostile.destroy();
    } finally {
      await server.stop();
    }
  });

  test(`${protocol}: before acceptance a frame header announcing more than maxHandshakePayloadSize closes at once (1009), nothing buffered`, async () => {
    const server = await startServer({ maxHandshakePayloadSize: 1024 });
    try {
      const hostile = protocol === 'tcp' ? await rawTcp(server.getTcpPort()) : await rawWs(server.getPort());
      // Only the header of a 1 MiB frame and a few bytes of it: the rest never comes.
      const announced = 1024 * 1024;
      if (protocol === 'tcp') {
        const prefix = Buffer.alloc(7);
        prefix.writeUInt32BE(announced, 0);
        prefix[4] = PacketType.CONNECT;
        hostile.write(prefix);
      } else {
        hostile.write(frame({ opcode: Op.BINARY, payload: Buffer.alloc(16), length: announced }));
      }
      assert.equal(await hostile.closeCode(2000), 1009, 'refused from the header, not after a stall');
      await hostile.destroy();

      // The limit is lifted on acceptance: an accepted client may send a packet far above it.
      const peer = await session(server, protocol);
      const got = new Promise((resolve) => server.on('big', (ctx) => resolve(ctx.data.length)));
      peer.send({ type: PacketType.JSON, event: 'big', data: 'x'.repeat(200_000) });
      assert.equal(await got, 200_000);
      await peer.destroy();
    } finally {
      await server.stop();
    }
  });

  test(`${protocol}: deep JSON in an event or request is refused as invalid JSON before parsing; a request still settles`, async () => {
    const server = await startServer({ maxJsonDepth: 32 });
    const seen = [];
    server.on('deep', (ctx) => seen.push(ctx.data));
    server.onAck('deep', () => 'never');
    try {
      const peer = await session(server, protocol);
      peer.write(protocol === 'tcp' ? tcp(rawJsonPacket(PacketType.JSON, 'deep', nested(33))) : wsFrame(rawJsonPacket(PacketType.JSON, 'deep', nested(33))));
      const err = await peer.next(PacketType.ERROR);
      assert.equal(err.event, ErrorCode.PACKET_INVALID_JSON);
      peer.write(
        protocol === 'tcp'
          ? tcp(rawJsonPacket(PacketType.ACK_REQUEST, 'deep', nested(40), 9))
          : wsFrame(rawJsonPacket(PacketType.ACK_REQUEST, 'deep', nested(40), 9)),
      );
      const answer = await peer.packet((p) => p.type === PacketType.ACK_RESPONSE && p.ackId === 9, 'the refused request settles');
      assert.equal(answer.ok, false);
      assert.equal(answer.data.code, ErrorCode.PACKET_INVALID_JSON);
      peer.send({ type: PacketType.JSON, event: 'deep', data: JSON.parse(nested(32)) });
      await until(() => seen.length === 1, 'the allowed depth still arrives');
      await peer.destroy();
    } finally {
      await server.stop();
    }
  });

  test(`${protocol}: invalid packets are counted and, past maxInvalidPackets, close the session with 1008`, async () => {
    const invalid = [];
    const server = await startServer({ maxInvalidPackets: 5, hooks: { onInvalidMessage: (i) => invalid.push(i.code) } });
    try {
      const peer = await session(server, protocol);
      const before = server.getStats().totalMessagesReceived;
      for (let i = 0; i < 20; i++) peer.send({ type: PacketType.JSON, event: '' });
      assert.equal(await peer.closeCode(), 1008);
      const errors = peer.packets.filter((p) => p.type === PacketType.ERROR);
      assert.equal(errors.length, 6, 'five answered, the sixth closes');
      assert.ok(server.getStats().totalMessagesReceived - before >= 6, 'refused packets are counted as received');
      assert.ok(invalid.length >= 6);
      await peer.destroy();
    } finally {
      await server.stop();
    }
  });

  test(`${protocol}: the byte budget refuses large packets before their bodies are decoded`, async () => {
    const limited = [];
    const server = await startServer({
      maxPayloadSize: 1024 * 1024,
      byteRateLimit: { maxBytes: 2 * 1024 * 1024, windowMs: 60_000 },
      rateLimit: false,
      hooks: { onRateLimitExceeded: (i) => (limited.push(i.scope), false) },
    });
    let handled = 0;
    server.on('big', () => handled++);
    try {
      const peer = await session(server, protocol);
      const big = 'x'.repeat(900 * 1024);
      for (let i = 0; i < 4; i++) peer.send({ type: PacketType.JSON, event: 'big', data: big });
      await peer.packet((p) => p.type === PacketType.ERROR && p.event === ErrorCode.RATE_LIMITED, 'a rate-limit refusal');
      await until(() => handled + limited.length === 4, 'every packet judged');
      assert.equal(handled, 2, 'two fit in the 2 MiB budget');
      assert.deepEqual(limited, ['bytes', 'bytes']);
      await peer.destroy();
    } finally {
      await server.stop();
    }
  });
}

test('the rate limit is checked before the body is decoded: a limited packet with invalid JSON is refused as rate-limited', async () => {
  const server = await startServer({ rateLimit: { maxPoints: 1, windowMs: 60_000 }, hooks: { onRateLimitExceeded: () => false } });
  try {
    const peer = await session(server, 'tcp');
    peer.send({ type: PacketType.JSON, event: 'e', data: 1 });
    peer.write(tcp(rawJsonPacket(PacketType.JSON, 'e', '{not json')));
    const err = await peer.next(PacketType.ERROR);
    assert.equal(err.event, ErrorCode.RATE_LIMITED);
    await peer.destroy();
  } finally {
    await server.stop();
  }
});

function tcp(packet) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(packet.length + 4);
  return Buffer.concat([len, packet]);
}

function wsFrame(packet) {
  return frame({ opcode: Op.BINARY, payload: packet });
}
