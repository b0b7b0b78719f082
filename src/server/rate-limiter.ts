/**
 * Rate limiting: the policy that picks which token bucket judges a message (the bucket itself
 * is in src/contracts/rate-limit.ts, shared with the Redis limiter).
 *
 * Priority (the first that applies decides, the others are not consulted):
 *   per-client override > per-event limit > global limit.
 * The global tier is the built-in bucket (`rateLimit`), or `customRateLimiter` when one is
 * given: a custom limiter replaces the built-in global bucket, it does not stack on it.
 */
import { type ByteRateLimitConfig, type IRateLimiter, type RateLimitConfig, reconfigured, TokenBucketRateLimiter } from '../contracts/index.js';
import type { RateLimitKey } from './extension-types.js';
import type { RateLimitScope, TransportProtocol } from './types.js';

export { TokenBucketRateLimiter };

/** null = allowed; otherwise the tier that refused. May be a Promise with a custom limiter. */
export type RateVerdict = RateLimitScope | null;

/** Where the custom limiter is read from at each check (it can be swapped at runtime). */
export interface CustomLimiterSource {
  readonly customRateLimiter: IRateLimiter | null;
  /** What a client's buckets are keyed by (read when a client is accepted); absent = 'id'. */
  readonly rateLimitKey?: RateLimitKey;
}

/** Where a departed client's unfinished bucket waits for the next client from its address. */
const carriedKey = (address: string): string => `\0carried:${address}`;

export class RateLimits {
  readonly #source: CustomLimiterSource;
  #global: TokenBucketRateLimiter | null = null;
  /** Inbound bytes per client, beside the message count (null = off). */
  #bytes: TokenBucketRateLimiter | null = null;
  /** The per-event limits: owned here (setEventRateLimit and updateConfig both land here). */
  #eventLimits = new Map<string, RateLimitConfig>();
  #events = new Map<string, TokenBucketRateLimiter>();
  /** Per-client overrides: one small bucket set per overridden client only. */
  #clients = new Map<string, TokenBucketRateLimiter>();
  #onAsyncError: (err: unknown) => void;
  /** Client id -> shared bucket key, for clients keyed by something else than their id. */
  #keys = new Map<string, string>();

  constructor(source: CustomLimiterSource, global: RateLimitConfig | null, events: ReadonlyMap<string, RateLimitConfig>, onAsyncError: (err: unknown) => void) {
    this.#source = source;
    this.#onAsyncError = onAsyncError;
    this.setGlobalLimit(global);
    this.replaceEventLimits(events);
  }

  /** The global bucket's limit; null = none (existing buckets keep their tokens, capped). */
  setGlobalLimit(global: RateLimitConfig | null): void {
    this.#global = global ? reconfigured(this.#global, global) : null;
  }

  /** The per-client byte budget; null = none. */
  setByteLimit(limit: ByteRateLimitConfig | null): void {
    this.#bytes = limit ? reconfigured(this.#bytes, { maxPoints: limit.maxBytes, windowMs: limit.windowMs }) : null;
  }

  /** Spends `n` bytes of `id`'s byte budget; false = over it (the packet is refused). */
  checkBytes(id: string, n: number): boolean {
    return this.#bytes === null || this.#bytes.check(id, n);
  }

  /** Replaces every per-event limit (`updateConfig({ eventRateLimits })`). */
  replaceEventLimits(events: ReadonlyMap<string, RateLimitConfig>): void {
    this.#eventLimits = new Map(events);
    this.#syncEvents();
  }

  #syncEvents(): void {
    for (const event of this.#events.keys()) if (!this.#eventLimits.has(event)) this.#events.delete(event);
    for (const [event, cfg] of this.#eventLimits) this.#events.set(event, reconfigured(this.#events.get(event), cfg));
  }

  setEventLimit(event: string, config: RateLimitConfig): void {
    this.#eventLimits.set(event, config);
    this.#syncEvents();
  }

  removeEventLimit(event: string): boolean {
    const had = this.#eventLimits.delete(event);
    this.#events.delete(event);
    return had;
  }

  /** The events that have a limit of their own (for `getConfig()`). */
  eventNames(): string[] {
    return [...this.#eventLimits.keys()];
  }

  setClientLimit(id: string, config: RateLimitConfig): void {
    this.#clients.set(id, reconfigured(this.#clients.get(id), config));
  }

  removeClientLimit(id: string): boolean {
    return this.#clients.delete(id);
  }

  get clientLimitCount(): number {
    return this.#clients.size;
  }

  /**
   * A client was accepted: picks the key its global, per-event and custom buckets use
   * (`rateLimitKey`). Keyed by id (the default), it starts from the unfinished bucket a
   * client from the same address left behind, if one is still refilling.
   */
  bind(id: string, address: string, protocol: TransportProtocol): void {
    const mode = this.#source.rateLimitKey ?? 'id';
    if (mode === 'id') {
      const carried = carriedKey(address);
      this.#global?.carry(carried, id, false);
      for (const limiter of this.#events.values()) limiter.carry(carried, id, false);
      return;
    }
    let key = address;
    if (typeof mode === 'function') {
      try {
        key = String(mode({ id, remoteAddress: address, protocol }));
      } catch (err) {
        this.#onAsyncError(err);
        key = id;
      }
    }
    if (key !== id) this.#keys.set(id, key);
  }

  /** Judges one message from `id` for `event` ('' = no event-specific tier). */
  check(id: string, event: string): RateVerdict | Promise<RateVerdict> {
    // Overrides, shared keys and per-event limits are rare: their Maps are only asked when not empty.
    if (this.#clients.size !== 0) {
      const client = this.#clients.get(id);
      if (client) return client.check(id) ? null : 'client';
    }
    const key = this.#keys.size === 0 ? id : (this.#keys.get(id) ?? id);
    if (event && this.#events.size !== 0) {
      const perEvent = this.#events.get(event);
      if (perEvent) return perEvent.check(key) ? null : 'event';
    }
    const custom = this.#source.customRateLimiter;
    if (custom) {
      const verdict = custom.check(key, 1);
      if (verdict instanceof Promise) return verdict.then((ok) => (ok ? null : 'custom'));
      return verdict ? null : 'custom';
    }
    if (this.#global) return this.#global.check(key) ? null : 'global';
    return null;
  }

  /**
   * Forgets a client that left. A shared key's buckets stay (other clients may use them; the
   * cleanup drops them once refilled). A client keyed by id leaves its unfinished buckets to
   * the next client from `address`, so a reconnect does not start from a full bucket.
   */
  forget(id: string, address?: string): void {
    this.#clients.delete(id);
    this.#bytes?.reset(id);
    if (this.#keys.delete(id)) return;
    for (const limiter of this.#builtIn()) {
      if (address === undefined) limiter.reset(id);
      else limiter.carry(id, carriedKey(address), true);
    }
    const custom = this.#source.customRateLimiter;
    if (custom) this.#guard(() => custom.reset(id));
  }

  #builtIn(): TokenBucketRateLimiter[] {
    const out = [...this.#events.values()];
    if (this.#global) out.push(this.#global);
    return out;
  }

  cleanup(): void {
    this.#global?.cleanup();
    this.#bytes?.cleanup();
    for (const limiter of this.#events.values()) limiter.cleanup();
    const custom = this.#source.customRateLimiter;
    if (custom) this.#guard(() => custom.cleanup());
  }

  /** Entries held by the built-in buckets, plus the custom limiter's size when it is synchronous. */
  size(): number {
    // The byte buckets shadow the message ones one to one; they are not counted twice.
    let n = (this.#global?.size() ?? 0) + this.#clients.size;
    for (const limiter of this.#events.values()) n += limiter.size();
    const custom = this.#source.customRateLimiter;
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
    this.#bytes?.clear();
    this.#clients.clear();
    this.#keys.clear();
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
