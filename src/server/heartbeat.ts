/**
 * One timer for every client. Instead of a timer per connection (thousands of them, each
 * re-armed on every message), sessions record `lastSeen` and a single unref'd interval
 * sweeps them all. Its period follows the tightest deadline, so a timeout fires at most
 * a quarter of that deadline late.
 */
export const MIN_SWEEP_MS = 25;
export const MAX_SWEEP_MS = 1000;

/** The sweep period for the given deadlines (ms). */
export function sweepInterval(heartbeatTimeout: number, connectTimeout: number): number {
  const tightest = Math.min(heartbeatTimeout, connectTimeout);
  return Math.max(MIN_SWEEP_MS, Math.min(MAX_SWEEP_MS, Math.floor(tightest / 4)));
}

export class Sweeper {
  #timer: NodeJS.Timeout | null = null;
  #period = 0;
  readonly #tick: (now: number) => void;

  constructor(tick: (now: number) => void) {
    this.#tick = tick;
  }

  get running(): boolean {
    return this.#timer !== null;
  }

  /** Starts, or re-times when the period changed. */
  start(periodMs: number): void {
    if (this.#timer && periodMs === this.#period) return;
    this.stop();
    this.#period = periodMs;
    this.#timer = setInterval(() => this.#tick(Date.now()), periodMs);
    // Housekeeping must never keep the process alive on its own.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
