/**
 * The offline queue: messages emitted while the client is not connected, sent in order on the
 * next connection. Bounded: when full, the oldest entry is dropped and handed back to the
 * caller, which tells the application (hook) and fails a dropped request.
 * Sizes are small (default 100), so a plain array with shift() is the simple right choice.
 */
export class BoundedQueue<T> {
  #items: T[] = [];
  #capacity: number;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity));
  }

  get size(): number {
    return this.#items.length;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Appends `item`; returns the entries dropped to make room (oldest first). With capacity 0
   * nothing is kept: the item itself comes back as dropped.
   */
  push(item: T): T[] {
    if (this.#capacity === 0) return [item];
    this.#items.push(item);
    return this.#trim();
  }

  /** Changes the capacity; returns the oldest entries dropped to fit. */
  resize(capacity: number): T[] {
    this.#capacity = Math.max(0, Math.floor(capacity));
    return this.#trim();
  }

  /** Removes one entry (a request whose timeout ran out while queued). */
  remove(item: T): boolean {
    const i = this.#items.indexOf(item);
    if (i === -1) return false;
    this.#items.splice(i, 1);
    return true;
  }

  /** Takes everything out, oldest first. */
  drain(): T[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }

  #trim(): T[] {
    const excess = this.#items.length - this.#capacity;
    return excess > 0 ? this.#items.splice(0, excess) : [];
  }
}
