/**
 * Once per period, a reading from the data source becomes a sample (totals turned into
 * per-second rates), kept in a ring of the last HISTORY samples so a page that opens (or
 * reconnects) draws its charts at once.
 */
import type { DashboardReading } from './source.js';

/** Two minutes at one sample a second. */
export const HISTORY = 120;

/** One point of the charts, as the page receives it (short keys: it is sent every second). */
export interface DashboardSample {
  at: number;
  ws: number;
  tcp: number;
  rooms: number;
  /** Messages received / sent per second over the period. */
  in: number;
  out: number;
  /** ACK requests answered in the period, and their latency in ms. */
  ackN: number;
  ackP50: number;
  ackP95: number;
  ackMax: number;
  mem: number;
  up: number;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

export class DashboardSampler {
  readonly #read: () => DashboardReading;
  readonly #ring: DashboardSample[] = [];
  #last: DashboardReading | null = null;

  constructor(read: () => DashboardReading) {
    this.#read = read;
  }

  /** Forgets the previous reading (a restarted server's counters start again). */
  reset(): void {
    this.#last = null;
    this.#ring.length = 0;
  }

  /** Takes a reading and returns the new sample. */
  sample(): DashboardSample {
    const r = this.#read();
    const prev = this.#last;
    const seconds = prev ? Math.max(0.001, (r.at - prev.at) / 1000) : 1;
    // A first reading has no period behind it: its rates are 0, not everything since start.
    const rate = (now: number, before: number | undefined): number => (before === undefined ? 0 : round1(Math.max(0, now - before) / seconds));
    const s: DashboardSample = {
      at: r.at,
      ws: r.wsConnections,
      tcp: r.tcpConnections,
      rooms: r.rooms,
      in: rate(r.messagesReceived, prev?.messagesReceived),
      out: rate(r.messagesSent, prev?.messagesSent),
      ackN: r.ack.count,
      ackP50: r.ack.p50,
      ackP95: r.ack.p95,
      ackMax: r.ack.max,
      mem: r.memoryMB,
      up: r.uptimeSeconds,
    };
    this.#last = r;
    this.#ring.push(s);
    if (this.#ring.length > HISTORY) this.#ring.shift();
    return s;
  }

  /** The kept samples, oldest first. */
  history(): DashboardSample[] {
    return this.#ring.slice();
  }
}
