/**
 * NatsAdapter: rooms and fan-out across every node of a cluster, through the NATS the
 * application already runs (its own connection: `nats` v2 or `@nats-io/transport-node`).
 *
 * - Local state (who is in which room on this node) stays in an in-memory adapter, so joins,
 *   leaves and the synchronous queries cost no round trip.
 * - A broadcast is encoded once on the node where it starts, written to the local clients at
 *   once, and published as packet bytes behind a small routing header (the same envelope and
 *   HMAC as the Redis adapter). A send to one room goes on that room's subject, which only the
 *   nodes with members of the room listen to; everything else goes on the broadcast subject.
 * - Cluster-wide queries ask every live node and merge the answers (`fetchRooms`...).
 * - Nodes say hello every `heartbeatInterval`; one silent for `heartbeatTimeout` is dropped.
 * - Connection-state recovery across nodes is not offered (see recoveryStore below).
 */
import { randomBytes } from 'node:crypto';
import type {
  Adapter,
  AdapterHost,
  BroadcastTarget,
  ClientSummary,
  ClusterStats,
  EncodedMessage,
  PresencePart,
  PresenceQuery,
  RecoveryOptions,
  RecoveryStore,
} from '../../contracts/index.js';
import type { LoggerLike } from '../../logger.js';
import { WireMessage } from '../../wire/index.js';
import { MemoryAdapter } from '../memory.js';
import { type Envelope, type Header, Kind } from '../shared/envelope.js';
import { answerQuery, fetchPresence, type LocalView, mergeClients, mergeMembers, mergeRooms, mergeStats } from '../shared/queries.js';
import { natsDriverFor } from './driver.js';
import { NatsLink, type NatsLinkCounters } from './nats-link.js';
import { checkNodeId, checkPrefix } from './subjects.js';

export interface NatsAdapterOptions {
  /** First tokens of every subject (one cluster per prefix). Default 'stelar'. */
  subjectPrefix?: string;
  /**
   * Shared secret: every inter-node message carries an HMAC-SHA256 of it; messages without a
   * valid one (forged or altered by anyone who may publish on the prefix) are dropped and counted.
   */
  secret?: string | Buffer;
  /** How often this node says hello (ms). Default 5000. */
  heartbeatInterval?: number;
  /** A node silent this long (ms) is considered gone. Default 15000. */
  heartbeatTimeout?: number;
  /** How long a cluster query waits for the other nodes (ms). Default 5000. */
  requestTimeout?: number;
  /** This node's id (letters, digits, - and _). Default: random. */
  nodeId?: string;
}

export interface NatsAdapterStats extends NatsLinkCounters {
  nodeId: string;
  /** Live nodes, this one included. */
  nodes: string[];
  /** The NATS connection is up and this node publishes. */
  natsReady: boolean;
  /** Room subjects this node listens to (rooms with local members). */
  roomSubscriptions: number;
}

type NodeListener = (nodeId: string) => void;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number`);
  return value;
}

export class NatsAdapter implements Adapter {
  readonly #local = new MemoryAdapter();
  readonly #link: NatsLink;
  readonly #view: LocalView;
  #host: AdapterHost | null = null;
  #listeners = { join: [] as NodeListener[], leave: [] as NodeListener[] };

  constructor(client: unknown, options: NatsAdapterOptions = {}) {
    const driver = natsDriverFor(client);
    const prefix = checkPrefix(options.subjectPrefix ?? 'stelar');
    const nodeId = checkNodeId(options.nodeId ?? randomBytes(8).toString('hex'));
    const secret = options.secret === undefined ? null : Buffer.from(options.secret);
    if (secret && secret.length === 0) throw new TypeError('secret must not be empty');
    const heartbeatInterval = positive('heartbeatInterval', options.heartbeatInterval, 5000);
    const heartbeatTimeout = positive('heartbeatTimeout', options.heartbeatTimeout, 15_000);
    if (heartbeatTimeout <= heartbeatInterval) throw new RangeError('heartbeatTimeout must be longer than heartbeatInterval');
    this.#link = new NatsLink(
      driver,
      { prefix, nodeId, secret, heartbeatInterval, heartbeatTimeout, requestTimeout: positive('requestTimeout', options.requestTimeout, 5000) },
      {
        deliver: (env) => this.#deliver(env),
        answer: (kind, arg) => answerQuery(this.#view, kind, arg),
        nodesChanged: (joined, left) => this.#nodesChanged(joined, left),
        logger: () => this.#logger,
      },
    );
    const self = this;
    this.#view = {
      nodeId,
      get host() {
        return self.#host;
      },
      rooms: this.#local,
    };
  }

  get #logger(): LoggerLike {
    return this.#host?.logger ?? console;
  }

  get nodeId(): string {
    return this.#link.nodeId;
  }

  /** Counters of the cluster link: published, received, forged, replayed, malformed, dropped. */
  getStats(): NatsAdapterStats {
    return {
      ...this.#link.counters,
      nodeId: this.nodeId,
      nodes: this.#link.nodes(),
      natsReady: this.#link.ready,
      roomSubscriptions: this.#link.roomSubscriptions,
    };
  }

  /** Live nodes (this one included), as of the last heartbeats. */
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

  /** Called by the server's start(): subscribes and joins the cluster (bounded wait if NATS is away). */
  start(): Promise<void> {
    return this.#link.start();
  }

  async close(): Promise<void> {
    await this.#link.close();
    this.#local.close();
  }

  /**
   * Not offered: a client that recovers must get every message it missed, from every node, in
   * one order. Core NATS gives neither a common order across publishers nor positions, and a
   * per-node history (the server's fallback without a store) would hold only the messages this
   * node sent, so a recovered client would silently miss the others. Refused at construction.
   */
  recoveryStore(_options: RecoveryOptions): RecoveryStore {
    throw new TypeError(
      'NatsAdapter does not offer connection-state recovery (a per-node history would replay only part of what a client missed): turn `recovery` off, or use RedisAdapter for recovery across nodes',
    );
  }

  // ---- local state: the in-memory adapter, and the room subjects that follow it -------------

  addToRoom(id: string, room: string): boolean {
    const fresh = !this.#local.hasRoom(room);
    const added = this.#local.addToRoom(id, room);
    if (fresh && added) this.#link.watchRoom(room);
    return added;
  }
  removeFromRoom(id: string, room: string): boolean {
    const removed = this.#local.removeFromRoom(id, room);
    if (removed && !this.#local.hasRoom(room)) this.#link.unwatchRoom(room);
    return removed;
  }
  removeAll(id: string): void {
    const rooms = [...this.#local.roomsOf(id)];
    this.#local.removeAll(id);
    for (const room of rooms) if (!this.#local.hasRoom(room)) this.#link.unwatchRoom(room);
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
    const sent = this.#local.broadcast(message, target);
    const route: Partial<Header> = {};
    if (target.exceptId !== undefined) route.x = target.exceptId;
    const rooms = target.rooms;
    if (!rooms) this.#link.publish(Kind.DELIVER, route, message.bytes);
    else if (rooms.length === 1) this.#link.publish(Kind.DELIVER, { ...route, r: [rooms[0]] }, message.bytes, this.#link.roomSubject(rooms[0]));
    // Several rooms: one message on the broadcast subject, so a member of two gets it once.
    else if (rooms.length > 1) this.#link.publish(Kind.DELIVER, { ...route, r: [...rooms] }, message.bytes);
    return sent;
  }

  sendTo(id: string, message: EncodedMessage): boolean {
    if (this.#local.sendTo(id, message)) return true;
    // Somewhere else, perhaps: the node that has it writes it. True = handed to the cluster.
    return this.#link.publish(Kind.DELIVER, { i: id }, message.bytes);
  }

  /** A message from another node: frame the packet bytes once, write them to the local matches. */
  #deliver(env: Envelope): void {
    const h = env.header;
    const message = WireMessage.fromBytes(env.body);
    let sent: number;
    if (h.i !== undefined) sent = this.#local.sendTo(String(h.i), message) ? 1 : 0;
    else sent = this.#local.broadcast(message, { rooms: Array.isArray(h.r) ? h.r.map(String) : undefined, exceptId: h.x });
    if (sent) this.#host?.countSent(sent);
  }

  // ---- cluster queries ----------------------------------------------------------------------

  async fetchRooms(): Promise<string[]> {
    return mergeRooms(this.#view, await this.#link.ask('rooms'));
  }

  async fetchRoomMembers(room: string): Promise<string[]> {
    return mergeMembers(this.#view, room, await this.#link.ask('members', room));
  }

  async fetchClients(room?: string): Promise<ClientSummary[]> {
    return mergeClients(this.#view, room, await this.#link.ask('clients', room));
  }

  /** Presence: this node's part and every other live node's, asked like the other queries. */
  fetchPresence(query: PresenceQuery): Promise<PresencePart[]> {
    return fetchPresence(this.#view, query, (kind, arg) => this.#link.ask(kind, arg));
  }

  async fetchStats(): Promise<ClusterStats> {
    return mergeStats(this.#view, await this.#link.ask('stats'));
  }

  #nodesChanged(joined: string[], left: string[]): void {
    for (const id of joined) for (const l of this.#listeners.join.slice()) this.#safe(l, id);
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
