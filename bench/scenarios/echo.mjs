/**
 * (2) Echo / ACK latency: each client does sequential request/response round trips
 * (stelar: StelarClient.request -> onAck -> ACK Response; socket.io: emit with ack; ws/uWS
 * app: JSON parsed, replied with its id; ws/uWS bare: the same bytes sent back). A warm-up
 * pass runs first and is not counted. Server CPU and client (generator process) CPU per
 * round trip.
 */
import { HOST } from '../lib/session.mjs';
import { summarize } from '../lib/stats.mjs';

function echoCase(clients, { rounds, quickRounds }) {
  return {
    id: `echo-${clients}`,
    group: 'echo',
    serverOptions: { bare: 'echo' },
    title: `Echo / ACK latency, ${clients} client${clients > 1 ? 's' : ''}`,
    params: (quick) => ({ clients, rounds: quick ? quickRounds : rounds, warmup: Math.ceil((quick ? quickRounds : rounds) / 10) }),
    columns: [
      { key: 'roundTripsPerSec', label: 'round trips/s', digits: 0 },
      { key: 'p50Us', label: 'p50 (µs)', digits: 0 },
      { key: 'p99Us', label: 'p99 (µs)', digits: 0 },
      { key: 'cpuPerRoundTripUs', label: 'server CPU/round trip (µs)', digits: 2 },
      { key: 'clientCpuPerRoundTripUs', label: 'client CPU/round trip (µs)', digits: 2 },
    ],
    async run(session, p) {
      const { server, client } = session;
      const [gen] = session.gens(1);
      await gen.call('open', { ...client, host: HOST, count: p.clients, concurrency: 50 }, 60_000);
      await gen.call('echo', { rounds: p.warmup }, 120_000);
      await server.call('windowStart');
      const r = await gen.call('echo', { rounds: p.rounds }, 300_000);
      const w = await server.call('windowStop');
      const s = summarize(r.samples);
      const elapsedMs = r.endAt - r.startAt;
      return {
        clients: p.clients,
        roundTrips: r.rounds,
        roundTripsPerSec: r.rounds / (elapsedMs / 1000),
        p50Us: s.p50,
        p99Us: s.p99,
        maxUs: s.max,
        cpuPerRoundTripUs: w.cpuUs / r.rounds,
        clientCpuPerRoundTripUs: r.genCpuUs / r.rounds,
      };
    },
  };
}

export default [echoCase(1, { rounds: 20_000, quickRounds: 2_000 }), echoCase(50, { rounds: 400, quickRounds: 60 })];
