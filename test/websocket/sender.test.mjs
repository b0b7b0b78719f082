import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildFrame, closePayload, frameHeader, MASKED_HEADER_ROOM, maskFrameInPlace, Opcode, randomMaskKey } from '../../dist/websocket/index.js';
import { feed, hex } from './helpers.mjs';

const KEY = hex('37 fa 21 3d');

describe('buildFrame: RFC 6455 section 5.7 vectors', () => {
  it('unmasked text "Hello"', () => {
    assert.deepEqual(buildFrame(Opcode.TEXT, 'Hello'), hex('81 05 48 65 6c 6c 6f'));
    assert.deepEqual(buildFrame(Opcode.TEXT, Buffer.from('Hello')), hex('81 05 48 65 6c 6c 6f'));
  });

  it('masked text "Hello" with key 37 fa 21 3d', () => {
    assert.deepEqual(buildFrame(Opcode.TEXT, 'Hello', { maskKey: KEY }), hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });

  it('fragmented unmasked text "Hel" + "lo"', () => {
    assert.deepEqual(buildFrame(Opcode.TEXT, 'Hel', { fin: false }), hex('01 03 48 65 6c'));
    assert.deepEqual(buildFrame(Opcode.CONTINUATION, 'lo'), hex('80 02 6c 6f'));
  });

  it('unmasked ping and masked pong "Hello"', () => {
    assert.deepEqual(buildFrame(Opcode.PING, 'Hello'), hex('89 05 48 65 6c 6c 6f'));
    assert.deepEqual(buildFrame(Opcode.PONG, 'Hello', { maskKey: KEY }), hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });

  it('256-byte binary uses the 16-bit length', () => {
    const frame = buildFrame(Opcode.BINARY, Buffer.alloc(256, 9));
    assert.deepEqual(frame.subarray(0, 4), hex('82 7e 01 00'));
    assert.equal(frame.length, 260);
  });

  it('65536-byte binary uses the 64-bit length', () => {
    const frame = buildFrame(Opcode.BINARY, new Uint8Array(65536));
    assert.deepEqual(frame.subarray(0, 10), hex('82 7f 00 00 00 00 00 01 00 00'));
    assert.equal(frame.length, 65546);
  });
});

describe('buildFrame: lengths and masking', () => {
  for (const length of [0, 125, 126, 65535, 65536]) {
    it(`${length} bytes: header size, and a server-role Receiver reads back the masked frame`, () => {
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = i & 0xff;
      const plain = buildFrame(Opcode.BINARY, payload);
      const expectedHeader = length < 126 ? 2 : length <= 0xffff ? 4 : 10;
      assert.equal(plain.length, expectedHeader + length);
      assert.deepEqual(plain.subarray(expectedHeader), payload);
      assert.deepEqual(frameHeader(Opcode.BINARY, length), plain.subarray(0, expectedHeader));

      const masked = buildFrame(Opcode.BINARY, payload, { mask: true });
      assert.equal(masked.length, expectedHeader + 4 + length);
      assert.equal(masked[1] & 0x80, 0x80);
      assert.deepEqual(feed([masked], { isServer: true }), [['message', payload.toString('hex'), true]]);
      assert.deepEqual(feed([plain], { isServer: false }), [['message', payload.toString('hex'), true]]);
    });
  }

  it('does not modify the caller payload when masking', () => {
    const payload = Buffer.from('unchanged');
    buildFrame(Opcode.BINARY, payload, { mask: true });
    assert.equal(payload.toString(), 'unchanged');
  });

  it('uses a different random key for consecutive frames', () => {
    const keys = new Set();
    for (let i = 0; i < 3000; i++) keys.add(buildFrame(Opcode.TEXT, 'x', { mask: true }).subarray(2, 6).toString('hex'));
    // 3000 draws of 32 random bits: a collision is astronomically unlikely, a constant key gives 1
    assert.ok(keys.size > 2990, `only ${keys.size} distinct keys`);
    assert.equal(randomMaskKey().length, 4);
  });

  it('writes multi-byte strings by their UTF-8 length', () => {
    const frame = buildFrame(Opcode.TEXT, '\u20ac\u{1F600}');
    assert.deepEqual(frame, hex('81 07 e2 82 ac f0 9f 98 80'));
  });

  it('refuses control frames over 125 bytes or fragmented', () => {
    assert.throws(() => buildFrame(Opcode.PING, Buffer.alloc(126)), { code: 'STELAR_ERR_WS_CONTROL_TOO_LONG' });
    assert.throws(() => buildFrame(Opcode.CLOSE, '', { fin: false }), { code: 'STELAR_ERR_WS_CONTROL_FRAGMENTED' });
    assert.equal(buildFrame(Opcode.PING, Buffer.alloc(125)).length, 127);
  });
});

describe('maskFrameInPlace: a client frame in the allocation that holds its payload', () => {
  /** The payload with MASKED_HEADER_ROOM (+ extra) free bytes in front, as encodePacket(p, 0, room) lays it out. */
  const withRoom = (payload, room = MASKED_HEADER_ROOM) => {
    const bytes = new Uint8Array(room + payload.length);
    bytes.set(payload, room);
    return bytes;
  };

  for (const length of [0, 1, 125, 126, 65535, 65536]) {
    it(`${length} bytes: the header buildFrame writes, masked, read back by a server-role Receiver`, () => {
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 7) & 0xff;
      const bytes = withRoom(payload);
      const frame = maskFrameInPlace(Opcode.BINARY, bytes, MASKED_HEADER_ROOM);
      const header = length < 126 ? 6 : length <= 0xffff ? 8 : 14;
      assert.equal(frame.length, header + length);
      assert.equal(frame.buffer, bytes.buffer, 'a view of the same allocation');
      assert.equal(frame.byteOffset + frame.length, bytes.byteOffset + bytes.length);
      const key = Buffer.from(frame.subarray(header - 4, header));
      assert.deepEqual(Buffer.from(frame), buildFrame(Opcode.BINARY, payload, { maskKey: key }));
      assert.deepEqual(feed([Buffer.from(frame)], { isServer: true }), [['message', payload.toString('hex'), true]]);
    });
  }

  it('works at any offset of a shared buffer and with more room than needed', () => {
    const backing = new Uint8Array(100).fill(0xee);
    const bytes = backing.subarray(10, 60); // room 20, payload 30
    bytes.fill(0x41, 20);
    const frame = maskFrameInPlace(Opcode.BINARY, bytes, 20);
    assert.equal(frame.length, 6 + 30);
    assert.equal(frame.byteOffset, 10 + 20 - 6);
    assert.deepEqual(feed([Buffer.from(frame)], { isServer: true }), [['message', '41'.repeat(30), true]]);
    assert.deepEqual([...backing.subarray(0, 24)], new Array(24).fill(0xee), 'nothing written before the frame');
    assert.deepEqual([...backing.subarray(60)], new Array(40).fill(0xee), 'nothing written after it');
  });

  it('a fresh key per frame, too little room and control-frame rules refused', () => {
    const keys = new Set();
    for (let i = 0; i < 1000; i++) keys.add(Buffer.from(maskFrameInPlace(Opcode.BINARY, withRoom([1]), MASKED_HEADER_ROOM).subarray(2, 6)).toString('hex'));
    assert.ok(keys.size > 990, `only ${keys.size} distinct keys`);
    assert.throws(() => maskFrameInPlace(Opcode.BINARY, withRoom(new Uint8Array(200), 7), 7), RangeError);
    assert.doesNotThrow(() => maskFrameInPlace(Opcode.BINARY, withRoom(new Uint8Array(200), 8), 8));
    assert.throws(() => maskFrameInPlace(Opcode.PING, withRoom(new Uint8Array(126)), MASKED_HEADER_ROOM), { code: 'STELAR_ERR_WS_CONTROL_TOO_LONG' });
  });
});

describe('closePayload', () => {
  it('writes the code big-endian then the reason', () => {
    assert.deepEqual(closePayload(1000, 'bye'), hex('03 e8 62 79 65'));
    assert.deepEqual(closePayload(4999), hex('13 87'));
  });

  it('1005 means an empty body', () => {
    assert.equal(closePayload(1005).length, 0);
  });

  it('refuses codes that may not be sent and reasons over 123 bytes', () => {
    for (const code of [999, 1004, 1006, 1015, 2000, 5000]) {
      assert.throws(() => closePayload(code), { code: 'STELAR_ERR_WS_INVALID_CLOSE_CODE' }, String(code));
    }
    assert.throws(() => closePayload(1000, 'x'.repeat(124)), { code: 'STELAR_ERR_WS_INVALID_CLOSE_PAYLOAD' });
    assert.equal(closePayload(1000, 'x'.repeat(123)).length, 125);
  });
});
