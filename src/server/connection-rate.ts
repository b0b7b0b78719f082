/**
 * How fast one remote address may open connections (`connectionRateLimit`): a token bucket
 * per address, charged once per new session, refused or not. Without it, "connect, flood,
 * get cut off, reconnect" costs an attacker nothing. The buckets of addresses that have
 * refilled are dropped by `cleanup()` (the hub's sweep), so memory follows recent churn only.
 */
import { type RateLimitConfig, reconfigured, type TokenBucketRateLimiter } from '../contracts/index.js';
import { ErrorCode, StelarError } from '../protocol/index.js';

export class ConnectionRate {
  #limiter: TokenBucketRateLimiter | null = null;
  #config: RateLimitConfig | null = null;

  /** null = allowed; otherwise the error the client is told (close 4003). `config` is read each time (runtime option). */
  admit(config: RateLimitConfig | null, ip: string): StelarError | null {
    if (!config) return null;
    if (config !== this.#config || !this.#limiter) {
      this.#config = config;
      this.#limiter = reconfigured(this.#limiter, config);
    }
    if (this.#limiter.check(ip)) return null;
    return new StelarError(ErrorCode.TOO_MANY_FROM_IP, `too many new connections from ${ip} (${config.maxPoints} per ${config.windowMs} ms)`);
  }

  cleanup(): void {
    this.#limiter?.cleanup();
  }

  size(): number {
    return this.#limiter?.size() ?? 0;
  }

  clear(): void {
    this.#limiter?.clear();
  }
}
