// Every adapter the contract (contract.mjs) runs against, one entry each. An entry says what
// the adapter offers and how to build one node's adapter on a broker connection of its own:
//
//   label      the name in test titles
//   cluster    true: nodes share rooms and fan-out through `broker` (three nodes are started);
//              false: a single node (the cluster-only parts of the contract are not registered)
//   recovery   'cluster': a client recovers on any node; 'node': on the node it left;
//              'refused': a server with `recovery` on must throw at construction
//   broker     brokers.mjs entry (the program the tests start on a free port), or null
//   connect(port)         the application's connection to that broker (null without broker)
//   adapter(conn, opts)   a new adapter on it; opts: { prefix (letters and digits), nodeId?, timings }
//   close(conn)           closes the connection (after the server stopped)
//   linkUp(adapter)       the adapter's broker link is up (cluster engines)
//
// Plugging in another adapter (Redis Cluster, say) = one entry here and a test file that
// calls adapterContract('<key>').
import { MemoryAdapter } from '../../dist/index.js';
import { RedisAdapter } from '../../dist/adapter/redis/index.js';
import { NatsAdapter } from '../../dist/adapter/nats/index.js';
import { NATS, REDIS } from './brokers.mjs';

/** Short enough for fast tests, long enough for a loaded 2-core machine. */
export const TIMINGS = { heartbeatInterval: 300, heartbeatTimeout: 1200, requestTimeout: 1500 };

async function nodeRedis(port) {
  const { createClient } = await import('redis');
  const c = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: () => 100 } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function ioredis(port) {
  const { default: Redis } = await import('ioredis');
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function closeRedis(c) {
  try {
    if (typeof c.callBuffer === 'function') await c.quit();
    else await c.close();
  } catch {
    if (typeof c.disconnect === 'function') c.disconnect();
    else c.destroy?.();
  }
}

// Reconnect quickly and forever: the broker-restart test kills the server for a while.
const NATS_OPTIONS = (port) => ({ servers: `127.0.0.1:${port}`, reconnectTimeWait: 100, reconnectJitter: 0, maxReconnectAttempts: -1 });

const redisEngine = (label, connect) => ({
  label,
  cluster: true,
  recovery: 'cluster',
  broker: REDIS,
  connect,
  adapter: (conn, { prefix, nodeId, timings = TIMINGS }) => new RedisAdapter(conn, { keyPrefix: `${prefix}:`, nodeId, ...timings }),
  close: closeRedis,
  linkUp: (adapter) => adapter.getStats().redisReady,
});

const natsEngine = (label, module) => ({
  label,
  cluster: true,
  recovery: 'refused',
  broker: NATS,
  connect: async (port) => (await import(module)).connect(NATS_OPTIONS(port)),
  adapter: (conn, { prefix, nodeId, timings = TIMINGS }) => new NatsAdapter(conn, { subjectPrefix: prefix, nodeId, ...timings }),
  close: (conn) => conn.close(),
  linkUp: (adapter) => adapter.getStats().natsReady,
});

export const ENGINES = {
  memory: {
    label: 'MemoryAdapter',
    cluster: false,
    recovery: 'node',
    broker: null,
    connect: async () => null,
    adapter: () => new MemoryAdapter(),
    close: async () => {},
    linkUp: () => true,
  },
  'redis:node-redis': redisEngine('RedisAdapter (node-redis)', nodeRedis),
  'redis:ioredis': redisEngine('RedisAdapter (ioredis)', ioredis),
  'nats:nats': natsEngine('NatsAdapter (nats v2)', 'nats'),
  'nats:transport-node': natsEngine('NatsAdapter (@nats-io/transport-node)', '@nats-io/transport-node'),
};
