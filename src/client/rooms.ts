/**
 * The rooms this client is in, as far as it knows: the ones it asked for and the ones the
 * server announced, re-joined after every reconnection. While re-joining, the session waits
 * for every echo before it sends the offline queue, so queued messages see the rooms in place.
 */
export class RoomSet {
  #rooms = new Set<string>();
  /** Rooms re-joined at connect whose echo has not come back yet. */
  #awaiting: Set<string> | null = null;

  get size(): number {
    return this.#rooms.size;
  }

  has(room: string): boolean {
    return this.#rooms.has(room);
  }

  add(room: string): void {
    this.#rooms.add(room);
  }

  delete(room: string): void {
    this.#rooms.delete(room);
  }

  clear(): void {
    this.#rooms.clear();
  }

  list(): string[] {
    return [...this.#rooms];
  }

  /** Starts waiting for the echoes of every remembered room; returns them (to send the joins). */
  startRejoin(): string[] {
    this.#awaiting = new Set(this.#rooms);
    return [...this.#rooms];
  }

  /** Rooms still waited for (for a warning). */
  awaiting(): string[] {
    return [...(this.#awaiting ?? [])];
  }

  /** `room` was answered (echo, refusal, or left meanwhile); true when it was the last one waited for. */
  settle(room: string): boolean {
    return this.#awaiting?.delete(room) === true && this.#awaiting.size === 0;
  }

  stopWaiting(): void {
    this.#awaiting = null;
  }
}
