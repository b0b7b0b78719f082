// Overload and dead peers: connection limits, slow consumers, ping floods from peers that
// never read. The memory bound is asserted through what the server itself measured when it
// cut the peer (the onSlowConsumer hook): never more than maxBufferedBytes plus one message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../dist/index.js';
import { assertServes, clientsDrop, externalBytes, frame, guard, Op, PacketType, probe, rawTcp, rawWs, session, startServer, until } from './helpers.mjs';

const CAP = 64 * 1024;

/** The peer was refused: Error packet with `error`, then close `code`, and the server hung up. */
async function assertRefused(peer, error, code) {
  const err = await peer.next(PacketType.ERROR);
  assert.equal(err.event, error);
  assert.equal(typeof err.data.message, 'string');
  assert.equal(await peer.closeCode(), code);
  await peer.finishClose();
  assert.equal(
    peer.packets.some((p) => p.type === PacketType.CONNECT),
    false,
    'never accepted',
  );
}

describe('connection limits', { concurrency: true }, () => {
  test('past maxConnections: Error STELAR_ERR_SERVER_FULL then 4002, on both transports; a freed slot is reusable', async () => {
    const reached = [];
    const server = probe(await startServer({ maxConnections: 3, hooks: { onMaxConnectionsReached: (i) => reached.push(i) } }));
    try {
      const held = [await session(server, 'ws'), await session(server, 'tcp'), await session(server, 'ws')];
      const ws = await rawWs(server.getPort());
      await assertRefused(ws, ErrorCode.SERVER_FULL, 4002);
      const tcp = await rawTcp(server.getTcpPort());
      await assertRefused(tcp, ErrorCode.SERVER_FULL, 4002);
      assert.deepEqual(
        reached.map((r) => [r.reason, r.max]),
        [
          ['maxConnections', 3],
          ['maxConnections', 3],
        ],
      );
      assert.equal(server.getStats().activeConnections, 3);
      // The held clients were not disturbed, and a freed slot admits the next one.
      await held[0].destroy();
      await clientsDrop(server, 2);
      const next = await session(server, 'tcp');
      assert.ok(next.id);
      await Promise.all([...held.slice(1), next].map((p) => p.destroy()));
      await clientsDrop(server, 0);
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });

  test('past maxConnectionsPerIP: Error STELAR_ERR_TOO_MANY_FROM_IP then 4003, counted across transports', async () => {
    const server = probe(await startServer({ maxConnectionsPerIP: 2 }));
    try {
      const held = [await session(server, 'ws'), await session(server, 'tcp')];
      await assertRefused(await rawTcp(server.getTcpPort()), ErrorCode.TOO_MANY_FROM_IP, 4003);
      await assertRefused(await rawWs(server.getPort()), ErrorCode.TOO_MANY_FROM_IP, 4003);
      await Promise.all(held.map((p) => p.destroy()));
      await clientsDrop(server, 0);
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });
});

// One at a time: each measures the process's memory.
describe('slow and dead readers', () => {
  for (const protocol of ['tcp', 'ws']) {
    test(`slow consumer over ${protocol}: cut at maxBufferedBytes with 4006, others keep receiving`, async () => {
      const slow = [];
      const server = probe(await startServer({ maxBufferedBytes: CAP, hooks: { onSlowConsumer: (i) => slow.push(i) } }));
      try {
        const stalled = await session(server, protocol);
        const healthy = await session(server, protocol === 'tcp' ? 'ws' : 'tcp');
        stalled.countOnly = healthy.countOnly = new Set(['tick']);
        stalled.socket.pause(); // never reads again: the kernel buffers fill, then ours would
        const payload = 'x'.repeat(4096);
        let sent = 0;
        // Rounds small enough for the healthy reader (8 x 4 KiB < the cap), each waited for.
        const round = async () => {
          for (let i = 0; i < 8; i++) server.broadcast('tick', payload);
          sent += 8;
          await healthy.waitUntil(() => healthy.count('tick') === sent, `tick ${sent}`);
        };
        const before = externalBytes();
        // Until the server gives up on the stalled client (guard: 64 MiB broadcast).
        while (slow.length === 0 && sent < 16_000) await round();
        assert.equal(slow.length, 1, `cut after ${sent} broadcasts`);
        assert.equal(slow[0].clientId, stalled.id);
        assert.equal(slow[0].max, CAP);
        // The bound: the backlog is measured before each write, so at most the cap plus one message.
        assert.ok(slow[0].bufferedBytes > CAP && slow[0].bufferedBytes <= CAP + payload.length + 64, `buffered ${slow[0].bufferedBytes}`);
        // After the cut nothing more is queued for it: 32 MiB more broadcast, memory stays put
        // (were it still buffered for the stalled client, Buffers would grow by those 32 MiB).
        const cutAt = sent;
        while (sent < cutAt + 8192) await round();
        const grown = externalBytes() - before;
        console.log(
          `slow consumer over ${protocol}: cut after ${cutAt} broadcasts with ${slow[0].bufferedBytes} bytes queued (cap ${CAP}); memory outside the heap ${grown >= 0 ? '+' : ''}${(grown / 1024).toFixed(0)} KiB after ${(sent * 4) / 1024} MiB broadcast in all`,
        );
        assert.ok(grown < 12 * 1024 * 1024, `memory outside the heap grew by ${grown} bytes while ${sent * 4} KiB were broadcast`);
        // The stalled one, once it reads, finds what was queued before the cut, then the 4006 close.
        stalled.socket.resume();
        assert.equal(await stalled.closeCode(), 4006);
        await stalled.finishClose();
        assert.ok(stalled.count('tick') < cutAt, `the stalled client got ${stalled.count('tick')} of ${sent}`);
        assert.equal(
          stalled.packets.find((p) => p.type === PacketType.ERROR),
          undefined,
          'a slow consumer is closed, not sent an Error',
        );
        await healthy.destroy();
        await clientsDrop(server, 0);
        await assertServes(server);
      } finally {
        await server.stop();
      }
    });
  }

  test('ping flood from a peer that never reads (regression: pongs were buffered without bound) -> 4006 at the cap', async () => {
    const slow = [];
    const server = probe(await startServer({ maxBufferedBytes: CAP, hooks: { onSlowConsumer: (i) => slow.push(i) } }));
    try {
      const ws = await session(server, 'ws');
      ws.socket.pause();
      const ping = frame({ opcode: Op.PING, payload: Buffer.alloc(125, 1) });
      const batch = Buffer.concat(Array.from({ length: 8000 }, () => ping)); // ~1 MiB of pings
      // Up to 64 MiB of pings (guard); the server must give up long before.
      for (let i = 0; i < 64 && slow.length === 0; i++) {
        if (!ws.socket.write(batch)) await guard(new Promise((r) => ws.socket.once('drain', r)), 'drain');
        await new Promise((resolve) => setImmediate(resolve));
      }
      await until(() => slow.length > 0, 'onSlowConsumer');
      assert.equal(slow[0].clientId, ws.id);
      assert.ok(slow[0].bufferedBytes <= CAP + 127, `buffered ${slow[0].bufferedBytes}`);
      ws.socket.resume();
      assert.equal(await ws.closeCode(), 4006);
      await ws.finishClose();
      await clientsDrop(server, 0);
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });

  test('Ping packet flood over TCP from a peer that never reads -> 4006 at the cap', async () => {
    const slow = [];
    const server = probe(await startServer({ maxBufferedBytes: CAP, hooks: { onSlowConsumer: (i) => slow.push(i) } }));
    try {
      const tcp = await session(server, 'tcp');
      tcp.socket.pause();
      const { encodePacket } = await import('../../dist/protocol/index.js');
      const ping = encodePacket({ type: PacketType.PING, event: '', data: Buffer.alloc(1000, 2) }, 4);
      const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
      for (let i = 0; i < 64 && slow.length === 0; i++) {
        if (!tcp.socket.write(batch)) await guard(new Promise((r) => tcp.socket.once('drain', r)), 'drain');
        await new Promise((resolve) => setImmediate(resolve));
      }
      await until(() => slow.length > 0, 'onSlowConsumer');
      assert.ok(slow[0].bufferedBytes <= CAP + ping.length, `buffered ${slow[0].bufferedBytes}`);
      tcp.socket.resume();
      assert.equal(await tcp.closeCode(), 4006);
      await tcp.finishClose();
      await clientsDrop(server, 0);
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });
});
