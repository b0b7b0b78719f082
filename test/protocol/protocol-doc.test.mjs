// Keeps docs/PROTOCOL.md honest: every hex example must decode to the packet written above
// it (and encode back to the same bytes), and every error code and close code of the
// catalogue must be documented with the right close code and reconnect advice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodePacket, decodePacket, PacketType, PROTOCOL_VERSION, ErrorCode, errorCloseCode, CloseCode, reconnectAdvice } from '../../dist/protocol/index.js';
import { MIN_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE } from '../../dist/tcp/index.js';

const doc = readFileSync(fileURLToPath(new URL('../../docs/PROTOCOL.md', import.meta.url)), 'utf8');
const RAW_TYPES = new Set([PacketType.BINARY, PacketType.PING, PacketType.PONG]);

/** Parses every ```stelar-example block: a `packet {json}` or `frame {json}` line, then hex lines with comments. */
function examples() {
  const out = [];
  for (const m of doc.matchAll(/```stelar-example\n([\s\S]*?)```/g)) {
    const lines = m[1].split('\n').filter((l) => l.trim() !== '');
    const head = /^(packet|frame) (\{.*\})$/.exec(lines[0]);
    assert.ok(head, `example must start with "packet {...}" or "frame {...}": ${lines[0]}`);
    const bytes = [];
    for (const line of lines.slice(1)) {
      const tokens = line.trim().split(/\s+/);
      let n = 0;
      for (const t of tokens) {
        if (!/^[0-9a-f]{2}$/.test(t)) break;
        bytes.push(parseInt(t, 16));
        n++;
      }
      assert.ok(n > 0, `example line has no hex bytes: ${line}`);
    }
    out.push({ framed: head[1] === 'frame', packet: JSON.parse(head[2]), bytes: Buffer.from(bytes), text: m[1] });
  }
  return out;
}

/** The doc writes raw bytes as "hex:..."; turn them into bytes for the codec. */
function toCodec(p) {
  const q = { ...p };
  if (RAW_TYPES.has(p.type) && typeof p.data === 'string') {
    assert.match(p.data, /^hex:([0-9a-f]{2})*$/);
    q.data = Buffer.from(p.data.slice(4), 'hex');
  }
  return q;
}

/** And decoded packets back into the doc's notation. */
function toDoc(p) {
  const q = { ...p };
  if (q.data instanceof Uint8Array) q.data = `hex:${Buffer.from(q.data).toString('hex')}`;
  if (q.data === undefined) delete q.data;
  return q;
}

test(`the doc declares "Protocol version ${PROTOCOL_VERSION}"`, () => {
  assert.match(doc, new RegExp(`\\*\\*Protocol version ${PROTOCOL_VERSION}\\.\\*\\*`));
  assert.match(doc, new RegExp(`"v": ${PROTOCOL_VERSION}`));
});

test('every hex example decodes to the packet the doc states, and encodes back to the same bytes', () => {
  const all = examples();
  assert.ok(all.length >= 11);
  for (const ex of all) {
    const label = ex.text.split('\n')[0];
    let packetBytes = ex.bytes;
    if (ex.framed) {
      assert.equal(ex.bytes.readUInt32BE(0), ex.bytes.length, `totalLen: ${label}`);
      packetBytes = ex.bytes.subarray(4);
    }
    assert.deepEqual(toDoc(decodePacket(packetBytes)), ex.packet, `decode: ${label}`);
    assert.deepEqual(Buffer.from(encodePacket(toCodec(ex.packet), ex.framed ? 4 : 0)), ex.bytes, `encode: ${label}`);
    // the comment on the type line names the right type
    const typeLine = ex.text.split('\n').find((l) => /type = \d+/.test(l));
    const [, num, name] = /type = (\d+) \((\w+)\)/.exec(typeLine);
    assert.equal(Number(num), ex.packet.type);
    assert.equal(PacketType[name], ex.packet.type, `type name in: ${label}`);
  }
});

test('there is an example for each of the 11 packet types and a TCP frame example', () => {
  const all = examples();
  const types = new Set(all.map((e) => e.packet.type));
  for (const t of Object.values(PacketType)) assert.ok(types.has(t), `no example for type ${t}`);
  assert.ok(
    all.some((e) => e.framed),
    'no TCP frame example',
  );
  // both ACK request forms and both ACK response statuses
  const acks = all.filter((e) => e.packet.type === PacketType.ACK_REQUEST);
  assert.ok(acks.some((e) => e.packet.ackName === e.packet.event) && acks.some((e) => e.packet.ackName !== e.packet.event));
  const responses = all.filter((e) => e.packet.type === PacketType.ACK_RESPONSE);
  assert.ok(responses.some((e) => e.packet.ok) && responses.some((e) => !e.packet.ok));
});

test('the packet type table lists every type number with its name', () => {
  for (const [name, num] of Object.entries(PacketType)) {
    const words = name.toLowerCase().split('_').join(' ');
    const row = new RegExp(`^\\| ${num} \\| ${words.replace(/^json$/, 'JSON')} \\|`, 'mi');
    assert.match(doc, row, `type table row for ${num} ${name}`);
    assert.match(doc, new RegExp(`^### ${num} `, 'm'), `section for type ${num}`);
  }
});

test('every ErrorCode is documented with its close code', () => {
  for (const code of Object.values(ErrorCode)) {
    const row = new RegExp(`^\\| \`${code}\` \\| (\\d+) \\| .+ \\|$`, 'm').exec(doc);
    assert.ok(row, `${code} missing from the error code table`);
    assert.equal(Number(row[1]), errorCloseCode[code], `${code}: documented close code`);
  }
  // and the table has no code that does not exist
  const known = new Set(Object.values(ErrorCode));
  for (const m of doc.matchAll(/^\| `(STELAR_ERR_\w+)` \|/gm)) assert.ok(known.has(m[1]), `${m[1]} is documented but not defined`);
});

test('every CloseCode is documented with its name and the reconnect advice of reconnectAdvice()', () => {
  const phrase = { reconnect: 'reconnect at once', backoff: 'back off', stop: 'do not reconnect' };
  for (const [name, code] of Object.entries(CloseCode)) {
    const row = new RegExp(`^\\| ${code} \\| \`${name}\` \\| .+ \\| (.+) \\|$`, 'm').exec(doc);
    assert.ok(row, `close code ${code} ${name} missing from the close code table`);
    assert.equal(row[1], phrase[reconnectAdvice(code)], `advice for ${code}`);
  }
  assert.match(doc, /Any code not in this table: back off/);
  assert.equal(reconnectAdvice(4999), 'backoff');
});

test('framing constants in the doc match the code', () => {
  assert.equal(MIN_FRAME_SIZE, 7);
  assert.match(doc, new RegExp(`smallest possible frame is \\*\\*${MIN_FRAME_SIZE}\\*\\* bytes`));
  assert.match(doc, new RegExp(`${DEFAULT_MAX_FRAME_SIZE} bytes, prefix included`));
  assert.match(doc, /\*\*`ackId` 0 is reserved\*\*/);
});
