// Issue 12 item 5: a peer that sends and never reads. The server stops reading a socket whose
// answers it cannot deliver (reads paused above the outgoing high-water mark, resumed on
// drain), and counts pings (WebSocket ping frames and Ping packets) against a budget.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket } from '../../dist/protocol/index.js';
import { ErrorCode } from '../../dist/index.js';
import { clientsDrop, delay, frame, guard, Op, PacketType, probe, session, startServer, until, assertServes } from './helpers.mjs';

const REQUESTS = 4000;
const ANSWER = 'y'.repeat(4096);

/** An ACK request frame for `protocol`, carrying `pad` bytes of payload. */
function ackRequest(protocol, ackId, pad) {
  const packet = { type: PacketType.ACK_REQUEST, event: 'echo', ackId, data: { pad } };
  return protocol === 'tcp' ? encodePacket(packet, 4) : frame({ opcode: Op.BINARY, payload: encodePacket(packet) });
}

describe('reads are paused while answers cannot be delivered', () => {
  for (const protocol of ['ws', 'tcp']) {
    test(`${protocol}: ACK flood from a peer that does not read: the server stops reading it, then answers everything once it reads`, async () => {
      const slow = [];
      const serverSockets = [];
      const server = probe(await startServer({ rateLimit: false, hooks: { onSlowConsumer: (i) => slow.push(i) } }));
      server.onConnection((ctx) => serverSockets.push(ctx.socket));
      server.onAck('echo', () => ANSWER);
      try {
        const peer = await session(server, protocol);
        peer.countOnly = new Set();
        let answers = 0;
        peer.onPacket = (p) => (p.type === PacketType.ACK_RESPONSE ? (answers++, true) : false);
        const serverSide = await until(() => serverSockets[0], 'server-side socket');
        peer.socket.pause(); // never reads (for now)
        const pad = 'x'.repeat(1024);
        // ~4 MiB of requests asking for ~16 MiB of answers, twice the 8 MiB slow-consumer cap.
        const batch = [];
        for (let i = 1; i <= REQUESTS; i++) batch.push(ackRequest(protocol, i, pad));
        const sentBytes = batch.reduce((n, b) => n + b.length, 0);
        peer.socket.write(Buffer.concat(batch));
        // Let the server read what it will; then its inbound count must stop growing.
        let last = -1;
        for (let i = 0; i < 50 && serverSide.bytesRead !== last; i++) {
          last = serverSide.bytesRead;
          await delay(100);
        }
        const plateau = serverSide.bytesRead;
        await delay(300);
        console.log(`${protocol} ACK flood, peer not reading: server read ${(plateau / 1024).toFixed(0)} KiB of ${(sentBytes / 1024).toFixed(0)} KiB sent`);
        assert.equal(serverSide.bytesRead, plateau, 'the server stopped reading');
        assert.ok(plateau < sentBytes / 2, `the server read ${plateau} of ${sentBytes} bytes`);
        assert.equal(slow.length, 0, 'not cut as a slow consumer: it was never allowed to fall 8 MiB behind');
        assert.equal(server.getStats().activeConnections, 1);
        // The peer reads again: every request is answered, none lost.
        peer.socket.resume();
        await peer.waitUntil(() => answers === REQUESTS, `${REQUESTS} answers`, 30_000);
        assert.equal(serverSide.bytesRead >= sentBytes, true);
        assert.equal(slow.length, 0);
        await peer.destroy();
        await clientsDrop(server, 0);
        await assertServes(server);
      } finally {
        await server.stop();
      }
    });
  }
});

describe('pings are counted against pingLimit', () => {
  test('ws: ping flood from a peer that never reads: memory stays bounded, the peer is closed with 4008', async () => {
    const slow = [];
    const disconnects = [];
    const server = probe(await startServer({ hooks: { onSlowConsumer: (i) => slow.push(i), onClientDisconnect: (i) => disconnects.push(i) } }));
    const serverSockets = [];
    server.onConnection((ctx) => serverSockets.push(ctx.socket));
    try {
      const ws = await session(server, 'ws');
      const serverSide = await until(() => serverSockets[0], 'server-side socket');
      ws.socket.pause();
      const ping = frame({ opcode: Op.PING, payload: Buffer.alloc(125, 1) });
      const batch = Buffer.concat(Array.from({ length: 8000 }, () => ping)); // ~1 MiB of pings
      // Up to 16 MiB of pings (twice the 8 MiB slow-consumer cap); the server must give up long before.
      let written = 0;
      let maxQueued = 0;
      for (let i = 0; i < 16 && !ws.socket.destroyed && serverSide.readyState === 'open'; i++) {
        written += batch.length;
        if (!ws.socket.write(batch)) await guard(Promise.race([new Promise((r) => ws.socket.once('drain', r)), ws.closed, delay(500)]), 'drain');
        maxQueued = Math.max(maxQueued, serverSide.writableLength);
      }
      // The first 1000 pings were answered; the 1001st closed it (Error, then close 4008).
      const info = await until(() => disconnects[0], 'onClientDisconnect');
      console.log(
        `ws ping flood, peer not reading: ${(written / 1024).toFixed(0)} KiB of pings written, server read ${(serverSide.bytesRead / 1024).toFixed(0)} KiB, ${(maxQueued / 1024).toFixed(0)} KiB queued at most seen, closed with ${info.code}`,
      );
      assert.equal(slow.length, 0, 'closed by the ping budget, long before the slow-consumer cap');
      // What the server held for it: pongs up to the high-water mark plus one read chunk's worth.
      assert.ok(maxQueued < 1024 * 1024, `${maxQueued} bytes queued`);
      ws.socket.resume();
      assert.equal(await ws.closeCode(), 4008);
      const err = ws.packets.find((p) => p.type === PacketType.ERROR);
      assert.equal(err?.event, ErrorCode.RATE_LIMITED);
      assert.match(err.data.message, /too many pings/);
      // 1000 pongs within the budget, plus the one the connection queued for the ping that broke it.
      assert.equal(ws.frames.filter((f) => f.opcode === Op.PONG).length, 1001);
      await ws.finishClose();
      await clientsDrop(server, 0);
      await assertServes(server);
    } finally {
      await server.stop();
    }
  });

  for (const protocol of ['tcp', 'ws']) {
    test(`${protocol}: Ping packets past pingLimit from a peer that reads: Error STELAR_ERR_RATE_LIMITED, close 4008; under it, all answered`, async () => {
      const server = probe(await startServer({ pingLimit: { maxPoints: 20, windowMs: 60_000 } }));
      try {
        const ok = await session(server, protocol);
        for (let i = 0; i < 20; i++) ok.send({ type: PacketType.PING, event: '', data: null });
        await ok.waitUntil(() => ok.packets.filter((p) => p.type === PacketType.PONG).length === 20, '20 pongs');
        const peer = await session(server, protocol);
        for (let i = 0; i < 25; i++) peer.send({ type: PacketType.PING, event: '', data: null });
        const err = await peer.next(PacketType.ERROR);
        assert.equal(err.event, ErrorCode.RATE_LIMITED);
        assert.equal(await peer.closeCode(), 4008);
        assert.equal(peer.packets.filter((p) => p.type === PacketType.PONG).length, 20);
        await peer.finishClose();
        // The one under its budget is untouched.
        assert.equal(ok.socket.destroyed, false);
        await ok.destroy();
        await clientsDrop(server, 0);
        // pingLimit: false turns it off.
        server.updateConfig({ pingLimit: false });
        const free = await session(server, protocol);
        for (let i = 0; i < 50; i++) free.send({ type: PacketType.PING, event: '', data: null });
        await free.waitUntil(() => free.packets.filter((p) => p.type === PacketType.PONG).length === 50, '50 pongs');
        await free.destroy();
        await clientsDrop(server, 0);
        await assertServes(server);
      } finally {
        await server.stop();
      }
    });
  }
});

describe('the heartbeat sweep and paused reads', () => {
  test('ws: a peer we stopped reading is not cut for silence while it reads its backlog; once it stops, it is (4005)', async () => {
    const server = probe(await startServer({ heartbeatTimeout: 1500, maxBufferedBytes: 64 * 1024 * 1024 }));
    const serverSockets = [];
    server.onConnection((ctx) => serverSockets.push(ctx.socket));
    try {
      const ws = await session(server, 'ws');
      ws.countOnly = new Set(['big']);
      const serverSide = await until(() => serverSockets[0], 'server-side socket');
      ws.socket.pause();
      // 16 MiB of broadcasts: more than the loopback kernel buffers hold, so our queue stays over
      // its high-water mark and reads of this peer stay paused while it slowly catches up.
      const chunk = 'z'.repeat(256 * 1024);
      for (let i = 0; i < 64; i++) server.broadcast('big', chunk);
      await delay(50);
      // For 2 s (more than one heartbeat timeout) the peer pings (unheard: we are not reading it) and
      // reads its backlog slowly: two socket reads (up to 64 KiB each) every 50 ms. The kernel
      // lets the server see that progress in steps (its socket turns writable once about a
      // third of its send buffer is free): about every 0.5 s here.
      const ping = frame({ opcode: Op.PING, payload: Buffer.alloc(4) });
      let pausedSeen = 0;
      for (let i = 0; i < 40; i++) {
        ws.write(ping);
        ws.socket.read();
        await delay(25);
        ws.socket.read();
        await delay(25);
        if (serverSide.isPaused()) pausedSeen++;
      }
      // Had the sweep cut it, the close would have resumed reads (and no longer be paused).
      assert.equal(pausedSeen, 40, `reads were paused in ${pausedSeen} of 40 looks: cut while reading`);
      // Now it neither reads nor can be heard: silence, cut within a few sweep periods. The close
      // resumes reads (the peer's close frame must be seen) although the backlog is still there.
      const stoppedAt = Date.now();
      await until(() => !serverSide.isPaused(), 'the close to start', 6000);
      const after = Date.now() - stoppedAt;
      // heartbeatTimeout after the last sweep that saw it read (up to one progress step before the
      // stop), plus up to one sweep period: never later than heartbeatTimeout + a few periods.
      assert.ok(after < 4000, `cut ${after} ms after the peer stopped reading`);
      ws.socket.resume();
      const err = await ws.next(PacketType.ERROR);
      assert.equal(err.event, ErrorCode.HEARTBEAT_TIMEOUT);
      assert.equal(await ws.closeCode(), 4005);
      assert.equal(ws.count('big'), 64);
      await ws.finishClose();
      await clientsDrop(server, 0);
    } finally {
      await server.stop();
    }
  });
});
