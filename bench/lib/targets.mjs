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
 * The dist/ directory the stelar SERVER is loaded from: this checkout's, or another build
 * (`--stelar-dist DIR` on run.mjs sets STELAR_DIST for the child processes) so the same
 * scenario can measure an older build. Generators always use this checkout's client and codec.
 */
export function stelarDist() {
  return process.env.STELAR_DIST ? resolve(process.env.STELAR_DIST) : join(ROOT, 'dist');
}

/** Target name -> { server: module under bench/servers, client: adapter kind under bench/load/clients.mjs }. */
export const TARGETS = {
  'stelar-tcp': { server: 'stelar', client: 'stelar-tcp' },
  'stelar-ws': { server: 'stelar', client: 'stelar-ws' },
  ws: { server: 'ws', client: 'ws' },
  'socket.io': { server: 'socketio', client: 'socketio' },
  uws: { server: 'uws', client: 'ws' },
  // Only for the mixed scenario: one stelar server, WebSocket and TCP clients in one room.
  'stelar-mixed': { server: 'stelar', client: 'mixed' },
  // Only for the hostile scenario: one StelarServer, both listeners, library defaults.
  stelar: { server: 'stelar', client: 'mixed' },
  // Only for the echo scenarios: our own StelarClient as the load generator.
  'stelar-client-tcp': { server: 'stelar', client: 'stelar-client-tcp' },
  'stelar-client-ws': { server: 'stelar', client: 'stelar-client-ws' },
  // Experiments (bench/servers/stelar-exp.mjs): a proposed change patched in at runtime.
  // Never in the default list; name them with --only.
  'stelar-tcp+cork': { server: 'stelar-exp', client: 'stelar-tcp', experimental: true },
  'stelar-ws+cork': { server: 'stelar-exp', client: 'stelar-ws', experimental: true },
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
  if (name === 'uws') {
    try {
      const uws = loadUws();
      if (typeof uws.App !== 'function') return { ok: false, reason: 'uWS binary loaded but has no App()' };
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `uWS not available: ${err.message}` };
    }
  }
  if (name.startsWith('stelar')) {
    const entry = join(stelarDist(), 'index.js');
    const proto = join(ROOT, 'dist', 'protocol', 'index.js');
    if (!existsSync(entry) || !existsSync(proto)) return { ok: false, reason: `${existsSync(entry) ? 'dist' : stelarDist()}/ not built (run npm run build)` };
    try {
      const mod = await import(pathToFileURL(entry).href);
      if (typeof mod.StelarServer !== 'function') return { ok: false, reason: 'dist/index.js exports no StelarServer yet' };
      if (name.startsWith('stelar-client') || name === 'stelar') {
        const client = await import(pathToFileURL(join(ROOT, 'dist', 'client', 'index.js')).href);
        if (typeof client.StelarClient !== 'function') return { ok: false, reason: 'dist/client/index.js exports no StelarClient yet' };
      }
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `dist/index.js does not load: ${String(err.message).split('\n')[0]}` };
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
