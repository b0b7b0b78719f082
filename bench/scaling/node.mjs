// One server node of bench/scaling/redis-fanout.mjs, in its own process: a StelarServer with a
// RedisAdapter on a single Redis or a Redis Cluster. argv[2] = JSON { engine, kind, port,
// rootNodes, prefix }. Prints { port } once listening; answers 'cpu' over IPC with its CPU time.
import { createClient, createCluster } from 'redis';
import Redis from 'ioredis';
import { StelarServer } from '../../dist/index.js';
import { RedisAdapter } from '../../dist/adapter/redis/index.js';

const { engine, kind, port, rootNodes, prefix } = JSON.parse(process.argv[2]);

async function connect() {
  if (engine === 'cluster') {
    if (kind === 'ioredis') {
      const c = new Redis.Cluster(rootNodes);
      await new Promise((resolve) => c.once('ready', resolve));
      return c;
    }
    const c = createCluster({ rootNodes: rootNodes.map(({ host, port: p }) => ({ url: `redis://${host}:${p}` })) });
    await c.connect();
    return c;
  }
  if (kind === 'ioredis') return new Redis({ host: '127.0.0.1', port });
  const c = createClient({ url: `redis://127.0.0.1:${port}` });
  await c.connect();
  return c;
}

const redis = await connect();
redis.on('error', () => {});
const server = new StelarServer({
  port: 0,
  host: '127.0.0.1',
  logger: 'warn',
  gracefulShutdown: false,
  rateLimit: false,
  maxConnections: 10_000,
  connectionRateLimit: false,
  maxConnectionsPerIP: 100_000,
  adapter: new RedisAdapter(redis, { keyPrefix: prefix }),
});
server.on('pub', (ctx) => server.to(ctx.data.room, 'm', ctx.data));
const listening = await server.start();
process.stdout.write(`${JSON.stringify({ port: listening })}\n`);
process.on('disconnect', () => process.exit(0)); // the driver is gone
process.on('message', async (msg) => {
  if (msg === 'cpu') {
    const u = process.cpuUsage();
    process.send({ cpu: (u.user + u.system) / 1000 });
  } else if (msg === 'stop') {
    await server.stop();
    await redis.quit().catch(() => {});
    process.exit(0);
  }
});
