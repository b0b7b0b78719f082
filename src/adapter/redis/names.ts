/**
 * Where the cluster's messages and keys live in Redis: one place that knows the channel and
 * key names, for a single Redis and for Redis Cluster.
 *
 * - Single Redis: every message goes through one channel (`<prefix>all`), plus one channel
 *   per node for query answers; keys are `<prefix>name`.
 * - Redis Cluster: sharded pub/sub, whose channels live on the shard that owns their slot.
 *   Room messages go to one of `roomChannels` channels picked by the room's name, and those
 *   channels' slots are chosen to spread evenly over the slot space, so room traffic spreads
 *   over the shards. Every key, and the channel recorded messages are published on, share
 *   one hash tag (`{<prefix>}`): the Lua scripts touch several of them at once.
 */
import { keySlot, SLOTS } from './slots.js';

export interface Names {
  readonly sharded: boolean;
  /** Node hello/goodbye, broadcasts to everyone, toId, and (with recovery) recorded messages. */
  readonly all: string;
  /** One node's own channel: cluster queries and their answers. */
  node(nodeId: string): string;
  /** The channel a broadcast to `rooms` goes on. */
  roomChannel(rooms: readonly string[] | undefined): string;
  /** Channels every node listens to, besides its own. */
  readonly shared: readonly string[];
  /** A key of the cluster's (`nodes`, `history`, `epoch`, `session:...`). */
  key(name: string): string;
}

/** Single Redis: the names every earlier version used, so mixed versions still talk. */
export function singleNames(prefix: string): Names {
  const all = `${prefix}all`;
  return {
    sharded: false,
    all,
    node: (id) => `${prefix}node:${id}`,
    roomChannel: () => all,
    shared: [all],
    key: (name) => `${prefix}${name}`,
  };
}

/** Redis Cluster, `roomChannels` room channels. */
export function clusterNames(prefix: string, roomChannels: number): Names {
  if (/[{}]/.test(prefix)) throw new TypeError('keyPrefix must not contain { or } on Redis Cluster (the adapter adds its own hash tag)');
  const tag = `{${prefix}}`;
  const all = `${tag}all`;
  const rooms = spreadTags(roomChannels).map((t) => `${prefix}room:{${t}}`);
  return {
    sharded: true,
    all,
    node: (id) => `${prefix}node:{${id}}`,
    roomChannel(list) {
      if (!list || list.length === 0) return all;
      const first = rooms[bucketOf(list[0], rooms.length)];
      // Several rooms on different channels: one publish on `all` (each client gets it once).
      for (let i = 1; i < list.length; i++) if (rooms[bucketOf(list[i], rooms.length)] !== first) return all;
      return first;
    },
    shared: [all, ...rooms],
    key: (name) => `${tag}${name}`,
  };
}

/** FNV-1a of the room name, modulo n: the same on every node. */
function bucketOf(room: string, n: number): number {
  const name = String(room);
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 0) % n;
}

/**
 * `n` short hash tags whose slots fall in `n` equal slices of the slot space: shards own
 * contiguous slot ranges (`redis-cli --cluster create` splits them evenly), so the channels
 * spread over the shards as evenly as their ranges allow.
 */
function spreadTags(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const lo = Math.floor((i * SLOTS) / n);
    const hi = Math.floor(((i + 1) * SLOTS) / n);
    for (let k = 0; ; k++) {
      const tag = `${i}.${k}`;
      const slot = keySlot(tag);
      if (slot >= lo && slot < hi) {
        out.push(tag);
        break;
      }
    }
  }
  return out;
}
