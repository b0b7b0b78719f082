#!/usr/bin/env node
/**
 * permessage-deflate micro-benchmark (issue 16): server CPU and bytes on the wire per message,
 * with and without compression, for StelarServer and for the `ws` package.
 *
 *   node bench/micro/deflate.mjs [--runs 3] [--messages 5000] [--clients 200] [--broadcasts 300]
 *                                [--only echo,fanout] [--targets stelar-off,stelar-on,...]
 *
 * Two scenarios, each with three payloads: `chat` (a ~300-byte JSON chat message, under the
 * default 1 KiB threshold), `json` (a ~4 KB JSON list of chat messages, compressible) and
 * `random` (4 KB of random bytes, sent as binary: incompressible).
 *
 *   echo:   one client sends `messages` messages (100 in flight), the server sends each back.
 *           Server CPU per round trip; wire bytes per round trip (both directions, client side).
 *   fanout: `clients` clients in one room, the server broadcasts `broadcasts` messages.
 *           Server CPU per delivery; wire bytes per delivery.
 *
 * Targets (servers, each alone in a child process measuring its own process.cpuUsage()):
 *   stelar-off    StelarServer, perMessageDeflate off (the default)
 *   stelar-on     perMessageDeflate: true (threshold 1024, no context kept either way)
 *   stelar-on-t0  the same with threshold 0 (every message compressed)
 *   stelar-keep   perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false }
 *   ws-off        the `ws` package, JSON envelope + handler map (bench's ws-app), perMessageDeflate off
 *   ws-on         the same with perMessageDeflate: true (ws defaults: threshold 1024, contexts kept)
 * Clients are the `ws` package; with compression on they offer it and compress every message
 * (threshold 0), as browsers do. Medians of `runs` fresh server processes.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import { constants, deflateRawSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT } from '../lib/targets.mjs';

const HOST = '127.0.0.1';
const SELF = fileURLToPath(import.meta.url);
const WS = createRequire(join(ROOT, 'package.json'))('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

const TARGETS = {
  'stelar-off': { kind: 'stelar', deflate: false },
  'stelar-on': { kind: 'stelar', deflate: true },
  'stelar-on-t0': { kind: 'stelar', deflate: { threshold: 0 } },
  'stelar-keep': { kind: 'stelar', deflate: { serverNoContextTakeover: false, clientNoContextTakeover: false } },
  'ws-off': { kind: 'ws', deflate: false },
  'ws-on': { kind: 'ws', deflate: true },
};

// ---- payloads ------------------------------------------------------------------------------

const WORDS = 'hey anyone around for the meeting later I think we should move it to three works for me see you there'.split(' ');
let seed = 7;
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
const sentence = (n) => Array.from({ length: n }, () => WORDS[rand() % WORDS.length]).join(' ');
const chatMessage = (i) => ({
  id: `m-${100000 + i}`,
  room: 'general',
  user: { id: `u-${rand() % 500}`, name: 'Someone Example' },
  text: sentence(20),
  ts: 1767225600000 + i,
});
const PAYLOADS = {
  chat: () => chatMessage(rand()),
  json: () => ({ messages: Array.from({ length: 14 }, (_, i) => chatMessage(i)) }),
  random: () => randomBytes(4096),
};

// ---- server side (child process) -----------------------------------------------------------

async function startServer(target) {
  const { kind, deflate } = TARGETS[target];
  if (kind === 'stelar') {
    const { StelarServer } = await import(pathToFileURL(join(ROOT, 'dist', 'index.js')).href);
    const server = new StelarServer({
      port: 0,
      host: HOST,
      logger: false,
      gracefulShutdown: false,
      maxConnections: 100_000,
      maxConnectionsPerIP: 100_000,
      connectionRateLimit: false,
      rateLimit: false,
      byteRateLimit: false,
      heartbeatTimeout: 600_000,
      perMessageDeflate: deflate,
    });
    server.on('echo', (ctx) => (Buffer.isBuffer(ctx.data) ? ctx.emitBinary('echo', ctx.data) : ctx.emit('echo', ctx.data)));
    await server.start();
    // Bytes travel as a Binary packet, anything else as JSON.
    return { port: server.getPort(), broadcast: (data) => server.to('room', 'b', data) };
  }
  const wss = new WS.WebSocketServer({ port: 0, host: HOST, perMessageDeflate: deflate });
  const room = new Set();
  const handlers = new Map([
    ['echo', (ws, msg) => ws.send(JSON.stringify({ t: 'echo', d: msg.d }))],
    [
      'join',
      (ws) => {
        room.add(ws);
        ws.send('{"t":"joined"}');
      },
    ],
  ]);
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.send(data, { binary: true });
      const msg = JSON.parse(data);
      handlers.get(msg.t)?.(ws, msg);
    });
    ws.on('close', () => room.delete(ws));
  });
  await new Promise((resolve) => wss.on('listening', resolve));
  return {
    port: wss.address().port,
    broadcast(data) {
      // What an app on ws does: encode once, send to each member (ws compresses per member).
      const out = Buffer.isBuffer(data) ? data : JSON.stringify({ t: 'b', d: data });
      for (const ws of room) ws.send(out, { binary: Buffer.isBuffer(data) });
    },
  };
}

async function child() {
  const target = process.argv[process.argv.indexOf('--child') + 1];
  const server = await startServer(target);
  let from = null;
  process.on('message', async (msg) => {
    if (msg.cmd === 'start') {
      from = process.cpuUsage();
      process.send({ id: msg.id, value: true });
    } else if (msg.cmd === 'stop') {
      const cpu = process.cpuUsage(from);
      process.send({ id: msg.id, value: cpu.user + cpu.system });
    } else if (msg.cmd === 'broadcast') {
      from = process.cpuUsage();
      process.send({ id: msg.id, value: true });
      const make = PAYLOADS[msg.payload];
      for (let i = 0; i < msg.count; i++) {
        server.broadcast(make());
        if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
      }
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true, port: server.port });
}

// ---- clients (this process) ----------------------------------------------------------------

function spawnServer(target) {
  const proc = fork(SELF, ['--child', target], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: process.env.DEFLATE_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.DEFLATE_PROF}`] : [],
  });
  let next = 0;
  const waiting = new Map();
  const ready = new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${target} exited with ${code}`)));
    proc.on('message', (msg) => (msg.ready ? resolve(msg.port) : waiting.get(msg.id)?.(msg.value)));
  });
  const call = (cmd, extra = {}) =>
    new Promise((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      proc.send({ cmd, id, ...extra });
    });
  // Disconnecting lets the child exit by itself (and write its --cpu-prof, when profiled).
  return { ready, call, kill: () => proc.disconnect() };
}

function packet(type, event, body) {
  const ev = Buffer.from(event);
  const out = Buffer.alloc(3 + ev.length + body.length);
  out[0] = type;
  out.writeUInt16BE(ev.length, 1);
  ev.copy(out, 3);
  body.copy(out, 3 + ev.length);
  return out;
}
const STELAR_CONNECT = packet(6, '', Buffer.from('{"v":1}'));

/** One client of `target`, through its handshake (and into the room when `join`); `onMessage` counts the rest. */
async function openClient(target, port, compress, join, onMessage) {
  const kind = TARGETS[target].kind;
  const ws = new WS(`ws://${HOST}:${port}/`, { perMessageDeflate: compress ? { threshold: 0 } : false, maxPayload: 64 * 1024 * 1024 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const steps = [];
  if (kind === 'stelar') steps.push(() => ws.send(STELAR_CONNECT));
  // Stelar: a Join Room packet, answered by one Join Room packet.
  if (join) steps.push(() => ws.send(kind === 'stelar' ? packet(8, 'room', Buffer.alloc(0)) : '{"t":"join"}'));
  for (const step of steps) {
    const answered = new Promise((resolve) => ws.once('message', resolve));
    step();
    await answered;
  }
  ws.on('message', onMessage);
  return ws;
}

const wireOf = (sockets) => sockets.reduce((n, ws) => n + ws._socket.bytesRead + ws._socket.bytesWritten, 0);
const compresses = (target) => TARGETS[target].deflate !== false;

// ---- echo: a raw client, so every target sees the same arrival pattern ----------------------

/**
 * The echo client writes pre-built masked frames (compressed ahead of time, each message on its
 * own, when the target compresses: what a browser sends) in bursts of up to 100 in flight, and
 * counts the frames that come back. The `ws` client would compress on the thread pool as it
 * sends, one message per write: the server's numbers would then measure the client's pacing.
 */
const MASK = randomBytes(4);
function maskedFrame(opcode, payload, compressed) {
  const n = payload.length;
  const head = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
  const out = Buffer.alloc(head + 4 + n);
  out[0] = 0x80 | (compressed ? 0x40 : 0) | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n <= 0xffff) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  MASK.copy(out, head);
  for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i] ^ MASK[i & 3];
  return out;
}
function deflated(bytes) {
  const out = deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}
/** The frame of one echo request for a target's protocol, compressed or not. */
function echoFrame(kind, data, compress) {
  const binary = Buffer.isBuffer(data);
  let bytes;
  if (kind === 'stelar') bytes = binary ? packet(1, 'echo', data) : packet(0, 'echo', Buffer.from(JSON.stringify(data)));
  else bytes = binary ? data : Buffer.from(JSON.stringify({ t: 'echo', d: data }));
  const opcode = kind === 'stelar' || binary ? 2 : 1;
  return compress ? maskedFrame(opcode, deflated(bytes), true) : maskedFrame(opcode, bytes, false);
}

/** Counts whole server frames (unmasked) as they arrive. */
function frameCounter(onFrame) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (buf.length < 2) return;
      const len = buf[1] & 0x7f;
      const size =
        len === 126
          ? buf.length < 4
            ? Infinity
            : 4 + buf.readUInt16BE(2)
          : len === 127
            ? buf.length < 10
              ? Infinity
              : 10 + Number(buf.readBigUInt64BE(2))
            : 2 + len;
      if (buf.length < size) return;
      buf = buf.subarray(size);
      onFrame();
    }
  };
}

async function dialRaw(port, kind, compress) {
  const socket = net.connect({ host: HOST, port });
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      (compress ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : '') +
      '\r\n',
  );
  const head = await new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const rest = Buffer.from(text.slice(end + 4), 'latin1');
      if (rest.length) socket.unshift(rest);
      resolve(text.slice(0, end));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(head);
  if (compress !== /sec-websocket-extensions: permessage-deflate/i.test(head)) throw new Error(`compression not as expected: ${head}`);
  if (kind === 'stelar') {
    socket.write(maskedFrame(2, STELAR_CONNECT, false));
    await new Promise((resolve) => {
      const onData = frameCounter(() => {
        socket.off('data', onData);
        resolve();
      });
      socket.on('data', onData);
    });
  }
  return socket;
}

async function echoRun(target, payload, count) {
  const { kind } = TARGETS[target];
  const compress = compresses(target);
  const server = spawnServer(target);
  const port = await server.ready;
  const socket = await dialRaw(port, kind, compress);
  let received = 0;
  let wake = null;
  socket.on(
    'data',
    frameCounter(() => {
      received++;
      if (wake) wake();
    }),
  );
  const make = PAYLOADS[payload];
  const frames = Array.from({ length: 500 }, () => echoFrame(kind, make(), compress));
  // A warm-up pass, then the measured one.
  for (const n of [Math.min(2000, count), count]) {
    const measured = n === count;
    received = 0;
    let sent = 0;
    const wire0 = socket.bytesRead + socket.bytesWritten;
    if (measured) await server.call('start');
    while (received < n) {
      const burst = [];
      while (sent < n && sent - received + burst.length < 100) burst.push(frames[(sent + burst.length) % frames.length]);
      sent += burst.length;
      if (burst.length) socket.write(Buffer.concat(burst));
      await new Promise((resolve) => (wake = resolve));
      wake = null;
    }
    if (measured) {
      const cpu = await server.call('stop');
      const wire = socket.bytesRead + socket.bytesWritten - wire0;
      socket.destroy();
      server.kill();
      return { cpu: cpu / n, wire: wire / n };
    }
  }
}

async function fanoutRun(target, payload, clients, broadcasts) {
  const server = spawnServer(target);
  const port = await server.ready;
  let received = 0;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const expected = clients * broadcasts;
  const conns = [];
  for (let i = 0; i < clients; i += 50) {
    const batch = Array.from({ length: Math.min(50, clients - i) }, () =>
      openClient(target, port, compresses(target), true, () => {
        if (++received === expected) done();
      }),
    );
    conns.push(...(await Promise.all(batch)));
  }
  const wire0 = wireOf(conns);
  await server.call('broadcast', { payload, count: broadcasts });
  const guard = setTimeout(done, 120_000);
  await all;
  clearTimeout(guard);
  const cpu = await server.call('stop');
  const wire = wireOf(conns) - wire0;
  if (received !== expected) throw new Error(`${target}: ${received} of ${expected} deliveries`);
  for (const c of conns) c.terminate();
  server.kill();
  return { cpu: cpu / expected, wire: wire / expected };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const runs = Number(arg('runs', 3));
  const messages = Number(arg('messages', 5000));
  const clients = Number(arg('clients', 200));
  const broadcasts = Number(arg('broadcasts', 300));
  const scenarios = arg('only', 'echo,fanout').split(',');
  const targets = arg('targets', Object.keys(TARGETS).join(',')).split(',');
  console.log(`deflate micro-bench: runs=${runs} messages=${messages} clients=${clients} broadcasts=${broadcasts}`);
  for (const payload of Object.keys(PAYLOADS)) {
    const sample = PAYLOADS[payload]();
    console.log(`payload ${payload}: ${Buffer.isBuffer(sample) ? sample.length : Buffer.byteLength(JSON.stringify(sample))} bytes`);
  }
  for (const scenario of scenarios) {
    const unit = scenario === 'echo' ? 'round trip' : 'delivery';
    console.log(`\n## ${scenario}: server CPU and wire bytes per ${unit} (medians of ${runs})\n`);
    console.log('| target | payload | CPU µs | wire bytes |');
    console.log('| --- | --- | ---: | ---: |');
    for (const payload of Object.keys(PAYLOADS)) {
      for (const target of targets) {
        const results = [];
        for (let r = 0; r < runs; r++) {
          results.push(scenario === 'echo' ? await echoRun(target, payload, messages) : await fanoutRun(target, payload, clients, broadcasts));
        }
        const cpu = median(results.map((x) => x.cpu));
        const wire = median(results.map((x) => x.wire));
        console.log(`| ${target} | ${payload} | ${cpu.toFixed(2)} | ${Math.round(wire)} |`);
      }
    }
  }
}

if (process.argv.includes('--child')) await child();
else await main();
