// A real Redis Cluster for the tests: `primaries` redis-server processes (plus `replicas` per
// primary) on free loopback ports, joined with `redis-cli --cluster create`, in a temp dir.
// `stop()` kills every process and removes the dir. Needs redis-server and redis-cli (Debian's
// redis-server and redis-tools; .ci/run installs them).
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCluster } from 'redis';
import Redis from 'ioredis';
import { freePort, sleep } from './helpers.mjs';

const run = promisify(execFile);

async function cli(port, ...args) {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout.trim();
}

async function waitFor(what, fn, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {}
    if (Date.now() > end) throw new Error(`redis cluster: timed out waiting for ${what}`);
    await sleep(100);
  }
}

export async function startRedisCluster({ primaries = 3, replicas = 0 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'stelar-redis-cluster-'));
  const total = primaries * (1 + replicas);
  const nodes = [];
  // Even if the test process dies first: no redis-server or temp dir outlives it.
  const onExit = () => {
    for (const n of nodes) n.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < total; i++) {
      const port = await freePort();
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '1000',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise((resolve) => child.once('exit', resolve));
      nodes.push({
        port,
        child,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
      });
    }
    for (const n of nodes) await waitFor(`redis-server on ${n.port}`, async () => (await cli(n.port, 'PING')) === 'PONG');
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], {
      timeout: 30_000,
    });
    for (const n of nodes) await waitFor(`cluster_state:ok on ${n.port}`, async () => (await cli(n.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'));
    // A replica takes over a dead primary only once it has synced with it.
    if (replicas) {
      const synced = async (n) => {
        const info = await cli(n.port, 'INFO', 'replication');
        return info.includes('role:master') || info.includes('master_link_status:up');
      };
      for (const n of nodes) await waitFor(`replica on ${n.port} in sync`, () => synced(n));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    /** Root nodes for the clients. */
    rootNodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    /** Port of the primary that owns `slot` now (asked of any live node). */
    async primaryOf(slot) {
      const live = nodes.find((n) => n.child.exitCode === null && n.child.signalCode === null);
      const shards = JSON.parse(await cli(live.port, '--json', 'CLUSTER', 'SLOTS'));
      for (const [from, to, primary] of shards) if (slot >= from && slot <= to) return primary[1];
      return null;
    },
    /** Kills one node with SIGKILL. */
    async kill(port) {
      await nodes.find((n) => n.port === port).kill();
    },
    /** Waits until every live node agrees the cluster is ok again (after a failover). */
    async healthy() {
      for (const n of nodes) {
        if (n.child.exitCode !== null || n.child.signalCode !== null) continue;
        await waitFor(`cluster_state:ok on ${n.port}`, async () => (await cli(n.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'));
      }
    },
    stop,
  };
}

/**
 * A connected cluster client of the given kind. Short retry delays, so a failover is followed
 * within a test's patience: node-redis refreshes its slot map 500 ms after a node starts
 * reconnecting (default 5 s).
 */
export async function clusterClient(kind, cluster) {
  if (kind === 'ioredis') {
    const c = new Redis.Cluster(cluster.rootNodes, {
      clusterRetryStrategy: () => 100,
      redisOptions: { maxRetriesPerRequest: 2, connectTimeout: 500, retryStrategy: () => 100 },
    });
    c.on('error', () => {});
    if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve));
    return c;
  }
  const c = createCluster({
    rootNodes: cluster.rootNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
    defaults: { socket: { reconnectStrategy: () => 100, connectTimeout: 500 } },
    topologyRefreshOnReconnectionAttemptStrategy: 500,
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}
