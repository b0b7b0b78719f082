/**
 * RedisAdapter: rooms and fan-out across every node of a cluster, through the Redis the
 * application already runs (its own client: node-redis v4+ or ioredis).
 *
 * - Local state (who is in which room on this node) stays in an in-memory adapter, so joins,
 *   leaves and the synchronous queries cost no round trip.
 * - A broadcast is encoded once on the node where it starts (after `onBeforeBroadcast`, which
 *   therefore runs once), written to the local clients at once, and published as packet bytes
 *   behind a small routing header. Every other node frames those bytes once and writes them
 *   to its matching clients. No node decodes or re-encodes the JSON.
 * - Cluster-wide queries ask every live node and merge the answers (`fetchRooms`...,
 *   `fetchPresence`, whose answers each node computes in slices and projects itself).
 * - Nodes beat in a Redis sorted set; a node silent for `heartbeatTimeout` is dropped, and a
 *   query never waits for it again.
 * - With connection-state recovery on, recorded messages go through Redis first (a Lua
 *   script appends them to a stream and publishes them): every node, the origin included,
 *   delivers them in stream order, with their stream position as offset.
 */
import { randomBytes } from 'node:crypto';
import {
  type Adapter,
  type AdapterHost,
  type AdapterMetrics,
  type BroadcastTarget,
  type ClientAnswer,
  type ClientRequest,
  type ClientSummary,
  type ClusterList,
  type ClusterStats,
  type EncodedMessage,
  markList,
  type PresencePart,
  type PresenceQuery,
  type RecoveryOptions,
  type RecoveryStore,
} from '../../contracts/index.js';
import { MemoryAdapter } from '../memory.js';
import type { LoggerLike } from '../../logger.js';
import { WireMessage } from '../../wire/index.js';
import { ClusterLink, type LinkCounters } from './cluster-link.js';
import { driverFor } from './driver.js';
import { clusterNames, singleNames } from './names.js';
import { type Envelope, type Header, Kind } from '../shared/envelope.js';
import { answerQuery, fetchPresence, type LocalView, mergeClients, mergeMembers, mergeRooms, mergeStats } from '../shared/queries.js';
import { RedisRecoveryStore } from './redis-recovery.js';

export interface RedisAdapterOptions {
  /** Prefix of every key and channel (one cluster per prefix). Default 'stelar:'. */
  keyPrefix?: string;
  /**
   * Shared secret: every inter-node message carries an HMAC-SHA256 of it; messages without a
   * valid one (forged or altered by someone who can reach Redis) are dropped and counted.
   */
  secret?: string | Buffer;
  /** How often this node beats (ms). Default 5000. */
  heartbeatInterval?: number;
  /** A node silent this long (ms) is considered gone. Default 15000. */
  heartbeatTimeout?: number;
  /** How long a cluster query waits for the other nodes (ms). Default 5000. */
  requestTimeout?: number;
  /** This node's id. Default: random. */
  nodeId?: string;
  /** Publishes waiting for Redis at most (beyond: dropped, counted). Default 10000. */
  maxPendingPublishes?: number;
  /**
   * Redis Cluster only: how many sharded channels carry room messages (a room's channel is
   * picked by its name; the channels' slots spread evenly over the slot space). Default 16.
   */
  roomChannels?: number;
}

export interface RedisAdapterStats extends LinkCounters {
  nodeId: string;
  /** Live nodes, this one included. */
  nodes: string[];
  /** Both Redis connections are usable. */
  redisReady: boolean;
}

type NodeListener = (nodeId: string) => void;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number`);
  return value;
}

function roomChannels(value: number | undefined): number {
  if (value === undefined) return 16;
  if (!Number.isInteger(value) || value < 1 || value > 1024) throw new RangeError('roomChannels must be an integer from 1 to 1024');
  return value;
}

export class RedisAdapter implements Adapter {
  readonly #local = new MemoryAdapter();
  readonly #link: ClusterLink;
  readonly #prefix: string;
  readonly #view: LocalView;
  #host: AdapterHost | null = null;
  #recovery: RedisRecoveryStore | null = null;
  #listeners = { join: [] as NodeListener[], leave: [] as NodeListener[] };
  #fallbackLogger: LoggerLike = console;

  constructor(client: unknown, options: RedisAdapterOptions = {}) {
    const driver = driverFor(client);
    this.#prefix = options.keyPrefix ?? 'stelar:';
    if (typeof this.#prefix !== 'string') throw new TypeError('keyPrefix must be a string');
    const secret = options.secret === undefined ? null : Buffer.from(options.secret);
    if (secret && secret.length === 0) throw new TypeError('secret must not be empty');
    const heartbeatInterval = positive('heartbeatInterval', options.heartbeatInterval, 5000);
    const heartbeatTimeout = positive('heartbeatTimeout', options.heartbeatTimeout, 15_000);
    if (heartbeatTimeout <= heartbeatInterval) throw new RangeError('heartbeatTimeout must be longer than heartbeatInterval');
    this.#link = new ClusterLink(
      driver,
      {
        names: driver.sharded ? clusterNames(this.#prefix, roomChannels(options.roomChannels)) : singleNames(this.#prefix),
        nodeId: options.nodeId ?? randomBytes(8).toString('hex'),
        secret,
        heartbeatInterval,
        heartbeatTimeout,
        requestTimeout: positive('requestTimeout', options.requestTimeout, 5000),
        maxPending: positive('maxPendingPublishes', options.maxPendingPublishes, 10_000),
      },
      {
        deliver: (env, recorded) => this.#deliver(env, recorded),
        answer: (kind, arg) => answerQuery(this.#view, kind, arg),
        askClient: (id, request, timeoutMs) => this.#host?.requestClient(id, request, timeoutMs) ?? null,
        nodesChanged: (joined, left) => this.#nodesChanged(joined, left),
        up: () => this.#recovery?.onLinkUp(),
        gap: () => this.#recovery?.markGap(),
        logger: () => this.#logger,
      },
    );
    const self = this;
    this.#view = {
      nodeId: this.#link.nodeId,
      get host() {
        return self.#host;
      },
      rooms: this.#local,
    };
  }

  get #logger(): LoggerLike {
    return this.#host?.logger ?? this.#fallbackLogger;
  }

  get nodeId(): string {
    return this.#link.nodeId;
  }

  /** Counters of the cluster link: published, received, forged, replayed, malformed, dropped. */
  getStats(): RedisAdapterStats {
    return { ...this.#link.counters, nodeId: this.nodeId, nodes: this.#link.nodes(), redisReady: this.#link.ready };
  }

  /** The link's counters and state for the server's metrics (Adapter.metrics). */
  metrics(): AdapterMetrics {
    const c = this.#link.counters;
    return {
      published: c.published,
      received: c.received,
      dropped: c.dropped,
      rejected: { forged: c.forged, replayed: c.replayed, malformed: c.malformed },
      linkUp: this.#link.ready,
      nodes: this.#link.nodeCount,
    };
  }

  /** Live nodes (this one included), as of the last heartbeat. */
  getNodes(): string[] {
    return this.#link.nodes();
  }

  /** `nodeJoin` / `nodeLeave` (a node said goodbye or missed its heartbeats). */
  on(event: 'nodeJoin' | 'nodeLeave', listener: NodeListener): this {
    (event === 'nodeJoin' ? this.#listeners.join : this.#listeners.leave).push(listener);
    return this;
  }

  off(event: 'nodeJoin' | 'nodeLeave', listener: NodeListener): this {
    const key = event === 'nodeJoin' ? 'join' : 'leave';
    this.#listeners[key] = this.#listeners[key].filter((l) => l !== listener);
    return this;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  init(host: AdapterHost): void {
    this.#host = host;
    this.#local.init(host);
  }

  /** Called by the server's start(): subscribes and joins the cluster (bounded wait if Redis is away). */
  async start(): Promise<void> {
    await this.#link.start();
    await this.#recovery?.load();
  }

  async close(): Promise<void> {
    this.#recovery?.stopCaptures();
    await this.#link.close();
    this.#local.close();
  }

  recoveryStore(options: RecoveryOptions): RecoveryStore {
    this.#recovery ??= new RedisRecoveryStore(this.#link, options, () => this.#logger);
    return this.#recovery;
  }

  // ---- local state: the in-memory adapter -------------------------------------------------

  addToRoom(id: string, room: string): boolean {
    return this.#local.addToRoom(id, room);
  }
  removeFromRoom(id: string, room: string): boolean {
    return this.#local.removeFromRoom(id, room);
  }
  removeAll(id: string): void {
    this.#local.removeAll(id);
  }
  hasRoom(room: string): boolean {
    return this.#local.hasRoom(room);
  }
  roomCount(): number {
    return this.#local.roomCount();
  }
  getRooms(): string[] {
    return this.#local.getRooms();
  }
  getRoomMembers(room: string): string[] {
    return this.#local.getRoomMembers(room);
  }
  roomsOf(id: string): ReadonlySet<string> {
    return this.#local.roomsOf(id);
  }
  isMember(id: string, room: string): boolean {
    return this.#local.isMember(id, room);
  }

  // ---- delivery -----------------------------------------------------------------------------

  broadcast(message: EncodedMessage, target: BroadcastTarget): number {
    const route: Partial<Header> = {};
    if (target.rooms) route.r = [...target.rooms];
    if (target.exceptId !== undefined) route.x = target.exceptId;
    if (this.#recovery?.recordVia(route, message, () => this.#local.broadcast(message, target))) return this.#localMatches(target);
    const sent = this.#local.broadcast(message, target);
    this.#link.publish(Kind.DELIVER, route, message.bytes, this.#link.names.roomChannel(target.rooms));
    return sent;
  }

  sendTo(id: string, message: EncodedMessage): boolean {
    if (this.#recovery?.recordVia({ i: id }, message, () => this.#local.sendTo(id, message))) return true;
    if (this.#local.sendTo(id, message)) return true;
    // Somewhere else, perhaps: the node that has it writes it. True = handed to the cluster.
    return this.#link.publish(Kind.DELIVER, { i: id }, message.bytes);
  }

  /** How many local clients a recorded message will reach when it comes back from Redis. */
  #localMatches(target: BroadcastTarget): number {
    const host = this.#host;
    if (!host) return 0;
    let n = 0;
    if (!target.rooms) {
      for (const c of host.clients()) if (c.id !== target.exceptId) n++;
      return n;
    }
    const seen = new Set<string>();
    for (const room of target.rooms) for (const id of this.#local.getRoomMembers(room)) if (id !== target.exceptId) seen.add(id);
    return seen.size;
  }

  /**
   * A server -> client request for a client that is not on this node: asked on every other
   * node, answered by the one that has it, on this node's own channel (client-requests.ts).
   */
  requestRemote(id: string, request: ClientRequest, timeoutMs: number): Promise<ClientAnswer> {
    return this.#link.requests.ask(id, request, timeoutMs);
  }

  /** A message from the cluster: frame the packet bytes once, write them to the local matches. */
  #deliver(env: Envelope, recorded: { epoch: string; id: string } | null): void {
    const h = env.header;
    const message = WireMessage.fromBytes(env.body, recorded ? `${recorded.epoch}:${recorded.id}` : undefined);
    if (recorded) this.#recovery?.onRecorded(recorded.epoch, recorded.id, message, h);
    let sent: number;
    if (h.i !== undefined) sent = this.#local.sendTo(h.i, message) ? 1 : 0;
    else sent = this.#local.broadcast(message, { rooms: h.r, exceptId: h.x });
    if (sent) this.#host?.countSent(sent);
  }

  // ---- cluster queries ----------------------------------------------------------------------

  // Each answer says which live nodes did not contribute (see ClusterAnswerInfo).

  async fetchRooms(): Promise<ClusterList<string>> {
    const { results, missing } = await this.#link.ask('rooms');
    return markList(mergeRooms(this.#view, results), missing);
  }

  async fetchRoomMembers(room: string): Promise<ClusterList<string>> {
    const { results, missing } = await this.#link.ask('members', room);
    return markList(mergeMembers(this.#view, room, results), missing);
  }

  async fetchClients(room?: string): Promise<ClusterList<ClientSummary>> {
    const { results, missing } = await this.#link.ask('clients', room);
    return markList(mergeClients(this.#view, room, results), missing);
  }

  /** Presence: this node's part and every other live node's, asked like the other queries. */
  fetchPresence(query: PresenceQuery): Promise<PresencePart[]> {
    return fetchPresence(this.#view, query, async (kind, arg) => (await this.#link.ask(kind, arg)).results);
  }

  async fetchStats(): Promise<ClusterStats> {
    const { results, missing } = await this.#link.ask('stats');
    return { ...mergeStats(this.#view, results), incomplete: missing.length > 0, missingNodes: missing };
  }

  #nodesChanged(joined: string[], left: string[]): void {
    for (const id of joined) if (id !== this.nodeId) for (const l of this.#listeners.join.slice()) this.#safe(l, id);
    for (const id of left) for (const l of this.#listeners.leave.slice()) this.#safe(l, id);
  }

  #safe(listener: NodeListener, id: string): void {
    try {
      listener(id);
    } catch (err) {
      this.#logger.error('node listener threw:', err);
    }
  }
}
