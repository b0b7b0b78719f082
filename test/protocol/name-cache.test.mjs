/**
 * The decoder keeps recently seen event/ACK names (src/protocol/packet.ts, decodeName): a hit
 * must give exactly the name the bytes spell, whatever was decoded before in the same slot,
 * and invalid UTF-8 must never get in nor be answered from the cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEventName, decodeHeader, decodePacket, encodePacket, ErrorCode, PacketType } from '../../dist/protocol/index.js';

const ev = (event, data) => encodePacket({ type: PacketType.JSON, event, data });

test('decodeEventName gives the event name and checks the header like decodeHeader', () => {
  assert.equal(decodeEventName(ev('chat:message', 1)), 'chat:message');
  assert.equal(decodeEventName(ev('', 1)), '');
  assert.deepEqual(decodeHeader(ev('x', 1)), { type: PacketType.JSON, event: 'x' });
  assert.throws(
    () => decodeEventName(new Uint8Array([0, 0])),
    (e) => e.code === ErrorCode.PACKET_TRUNCATED,
  );
  assert.throws(
    () => decodeEventName(new Uint8Array([0, 0, 5, 0x61])),
    (e) => e.code === ErrorCode.PACKET_TRUNCATED,
  );
  assert.throws(
    () => decodeEventName(new Uint8Array([99, 0, 0])),
    (e) => e.code === ErrorCode.PACKET_UNKNOWN_TYPE,
  );
});

test('many names of the same length and ends (colliding slots) each decode to themselves, repeatedly', () => {
  const names = [];
  for (let i = 0; i < 300; i++) names.push(`a${String(i).padStart(4, '0')}z`, `é${i}`, `${'n'.repeat(i % 32)}${i}`.slice(-32));
  for (let round = 0; round < 3; round++) {
    for (const name of names) {
      assert.equal(decodeEventName(ev(name, 1)), name);
      assert.equal(decodePacket(ev(name, 1)).event, name);
      const ack = encodePacket({ type: PacketType.ACK_REQUEST, event: 'e', ackId: 1, ackName: name, data: 1 });
      assert.equal(decodePacket(ack).ackName, name);
    }
  }
});

test('a name differing from a cached one in one middle byte is not taken for it', () => {
  assert.equal(decodeEventName(ev('abcdefgh', 1)), 'abcdefgh');
  assert.equal(decodeEventName(ev('abcXefgh', 1)), 'abcXefgh');
  assert.equal(decodeEventName(ev('abcdefgh', 1)), 'abcdefgh');
});

test('invalid UTF-8 is refused every time, also after a valid name with the same length and ends', () => {
  const valid = Uint8Array.from([0, 0, 3, 0x61, 0x62, 0x63]); // "abc"
  const invalid = Uint8Array.from([0, 0, 3, 0x61, 0xff, 0x63]);
  for (let i = 0; i < 3; i++) {
    assert.equal(decodeEventName(valid), 'abc');
    assert.throws(
      () => decodeEventName(invalid),
      (e) => e.code === ErrorCode.PACKET_INVALID_UTF8,
    );
    assert.throws(
      () => decodePacket(invalid),
      (e) => e.code === ErrorCode.PACKET_INVALID_UTF8,
    );
  }
});

test('the cache does not keep a view of the packet: rewriting the bytes later changes nothing', () => {
  const bytes = ev('mutable', 1);
  assert.equal(decodeEventName(bytes), 'mutable');
  bytes[4] = 0x41; // 'mAtable'
  assert.equal(decodeEventName(bytes), 'mAtable');
  assert.equal(decodeEventName(ev('mutable', 1)), 'mutable');
});
