// Cross-node fan-out on a single Redis and on a 3-primary Redis Cluster, side by side, for
// docs/SCALING.md: 3 server processes (bench/scaling/node.mjs, RedisAdapter), `--clients`
// WebSocket clients spread over them, `--rooms` rooms, `--messages` messages sent by one
// client on node 0 (the server fans each out with to(room)). Reports deliveries/s, p50/p99
// publish-to-receive latency, lost/duplicated/out-of-order counts, server CPU per delivery
// (summed over the nodes) and each Redis process's CPU.
//
//   node bench/scaling/redis-fanout.mjs [--clients 300] [--messages 1000] [--rooms 1] [--rate 0]
//                                       [--kind node-redis|ioredis] [--engines redis,cluster]
// --rate N paces the sends (N per second) for latency; 0 sends them all at once (throughput).
//
// Needs a Redis on 127.0.0.1:6379 and redis-server/redis-cli for the cluster (started here on
// free ports and removed after). Numbers on a busy 2-core machine are rough: compare rows of
// one run, not runs of different days.
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StelarClient } from '../../dist/index.js';
import { startRedisCluster } from '../../test/redis/redis-cluster.mjs';
import { percentileSorted, round } from '../lib/stats.mjs';

const run = promisify(execFile);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const CLIENTS = Number(arg('clients', 300));
const MESSAGES = Number(arg('messages', 1000));
const ROOMS = Number(arg('rooms', 1));
const KIND = arg('kind', 'node-redis');
const ENGINES = arg('engines', 'redis,cluster').split(',');
/** Messages per second; 0 = all at once (throughput; the latency then includes the queueing). */
const RATE = Number(arg('rate', 0));
const NODE = fileURLToPath(new URL('./node.mjs', import.meta.url));

async function redisCpu(port) {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'INFO', 'cpu']);
  const get = (k) => Number(new RegExp(`${k}:([\\d.]+)`).exec(stdout)?.[1] ?? 0);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1000;
}

function spawnNode(options) {
  const child = spawn(process.execPath, [NODE, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve({ child, ...JSON.parse(buf.split('\n')[0]) });
    });
    child.once('exit', (code) => reject(new Error(`node exited early (${code})`)));
  });
}

const cpuOf = (node) =>
  new Promise((resolve) => {
    node.child.once('message', (m) => resolve(m.cpu));
    node.child.send('cpu');
  });

async function connect(url, rooms) {
  const c = new StelarClient(url, { logger: 'silent', reconnection: false });
  c.on('error', (e) => console.error('client error', url, e.code, e.message));
  for (const r of rooms) c.joinRoom(r);
  const joined = rooms.length ? new Promise((resolve) => c.on('room_joined', () => c.getRooms().length === rooms.length && resolve())) : null;
  const timeout = setTimeout(() => {
    console.error(`client on ${url} not connected and joined within 10 s`);
    process.exit(1);
  }, 10_000);
  await new Promise((resolve) => c.connect(resolve));
  await joined;
  clearTimeout(timeout);
  return c;
}

async function scenario(engine) {
  const cluster = engine === 'cluster' ? await startRedisCluster({ primaries: 3 }) : null;
  const redisPorts = cluster ? cluster.nodes.map((n) => n.port) : [6379];
  const prefix = `bench-scaling-${process.pid}-${engine}:`;
  const nodes = [];
  const clients = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await spawnNode({ engine, kind: KIND, port: 6379, rootNodes: cluster?.rootNodes, prefix }));
    await new Promise((r) => setTimeout(r, 500)); // membership settles
    const rooms = Array.from({ length: ROOMS }, (_, i) => `room-${i}`);
    const perRoom = new Map(rooms.map((r) => [r, 0]));
    const seen = [];
    const latencies = [];
    let deliveries = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    let lastAt = 0;
    for (let i = 0; i < CLIENTS; i++) {
      const room = rooms[i % ROOMS];
      perRoom.set(room, perRoom.get(room) + 1);
      const c = await connect(`ws://127.0.0.1:${nodes[i % 3].port}`, [room]);
      const mine = new Set();
      let last = -1;
      c.on('m', (d) => {
        const now = performance.now();
        latencies.push(now - d.t);
        deliveries++;
        lastAt = now;
        if (mine.has(d.seq)) duplicated++;
        else mine.add(d.seq);
        if (d.seq < last) outOfOrder++;
        last = d.seq;
      });
      seen.push(mine);
      clients.push(c);
    }
    const publisher = await connect(`ws://127.0.0.1:${nodes[0].port}`, []);
    let expected = 0;
    for (let i = 0; i < MESSAGES; i++) expected += perRoom.get(rooms[i % ROOMS]);

    const nodeCpu0 = await Promise.all(nodes.map(cpuOf));
    const redisCpu0 = await Promise.all(redisPorts.map(redisCpu));
    const t0 = performance.now();
    const send = (i) => publisher.emit('pub', { room: rooms[i % ROOMS], seq: i, t: performance.now() });
    if (RATE > 0) {
      // Paced: one batch every 10 ms.
      const perTick = Math.max(1, Math.round(RATE / 100));
      for (let i = 0; i < MESSAGES; ) {
        for (let k = 0; k < perTick && i < MESSAGES; k++) send(i++);
        await new Promise((r) => setTimeout(r, 10));
      }
    } else for (let i = 0; i < MESSAGES; i++) send(i);
    const deadline = Date.now() + 120_000;
    while (deliveries < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300)); // late duplicates
    const nodeCpu = (await Promise.all(nodes.map(cpuOf))).reduce((s, v, i) => s + v - nodeCpu0[i], 0);
    const redisCpu1 = await Promise.all(redisPorts.map(redisCpu));
    const elapsed = lastAt - t0;
    latencies.sort((a, b) => a - b);
    const lost = expected - (deliveries - duplicated);
    publisher.disconnect();
    return {
      engine,
      kind: KIND,
      clients: CLIENTS,
      rooms: ROOMS,
      messages: MESSAGES,
      deliveries,
      deliveriesPerSec: Math.round((deliveries / elapsed) * 1000),
      p50ms: round(percentileSorted(latencies, 50), 1),
      p99ms: round(percentileSorted(latencies, 99), 1),
      lost,
      duplicated,
      outOfOrder,
      serverCpuMs: Math.round(nodeCpu),
      serverCpuUsPerDelivery: round((nodeCpu * 1000) / Math.max(1, deliveries), 2),
      redisCpuMs: redisCpu1.map((v, i) => Math.round(v - redisCpu0[i])),
    };
  } finally {
    for (const c of clients) c.disconnect();
    for (const n of nodes) {
      n.child.send('stop');
      await Promise.race([once(n.child, 'exit'), new Promise((r) => setTimeout(r, 3000))]);
      if (n.child.exitCode === null) n.child.kill('SIGKILL');
    }
    if (!cluster) {
      const { stdout } = await run('redis-cli', ['-p', '6379', '--scan', '--pattern', `${prefix}*`]);
      for (const k of stdout.split('\n').filter(Boolean)) await run('redis-cli', ['-p', '6379', 'DEL', k]);
    }
    await cluster?.stop();
  }
}

const rows = [];
for (const engine of ENGINES) {
  const row = await scenario(engine);
  console.log(JSON.stringify(row));
  rows.push(row);
}
console.log('\n| engine | rooms | rate | deliveries/s | p50 ms | p99 ms | lost | dup | out of order | server CPU µs/delivery | Redis CPU ms (per process) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.engine} (${r.kind}) | ${r.rooms} | ${RATE || 'all at once'} | ${r.deliveriesPerSec} | ${r.p50ms} | ${r.p99ms} | ${r.lost} | ${r.duplicated} | ${r.outOfOrder} | ${r.serverCpuUsPerDelivery} | ${r.redisCpuMs.join(' / ')} |`,
  );
}
