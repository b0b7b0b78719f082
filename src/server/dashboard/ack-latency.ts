/**
 * ACK latency over the last sampling period, in bounded memory: every answered request is
 * counted and its maximum kept, and up to RESERVOIR durations are kept as a uniform random
 * sample (reservoir sampling) for the percentiles, however many requests arrive.
 */

/** Durations kept per period for the percentiles (a p95 from 256 values is good to a few %). */
export const RESERVOIR = 256;

export interface AckLatencySummary {
  /** Requests answered in the period. */
  count: number;
  /** Milliseconds (0 when count is 0), rounded to 0.01 ms. */
  p50: number;
  p95: number;
  max: number;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

export class AckLatencyWindow {
  readonly #kept = new Float64Array(RESERVOIR);
  #count = 0;
  #max = 0;

  /** One answered request took `ms` (from its handler's start to its answer being sent). */
  record(ms: number): void {
    const n = this.#count++;
    if (ms > this.#max) this.#max = ms;
    if (n < RESERVOIR) this.#kept[n] = ms;
    else {
      const j = Math.floor(Math.random() * (n + 1));
      if (j < RESERVOIR) this.#kept[j] = ms;
    }
  }

  /** The period's summary; starts the next period. */
  take(): AckLatencySummary {
    const count = this.#count;
    const kept = this.#kept.slice(0, Math.min(count, RESERVOIR)).sort();
    const at = (q: number): number => (kept.length === 0 ? 0 : round2(kept[Math.min(kept.length - 1, Math.floor(q * kept.length))]!));
    const out = { count, p50: at(0.5), p95: at(0.95), max: round2(this.#max) };
    this.#count = 0;
    this.#max = 0;
    return out;
  }
}
