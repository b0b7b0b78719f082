#!/usr/bin/env node
/**
 * Micro-benchmark behind a FINDINGS.md proposal: decodePacket (dist/) against a variant
 * with ASCII fast paths (no TextDecoder call and no Buffer.subarray for short ASCII
 * strings). `node bench/micro/decode.mjs` — single process, for relative numbers only.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../lib/targets.mjs';

const P = await import(pathToFileURL(join(ROOT, 'dist', 'protocol', 'index.js')).href);
const { encodePacket, decodePacket, PacketType } = P;

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** ASCII bytes [start, end) as a string, or null when a byte is >= 0x80 (caller falls back). */
function asciiOrNull(bytes, start, end) {
  let s = '';
  // Short strings: one fromCharCode per byte is cheaper than a TextDecoder call and a view.
  if (end - start <= 16) {
    for (let i = start; i < end; i++) {
      const b = bytes[i];
      if (b > 0x7f) return null;
      s += String.fromCharCode(b);
    }
    return s;
  }
  for (let i = start; i < end; i++) if (bytes[i] > 0x7f) return null;
  return typeof bytes.latin1Slice === 'function' ? bytes.latin1Slice(start, end) : null;
}

function text(bytes, start, end) {
  if (start === end) return '';
  return asciiOrNull(bytes, start, end) ?? strict.decode(bytes.subarray(start, end));
}

/** JSON packets only (enough for the comparison): same result as decodePacket. */
function decodeFast(bytes) {
  const type = bytes[0];
  const eventLen = (bytes[1] << 8) | bytes[2];
  const o = 3 + eventLen;
  const event = text(bytes, 3, o);
  const packet = { type, event };
  if (type === PacketType.JSON) packet.data = o === bytes.length ? undefined : JSON.parse(text(bytes, o, bytes.length));
  return packet;
}

const packet = Buffer.from(encodePacket({ type: PacketType.JSON, event: 'ev', data: { text: 'cursor moved', n: 123456 } }));
const check = decodeFast(packet);
const ref = decodePacket(packet);
if (JSON.stringify(check) !== JSON.stringify(ref)) throw new Error(`variant differs: ${JSON.stringify(check)} vs ${JSON.stringify(ref)}`);

function bench(name, fn, n = 2_000_000) {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += fn(packet).event.length; // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += fn(packet).event.length;
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${name.padEnd(28)} ${ns.toFixed(0)} ns/packet (${packet.length} bytes)`, sink > 0 ? '' : '!');
  return ns;
}
const a = bench('decodePacket (dist)', decodePacket);
const b = bench('ASCII fast path variant', decodeFast);
const c = bench('JSON.parse(buf.toString()) [ws]', (buf) => ({ event: 'ev', data: JSON.parse(buf.toString('utf8', 5)) }));
console.log(`variant saves ${(a - b).toFixed(0)} ns per packet (${(((a - b) / a) * 100).toFixed(0)}%); ws-style parse costs ${c.toFixed(0)} ns`);
