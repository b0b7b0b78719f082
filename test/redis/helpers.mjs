// Shared helpers for the scale-out tests: real Redis at 127.0.0.1:6379 (never a mock), one key
// prefix per test file run so parallel runs never collide, and cleanup of every key made.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import Redis from 'ioredis';
import { StelarServer, StelarClient } from '../../dist/index.js';
import { RedisAdapter, RedisRateLimiter } from '../../dist/adapter/redis/index.js';
import { nextEvent, waitUntil } from '../support/waits.mjs';

export { StelarServer, StelarClient, RedisAdapter, RedisRateLimiter, createClient, Redis };

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** A prefix no other run uses. */
export function uniquePrefix(tag = 't') {
  return `stelar-test-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 7)}-${tag}:`;
}

/** A connected client of the given kind ('node-redis' | 'ioredis') on `port`. */
export async function redisClient(kind, port = 6379, extra = {}) {
  if (kind === 'ioredis') {
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100, ...extra });
    c.on('error', () => {});
    await c.connect();
    return c;
  }
  const c = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: () => 100 }, ...extra });
  c.on('error', () => {});
  await c.connect();
  return c;
}

export async function closeRedis(c) {
  try {
    if (typeof c.callBuffer === 'function' || c.isCluster) await c.quit();
    else if (typeof c.close === 'function') await c.close();
    else await c.quit();
  } catch {
    if (typeof c.disconnect === 'function') c.disconnect();
    else if (typeof c.destroy === 'function') c.destroy();
  }
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deleteKeys(prefix, port = 6379) {
  const c = await redisClient('node-redis', port);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await c.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '500']);
      cursor = String(next);
      if (keys.length) await c.sendCommand(['DEL', ...keys]);
    } while (cursor !== '0');
  } finally {
    await closeRedis(c);
  }
}

export async function countKeys(prefix, port = 6379) {
  const c = await redisClient('node-redis', port);
  try {
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await c.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '500']);
      cursor = String(next);
      n += keys.length;
    } while (cursor !== '0');
    return n;
  } finally {
    await closeRedis(c);
  }
}

/** A StelarServer node (ws + tcp on ephemeral ports) with a RedisAdapter on its own client. */
export async function startNode({
  kind = 'node-redis',
  prefix,
  redisPort = 6379,
  redis: given,
  adapter: adapterOptions = {},
  server: serverOptions = {},
} = {}) {
  // `redis`: a connected client to use (a Redis Cluster client, say); closed by stop() like ours.
  const redis = given ?? (await redisClient(kind, redisPort));
  const adapter = new RedisAdapter(redis, { keyPrefix: prefix, heartbeatInterval: 300, heartbeatTimeout: 1200, requestTimeout: 1500, ...adapterOptions });
  const server = new StelarServer({ port: 0, host: '127.0.0.1', tcpPort: 0, logger: 'silent', gracefulShutdown: false, adapter, ...serverOptions });
  const port = await server.start();
  const sockets = new Map();
  server.onConnection((ctx) => sockets.set(ctx.id, ctx.socket));
  return {
    server,
    adapter,
    redis,
    port,
    tcpPort: server.getTcpPort(),
    /** Drops a client's connection from the server side (no close frame: the client sees 1006). */
    cut(id) {
      sockets.get(id)?.destroy();
    },
    async stop() {
      await server.stop();
      await closeRedis(redis);
    },
  };
}

/** A node (fixtures/node.mjs) in its own process, to kill with a signal; resolves once it serves. */
export function spawnNode(options) {
  const fixture = new URL('./fixtures/node.mjs', import.meta.url);
  const child = spawn(process.execPath, [fileURLToPath(fixture), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve({ child, ...JSON.parse(buf.split('\n')[0]) });
    });
    child.once('exit', (code) => reject(new Error(`node process exited early (${code})`)));
  });
}

/** Kills a spawned node if it is still running, and waits for it to be gone. */
export async function reap(node) {
  const child = node?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await gone;
}

export function addressOf(node, mode) {
  return `127.0.0.1:${mode === 'tcp' ? node.tcpPort : node.port}`;
}

/** Resolves with the arguments of the next `event` (rejects after `ms`: a failure guard only). */
export const next = (emitter, event, ms = 8000) => nextEvent(emitter, event, ms);

export const until = (predicate, what = 'condition', ms = 8000) => waitUntil(predicate, what, ms, 15);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A connected StelarClient; `got` collects [event, data] of every server event. */
export async function connectClient(url, options = {}) {
  const client = new StelarClient(url, { logger: 'silent', ...options });
  const got = [];
  client.onAll((event, data) => got.push([event, Buffer.isBuffer(data) || data instanceof Uint8Array ? `bin:${Buffer.from(data).toString('hex')}` : data]));
  const connected = next(client, 'connect');
  client.connect();
  await connected;
  return { client, got };
}

export async function joinRoom(client, room) {
  const joined = new Promise((resolve) => {
    const on = (r) => {
      if (r !== room) return;
      client.off('room_joined', on);
      resolve();
    };
    client.on('room_joined', on);
  });
  client.joinRoom(room);
  await joined;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server (no persistence) on `port`, as a child process. */
export async function startRedisServer(port) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const end = Date.now() + 8000;
  for (;;) {
    try {
      const c = await redisClient('node-redis', port, { socket: { reconnectStrategy: false } });
      await closeRedis(c);
      break;
    } catch {
      if (Date.now() > end) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on ${port} did not start`);
      }
      await sleep(50);
    }
  }
  return {
    child,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
