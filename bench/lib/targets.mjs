/**
 * The targets under test and whether each can run here. uWS is loaded from its native
 * binary directly: the package entry silently falls back to `ws` when the binary does not
 * load, which would make the comparison meaningless.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(ROOT, 'package.json'));

/**
 * The dist/ directory stelar is loaded from, server AND client (StelarClient and the codec of
 * the transport-floor generators): this checkout's, or another build (`--stelar-dist DIR` on
 * run.mjs sets STELAR_DIST for the child processes) so the same scenario can measure an
 * older build, before/after. The hostile scenario's healthy client stays on this checkout's.
 */
export function stelarDist() {
  return process.env.STELAR_DIST ? resolve(process.env.STELAR_DIST) : join(ROOT, 'dist');
}

/**
 * `STELAR_BENCH_METRICS=1`: stelar servers run with `metrics: true` (the histograms observed,
 * the event-loop monitor on; nobody scrapes during the measurement: bench/micro/scrape.mjs
 * measures a scrape). Returns the options to add for a build whose SERVER_DEFAULTS are
 * given; a build without the option gets none, and says so.
 */
export function benchMetricsOptions(serverDefaults) {
  if (process.env.STELAR_BENCH_METRICS !== '1') return {};
  if (!('metrics' in serverDefaults)) {
    process.stderr.write('STELAR_BENCH_METRICS=1: this build has no metrics option, measured without\n');
    return {};
  }
  return { metrics: true };
}

/**
 * Target name -> { server: module under bench/servers, client: adapter kind under
 * bench/load/clients.mjs, serverMode: passed to the server's start() }.
 * The stelar rows are driven by StelarClient, as users run it; the `-floor` rows by a raw,
 * hand-encoded generator (the cheapest client the wire allows: the transport floor).
 * `-bare` servers are the transport only (count / echo bytes, no parsing); `-app` servers
 * parse the JSON and dispatch by event name through a handler map, as an app on them would.
 */
export const TARGETS = {
  'stelar-tcp': { server: 'stelar', client: 'stelar-tcp', label: 'StelarClient, TCP' },
  'stelar-ws': { server: 'stelar', client: 'stelar-ws', label: 'StelarClient, WebSocket' },
  'stelar-tcp-floor': { server: 'stelar', client: 'stelar-tcp-floor', label: 'transport floor: raw hand-encoded TCP generator' },
  'stelar-ws-floor': { server: 'stelar', client: 'stelar-ws-floor', label: 'transport floor: raw hand-encoded packets on the ws client' },
  'ws-app': { server: 'ws-app', client: 'ws', label: 'ws server, JSON.parse + handler map; ws client' },
  'ws-bare': { server: 'ws-bare', client: 'ws', label: 'ws server, transport only (no parsing); ws client' },
  'socket.io': { server: 'socketio', client: 'socketio', label: 'socket.io server and client, websocket only' },
  'uws-app': { server: 'uws-app', client: 'ws', label: 'uWS server, JSON.parse + handler map; ws client' },
  'uws-bare': { server: 'uws-bare', client: 'ws', label: 'uWS server, transport only (no parsing); ws client' },
  // Only for the mixed scenario: one stelar server, StelarClients on WebSocket and TCP in one room.
  'stelar-mixed': { server: 'stelar', client: 'mixed', label: 'StelarClient, half WebSocket, half TCP' },
  // Only for the hostile scenario: one StelarServer, both listeners, library defaults.
  stelar: { server: 'stelar', client: 'mixed' },
  // Experiments (bench/servers/stelar-exp.mjs): a proposed change patched in at runtime.
  // Never in the default list; name them with --only.
  'stelar-tcp+cork': { server: 'stelar-exp', client: 'stelar-tcp-floor', experimental: true },
  'stelar-ws+cork': { server: 'stelar-exp', client: 'stelar-ws-floor', experimental: true },
};

/** Finds the uWS binary for this platform, arch and Node ABI, or explains why not. */
export function findUwsBinary() {
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve('@trufflesuite/uws-js-unofficial/package.json'));
  } catch {
    return { error: '@trufflesuite/uws-js-unofficial is not installed (npm install)' };
  }
  const name = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  for (const dir of ['binaries', 'dist', '.']) {
    const file = join(pkgDir, dir, name);
    if (existsSync(file)) return { file };
  }
  let available = [];
  try {
    available = readdirSync(join(pkgDir, 'binaries')).filter((f) => f.endsWith('.node'));
  } catch {
    // no binaries folder
  }
  return { error: `no ${name} in the package (has: ${available.join(', ') || 'none'})` };
}

/** Loads the native uWS module (throws with the reason when it cannot). */
export function loadUws() {
  const found = findUwsBinary();
  if (found.error) throw new Error(found.error);
  return require(found.file);
}

/** Resolves { ok } or { ok: false, reason } for a target, without starting it. */
export async function checkTarget(name) {
  if (!TARGETS[name]) return { ok: false, reason: `unknown target ${name}` };
  if (name.startsWith('uws')) {
    try {
      const uws = loadUws();
      if (typeof uws.App !== 'function') return { ok: false, reason: 'uWS binary loaded but has no App()' };
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `uWS not available: ${err.message}` };
    }
  }
  if (name.startsWith('stelar')) {
    const dist = stelarDist();
    const entry = join(dist, 'index.js');
    const files = [entry, join(dist, 'protocol', 'index.js'), join(dist, 'client', 'index.js')];
    const missing = files.find((f) => !existsSync(f));
    if (missing) return { ok: false, reason: `${missing} not built (run npm run build)` };
    try {
      const mod = await import(pathToFileURL(entry).href);
      if (typeof mod.StelarServer !== 'function') return { ok: false, reason: `${entry} exports no StelarServer yet` };
      const client = await import(pathToFileURL(join(dist, 'client', 'index.js')).href);
      if (typeof client.StelarClient !== 'function') return { ok: false, reason: `${dist}/client/index.js exports no StelarClient yet` };
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `${entry} does not load: ${String(err.message).split('\n')[0]}` };
    }
  }
  try {
    require.resolve(name === 'socket.io' ? 'socket.io' : 'ws');
    if (name === 'socket.io') require.resolve('socket.io-client');
  } catch (err) {
    return { ok: false, reason: `${name} not installed: ${err.message.split('\n')[0]}` };
  }
  return { ok: true };
}
