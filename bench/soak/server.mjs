// The soak's server process: one StelarServer (WebSocket + TCP) on an HTTP server of ours, so
// its listeners can be counted. Answers IPC queries from the orchestrator:
//   { q: 'sample' }  -> memory and live counts
//   { q: 'leftovers' } -> after a GC: rooms, clients, handles, timers, listeners
//   { q: 'stop' }    -> stops the StelarServer, then reports what is still alive in the process
import { createServer } from 'node:http';
import { StelarServer } from '../../dist/index.js';

const http = createServer();
const server = new StelarServer({
  server: http,
  tcpPort: 0,
  host: '127.0.0.1',
  logger: false,
  maxConnections: 50_000,
  maxConnectionsPerIP: 50_000,
  maxRoomsPerClient: 10,
  // Churning clients send in bursts; the limiter itself is part of what is soaked.
  rateLimit: { maxPoints: 200, windowMs: 1000 },
});
let slow = 0;
let invalid = 0;
server.updateConfig({ hooks: { onSlowConsumer: () => slow++, onInvalidMessage: () => invalid++ } });
server.on('say', (ctx) => {
  ctx.to(ctx.data.room, 'said', ctx.data, ctx.id);
});
server.onAck('echo', (ctx) => ctx.data);

function handles() {
  const out = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

function listeners() {
  return {
    'http:upgrade': http.listenerCount('upgrade'),
    'http:request': http.listenerCount('request'),
    'process:SIGINT': process.listenerCount('SIGINT'),
    'process:SIGTERM': process.listenerCount('SIGTERM'),
  };
}

function connections() {
  return new Promise((resolve) => http.getConnections((err, n) => resolve(err ? -1 : n)));
}

function memory() {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

process.on('message', async (msg) => {
  const reply = (result) => process.send({ id: msg.id, result });
  if (msg.q === 'sample') {
    const s = server.getStats();
    reply({
      t: Date.now(),
      ...memory(),
      clients: s.activeConnections,
      total: s.totalConnections,
      rooms: s.totalRooms,
      received: s.totalMessagesReceived,
      sent: s.totalMessagesSent,
      limiter: s.rateLimiterEntries,
      slow,
      invalid,
    });
  } else if (msg.q === 'leftovers') {
    globalThis.gc?.();
    const s = server.getStats();
    reply({
      ...memory(),
      clients: server.getClients().length,
      activeConnections: s.activeConnections,
      rooms: server.getRooms().length,
      rateLimiterEntries: s.rateLimiterEntries,
      httpConnections: await connections(),
      handles: handles(),
      listeners: listeners(),
    });
  } else if (msg.q === 'stop') {
    await server.stop();
    await new Promise((resolve) => http.close(resolve));
    // A closed listener's handle is released a loop turn after its close callback.
    await new Promise((resolve) => setTimeout(resolve, 200));
    globalThis.gc?.();
    reply({ ...memory(), handles: handles(), listeners: listeners() });
  }
});

await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
await server.start();
process.send({ ready: true, port: http.address().port, tcpPort: server.getTcpPort() });
