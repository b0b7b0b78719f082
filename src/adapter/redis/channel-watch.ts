/**
 * Redis Cluster only: does this node still receive each of its sharded channels?
 *
 * A sharded subscription lives on the shard that owns the channel's slot. When that shard's
 * primary dies, or the slot moves, the client has to subscribe again on the new owner; both
 * clients do it on their own, but nothing tells us when a channel went deaf or came back.
 * So every beat the node publishes a small canary on each of its channels and expects it
 * back: a channel whose canary is not back within `graceMs` is lost; the first canary to
 * return brings it back. The caller logs the first loss (`lost` with `first`) and the return
 * of the last channel (`back`): one line each way.
 */
export interface WatchEvents {
  /** Channels went deaf; `first`: none was lost before (the moment to log). */
  lost(channels: string[], first: boolean): void;
  /** Every channel delivers again. */
  back(): void;
}

interface Canary {
  sentAt: number;
  back: boolean;
}

export class ChannelWatch {
  readonly #channels: readonly string[];
  readonly #graceMs: number;
  readonly #send: (channel: string) => void;
  readonly #events: WatchEvents;
  readonly #canaries = new Map<string, Canary>();
  readonly #lost = new Set<string>();

  constructor(channels: readonly string[], graceMs: number, send: (channel: string) => void, events: WatchEvents) {
    this.#channels = channels;
    this.#graceMs = graceMs;
    this.#send = send;
    this.#events = events;
  }

  get lost(): ReadonlySet<string> {
    return this.#lost;
  }

  /** Each beat: judges the canaries in flight, and sends new ones where none is. */
  tick(now = Date.now()): void {
    const newlyLost: string[] = [];
    for (const channel of this.#channels) {
      const c = this.#canaries.get(channel);
      if (c && !c.back) {
        if (now - c.sentAt <= this.#graceMs) continue;
        if (!this.#lost.has(channel)) newlyLost.push(channel);
      }
      this.#canaries.set(channel, { sentAt: now, back: false });
      this.#send(channel);
    }
    if (newlyLost.length === 0) return;
    const first = this.#lost.size === 0;
    for (const channel of newlyLost) this.#lost.add(channel);
    this.#events.lost(newlyLost, first);
  }

  /** A canary of ours came back on `channel` (an old one too: the channel delivers now). */
  echo(channel: string): void {
    const c = this.#canaries.get(channel);
    if (c) c.back = true;
    if (this.#lost.delete(channel) && this.#lost.size === 0) this.#events.back();
  }

  /** Forgets everything (the link closed). */
  reset(): void {
    this.#canaries.clear();
    this.#lost.clear();
  }
}
