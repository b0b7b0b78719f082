/**
 * A cap on the zlib jobs running at once on libuv's thread pool, shared by every connection of
 * a server (and by every client connection of the process).
 *
 * Each asynchronous zlib call allocates its compression state (up to ~300 KB for deflate) on a
 * pool thread; thousands of them at once fragment the allocator's arenas until the process
 * holds far more memory than it uses (nodejs/node#8871, websockets/ws#1202), and they crowd out
 * everything else the pool runs (fs, dns). Jobs past the cap wait here, in order, and start as
 * running ones finish. Synchronous zlib calls (small messages, see deflate-codec.ts) run on the
 * event loop one at a time and never come through here.
 */

/** A job: starts its zlib work and calls `done` exactly once when it is over. */
export type ZlibJob = (done: () => void) => void;

export const DEFAULT_ZLIB_CONCURRENCY = 10;

export class ZlibLimiter {
  readonly concurrency: number;
  #running = 0;
  /** Waiting jobs from `#head` on (a queue without shift()'s copying). */
  #waiting: ZlibJob[] = [];
  #head = 0;

  constructor(concurrency: number = DEFAULT_ZLIB_CONCURRENCY) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`zlib concurrency must be a positive integer, got ${concurrency}`);
    this.concurrency = concurrency;
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running;
  }

  /** Jobs waiting for a free slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** Runs `job` now if a slot is free, otherwise once one is. */
  run(job: ZlibJob): void {
    if (this.#running < this.concurrency) this.#start(job);
    else this.#waiting.push(job);
  }

  #start(job: ZlibJob): void {
    this.#running++;
    let finished = false;
    job(() => {
      if (finished) return;
      finished = true;
      this.#running--;
      this.#next();
    });
  }

  #next(): void {
    while (this.#running < this.concurrency && this.#head < this.#waiting.length) {
      const job = this.#waiting[this.#head]!;
      this.#waiting[this.#head++] = undefined as unknown as ZlibJob;
      if (this.#head === this.#waiting.length) {
        this.#waiting = [];
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
      this.#start(job);
    }
  }
}

/** The queue of client connections (connectWebSocket), created on first use. */
let clientLimiter: ZlibLimiter | null = null;
export function sharedClientLimiter(): ZlibLimiter {
  return (clientLimiter ??= new ZlibLimiter());
}
