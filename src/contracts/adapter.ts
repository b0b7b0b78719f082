/**
 * The adapter owns room membership and fan-out, so a cluster implementation (Redis) can
 * replace the in-memory default without the server changing.
 *
 * Sync or async, decided per method:
 * - Membership changes and local queries (`addToRoom`, `roomsOf`, `getRoomMembers`...) are
 *   synchronous and describe THIS node: the server's public API (`getRooms()`,
 *   `ctx.joinRoom()`) is synchronous and must stay on the fast path.
 * - Delivery (`broadcast`, `sendTo`) writes to local clients synchronously and returns the
 *   number reached here; a cluster adapter also publishes to other nodes in the background
 *   (fire and forget, its own error handling).
 * - Cluster-wide queries are optional and asynchronous (`fetchRoomMembers`, `fetchRooms`,
 *   `fetchClients`, `fetchStats`, `fetchPresence`); the server's `fetch*()` methods fall back
 *   to local answers.
 * - Connection-state recovery: a message the server recorded carries an `offset`; a cluster
 *   adapter may keep the history itself (`recoveryStore`).
 * - `close()` may return a Promise; the server awaits it in `stop()`.
 */
import type { LoggerLike } from '../logger.js';
import type { EncodedMessage } from '../wire/index.js';
import type { PresencePart, PresenceQuery } from './presence.js';
import type { RecoveryOptions, RecoveryStore } from './recovery.js';
import type { ClientSummary, ClusterStats, StelarStats } from './stats.js';

export type { EncodedMessage };

/** What the adapter needs from one local client: its id and a way to write shared bytes. */
export interface AdapterClient {
  readonly id: string;
  /** False when the bytes could not be written (closed, or above its buffer cap). */
  sendEncoded(message: EncodedMessage): boolean;
}

/** The server side of the adapter: the local clients that finished their handshake. */
export interface AdapterHost {
  getClient(id: string): AdapterClient | undefined;
  clients(): IterableIterator<AdapterClient>;
  /** This node's clients as plain rows (what a cluster `fetchClients` gathers from each node). */
  getClients(room?: string): ClientSummary[];
  /** This node's stats (what a cluster `fetchStats` gathers). */
  stats(): StelarStats;
  /**
   * This node's part of a presence query (what a cluster `fetchPresence` gathers): its
   * accepted clients in the room, with only the asked metadata fields. Asynchronous because
   * a big room is listed in slices, between which the event loop runs.
   */
  presence(query: PresenceQuery): Promise<PresencePart>;
  /** Counts messages a cluster adapter delivered on its own (from other nodes). */
  countSent(n: number): void;
  readonly logger: LoggerLike;
}

/**
 * Counters a cluster adapter keeps, read by the server's metrics at each scrape (plain
 * numbers since the adapter was built; the optional parts only when it has them).
 */
export interface AdapterMetrics {
  /** Messages published to the other nodes. */
  published: number;
  /** Messages received from the other nodes. */
  received: number;
  /** Publishes dropped (backend unavailable, or too many waiting). */
  dropped: number;
  /** Messages from other nodes refused: bad or missing signature, seen before, unreadable. */
  rejected?: { forged: number; replayed: number; malformed: number };
  /** Whether the link to the backend is usable right now. */
  linkUp?: boolean;
  /** Live nodes known, this one included. */
  nodes?: number;
}

export interface BroadcastTarget {
  /** Deliver only to members of these rooms (each client once). Omitted: every client. */
  rooms?: readonly string[];
  /** Skip this client id. */
  exceptId?: string;
}

export interface Adapter {
  /** Called once by the server before any other method. */
  init(host: AdapterHost): void;
  /** Adds `id` to `room` (creating the room); false when it already was a member. */
  addToRoom(id: string, room: string): boolean;
  /** Removes `id` from `room` (deleting the room when it empties); false when it was not a member. */
  removeFromRoom(id: string, room: string): boolean;
  /** Drops every membership of `id` (on disconnect). */
  removeAll(id: string): void;
  hasRoom(room: string): boolean;
  /** Number of rooms on this node. */
  roomCount(): number;
  getRooms(): string[];
  getRoomMembers(room: string): string[];
  /** The rooms of a local client: a live read-only view, empty when it is in none. */
  roomsOf(id: string): ReadonlySet<string>;
  isMember(id: string, room: string): boolean;
  /** Writes `message` to the matching local clients; returns how many it reached. */
  broadcast(message: EncodedMessage, target: BroadcastTarget): number;
  /** Writes to one client by id; false when it is not connected to this node. */
  sendTo(id: string, message: EncodedMessage): boolean;
  close(): void | Promise<void>;
  /**
   * Optional: called by the server's `start()` before it accepts connections (a cluster
   * adapter subscribes here; it should not take long even when its backend is away).
   * A server may start again after `close()`.
   */
  start?(): void | Promise<void>;
  /** Optional cluster-wide queries. */
  fetchRoomMembers?(room: string): Promise<string[]>;
  fetchRooms?(): Promise<string[]>;
  fetchClients?(room?: string): Promise<ClientSummary[]>;
  fetchStats?(): Promise<ClusterStats>;
  /**
   * Presence of a room: one part per live node, this one's included (`host.presence`), asked
   * over the same path as the other queries. Without it the server builds presence from
   * `fetchClients` (the whole metadata then crosses between nodes, only the chosen fields
   * reach clients).
   */
  fetchPresence?(query: PresenceQuery): Promise<PresencePart[]>;
  /**
   * Optional: a cluster adapter that keeps the recovery history itself (one ordered log for
   * every node). Called once by the server when `recovery` is on; without it the server uses
   * an in-memory history, which only lets clients recover on the node they left.
   */
  recoveryStore?(options: RecoveryOptions): RecoveryStore;
  /** Optional: the adapter's own counters, for the server's metrics (`metrics` option). Cheap: called once per scrape. */
  metrics?(): AdapterMetrics;
}
