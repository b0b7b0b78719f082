/**
 * Requests waiting for their ACK Response: id allocation and settlement.
 *
 * Ids are u32 from 1 upwards, wrapping after 2^32-1 back to 1; 0 is never used (the server
 * sends id 0 for an answer nobody asked for, e.g. `ctx.ack()` in middleware), and an id still
 * waiting is skipped, so two live requests can never share one.
 */
import { MAX_ACK_ID } from '../protocol/index.js';
import type { StelarError } from '../protocol/index.js';
import type { TimerHandle } from './timers.js';

export interface PendingAck {
  id: number;
  event: string;
  ackName: string;
  resolve(data: unknown): void;
  reject(error: StelarError): void;
  timer: TimerHandle | undefined;
  /** Set while the request sits in the offline queue (its timeout already runs). */
  queued: object | undefined;
}

export function nextAckId(id: number): number {
  return id >= MAX_ACK_ID || id < 1 ? 1 : id + 1;
}

export class AckTracker {
  #pending = new Map<number, PendingAck>();
  #next: number;

  constructor(firstId = 1) {
    this.#next = nextAckId(firstId - 1);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** A fresh id not used by any waiting request. */
  allocate(): number {
    let id = this.#next;
    // Bounded by the map size: at most size+1 probes.
    while (this.#pending.has(id)) id = nextAckId(id);
    this.#next = nextAckId(id);
    return id;
  }

  add(entry: PendingAck): void {
    this.#pending.set(entry.id, entry);
  }

  /** Removes and returns the request with this id (its timer cleared), if it is waiting. */
  take(id: number): PendingAck | undefined {
    const entry = this.#pending.get(id);
    if (!entry) return undefined;
    this.#pending.delete(id);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    return entry;
  }

  /** Every waiting request matching `filter` is removed and rejected with `makeError(entry)`. */
  rejectWhere(filter: (entry: PendingAck) => boolean, makeError: (entry: PendingAck) => StelarError): number {
    let count = 0;
    for (const entry of [...this.#pending.values()]) {
      if (!filter(entry)) continue;
      this.take(entry.id);
      count++;
      entry.reject(makeError(entry));
    }
    return count;
  }
}
