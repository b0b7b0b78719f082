/**
 * (4) Throughput: N clients (in one generator process) each send M small events as fast as
 * their transport's backpressure allows. Client CPU per message is that process's CPU per
 * event sent over the whole flood: with StelarClient, the client library's cost. The server measures itself over a window cut by message count
 * (from 20% to 90% of all events, so start-up and the ragged end are left out): rate and
 * CPU per message. IPC is not used to time the window: a saturated server reads IPC late.
 */
import { HOST } from '../lib/session.mjs';

export default {
  id: 'throughput',
  title: 'Throughput (client -> server events)',
  serverOptions: { bare: 'count' },
  params: (quick) => ({ clients: 50, perClient: quick ? 6_000 : 30_000, windowFrom: 0.2, windowTo: 0.9 }),
  columns: [
    { key: 'clients', label: 'clients', digits: 0 },
    { key: 'msgsPerSec', label: 'server-received msgs/s', digits: 0 },
    { key: 'cpuPerMsgUs', label: 'server CPU/msg (µs)', digits: 3 },
    { key: 'serverCpuPct', label: 'server CPU (%)', digits: 0 },
    { key: 'genCpuPerMsgUs', label: 'client CPU/msg (µs)', digits: 3 },
    { key: 'genCpuPct', label: 'client CPU (%)', digits: 0 },
  ],
  async run(session, p) {
    const { server, client } = session;
    const [gen] = session.gens(1);
    await gen.call('open', { ...client, host: HOST, count: p.clients, concurrency: 50 }, 60_000);
    const total = p.clients * p.perClient;
    await server.call('armCount', { startAt: Math.round(total * p.windowFrom), stopAt: Math.round(total * p.windowTo) });
    await gen.call('floodStart', { perClient: p.perClient });
    let w;
    let g = null;
    try {
      w = await server.call('countResult', {}, 120_000);
    } finally {
      g = await gen.call('floodStop', {}).catch(() => null);
    }
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
