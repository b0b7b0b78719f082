/**
 * RedisRateLimiter: the server's `customRateLimiter`, shared by every node. Each check is
 * one round trip (a Lua token bucket, EVALSHA), atomic, on Redis' clock, so a client limited
 * to N messages per window gets N across the whole cluster, whichever node it talks to.
 *
 * While Redis is away the limit falls back to a local bucket per node (same capacity): no
 * open door, no wait on a dead connection, and nothing queued for later.
 */
import type { LoggerLike } from '../../logger.js';
import { type IRateLimiter, type RateLimitConfig, TokenBucketRateLimiter } from '../../contracts/index.js';
import { driverFor, type RedisDriver } from './driver.js';
import { TOKEN_BUCKET } from './scripts.js';

export interface RedisRateLimiterOptions extends RateLimitConfig {
  /** Key prefix; one bucket per id under it. Default 'stelar:rl:'. */
  keyPrefix?: string;
  /** Where fallback notices go. Default: console. */
  logger?: LoggerLike;
}

export class RedisRateLimiter implements IRateLimiter {
  readonly #driver: RedisDriver;
  readonly #prefix: string;
  readonly #capacity: number;
  readonly #windowMs: number;
  readonly #fallback: TokenBucketRateLimiter;
  readonly #logger: LoggerLike;
  /** Ids checked recently, with the time: `size()` without a round trip. */
  #seen = new Map<string, number>();
  #degraded = false;

  constructor(client: unknown, options: RedisRateLimiterOptions) {
    const { maxPoints, windowMs } = options ?? ({} as RedisRateLimiterOptions);
    if (!Number.isInteger(maxPoints) || maxPoints <= 0) throw new RangeError('maxPoints must be a positive integer');
    if (!Number.isInteger(windowMs) || windowMs <= 0) throw new RangeError('windowMs must be a positive integer');
    this.#driver = driverFor(client);
    this.#prefix = options.keyPrefix ?? 'stelar:rl:';
    this.#capacity = maxPoints;
    this.#windowMs = windowMs;
    this.#fallback = new TokenBucketRateLimiter({ maxPoints, windowMs });
    this.#logger = options.logger ?? console;
  }

  /** True = allowed. One EVALSHA; the local bucket decides while Redis is away. */
  check(id: string, cost = 1): boolean | Promise<boolean> {
    this.#seen.set(id, Date.now());
    if (!this.#driver.ready) return this.#local(id, cost, 'not connected');
    return TOKEN_BUCKET.run(this.#driver, [this.#prefix + id], [String(this.#capacity), String(this.#windowMs), String(cost)]).then(
      (reply) => {
        if (this.#degraded) {
          this.#degraded = false;
          this.#logger.info('rate limiter: Redis reachable again, cluster-wide limits restored');
        }
        return Number(reply) === 1;
      },
      (err: unknown) => this.#local(id, cost, err instanceof Error ? err.message : String(err)),
    );
  }

  #local(id: string, cost: number, why: string): boolean {
    if (!this.#degraded) {
      this.#degraded = true;
      this.#logger.warn(`rate limiter: Redis unavailable (${why}), limiting per node until it is back`);
    }
    return this.#fallback.check(id, cost);
  }

  /**
   * The server calls this when a client disconnects. A shared bucket must outlive one
   * connection (the same id may be connected to another node, or reconnect at once to get a
   * full bucket), so only this node's bookkeeping is dropped; the bucket expires on its own
   * once it would be full again. `clear(id)` empties it on purpose.
   */
  reset(id: string): void {
    this.#seen.delete(id);
    this.#fallback.reset(id);
  }

  /** Deletes the shared bucket of `id` (cluster-wide). */
  async clear(id: string): Promise<void> {
    this.reset(id);
    if (this.#driver.ready) await this.#driver.command(['DEL', this.#prefix + id], this.#prefix + id);
  }

  /** Redis expires idle buckets itself; here only the local bookkeeping is pruned. */
  cleanup(): void {
    const cutoff = Date.now() - this.#windowMs;
    for (const [id, at] of this.#seen) if (at < cutoff) this.#seen.delete(id);
    this.#fallback.cleanup();
  }

  /** Ids this node checked within the last window (the buckets themselves live in Redis). */
  size(): number {
    return this.#seen.size;
  }
}
