#!/usr/bin/env node
/**
 * Connection setup cost (issue 14): how long it takes to open N connections, and what the
 * server and the client spend on it.
 *
 *   node bench/micro/connect.mjs [--count 5000] [--inflight 64] [--runs 3]
 *                                [--only stelar-ws,stelar-tcp,ws] [--dist DIR]
 *
 * Every row runs in two fresh processes: a server (a StelarServer with both listeners, or
 * a `ws` WebSocketServer) and a generator that opens `count` connections with `inflight`
 * handshakes outstanding at any moment:
 *   stelar-ws   StelarClient over WebSocket -> StelarServer  (open = the 'connect' event:
 *               upgrade, then the Connect exchange)
 *   stelar-tcp  StelarClient over TCP       -> StelarServer  (open = 'connect')
 *   ws          `ws` client                 -> `ws` server   (open = the 'open' event)
 * Reported per row: wall time from the first connect call to the last open, the server's
 * and the generator's CPU over that span (process.cpuUsage), each the median of `runs`.
 * The rows of one run go one after the other, so a noisy moment hits all of them.
 *
 * `--dist DIR` loads StelarServer and StelarClient from another build's dist/ (both sides:
 * the client's setup is part of what is measured), e.g. an older checkout's, to compare.
 * All traffic is on 127.0.0.1; the per-address limits (maxConnectionsPerIP,
 * connectionRateLimit) are raised, since every connection comes from the same address.
 * Connections stay open until the row ends (the processes are killed), so `count` must fit
 * under `ulimit -n` in each process.
 */
import { fork } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = fileURLToPath(import.meta.url);
const ROOT = join(dirname(HERE), '..', '..');

const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    kind: { type: 'string', default: '' },
    dist: { type: 'string', default: join(ROOT, 'dist') },
    count: { type: 'string', default: '5000' },
    inflight: { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string', default: 'stelar-ws,stelar-tcp,ws' },
  },
});
const DIST = resolve(args.dist);

const ROWS = {
  'stelar-ws': { server: 'stelar', client: 'stelar-ws' },
  'stelar-tcp': { server: 'stelar', client: 'stelar-tcp' },
  ws: { server: 'ws', client: 'ws' },
};

const cpuMs = (since) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

// ------------------------------------------------------------------ child: server

async function startServer(kind) {
  if (kind === 'stelar') {
    const { StelarServer, SERVER_DEFAULTS } = await import(pathToFileURL(join(DIST, 'index.js')).href);
    const options = {
      port: 0,
      tcpPort: 0,
      host: '127.0.0.1',
      maxConnections: 10_000,
      maxConnectionsPerIP: 10_000,
      logger: false,
      gracefulShutdown: false,
    };
    // Only where the build has it (an older one may not know the option).
    if ('connectionRateLimit' in SERVER_DEFAULTS) options.connectionRateLimit = false;
    const server = new StelarServer(options);
    await server.start();
    return { ports: { ws: server.getPort(), tcp: server.getTcpPort() }, count: () => server.getStats().activeConnections };
  }
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((ok, fail) => {
    wss.once('listening', ok);
    wss.once('error', fail);
  });
  return { ports: { ws: wss.address().port }, count: () => wss.clients.size };
}

async function serverRole() {
  const server = await startServer(args.kind);
  let mark;
  process.on('message', (msg) => {
    if (msg.cmd === 'exit') process.exit(0);
    else if (msg.cmd === 'mark') {
      mark = process.cpuUsage();
      process.send({ cmd: 'marked' });
    } else if (msg.cmd === 'cpu') {
      process.send({ cmd: 'cpu', cpuMs: cpuMs(mark), connections: server.count() });
    }
  });
  process.send({ cmd: 'ready', ports: server.ports });
}

// ------------------------------------------------------------------ child: generator

async function opener(kind) {
  if (kind === 'ws') {
    const { WebSocket } = await import('ws');
    return (port, done, fail) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      ws.once('open', done);
      ws.once('error', fail);
      return ws;
    };
  }
  const mode = kind === 'stelar-tcp' ? 'tcp' : 'ws';
  const { StelarClient } = await import(pathToFileURL(join(DIST, 'client', 'index.js')).href);
  return (port, done, fail) => {
    const client = new StelarClient(`127.0.0.1:${port}`, { mode, reconnection: false, logger: false });
    client.on('error', fail);
    client.on('disconnect', (info) => fail(new Error(`disconnected: ${JSON.stringify(info)}`)));
    client.connect(done);
    return client;
  };
}

async function generatorRole() {
  const open = await opener(args.kind);
  const held = [];
  process.on('message', ({ cmd, port, count, inflight }) => {
    if (cmd === 'exit') process.exit(0);
    const start = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let started = 0;
    let opened = 0;
    const next = () => {
      if (started >= count) return;
      started++;
      held.push(open(port, onOpen, onFail));
    };
    const onOpen = () => {
      if (++opened === count) {
        const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
        process.send({ wallMs, cpuMs: cpuMs(start) });
      } else next();
    };
    const onFail = (err) => {
      // After the result was sent, the orchestrator stops the server first: the drops are expected.
      if (opened === count) return;
      console.error(`connection ${started} failed:`, err?.message ?? err);
      process.exit(1);
    };
    for (let i = 0; i < inflight; i++) next();
  });
  process.send({ cmd: 'ready' });
}

// ------------------------------------------------------------------ orchestrator

function child(role, kind) {
  const proc = fork(HERE, ['--role', role, '--kind', kind, '--dist', DIST], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () =>
    new Promise((ok, fail) => {
      const onExit = (code) => fail(new Error(`${role} ${kind} exited with ${code}`));
      proc.once('exit', onExit);
      proc.once('message', (msg) => {
        proc.off('exit', onExit);
        ok(msg);
      });
    });
  return { proc, next, send: (msg) => proc.send(msg) };
}

async function runRow(name, count, inflight) {
  const row = ROWS[name];
  const server = child('server', row.server);
  const gen = child('gen', row.client);
  try {
    const [{ ports }] = await Promise.all([server.next(), gen.next()]);
    const port = row.client === 'stelar-tcp' ? ports.tcp : ports.ws;
    server.send({ cmd: 'mark' });
    await server.next();
    gen.send({ port, count, inflight });
    const { wallMs, cpuMs: clientCpu } = await gen.next();
    server.send({ cmd: 'cpu' });
    const { cpuMs: serverCpu, connections } = await server.next();
    if (connections !== count) throw new Error(`${name}: the server counts ${connections} connections, expected ${count}`);
    return { wallMs, serverCpu, clientCpu };
  } finally {
    // The server goes first: its side takes the TIME_WAITs, on a port no later row reuses.
    // Asked to exit (so a --cpu-prof run writes its profile), killed if it does not.
    await stop(server.proc);
    await stop(gen.proc);
  }
}

function stop(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(timer);
      ok();
    });
    try {
      proc.send({ cmd: 'exit' });
    } catch {
      proc.kill('SIGKILL');
    }
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

async function main() {
  const count = Number(args.count);
  const inflight = Number(args.inflight);
  const runs = Number(args.runs);
  const names = args.only.split(',').filter(Boolean);
  for (const name of names) if (!ROWS[name]) throw new Error(`unknown row ${name} (known: ${Object.keys(ROWS).join(', ')})`);
  console.log(`connect: ${count} connections, ${inflight} in flight, median of ${runs} runs; stelar from ${DIST}`);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < runs; r++) {
    for (const name of names) {
      const res = await runRow(name, count, inflight);
      results[name].push(res);
      console.log(
        `  run ${r + 1} ${name.padEnd(10)} wall ${res.wallMs.toFixed(0)} ms  server cpu ${res.serverCpu.toFixed(0)} ms  client cpu ${res.clientCpu.toFixed(0)} ms`,
      );
    }
  }
  console.log('');
  console.log('row         wall ms   server cpu ms   client cpu ms');
  for (const name of names) {
    const rs = results[name];
    const cols = [median(rs.map((x) => x.wallMs)), median(rs.map((x) => x.serverCpu)), median(rs.map((x) => x.clientCpu))];
    console.log(`${name.padEnd(10)} ${cols[0].toFixed(0).padStart(8)} ${cols[1].toFixed(0).padStart(15)} ${cols[2].toFixed(0).padStart(15)}`);
  }
}

if (args.role === 'server') await serverRole();
else if (args.role === 'gen') await generatorRole();
else await main();
