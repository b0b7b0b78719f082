import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodePacket,
  decodePacket,
  peekPacketType,
  PacketType,
  PROTOCOL_VERSION,
  MAX_ACK_ID,
  MAX_EVENT_NAME_BYTES,
  PACKET_HEADER_SIZE,
  TCP_PREFIX_SIZE,
  StelarError,
  ErrorCode,
} from '../../dist/protocol/index.js';

const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const bytesOf = (p, prefix = 0) => Buffer.from(encodePacket(p, prefix));

/** encode -> decode, from both a Buffer and a plain Uint8Array. */
function roundTrip(packet) {
  const encoded = encodePacket(packet);
  assert.ok(encoded instanceof Uint8Array);
  const fromUint8 = decodePacket(encoded);
  const fromBuffer = decodePacket(Buffer.from(encoded));
  return { encoded, fromUint8, fromBuffer };
}

function expectError(bytes, code, closeCode, messageRe) {
  assert.throws(
    () => decodePacket(bytes instanceof Uint8Array ? bytes : hex(bytes)),
    (err) => {
      assert.ok(err instanceof StelarError, `expected StelarError, got ${err}`);
      assert.equal(err.code, code);
      assert.equal(err.closeCode, closeCode);
      if (messageRe) assert.match(err.message, messageRe);
      return true;
    },
  );
}

test('constants', () => {
  assert.equal(PROTOCOL_VERSION, 1);
  assert.equal(PACKET_HEADER_SIZE, 3);
  assert.equal(TCP_PREFIX_SIZE, 4);
  assert.equal(MAX_ACK_ID, 2 ** 32 - 1);
  assert.equal(MAX_EVENT_NAME_BYTES, 65535);
  assert.deepEqual(Object.values(PacketType), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('JSON-bodied types round-trip (JSON, Connect, Disconnect, Error)', () => {
  const cases = [
    { type: PacketType.JSON, event: 'chat', data: { text: 'hi', list: [1, 2.5, -3, true, null, 'x'], nested: { a: { b: [] } } } },
    { type: PacketType.JSON, event: 'n', data: 0 },
    { type: PacketType.JSON, event: 's', data: '' },
    { type: PacketType.JSON, event: 'f', data: false },
    { type: PacketType.CONNECT, event: '', data: { v: 1, auth: { token: 'abc' } } },
    { type: PacketType.CONNECT, event: '', data: { v: 1, id: 'c1', heartbeatInterval: 30000, heartbeatTimeout: 60000, maxPayloadSize: 10485760 } },
    { type: PacketType.DISCONNECT, event: '', data: { code: 4009, reason: 'kicked' } },
    { type: PacketType.ERROR, event: ErrorCode.ROOM_LIMIT, data: { message: 'too many rooms', room: 'lobby' } },
  ];
  for (const p of cases) {
    const { fromUint8, fromBuffer } = roundTrip(p);
    assert.deepEqual(fromUint8, p);
    assert.deepEqual(fromBuffer, p);
  }
});

test('undefined data and null data are different on the wire and after decoding', () => {
  const none = bytesOf({ type: PacketType.JSON, event: 'e' });
  const nul = bytesOf({ type: PacketType.JSON, event: 'e', data: null });
  assert.deepEqual(none, hex('00 0001 65'));
  assert.deepEqual(nul, hex('00 0001 65 6e756c6c'));
  const a = decodePacket(none);
  assert.equal(a.data, undefined);
  assert.ok(!('data' in a) || a.data === undefined);
  assert.equal(decodePacket(nul).data, null);
  // values JSON.stringify cannot express are sent as "no data", never as the text "undefined"
  assert.deepEqual(bytesOf({ type: PacketType.JSON, event: 'e', data: () => 1 }), none);
  assert.deepEqual(bytesOf({ type: PacketType.JSON, event: 'e', data: Symbol('x') }), none);
});

test('Binary, Ping and Pong round-trip raw bytes, including empty and all 256 byte values', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  for (const type of [PacketType.BINARY, PacketType.PING, PacketType.PONG]) {
    for (const data of [all, Buffer.alloc(0), new Uint8Array([0, 255])]) {
      const event = type === PacketType.BINARY ? 'file' : '';
      const { fromUint8, fromBuffer } = roundTrip({ type, event, data });
      for (const d of [fromUint8, fromBuffer]) {
        assert.equal(d.type, type);
        assert.equal(d.event, event);
        assert.ok(d.data instanceof Uint8Array);
        assert.deepEqual(Buffer.from(d.data), Buffer.from(data));
      }
      assert.ok(Buffer.isBuffer(fromBuffer.data), 'a Buffer in gives a Buffer out');
    }
  }
  // missing binary data is an empty body
  assert.deepEqual(bytesOf({ type: PacketType.PING, event: '' }), hex('02 0000'));
});

test('binary data accepts ArrayBuffer and any ArrayBufferView, and rejects other values', () => {
  const ab = new Uint8Array([9, 8, 7]).buffer;
  assert.deepEqual(Buffer.from(decodePacket(encodePacket({ type: 1, event: 'b', data: ab })).data), Buffer.from([9, 8, 7]));
  const backing = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const view = new DataView(backing.buffer, 2, 3);
  assert.deepEqual(Buffer.from(decodePacket(encodePacket({ type: 1, event: 'b', data: view })).data), Buffer.from([3, 4, 5]));
  const i16 = new Int16Array([1]);
  assert.equal(decodePacket(encodePacket({ type: 1, event: 'b', data: i16 })).data.length, 2);
  assert.throws(() => encodePacket({ type: 1, event: 'b', data: 'text' }), TypeError);
  assert.throws(() => encodePacket({ type: 1, event: 'b', data: [1, 2] }), TypeError);
});

test('binary payloads decode as zero-copy views into the input', () => {
  const frame = Buffer.from(encodePacket({ type: PacketType.BINARY, event: 'img', data: Buffer.from([1, 2, 3]) }, 4));
  const packetBytes = frame.subarray(4);
  const decoded = decodePacket(packetBytes);
  assert.equal(decoded.data.buffer, frame.buffer);
  assert.equal(decoded.data.byteOffset, packetBytes.byteOffset + 3 + 3);
  // writing through the view shows in the input: no copy was made
  decoded.data[0] = 0xee;
  assert.equal(frame[4 + 3 + 3], 0xee);
});

test('Join Room and Leave Room carry the room as event and no body; extra body bytes are ignored', () => {
  for (const type of [PacketType.JOIN_ROOM, PacketType.LEAVE_ROOM]) {
    const p = { type, event: 'room:42' };
    assert.deepEqual(roundTrip(p).fromBuffer, p);
    assert.equal(bytesOf({ ...p, data: { ignored: true } }).length, 3 + 7, 'data is not encoded');
    assert.deepEqual(decodePacket(Buffer.concat([bytesOf(p), hex('ffff')])), p);
  }
});

test('ACK Request with the ack name equal to the event sends length 0 and decodes it back', () => {
  const p = { type: PacketType.ACK_REQUEST, event: 'getUser', ackId: 1, ackName: 'getUser', data: { id: 7 } };
  const bytes = bytesOf(p);
  assert.deepEqual(bytes, hex('04 0007 67657455736572 00000001 0000 7b226964223a377d'));
  assert.deepEqual(decodePacket(bytes), p);
  // ackName left out: same bytes, and the decoder fills it in
  assert.deepEqual(bytesOf({ type: PacketType.ACK_REQUEST, event: 'getUser', ackId: 1, data: { id: 7 } }), bytes);
});

test('ACK Request with a distinct ack name', () => {
  const p = { type: PacketType.ACK_REQUEST, event: 'calc', ackId: 2, ackName: 'sum', data: [1, 2] };
  assert.deepEqual(bytesOf(p), hex('04 0004 63616c63 00000002 0003 73756d 5b312c325d'));
  assert.deepEqual(decodePacket(bytesOf(p)), p);
  const unicode = { type: PacketType.ACK_REQUEST, event: 'e', ackId: 3, ackName: 'ß→名前', data: null };
  assert.deepEqual(roundTrip(unicode).fromBuffer, unicode);
  const noData = { type: PacketType.ACK_REQUEST, event: 'e', ackId: 3, ackName: 'h' };
  assert.deepEqual(roundTrip(noData).fromBuffer, { ...noData, data: undefined });
});

test('ACK Response ok and error', () => {
  const ok = { type: PacketType.ACK_RESPONSE, event: 'getUser', ackId: 1, ok: true, data: { name: 'Ada' } };
  assert.deepEqual(bytesOf(ok), hex('05 0007 67657455736572 00000001 00 7b226e616d65223a22416461227d'));
  assert.deepEqual(decodePacket(bytesOf(ok)), ok);
  const err = { type: PacketType.ACK_RESPONSE, event: 'sum', ackId: 2, ok: false, data: { message: 'no', code: 'E' } };
  const errBytes = bytesOf(err);
  assert.equal(errBytes[3 + 3 + 4], 1, 'status byte 1 = error');
  assert.deepEqual(decodePacket(errBytes), err);
  // ok left out means success
  assert.equal(bytesOf({ type: PacketType.ACK_RESPONSE, event: 'x', ackId: 5 })[3 + 1 + 4], 0);
  // a reserved status value is treated as an error
  const odd = Buffer.from(errBytes);
  odd[3 + 3 + 4] = 2;
  assert.equal(decodePacket(odd).ok, false);
});

test('ackId 0 (unsolicited) and 2^32-1 round-trip; out-of-range ids are refused, not wrapped', () => {
  for (const type of [PacketType.ACK_REQUEST, PacketType.ACK_RESPONSE]) {
    for (const ackId of [0, 1, 0x7fffffff, 0x80000000, MAX_ACK_ID]) {
      const d = decodePacket(encodePacket({ type, event: 'a', ackId, data: 1 }));
      assert.equal(d.ackId, ackId);
    }
    for (const bad of [-1, MAX_ACK_ID + 1, 1.5, NaN]) {
      assert.throws(() => encodePacket({ type, event: 'a', ackId: bad }), RangeError, `ackId ${bad}`);
    }
  }
  assert.deepEqual(bytesOf({ type: PacketType.ACK_RESPONSE, event: 'a', ackId: MAX_ACK_ID }).subarray(4, 8), hex('ffffffff'));
});

test('unicode event names, empty event, BOM-leading and maximum-length names', () => {
  for (const event of ['', 'ä', '日本語のイベント', '🚀 launch', 'e\u0301', '\uFEFFbom', 'a\u0000b', '\u{10FFFF}']) {
    const p = { type: PacketType.JSON, event, data: event };
    const { encoded, fromBuffer } = roundTrip(p);
    assert.deepEqual(fromBuffer, p, JSON.stringify(event));
    assert.equal(new DataView(encoded.buffer, encoded.byteOffset).getUint16(1), Buffer.byteLength(event));
  }
  const max = 'x'.repeat(MAX_EVENT_NAME_BYTES);
  assert.equal(decodePacket(encodePacket({ type: PacketType.JOIN_ROOM, event: max })).event, max);
  assert.throws(() => encodePacket({ type: PacketType.JSON, event: max + 'x' }), RangeError);
  // the limit is in bytes, not characters
  assert.throws(() => encodePacket({ type: PacketType.JSON, event: 'é'.repeat(40000) }), RangeError);
  assert.throws(() => encodePacket({ type: PacketType.ACK_REQUEST, event: 'e', ackId: 1, ackName: max + 'x' }), RangeError);
});

test('unknown types are refused by the encoder', () => {
  assert.throws(() => encodePacket({ type: 11, event: '' }), RangeError);
  assert.throws(() => encodePacket({ type: -1, event: '' }), RangeError);
});

test('the TCP prefix is the total frame length and is written in the same allocation', () => {
  const p = { type: PacketType.JSON, event: 'chat', data: { text: 'hi' } };
  const plain = bytesOf(p);
  const framed = encodePacket(p, 4);
  assert.equal(framed.length, plain.length + 4);
  assert.equal(new DataView(framed.buffer, framed.byteOffset).getUint32(0), framed.length);
  assert.deepEqual(Buffer.from(framed.subarray(4)), plain);
  assert.deepEqual(Buffer.from(encodePacket({ type: PacketType.PONG, event: '' }, 4)), hex('00000007 03 0000'));
  // Too big for the shared slab: a buffer of its own, exactly the frame (no second buffer, no copy).
  const big = encodePacket({ type: PacketType.BINARY, event: 'file', data: new Uint8Array(5000).fill(7) }, 4);
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, big.length, 'no second buffer');
  assert.equal(new DataView(big.buffer).getUint32(0), big.length);
});

test("small outputs share a slab but never each other's bytes", () => {
  const outs = [];
  for (let i = 0; i < 2000; i++) outs.push(encodePacket({ type: PacketType.JSON, event: 'e', data: { i } }, i % 2 ? 4 : 0));
  const byBuffer = new Map();
  for (const out of outs) {
    const list = byBuffer.get(out.buffer) ?? [];
    list.push([out.byteOffset, out.byteOffset + out.byteLength]);
    byBuffer.set(out.buffer, list);
  }
  assert.ok(byBuffer.size < outs.length, 'small outputs are pooled');
  for (const ranges of byBuffer.values()) {
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i][0] >= ranges[i - 1][1], 'overlapping outputs');
  }
  // Writing into one (the client masks its frames in place) leaves the others as they were.
  outs[0].fill(0xff);
  for (let i = 1; i < outs.length; i++) assert.deepEqual(decodePacket(outs[i].subarray(i % 2 ? 4 : 0)).data, { i });
});

test('room: bytes left zeroed in front of the prefix and the packet', () => {
  const p = { type: PacketType.ACK_REQUEST, event: 'chat', ackName: 'save', ackId: 9, data: { text: 'hé' } };
  for (const prefix of [0, 4]) {
    for (const room of [0, 1, 6, 14]) {
      const out = encodePacket(p, prefix, room);
      assert.deepEqual([...out.subarray(0, room)], new Array(room).fill(0));
      assert.deepEqual(Buffer.from(out.subarray(room)), Buffer.from(encodePacket(p, prefix)), `prefix ${prefix} room ${room}`);
    }
  }
  // The TCP prefix counts the frame (prefix + packet), not the room in front of it.
  const framed = encodePacket(p, 4, 10);
  assert.equal(new DataView(framed.buffer, framed.byteOffset).getUint32(10), framed.length - 10);
});

test('decode error: truncated header (0, 1, 2 bytes)', () => {
  for (const bytes of ['', '00', '0000']) {
    expectError(bytes, ErrorCode.PACKET_TRUNCATED, 1002, /header/);
  }
});

test('decode error: event length past the end', () => {
  expectError('00 0005 616263', ErrorCode.PACKET_TRUNCATED, 1002, /5 bytes/);
  expectError('08 ffff', ErrorCode.PACKET_TRUNCATED, 1002);
  expectError('00 0001', ErrorCode.PACKET_TRUNCATED, 1002);
});

test('decode error: unknown type 11 and 255', () => {
  expectError('0b 0000', ErrorCode.PACKET_UNKNOWN_TYPE, 1002, /11/);
  expectError('ff 0000', ErrorCode.PACKET_UNKNOWN_TYPE, 1002, /255/);
});

test('decode error: invalid UTF-8 in the event name closes with 1007', () => {
  for (const bad of ['ff', 'c0af', 'ed a0 80', 'e282', 'f4908080']) {
    const len = bad.replace(/\s/g, '').length / 2;
    expectError(`00 ${len.toString(16).padStart(4, '0')} ${bad}`, ErrorCode.PACKET_INVALID_UTF8, 1007, /event name/);
  }
  // in the ack name too
  expectError('04 0001 61 00000001 0001 ff', ErrorCode.PACKET_INVALID_UTF8, 1007, /ACK name/);
  // and in a JSON body
  expectError('00 0001 61 22ff22', ErrorCode.PACKET_INVALID_UTF8, 1007);
});

test('decode error: invalid JSON keeps the connection open (close code 0)', () => {
  for (const body of ['7b', '7b2261227d', '756e646566696e6564', '4e614e', 'efbbbf31']) {
    expectError(`00 0001 61 ${body}`, ErrorCode.PACKET_INVALID_JSON, 0);
  }
  expectError('06 0000 7b', ErrorCode.PACKET_INVALID_JSON, 0);
  expectError('05 0001 61 00000001 00 7b', ErrorCode.PACKET_INVALID_JSON, 0);
  expectError('04 0001 61 00000001 0000 5b', ErrorCode.PACKET_INVALID_JSON, 0);
});

test('decode error: ACK headers truncated', () => {
  const req = hex('04 0001 61 00000001 0000');
  for (let cut = 4; cut < req.length; cut++) {
    expectError(req.subarray(0, cut), ErrorCode.PACKET_TRUNCATED, 1002, /ACK request header/);
  }
  assert.equal(decodePacket(req).ackId, 1);
  expectError('04 0001 61 00000001 0003 6263', ErrorCode.PACKET_TRUNCATED, 1002, /ACK name/);
  const res = hex('05 0001 61 00000001 00');
  for (let cut = 4; cut < res.length; cut++) {
    expectError(res.subarray(0, cut), ErrorCode.PACKET_TRUNCATED, 1002, /ACK response header/);
  }
  assert.equal(decodePacket(res).ok, true);
});

test('deeply nested JSON is either parsed or refused with a StelarError', () => {
  const deep = '['.repeat(200000) + ']'.repeat(200000);
  const bytes = Buffer.concat([hex('00 0001 61'), Buffer.from(deep)]);
  try {
    decodePacket(bytes);
  } catch (err) {
    assert.ok(err instanceof StelarError);
    assert.equal(err.code, ErrorCode.PACKET_INVALID_JSON);
  }
});

test('__proto__ and constructor as event names and JSON keys do not pollute Object.prototype', () => {
  for (const event of ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString']) {
    const p = { type: PacketType.JSON, event, data: 1 };
    assert.deepEqual(decodePacket(encodePacket(p)), p);
    const ack = decodePacket(encodePacket({ type: PacketType.ACK_REQUEST, event: 'e', ackId: 1, ackName: event }));
    assert.equal(ack.ackName, event);
  }
  const body = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"a":{"__proto__":{"x":3}}}';
  const decoded = decodePacket(Buffer.concat([hex('00 0001 61'), Buffer.from(body)]));
  assert.equal({}.polluted, undefined);
  assert.equal(Object.prototype.polluted, undefined);
  assert.equal(Object.getPrototypeOf(decoded.data), Object.prototype);
  assert.equal(decoded.data.polluted, undefined);
  assert.ok(Object.hasOwn(decoded.data, '__proto__'), '__proto__ stays a plain own key');
  assert.deepEqual(Object.keys(decoded.data), ['__proto__', 'constructor', 'a']);
  assert.equal(decoded.data.a.x, undefined);
  // the decoded packet itself has only the fields it should
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  assert.deepEqual(Object.keys(decoded).sort(), ['data', 'event', 'type']);
  // and re-encoding sends the same JSON back
  assert.equal(Buffer.from(encodePacket(decoded)).subarray(4).toString(), body);
});

test('peekPacketType reads the type byte without decoding', () => {
  assert.equal(peekPacketType(hex('07 0000')), 7);
  assert.equal(peekPacketType(hex('ff')), 255);
  assert.equal(peekPacketType(new Uint8Array(0)), -1);
});
