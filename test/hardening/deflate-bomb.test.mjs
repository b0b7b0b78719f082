// Decompression bombs against a StelarServer with permessage-deflate on: a frame of a few
// hundred KB that inflates to 256 MiB. The server must stop inflating at maxFrameSize and close
// with 1009, without ever holding the whole output: its memory grows by a few MB at most while
// it works and not at all afterwards, and a client connected meanwhile is served throughout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { StelarClient } from '../../dist/index.js';
import { gc, Op, rawWs, startServer } from './helpers.mjs';

const MiB = 1024 * 1024;
const LIMIT = 2 * MiB;

/**
 * The compressed payload of `mib` MiB of zeros, without building them: one MiB compressed with a
 * sync flush is a run of whole deflate blocks, so the same bytes repeated are a valid stream
 * of `mib` MiB (RFC 7692 section 7.2.1: the last 4 bytes, 00 00 ff ff, are left off).
 */
function zeroBomb(mib) {
  const one = deflateRawSync(Buffer.alloc(MiB), { finishFlush: constants.Z_SYNC_FLUSH, level: 9 });
  const all = Buffer.concat(Array(mib).fill(one));
  return all.subarray(0, all.length - 4);
}

/**
 * Bytes of ArrayBuffers (every Buffer) held by this process, after full GCs. A few turns of
 * the loop between them: a zlib object closed a moment ago keeps its output chunks until its
 * handle's close has run (transient, not retained), which takes longer on a loaded machine.
 */
async function heldBytes() {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  gc();
  return process.memoryUsage().arrayBuffers;
}

test('a deflate bomb closes 1009 at maxFrameSize, memory stays flat, other clients are served', async (t) => {
  const server = await startServer({ perMessageDeflate: true, maxFrameSize: LIMIT });
  t.after(() => server.stop());
  server.onAck('echo', (ctx) => ctx.data);

  const bystander = new StelarClient(`ws://127.0.0.1:${server.getPort()}`, { logger: false, reconnection: false });
  t.after(() => bystander.disconnect());
  let bystanderClosed = false;
  bystander.on('disconnect', () => {
    bystanderClosed = true;
  });
  await bystander.connect();
  const pad = 'compressible '.repeat(400);
  assert.deepEqual(await bystander.request('echo', { n: 0, pad }), { n: 0, pad });

  const bomb = zeroBomb(256);
  assert.ok(bomb.length < LIMIT / 4, `the bomb is ${bomb.length} bytes on the wire`);
  const before = await heldBytes();
  let peak = 0;
  for (let round = 1; round <= 5; round++) {
    const peer = await rawWs(server.getPort(), { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' } });
    assert.match(peer.head['sec-websocket-extensions'] ?? '', /^permessage-deflate/);
    await peer.connect();
    // Sampled while the server inflates (on the thread pool past 256 KiB): garbage of earlier
    // rounds is collected first, so what is measured is this bomb's.
    const base = await heldBytes();
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    }, 1);
    peer.sendFrame({ opcode: Op.BINARY, rsv: 4, payload: bomb });
    const code = await peer.closeCode().finally(() => clearInterval(sampler));
    assert.equal(code, 1009, `round ${round}`);
    assert.match(peer.closeFrame.reason, /inflates past the limit/);
    await peer.finishClose();
    // The client connected all along still gets its answers, compressed both ways.
    assert.deepEqual(await bystander.request('echo', { n: round, pad }), { n: round, pad });
  }
  const retained = (await heldBytes()) - before;
  t.diagnostic(`bomb ${bomb.length} bytes -> 256 MiB; peak growth ${(peak / MiB).toFixed(1)} MiB, retained ${(retained / MiB).toFixed(2)} MiB`);
  // The limit itself (2 MiB of output), the 256 KiB tried on the event loop, zlib's chunks and
  // the frame in flight (masked copies of ~260 KB): a few MB, never 256.
  assert.ok(peak < 6 * MiB, `peak growth ${peak} bytes`);
  assert.ok(retained < 1 * MiB, `retained ${retained} bytes`);
  assert.equal(bystanderClosed, false, 'the bystander stayed connected');
  assert.equal(server.getStats().activeConnections, 1);
});

test('compressed frames from a client refused before acceptance are held to the handshake limit', async (t) => {
  // Before its Connect is accepted a peer may send at most maxHandshakePayloadSize (64 KiB), inflated.
  const server = await startServer({ perMessageDeflate: true });
  t.after(() => server.stop());
  const peer = await rawWs(server.getPort(), { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
  peer.sendFrame({ opcode: Op.BINARY, rsv: 4, payload: zeroBomb(1) });
  assert.equal(await peer.closeCode(), 1009);
  await peer.finishClose();
});
