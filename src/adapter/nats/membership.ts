/**
 * Who is in the cluster, from heartbeats: every node says hello on the broadcast subject each
 * `heartbeatInterval`; a node not heard from for `heartbeatTimeout` is gone. Plain data and
 * a clock passed in, so it is tested without a broker.
 *
 * While this node cannot hear anyone (its broker connection is down) nobody expires: it would
 * otherwise drop every node at once for its own outage. When it hears again, everyone it knew
 * gets a full timeout to say hello before being dropped.
 */
export class Membership {
  readonly #self: string;
  /** nodeId -> when last heard from. */
  readonly #seen = new Map<string, number>();
  /** Most nodes remembered at once (a flood of made-up ids must not grow memory). */
  readonly #max: number;

  constructor(self: string, max = 10_000) {
    this.#self = self;
    this.#max = max;
  }

  /** A hello from `nodeId`; true when the node is new. */
  heard(nodeId: string, now: number): boolean {
    if (nodeId === this.#self) return false;
    const known = this.#seen.has(nodeId);
    if (!known && this.#seen.size >= this.#max) return false;
    this.#seen.set(nodeId, now);
    return !known;
  }

  /** A goodbye; true when the node was known. */
  left(nodeId: string): boolean {
    return this.#seen.delete(nodeId);
  }

  /** Drops the nodes silent for longer than `timeout`; returns them. */
  expire(now: number, timeout: number): string[] {
    const gone: string[] = [];
    for (const [id, at] of this.#seen) if (now - at > timeout) gone.push(id);
    for (const id of gone) this.#seen.delete(id);
    return gone;
  }

  /** After an outage of our own: everyone known starts a new timeout now. */
  refresh(now: number): void {
    for (const id of this.#seen.keys()) this.#seen.set(id, now);
  }

  has(nodeId: string): boolean {
    return this.#seen.has(nodeId);
  }

  /** The other live nodes. */
  others(): string[] {
    return [...this.#seen.keys()];
  }

  /** Every live node, this one first. */
  all(): string[] {
    return [this.#self, ...this.#seen.keys()];
  }

  clear(): string[] {
    const gone = [...this.#seen.keys()];
    this.#seen.clear();
    return gone;
  }
}
