// Hostile WebSocket frames against a running StelarServer, over raw sockets. Every case
// checks the exact close code the server sent, the error it reported (onInvalidMessage),
// that it ended the TCP connection, that nothing of the peer is left, and that a
// well-behaved client is still served afterwards.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../dist/index.js';
import { assertServes, clientsDrop, closeBody, encodePacket, frame, Op, PacketType, probe, session, startServer, until } from './helpers.mjs';

const MAX_MESSAGE = 64 * 1024;

async function hostileServer(extra = {}) {
  const invalid = [];
  const disconnects = [];
  const server = probe(
    await startServer({
      maxFrameSize: MAX_MESSAGE,
      hooks: { onInvalidMessage: (info) => invalid.push(info) },
      ...extra,
    }),
  );
  server.onDisconnect((_ctx, info) => disconnects.push(info));
  return { server, invalid, disconnects };
}

describe('WebSocket frames', { concurrency: true }, () => {
  test('protocol violations: exact close code, error, connection ended, server still serving', async (t) => {
    const { server, invalid } = await hostileServer();
    try {
      /**
       * One case: open a session, send `bytes`, expect close `code` (and `error` reported by
       * the server for this client), the TCP connection ended by the server, no client left.
       */
      const violation = (name, bytes, code, error) =>
        t.test(name, async () => {
          const ws = await session(server, 'ws');
          for (const b of [].concat(bytes)) ws.write(b);
          assert.equal(await ws.closeCode(), code);
          await ws.whenClosed();
          assert.equal(ws.ended, true, 'the server ended the TCP connection');
          if (error) {
            const seen = await until(() => invalid.find((i) => i.clientId === ws.id), 'onInvalidMessage');
            assert.equal(seen.code, error);
          }
          await clientsDrop(server, 0);
          await assertServes(server);
        });

      const len64 = (...bytes) => frame({ opcode: Op.BINARY, lengthBytes: bytes });
      await violation('64-bit length with the high bit set -> 1002', len64(0x80, 0, 0, 0, 0, 0, 0, 1), 1002, ErrorCode.WS_INVALID_LENGTH);
      await violation('64-bit length 2^63 (only the high bit) -> 1002', len64(0x80, 0, 0, 0, 0, 0, 0, 0), 1002, ErrorCode.WS_INVALID_LENGTH);
      await violation('64-bit length above 2^53 -> 1009 before any payload', len64(0x00, 0x40, 0, 0, 0, 0, 0, 0), 1009, ErrorCode.WS_MESSAGE_TOO_BIG);
      await violation(
        '64-bit length 2^40 (past maxFrameSize) -> 1009 before any payload',
        len64(0, 0, 0x01, 0, 0, 0, 0, 0),
        1009,
        ErrorCode.WS_MESSAGE_TOO_BIG,
      );
      await violation(
        'one byte past maxFrameSize -> 1009 before any payload',
        frame({ opcode: Op.BINARY, length: MAX_MESSAGE + 1 }),
        1009,
        ErrorCode.WS_MESSAGE_TOO_BIG,
      );
      await violation(
        'fragments that add up past maxFrameSize -> 1009 at the header that crosses it',
        [frame({ opcode: Op.BINARY, fin: false, payload: Buffer.alloc(MAX_MESSAGE / 2) }), frame({ opcode: Op.CONT, length: MAX_MESSAGE / 2 + 1 })],
        1009,
        ErrorCode.WS_MESSAGE_TOO_BIG,
      );
      await violation(
        'unmasked client frame -> 1002',
        frame({ opcode: Op.BINARY, payload: Buffer.from([0, 0, 1, 0x61]), mask: false }),
        1002,
        ErrorCode.WS_MASK_REQUIRED,
      );
      for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
        await violation(`reserved opcode 0x${opcode.toString(16)} -> 1002`, frame({ opcode }), 1002, ErrorCode.WS_INVALID_OPCODE);
      }
      for (const rsv of [1, 2, 4, 7]) {
        await violation(
          `RSV bits ${rsv.toString(2).padStart(3, '0')} -> 1002`,
          frame({ opcode: Op.BINARY, rsv, payload: Buffer.from([0, 0, 1, 0x61]) }),
          1002,
          ErrorCode.WS_RSV_SET,
        );
      }
      for (const opcode of [Op.PING, Op.PONG, Op.CLOSE]) {
        await violation(`fragmented control frame (opcode ${opcode}, FIN clear) -> 1002`, frame({ opcode, fin: false }), 1002, ErrorCode.WS_CONTROL_FRAGMENTED);
      }
      await violation('ping of 126 bytes -> 1002', frame({ opcode: Op.PING, payload: Buffer.alloc(126) }), 1002, ErrorCode.WS_CONTROL_TOO_LONG);
      await violation(
        'close of 126 bytes (16-bit length form) -> 1002',
        frame({ opcode: Op.CLOSE, payload: Buffer.alloc(200) }),
        1002,
        ErrorCode.WS_CONTROL_TOO_LONG,
      );
      await violation(
        'continuation without a message -> 1002',
        frame({ opcode: Op.CONT, payload: Buffer.from('x') }),
        1002,
        ErrorCode.WS_UNEXPECTED_CONTINUATION,
      );
      await violation(
        'new binary frame inside a fragmented message -> 1002',
        [frame({ opcode: Op.BINARY, fin: false, payload: Buffer.from([0]) }), frame({ opcode: Op.BINARY, payload: Buffer.from([0]) })],
        1002,
        ErrorCode.WS_EXPECTED_CONTINUATION,
      );
      await violation(
        'new text frame inside a fragmented binary message -> 1002',
        [frame({ opcode: Op.BINARY, fin: false, payload: Buffer.from([0]) }), frame({ opcode: Op.TEXT, payload: Buffer.from('a') })],
        1002,
        ErrorCode.WS_EXPECTED_CONTINUATION,
      );
      {
        // Issue 12: a byte budget, maxFrameSize + max(maxFrameSize, 256 KiB) at 64 bytes per
        // empty frame: 320 KiB / 64 = 5120 frames here (it was a 4096-frame cap).
        const flood = [frame({ opcode: Op.BINARY, fin: false })];
        for (let i = 0; i < 6000; i++) flood.push(frame({ opcode: Op.CONT, fin: false }));
        await violation('flood of 6000 empty fragments -> 1009 at fragment 5121', Buffer.concat(flood), 1009, ErrorCode.WS_TOO_MANY_FRAGMENTS);
      }
      // Text is not part of the protocol, but its UTF-8 is still checked first (RFC 6455 8.1).
      const text = (...parts) => parts.map((p, i) => frame({ opcode: i === 0 ? Op.TEXT : Op.CONT, fin: i === parts.length - 1, payload: Buffer.from(p) }));
      await violation('invalid UTF-8 text (0xff) -> 1007', text([0xff]), 1007, ErrorCode.WS_INVALID_UTF8);
      await violation('overlong encoding (C0 AF) -> 1007', text([0x41, 0xc0, 0xaf]), 1007, ErrorCode.WS_INVALID_UTF8);
      await violation('overlong 3-byte NUL (E0 80 80) -> 1007', text([0xe0, 0x80, 0x80]), 1007, ErrorCode.WS_INVALID_UTF8);
      await violation('UTF-16 surrogate (ED A0 80) -> 1007', text([0xed, 0xa0, 0x80]), 1007, ErrorCode.WS_INVALID_UTF8);
      await violation('code point above U+10FFFF (F4 90 80 80) -> 1007', text([0xf4, 0x90, 0x80, 0x80]), 1007, ErrorCode.WS_INVALID_UTF8);
      await violation('sequence split across fragments, bad continuation -> 1007', text([0x61, 0xe2, 0x82], [0x28, 0x61]), 1007, ErrorCode.WS_INVALID_UTF8);
      await violation('sequence cut off by the last fragment -> 1007', text([0x61], [0xe2, 0x82]), 1007, ErrorCode.WS_INVALID_UTF8);
      await violation(
        'invalid first fragment -> 1007 at once, without waiting for the rest',
        frame({ opcode: Op.TEXT, fin: false, payload: Buffer.from([0xc0, 0xaf]) }),
        1007,
        ErrorCode.WS_INVALID_UTF8,
      );
      await violation('valid text message -> Error packet then 1003', text('hello'), 1003, ErrorCode.PACKET_UNEXPECTED);
      for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2999, 5000, 65535]) {
        await violation(`close frame with code ${code} -> 1002`, frame({ opcode: Op.CLOSE, payload: closeBody(code) }), 1002, ErrorCode.WS_INVALID_CLOSE_CODE);
      }
      await violation(
        'close frame with a 1-byte payload -> 1002',
        frame({ opcode: Op.CLOSE, payload: Buffer.from([0x03]) }),
        1002,
        ErrorCode.WS_INVALID_CLOSE_PAYLOAD,
      );
      await violation(
        'close reason that is not UTF-8 -> 1007',
        frame({ opcode: Op.CLOSE, payload: Buffer.concat([closeBody(1000), Buffer.from([0xff, 0xfe])]) }),
        1007,
        ErrorCode.WS_INVALID_UTF8,
      );
    } finally {
      await server.stop();
    }
  });

  test('things a client may do: each is answered and the connection stays usable', async (t) => {
    const { server, disconnects } = await hostileServer();
    try {
      await t.test('valid close codes (1000, 1001, 3000, 4999) are echoed and reported', async () => {
        for (const code of [1000, 1001, 3000, 4999]) {
          const ws = await session(server, 'ws');
          ws.sendFrame({ opcode: Op.CLOSE, payload: closeBody(code, 'bye') });
          assert.equal(await ws.closeCode(), code);
          await ws.whenClosed();
          await until(() => disconnects.find((d) => d.code === code), `onDisconnect ${code}`);
        }
      });
      await t.test('an empty close frame is answered with an empty one (reported 1005)', async () => {
        const ws = await session(server, 'ws');
        ws.sendFrame({ opcode: Op.CLOSE });
        assert.equal(await ws.closeCode(), 1005);
        assert.equal(ws.frames.at(-1).payload.length, 0);
        await ws.whenClosed();
        await until(() => disconnects.find((d) => d.code === 1005), 'onDisconnect 1005');
      });
      await t.test('4096 one-byte fragments of a packet: reassembled and handled', async () => {
        const ws = await session(server, 'ws');
        const packet = encodePacket({ type: PacketType.ACK_REQUEST, event: 'hardening:probe', ackId: 9, data: { pad: 'x'.repeat(4000) } });
        const parts = [];
        for (let i = 0; i < packet.length; i++) {
          parts.push(frame({ opcode: i === 0 ? Op.BINARY : Op.CONT, fin: i === packet.length - 1, payload: packet.subarray(i, i + 1) }));
        }
        assert.ok(parts.length <= 4096, `${parts.length} fragments`);
        ws.write(Buffer.concat(parts));
        const res = await ws.packet((p) => p.type === PacketType.ACK_RESPONSE && p.ackId === 9, 'answer');
        assert.equal(res.data.pad.length, 4000);
        await ws.destroy();
      });
      await t.test('pings interleaved with fragments: each answered with a pong carrying its payload', async () => {
        const ws = await session(server, 'ws');
        const packet = encodePacket({ type: PacketType.ACK_REQUEST, event: 'hardening:probe', ackId: 3, data: 1 });
        ws.write(
          Buffer.concat([
            frame({ opcode: Op.BINARY, fin: false, payload: packet.subarray(0, 4) }),
            frame({ opcode: Op.PING, payload: Buffer.alloc(125, 7) }),
            frame({ opcode: Op.CONT, payload: packet.subarray(4) }),
          ]),
        );
        await ws.packet((p) => p.type === PacketType.ACK_RESPONSE && p.ackId === 3, 'answer');
        const pong = ws.frames.find((f) => f.opcode === Op.PONG);
        assert.deepEqual(pong.payload, Buffer.alloc(125, 7));
        await ws.destroy();
      });
      await t.test('1000 pings from a peer that reads: 1000 pongs, session intact', async () => {
        const ws = await session(server, 'ws');
        const pings = [];
        for (let i = 0; i < 1000; i++) pings.push(frame({ opcode: Op.PING, payload: Buffer.from(String(i)) }));
        ws.write(Buffer.concat(pings));
        await ws.waitUntil(() => ws.frames.filter((f) => f.opcode === Op.PONG).length === 1000, '1000 pongs');
        assert.equal(
          ws.frames
            .filter((f) => f.opcode === Op.PONG)
            .at(-1)
            .payload.toString(),
          '999',
        );
        await assertServes(server);
        await ws.destroy();
      });
      await clientsDrop(server, 0);
    } finally {
      await server.stop();
    }
  });

  test('a close handshake the peer never answers: the server destroys the socket after its close timeout', async () => {
    const { server, disconnects } = await hostileServer();
    try {
      const ws = await session(server, 'ws');
      const started = Date.now();
      assert.equal(server.disconnect(ws.id, 4009, 'kicked'), true);
      assert.equal(await ws.closeCode(), 4009);
      // The peer neither answers the close frame nor ends TCP.
      await ws.whenClosed(15_000);
      // Timers never fire early: the connection lived until the server's 5 s close timeout.
      assert.ok(Date.now() - started >= 4500, 'the server waited for the close timeout (5 s)');
      // No close frame came back, so the connection reports 1006 to the server side.
      const info = await until(() => disconnects[0], 'onDisconnect');
      assert.equal(info.code, 1006);
      await clientsDrop(server, 0);
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });
});
