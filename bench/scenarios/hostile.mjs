/**
 * (6) Hostile clients (issue 12): one StelarServer (WebSocket + TCP, the library's defaults
 * except the per-IP cap) while one generator process attacks it and another runs a healthy
 * StelarClient (dist/client, as users run it) doing paced sequential ACK round trips.
 * Measured during the attack: the healthy client's p50/p99/max round trip and whether it
 * stayed connected; the server's max RSS and heap+external (sampled every 25 ms, no GC),
 * its CPU and its worst event-loop delay. After: the server's memory 1 s after the attack
 * ended (forced GC) and one more healthy round trip.
 *
 * Opt-in (`--scenario hostile` or a case id): 6 cases x ~8 s x runs is over the full run's
 * budget. `--stelar-dist DIR` runs the same cases against another build of the server.
 */
import { sleep } from '../lib/session.mjs';
import { summarize } from '../lib/stats.mjs';

const MiB = 1024 * 1024;

const ATTACKS = [
  ['none', 'no attack (control)'],
  ['nested-connect', 'unauthenticated 3 MiB Connect, `[[[…]]]` 1.5 Mi deep, new TCP connection each'],
  ['big-events', 'valid 4 MiB JSON events, one TCP client, as fast as it takes them'],
  ['invalid', 'invalid 8-byte packets (empty event name), one TCP client, flood'],
  ['ping-flood', 'WebSocket pings + ACK requests, one client that never reads'],
  ['slow-frames', '200 connections (100 TCP, 100 WS) parking half of a declared 1 MiB frame'],
];

function hostileCase([kind, what]) {
  return {
    id: `hostile-${kind}`,
    group: 'hostile',
    optIn: true,
    targets: ['stelar'],
    serverOptions: { profile: 'hostile' },
    title: `Hostile: ${what}`,
    params: (quick) => ({ attack: kind, durationMs: quick ? 3_000 : 5_000, healthyMode: 'ws', healthyIntervalMs: 20 }),
    columns: [
      { key: 'p50Us', label: 'healthy p50 (µs)', digits: 0 },
      { key: 'p99Us', label: 'healthy p99 (µs)', digits: 0 },
      { key: 'maxUs', label: 'healthy max (µs)', digits: 0 },
      { key: 'roundTrips', label: 'healthy round trips', digits: 0 },
      { key: 'healthyConnected', label: 'healthy stayed connected', digits: 0 },
      { key: 'maxRssMB', label: 'server max RSS (MB)', digits: 0 },
      { key: 'maxHeapExtMB', label: 'server max heap+ext (MB)', digits: 0 },
      { key: 'cpuPct', label: 'server CPU (%)', digits: 0 },
      { key: 'loopDelayMaxMs', label: 'server max loop delay (ms)', digits: 0 },
      { key: 'afterRssMB', label: 'RSS after (MB)', digits: 0 },
      { key: 'afterHeapExtMB', label: 'heap+ext after (MB)', digits: 1 },
      { key: 'attackConnections', label: 'attacker connections', digits: 0 },
      { key: 'attackClosedByServer', label: 'closed by server', digits: 0 },
      { key: 'attackMB', label: 'attacker MB written', digits: 0 },
    ],
    async run(session, p) {
      const { server, ports } = session;
      const [healthy, attacker] = session.gens(2);
      const base = await server.call('mem');
      await healthy.call('healthyStart', { mode: p.healthyMode, port: p.healthyMode === 'tcp' ? ports.tcp : ports.ws, intervalMs: p.healthyIntervalMs });
      await sleep(500);
      await healthy.call('healthyMark'); // warm-up samples are not counted
      await server.call('sampleStart', { intervalMs: 25 });
      const a = await attacker.call('attack', { kind: p.attack, durationMs: p.durationMs, ports }, p.durationMs + 20_000);
      const during = await healthy.call('healthyMark');
      // A saturated server answers IPC late: this call's wait is part of what it measures.
      const sampled = await server.call('sampleStop', {}, 60_000);
      await sleep(1_000);
      const after = await server.call('mem', {}, 60_000);
      const afterHealthy = await healthy.call('healthyMark');
      const stop = await healthy.call('healthyStop');
      const s = summarize([during.samples]);
      return {
        attack: p.attack,
        roundTrips: s.count,
        p50Us: s.p50,
        p99Us: s.p99,
        maxUs: s.max,
        failures: during.failures,
        healthyConnected: stop.connected ? 'yes' : `**no** (${stop.disconnect?.code} ${stop.disconnect?.reason ?? ''})`.trim(),
        roundTripsAfter: afterHealthy.samples.length,
        maxRssMB: sampled.maxRss / MiB,
        maxHeapExtMB: sampled.maxHeapExt / MiB,
        cpuPct: sampled.cpuPct,
        loopDelayMaxMs: sampled.loopDelayMaxMs,
        samples: sampled.samples,
        afterRssMB: after.rss / MiB,
        afterHeapExtMB: (after.heapUsed + after.external) / MiB,
        baseRssMB: base.rss / MiB,
        baseHeapExtMB: (base.heapUsed + base.external) / MiB,
        afterConnections: after.connections,
        attackConnections: a.connections,
        attackRefused: a.refused,
        attackClosedByServer: a.closedByServer,
        attackOpenAtEnd: a.openAtEnd,
        attackMB: a.mbSent,
        attackPackets: a.packets,
        attackError: a.error ?? '',
      };
    },
  };
}

export default ATTACKS.map(hostileCase);
