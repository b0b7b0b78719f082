// Issue 17 item 3: send-side backpressure. ctx.emit() and client.emit() answer false once the
// connection's outgoing buffer is at its high-water mark (the data is still queued and sent),
// a drain follows when it is written out (ctx.drained(), server.onDrain, client 'drain'), and
// bufferedAmount is readable on both sides. A producer that waits for drain pushes hundreds
// of megabytes through a slow link with flat memory; one that does not is still cut by
// maxBufferedBytes (4006) on the server.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import WebSocket from 'ws';
import { ErrorCode, StelarClient, StelarServer } from '../../dist/index.js';
import { encodePacket, PacketType } from '../../dist/protocol/index.js';
import { waitUntil } from '../support/waits.mjs';

const HOST = '127.0.0.1';
const MiB = 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 7);

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const until = (fn, what, ms = 10_000) => waitUntil(fn, what, ms);

async function startServer(options = {}) {
  const server = new StelarServer({ port: 0, host: HOST, tcpPort: 0, logger: false, rateLimit: false, byteRateLimit: false, ...options });
  await server.start();
  return server;
}

/**
 * A peer that reads only when told, counting bytes and never keeping them: a raw TCP socket
 * (frames skipped by their length prefix) or a `ws` client. `rate` (bytes/s) throttles it:
 * it reads a slice, then pauses until the rate allows more.
 */
async function slowPeer(server, mode, { rate = 0 } = {}) {
  const peer = { bytes: 0, frames: 0, closed: null, connected: null };
  let pause;
  let resume;
  let welcome;
  peer.connected = new Promise((resolve) => (welcome = resolve));
  const count = (n, frames) => {
    peer.bytes += n;
    peer.frames += frames;
    if (rate > 0) throttle(n);
  };
  let windowStart = Date.now();
  let windowBytes = 0;
  let throttled = false;
  const throttle = (n) => {
    windowBytes += n;
    const due = windowStart + (windowBytes / rate) * 1000;
    const wait = due - Date.now();
    if (wait > 2 && !throttled && !peer.held) {
      throttled = true;
      pause();
      setTimeout(() => {
        throttled = false;
        if (!peer.held) resume();
      }, wait);
    }
    if (windowBytes > 16 * MiB) {
      windowStart = Date.now();
      windowBytes = 0;
    }
  };
  if (mode === 'tcp') {
    const socket = net.connect({ host: HOST, port: server.getTcpPort() });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    pause = () => socket.pause();
    resume = () => socket.resume();
    let need = 4; // bytes left of the current prefix (4) or body
    let inPrefix = true;
    let prefix = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      let frames = 0;
      let i = 0;
      while (i < chunk.length) {
        const take = Math.min(need, chunk.length - i);
        if (inPrefix) {
          prefix = Buffer.concat([prefix, chunk.subarray(i, i + take)]);
          if (prefix.length === 4) {
            need = prefix.readUInt32BE(0) - 4;
            inPrefix = false;
            prefix = Buffer.alloc(0);
          } else need -= take;
        } else {
          need -= take;
          if (need === 0) {
            frames++;
            inPrefix = true;
            need = 4;
          }
        }
        i += take;
      }
      if (frames > 0 && peer.frames === 0) welcome();
      count(chunk.length, frames);
    });
    socket.on('error', () => {});
    peer.closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1 } }, 4));
    peer.destroy = () => socket.destroy();
    peer.socket = socket;
  } else {
    const ws = new WebSocket(`ws://${HOST}:${server.getPort()}/`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    pause = () => ws.pause();
    resume = () => ws.resume();
    ws.on('message', (data) => {
      if (peer.frames === 0) welcome();
      count(data.length, 1);
    });
    ws.on('error', () => {});
    peer.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    ws.send(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1 } }));
    peer.destroy = () => ws.terminate();
  }
  /** Stop reading (until release). */
  peer.hold = () => {
    peer.held = true;
    pause();
  };
  peer.release = () => {
    peer.held = false;
    resume();
  };
  await peer.connected;
  return peer;
}

/** Samples this process's memory every `every` ms: returns { stop() -> samples }. */
function sampleMemory(every = 25) {
  const samples = [];
  const take = () => {
    const m = process.memoryUsage();
    samples.push({ t: Date.now(), rss: m.rss, heap: m.heapUsed, buffers: m.arrayBuffers });
  };
  take();
  const timer = setInterval(take, every);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

const mib = (n) => (n / MiB).toFixed(1);

for (const mode of ['ws', 'tcp']) {
  describe(`send-side backpressure over ${mode}`, () => {
    test('ctx.emit answers false at the high-water mark, data still goes out; ctx.drained() and onDrain follow the drain; bufferedAmount reads the backlog', async () => {
      const server = await startServer();
      const contexts = [];
      server.onConnection((ctx) => contexts.push(ctx));
      const drains = [];
      server.onDrain((ctx) => drains.push({ id: ctx.id, buffered: ctx.bufferedAmount, name: ctx.eventName }));
      const peer = await slowPeer(server, mode);
      try {
        const ctx = await until(() => contexts[0], 'the connection');
        assert.equal(ctx.bufferedAmount, 0);
        peer.hold();
        // Push until the kernel's buffers are full too: drained() then stays pending.
        let sent = 0;
        let falses = 0;
        let pending = null;
        for (let i = 0; i < 2000 && pending === null; i++) {
          sent++;
          if (ctx.emitBinary('chunk', CHUNK)) continue;
          falses++;
          const wait = ctx.drained();
          const outcome = await Promise.race([wait.then(() => 'drained'), delay(150).then(() => 'pending')]);
          if (outcome === 'pending') pending = wait;
        }
        assert.ok(pending, 'with the reader stopped, drained() stays pending once the kernel holds what it can');
        assert.ok(falses > 0);
        const buffered = ctx.bufferedAmount;
        assert.ok(buffered >= 16 * 1024, `bufferedAmount ${buffered}`);
        assert.ok(buffered <= 16 * 1024 + 2 * CHUNK.length, `a producer that waits holds about one high-water mark: ${buffered}`);
        assert.equal(ctx.emit('more', { n: 1 }), false, 'still above the mark: false, and queued');
        assert.equal(ctx.drained(), ctx.drained(), 'one shared promise while waiting');
        const drainsBefore = drains.length;
        peer.release();
        await pending;
        await until(() => drains.length > drainsBefore, 'onDrain');
        assert.equal(drains.at(-1).id, ctx.id);
        assert.equal(drains.at(-1).name, 'drain');
        await until(() => peer.frames >= sent + 2, 'everything delivered'); // + Connect, + 'more'
        assert.equal(ctx.emit('after', 1), true, 'below the mark again');
        await ctx.drained(); // resolves at once
      } finally {
        peer.destroy();
        await server.stop();
      }
    });

    test('ctx.drained() rejects with STELAR_ERR_CONNECTION_CLOSED when the connection closes first (a waiting producer stops)', async () => {
      const server = await startServer();
      const contexts = [];
      server.onConnection((ctx) => contexts.push(ctx));
      const peer = await slowPeer(server, mode);
      try {
        const ctx = await until(() => contexts[0], 'the connection');
        peer.hold();
        let wait = null;
        for (let i = 0; i < 2000 && wait === null; i++) {
          if (ctx.emitBinary('chunk', CHUNK)) continue;
          const w = ctx.drained();
          if ((await Promise.race([w.then(() => 1), delay(150).then(() => 0)])) === 0) wait = w;
        }
        assert.ok(wait);
        peer.destroy();
        await assert.rejects(wait, { code: ErrorCode.CONNECTION_CLOSED });
        await assert.rejects(ctx.drained(), { code: ErrorCode.CONNECTION_CLOSED });
      } finally {
        peer.destroy();
        await server.stop();
      }
    });

    test("client.emit answers false at the high-water mark; 'drain' follows; client.bufferedAmount reads the backlog", async () => {
      const server = await startServer();
      const sockets = [];
      let received = 0;
      server.onConnection((ctx) => sockets.push(ctx.socket));
      server.on('chunk', () => received++);
      const address = mode === 'tcp' ? `${HOST}:${server.getTcpPort()}` : server.getPort();
      const client = new StelarClient(address, { mode, logger: false });
      try {
        await new Promise((resolve) => client.connect(resolve));
        assert.equal(client.bufferedAmount, 0);
        const socket = await until(() => sockets[0], 'the server side');
        socket.pause(); // the server stops reading this client
        let sent = 0;
        let pending = null;
        for (let i = 0; i < 2000 && pending === null; i++) {
          sent++;
          if (client.emit('chunk', CHUNK)) continue;
          const drained = new Promise((resolve) => client.once('drain', resolve));
          if ((await Promise.race([drained.then(() => 1), delay(150).then(() => 0)])) === 0) pending = drained;
        }
        assert.ok(pending, "with the server not reading, 'drain' waits");
        assert.ok(client.bufferedAmount >= 16 * 1024, `client.bufferedAmount ${client.bufferedAmount}`);
        socket.resume();
        await pending;
        await until(() => received === sent, `${sent} chunks on the server`);
        assert.equal(client.emit('chunk', CHUNK), false, 'one 64 KiB message is above the 16 KiB mark by itself');
        await new Promise((resolve) => client.once('drain', resolve));
        assert.equal(client.emit('small', 1), true);
      } finally {
        client.disconnect();
        await server.stop();
      }
    });
  });
}

test("client: an emit queued offline answers false and 'drain' follows the connection (after 'connect')", async () => {
  const server = await startServer();
  const got = [];
  server.on('note', (ctx) => got.push(ctx.data));
  const client = new StelarClient(server.getPort(), { logger: false });
  try {
    const order = [];
    client.on('connect', () => order.push('connect'));
    client.on('drain', () => order.push('drain'));
    assert.equal(client.emit('note', 1), false);
    assert.equal(client.bufferedAmount, 0);
    client.connect();
    await until(() => order.length === 2, 'connect and drain');
    assert.deepEqual(order, ['connect', 'drain']);
    await until(() => got.length === 1, 'the queued note');
  } finally {
    client.disconnect();
    await server.stop();
  }
});

test('a server producer that ignores false is still cut by maxBufferedBytes (4006): the last line of defence', async () => {
  const slow = [];
  const server = await startServer({ maxBufferedBytes: 2 * MiB, hooks: { onSlowConsumer: (info) => slow.push(info) } });
  const contexts = [];
  server.onConnection((ctx) => contexts.push(ctx));
  const peer = await slowPeer(server, 'tcp');
  try {
    const ctx = await until(() => contexts[0], 'the connection');
    peer.hold();
    // Fire and forget, a tick at a time: the backlog grows until the cap cuts the client.
    for (let i = 0; i < 4000 && slow.length === 0; i++) {
      ctx.emitBinary('chunk', CHUNK);
      if (i % 16 === 0) await delay(1);
    }
    assert.equal(slow.length, 1, 'cut as a slow consumer');
    assert.ok(slow[0].bufferedBytes > 2 * MiB);
    assert.equal(ctx.emit('late', 1), false);
    await assert.rejects(ctx.drained(), { code: ErrorCode.CONNECTION_CLOSED });
    peer.release();
    await peer.closed;
  } finally {
    peer.destroy();
    await server.stop();
  }
});

// ---- a producer that waits: hundreds of megabytes, flat memory ---------------------------------

/** Bytes pushed per run; `STELAR_BACKPRESSURE_MB` raises it (the bench pushes more). */
const TOTAL = Number(process.env.STELAR_BACKPRESSURE_MB ?? 256) * MiB;
/** The slow link: the reader takes this many bytes per second. */
const RATE = 160 * MiB;
/**
 * Growth of heap + buffers above the baseline, sampled while pushing TOTAL: a producer that
 * did not wait would hold TOTAL. What it does show is mostly received chunks the garbage
 * collector has not taken yet, so the bound is loose; RETAINED_BOUND is the strict one.
 */
const BOUND = 96 * MiB;
/** Growth of what survives a full collection, read every CHECKPOINT bytes: flat means it does not grow with what was sent. */
const RETAINED_BOUND = 16 * MiB;
const CHECKPOINT = 32 * MiB;

/** A full garbage collection, without needing node --expose-gc. */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

/**
 * heap + buffers after a full collection. Buffers' memory is released a moment after the
 * collection that found them dead (off the main thread): two collections a turn apart.
 */
async function retained() {
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function checkRetained(label, points) {
  const growth = Math.max(...points) - points[0];
  console.log(`  ${label}: retained after GC every ${mib(CHECKPOINT)} MiB: ${points.map((p) => mib(p)).join(', ')} MiB (growth ${mib(growth)} MiB)`);
  assert.ok(growth < RETAINED_BOUND, `retained memory grew ${mib(growth)} MiB while sending`);
}
/** The most a producer that waits ever finds queued on its connection: the 16 KiB mark plus the chunk that crossed it, and framing. */
const BACKLOG_BOUND = 16 * 1024 + 2 * CHUNK.length;

function report(label, samples) {
  const base = samples[0];
  const peakHeap = Math.max(...samples.map((s) => s.heap + s.buffers)) - (base.heap + base.buffers);
  const peakRss = Math.max(...samples.map((s) => s.rss)) - base.rss;
  const seconds = (samples.at(-1).t - base.t) / 1000;
  console.log(
    `${label}: ${mib(TOTAL)} MiB in ${seconds.toFixed(1)} s (${mib(TOTAL / seconds)} MiB/s); heap+buffers peak +${mib(peakHeap)} MiB, rss peak +${mib(peakRss)} MiB over ${samples.length} samples`,
  );
  return { peakHeap, peakRss };
}

for (const mode of ['ws', 'tcp']) {
  test(`${mode}: a server producer that waits for drain pushes ${TOTAL / MiB} MiB through a slow reader with flat memory`, { timeout: 120_000 }, async () => {
    const server = await startServer();
    const contexts = [];
    server.onConnection((ctx) => contexts.push(ctx));
    const peer = await slowPeer(server, mode, { rate: RATE });
    try {
      const ctx = await until(() => contexts[0], 'the connection');
      let sent = 0;
      let falses = 0;
      const points = [await retained()];
      const memory = sampleMemory();
      let backlog = 0;
      while (sent < TOTAL) {
        sent += CHUNK.length;
        if (sent % CHECKPOINT === 0) points.push(await retained());
        if (!ctx.emitBinary('chunk', CHUNK)) {
          falses++;
          backlog = Math.max(backlog, ctx.bufferedAmount);
          await ctx.drained();
        }
      }
      await until(() => peer.bytes >= TOTAL, 'everything read', 60_000);
      const { peakHeap } = report(`${mode} server->client`, memory.stop());
      console.log(`  largest backlog on the connection: ${backlog} bytes; emit answered false ${falses} times`);
      assert.ok(falses > 0, 'the slow reader made emit answer false');
      assert.ok(backlog <= BACKLOG_BOUND, `backlog ${backlog}`);
      checkRetained(`${mode} server->client`, points);
      assert.ok(peakHeap < BOUND, `heap+buffers grew ${mib(peakHeap)} MiB (bound ${mib(BOUND)})`);
      assert.equal(server.getStats().activeConnections, 1, 'never cut as a slow consumer');
    } finally {
      peer.destroy();
      await server.stop();
    }
  });

  test(`${mode}: a client producer that waits for 'drain' pushes ${TOTAL / MiB} MiB to a slow server with flat memory`, { timeout: 120_000 }, async () => {
    const server = await startServer();
    let received = 0;
    server.on('chunk', (ctx) => {
      received += ctx.data.length;
    });
    // The slow link: the server side reads this client at RATE.
    server.onConnection((ctx) => {
      const socket = ctx.socket;
      let start = Date.now();
      let bytes = 0;
      socket.on('data', (chunk) => {
        bytes += chunk.length;
        const wait = start + (bytes / RATE) * 1000 - Date.now();
        if (wait > 2 && !socket.isPaused()) {
          socket.pause();
          setTimeout(() => socket.resume(), wait);
        }
        if (bytes > 16 * MiB) {
          start = Date.now();
          bytes = 0;
        }
      });
    });
    const address = mode === 'tcp' ? `${HOST}:${server.getTcpPort()}` : server.getPort();
    const client = new StelarClient(address, { mode, logger: false });
    try {
      await new Promise((resolve) => client.connect(resolve));
      let sent = 0;
      let falses = 0;
      const points = [await retained()];
      const memory = sampleMemory();
      let backlog = 0;
      while (sent < TOTAL) {
        sent += CHUNK.length;
        if (sent % CHECKPOINT === 0) points.push(await retained());
        if (!client.emit('chunk', CHUNK)) {
          falses++;
          backlog = Math.max(backlog, client.bufferedAmount);
          await new Promise((resolve) => client.once('drain', resolve));
        }
      }
      await until(() => received >= TOTAL, 'everything received', 60_000);
      const { peakHeap } = report(`${mode} client->server`, memory.stop());
      console.log(`  largest backlog on the connection: ${backlog} bytes; emit answered false ${falses} times`);
      assert.ok(falses > 0);
      assert.ok(backlog <= BACKLOG_BOUND, `backlog ${backlog}`);
      checkRetained(`${mode} client->server`, points);
      assert.ok(peakHeap < BOUND, `heap+buffers grew ${mib(peakHeap)} MiB (bound ${mib(BOUND)})`);
      assert.equal(client.isConnected(), true);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
}
