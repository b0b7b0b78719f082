import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpFrameParser, MIN_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE } from '../../dist/tcp/index.js';
import { encodePacket, decodePacket, PacketType, StelarError, ErrorCode } from '../../dist/protocol/index.js';

function collector(opts = {}) {
  const frames = [];
  const errors = [];
  const parser = new TcpFrameParser({
    maxFrameSize: opts.maxFrameSize,
    onFrame: (p) => frames.push(Buffer.from(p)),
    onError: (e) => errors.push(e),
  });
  return { parser, frames, errors };
}

function prefix(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

const samples = [
  { type: PacketType.JSON, event: 'chat', data: { text: 'héllo', n: [1, 2, 3] } },
  { type: PacketType.BINARY, event: 'blob', data: Buffer.from([0, 1, 2, 250, 255]) },
  { type: PacketType.PING, event: '', data: Buffer.alloc(0) },
  { type: PacketType.ACK_REQUEST, event: 'sum', ackId: 7, ackName: 'add', data: [1, 2] },
  { type: PacketType.JOIN_ROOM, event: 'lobby' },
  { type: PacketType.DISCONNECT, event: '', data: { code: 1000, reason: 'bye' } },
];
const frames = samples.map((p) => Buffer.from(encodePacket(p, 4)));
const stream = Buffer.concat(frames);
const expected = frames.map((f) => f.subarray(4));

test('constants: minimum frame is 7 bytes, default max is 10 MiB', () => {
  assert.equal(MIN_FRAME_SIZE, 7);
  assert.equal(DEFAULT_MAX_FRAME_SIZE, 10 * 1024 * 1024);
  assert.equal(new TcpFrameParser({ onFrame() {}, onError() {} }).maxFrameSize, DEFAULT_MAX_FRAME_SIZE);
});

test('whole stream in one chunk yields every packet without the prefix', () => {
  const { parser, frames: got, errors } = collector();
  parser.push(stream);
  assert.deepEqual(errors, []);
  assert.deepEqual(got, expected);
  assert.equal(parser.bufferedBytes, 0);
  assert.deepEqual(decodePacket(got[0]), samples[0]);
});

test('fed byte by byte', () => {
  const { parser, frames: got, errors } = collector();
  for (let i = 0; i < stream.length; i++) {
    parser.push(stream.subarray(i, i + 1));
    assert.ok(parser.bufferedBytes <= parser.maxFrameSize);
  }
  assert.deepEqual(errors, []);
  assert.deepEqual(got, expected);
  assert.equal(parser.bufferedBytes, 0);
});

test('split in two at every offset, and in three at many offset pairs', () => {
  for (let i = 0; i <= stream.length; i++) {
    const { parser, frames: got, errors } = collector();
    parser.push(stream.subarray(0, i));
    parser.push(stream.subarray(i));
    assert.deepEqual(errors, [], `split at ${i}`);
    assert.deepEqual(got, expected, `split at ${i}`);
  }
  for (let i = 0; i <= stream.length; i += 3) {
    for (let j = i; j <= stream.length; j += 5) {
      const { parser, frames: got } = collector();
      parser.push(stream.subarray(0, i));
      parser.push(stream.subarray(i, j));
      parser.push(stream.subarray(j));
      assert.deepEqual(got, expected, `split at ${i},${j}`);
    }
  }
});

test('bufferedBytes counts the partial frame held', () => {
  const { parser, frames: got } = collector();
  parser.push(frames[0].subarray(0, 2));
  assert.equal(parser.bufferedBytes, 2);
  parser.push(frames[0].subarray(2, 10));
  assert.equal(parser.bufferedBytes, 10 - 4); // the prefix is consumed once the length is known
  parser.push(frames[0].subarray(10));
  assert.equal(parser.bufferedBytes, 0);
  assert.equal(got.length, 1);
});

test('a frame inside one chunk is a zero-copy slice of it', () => {
  const seen = [];
  const parser = new TcpFrameParser({ onFrame: (p) => seen.push(p), onError: assert.fail });
  parser.push(stream);
  assert.equal(seen.length, frames.length);
  for (const p of seen) assert.equal(p.buffer, stream.buffer);
  assert.equal(seen[1].byteOffset, stream.byteOffset + frames[0].length + 4);
});

test('accepts Uint8Array chunks and hands Buffers up', () => {
  const seen = [];
  const parser = new TcpFrameParser({ onFrame: (p) => seen.push(p), onError: assert.fail });
  parser.push(new Uint8Array(frames[0]));
  assert.ok(Buffer.isBuffer(seen[0]));
  assert.deepEqual(Buffer.from(seen[0]), expected[0]);
});

test('the smallest frame (7 bytes, empty event) is valid', () => {
  const { parser, frames: got, errors } = collector();
  parser.push(Buffer.from([0, 0, 0, 7, PacketType.PONG, 0, 0]));
  assert.deepEqual(errors, []);
  assert.deepEqual(got, [Buffer.from([3, 0, 0])]);
});

for (const len of [0, 1, 6]) {
  test(`length ${len} -> TCP_FRAME_TOO_SHORT (1002), message names length and minimum`, () => {
    const { parser, frames: got, errors } = collector();
    parser.push(prefix(len));
    assert.equal(errors.length, 1);
    const [err] = errors;
    assert.ok(err instanceof StelarError);
    assert.equal(err.code, ErrorCode.TCP_FRAME_TOO_SHORT);
    assert.equal(err.code, 'STELAR_ERR_TCP_FRAME_TOO_SHORT');
    assert.equal(err.closeCode, 1002);
    assert.match(err.message, new RegExp(`length ${len}\\b`));
    assert.match(err.message, /minimum of 7\b/);
    assert.equal(got.length, 0);
  });
}

for (const [name, len] of [
  ['maxFrameSize+1', 1025],
  ['0xFFFFFFFF', 0xffffffff],
]) {
  test(`length ${name} -> TCP_FRAME_TOO_LARGE (1009) before any body byte is buffered`, () => {
    const { parser, errors } = collector({ maxFrameSize: 1024 });
    parser.push(prefix(len)); // only the 4 length bytes: the error must come now
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, ErrorCode.TCP_FRAME_TOO_LARGE);
    assert.equal(errors[0].closeCode, 1009);
    assert.match(errors[0].message, new RegExp(`${len}`));
    assert.match(errors[0].message, /1024/);
    assert.equal(parser.bufferedBytes, 0);
    assert.equal(parser.failed, true);
  });
}

test('length exactly maxFrameSize is accepted', () => {
  const { parser, frames: got, errors } = collector({ maxFrameSize: 64 });
  const frame = Buffer.from(encodePacket({ type: PacketType.BINARY, event: 'x', data: Buffer.alloc(64 - 8, 9) }, 4));
  assert.equal(frame.length, 64);
  parser.push(frame);
  assert.deepEqual(errors, []);
  assert.equal(got.length, 1);
});

test('the length split over chunks is checked as soon as its 4th byte arrives', () => {
  const { parser, errors } = collector({ maxFrameSize: 100 });
  const bad = prefix(101);
  parser.push(bad.subarray(0, 1));
  parser.push(bad.subarray(1, 3));
  assert.equal(errors.length, 0);
  parser.push(bad.subarray(3, 4));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, ErrorCode.TCP_FRAME_TOO_LARGE);
});

test('garbage after a valid frame: the frame is delivered, then one error, then nothing', () => {
  const { parser, frames: got, errors } = collector({ maxFrameSize: 4096 });
  parser.push(Buffer.concat([frames[0], Buffer.from('GET / HTTP/1.1\r\n\r\n')]));
  assert.deepEqual(got, [expected[0]]);
  assert.equal(errors.length, 1);
  // "GET " read as a u32 is far above 4096
  assert.equal(errors[0].code, ErrorCode.TCP_FRAME_TOO_LARGE);
  parser.push(stream); // ignored after the error
  parser.push(prefix(0));
  assert.equal(got.length, 1);
  assert.equal(errors.length, 1);
  assert.equal(parser.bufferedBytes, 0);
});

test('frames before an error in the same chunk are delivered in order', () => {
  const { parser, frames: got, errors } = collector();
  parser.push(Buffer.concat([frames[0], frames[1], prefix(3), frames[2]]));
  assert.deepEqual(got, [expected[0], expected[1]]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, ErrorCode.TCP_FRAME_TOO_SHORT);
});

test('a push from inside onFrame is queued, order is kept', () => {
  const got = [];
  let reentered = false;
  const parser = new TcpFrameParser({
    onFrame: (p) => {
      got.push(Buffer.from(p));
      if (!reentered) {
        reentered = true;
        parser.push(frames[2]);
      }
    },
    onError: assert.fail,
  });
  parser.push(Buffer.concat([frames[0], frames[1]]));
  assert.deepEqual(got, [expected[0], expected[1], expected[2]]);
});

test('a throwing onFrame leaves the parser usable', () => {
  let n = 0;
  const parser = new TcpFrameParser({
    onFrame: () => {
      n++;
      if (n === 1) throw new Error('handler bug');
    },
    onError: assert.fail,
  });
  assert.throws(() => parser.push(Buffer.concat([frames[0], frames[1]])), /handler bug/);
  parser.push(frames[2]);
  assert.equal(n, 3);
  assert.equal(parser.bufferedBytes, 0);
});

test('invalid maxFrameSize options are refused', () => {
  for (const bad of [0, 6, 1.5, -1, 2 ** 32, NaN]) {
    assert.throws(() => new TcpFrameParser({ maxFrameSize: bad, onFrame() {}, onError() {} }), RangeError);
  }
});
