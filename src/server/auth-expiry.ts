/**
 * When each connection's credentials expire, and what is due before: one timer for every
 * connection, armed for the earliest deadline of a min-heap (one entry per connection that
 * has an expiry; setting, moving or removing one is O(log n), nothing is scanned).
 *
 * An entry is due twice at most:
 *   1. at `expiresAt - lead` (lead = min(leadTime, half the time left when the expiry was set)):
 *      the client is asked for fresh credentials, if it said it can answer (`canRefresh`);
 *   2. at `expiresAt`: the credentials expired. A refresh that moved the expiry later made the
 *      entry new (step 1 again); one that did not leaves step 2 in place.
 * An expiry set before the session is accepted waits, unarmed, until `arm` (or `forget`).
 *
 * The owner decides what "ask" and "expire" do (src/server/refresh.ts); this file only keeps time.
 */

/** What an entry's owner is to the clock: the clock only reads whether it can be asked. */
export interface Expiring {
  readonly canRefresh: boolean;
}

export interface ExpiryActions<S extends Expiring> {
  /** Ask `session` for fresh credentials: the current ones expire in `msLeft`. */
  ask(session: S, msLeft: number): void;
  /** `session`'s credentials expired; `asked`: it was asked for fresh ones first. */
  expire(session: S, asked: boolean): void;
  /** How long before the expiry the client is asked (ms; read whenever an expiry is set). */
  readonly leadTime: number;
}

interface Entry<S> {
  readonly session: S;
  /** Epoch ms. */
  expiresAt: number;
  /** When this entry is next due (epoch ms): the ask, or the expiry itself. */
  due: number;
  /** The client was asked for fresh credentials for this expiry. */
  asked: boolean;
  /** Its answer is being checked (the middleware runs): not asked again meanwhile. */
  refreshing: boolean;
  /** Bumped by every `set`, so a refresh can tell whether its middleware set one. */
  version: number;
  /** Position in the heap; -1 while not armed. */
  index: number;
}

/** setTimeout's largest delay (about 24.8 days); a later deadline is reached in steps. */
const MAX_DELAY = 2 ** 31 - 1;

export class ExpiryClock<S extends Expiring> {
  readonly #actions: ExpiryActions<S>;
  readonly #entries = new Map<S, Entry<S>>();
  readonly #heap: Entry<S>[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires (epoch ms); Infinity when none is armed. */
  #timerAt = Infinity;
  /** Inside `#fire`: the timer is armed once, at the end. */
  #firing = false;

  constructor(actions: ExpiryActions<S>) {
    this.#actions = actions;
  }

  /** Connections with an expiry (armed or not). */
  get size(): number {
    return this.#entries.size;
  }

  /** `session`'s expiry (epoch ms), or null. */
  expiresAt(session: S): number | null {
    return this.#entries.get(session)?.expiresAt ?? null;
  }

  /**
   * Sets (or with null, removes) `session`'s expiry, effective at once. A later expiry than
   * the one the client was asked about is a new one (the client will be asked again); an
   * equal or earlier one is not asked about twice.
   */
  set(session: S, at: number | null): void {
    const entry = this.#entries.get(session);
    if (at === null) {
      if (entry) this.#delete(entry);
      return;
    }
    if (!entry) {
      const created: Entry<S> = { session, expiresAt: at, due: 0, asked: false, refreshing: false, version: 0, index: -1 };
      created.due = this.#dueOf(created, Date.now());
      this.#entries.set(session, created);
      return;
    }
    entry.asked = entry.asked && at <= entry.expiresAt;
    entry.expiresAt = at;
    entry.version++;
    this.#move(entry, this.#dueOf(entry, Date.now()));
  }

  /** The session was accepted: its expiry (if one was set during the handshake) starts counting. */
  arm(session: S): void {
    const entry = this.#entries.get(session);
    if (!entry || entry.index >= 0) return;
    entry.due = this.#dueOf(entry, Date.now());
    entry.index = this.#heap.length;
    this.#heap.push(entry);
    this.#up(entry.index);
    this.#schedule();
  }

  /** The session is gone. */
  forget(session: S): void {
    const entry = this.#entries.get(session);
    if (entry) this.#delete(entry);
  }

  /** The client was asked and its answer is awaited (not already being checked). */
  awaitsAnswer(session: S): boolean {
    const entry = this.#entries.get(session);
    return entry?.asked === true && !entry.refreshing;
  }

  /**
   * The client answered: returns a token for `endRefresh`, or -1 when no answer was awaited
   * (an answer nobody asked for, or a second one).
   */
  beginRefresh(session: S): number {
    const entry = this.#entries.get(session);
    if (!entry?.asked || entry.refreshing) return -1;
    entry.refreshing = true;
    return entry.version;
  }

  /**
   * The middleware's verdict on the answer. Accepted without setting an expiry: the
   * connection no longer expires (the expiry belongs to the credentials the chain accepted,
   * as at the handshake). Refused: nothing changes here; the owner closes the connection.
   */
  endRefresh(session: S, token: number, accepted: boolean): void {
    const entry = this.#entries.get(session);
    if (!entry) return;
    entry.refreshing = false;
    if (!accepted) return;
    if (entry.version === token) this.#delete(entry);
    // A new expiry whose ask came due while this answer was checked: asked from now.
    else if (!entry.asked) this.#move(entry, this.#dueOf(entry, Date.now()));
  }

  /** Stops the timer and forgets every entry (the server stops). */
  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    for (const entry of this.#heap) entry.index = -1;
    this.#heap.length = 0;
    this.#entries.clear();
  }

  // ---- time ---------------------------------------------------------------------------------

  #dueOf(entry: Entry<S>, now: number): number {
    if (entry.asked || !entry.session.canRefresh) return entry.expiresAt;
    const lead = Math.max(0, Math.min(this.#actions.leadTime, Math.floor((entry.expiresAt - now) / 2)));
    return entry.expiresAt - lead;
  }

  #schedule(): void {
    if (this.#firing) return;
    const top = this.#heap[0];
    if (!top) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    // A timer that fires too early finds nothing due and re-arms: only an earlier top re-arms now.
    if (top.due >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const delay = Math.min(MAX_DELAY, Math.max(0, top.due - Date.now()));
    this.#timerAt = Date.now() + delay;
    this.#timer = setTimeout(() => this.#fire(), delay);
    // Expiries never keep a process alive on their own (the server's listeners do).
    this.#timer.unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    const heap = this.#heap;
    this.#firing = true;
    try {
      // The actions may close sessions (forget) or set expiries: the top is read again each turn.
      while (heap.length > 0 && heap[0]!.due <= now) {
        const entry = heap[0]!;
        if (!entry.asked && entry.refreshing) {
          // An answer is being checked: its verdict sets the next step (endRefresh).
          this.#move(entry, entry.expiresAt);
        } else if (!entry.asked && entry.session.canRefresh && entry.expiresAt > now) {
          entry.asked = true;
          this.#move(entry, entry.expiresAt);
          this.#actions.ask(entry.session, entry.expiresAt - now);
        } else {
          this.#delete(entry);
          this.#actions.expire(entry.session, entry.asked);
        }
      }
    } finally {
      this.#firing = false;
      this.#schedule();
    }
  }

  // ---- the heap -----------------------------------------------------------------------------

  /** Changes an entry's due time (and its place, when armed). */
  #move(entry: Entry<S>, due: number): void {
    entry.due = due;
    if (entry.index < 0) return;
    this.#up(entry.index);
    this.#down(entry.index);
    this.#schedule();
  }

  #delete(entry: Entry<S>): void {
    this.#entries.delete(entry.session);
    const i = entry.index;
    if (i < 0) return;
    entry.index = -1;
    const heap = this.#heap;
    const last = heap.pop()!;
    if (last !== entry) {
      heap[i] = last;
      last.index = i;
      this.#up(i);
      this.#down(last.index);
    }
    this.#schedule();
  }

  #up(i: number): void {
    const heap = this.#heap;
    const entry = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.due <= entry.due) break;
      heap[i] = p;
      p.index = i;
      i = parent;
    }
    heap[i] = entry;
    entry.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const entry = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.due < heap[left]!.due ? right : left;
      const c = heap[child]!;
      if (c.due >= entry.due) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = entry;
    entry.index = i;
  }
}
