#!/usr/bin/env node
/**
 * Encoding micro-benchmarks, single process, for relative numbers only.
 *
 * 1. `encodePacket` of a ~100-byte JSON event (what `client.emit` encodes), next to
 *    JSON.stringify of the same data alone (the floor: no encoder can be cheaper) and, with
 *    `--base DIR` (or ENCODE_BASE=DIR), the `encodePacket` of another build's dist/.
 *    Medians of 5 rounds.
 * 2. The server's reply path (ACK response over WebSocket) behind a FINDINGS.md proposal:
 *    encodePacket then buildFrame (a second allocation and copy) against one Node-only
 *    encoder that writes the frame header, packet header, event and JSON into a single
 *    Buffer.allocUnsafe.
 *
 * `node bench/micro/encode.mjs [--base /tmp/old-checkout/dist]`
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from '../lib/targets.mjs';

const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);
const { encodePacket, decodePacket, PacketType } = await dist('protocol/index.js');
const { buildFrame, Opcode } = await dist('websocket/index.js');

const { values: flags } = parseArgs({ options: { base: { type: 'string', default: process.env.ENCODE_BASE } } });
const base = flags.base ? await import(pathToFileURL(join(resolve(flags.base), 'protocol', 'index.js')).href) : null;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** ns per call of fn(i), median of `rounds` timed loops after a warm-up. */
function nsPerCall(fn, n = 500_000, rounds = 5) {
  let sink = 0;
  for (let i = 0; i < 100_000; i++) sink += fn(i).length;
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += fn(i).length;
    times.push(Number(process.hrtime.bigint() - t0) / n);
  }
  if (sink <= 0) throw new Error('nothing encoded');
  return median(times);
}

{
  // About 100 bytes of JSON, like a cursor or presence update (the client-send bench's event).
  const event = { type: 'cursor', text: 'cursor moved', user: 'user-0042', room: 'lobby', x: 1234, y: 567, n: 0 };
  const packet = (i) => {
    event.n = i;
    return { type: PacketType.JSON, event: 'ev', data: event };
  };
  console.log(`encodePacket, JSON event of ${encodePacket(packet(123456)).length} bytes (median of 5):`);
  const floor = nsPerCall((i) => JSON.stringify(packet(i).data));
  const rows = [['JSON.stringify alone (floor)', floor]];
  rows.push(['encodePacket (this dist)', nsPerCall((i) => encodePacket(packet(i)))]);
  rows.push(['encodePacket + TCP prefix (this dist)', nsPerCall((i) => encodePacket(packet(i), 4))]);
  if (base) {
    rows.push(['encodePacket (base)', nsPerCall((i) => base.encodePacket(packet(i)))]);
    rows.push(['encodePacket + TCP prefix (base)', nsPerCall((i) => base.encodePacket(packet(i), 4))]);
  }
  for (const [name, ns] of rows) console.log(`  ${name.padEnd(40)} ${ns.toFixed(0).padStart(5)} ns  ${(ns / floor).toFixed(2)}x stringify`);
  console.log();
}

/** ACK response as one unmasked binary WebSocket frame, one allocation, no TextEncoder. */
function ackResponseFrame(event, ackId, ok, data) {
  const json = data === undefined ? '' : (JSON.stringify(data) ?? '');
  const eventLen = Buffer.byteLength(event);
  const jsonLen = Buffer.byteLength(json);
  const packetLen = 3 + eventLen + 5 + jsonLen;
  const head = packetLen < 126 ? 2 : packetLen < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + packetLen);
  out[0] = 0x82; // FIN + binary
  if (head === 2) out[1] = packetLen;
  else if (head === 4) {
    out[1] = 126;
    out.writeUInt16BE(packetLen, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(packetLen), 2);
  }
  let o = head;
  out[o] = PacketType.ACK_RESPONSE;
  out.writeUInt16BE(eventLen, o + 1);
  o += 3;
  o += out.write(event, o, 'utf8');
  out.writeUInt32BE(ackId, o);
  out[o + 4] = ok ? 0 : 1;
  o += 5;
  out.write(json, o, 'utf8');
  return out;
}

const data = { text: 'ping', n: 12345 };
const a = buildFrame(Opcode.BINARY, encodePacket({ type: PacketType.ACK_RESPONSE, event: 'echo', ackId: 77, ok: true, data }));
const b = ackResponseFrame('echo', 77, true, data);
if (!Buffer.from(a).equals(b)) throw new Error(`frames differ:\n${Buffer.from(a).toString('hex')}\n${b.toString('hex')}`);
if (JSON.stringify(decodePacket(b.subarray(2)).data) !== JSON.stringify(data)) throw new Error('decode mismatch');

function bench(name, fn, n = 2_000_000) {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += fn(i).length;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += fn(i).length;
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${name.padEnd(40)} ${ns.toFixed(0)} ns/reply`, sink > 0 ? '' : '!');
  return ns;
}
const x = bench('encodePacket + buildFrame (dist)', (i) =>
  buildFrame(Opcode.BINARY, encodePacket({ type: PacketType.ACK_RESPONSE, event: 'echo', ackId: i, ok: true, data })),
);
const y = bench('single-allocation Node encoder', (i) => ackResponseFrame('echo', i, true, data));
console.log(`single allocation saves ${(x - y).toFixed(0)} ns per reply (${(((x - y) / x) * 100).toFixed(0)}%)`);
