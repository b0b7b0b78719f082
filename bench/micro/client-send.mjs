#!/usr/bin/env node
/**
 * Client CPU per message sent: StelarClient (ws and tcp) against the `ws` package's client
 * sending the same encoded packets (binary messages, encoded by a minimal hand-written Node
 * encoder checked byte for byte against `encodePacket`) to the same StelarServer.
 *
 *   node bench/micro/client-send.mjs                       # this checkout's dist/
 *   node bench/micro/client-send.mjs --base /tmp/wt-send-base/dist   # + rows for an older build
 *   CLIENT_SEND_BASE=/tmp/wt-send-base/dist node bench/micro/client-send.mjs
 *
 * Every measurement runs in a fresh client process (the server in its own, from this
 * checkout's dist/ or --server-dist): `clients` senders, each sending `batch` ~100-byte JSON
 * events per turn, one turn every `interval` ms (0 = setImmediate), the same pacing for every
 * row so each coalesces the same number of messages per tick. The measured window starts after
 * a warm-up of `warmup` messages per sender and ends when an ACK request sent behind the last
 * event comes back (so everything was written). CPU is process.cpuUsage() of the client
 * process. Rows are interleaved per round; medians of `runs` rounds; ratios against the ws row.
 * `--cpu-prof DIR` writes a CPU profile of every client process to DIR.
 */
import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from '../lib/targets.mjs';

const SELF = fileURLToPath(import.meta.url);
const { values: opts } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    kind: { type: 'string' },
    dist: { type: 'string' },
    base: { type: 'string', default: process.env.CLIENT_SEND_BASE },
    'server-dist': { type: 'string' },
    kinds: { type: 'string', default: 'stelar-ws,stelar-tcp,ws' },
    runs: { type: 'string', default: '5' },
    clients: { type: 'string', default: '50' },
    'per-client': { type: 'string', default: '4000' },
    warmup: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '32' },
    interval: { type: 'string', default: '10' },
    'cpu-prof': { type: 'string' },
  },
});
const num = (name) => Number(opts[name]);
const HOST = '127.0.0.1';
const EVENT = 'ev';
/** About 100 bytes of JSON, like a cursor or presence update. */
const payload = (n) => ({ type: 'cursor', text: 'cursor moved', user: 'user-0042', room: 'lobby', x: 1234, y: 567, n });

const load = (dist, p) => import(pathToFileURL(join(dist, p)).href);

// ---------------------------------------------------------------------------------------- server

async function serverRole() {
  const { StelarServer } = await load(opts['server-dist'] ?? join(ROOT, 'dist'), 'index.js');
  const server = new StelarServer({
    port: 0,
    tcpPort: 0,
    host: HOST,
    maxConnections: 100_000,
    maxConnectionsPerIP: 100_000,
    connectionRateLimit: false,
    rateLimit: false,
    logger: false,
    gracefulShutdown: false,
    heartbeatInterval: 30_000,
    heartbeatTimeout: 600_000,
  });
  let received = 0;
  server.on(EVENT, () => {
    received++;
  });
  server.onAck('echo', (ctx) => ctx.data);
  await server.start();
  process.on('message', (msg) => {
    if (msg.cmd === 'take') {
      process.send({ received });
      received = 0;
    } else if (msg.cmd === 'exit') server.stop().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ports: { ws: server.getPort(), tcp: server.getTcpPort() } });
}

// ---------------------------------------------------------------------------------------- clients

/** The packet `encodePacket({ type: JSON, event, data })` gives, in one Buffer: what a lean hand-written client would send. */
function jsonPacket(type, event, data) {
  const text = JSON.stringify(data);
  const eventLen = Buffer.byteLength(event);
  const out = Buffer.allocUnsafe(3 + eventLen + Buffer.byteLength(text));
  out[0] = type;
  out.writeUInt16BE(eventLen, 1);
  out.write(event, 3, 'latin1');
  out.write(text, 3 + eventLen, 'utf8');
  return out;
}

async function wsClient(ports, protocol) {
  const { default: WebSocket } = await import('ws');
  const { encodePacket, decodePacket, PacketType } = protocol;
  const probe = payload(7);
  if (!Buffer.from(encodePacket({ type: PacketType.JSON, event: EVENT, data: probe })).equals(jsonPacket(PacketType.JSON, EVENT, probe))) {
    throw new Error('the ws row would not send the bytes encodePacket gives');
  }
  const ws = new WebSocket(`ws://${HOST}:${ports.ws}/`, { perMessageDeflate: false });
  let waiting = null;
  ws.on('message', (buf) => {
    const packet = decodePacket(buf);
    if (packet.type === PacketType.CONNECT || packet.type === PacketType.ACK_RESPONSE) {
      const w = waiting;
      waiting = null;
      w?.();
    }
  });
  await new Promise((res, rej) => {
    ws.once('open', res);
    ws.once('error', rej);
  });
  const reply = () => new Promise((res) => (waiting = res));
  ws.send(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1 } }));
  await reply();
  let ackId = 1;
  return {
    sendBatch(from, n) {
      // Corked like the bench generator: one socket write per batch, as the StelarClient's per-tick flush.
      ws._socket.cork();
      for (let i = 0; i < n; i++) ws.send(jsonPacket(PacketType.JSON, EVENT, payload(from + i)));
      ws._socket.uncork();
    },
    sync() {
      ws.send(encodePacket({ type: PacketType.ACK_REQUEST, event: 'echo', ackId: ackId++, data: 1 }));
      return reply();
    },
    close: () => ws.terminate(),
  };
}

async function stelarClient(ports, mode, dist) {
  const { StelarClient } = await load(dist, 'client/index.js');
  const sc = new StelarClient(`${HOST}:${mode === 'tcp' ? ports.tcp : ports.ws}`, { mode, reconnection: false, logger: false });
  await new Promise((res, rej) => {
    sc.on('error', rej);
    sc.connect(res);
  });
  return {
    sendBatch(from, n) {
      for (let i = 0; i < n; i++) sc.emit(EVENT, payload(from + i));
    },
    sync: () => sc.request('echo', 1),
    close: () => sc.disconnect(),
  };
}

async function clientRole() {
  const { ports } = JSON.parse(process.env.CLIENT_SEND_PORTS);
  const kind = opts.kind;
  const dist = resolve(opts.dist);
  const protocol = await load(join(ROOT, 'dist'), 'protocol/index.js');
  const open = () => (kind === 'ws' ? wsClient(ports, protocol) : stelarClient(ports, kind === 'stelar-tcp' ? 'tcp' : 'ws', dist));
  const clients = [];
  for (let i = 0; i < num('clients'); i++) clients.push(await open());
  const batch = num('batch');
  const interval = num('interval');
  const phase = (perClient) =>
    new Promise((done, fail) => {
      let sent = 0;
      const turn = () => {
        const n = Math.min(batch, perClient - sent);
        for (const c of clients) c.sendBatch(sent, n);
        sent += n;
        if (sent < perClient) {
          if (interval > 0) setTimeout(turn, interval);
          else setImmediate(turn);
        } else Promise.all(clients.map((c) => c.sync())).then(done, fail);
      };
      turn();
    });
  await phase(num('warmup'));
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  await phase(num('per-client'));
  const cpu = process.cpuUsage(cpu0);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  for (const c of clients) c.close();
  const msgs = num('clients') * num('per-client');
  process.send({ msgs, cpuUs: cpu.user + cpu.system, ms });
  setTimeout(() => process.exit(0), 200);
}

// ---------------------------------------------------------------------------------------- main

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function once(child) {
  return new Promise((res, rej) => {
    child.once('message', res);
    child.once('exit', (code) => rej(new Error(`child exited with ${code}`)));
  });
}

async function main() {
  const server = fork(SELF, ['--role', 'server', ...(opts['server-dist'] ? ['--server-dist', opts['server-dist']] : [])], { stdio: 'inherit' });
  const { ports } = await once(server);
  const rows = [];
  for (const kind of opts.kinds.split(',')) {
    rows.push({ name: kind, kind, dist: join(ROOT, 'dist') });
    if (opts.base && kind !== 'ws') rows.push({ name: `${kind} (base)`, kind, dist: resolve(opts.base) });
  }
  const profDir = opts['cpu-prof'] ? resolve(opts['cpu-prof']) : null;
  if (profDir) mkdirSync(profDir, { recursive: true });
  const pass = ['clients', 'per-client', 'warmup', 'batch', 'interval'].flatMap((k) => [`--${k}`, opts[k]]);
  const runs = num('runs');
  for (let r = 0; r < runs; r++) {
    for (const row of rows) {
      const execArgv = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${row.name.replace(/\W+/g, '-')}-${r}.cpuprofile`] : [];
      const child = fork(SELF, ['--role', 'client', '--kind', row.kind, '--dist', row.dist, ...pass], {
        stdio: 'inherit',
        execArgv,
        env: { ...process.env, CLIENT_SEND_PORTS: JSON.stringify({ ports }) },
      });
      const result = await once(child);
      await new Promise((res) => child.once('exit', res));
      server.send({ cmd: 'take' });
      const { received } = await once(server);
      const expected = num('clients') * (num('warmup') + num('per-client'));
      if (received !== expected) throw new Error(`${row.name}: the server received ${received} events, expected ${expected}`);
      (row.cpu ??= []).push(result.cpuUs / result.msgs);
      (row.rate ??= []).push(result.msgs / (result.ms / 1000));
      console.error(`round ${r + 1}/${runs} ${row.name.padEnd(20)} ${(result.cpuUs / result.msgs).toFixed(3)} µs/msg`);
    }
  }
  server.send({ cmd: 'exit' });
  const ws = rows.find((row) => row.kind === 'ws');
  const wsCpu = ws ? median(ws.cpu) : null;
  console.log(
    `\nclient CPU per message sent: ${opts.clients} senders, batch ${opts.batch} every ${opts.interval} ms, ${opts['per-client']} msgs each, median of ${runs}\n`,
  );
  console.log('| client | CPU/msg (µs) | x ws | msgs/s |');
  console.log('|---|---:|---:|---:|');
  for (const row of rows) {
    const cpu = median(row.cpu);
    const ratio = wsCpu ? (cpu / wsCpu).toFixed(2) : '-';
    console.log(`| ${row.name} | ${cpu.toFixed(3)} | ${ratio} | ${Math.round(median(row.rate))} |`);
  }
}

if (opts.role === 'server') await serverRole();
else if (opts.role === 'client') await clientRole();
else await main();
