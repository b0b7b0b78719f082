// Hostile bytes on the binary TCP transport: broken lengths, broken packets, garbage after a
// good frame. Framing errors close at once (no Error packet: the stream cannot be trusted);
// packet errors get an Error packet first; errors with close code 0 leave the session open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../dist/index.js';
import { assertServes, clientsDrop, encodePacket, PacketType, probe, session, startServer, until } from './helpers.mjs';

const MAX_FRAME = 64 * 1024;

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A frame around raw packet bytes (the length is the real one unless `length` lies). */
function tcpFrame(packet, length) {
  return Buffer.concat([u32(length ?? packet.length + 4), packet]);
}

/** A packet header with `eventLen` declared, followed by `rest`. */
function rawPacket(type, eventLen, rest = Buffer.alloc(0)) {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(eventLen, 1);
  return Buffer.concat([head, rest]);
}

test('hostile TCP frames and packets: exact outcome each, server still serving', async (t) => {
  const invalid = [];
  const seen = [];
  const server = probe(await startServer({ maxFrameSize: MAX_FRAME, hooks: { onInvalidMessage: (i) => invalid.push(i) } }));
  server.onAll((ctx) => seen.push(ctx.eventName));
  try {
    /** Framing error: no Error packet, Disconnect `code`, the server ends the connection. */
    const framing = (name, bytes, code, error) =>
      t.test(name, async () => {
        const tcp = await session(server, 'tcp');
        tcp.write(bytes);
        assert.equal(await tcp.closeCode(), code);
        await tcp.whenClosed();
        assert.equal(tcp.packets.filter((p) => p.type === PacketType.ERROR).length, 0, 'no Error packet for a framing error');
        const report = await until(() => invalid.find((i) => i.clientId === tcp.id), 'onInvalidMessage');
        assert.equal(report.code, error);
        await clientsDrop(server, 0);
        await assertServes(server);
      });
    /** Packet error: Error packet `error`, then Disconnect `code` (or the session stays when code is 0). */
    const packetError = (name, bytes, error, code) =>
      t.test(name, async () => {
        const tcp = await session(server, 'tcp');
        tcp.write(bytes);
        const err = await tcp.next(PacketType.ERROR);
        assert.equal(err.event, error);
        if (code) {
          assert.equal(await tcp.closeCode(), code);
          await tcp.whenClosed();
        } else {
          // Still open: the same connection gets an answer.
          tcp.send({ type: PacketType.ACK_REQUEST, event: 'hardening:probe', ackId: 5, data: 'after' });
          const res = await tcp.packet((p) => p.type === PacketType.ACK_RESPONSE && p.ackId === 5, 'answer after the error');
          assert.equal(res.data, 'after');
          await tcp.destroy();
        }
        await clientsDrop(server, 0);
        await assertServes(server);
      });

    await framing('total length 0 -> 1002', u32(0), 1002, ErrorCode.TCP_FRAME_TOO_SHORT);
    await framing('total length 3 (smaller than the prefix) -> 1002', u32(3), 1002, ErrorCode.TCP_FRAME_TOO_SHORT);
    await framing('total length 6 (smaller than prefix + header) -> 1002', Buffer.concat([u32(6), Buffer.from([0, 0])]), 1002, ErrorCode.TCP_FRAME_TOO_SHORT);
    await framing('total length maxFrameSize + 1 -> 1009 before any body', u32(MAX_FRAME + 1), 1009, ErrorCode.TCP_FRAME_TOO_LARGE);
    await framing('total length 2^32 - 1 -> 1009 before any body', u32(0xffffffff), 1009, ErrorCode.TCP_FRAME_TOO_LARGE);
    await framing(
      'garbage after a valid frame ("GET / HTTP/1.1") -> the frame is handled, then 1009',
      Buffer.concat([encodePacket({ type: PacketType.JSON, event: 'before-garbage', data: 1 }, 4), Buffer.from('GET / HTTP/1.1\r\n\r\n')]),
      1009,
      ErrorCode.TCP_FRAME_TOO_LARGE,
    );
    assert.ok(seen.includes('before-garbage'), 'the valid frame before the garbage was handled');
    await framing(
      'a valid frame then a 2-byte length -> handled, then 1002',
      Buffer.concat([encodePacket({ type: PacketType.JSON, event: 'before-short', data: 1 }, 4), u32(2)]),
      1002,
      ErrorCode.TCP_FRAME_TOO_SHORT,
    );
    assert.ok(seen.includes('before-short'));

    await packetError(
      'event-name length past the end of the frame -> Error TRUNCATED, 1002',
      tcpFrame(rawPacket(PacketType.JSON, 100, Buffer.from('abc'))),
      ErrorCode.PACKET_TRUNCATED,
      1002,
    );
    await packetError(
      'event-name length 65535 in a 7-byte frame -> Error TRUNCATED, 1002',
      tcpFrame(rawPacket(PacketType.JSON, 0xffff)),
      ErrorCode.PACKET_TRUNCATED,
      1002,
    );
    await packetError(
      'ACK request shorter than its fixed fields -> Error TRUNCATED, 1002',
      tcpFrame(rawPacket(PacketType.ACK_REQUEST, 1, Buffer.from('e\x00\x00'))),
      ErrorCode.PACKET_TRUNCATED,
      1002,
    );
    await packetError(
      'ACK name length past the end -> Error TRUNCATED, 1002',
      tcpFrame(rawPacket(PacketType.ACK_REQUEST, 1, Buffer.from([0x65, 0, 0, 0, 1, 0x01, 0x00]))),
      ErrorCode.PACKET_TRUNCATED,
      1002,
    );
    for (const type of [11, 12, 127, 128, 255]) {
      await packetError(`unknown packet type ${type} -> Error UNKNOWN_TYPE, 1002`, tcpFrame(rawPacket(type, 0)), ErrorCode.PACKET_UNKNOWN_TYPE, 1002);
    }
    await packetError(
      'event name that is not UTF-8 -> Error INVALID_UTF8, 1007',
      tcpFrame(rawPacket(PacketType.JSON, 2, Buffer.from([0xc0, 0xaf]))),
      ErrorCode.PACKET_INVALID_UTF8,
      1007,
    );
    await packetError(
      'JSON body that does not parse -> Error INVALID_JSON, session stays',
      tcpFrame(rawPacket(PacketType.JSON, 1, Buffer.from('x{"a":'))),
      ErrorCode.PACKET_INVALID_JSON,
      0,
    );
    await packetError(
      'JSON body that is not UTF-8 -> Error INVALID_UTF8, 1007',
      tcpFrame(rawPacket(PacketType.JSON, 1, Buffer.from([0x78, 0x22, 0xff, 0x22]))),
      ErrorCode.PACKET_INVALID_UTF8,
      1007,
    );

    await t.test('a JSON packet before Connect -> Error UNEXPECTED, 1002', async () => {
      const { rawTcp } = await import('./helpers.mjs');
      const tcp = await rawTcp(server.getTcpPort());
      tcp.send({ type: PacketType.JSON, event: 'early', data: 1 });
      assert.equal((await tcp.next(PacketType.ERROR)).event, ErrorCode.PACKET_UNEXPECTED);
      assert.equal(await tcp.closeCode(), 1002);
      await tcp.whenClosed();
      assert.equal(seen.includes('early'), false);
    });
    await t.test('a second Connect on an accepted session is ignored; the session keeps its id', async () => {
      const tcp = await session(server, 'tcp');
      tcp.send({ type: PacketType.CONNECT, event: '', data: { v: 1 } });
      tcp.send({ type: PacketType.ACK_REQUEST, event: 'hardening:probe', ackId: 2, data: 'x' });
      await tcp.packet((p) => p.type === PacketType.ACK_RESPONSE && p.ackId === 2, 'answer');
      assert.equal(tcp.packets.filter((p) => p.type === PacketType.CONNECT).length, 1);
      assert.equal(server.getClients()[0].id, tcp.id);
      await tcp.destroy();
    });
    await t.test('a Disconnect with a garbage body -> the server ends the session, reported as 1005', async () => {
      const codes = [];
      const onDisconnect = (ctx, info) => codes.push([ctx.id, info.code]);
      server.onDisconnect(onDisconnect);
      const tcp = await session(server, 'tcp');
      tcp.write(tcpFrame(rawPacket(PacketType.DISCONNECT, 0, Buffer.from('{{{'))));
      // Frames after a Disconnect are ignored.
      tcp.send({ type: PacketType.JSON, event: 'after-disconnect', data: 1 });
      await tcp.whenClosed();
      const mine = await until(() => codes.find(([id]) => id === tcp.id), 'onDisconnect');
      assert.equal(mine[1], 1005);
      assert.equal(seen.includes('after-disconnect'), false);
    });
    await t.test('a valid packet fed one byte per write is handled', async () => {
      const tcp = await session(server, 'tcp');
      const bytes = encodePacket({ type: PacketType.ACK_REQUEST, event: 'hardening:probe', ackId: 77, data: { s: 'é😀' } }, 4);
      for (let i = 0; i < bytes.length; i++) tcp.write(bytes.subarray(i, i + 1));
      const res = await tcp.packet((p) => p.type === PacketType.ACK_RESPONSE && p.ackId === 77, 'answer');
      assert.deepEqual(res.data, { s: 'é😀' });
      await tcp.destroy();
    });
    await clientsDrop(server, 0);
    await assertServes(server);
  } finally {
    await server.stop();
  }
});
