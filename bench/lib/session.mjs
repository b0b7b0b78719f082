/**
 * One measured run: a server process for a target plus load-generator processes, all
 * torn down at the end whatever happens, and the whole run bounded in time.
 */
import { join } from 'node:path';
import { Child } from './proc.mjs';
import { ROOT, TARGETS } from './targets.mjs';

const HOST_SCRIPT = join(ROOT, 'bench', 'servers', 'host.mjs');
const GEN_SCRIPT = join(ROOT, 'bench', 'load', 'gen.mjs');
export const HOST = '127.0.0.1';

/** Settings for every session, filled in by run.mjs from the command line. */
export const sessionOptions = { cpuProf: false, profDir: join(ROOT, 'bench', 'profiles'), heapSnapshot: false };

/**
 * Runs `fn(session)` with a started server for `targetName`. The session offers
 * `server` (a Child), `ports`, `client` ({ kind, port } of the target's own clients),
 * `clientFor(kind)`, and `gens(n)` to fork load generators.
 */
export async function withSession(targetName, { timeoutMs, label, serverOptions = {} }, fn) {
  const target = TARGETS[targetName];
  const execArgv = ['--expose-gc'];
  if (sessionOptions.cpuProf) {
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${sessionOptions.profDir}`, `--cpu-prof-name=${label}.${Date.now()}.cpuprofile`);
  }
  const server = new Child(HOST_SCRIPT, [target.server], { execArgv, name: `server(${targetName})` });
  const generators = [];
  let timer;
  try {
    const work = (async () => {
      const { ports } = await server.call('start', serverOptions, 30_000);
      const clientFor = (kind) => {
        const port = kind.includes('tcp') ? ports.tcp : ports.ws;
        if (typeof port !== 'number') throw new Error(`server reported no port for ${kind}: ${JSON.stringify(ports)}`);
        return { kind, port };
      };
      const session = {
        server,
        ports,
        label,
        client: target.client === 'mixed' ? null : clientFor(target.client),
        clientFor,
        gens(n) {
          const list = [];
          for (let i = 0; i < n; i++) {
            const g = new Child(GEN_SCRIPT, [], { name: `gen${generators.length}(${targetName})` });
            generators.push(g);
            list.push(g);
          }
          return list;
        },
      };
      return fn(session);
    })();
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`run exceeded ${timeoutMs} ms`)), timeoutMs);
    });
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    await Promise.all(generators.map((g) => g.stop(3_000)));
    await server.stop(5_000);
  }
}

/** Splits `total` into `parts` near-equal integers. */
export function split(total, parts) {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
