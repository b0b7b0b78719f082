/**
 * Counts open connections per remote address. The default tracker allows up to
 * `maxConnectionsPerIP`; an IP's entry is removed with its last connection, so the map
 * never holds addresses that are gone.
 */
import type { IIPTracker } from './types.js';

export class IPConnectionTracker implements IIPTracker {
  #counts = new Map<string, number>();
  #limit: () => number;

  /** `limit` is read at each check, so runtime config changes apply at once. */
  constructor(limit: () => number) {
    this.#limit = limit;
  }

  check(ip: string): boolean {
    return (this.#counts.get(ip) ?? 0) < this.#limit();
  }

  add(ip: string): void {
    this.#counts.set(ip, (this.#counts.get(ip) ?? 0) + 1);
  }

  remove(ip: string): void {
    const n = this.#counts.get(ip);
    if (n === undefined) return;
    if (n <= 1) this.#counts.delete(ip);
    else this.#counts.set(ip, n - 1);
  }

  getCount(ip: string): number {
    return this.#counts.get(ip) ?? 0;
  }

  cleanup(): void {
    for (const [ip, n] of this.#counts) if (n <= 0) this.#counts.delete(ip);
  }

  get size(): number {
    return this.#counts.size;
  }
}
