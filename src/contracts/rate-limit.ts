/**
 * The rate-limit contract shared by the server and the limiters that plug into it (the
 * built-in token bucket, `RedisRateLimiter`), and the token bucket itself: the in-memory
 * limiter the server uses by default and that a Redis limiter falls back to.
 */

export interface RateLimitConfig {
  /** Messages allowed per window (the bucket's capacity). */
  maxPoints: number;
  /** Window in ms over which `maxPoints` refill. */
  windowMs: number;
}

/** A byte budget: `maxBytes` may arrive at once, refilled continuously over `windowMs`. */
export interface ByteRateLimitConfig {
  maxBytes: number;
  windowMs: number;
}

/** Replaces the built-in global token bucket (e.g. a Redis counter). May be async. */
export interface IRateLimiter {
  /** true = allowed. */
  check(id: string, cost?: number): boolean | Promise<boolean>;
  reset(id: string): void | Promise<void>;
  cleanup(): void | Promise<void>;
  size(): number | Promise<number>;
}

interface Bucket {
  tokens: number;
  last: number;
}

/** Classic token bucket: `maxPoints` capacity, refilled continuously over `windowMs`. */
export class TokenBucketRateLimiter implements IRateLimiter {
  #buckets = new Map<string, Bucket>();
  #capacity = 0;
  #perMs = 0;

  constructor(config: RateLimitConfig) {
    this.configure(config);
  }

  /** Changes capacity/refill in place; existing buckets keep their tokens (capped). */
  configure(config: RateLimitConfig): void {
    this.#capacity = config.maxPoints;
    this.#perMs = config.maxPoints / config.windowMs;
  }

  check(id: string, cost = 1): boolean {
    const now = Date.now();
    const bucket = this.#buckets.get(id);
    if (!bucket) {
      if (cost > this.#capacity) return false;
      this.#buckets.set(id, { tokens: this.#capacity - cost, last: now });
      return true;
    }
    const tokens = Math.min(this.#capacity, bucket.tokens + (now - bucket.last) * this.#perMs);
    bucket.last = now;
    if (tokens < cost) {
      bucket.tokens = tokens;
      return false;
    }
    bucket.tokens = tokens - cost;
    return true;
  }

  reset(id: string): void {
    this.#buckets.delete(id);
  }

  /**
   * Copies `from`'s bucket to `to` when it is not full (a full bucket carries no information);
   * when `to` has one already, the emptier of the two is kept. `move` also drops `from`.
   */
  carry(from: string, to: string, move: boolean): void {
    const source = this.#buckets.get(from);
    if (!source) return;
    if (move) this.#buckets.delete(from);
    const now = Date.now();
    const tokens = Math.min(this.#capacity, source.tokens + (now - source.last) * this.#perMs);
    if (tokens >= this.#capacity) return;
    const target = this.#buckets.get(to);
    const current = target ? Math.min(this.#capacity, target.tokens + (now - target.last) * this.#perMs) : this.#capacity;
    this.#buckets.set(to, { tokens: Math.min(tokens, current), last: now });
  }

  /** Drops buckets that have refilled completely: they carry no information. */
  cleanup(): void {
    const now = Date.now();
    for (const [id, b] of this.#buckets) {
      if (b.tokens + (now - b.last) * this.#perMs >= this.#capacity) this.#buckets.delete(id);
    }
  }

  size(): number {
    return this.#buckets.size;
  }

  clear(): void {
    this.#buckets.clear();
  }
}

/**
 * `limiter` set to `config` (its buckets keep their tokens, capped to the new capacity), or a
 * new limiter when there is none yet: what every live limit change does.
 */
export function reconfigured(limiter: TokenBucketRateLimiter | null | undefined, config: RateLimitConfig): TokenBucketRateLimiter {
  if (!limiter) return new TokenBucketRateLimiter(config);
  limiter.configure(config);
  return limiter;
}
