#!/usr/bin/env node
/**
 * Server CPU on the inbound path (issue 14). Each server runs alone in a child process and
 * measures its own CPU (process.cpuUsage) over a window of messages it handled; this process
 * is the load generator: raw loopback sockets writing pre-encoded bytes, so the generator's
 * cost never lands in the server's numbers.
 *
 *   flood: N small events written as fast as the socket takes them; server CPU per message.
 *   ack:   sequential ACK round trips on one client; server CPU per round trip.
 *
 * Targets: StelarServer over WebSocket and over TCP (hand-encoded packets, masked frames for
 * WebSocket), and "ws-app": the `ws` package + JSON.parse + a handler map looked up by event
 * name (what an application on ws does), fed JSON text frames. The stelar server keeps its
 * rate limits on (message and byte buckets, with limits too high to refuse anything) so their
 * bookkeeping is measured, as it runs by default.
 *
 *   node bench/micro/inbound.mjs [--runs 5] [--events 300000] [--acks 20000]
 *                                [--base-dist /tmp/wt-inbound-base/dist] [--only stelar-ws,ws-app]
 *                                [--metrics-ab]
 *
 * `--base-dist` adds the same stelar targets loaded from another build (before/after, run
 * back to back). `--metrics-ab` adds them again with `metrics: true` (stelar-ws+metrics,
 * stelar-tcp+metrics), interleaved with the plain ones; STELAR_BENCH_METRICS=1 instead turns
 * metrics on for every stelar target. Prints per-run numbers, medians and ratios against ws-app.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HOST = '127.0.0.1';
const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const DATA = { text: 'cursor moved', x: 123, y: 456 };

// ---------------------------------------------------------------------------------------
// The server child: `inbound.mjs --child <kind> <dist>`; reports { cpuUs, n } over IPC.

if (process.argv[2] === '--child') {
  const [kind, dist] = process.argv.slice(3);
  let count = 0;
  let window = null; // { start, from, to, cpu0 }
  const tick = () => {
    count++;
    if (window === null) return;
    if (count === window.from) window.cpu0 = process.cpuUsage();
    else if (count === window.to) {
      const d = process.cpuUsage(window.cpu0);
      process.send({ done: true, cpuUs: d.user + d.system, n: window.to - window.from });
      window = null;
    }
  };
  process.on('message', (m) => {
    if (m.window) {
      count = 0;
      window = { from: m.window.warmup, to: m.window.warmup + m.window.n, cpu0: null };
      process.send({ armed: true }); // the generator starts only now: no message is counted early
    } else if (m.exit) process.exit(0);
  });
  // The generator gone (finished, killed or crashed): so is this server.
  process.on('disconnect', () => process.exit(0));
  let port;
  if (kind === 'ws-app') {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false });
    const handlers = new Map([
      ['ev', () => tick()],
      [
        'echo',
        (ws, msg) => {
          tick();
          ws.send(JSON.stringify({ event: 'echo', id: msg.id, data: msg.data }));
        },
      ],
    ]);
    wss.on('connection', (ws) => {
      ws.on('message', (buf) => {
        const msg = JSON.parse(buf);
        const h = handlers.get(msg.event);
        if (h) h(ws, msg);
      });
    });
    await new Promise((r) => wss.once('listening', r));
    port = wss.address().port;
  } else {
    const { StelarServer, SERVER_DEFAULTS } = await import(pathToFileURL(join(dist, 'index.js')).href);
    const { benchMetricsOptions } = await import('../lib/targets.mjs');
    const server = new StelarServer({
      port: 0,
      tcpPort: 0,
      host: HOST,
      logger: false,
      gracefulShutdown: false,
      heartbeatInterval: 30_000,
      heartbeatTimeout: 600_000,
      // On, as by default, but never refusing: the bookkeeping is what is measured.
      rateLimit: { maxPoints: 1e12, windowMs: 1000 },
      byteRateLimit: { maxBytes: 1e15, windowMs: 1000 },
      ...benchMetricsOptions(SERVER_DEFAULTS),
    });
    server.on('ev', () => tick());
    server.onAck('echo', (ctx) => {
      tick();
      return ctx.data;
    });
    await server.start();
    port = kind === 'stelar-tcp' ? server.getTcpPort() : server.getPort();
  }
  process.send({ port });
}

// ---------------------------------------------------------------------------------------
// Encoding (by hand: the generator depends on no build).

function packet(type, event, body, ackId) {
  const ev = Buffer.from(event);
  const json = Buffer.from(body);
  const head = ackId === undefined ? 0 : 6;
  const out = Buffer.alloc(3 + ev.length + head + json.length);
  out[0] = type;
  out.writeUInt16BE(ev.length, 1);
  ev.copy(out, 3);
  if (ackId !== undefined) out.writeUInt32BE(ackId, 3 + ev.length); // ack name length 0 = the event
  json.copy(out, 3 + ev.length + head);
  return out;
}
const tcpFrame = (p) => {
  const out = Buffer.alloc(4 + p.length);
  out.writeUInt32BE(out.length, 0);
  p.copy(out, 4);
  return out;
};
const MASK = randomBytes(4);
function wsFrame(opcode, payload) {
  if (payload.length >= 126) throw new Error('small frames only');
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  MASK.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ MASK[i & 3];
  return out;
}

/** What the generator writes for each target. */
const ENC = {
  'stelar-ws': {
    hello: () => wsFrame(2, packet(6, '', JSON.stringify({ v: 1 }))),
    event: () => wsFrame(2, packet(0, 'ev', JSON.stringify(DATA))),
    ack: (id) => wsFrame(2, packet(4, 'echo', JSON.stringify(DATA), id)),
    ws: true,
  },
  'stelar-tcp': {
    hello: () => tcpFrame(packet(6, '', JSON.stringify({ v: 1 }))),
    event: () => tcpFrame(packet(0, 'ev', JSON.stringify(DATA))),
    ack: (id) => tcpFrame(packet(4, 'echo', JSON.stringify(DATA), id)),
    ws: false,
  },
  'ws-app': {
    hello: null,
    event: () => wsFrame(1, Buffer.from(JSON.stringify({ event: 'ev', data: DATA }))),
    ack: (id) => wsFrame(1, Buffer.from(JSON.stringify({ event: 'echo', id, data: DATA }))),
    ws: true,
  },
};

/** Counts whole frames from the server (unmasked WebSocket frames, or TCP length-prefixed ones). */
function frameCounter(ws, onFrame) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      let size;
      if (ws) {
        if (buf.length < 2) break;
        const len = buf[1] & 0x7f;
        if (len === 126) size = buf.length < 4 ? Infinity : 4 + buf.readUInt16BE(2);
        else if (len === 127) size = buf.length < 10 ? Infinity : 10 + Number(buf.readBigUInt64BE(2));
        else size = 2 + len;
      } else size = buf.length < 4 ? Infinity : buf.readUInt32BE(0);
      if (buf.length < size) break;
      const frame = buf.subarray(0, size);
      buf = buf.subarray(size);
      onFrame(frame);
    }
  };
}

async function dial(port, enc) {
  const s = net.connect({ host: HOST, port });
  s.setNoDelay(true);
  await new Promise((r, j) => {
    s.once('connect', r);
    s.once('error', j);
  });
  if (enc.ws) {
    s.write(
      `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await new Promise((r, j) => {
      let head = '';
      const onData = (chunk) => {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        s.off('data', onData);
        if (!head.startsWith('HTTP/1.1 101')) j(new Error(head));
        // Anything after the head is a frame: put it back.
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        if (rest.length) s.unshift(rest);
        r();
      };
      s.on('data', onData);
    });
  }
  if (enc.hello) {
    // Connect, then wait for the server's Connect answer (the first frame back).
    s.write(enc.hello());
    await new Promise((r) => {
      const onData = frameCounter(enc.ws, () => {
        s.off('data', onData);
        r();
      });
      s.on('data', onData);
    });
  }
  return s;
}

function startServer(kind, dist, metrics) {
  const env = metrics ? { ...process.env, STELAR_BENCH_METRICS: '1' } : process.env;
  const child = fork(fileURLToPath(import.meta.url), ['--child', kind, dist], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  return new Promise((r, j) => {
    child.once('message', (m) => r({ child, port: m.port }));
    child.once('exit', (code) => j(new Error(`${kind} server exited with ${code}`)));
  });
}

/** Tells the server its window and waits until it has it. */
function arm(child, warmup, n) {
  child.send({ window: { warmup, n } });
  return result(child);
}

const result = (child) => new Promise((r) => child.once('message', (m) => r(m)));

/** Floods `warmup + n` events; resolves with the server's CPU µs per event over the last n. */
async function flood(target, warmup, n) {
  const dbg = process.env.INBOUND_DEBUG ? (...a) => console.error(...a) : () => {};
  const { child, port } = await startServer(target.kind, target.dist, target.metrics);
  const enc = ENC[target.kind];
  dbg('started', port);
  const s = await dial(port, enc);
  dbg('dialled');
  s.on('data', () => {});
  await arm(child, warmup, n);
  const done = result(child);
  const one = enc.event();
  const per = 512;
  const chunk = Buffer.concat(Array.from({ length: per }, () => one));
  let sent = 0;
  const total = warmup + n;
  while (sent < total) {
    const k = Math.min(per, total - sent);
    const ok = s.write(k === per ? chunk : chunk.subarray(0, k * one.length));
    sent += k;
    if (!ok) await new Promise((r) => s.once('drain', r));
  }
  dbg('sent', sent);
  const m = await done;
  s.destroy();
  child.send({ exit: true });
  return m.cpuUs / m.n;
}

/** Sequential ACK round trips on one client; server CPU µs per round trip over the last n. */
async function pingPong(target, warmup, n) {
  const { child, port } = await startServer(target.kind, target.dist, target.metrics);
  const enc = ENC[target.kind];
  const s = await dial(port, enc);
  await arm(child, warmup, n);
  const done = result(child);
  const total = warmup + n;
  let id = 1;
  await new Promise((r) => {
    s.on(
      'data',
      frameCounter(enc.ws, () => {
        if (id > total) return r();
        s.write(enc.ack(id++));
      }),
    );
    s.write(enc.ack(id++));
  });
  const m = await done;
  s.destroy();
  child.send({ exit: true });
  return m.cpuUs / m.n;
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const runs = Number(arg('runs', 5));
  const events = Number(arg('events', 300_000));
  const acks = Number(arg('acks', 20_000));
  const base = arg('base-dist', null);
  const only = arg('only', null)?.split(',');
  const dist = resolve(arg('dist', join(ROOT, 'dist')));
  let targets = [
    { name: 'stelar-ws', kind: 'stelar-ws', dist },
    { name: 'stelar-tcp', kind: 'stelar-tcp', dist },
    { name: 'ws-app', kind: 'ws-app', dist },
  ];
  if (base) {
    targets.push({ name: 'stelar-ws@base', kind: 'stelar-ws', dist: resolve(base) });
    targets.push({ name: 'stelar-tcp@base', kind: 'stelar-tcp', dist: resolve(base) });
  }
  if (process.argv.includes('--metrics-ab')) {
    targets.push({ name: 'stelar-ws+metrics', kind: 'stelar-ws', dist, metrics: true });
    targets.push({ name: 'stelar-tcp+metrics', kind: 'stelar-tcp', dist, metrics: true });
  }
  if (only) targets = targets.filter((t) => only.includes(t.name));
  const flooded = new Map(targets.map((t) => [t.name, []]));
  const acked = new Map(targets.map((t) => [t.name, []]));
  console.log(`inbound: ${runs} runs; flood ${events} events (+20% warm-up); ${acks} sequential ACK round trips (+20% warm-up)`);
  for (let r = 0; r < runs; r++) {
    // Interleaved: every target sees the same machine load, run after run.
    for (const t of targets) {
      flooded.get(t.name).push(await flood(t, Math.round(events * 0.2), events));
      acked.get(t.name).push(await pingPong(t, Math.round(acks * 0.2), acks));
    }
    console.log(`run ${r + 1}: ` + targets.map((t) => `${t.name} ${flooded.get(t.name)[r].toFixed(3)} / ${acked.get(t.name)[r].toFixed(2)} µs`).join(', '));
  }
  const ref = (map) => (map.has('ws-app') ? median(map.get('ws-app')) : Number.NaN);
  console.log('\nserver CPU, median of runs (per inbound event | per ACK round trip), ratio to ws-app');
  for (const t of targets) {
    const f = median(flooded.get(t.name));
    const a = median(acked.get(t.name));
    console.log(
      `${t.name.padEnd(16)} ${f.toFixed(3).padStart(7)} µs/event (x${(f / ref(flooded)).toFixed(2)})   ${a.toFixed(2).padStart(6)} µs/round trip (x${(a / ref(acked)).toFixed(2)})`,
    );
  }
}

// Last, so every const above is initialised before the generator runs.
if (process.argv[2] !== '--child') await main();
