import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Opcode } from '../../dist/websocket/index.js';
import { cf, closeBody, eachSplit, feed, hex, rawFrame, recorder, sf } from './helpers.mjs';

const E = (code, closeCode) => ['error', `STELAR_ERR_WS_${code}`, closeCode, 'StelarError'];

/** Asserts that `bytes` gives `expected` at every split point. */
function expectEvents(bytes, opts, expected, offsets) {
  for (const { how, events } of eachSplit(bytes, opts, offsets)) assert.deepEqual(events, expected, how);
}

describe('Receiver: valid frames', () => {
  it('parses the RFC 6455 5.7 masked "Hello" (server role)', () => {
    expectEvents(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), { isServer: true }, [['message', 'Hello', false]]);
  });

  it('parses the RFC 6455 5.7 unmasked "Hello" (client role)', () => {
    expectEvents(hex('81 05 48 65 6c 6c 6f'), { isServer: false }, [['message', 'Hello', false]]);
  });

  it('parses the RFC fragmented text example and a ping between the fragments', () => {
    const bytes = Buffer.concat([hex('01 03 48 65 6c'), sf(Opcode.PING, 'Hi'), hex('80 02 6c 6f')]);
    expectEvents(bytes, { isServer: false }, [
      ['ping', Buffer.from('Hi').toString('hex')],
      ['message', 'Hello', false],
    ]);
  });

  for (const length of [0, 1, 125, 126, 127, 65535, 65536]) {
    it(`delivers a ${length}-byte binary message in both roles`, () => {
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 7 + 3) & 0xff;
      const expected = [['message', payload.toString('hex'), true]];
      const big = length > 200;
      const offsets = big ? [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 1000, length, length + 13, length + 14] : undefined;
      const masked = cf(Opcode.BINARY, payload);
      const unmasked = sf(Opcode.BINARY, payload);
      // the length form chosen by the test writer is the one the RFC requires
      const form = masked[1] & 0x7f;
      assert.equal(form, length < 126 ? length : length <= 0xffff ? 126 : 127);
      expectEvents(
        masked,
        { isServer: true },
        expected,
        offsets?.filter((k) => k <= masked.length),
      );
      expectEvents(
        unmasked,
        { isServer: false },
        expected,
        offsets?.filter((k) => k <= unmasked.length),
      );
    });
  }

  it('accepts a small length written in the 16- and 64-bit forms', () => {
    expectEvents(cf(Opcode.TEXT, 'abc', { form: 16 }), {}, [['message', 'abc', false]]);
    expectEvents(cf(Opcode.TEXT, 'abc', { form: 64 }), {}, [['message', 'abc', false]]);
  });

  it('reassembles binary fragments, empty ones included, around ping and pong', () => {
    const bytes = Buffer.concat([
      cf(Opcode.BINARY, hex('0102'), { fin: false }),
      cf(Opcode.CONTINUATION, Buffer.alloc(0), { fin: false }),
      cf(Opcode.PONG, hex('aa')),
      cf(Opcode.CONTINUATION, hex('03'), { fin: false }),
      cf(Opcode.PING, Buffer.alloc(0)),
      cf(Opcode.CONTINUATION, hex('04')),
      cf(Opcode.TEXT, 'next'),
    ]);
    expectEvents(bytes, {}, [
      ['pong', 'aa'],
      ['ping', ''],
      ['message', '01020304', true],
      ['message', 'next', false],
    ]);
  });

  it('accepts a code point split across text fragments', () => {
    // U+20AC (e2 82 ac) and U+1F600 (f0 9f 98 80) cut in every place
    const bytes = Buffer.concat([
      cf(Opcode.TEXT, hex('61 e2'), { fin: false }),
      cf(Opcode.CONTINUATION, hex('82'), { fin: false }),
      cf(Opcode.CONTINUATION, hex('ac f0 9f'), { fin: false }),
      cf(Opcode.CONTINUATION, hex('98'), { fin: false }),
      cf(Opcode.CONTINUATION, hex('80 62')),
    ]);
    expectEvents(bytes, {}, [['message', 'a\u20ac\u{1F600}b', false]]);
  });

  it('delivers an empty text message and an empty fragmented one', () => {
    const bytes = Buffer.concat([cf(Opcode.TEXT, ''), cf(Opcode.TEXT, '', { fin: false }), cf(Opcode.CONTINUATION, '')]);
    expectEvents(bytes, {}, [
      ['message', '', false],
      ['message', '', false],
    ]);
  });

  it('reports a close frame without a body as 1005 and ignores what follows', () => {
    expectEvents(Buffer.concat([cf(Opcode.CLOSE, ''), cf(Opcode.TEXT, 'late')]), {}, [['close', 1005, '']]);
  });

  it('reports the code and reason of a close frame', () => {
    expectEvents(cf(Opcode.CLOSE, closeBody(1000, 'bye \u00e9')), {}, [['close', 1000, 'bye \u00e9']]);
  });
});

describe('Receiver: protocol errors (1002)', () => {
  for (const rsv of [1, 2, 4, 3, 7]) {
    it(`refuses RSV bits ${rsv.toString(2).padStart(3, '0')}`, () => {
      expectEvents(rawFrame({ opcode: Opcode.TEXT, rsv, payload: 'x', mask: true }), {}, [E('RSV_SET', 1002)]);
    });
  }

  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`refuses reserved opcode 0x${opcode.toString(16)}`, () => {
      expectEvents(cf(opcode, 'x'), {}, [E('INVALID_OPCODE', 1002)]);
    });
  }

  for (const opcode of [Opcode.CLOSE, Opcode.PING, Opcode.PONG]) {
    it(`refuses a fragmented control frame (opcode ${opcode})`, () => {
      expectEvents(cf(opcode, '', { fin: false }), {}, [E('CONTROL_FRAGMENTED', 1002)]);
    });
    it(`refuses a control frame longer than 125 bytes (opcode ${opcode})`, () => {
      expectEvents(cf(opcode, Buffer.alloc(126)), {}, [E('CONTROL_TOO_LONG', 1002)]);
    });
  }

  it('accepts a 125-byte ping', () => {
    expectEvents(cf(Opcode.PING, Buffer.alloc(125, 1)), {}, [['ping', '01'.repeat(125)]]);
  });

  it('refuses a continuation frame with no message open', () => {
    expectEvents(cf(Opcode.CONTINUATION, 'x'), {}, [E('UNEXPECTED_CONTINUATION', 1002)]);
    expectEvents(Buffer.concat([cf(Opcode.TEXT, 'done'), cf(Opcode.CONTINUATION, 'x')]), {}, [['message', 'done', false], E('UNEXPECTED_CONTINUATION', 1002)]);
  });

  it('refuses a new data frame while a fragmented message is open', () => {
    for (const opcode of [Opcode.TEXT, Opcode.BINARY]) {
      const bytes = Buffer.concat([cf(Opcode.TEXT, 'a', { fin: false }), cf(opcode, 'b')]);
      expectEvents(bytes, {}, [E('EXPECTED_CONTINUATION', 1002)]);
    }
  });

  it('refuses unmasked frames from a client', () => {
    expectEvents(sf(Opcode.TEXT, 'x'), { isServer: true }, [E('MASK_REQUIRED', 1002)]);
    expectEvents(sf(Opcode.PING, ''), { isServer: true }, [E('MASK_REQUIRED', 1002)]);
  });

  it('refuses masked frames from a server', () => {
    expectEvents(cf(Opcode.TEXT, 'x'), { isServer: false }, [E('UNEXPECTED_MASK', 1002)]);
  });

  it('refuses a 64-bit length with the most significant bit set', () => {
    const header = rawFrame({ opcode: Opcode.BINARY, mask: true, length: 2 ** 63, form: 64 });
    // BigInt-free check of what was written: first length byte 0x80
    assert.equal(header[2], 0x80);
    expectEvents(header, {}, [E('INVALID_LENGTH', 1002)]);
  });

  it('stops after an error: later valid frames are ignored', () => {
    const { receiver, events } = recorder();
    receiver.write(Buffer.from(sf(Opcode.TEXT, 'x')));
    receiver.write(Buffer.from(cf(Opcode.TEXT, 'ok')));
    assert.deepEqual(events, [E('MASK_REQUIRED', 1002)]);
    assert.equal(receiver.bufferedBytes, 0);
    assert.equal(receiver.stopped, true);
  });
});

describe('Receiver: size limits (1009)', () => {
  it('refuses a 64-bit length above 2^53 - 1', () => {
    const header = rawFrame({ opcode: Opcode.BINARY, mask: true, length: 2 ** 53, form: 64 });
    expectEvents(header, { maxPayload: Number.MAX_SAFE_INTEGER }, [E('MESSAGE_TOO_BIG', 1009)]);
  });

  it('refuses a frame over maxPayload as soon as its length is known, before the payload', () => {
    const { receiver, events } = recorder({ maxPayload: 100 });
    const frame = cf(Opcode.BINARY, Buffer.alloc(101));
    receiver.write(frame.subarray(0, 4)); // 2 header bytes + 16-bit length; nothing else sent yet
    assert.deepEqual(events, [E('MESSAGE_TOO_BIG', 1009)]);
    expectEvents(frame, { maxPayload: 100 }, [E('MESSAGE_TOO_BIG', 1009)]);
    expectEvents(cf(Opcode.BINARY, Buffer.alloc(100)), { maxPayload: 100 }, [['message', '00'.repeat(100), true]]);
  });

  it('refuses a 64-bit declared length of 2^32 with the default maxPayload, without buffering it', () => {
    const { receiver, events } = recorder();
    receiver.write(rawFrame({ opcode: Opcode.BINARY, mask: true, length: 2 ** 32, form: 64 }));
    assert.deepEqual(events, [E('MESSAGE_TOO_BIG', 1009)]);
  });

  it('refuses a fragmented message whose fragments add up past maxPayload', () => {
    const bytes = Buffer.concat([cf(Opcode.BINARY, Buffer.alloc(60), { fin: false }), cf(Opcode.CONTINUATION, Buffer.alloc(41))]);
    expectEvents(bytes, { maxPayload: 100 }, [E('MESSAGE_TOO_BIG', 1009)]);
    const fits = Buffer.concat([cf(Opcode.BINARY, Buffer.alloc(60), { fin: false }), cf(Opcode.CONTINUATION, Buffer.alloc(40))]);
    expectEvents(fits, { maxPayload: 100 }, [['message', '00'.repeat(100), true]]);
  });

  it('control frames do not count against an open message', () => {
    const bytes = Buffer.concat([
      cf(Opcode.BINARY, Buffer.alloc(10), { fin: false }),
      cf(Opcode.PING, Buffer.alloc(20)),
      cf(Opcode.CONTINUATION, Buffer.alloc(10)),
    ]);
    expectEvents(bytes, { maxPayload: 20 }, [
      ['ping', '00'.repeat(20)],
      ['message', '00'.repeat(20), true],
    ]);
  });

  it('refuses more fragments than maxFragments', () => {
    const frames = (n) => {
      const list = [cf(Opcode.TEXT, 'a', { fin: false })];
      for (let i = 1; i < n - 1; i++) list.push(cf(Opcode.CONTINUATION, 'b', { fin: false }));
      list.push(cf(Opcode.CONTINUATION, 'c'));
      return Buffer.concat(list);
    };
    expectEvents(frames(3), { maxFragments: 3 }, [['message', 'abc', false]]);
    expectEvents(frames(4), { maxFragments: 3 }, [E('TOO_MANY_FRAGMENTS', 1009)]);
  });

  // Issue 12: the default is no longer a 4096-frame cap but a byte budget,
  // maxPayload + max(maxPayload, 256 KiB) at payload + 64 bytes per frame.
  it('stops a flood of empty fragments at the default byte budget (frame 327,681 at 10 MiB)', () => {
    const { receiver, events } = recorder();
    receiver.write(cf(Opcode.BINARY, '', { fin: false }));
    const empty = cf(Opcode.CONTINUATION, '', { fin: false });
    const batch = Buffer.concat(Array.from({ length: 1024 }, () => empty));
    let frames = 1;
    for (let i = 0; i < 1000 && events.length === 0; i++) {
      receiver.write(Buffer.from(batch));
      frames += 1024;
    }
    assert.deepEqual(events, [E('TOO_MANY_FRAGMENTS', 1009)]);
    assert.ok(frames >= 327_681 && frames < 327_681 + 1024, `${frames} frames`);
  });
});

describe('Receiver: UTF-8 (1007)', () => {
  const invalid = {
    'lone continuation byte': '80',
    'overlong 2-byte NUL (c0 80)': 'c0 80',
    'overlong 2-byte (c1 bf)': 'c1 bf',
    'overlong 3-byte (e0 80 80)': 'e0 80 80',
    'overlong 4-byte (f0 80 80 80)': 'f0 80 80 80',
    'UTF-16 high surrogate (ed a0 80)': 'ed a0 80',
    'UTF-16 low surrogate (ed bf bf)': 'ed bf bf',
    'above U+10FFFF (f4 90 80 80)': 'f4 90 80 80',
    'invalid byte f5': 'f5 80 80 80',
    'invalid byte ff': 'ff',
    'truncated sequence at the end': '61 e2 82',
    'missing continuation': 'e2 28 a1',
  };
  for (const [name, bytes] of Object.entries(invalid)) {
    it(`refuses ${name} in one frame`, () => {
      expectEvents(cf(Opcode.TEXT, hex(bytes)), {}, [E('INVALID_UTF8', 1007)]);
    });
    it(`refuses ${name} split over fragments`, () => {
      const b = hex(bytes);
      const frames = [cf(Opcode.TEXT, b.subarray(0, 1), { fin: false })];
      for (let i = 1; i < b.length; i++) frames.push(cf(Opcode.CONTINUATION, b.subarray(i, i + 1), { fin: false }));
      frames.push(cf(Opcode.CONTINUATION, ''));
      expectEvents(Buffer.concat(frames), {}, [E('INVALID_UTF8', 1007)]);
    });
  }

  it('accepts the largest valid code points and the boundaries around surrogates', () => {
    for (const ok of ['ed 9f bf', 'ee 80 80', 'f4 8f bf bf', 'ef bf bf', 'c2 80', 'e0 a0 80', 'f0 90 80 80']) {
      expectEvents(cf(Opcode.TEXT, hex(ok)), {}, [['message', hex(ok).toString('utf8'), false]]);
    }
  });

  it('refuses bad UTF-8 in the first fragment without waiting for the rest', () => {
    const { receiver, events } = recorder();
    receiver.write(cf(Opcode.TEXT, hex('61 ff'), { fin: false }));
    assert.deepEqual(events, [E('INVALID_UTF8', 1007)]);
  });

  it('does not check binary messages', () => {
    expectEvents(cf(Opcode.BINARY, hex('ff c0 80')), {}, [['message', 'ffc080', true]]);
  });

  // Autobahn 6.4.3/6.4.4 (test/websocket/autobahn-cases.test.mjs): a text frame still arriving
  // is refused at the read that makes it invalid, not when its last byte comes in.
  it('refuses invalid text inside a frame that has not fully arrived (single frame and continuation)', () => {
    const text = Buffer.concat([Buffer.from('κόσμε'), hex('f4 90 80 80'), Buffer.from('edited')]);
    const bad = Buffer.from('κόσμε').length + 1; // the 0x90
    for (const [role, frame, opts] of [
      ['server', rawFrame({ opcode: Opcode.TEXT, payload: text, mask: hex('a1 b2 c3 d4') }), {}],
      ['client', sf(Opcode.TEXT, text), { isServer: false }],
    ]) {
      const head = frame.length - text.length;
      const { receiver, events } = recorder(opts);
      receiver.write(Buffer.from(frame.subarray(0, head + bad)));
      assert.deepEqual(events, [], `${role}: the valid prefix (ending inside a code point) is not refused`);
      receiver.write(Buffer.from(frame.subarray(head + bad, head + bad + 1)));
      assert.deepEqual(events, [E('INVALID_UTF8', 1007)], `${role}: refused at the bad byte`);
      assert.equal(receiver.stopped, true);
    }
    // the same inside a continuation frame of an open text message
    const { receiver, events } = recorder();
    receiver.write(cf(Opcode.TEXT, 'ok', { fin: false }));
    const cont = cf(Opcode.CONTINUATION, text);
    receiver.write(Buffer.from(cont.subarray(0, cont.length - text.length + bad + 1)));
    assert.deepEqual(events, [E('INVALID_UTF8', 1007)]);
  });

  it('a valid text frame read in pieces, unmasked piecewise at every offset, is delivered whole', () => {
    const text = 'a€😀é'.repeat(9);
    const frame = rawFrame({ opcode: Opcode.TEXT, payload: Buffer.from(text), mask: hex('9c 3e 05 7b') });
    for (let size = 1; size <= 7; size++) {
      const pieces = [];
      for (let at = 0; at < frame.length; at += size) pieces.push(frame.subarray(at, at + size));
      assert.deepEqual(feed(pieces), [['message', text, false]], `pieces of ${size}`);
    }
    // and as the last fragment of a message (the validator carries over from earlier frames)
    const first = cf(Opcode.TEXT, hex('61 e2'), { fin: false });
    const last = rawFrame({ opcode: Opcode.CONTINUATION, payload: hex('82 ac 62'), mask: hex('01 02 03 04') });
    expectEvents(Buffer.concat([first, last]), {}, [['message', 'a€b', false]]);
  });
});

describe('Receiver: close frame payload', () => {
  it('refuses a 1-byte close body (1002)', () => {
    expectEvents(cf(Opcode.CLOSE, hex('03')), {}, [E('INVALID_CLOSE_PAYLOAD', 1002)]);
  });

  const invalidCodes = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  for (const code of invalidCodes) {
    it(`refuses close code ${code} (1002)`, () => {
      expectEvents(cf(Opcode.CLOSE, closeBody(code)), {}, [E('INVALID_CLOSE_CODE', 1002)]);
    });
  }

  const validCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  for (const code of validCodes) {
    it(`accepts close code ${code}`, () => {
      expectEvents(cf(Opcode.CLOSE, closeBody(code, 'r')), {}, [['close', code, 'r']]);
    });
  }

  it('refuses a close reason that is not UTF-8 (1007)', () => {
    const body = Buffer.concat([closeBody(1000), hex('ce ba e1 bd b9 cf 83 ed a0 80')]);
    expectEvents(cf(Opcode.CLOSE, body), {}, [E('INVALID_UTF8', 1007)]);
  });

  it('accepts a 123-byte reason (the maximum)', () => {
    const reason = 'r'.repeat(123);
    expectEvents(cf(Opcode.CLOSE, closeBody(1000, reason)), {}, [['close', 1000, reason]]);
  });
});

describe('Receiver: buffering', () => {
  it('keeps only the unparsed bytes and drops everything after a close', () => {
    const { receiver, events } = recorder({ isServer: false });
    const frame = sf(Opcode.BINARY, Buffer.alloc(300));
    receiver.write(frame.subarray(0, 100));
    assert.equal(receiver.bufferedBytes, 96); // the 4-byte header was consumed
    receiver.write(frame.subarray(100));
    assert.equal(receiver.bufferedBytes, 0);
    assert.equal(events.length, 1);
    receiver.write(Buffer.from(sf(Opcode.CLOSE, '')));
    receiver.write(Buffer.from(sf(Opcode.TEXT, 'after close')));
    assert.equal(receiver.bufferedBytes, 0);
    assert.deepEqual(events.at(-1), ['close', 1005, '']);
  });

  it('accepts Uint8Array chunks', () => {
    const events = feed([new Uint8Array(hex('81 05 48 65 6c 6c 6f'))], { isServer: false });
    assert.deepEqual(events, [['message', 'Hello', false]]);
  });
});
