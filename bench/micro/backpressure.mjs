#!/usr/bin/env node
/**
 * Send-side backpressure over a slow link: how much memory a producer holds while it pushes a
 * lot of data to a peer that reads slowly, when it waits for drain (`ctx.emit()` /
 * `client.emit()` answered false) and when it does not.
 *
 *   node bench/micro/backpressure.mjs                         # 1 GiB each way, ws and tcp, 100 MiB/s
 *   node bench/micro/backpressure.mjs --mib 4096 --rate 200 --modes tcp
 *   node bench/micro/backpressure.mjs --ignore                # + rows for a producer that does not wait
 *
 * Two processes per row: the producer (a StelarServer pushing 64 KiB binary events to its one
 * client, or a StelarClient pushing them to its server) and the slow side (a raw reader, or a
 * StelarServer whose socket reads at `--rate` MiB/s). The producer's process prints its
 * memory every `--every` ms: rss, heap used, ArrayBuffer memory, and what survives a full
 * collection (`retained`, the number that must stay flat). A producer that does not wait
 * holds everything the link has not taken yet: on the server until `maxBufferedBytes` cuts the
 * client (raised here to 4 GiB to show the growth), on the client without limit.
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ROOT } from '../lib/targets.mjs';

const SELF = fileURLToPath(import.meta.url);
const { values: opts } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    mode: { type: 'string', default: 'ws' },
    direction: { type: 'string', default: 'server' },
    wait: { type: 'string', default: 'yes' },
    port: { type: 'string' },
    mib: { type: 'string', default: '1024' },
    rate: { type: 'string', default: '100' },
    every: { type: 'string', default: '500' },
    modes: { type: 'string', default: 'ws,tcp' },
    directions: { type: 'string', default: 'server,client' },
    ignore: { type: 'boolean', default: false },
    dist: { type: 'string', default: join(ROOT, 'dist') },
  },
});
const HOST = '127.0.0.1';
const MiB = 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 7);
const TOTAL = Number(opts.mib) * MiB;
const RATE = Number(opts.rate) * MiB;
const load = (p) => import(pathToFileURL(join(opts.dist, p)).href);
const mib = (n) => (n / MiB).toFixed(1);

// ---------------------------------------------------------------------------------------- memory

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

/** Prints the producer's memory every `every` ms; `sent()` says how far it got. */
function memoryLog(label, sent) {
  const t0 = Date.now();
  const peak = { rss: 0, heap: 0, buffers: 0, retained: 0 };
  let first = null;
  const line = async () => {
    const m = process.memoryUsage();
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const after = process.memoryUsage();
    const row = { rss: m.rss, heap: m.heapUsed, buffers: m.arrayBuffers, retained: after.heapUsed + after.arrayBuffers };
    first ??= row;
    for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], row[k]);
    console.log(
      `${label} t=${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s sent=${mib(sent()).padStart(7)} MiB  rss=${mib(row.rss).padStart(6)}  heap=${mib(row.heap).padStart(6)}  buffers=${mib(row.buffers).padStart(7)}  retained=${mib(row.retained).padStart(7)} MiB`,
    );
  };
  void line();
  const timer = setInterval(() => void line(), Number(opts.every));
  return {
    async stop() {
      clearInterval(timer);
      await line();
      return { first, peak, seconds: (Date.now() - t0) / 1000 };
    },
  };
}

// ---------------------------------------------------------------------------------------- roles

/** The slow side of a server->client row: a raw peer reading at RATE, counting bytes. */
async function slowReader() {
  const { encodePacket, PacketType } = await load('protocol/index.js');
  const port = Number(opts.port);
  let bytes = 0;
  let start = Date.now();
  let windowBytes = 0;
  let pause;
  let resume;
  let paused = false;
  const took = (n) => {
    bytes += n;
    windowBytes += n;
    const wait = start + (windowBytes / RATE) * 1000 - Date.now();
    if (wait > 2 && !paused) {
      paused = true;
      pause();
      setTimeout(() => {
        paused = false;
        resume();
      }, wait);
    }
    if (windowBytes > 64 * MiB) {
      start = Date.now();
      windowBytes = 0;
    }
    if (bytes >= TOTAL) process.send({ done: bytes });
  };
  if (opts.mode === 'tcp') {
    const socket = net.connect({ host: HOST, port });
    await new Promise((resolve) => socket.once('connect', resolve));
    pause = () => socket.pause();
    resume = () => socket.resume();
    socket.on('data', (chunk) => took(chunk.length));
    // Cut by the server (a producer that does not wait): nothing more will come.
    socket.on('close', () => process.send({ done: bytes }));
    socket.write(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1 } }, 4));
  } else {
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`ws://${HOST}:${port}/`, { perMessageDeflate: false });
    await new Promise((resolve) => ws.once('open', resolve));
    pause = () => ws.pause();
    resume = () => ws.resume();
    ws.on('message', (data) => took(data.length));
    ws.on('close', () => process.send({ done: bytes }));
    ws.send(encodePacket({ type: PacketType.CONNECT, event: '', data: { v: 1 } }));
  }
}

/** The producer of a server->client row: a StelarServer pushing TOTAL to its one client. */
async function serverProducer() {
  const { StelarServer } = await load('index.js');
  const waits = opts.wait === 'yes';
  const server = new StelarServer({
    port: 0,
    tcpPort: 0,
    host: HOST,
    logger: false,
    gracefulShutdown: false,
    rateLimit: false,
    byteRateLimit: false,
    // Not waiting, the backlog grows until this cap cuts the client: raised to show the growth.
    maxBufferedBytes: waits ? 8 * MiB : 4096 * MiB,
    hooks: { onSlowConsumer: ({ bufferedBytes }) => console.log(`  cut as a slow consumer with ${mib(bufferedBytes)} MiB queued`) },
  });
  let sent = 0;
  server.onConnection(async (ctx) => {
    const memory = memoryLog(`  server ${opts.mode}${waits ? '' : ' (not waiting)'}`, () => sent);
    let falses = 0;
    let backlog = 0;
    while (sent < TOTAL && ctx.clientInfo.connectedAt > 0) {
      sent += CHUNK.length;
      if (ctx.emitBinary('chunk', CHUNK)) continue;
      falses++;
      backlog = Math.max(backlog, ctx.bufferedAmount);
      if (waits) await ctx.drained().catch(() => {});
      else if (falses % 64 === 0) await new Promise((resolve) => setImmediate(resolve)); // let the socket write
    }
    process.once('message', async (msg) => {
      if (msg !== 'stop') return;
      process.send({ summary: { ...(await memory.stop()), falses, backlog } });
    });
    process.send({ produced: sent });
  });
  await server.start();
  process.send({ port: opts.mode === 'tcp' ? server.getTcpPort() : server.getPort() });
}

/** The slow side of a client->server row: a StelarServer reading its client at RATE. */
async function slowServer() {
  const { StelarServer } = await load('index.js');
  const server = new StelarServer({ port: 0, tcpPort: 0, host: HOST, logger: false, gracefulShutdown: false, rateLimit: false, byteRateLimit: false });
  let received = 0;
  server.on('chunk', (ctx) => {
    received += ctx.data.length;
    if (received >= TOTAL) process.send({ done: received });
  });
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
      if (bytes > 64 * MiB) {
        start = Date.now();
        bytes = 0;
      }
    });
  });
  await server.start();
  process.send({ port: opts.mode === 'tcp' ? server.getTcpPort() : server.getPort() });
}

/** The producer of a client->server row: a StelarClient pushing TOTAL. */
async function clientProducer() {
  const { StelarClient } = await load('client/index.js');
  const waits = opts.wait === 'yes';
  const client = new StelarClient(`${HOST}:${opts.port}`, { mode: opts.mode, logger: false, reconnection: false });
  await new Promise((resolve) => client.connect(resolve));
  let sent = 0;
  const memory = memoryLog(`  client ${opts.mode}${waits ? '' : ' (not waiting)'}`, () => sent);
  let falses = 0;
  let backlog = 0;
  while (sent < TOTAL) {
    sent += CHUNK.length;
    if (client.emit('chunk', CHUNK)) continue;
    falses++;
    backlog = Math.max(backlog, client.bufferedAmount);
    if (waits) await new Promise((resolve) => client.once('drain', resolve));
    else if (falses % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  process.once('message', async (msg) => {
    if (msg !== 'stop') return;
    process.send({ summary: { ...(await memory.stop()), falses, backlog } });
  });
  process.send({ produced: sent });
}

// ---------------------------------------------------------------------------------------- main

function child(role, extra) {
  const args = ['--role', role, '--mib', opts.mib, '--rate', opts.rate, '--every', opts.every, '--dist', opts.dist, ...extra];
  return fork(SELF, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

const message = (proc, key) =>
  new Promise((resolve, reject) => {
    const on = (msg) => {
      if (msg && typeof msg === 'object' && key in msg) {
        proc.off('message', on);
        resolve(msg[key]);
      }
    };
    proc.on('message', on);
    proc.once('exit', (code) => reject(new Error(`${key}: the child exited (${code})`)));
  });

async function row(mode, direction, wait) {
  const producerRole = direction === 'server' ? 'server-producer' : 'client-producer';
  const slowRole = direction === 'server' ? 'slow-reader' : 'slow-server';
  const common = ['--mode', mode, '--wait', wait ? 'yes' : 'no'];
  let producer;
  let slow;
  try {
    if (direction === 'server') {
      producer = child(producerRole, common);
      const port = await message(producer, 'port');
      slow = child(slowRole, [...common, '--port', String(port)]);
    } else {
      slow = child(slowRole, common);
      const port = await message(slow, 'port');
      producer = child(producerRole, [...common, '--port', String(port)]);
    }
    const done = message(slow, 'done');
    await message(producer, 'produced');
    // Not waiting, the server producer may cut its client: then nothing more arrives.
    await Promise.race([done, new Promise((resolve) => producer.once('exit', resolve))]);
    const summaryP = message(producer, 'summary');
    producer.send('stop');
    return await summaryP;
  } finally {
    producer?.kill();
    slow?.kill();
  }
}

async function main() {
  console.log(`backpressure: ${opts.mib} MiB per row in 64 KiB events, slow side at ${opts.rate} MiB/s; node ${process.version}`);
  const results = [];
  for (const direction of opts.directions.split(',')) {
    for (const mode of opts.modes.split(',')) {
      for (const wait of opts.ignore ? [true, false] : [true]) {
        const label = `${direction === 'server' ? 'ctx.emit (server->client)' : 'client.emit (client->server)'} ${mode}${wait ? '' : ', not waiting'}`;
        console.log(`\n${label}`);
        const r = await row(mode, direction, wait);
        results.push({ label, ...r });
      }
    }
  }
  console.log('\n| producer | MiB/s | emit false | largest backlog | rss start -> peak | retained start -> peak |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(
      `| ${r.label} | ${mib(TOTAL / r.seconds)} | ${r.falses} | ${(r.backlog / 1024).toFixed(0)} KiB | ${mib(r.first.rss)} -> ${mib(r.peak.rss)} MiB | ${mib(r.first.retained)} -> ${mib(r.peak.retained)} MiB |`,
    );
  }
}

const roles = { main, 'slow-reader': slowReader, 'server-producer': serverProducer, 'slow-server': slowServer, 'client-producer': clientProducer };
roles[opts.role]().catch((err) => {
  console.error(err);
  process.exit(1);
});
