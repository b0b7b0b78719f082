/**
 * (1) Idle memory and connect time: open N connections (spread over several generator
 * processes; stelar rows: StelarClient.connect(), which includes the Connect handshake), then
 * read the server's memory after a full GC and subtract the baseline taken before the
 * first connection. "Retained per connection" is heap + external (what the JS side of the
 * server keeps alive per client); RSS is reported too and includes native memory (uWS).
 */
import { join } from 'node:path';
import { HOST, sessionOptions, sleep, split } from '../lib/session.mjs';
import { nowMs } from '../lib/proc.mjs';

/** No message is sent while idle: bare and app servers are the same here, so only app runs. */
export const IDLE_TARGETS = ['stelar-tcp', 'stelar-ws', 'stelar-tcp-floor', 'stelar-ws-floor', 'ws-app', 'socket.io', 'uws-app'];

export default {
  id: 'idle',
  title: 'Idle memory and connect time',
  targets: IDLE_TARGETS,
  params: (quick, limits) => {
    const wanted = quick ? 1_000 : 5_000;
    // Each generator process needs one descriptor per client; the server needs them all.
    const fdCap = Math.max(100, limits.fdLimit - 200);
    const connections = Math.min(wanted, fdCap);
    const gens = quick ? 1 : 4;
    return { connections, gens, concurrency: 64, reduced: connections < wanted ? `fd limit ${limits.fdLimit}` : null };
  },
  columns: [
    { key: 'connections', label: 'connections', digits: 0 },
    { key: 'openMs', label: 'open all (ms)', digits: 0 },
    { key: 'rssPerConnKB', label: 'RSS/conn (KB)', digits: 2 },
    { key: 'heapPerConnKB', label: 'heap/conn (KB)', digits: 2 },
    { key: 'retainedPerConnKB', label: 'heap+external/conn (KB)', digits: 2 },
  ],
  async run(session, p) {
    const { server, client } = session;
    const before = await server.call('mem');
    const snap = (name) => server.call('heapSnapshot', { file: join(sessionOptions.profDir, `${session.label}.${name}.heapsnapshot`) }, 120_000);
    if (sessionOptions.heapSnapshot) await snap('before');
    const gens = session.gens(p.gens);
    const shares = split(p.connections, p.gens);
    const t0 = nowMs();
    await Promise.all(gens.map((g, i) => g.call('open', { ...client, host: HOST, count: shares[i], concurrency: p.concurrency }, 120_000)));
    const openMs = nowMs() - t0;
    await sleep(500); // let late handshake work (timers, deferred state) settle before measuring
    const after = await server.call('mem');
    if (sessionOptions.heapSnapshot) await snap('after');
    const n = p.connections;
    if (after.connections !== null && after.connections < n) {
      throw new Error(`server holds ${after.connections} connections, expected ${n}`);
    }
    const kb = (bytes) => bytes / n / 1024;
    return {
      connections: n,
      openMs,
      rssPerConnKB: kb(after.rss - before.rss),
      heapPerConnKB: kb(after.heapUsed - before.heapUsed),
      retainedPerConnKB: kb(after.heapUsed + after.external - before.heapUsed - before.external),
      serverConnections: after.connections,
    };
  },
};
