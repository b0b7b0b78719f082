// 1,000 StelarClients (TCP, reconnection on) lose their server to a restart at the same
// instant. The server says 1001 (going away: back off), so each client waits a jittered
// delay in [base/2, base] before its first attempt. Measured here: when the reconnections
// actually reach the restarted server. Asserted: they are spread out, not a thundering herd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StelarClient } from '../../dist/client/index.js';
import { StelarServer } from '../../dist/index.js';
import { HOST, startServer, until } from './helpers.mjs';

const CLIENTS = 1000;
const BASE = 3000;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

test(`${CLIENTS} clients reconnecting after a restart are spread out by jitter`, { timeout: 90_000 }, async () => {
  const limits = { maxConnections: 5000, maxConnectionsPerIP: 5000, rateLimit: false, connectionRateLimit: false };
  const first = await startServer(limits);
  const wsPort = first.getPort();
  const tcpPort = first.getTcpPort();
  const clients = [];
  let second;
  try {
    for (let i = 0; i < CLIENTS; i += 100) {
      const batch = [];
      for (let j = i; j < Math.min(CLIENTS, i + 100); j++) {
        const client = new StelarClient(`${HOST}:${tcpPort}`, {
          mode: 'tcp',
          logger: false,
          reconnectionDelay: BASE,
          maxReconnectionDelay: 4 * BASE,
          reconnectionAttempts: 20,
          heartbeatInterval: 60_000,
        });
        client.on('error', () => {});
        clients.push(client);
        batch.push(new Promise((resolve) => client.connect(resolve)));
      }
      await Promise.all(batch);
    }
    await until(() => first.getStats().activeConnections === CLIENTS, 'all connected');

    const arrivals = [];
    const attempts = [];
    for (const c of clients) c.on('reconnecting', (n) => attempts.push(n));
    const t0 = Date.now();
    await first.stop();
    second = new StelarServer({ port: wsPort, host: HOST, tcpPort, logger: false, gracefulShutdown: false, ...limits });
    second.onConnection(() => arrivals.push(Date.now() - t0));
    await second.start();
    const ready = Date.now() - t0;
    await until(() => arrivals.length === CLIENTS, `${CLIENTS} reconnections (have ${arrivals.length})`, 60_000);

    const sorted = [...arrivals].sort((a, b) => a - b);
    const [min, p10, p50, p90, max] = [0, 10, 50, 90, 100].map((p) => percentile(sorted, p));
    const buckets = Array.from({ length: 10 }, () => 0);
    for (const t of sorted) buckets[Math.min(9, Math.floor((t / BASE) * 10))]++;
    const retried = attempts.filter((n) => n > 1).length;
    console.log(
      `reconnect storm: ${CLIENTS} clients, base ${BASE} ms (first attempt in [${BASE / 2}, ${BASE}] ms), server back after ${ready} ms\n` +
        `  arrival after the stop (ms): min ${min}, p10 ${p10}, p50 ${p50}, p90 ${p90}, max ${max}; spread p10-p90 ${p90 - p10} ms; ${retried} second attempts\n` +
        `  per tenth of the base window: ${buckets.join(' ')}`,
    );
    // Not a herd: almost nobody in the first tenth of the window, and the middle 80% spans a
    // real interval (equal jitter gives ~0.4 x base; a herd would give ~0).
    assert.ok(buckets[0] <= CLIENTS * 0.1, `${buckets[0]} of ${CLIENTS} came back within the first ${BASE / 10} ms`);
    assert.ok(p90 - p10 >= BASE * 0.2, `p10-p90 spread ${p90 - p10} ms`);
    assert.ok(new Set(sorted.map((t) => Math.floor(t / 100))).size >= 8, 'arrivals fall into at least 8 different 100 ms slots');
  } finally {
    for (const c of clients) c.disconnect();
    await second?.stop();
    await first.stop();
  }
});
