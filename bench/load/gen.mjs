/**
 * Load generator process: holds a set of client connections of one kind and drives them
 * on the orchestrator's commands. Timing is taken here (latency) and in the server
 * (CPU); wall-clock stamps use nowMs() so the two processes can be compared.
 */
import { nowMs, serveIpc } from '../lib/proc.mjs';
import { BROADCAST_TEXT, ECHO_TEXT, EVENT_TEXT } from '../lib/payloads.mjs';
import { attack, healthyMark, healthyStart, healthyStop } from './attacks.mjs';
import { connect } from './clients.mjs';

let clients = [];
let broadcastWait = null;
let flood = null;

/** Opens `count` connections, at most `concurrency` handshakes in flight. */
async function open({ kind, host, port, count, concurrency = 100 }) {
  const start = nowMs();
  let next = 0;
  const opened = new Array(count);
  async function worker() {
    while (next < count) {
      const i = next++;
      opened[i] = await connect(kind, { host, port });
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  clients.push(...opened);
  return { ms: nowMs() - start, startAt: start, endAt: nowMs(), total: clients.length };
}

function join({ room }) {
  const start = nowMs();
  return new Promise((resolve) => {
    let left = clients.length;
    if (left === 0) resolve({ ms: 0 });
    for (const c of clients) {
      c.join(room, () => {
        if (--left === 0) resolve({ ms: nowMs() - start });
      });
    }
  });
}

/**
 * Arms every client to expect `count` broadcasts with seq 0..count-1, complete and in
 * order. The first violation fails the run (reported by waitBroadcast).
 */
function armBroadcast({ count }) {
  let done = 0;
  let lastAt = 0;
  let firstAt = 0;
  let error = null;
  let resolveWait;
  const finished = new Promise((resolve) => (resolveWait = resolve));
  const finish = () => resolveWait({ ok: !error, error, firstAt, lastAt, clients: clients.length, done });
  clients.forEach((c, index) => {
    let expected = 0;
    c.onBroadcast = (data) => {
      if (error) return;
      if (firstAt === 0) firstAt = nowMs();
      if (!data || data.seq !== expected || data.text !== BROADCAST_TEXT) {
        error = `client ${index}: expected seq ${expected}, got ${JSON.stringify(data).slice(0, 120)}`;
        finish();
        return;
      }
      if (++expected === count) {
        lastAt = nowMs();
        if (++done === clients.length) finish();
      }
    };
  });
  if (clients.length === 0) finish();
  broadcastWait = { finished, status: () => ({ ok: false, error: error ?? `timed out: ${done}/${clients.length} clients complete`, done }) };
  return { armed: clients.length };
}

async function waitBroadcast({ timeoutMs = 60_000 }) {
  if (!broadcastWait) throw new Error('waitBroadcast before armBroadcast');
  const { finished, status } = broadcastWait;
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(status()), timeoutMs)));
  const result = await Promise.race([finished, timeout]);
  clearTimeout(timer);
  broadcastWait = null;
  for (const c of clients) c.onBroadcast = () => {};
  return result;
}

/**
 * Every client does `rounds` sequential request/response round trips; latencies in µs, and
 * this process's CPU over them (the client side's cost: with StelarClient, the library's).
 */
function echo({ rounds }) {
  const start = nowMs();
  const cpu0 = process.cpuUsage();
  return new Promise((resolve, reject) => {
    let left = clients.length;
    const samples = [];
    for (const c of clients) {
      const lat = new Float64Array(rounds);
      samples.push(lat);
      let i = 0;
      let sentAt = 0;
      const data = { text: ECHO_TEXT, n: 0 };
      const onReply = (reply) => {
        lat[i] = (performance.now() - sentAt) * 1000;
        if (!reply || reply.n !== data.n || reply.text !== ECHO_TEXT) {
          reject(new Error(`bad echo reply ${JSON.stringify(reply)}`));
          return;
        }
        if (++i === rounds) {
          if (--left === 0) {
            const cpu = process.cpuUsage(cpu0);
            resolve({ startAt: start, endAt: nowMs(), samples, rounds: rounds * clients.length, genCpuUs: cpu.user + cpu.system });
          }
          return;
        }
        send();
      };
      const send = () => {
        data.n = i;
        sentAt = performance.now();
        c.request(data, onReply);
      };
      send();
    }
  });
}

/**
 * Starts every client sending `perClient` events (unbounded when omitted) as fast as its
 * transport's backpressure allows. A bound matters: on loopback the kernel buffers
 * megabytes per socket, so an unbounded flood builds a backlog of seconds.
 */
function floodStart({ highWaterMark = 64 * 1024, batch = 32, perClient = Infinity }) {
  if (flood) throw new Error('flood already running');
  const state = { running: true, sent: 0, cpu: process.cpuUsage(), t: nowMs() };
  flood = state;
  const payload = { text: EVENT_TEXT, n: 0 };
  for (const c of clients) {
    let left = perClient;
    const pump = () => {
      // A few batches per turn, then yield so socket reads (and IPC) still get serviced.
      for (let turn = 0; turn < 4 && state.running && left > 0; turn++) {
        c.cork();
        const n = Math.min(batch, left);
        left -= n;
        for (let i = 0; i < n; i++) {
          payload.n = state.sent++;
          c.emit(payload);
        }
        c.uncork();
        if (c.pressure() > highWaterMark) {
          c.onceDrain(() => state.running && pump());
          return;
        }
      }
      if (state.running && left > 0) setImmediate(pump);
    };
    pump();
  }
  return { clients: clients.length };
}

function floodStop() {
  if (!flood) throw new Error('floodStop without floodStart');
  flood.running = false;
  const { sent } = flood;
  const cpu = process.cpuUsage(flood.cpu);
  const ms = nowMs() - flood.t;
  flood = null;
  // The generator's own cost: when it is near 100% CPU, the rate is the generator's limit.
  return { sent, genCpuPerMsgUs: (cpu.user + cpu.system) / sent, genCpuPct: ((cpu.user + cpu.system) / 1000 / ms) * 100 };
}

function closeAll() {
  for (const c of clients) c.close();
  const n = clients.length;
  clients = [];
  return { closed: n };
}

serveIpc({ open, join, armBroadcast, waitBroadcast, echo, floodStart, floodStop, closeAll, healthyStart, healthyMark, healthyStop, attack });
