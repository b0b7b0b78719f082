/**
 * The rooms this client is in, as far as it knows: the ones it asked for and the ones the
 * server announced, re-joined after every reconnection. While re-joining, the session waits
 * for every echo before it sends the offline queue, so queued messages see the rooms in place.
 */
export class RoomSet {
  #rooms = new Set<string>();
  /**
   * Rooms this client asked to leave whose answer has not come yet: still listed (the server
   * may refuse the leave, and the client is then still in the room) until the echo confirms it.
   */
  #leaving = new Set<string>();
  /** Rooms re-joined at connect whose echo has not come back yet. */
  #awaiting: Set<string> | null = null;

  get size(): number {
    return this.#rooms.size;
  }

  has(room: string): boolean {
    return this.#rooms.has(room);
  }

  /** The server put this client in `room` (a join echo, or its own ctx.joinRoom). */
  add(room: string): void {
    this.#rooms.add(room);
  }

  /** The client is not in `room` (any more): a confirmed leave, or the server removed it. */
  delete(room: string): void {
    this.#rooms.delete(room);
    this.#leaving.delete(room);
  }

  /** `joinRoom()`: true when a Join must be sent (a new room, or one whose leave is under way). */
  join(room: string): boolean {
    if (this.#leaving.delete(room)) return true;
    if (this.#rooms.has(room)) return false;
    this.#rooms.add(room);
    return true;
  }

  /** `leaveRoom()`: online, the room stays listed until the server confirms; offline it goes now. */
  leave(room: string, online: boolean): void {
    if (online && this.#rooms.has(room)) this.#leaving.add(room);
    else this.delete(room);
  }

  /**
   * The server refused a request about `room`: a refused leave keeps the room (the client is
   * still in it), a refused join forgets it (so it is not retried on every reconnection).
   */
  refused(room: string): void {
    if (!this.#leaving.delete(room)) this.#rooms.delete(room);
  }

  /** The connection is gone: leaves that were not confirmed are done (the rooms are not re-joined). */
  dropLeaving(): void {
    for (const room of this.#leaving) this.#rooms.delete(room);
    this.#leaving.clear();
  }

  clear(): void {
    this.#rooms.clear();
    this.#leaving.clear();
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
