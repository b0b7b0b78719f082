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
 * - Server -> client requests (`server.request(id, …)`): a client on this node is asked by
 *   the server itself; for one on another node the server calls the optional `requestRemote`,
 *   and a cluster adapter asks its host's `requestClient` on the node that has the client.
 * - `close()` may return a Promise; the server awaits it in `stop()`.
 */
import type { LoggerLike } from '../logger.js';
import type { ErrorBody } from '../protocol/index.js';
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

/** A server -> client request as it travels between nodes: what the client is asked. */
export interface ClientRequest {
  event: string;
  /** The client's handler to run (the event name unless the server chose another). */
  ackName: string;
  /** JSON data (undefined: none). */
  data: unknown;
}

/**
 * How a server -> client request ended, as plain data (it may cross nodes): the client's
 * answer, or why there is none (`error.code` a `STELAR_ERR_*` code, or the application's own
 * code the client's handler failed with).
 */
export type ClientAnswer = { ok: true; data: unknown } | { ok: false; error: ErrorBody };

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
  /**
   * Asks a client of this node on another node's behalf: resolves (never rejects) once the
   * request settles, within `timeoutMs`; null when no such client is connected here.
   */
  requestClient(id: string, request: ClientRequest, timeoutMs: number): Promise<ClientAnswer> | null;
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
   * Optional: asks a client that is not on this node (the server calls it for
   * `server.request(id, …)` when `id` is not local). Resolves (never rejects) with the
   * client's answer, or `ok: false` with STELAR_ERR_NOT_CONNECTED when no node has the client,
   * STELAR_ERR_ACK_TIMEOUT after `timeoutMs`, STELAR_ERR_CONNECTION_CLOSED when its connection
   * or its node went away first. The answer must come back to this node. Without this method
   * such a request fails with STELAR_ERR_NOT_CONNECTED.
   */
  requestRemote?(id: string, request: ClientRequest, timeoutMs: number): Promise<ClientAnswer>;
  /**
   * Optional: a cluster adapter that keeps the recovery history itself (one ordered log for
   * every node). Called once by the server when `recovery` is on; without it the server uses
   * an in-memory history, which only lets clients recover on the node they left.
   */
  recoveryStore?(options: RecoveryOptions): RecoveryStore;
  /** Optional: the adapter's own counters, for the server's metrics (`metrics` option). Cheap: called once per scrape. */
  metrics?(): AdapterMetrics;
}
