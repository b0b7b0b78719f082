#!/usr/bin/env node
/**
 * Fan-out micro-benchmark (issue 14): server CPU per delivery and idle memory per connection.
 *
 *   node bench/micro/fanout.mjs [--dist DIR[,DIR2]] [--only ws,tcp,uws,floor] [--clients 1000]
 *     [--messages 1000] [--batch 10] [--idle 5000] [--runs 5] [--no-cpu] [--no-idle]
 *     [--metrics-ab] (each build twice, alternating: plain, then with `metrics: true`;
 *                     STELAR_BENCH_METRICS=1 instead turns metrics on for every stelar run)
 *     [--prof DIR]   (the server profiles each broadcast window: DIR/<kind>-<pid>.cpuprofile, see bench/lib/cpu-top.mjs)
 *     [--heap DIR]   (idle runs write heap snapshots before/after to DIR: bench/lib/heap-diff.mjs)
 *
 * The server runs in a child process (`--expose-gc`): a StelarServer loaded from `--dist`
 * (default: this checkout's dist/, so an older build can be measured side by side), or
 * uWebSockets.js as the reference when its binary loads. Clients live in this process and
 * are hand-encoded: Connect + Join Room packets over raw `net` for TCP, over the `ws`
 * package for WebSocket (uWS: a JSON join, its topics are the room).
 *
 * CPU: N clients join one room, the server broadcasts M small JSON messages (`batch` per
 * event-loop turn, as bench/servers/host.mjs does); process.cpuUsage() in the server covers
 * the first broadcast until every client holds every message (the parent checks the count).
 * Memory: K connections that did their handshake and then sit idle; heap + external of the
 * server after global.gc(), minus the same before the first connection, divided by K.
 * Medians of `runs` fresh server processes per target.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { setImmediate as tick } from 'node:timers/promises';
import { benchMetricsOptions, loadUws, ROOT } from '../lib/targets.mjs';
import { BROADCAST_TEXT, ROOM } from '../lib/payloads.mjs';

const HOST = '127.0.0.1';
const SELF = fileURLToPath(import.meta.url);

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}
const flag = (name) => process.argv.includes(`--${name}`);

// ---- server side (child process) ----------------------------------------------------------

async function startServer(kind, dist) {
  if (kind === 'uws') {
    const uws = loadUws();
    const app = uws.App();
    app.ws('/*', {
      compression: uws.DISABLED,
      maxPayloadLength: 1024 * 1024,
      maxBackpressure: 64 * 1024 * 1024,
      closeOnBackpressureLimit: false,
      idleTimeout: 0,
      message(ws, message) {
        const msg = JSON.parse(Buffer.from(message).toString());
        if (msg.t === 'join') {
          ws.subscribe(msg.room);
          ws.send('{"t":"joined"}', false);
        }
      },
    });
    const token = await new Promise((ok, fail) => app.listen(HOST, 0, (t) => (t ? ok(t) : fail(new Error('uWS listen failed')))));
    return { port: uws.us_socket_local_port(token), broadcast: (data) => app.publish(ROOM, JSON.stringify({ t: 'b', d: data }), false) };
  }
  if (kind === 'floor') return startFloor();
  const { StelarServer, SERVER_DEFAULTS } = await import(pathToFileURL(join(dist, 'index.js')).href);
  const extra = 'connectionRateLimit' in SERVER_DEFAULTS ? { connectionRateLimit: false } : {};
  const server = new StelarServer({
    port: 0,
    tcpPort: 0,
    host: HOST,
    maxConnections: 1_000_000,
    maxConnectionsPerIP: 1_000_000,
    rateLimit: false,
    logger: false,
    gracefulShutdown: false,
    heartbeatInterval: 30_000,
    heartbeatTimeout: 600_000,
    ...extra,
    ...benchMetricsOptions(SERVER_DEFAULTS),
  });
  await server.start();
  return { port: kind === 'tcp' ? server.getTcpPort() : server.getPort(), broadcast: (data) => server.to(ROOM, 'b', data) };
}

/**
 * The floor for a Node server using socket.write: the TCP protocol with no library at all.
 * Every socket gets one write per tick of one Buffer joined once for all (no per-recipient
 * work but the write itself): what is left of a stelar delivery above this is ours.
 */
async function startFloor() {
  const sockets = new Set();
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('data', (chunk) => {
      // Connect or Join (each arrives whole from the bench client): answer with the same type.
      const type = chunk[4];
      if (type === 6) s.write(tcpFrame(packet(6, '', { v: 1, id: 'x' })));
      else if (type === 8) {
        sockets.add(s);
        s.write(tcpFrame(packet(8, ROOM)));
      }
    });
  });
  await new Promise((ok) => server.listen(0, HOST, ok));
  let pending = [];
  const flush = () => {
    const buf = Buffer.concat(pending);
    pending = [];
    for (const s of sockets) s.write(buf);
  };
  return {
    port: server.address().port,
    broadcast(data) {
      if (pending.length === 0) process.nextTick(flush);
      pending.push(tcpFrame(packet(0, 'b', data)));
    },
  };
}

function memory() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, rss: m.rss };
}

async function child() {
  const kind = arg('child');
  const server = await startServer(kind, resolve(arg('dist')));
  let window = null;
  let enqueueUs = 0;
  // FANOUT_SPLIT=1 also times the broadcast calls alone (two getrusage calls per broadcast: not in the default numbers).
  const split = Boolean(process.env.FANOUT_SPLIT);
  // --prof: a CPU profile of the broadcast window only (not the handshakes before it).
  const prof = arg('prof');
  const inspector = prof ? new (await import('node:inspector')).Session() : null;
  const post = (method, params) => new Promise((ok, fail) => inspector.post(method, params, (err, res) => (err ? fail(err) : ok(res))));
  if (inspector) {
    inspector.connect();
    await post('Profiler.enable');
  }
  process.on('message', async (msg) => {
    if (msg.cmd === 'mem') {
      const value = memory();
      if (msg.snapshot) writeHeapSnapshot(msg.snapshot);
      process.send({ id: msg.id, value });
    } else if (msg.cmd === 'broadcast') {
      global.gc();
      if (inspector) await post('Profiler.start');
      window = process.cpuUsage();
      process.send({ id: msg.id, value: true });
      enqueueUs = 0;
      for (let seq = 0; seq < msg.count; seq++) {
        if (split) {
          const t0 = process.cpuUsage();
          server.broadcast({ seq, text: BROADCAST_TEXT });
          const t = process.cpuUsage(t0);
          enqueueUs += t.user + t.system;
        } else server.broadcast({ seq, text: BROADCAST_TEXT });
        if (seq % msg.batch === msg.batch - 1) await tick();
      }
    } else if (msg.cmd === 'stop') {
      const cpu = process.cpuUsage(window);
      if (inspector) {
        const { profile } = await post('Profiler.stop');
        writeFileSync(join(prof, `${kind}-${process.pid}.cpuprofile`), JSON.stringify(profile));
      }
      // FANOUT_SPLIT=1: user/system CPU of the window, and the synchronous part of the broadcast
      // calls alone (encode, adapter, sessions, queueing: everything before the flush).
      if (split) console.error(`${kind}: user ${cpu.user} µs, system ${cpu.system} µs, broadcast calls ${enqueueUs} µs`);
      process.send({ id: msg.id, value: cpu.user + cpu.system });
    } else if (msg.cmd === 'exit') process.exit(0);
  });
  process.send({ ready: true, port: server.port });
}

// ---- clients (this process) ---------------------------------------------------------------

function packet(type, event, json) {
  const ev = Buffer.from(event);
  const body = json === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(json));
  const out = Buffer.alloc(3 + ev.length + body.length);
  out[0] = type;
  out.writeUInt16BE(ev.length, 1);
  ev.copy(out, 3);
  body.copy(out, 3 + ev.length);
  return out;
}
const CONNECT = packet(6, '', { v: 1 });
const JOIN = packet(8, ROOM);
const tcpFrame = (p) => {
  const out = Buffer.alloc(4 + p.length);
  out.writeUInt32BE(out.length, 0);
  p.copy(out, 4);
  return out;
};

/** One client: resolves once it is connected (and in the room when `join`); `onMessage` counts broadcasts. */
function openTcp(port, join, onMessage) {
  return new Promise((ok, fail) => {
    const s = connect({ host: HOST, port });
    s.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let phase = 0; // 0 awaiting Connect, 1 awaiting Join echo, 2 live
    s.on('error', fail);
    s.on('connect', () => s.write(tcpFrame(CONNECT)));
    s.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let o = 0;
      while (buf.length - o >= 4) {
        const n = buf.readUInt32BE(o);
        if (buf.length - o < n) break;
        const type = buf[o + 4];
        o += n;
        if (phase === 2) onMessage();
        else if (phase === 0 && type === 6) {
          if (join) {
            phase = 1;
            s.write(tcpFrame(JOIN));
          } else {
            phase = 2;
            ok(s);
          }
        } else if (phase === 1 && type === 8) {
          phase = 2;
          ok(s);
        } else fail(new Error(`unexpected packet type ${type}`));
      }
      buf = o === buf.length ? Buffer.alloc(0) : buf.subarray(o);
    });
  });
}

const require = createRequire(join(ROOT, 'package.json'));
const WS = require('ws');

function openWs(kind, port, join, onMessage) {
  return new Promise((ok, fail) => {
    const ws = new WS(`ws://${HOST}:${port}/`, { perMessageDeflate: false });
    let phase = 0;
    ws.on('error', fail);
    const live = () => {
      phase = 2;
      ok(ws);
    };
    ws.on('open', () => {
      if (kind === 'uws') {
        if (join) {
          phase = 1;
          ws.send(JSON.stringify({ t: 'join', room: ROOM }));
        } else live();
      } else ws.send(CONNECT);
    });
    ws.on('message', (data) => {
      if (phase === 2) return onMessage();
      if (kind === 'uws') return phase === 1 ? live() : undefined;
      const type = data[0];
      if (phase === 0 && type === 6) {
        if (!join) return live();
        phase = 1;
        ws.send(JOIN);
      } else if (phase === 1 && type === 8) live();
      else fail(new Error(`unexpected packet type ${type}`));
    });
  });
}

async function openMany(kind, port, count, join, onMessage) {
  const out = [];
  for (let i = 0; i < count; i += 100) {
    const n = Math.min(100, count - i);
    const batch = Array.from({ length: n }, () => (kind === 'tcp' || kind === 'floor' ? openTcp(port, join, onMessage) : openWs(kind, port, join, onMessage)));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** `dist` may end in '+metrics' (--metrics-ab): that server runs with metrics on. */
function spawnServer(kind, dist) {
  const prof = arg('prof');
  const metrics = dist.endsWith(METRICS_SUFFIX);
  const dir = metrics ? dist.slice(0, -METRICS_SUFFIX.length) : dist;
  const proc = fork(SELF, ['--child', kind, '--dist', dir, ...(prof ? ['--prof', resolve(prof)] : [])], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: metrics ? { ...process.env, STELAR_BENCH_METRICS: '1' } : process.env,
  });
  let next = 0;
  const waiting = new Map();
  const ready = new Promise((ok, fail) => {
    proc.once('exit', (code) => fail(new Error(`server exited with ${code}`)));
    proc.on('message', (msg) => {
      if (msg.ready) ok(msg.port);
      else waiting.get(msg.id)?.(msg.value);
    });
  });
  const call = (cmd, extra = {}) =>
    new Promise((ok) => {
      const id = ++next;
      waiting.set(id, ok);
      proc.send({ cmd, id, ...extra });
    });
  return { ready, call, kill: () => proc.send({ cmd: 'exit' }) };
}

const METRICS_SUFFIX = '+metrics';

const close = (c) => (typeof c.terminate === 'function' ? c.terminate() : c.destroy());

async function cpuRun(kind, dist, clients, messages, batch) {
  const server = spawnServer(kind, dist);
  const port = await server.ready;
  const expected = clients * messages;
  let received = 0;
  let done;
  const all = new Promise((r) => (done = r));
  const conns = await openMany(kind, port, clients, true, () => {
    if (++received === expected) done();
  });
  await server.call('broadcast', { count: messages, batch });
  const timeout = setTimeout(() => done(), 120_000);
  await all;
  clearTimeout(timeout);
  const cpuUs = await server.call('stop');
  if (received !== expected) throw new Error(`${kind}: ${received} of ${expected} deliveries arrived`);
  conns.forEach(close);
  server.kill();
  return cpuUs / expected;
}

async function idleRun(kind, dist, count) {
  const server = spawnServer(kind, dist);
  const port = await server.ready;
  // Warm the code paths first (one connection), so compiled code is not counted per connection.
  const warm = await openMany(kind, port, 1, false, () => {});
  const heap = arg('heap');
  const before = await server.call('mem', heap ? { snapshot: join(heap, `${kind}.before.heapsnapshot`) } : {});
  const conns = await openMany(kind, port, count, false, () => {});
  await new Promise((r) => setTimeout(r, 500));
  const after = await server.call('mem', heap ? { snapshot: join(heap, `${kind}.after.heapsnapshot`) } : {});
  [...warm, ...conns].forEach(close);
  server.kill();
  return { retained: (after.heap + after.external - before.heap - before.external) / count, rss: (after.rss - before.rss) / count };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  // Several builds, comma-separated: their runs alternate (A B A B ...), so a busy machine
  // weighs on each alike and the ratio between them holds.
  const dirs = arg('dist', join(ROOT, 'dist'))
    .split(',')
    .map((d) => resolve(d));
  const dists = flag('metrics-ab') ? dirs.flatMap((d) => [d, d + METRICS_SUFFIX]) : dirs;
  const kinds = arg('only', 'ws,tcp,uws').split(',');
  const clients = Number(arg('clients', 1000));
  const messages = Number(arg('messages', 1000));
  const batch = Number(arg('batch', 10));
  const idle = Number(arg('idle', 5000));
  const runs = Number(arg('runs', 5));
  console.log(`fan-out: clients=${clients} messages=${messages} batch=${batch} idle=${idle} runs=${runs}`);
  for (let i = 0; i < dists.length; i++) console.log(`  build ${String.fromCharCode(65 + i)}: ${dists[i]}`);
  for (const kind of kinds) {
    if (kind === 'uws') {
      try {
        loadUws();
      } catch (err) {
        console.log(`uws: skipped (${err.message})`);
        continue;
      }
    }
    // uWS and the floor do not load a build: one series.
    const builds = kind === 'uws' || kind === 'floor' ? [dists[0]] : dists;
    const label = (i) =>
      kind === 'uws' ? 'uWS' : kind === 'floor' ? 'node floor' : `stelar ${kind}${builds.length > 1 ? ` ${String.fromCharCode(65 + i)}` : ''}`;
    if (!flag('no-cpu')) {
      const xs = builds.map(() => []);
      for (let r = 0; r < runs; r++) for (let i = 0; i < builds.length; i++) xs[i].push(await cpuRun(kind, builds[i], clients, messages, batch));
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i];
        console.log(`${label(i).padEnd(13)} CPU/delivery  median ${median(x).toFixed(3)} µs  runs ${x.map((v) => v.toFixed(3)).join(' ')}`);
      }
    }
    if (!flag('no-idle')) {
      const xs = builds.map(() => []);
      for (let r = 0; r < runs; r++) for (let i = 0; i < builds.length; i++) xs[i].push(await idleRun(kind, builds[i], idle));
      xs.forEach((x, i) => {
        const kb = x.map((v) => v.retained / 1024);
        const rss = median(x.map((v) => v.rss)) / 1024;
        console.log(
          `${label(i).padEnd(13)} idle/conn     median ${median(kb).toFixed(2)} KB heap+external (RSS ${rss.toFixed(2)} KB)  runs ${kb.map((v) => v.toFixed(2)).join(' ')}`,
        );
      });
    }
  }
}

if (process.argv.includes('--child')) await child();
else await main();
