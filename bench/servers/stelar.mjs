/**
 * The stelar target: one StelarServer with both transports (WebSocket on `port`, binary
 * TCP on `tcpPort`), used by the stelar-ws, stelar-tcp and mixed rows. Only the public API
 * from the README: on(event), onAck(name), to(room, ...); clients join rooms with the
 * protocol's own Join Room packet, which the server echoes.
 * Limits are raised so the bench measures throughput, not the protective defaults
 * (per-IP cap, rate limit): every client comes from 127.0.0.1.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchMetricsOptions, stelarDist } from '../lib/targets.mjs';

/**
 * `profile: 'hostile'` (the hostile scenario): the library's defaults (limits, rate limits,
 * timeouts) except the per-IP cap, since every client, healthy or not, comes from 127.0.0.1.
 */
const HOSTILE = { port: 0, tcpPort: 0, host: '127.0.0.1', maxConnectionsPerIP: 10_000, logger: false, gracefulShutdown: false };

/**
 * Protective limits that every bench client, coming from 127.0.0.1, would trip; turned off
 * only where the build has them (an older build, via --stelar-dist, does not know them).
 */
const PER_ADDRESS_OFF = { connectionRateLimit: false };

export async function start({ count, profile }) {
  const { StelarServer, SERVER_DEFAULTS } = await import(pathToFileURL(join(stelarDist(), 'index.js')).href);
  const known = (extra) => Object.fromEntries(Object.entries(extra).filter(([key]) => key in SERVER_DEFAULTS));
  const metrics = benchMetricsOptions(SERVER_DEFAULTS);
  const server = new StelarServer(
    profile === 'hostile'
      ? { ...HOSTILE, ...known(PER_ADDRESS_OFF), ...metrics }
      : {
          port: 0,
          tcpPort: 0,
          host: '127.0.0.1',
          maxConnections: 1_000_000,
          maxConnectionsPerIP: 1_000_000,
          rateLimit: false,
          logger: false,
          gracefulShutdown: false,
          heartbeatInterval: 30_000,
          heartbeatTimeout: 600_000,
          ...known(PER_ADDRESS_OFF),
          ...metrics,
          ...known(JSON.parse(process.env.STELAR_BENCH_OPTIONS ?? '{}')),
        },
  );
  server.on('ev', () => {
    count();
  });
  server.onAck('echo', (ctx) => ctx.data);
  await server.start();
  return {
    ports: { ws: server.getPort(), tcp: server.getTcpPort() },
    connections: () => server.getStats().activeConnections,
    roomSize: (name) => server.getRoomMembers(name).length,
    broadcast(name, data) {
      server.to(name, 'b', data);
    },
    close: () => server.stop(),
  };
}
