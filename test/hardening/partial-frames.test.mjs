// Issue 12, item 4: unfinished inbound frames. Each connection may park one frame of up to
// maxFrameSize; without a global bound and a minimum arrival rate, many connections could
// pin maxConnections x maxFrameSize of memory until the heartbeat sweep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { delay, encodePacket, externalBytes, frame, Op, PacketType, session, startServer, until } from './helpers.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A whole frame carrying a `size`-byte event packet, over `protocol`. */
/** External memory once V8 has really freed what is garbage (its ArrayBuffer sweep runs behind the GC). */
async function settledExternal() {
  let last = externalBytes();
  for (let i = 0; i < 10; i++) {
    await delay(100);
    const now = externalBytes();
    if (Math.abs(now - last) < 256 * KiB) return now;
    last = now;
  }
  return last;
}

function frameBytes(protocol, size) {
  const data = Buffer.alloc(size - 64, 7);
  const packet = encodePacket({ type: PacketType.BINARY, event: 'blob', data });
  return protocol === 'tcp' ? Buffer.from(encodePacket({ type: PacketType.BINARY, event: 'blob', data }, 4)) : frame({ opcode: Op.BINARY, payload: packet });
}

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: 50 half-sent 1 MiB frames against a 16 MiB budget: the excess is closed (1013), memory stays bounded`, async (t) => {
    const server = await startServer({ maxInboundBufferedBytes: 16 * MiB, maxConnectionsPerIP: 100 });
    const peers = [];
    try {
      const bytes = frameBytes(protocol, MiB);
      const half = bytes.subarray(0, bytes.length >> 1);
      const before = await settledExternal();
      for (let i = 0; i < 50; i++) {
        const peer = await session(server, protocol);
        peers.push(peer);
        peer.write(half);
      }
      // 16 MiB holds 32 halves of 512 KiB at most: at least 18 of the 50 must go.
      const cutSoFar = () => peers.filter((p) => (p.closeFrame ?? p.disconnect)?.code === 1013).length;
      await until(() => cutSoFar() >= 18, 'connections cut for the budget').catch(() => {});
      // Let the rest of the reads land (or more cuts happen), then look.
      await delay(1000);
      const cut = cutSoFar();
      const codes = peers.map((p) => (p.closeFrame ?? p.disconnect)?.code ?? null);
      assert.ok(cut >= 18, `connections cut for the budget: ${cut} (codes ${JSON.stringify(codes)})`);
      assert.ok(cut <= 30, `only the excess is cut: ${cut}`);
      assert.equal(codes.filter((c) => c !== null && c !== 1013).length, 0, `no other closes: ${JSON.stringify(codes)}`);
      // The budget (16 MiB) plus slack for one read in flight per connection and Node's own buffers;
      // without the budget the 50 halves hold 25 MiB.
      const grown = (await settledExternal()) - before;
      assert.ok(grown < 20 * MiB, `external memory grew by ${(grown / MiB).toFixed(1)} MiB`);
      t.diagnostic(`cut ${cut} of 50; external memory grew ${(grown / MiB).toFixed(1)} MiB`);
      assert.ok(grown < 24 * MiB, `external memory grew by ${(grown / MiB).toFixed(1)} MiB`);
    } finally {
      await Promise.all(peers.map((p) => p.destroy()));
      await server.stop();
    }
  });

  test(`${protocol}: a partial frame that stops arriving is closed (4005) after the minimum-rate window; a slow, steady sender passes`, async (t) => {
    const server = await startServer({ minInboundRate: { bytesPerSecond: 16 * KiB, windowMs: 500 } });
    let received = 0;
    server.on('blob', () => received++);
    const peers = [];
    try {
      const stalled = await session(server, protocol);
      const steady = await session(server, protocol);
      peers.push(stalled, steady);
      const big = frameBytes(protocol, 128 * KiB);
      stalled.write(big.subarray(0, 4 * KiB));
      const started = Date.now();
      // The steady one sends 2 KiB every 50 ms (40 KiB/s, over the 16 KiB/s floor) for ~3 s.
      let offset = 0;
      const steadyDone = (async () => {
        while (offset < big.length) {
          const next = Math.min(big.length, offset + 2 * KiB);
          steady.write(big.subarray(offset, next));
          offset = next;
          await delay(50);
        }
      })();
      const code = await stalled.closeCode(5000);
      const after = Date.now() - started;
      t.diagnostic(`stalled frame closed ${after} ms after its last byte`);
      assert.equal(code, 4005);
      // window (500 ms) + one sweep period (1 s by default) + slack
      assert.ok(after < 2500, `closed after ${after} ms`);
      await steadyDone;
      await until(() => received === 1, 'the steady sender s event');
      assert.equal(steady.closeFrame ?? steady.disconnect ?? null, null, 'the steady sender is still connected');
    } finally {
      await Promise.all(peers.map((p) => p.destroy()));
      await server.stop();
    }
  });
}

test('the two options: defaults, getConfig, updateConfig, false turns the rate off, bad values are refused', async () => {
  const { StelarServer, SERVER_DEFAULTS } = await import('../../dist/index.js');
  assert.equal(SERVER_DEFAULTS.maxInboundBufferedBytes, 256 * MiB);
  assert.deepEqual(SERVER_DEFAULTS.minInboundRate, { bytesPerSecond: 16 * KiB, windowMs: 10_000 });
  const server = new StelarServer({ port: 0, logger: false, gracefulShutdown: false });
  assert.equal(server.getConfig().maxInboundBufferedBytes, 256 * MiB);
  assert.deepEqual(server.getConfig().minInboundRate, { bytesPerSecond: 16 * KiB, windowMs: 10_000 });
  server.updateConfig({ maxInboundBufferedBytes: MiB, minInboundRate: false });
  assert.equal(server.getConfig().maxInboundBufferedBytes, MiB);
  assert.equal(server.getConfig().minInboundRate, null);
  assert.throws(() => server.updateConfig({ minInboundRate: { bytesPerSecond: 0, windowMs: 1000 } }), /minInboundRate.bytesPerSecond/);
  assert.throws(() => server.updateConfig({ maxInboundBufferedBytes: -1 }), /maxInboundBufferedBytes/);
  assert.throws(() => new StelarServer({ minInboundRate: 5 }), /minInboundRate/);
});

for (const protocol of ['ws', 'tcp']) {
  test(`${protocol}: over the budget, the connection holding the most is cut, not the one whose read crossed it`, async () => {
    const server = await startServer({ maxInboundBufferedBytes: MiB, maxConnectionsPerIP: 100 });
    const peers = [];
    try {
      const big = await session(server, protocol);
      peers.push(big);
      big.write(frameBytes(protocol, MiB).subarray(0, 700 * KiB));
      await delay(200);
      assert.equal(big.closeFrame ?? big.disconnect ?? null, null, 'under the budget nobody is cut');
      const small = frameBytes(protocol, 128 * KiB).subarray(0, 40 * KiB);
      for (let i = 0; i < 10; i++) {
        const peer = await session(server, protocol);
        peers.push(peer);
        peer.write(small);
        await delay(20);
      }
      assert.equal(await big.closeCode(5000), 1013);
      await delay(200);
      const others = peers.slice(1).map((p) => (p.closeFrame ?? p.disconnect)?.code ?? null);
      assert.deepEqual(others, new Array(10).fill(null), 'the small ones stay');
    } finally {
      await Promise.all(peers.map((p) => p.destroy()));
      await server.stop();
    }
  });
}
