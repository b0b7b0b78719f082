/**
 * The shapes presence data has on the wire (docs/PROTOCOL.md, "Presence"), shared by the
 * server's `presence()`, the client's `presence()` and the join/leave notifications. `data`
 * holds only the metadata fields the server chose to expose, never the whole metadata.
 */

/** Metadata fields a server exposes; the default when the application names no type. */
export type PresenceData = Record<string, unknown>;

/** One member of a room. */
export interface PresenceMember<D = PresenceData> {
  /** The client's id. */
  id: string;
  /** The exposed metadata fields that are set (a field the client has no value for is absent). */
  data: Partial<D>;
}

/** Who is in a room, across every node. */
export interface PresenceResult<D = PresenceData> {
  room: string;
  /** Members across the cluster: exact even when `members` is cut at the limit. */
  count: number;
  /** The members, each once, up to the server's limit (in no particular order). */
  members: PresenceMember<D>[];
  /** True when `members` lists fewer than `count` (the limit was reached). */
  truncated: boolean;
}

/** A join or leave notification: who, in which room. */
export interface PresenceChange<D = PresenceData> extends PresenceMember<D> {
  room: string;
}
