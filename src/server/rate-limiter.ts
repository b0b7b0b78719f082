/**
 * Rate limiting: a token bucket, and the policy that picks which bucket judges a message.
 *
 * Priority (the first that applies decides, the others are not consulted):
 *   per-client override > per-event limit > global limit.
 * The global tier is the built-in bucket (`rateLimit`), or `customRateLimiter` when one is
 * given: a custom limiter replaces the built-in global bucket, it does not stack on it.
 */
import type { IRateLimiter, RateLimitConfig, RateLimitScope } from './types.js';

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

/** null = allowed; otherwise the tier that refused. May be a Promise with a custom limiter. */
export type RateVerdict = RateLimitScope | null;

export interface RateLimitSource {
  rateLimit: RateLimitConfig | null;
  eventRateLimits: Map<string, RateLimitConfig>;
  customRateLimiter: IRateLimiter | null;
}

export class RateLimits {
  #config: RateLimitSource;
  #global: TokenBucketRateLimiter | null = null;
  #events = new Map<string, TokenBucketRateLimiter>();
  /** Per-client overrides: one small bucket set per overridden client only. */
  #clients = new Map<string, TokenBucketRateLimiter>();
  #onAsyncError: (err: unknown) => void;

  constructor(config: RateLimitSource, onAsyncError: (err: unknown) => void) {
    this.#config = config;
    this.#onAsyncError = onAsyncError;
    this.sync();
  }

  /** Re-reads `rateLimit` and `eventRateLimits` from the config after an update. */
  sync(): void {
    const g = this.#config.rateLimit;
    if (!g) this.#global = null;
    else if (this.#global) this.#global.configure(g);
    else this.#global = new TokenBucketRateLimiter(g);
    for (const event of this.#events.keys()) if (!this.#config.eventRateLimits.has(event)) this.#events.delete(event);
    for (const [event, cfg] of this.#config.eventRateLimits) {
      const existing = this.#events.get(event);
      if (existing) existing.configure(cfg);
      else this.#events.set(event, new TokenBucketRateLimiter(cfg));
    }
  }

  setEventLimit(event: string, config: RateLimitConfig): void {
    this.#config.eventRateLimits.set(event, config);
    this.sync();
  }

  removeEventLimit(event: string): boolean {
    const had = this.#config.eventRateLimits.delete(event);
    this.#events.delete(event);
    return had;
  }

  setClientLimit(id: string, config: RateLimitConfig): void {
    const existing = this.#clients.get(id);
    if (existing) existing.configure(config);
    else this.#clients.set(id, new TokenBucketRateLimiter(config));
  }

  removeClientLimit(id: string): boolean {
    return this.#clients.delete(id);
  }

  get clientLimitCount(): number {
    return this.#clients.size;
  }

  /** Judges one message from `id` for `event` ('' = no event-specific tier). */
  check(id: string, event: string): RateVerdict | Promise<RateVerdict> {
    const client = this.#clients.get(id);
    if (client) return client.check(id) ? null : 'client';
    if (event) {
      const perEvent = this.#events.get(event);
      if (perEvent) return perEvent.check(id) ? null : 'event';
    }
    const custom = this.#config.customRateLimiter;
    if (custom) {
      const verdict = custom.check(id, 1);
      if (verdict instanceof Promise) return verdict.then((ok) => (ok ? null : 'custom'));
      return verdict ? null : 'custom';
    }
    if (this.#global) return this.#global.check(id) ? null : 'global';
    return null;
  }

  /** Forgets everything about a client that left. */
  forget(id: string): void {
    this.#clients.delete(id);
    this.#global?.reset(id);
    for (const limiter of this.#events.values()) limiter.reset(id);
    const custom = this.#config.customRateLimiter;
    if (custom) this.#guard(() => custom.reset(id));
  }

  cleanup(): void {
    this.#global?.cleanup();
    for (const limiter of this.#events.values()) limiter.cleanup();
    const custom = this.#config.customRateLimiter;
    if (custom) this.#guard(() => custom.cleanup());
  }

  /** Entries held by the built-in buckets, plus the custom limiter's size when it is synchronous. */
  size(): number {
    let n = (this.#global?.size() ?? 0) + this.#clients.size;
    for (const limiter of this.#events.values()) n += limiter.size();
    const custom = this.#config.customRateLimiter;
    if (custom) {
      try {
        const s = custom.size();
        if (typeof s === 'number') n += s;
        else if (s instanceof Promise) s.catch(this.#onAsyncError);
      } catch (err) {
        this.#onAsyncError(err);
      }
    }
    return n;
  }

  clear(): void {
    this.#global?.clear();
    this.#clients.clear();
    for (const limiter of this.#events.values()) limiter.clear();
  }

  #guard(fn: () => void | Promise<void>): void {
    try {
      const r = fn();
      if (r instanceof Promise) r.catch(this.#onAsyncError);
    } catch (err) {
      this.#onAsyncError(err);
    }
  }
}
