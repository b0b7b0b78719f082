// The server's one-allocation encoder must give exactly the bytes of encodePacket (+ the
// WebSocket frame header / TCP prefix) for every packet it handles, and refuse the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFramed } from '../../dist/wire/index.js';
import { encodePacket, PacketType } from '../../dist/protocol/index.js';
import { buildFrame, Opcode } from '../../dist/websocket/index.js';

const big = 'é'.repeat(40_000); // 80,000 UTF-8 bytes: the 64-bit WebSocket length form
const cases = [
  { type: PacketType.JSON, event: 'chat', data: { text: 'hi', n: 1 } },
  { type: PacketType.JSON, event: '', data: undefined },
  { type: PacketType.JSON, event: 'fn', data: () => 1 },
  { type: PacketType.JSON, event: 'ünïcødé 🎉', data: { s: '日本語', lone: '\ud800' } },
  { type: PacketType.JSON, event: 'mid', data: 'x'.repeat(200) },
  { type: PacketType.JSON, event: 'big', data: big },
  { type: PacketType.ACK_RESPONSE, event: 'echo', ackId: 7, ok: true, data: { v: 1 } },
  { type: PacketType.ACK_RESPONSE, event: 'echo', ackId: 0xffffffff, ok: false, data: { message: 'no', code: 'X' } },
  { type: PacketType.ACK_RESPONSE, event: 'e', ackId: 3 },
  { type: PacketType.ERROR, event: 'RATE_LIMITED', data: { message: 'slow down' } },
  { type: PacketType.CONNECT, event: '', data: { v: 1, id: 'abc' } },
  { type: PacketType.DISCONNECT, event: '', data: { code: 1000, reason: '' } },
  { type: PacketType.JSON, event: 'null', data: null },
];

test('byte-identical to encodePacket for TCP (prefix 4) and WebSocket (buildFrame)', () => {
  for (const p of cases) {
    assert.deepEqual(encodeFramed(p, true), Buffer.from(encodePacket(p, 4)), `tcp ${p.event}`);
    assert.deepEqual(encodeFramed(p, false), buildFrame(Opcode.BINARY, encodePacket(p)), `ws ${p.event}`);
  }
});

test('types outside the fast path return null; invalid ack ids and long event names throw like encodePacket', () => {
  assert.equal(encodeFramed({ type: PacketType.BINARY, event: 'b', data: Buffer.from([1]) }, true), null);
  assert.equal(encodeFramed({ type: PacketType.ACK_REQUEST, event: 'a', ackId: 1 }, false), null);
  assert.equal(encodeFramed({ type: PacketType.JOIN_ROOM, event: 'r' }, false), null);
  assert.equal(encodeFramed({ type: PacketType.PONG, event: '' }, false), null);
  assert.throws(() => encodeFramed({ type: PacketType.ACK_RESPONSE, event: 'e', ackId: 2 ** 32 }, true), RangeError);
  assert.throws(() => encodeFramed({ type: PacketType.ACK_RESPONSE, event: 'e', ackId: -1 }, false), RangeError);
  assert.throws(() => encodeFramed({ type: PacketType.JSON, event: 'x'.repeat(70_000) }, false), RangeError);
});

test('a WireMessage owns its bytes: a kept broadcast (recovery history) never pins a shared encoding slab', async () => {
  const { WireMessage } = await import('../../dist/wire/index.js');
  // Small encodings are views into a shared slab; the message must not keep such a view.
  const pooled = encodePacket({ type: PacketType.JSON, event: 'news', data: { n: 1 } }, 4);
  assert.ok(pooled.buffer.byteLength > pooled.byteLength, 'encodePacket pools small outputs (the premise of this test)');
  const msg = WireMessage.fromPacket({ type: PacketType.JSON, event: 'news', data: { n: 1 } });
  const frame = msg.tcpFrame();
  assert.equal(frame.buffer.byteLength, frame.byteLength, 'the frame is its own allocation');
  assert.deepEqual([...frame.subarray(4)], [...pooled.subarray(4)]);
});
