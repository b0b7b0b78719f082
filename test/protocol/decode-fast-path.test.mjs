// decodePacket's ASCII fast paths (short text from the indices, long ASCII through Buffer's
// latin1 slicer) must decode exactly what the strict UTF-8 path does, and never let invalid
// UTF-8 through, for Buffers and for plain Uint8Arrays (the browser case).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePacket, encodePacket, ErrorCode, PacketType } from '../../dist/protocol/index.js';

const packets = [
  { type: PacketType.JSON, event: 'chat', data: { text: 'hi' } },
  { type: PacketType.JSON, event: 'x'.repeat(31), data: 'y'.repeat(32) },
  { type: PacketType.JSON, event: 'x'.repeat(33), data: { long: 'z'.repeat(500) } },
  { type: PacketType.JSON, event: 'ünï', data: { s: 'é'.repeat(40), t: '日本' } },
  { type: PacketType.ACK_REQUEST, event: 'e', ackId: 9, ackName: 'echo-handler', data: [1, 2, 3] },
  { type: PacketType.ACK_RESPONSE, event: 'ack-ü', ackId: 4, ok: true, data: 'a'.repeat(100) + 'é' },
];

test('ASCII and non-ASCII packets round-trip from Buffers and plain Uint8Arrays', () => {
  for (const p of packets) {
    const bytes = encodePacket(p);
    for (const input of [Buffer.from(bytes), new Uint8Array(bytes)]) {
      const out = decodePacket(input);
      assert.equal(out.event, p.event);
      assert.deepEqual(out.data, p.data);
      if (p.ackName) assert.equal(out.ackName, p.ackName);
    }
  }
});

test('invalid UTF-8 is refused in short and long text, Buffer or not', () => {
  const good = Buffer.from(encodePacket({ type: PacketType.JSON, event: 'ev', data: 'q'.repeat(100) }));
  const badBody = Buffer.from(good);
  badBody[badBody.length - 5] = 0xff; // inside the long JSON body
  const badEvent = Buffer.from(good);
  badEvent[3] = 0xc3; // a lead byte followed by ASCII in the short event name
  for (const bad of [badBody, badEvent]) {
    for (const input of [bad, new Uint8Array(bad)]) {
      assert.throws(
        () => decodePacket(input),
        (e) => e.code === ErrorCode.PACKET_INVALID_UTF8,
      );
    }
  }
});
