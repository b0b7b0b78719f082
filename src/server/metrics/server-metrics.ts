/**
 * The stelar metric set (docs/METRICS.md lists it): every family declared here, filled at
 * scrape time from the server's plain counters (stats.ts) and from what other parts can
 * tell (rooms, requests in flight, sockets, the adapter), plus the histograms of
 * observations.ts and the process figures. Built the first time metrics are turned on; the
 * counters it reads run whether or not it exists, so totals cover the server's whole life.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { AdapterMetrics } from '../../contracts/index.js';
import type { StatsCounters } from '../stats.js';
import { exposition } from './exposition.js';
import { ERROR_CODES, PACKET_TYPES, RATE_LIMIT_SCOPES, RECOVERY_FAILURES, REFUSAL_REASONS, TRANSPORTS } from './labels.js';
import { Observations } from './observations.js';
import { type Gauge, Registry } from './registry.js';

/** What the metrics read, besides the counters; each is asked once per scrape. */
export interface MetricsSources {
  readonly counters: StatsCounters;
  /** Rooms on this node. */
  rooms(): number;
  /** ACK requests whose handler started and that are not answered yet. */
  acksInFlight(): number;
  /** Sockets the server's own listeners hold, and those dropped at accept (socket-gate.ts). */
  readonly sockets: { readonly total: number; readonly dropped: number };
  /** The adapter's counters (Adapter.metrics), when it keeps some. */
  readonly adapter: (() => AdapterMetrics) | null;
  /** Connection-state recovery is on (its families are declared only then). */
  readonly recovery: boolean;
}

/** The event-loop delay monitor's sampling period (ms): fine enough for a 10 ms stall, cheap. */
const LOOP_RESOLUTION_MS = 10;
const LOOP_STATS = ['p50', 'p90', 'p99', 'max'] as const;
const MEMORY_KINDS = ['rss', 'heap_total', 'heap_used', 'external', 'array_buffers'] as const;
const ADAPTER_REJECTIONS = ['forged', 'replayed', 'malformed'] as const;

export class ServerMetrics {
  readonly #registry = new Registry();
  readonly observations: Observations;
  #loop: IntervalHistogram | null = null;
  #loopGauges: Gauge[] = [];

  constructor(src: MetricsSources) {
    const r = this.#registry;
    const c = src.counters;
    const transport = { transport: TRANSPORTS };
    const traffic = { transport: TRANSPORTS, type: PACKET_TYPES };

    const open = r.gauge({ name: 'stelar_connections_open', help: 'Accepted clients connected now.', labels: transport });
    const accepted = r.counter({ name: 'stelar_connections_accepted_total', help: 'Clients accepted (Connect answered).', labels: transport });
    const refused = r.counter({
      name: 'stelar_connections_refused_total',
      help: 'Connections not accepted, by reason.',
      labels: { transport: TRANSPORTS, reason: REFUSAL_REASONS },
    });
    const sockets = r.gauge({ name: 'stelar_sockets_open', help: "Sockets held by the server's own listeners (idle HTTP, handshakes and clients)." });
    const dropped = r.counter({ name: 'stelar_sockets_dropped_total', help: 'Sockets closed at accept: past the socket caps or out of file descriptors.' });
    r.onCollect(() => {
      open.set(0, c.wsConnections);
      open.set(1, c.tcpConnections);
      accepted.copy(c.accepted);
      refused.copy(c.refusals);
      sockets.set(0, src.sockets.total);
      dropped.set(0, src.sockets.dropped);
    });

    const messagesIn = r.counter({ name: 'stelar_messages_received_total', help: 'Packets received from clients, by packet type.', labels: traffic });
    const bytesIn = r.counter({ name: 'stelar_received_bytes_total', help: 'Bytes of the packets received (transport framing not counted).', labels: traffic });
    const messagesOut = r.counter({
      name: 'stelar_messages_sent_total',
      help: 'Packets written to clients (a broadcast counts once per recipient).',
      labels: traffic,
    });
    const bytesOut = r.counter({ name: 'stelar_sent_bytes_total', help: 'Bytes of the packets written (transport framing not counted).', labels: traffic });
    r.onCollect(() => {
      messagesIn.copy(c.packetsIn);
      bytesIn.copy(c.bytesIn);
      messagesOut.copy(c.packetsOut);
      bytesOut.copy(c.bytesOut);
    });

    const rateLimited = r.counter({
      name: 'stelar_rate_limited_total',
      help: 'Messages refused by a rate limit, by scope.',
      labels: { transport: TRANSPORTS, scope: RATE_LIMIT_SCOPES },
    });
    const slow = r.counter({ name: 'stelar_slow_consumers_total', help: 'Clients disconnected for not reading (4006).', labels: transport });
    const errors = r.counter({
      name: 'stelar_errors_total',
      help: 'Errors reported to clients (Error packets, protocol errors), by code.',
      labels: { code: ERROR_CODES },
    });
    const rooms = r.gauge({ name: 'stelar_rooms', help: 'Rooms on this node.' });
    const inFlight = r.gauge({ name: 'stelar_ack_requests_in_flight', help: 'ACK requests being handled (handler started, not answered).' });
    r.onCollect(() => {
      rateLimited.copy(c.rateLimits);
      slow.copy(c.slowConsumers);
      errors.copy(c.errors);
      rooms.set(0, src.rooms());
      inFlight.set(0, src.acksInFlight());
    });

    this.observations = new Observations(r);

    if (src.recovery) {
      const restored = r.counter({ name: 'stelar_recovery_restored_total', help: 'Clients that resumed their session (connection-state recovery).' });
      const replayed = r.counter({ name: 'stelar_recovery_replayed_messages_total', help: 'Missed messages replayed to resumed clients.' });
      const failed = r.counter({
        name: 'stelar_recovery_failed_total',
        help: 'Resumes refused (the client starts a new session), by reason.',
        labels: { reason: RECOVERY_FAILURES },
      });
      r.onCollect(() => {
        restored.set(0, c.recoveries);
        replayed.set(0, c.replayedMessages);
        failed.copy(c.recoveryFailures);
      });
    }

    if (src.adapter) this.#adapterFamilies(src.adapter);
    this.#processFamilies(c);
  }

  /** The adapter's families: the three counters, and what else its first answer shows it keeps. */
  #adapterFamilies(read: () => AdapterMetrics): void {
    const r = this.#registry;
    const first = read();
    const published = r.counter({ name: 'stelar_adapter_published_total', help: 'Messages the adapter published to other nodes.' });
    const received = r.counter({ name: 'stelar_adapter_received_total', help: 'Messages the adapter received from other nodes.' });
    const dropped = r.counter({ name: 'stelar_adapter_dropped_total', help: 'Publishes the adapter dropped (backend away or too far behind).' });
    const rejected = first.rejected
      ? r.counter({
          name: 'stelar_adapter_rejected_total',
          help: 'Messages from other nodes refused, by reason (bad signature, replay, malformed).',
          labels: { reason: ADAPTER_REJECTIONS },
        })
      : null;
    const linkUp =
      first.linkUp === undefined
        ? null
        : r.gauge({ name: 'stelar_adapter_link_up', help: "1 while the adapter's link to its backend (Redis) is usable, else 0." });
    const nodes = first.nodes === undefined ? null : r.gauge({ name: 'stelar_adapter_nodes', help: 'Live nodes of the cluster, this one included.' });
    r.onCollect(() => {
      const m = read();
      published.set(0, m.published);
      received.set(0, m.received);
      dropped.set(0, m.dropped);
      if (rejected && m.rejected) for (let i = 0; i < ADAPTER_REJECTIONS.length; i++) rejected.set(i, m.rejected[ADAPTER_REJECTIONS[i]]);
      linkUp?.set(0, m.linkUp ? 1 : 0);
      nodes?.set(0, m.nodes ?? 0);
    });
  }

  #processFamilies(c: StatsCounters): void {
    const r = this.#registry;
    this.#loopGauges = LOOP_STATS.map((stat) =>
      r.gauge({
        name: `stelar_event_loop_delay_${stat}_seconds`,
        help: `Event-loop delay, ${stat === 'max' ? 'maximum' : `${stat.slice(1)}th percentile`}, since the previous scrape (sampled every ${LOOP_RESOLUTION_MS} ms; NaN before any sample).`,
      }),
    );
    const cpu = r.counter({
      name: 'stelar_process_cpu_seconds_total',
      help: 'CPU time of the process, user and system.',
      labels: { mode: ['user', 'system'] },
    });
    const memory = r.gauge({ name: 'stelar_process_memory_bytes', help: 'Memory of the process (process.memoryUsage()).', labels: { kind: MEMORY_KINDS } });
    const startTime = r.gauge({ name: 'stelar_start_time_seconds', help: 'When the server last started, in seconds since the Unix epoch.' });
    r.onCollect(() => {
      this.#readLoop();
      const u = process.cpuUsage();
      cpu.set(0, u.user / 1e6);
      cpu.set(1, u.system / 1e6);
      const m = process.memoryUsage();
      const values = [m.rss, m.heapTotal, m.heapUsed, m.external, m.arrayBuffers];
      for (let i = 0; i < values.length; i++) memory.set(i, values[i]);
      startTime.set(0, c.startedAt / 1000);
    });
  }

  /** The loop gauges from the monitor, which then starts a new window. */
  #readLoop(): void {
    const h = this.#loop;
    const empty = h === null || h.count === 0;
    const values = empty ? [Number.NaN, Number.NaN, Number.NaN, Number.NaN] : [h.percentile(50), h.percentile(90), h.percentile(99), h.max];
    for (let i = 0; i < values.length; i++) this.#loopGauges[i].set(0, values[i] / 1e9);
    h?.reset();
  }

  /** The server started: the event-loop delay is sampled from now on. */
  start(): void {
    if (this.#loop) return;
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#loop.enable();
  }

  /** The server stopped (or metrics were turned off): the monitor's timer goes. */
  stop(): void {
    this.#loop?.disable();
    this.#loop = null;
  }

  /** One scrape: the exposition text. */
  render(): string {
    return exposition(this.#registry.collect());
  }
}
