#!/usr/bin/env node
/**
 * What one scrape of /metrics costs: a StelarServer with `metrics: true` (and recovery, so
 * every family is there) and `--clients` idle WebSocket clients, scraped `--scrapes` times
 * over loopback HTTP with a keep-alive agent from this same process. The CPU per scrape is
 * therefore an upper bound: it includes the HTTP client's side.
 *
 *   node bench/micro/scrape.mjs [--dist DIR] [--clients 1000] [--scrapes 2000] [--runs 5]
 */
import http from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../lib/targets.mjs';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

const dist = resolve(arg('dist', join(ROOT, 'dist')));
const clients = Number(arg('clients', 1000));
const scrapes = Number(arg('scrapes', 2000));
const runs = Number(arg('runs', 5));
const { StelarServer, StelarClient } = await import(pathToFileURL(join(dist, 'index.js')).href);

const server = new StelarServer({
  port: 0,
  host: '127.0.0.1',
  logger: false,
  gracefulShutdown: false,
  metrics: true,
  recovery: true,
  maxConnectionsPerIP: 1_000_000,
  connectionRateLimit: false,
});
const port = await server.start();
const open = [];
for (let i = 0; i < clients; i++) {
  const c = new StelarClient(`ws://127.0.0.1:${port}`, { logger: 'silent', reconnection: false });
  await new Promise((r) => c.connect(r));
  open.push(c);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = () =>
  new Promise((ok, fail) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
        let n = 0;
        res.on('data', (d) => (n += d.length));
        res.on('end', () => ok(n));
      })
      .on('error', fail);
  });

const bytes = await get();
for (let i = 0; i < 200; i++) await get(); // warm-up
const perScrape = [];
for (let r = 0; r < runs; r++) {
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < scrapes; i++) await get();
  const d = process.cpuUsage(cpu0);
  perScrape.push((d.user + d.system) / scrapes);
}
const median = [...perScrape].sort((a, b) => a - b)[Math.floor(runs / 2)];
console.log(`scrape: ${clients} clients, ${bytes} bytes per scrape, ${scrapes} scrapes x ${runs} runs`);
console.log(`CPU per scrape (server and client, one process): median ${median.toFixed(1)} µs  runs ${perScrape.map((v) => v.toFixed(1)).join(' ')}`);

agent.destroy();
for (const c of open) c.disconnect();
await server.stop();
