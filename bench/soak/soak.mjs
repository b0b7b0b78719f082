#!/usr/bin/env node
// Soak run (not part of CI): thousands of clients churning connect / join / emit / request /
// leave / disconnect against one server for N minutes. The server runs in its own process
// and the clients in generator processes. It samples the server's RSS and heap over time,
// and at the end checks that nothing is left behind: no client, no room, no rate-limit
// bucket, no socket, and after stop() no timer, handle or signal listener.
//
//   node bench/soak/soak.mjs [--minutes 10] [--clients 5000] [--generators 4] [--rooms 100]
//                            [--hold 3000] [--pause 4000] [--ramp 20000] [--sample 10]
// Each client stays connected ~hold ms per cycle and waits ~pause ms between cycles; the
// first connections are spread over the first ~ramp ms.
//
// Exits with status 1 when something was left over. Needs a build (node scripts/build.mjs).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));

function args() {
  const out = { minutes: 10, clients: 5000, generators: 4, rooms: 100, hold: 3000, pause: 4000, ramp: 20000, sample: 10 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in out))
      throw new Error(
        `unknown flag ${argv[i]} (flags: ${Object.keys(out)
          .map((k) => `--${k}`)
          .join(' ')})`,
      );
    const value = Number(argv[++i]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${key} needs a positive number`);
    out[key] = value;
  }
  return out;
}

/** A forked process answering `{ q }` messages with `{ id, result }`. */
function child(file, argv = [], execArgv = []) {
  const proc = fork(file, argv, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 1;
  let readyResolve;
  const ready = new Promise((resolve) => (readyResolve = resolve));
  proc.on('message', (msg) => {
    if (msg.ready) return readyResolve(msg);
    pending.get(msg.id)?.(msg.result);
    pending.delete(msg.id);
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    ready,
    exited,
    ask(q, timeoutMs = 120_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${file}: no answer to ${q}`)), timeoutMs);
        pending.set(id, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        proc.send({ id, q });
      });
    },
  };
}

const MB = (n) => (n / 1024 / 1024).toFixed(1);
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(fn, ok, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (ok(last)) return last;
    await wait(500);
  }
  return last;
}

async function main() {
  const o = args();
  const started = Date.now();
  const server = child(here('./server.mjs'), [], ['--expose-gc']);
  const { port, tcpPort } = await server.ready;
  const per = Math.ceil(o.clients / o.generators);
  const gens = [];
  for (let i = 0; i < o.generators; i++) {
    const clients = Math.min(per, o.clients - i * per);
    if (clients <= 0) break;
    gens.push(
      child(here('./churn.mjs'), [JSON.stringify({ port, tcpPort, clients, rooms: o.rooms, holdMs: o.hold, pauseMs: o.pause, rampMs: o.ramp, index: i })]),
    );
  }
  await Promise.all(gens.map((g) => g.ready));
  console.log(
    `soak: ${o.clients} clients in ${gens.length} generator processes, ${o.rooms} rooms, hold ~${o.hold} ms, pause ~${o.pause} ms, ${o.minutes} min; server ws ${port} tcp ${tcpPort} (pid ${server.proc.pid})`,
  );
  console.log('  time   rss MB  heap MB  ext MB  clients  rooms   connects  msgs in   msgs out  cycles  errors');

  const samples = [];
  const end = started + o.minutes * 60_000;
  let totals = {};
  for (;;) {
    const s = await server.ask('sample');
    const counters = await Promise.all(gens.map((g) => g.ask('counters')));
    totals = {};
    for (const c of counters) for (const [k, v] of Object.entries(c)) totals[k] = (totals[k] ?? 0) + v;
    samples.push({ ...s, elapsed: Math.round((s.t - started) / 1000), ...totals });
    console.log(
      `${String(Math.round((s.t - started) / 1000)).padStart(5)}s ${MB(s.rss).padStart(8)} ${MB(s.heapUsed).padStart(8)} ${MB(s.external).padStart(7)} ${String(s.clients).padStart(8)} ${String(s.rooms).padStart(6)} ${String(s.total).padStart(10)} ${String(s.received).padStart(9)} ${String(s.sent).padStart(10)} ${String(totals.cycles).padStart(7)} ${String(totals.errors + totals.timeouts).padStart(7)}`,
    );
    if (Date.now() >= end) break;
    await wait(Math.min(o.sample * 1000, Math.max(0, end - Date.now())));
  }

  const errorCodes = {};
  for (const e of await Promise.all(gens.map((g) => g.ask('errors')))) for (const [k, v] of Object.entries(e)) errorCodes[k] = (errorCodes[k] ?? 0) + v;
  console.log('stopping the generators (each finishes its cycle and disconnects)...');
  const finals = await Promise.all(gens.map((g) => g.ask('stop', 180_000)));
  await Promise.all(gens.map((g) => Promise.race([g.exited, wait(30_000).then(() => g.proc.kill('SIGKILL'))])));
  totals = {};
  for (const c of finals) for (const [k, v] of Object.entries(c)) totals[k] = (totals[k] ?? 0) + v;
  // Sessions close asynchronously, and idle rate-limit buckets are pruned every 10 s.
  await poll(
    () => server.ask('sample'),
    (s) => s.clients === 0 && s.rooms === 0 && s.limiter === 0,
    40_000,
  );
  const left = await server.ask('leftovers');
  const stopped = await server.ask('stop');
  server.proc.kill('SIGTERM');
  await server.exited;

  const rss = samples.map((s) => s.rss);
  const heap = samples.map((s) => s.heapUsed);
  const warm = samples[Math.min(samples.length - 1, Math.max(1, Math.floor(samples.length / 5)))];
  const last = samples[samples.length - 1];
  console.log('\nsoak summary');
  console.log(
    `  duration ${((Date.now() - started) / 60_000).toFixed(1)} min; client cycles ${totals.cycles}; connects ${totals.connects}; emits ${totals.emits}; requests answered ${totals.requests}; room messages received ${totals.received}; client errors ${totals.errors} ${JSON.stringify(errorCodes)}; connect timeouts ${totals.connectTimeouts}; join timeouts ${totals.joinTimeouts}`,
  );
  console.log(
    `  server RSS: min ${MB(Math.min(...rss))} MB, max ${MB(Math.max(...rss))} MB, after warm-up (${warm.elapsed}s) ${MB(warm.rss)} MB, last sample ${MB(last.rss)} MB`,
  );
  console.log(
    `  server heap used: min ${MB(Math.min(...heap))} MB, max ${MB(Math.max(...heap))} MB, after warm-up ${MB(warm.heapUsed)} MB, last sample ${MB(last.heapUsed)} MB, after GC at the end ${MB(left.heapUsed)} MB`,
  );
  console.log(`  slow consumers cut: ${last.slow}; invalid messages: ${last.invalid}`);
  console.log(
    `  left while running (all clients gone): clients ${left.clients}, activeConnections ${left.activeConnections}, rooms ${left.rooms}, rate-limit buckets ${left.rateLimiterEntries}, HTTP connections ${left.httpConnections}`,
  );
  console.log(`    handles ${JSON.stringify(left.handles)}, listeners ${JSON.stringify(left.listeners)}`);
  console.log(
    `  left after stop(): handles ${JSON.stringify(stopped.handles)}, listeners ${JSON.stringify(stopped.listeners)}, heap ${MB(stopped.heapUsed)} MB`,
  );

  const problems = [];
  if (left.clients || left.activeConnections || left.rooms || left.rateLimiterEntries || left.httpConnections)
    problems.push('clients, rooms, buckets or connections left while running');
  if ((left.handles.TCPSocketWrap ?? 0) > 0) problems.push(`${left.handles.TCPSocketWrap} client sockets left open on the server`);
  // After stop() only the IPC pipe to this orchestrator may remain.
  const stray = Object.entries(stopped.handles).filter(([k]) => k !== 'PipeWrap');
  if (stray.length) problems.push(`handles after stop(): ${JSON.stringify(Object.fromEntries(stray))}`);
  if (Object.values(stopped.listeners).some((n) => n !== 0)) problems.push(`listeners after stop(): ${JSON.stringify(stopped.listeners)}`);
  if (problems.length) {
    console.log(`\nLEFTOVERS: ${problems.join('; ')}`);
    process.exitCode = 1;
  } else {
    console.log('\nnothing left over');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
