/**
 * (4) Throughput: N clients send small events as fast as their transport's backpressure
 * allows; the server counts what it received inside a measured window (after a warm-up)
 * and reports its own CPU for that window.
 */
import { HOST, sleep } from '../lib/session.mjs';

export default {
  id: 'throughput',
  title: 'Throughput (client -> server events)',
  params: (quick) => ({ clients: 50, warmupMs: quick ? 300 : 1_000, windowMs: quick ? 1_000 : 3_000 }),
  columns: [
    { key: 'clients', label: 'clients', digits: 0 },
    { key: 'msgsPerSec', label: 'server-received msgs/s', digits: 0 },
    { key: 'cpuPerMsgUs', label: 'server CPU/msg (µs)', digits: 3 },
    { key: 'serverCpuPct', label: 'server CPU (%)', digits: 0 },
    { key: 'genCpuPct', label: 'generator CPU (%)', digits: 0 },
  ],
  async run(session, p) {
    const { server, client } = session;
    const [gen] = session.gens(1);
    await gen.call('open', { ...client, host: HOST, count: p.clients, concurrency: 50 }, 60_000);
    await gen.call('floodStart', {});
    let w;
    let g = null;
    try {
      await sleep(p.warmupMs);
      await server.call('windowStart');
      await sleep(p.windowMs);
      w = await server.call('windowStop');
    } finally {
      g = await gen.call('floodStop', {}).catch(() => null);
    }
    if (w.received === 0) throw new Error('server received nothing in the window');
    return {
      clients: p.clients,
      received: w.received,
      msgsPerSec: w.received / (w.ms / 1000),
      cpuPerMsgUs: w.cpuUs / w.received,
      serverCpuPct: (w.cpuUs / 1000 / w.ms) * 100,
      genCpuPct: g?.genCpuPct ?? null,
      genCpuPerMsgUs: g?.genCpuPerMsgUs ?? null,
    };
  },
};
