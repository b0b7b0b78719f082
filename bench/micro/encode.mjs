#!/usr/bin/env node
/**
 * Micro-benchmark behind a FINDINGS.md proposal: the server's reply path (ACK response
 * over WebSocket) as it is — encodePacket (TextEncoder, one allocation) then buildFrame
 * (a second allocation and copy) — against one Node-only encoder that writes the frame
 * header, packet header, event and JSON into a single Buffer.allocUnsafe.
 * `node bench/micro/encode.mjs` — single process, for relative numbers only.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../lib/targets.mjs';

const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);
const { encodePacket, decodePacket, PacketType } = await dist('protocol/index.js');
const { buildFrame, Opcode } = await dist('websocket/index.js');

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
