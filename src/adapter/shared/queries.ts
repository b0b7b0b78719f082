/**
 * Cluster queries, the part that does not depend on the broker: what a node answers about
 * itself, how the asking node merges the answers with its own view, and the book of queries
 * waiting for answers (each one settles when every node it waits for has answered, when those
 * it still waits for have left the cluster, or at its timeout, with the answers it has).
 *
 * The broker side (how a request reaches the others and an answer comes back) belongs to
 * each adapter's link.
 */
import { randomBytes } from 'node:crypto';
import type { Adapter, AdapterHost, ClientSummary, ClusterStats, NodeStats, PresencePart, PresenceQuery } from '../../contracts/index.js';
import { readPresencePart, readPresenceQuery } from '../../contracts/index.js';
import type { LoggerLike } from '../../logger.js';

export type QueryKind = 'rooms' | 'members' | 'clients' | 'stats' | 'presence';

/** What a node knows about itself: its id, its server (once init ran) and its local rooms. */
export interface LocalView {
  readonly nodeId: string;
  readonly host: AdapterHost | null;
  readonly rooms: Pick<Adapter, 'getRooms' | 'getRoomMembers'>;
}

/** This node's answer to a query from another node (JSON-able; null for an unknown query). */
export function answerQuery(view: LocalView, kind: string, arg: unknown): unknown {
  const { host, rooms } = view;
  // From another process: a room name or nothing, whatever the header says.
  if (typeof arg !== 'string') arg = undefined;
  switch (kind) {
    case 'rooms':
      return rooms.getRooms();
    case 'members':
      return typeof arg === 'string' ? rooms.getRoomMembers(arg) : [];
    case 'clients':
      return host ? host.getClients(arg as string | undefined) : [];
    case 'stats':
      return host ? { stats: { nodeId: view.nodeId, ...host.stats() }, rooms: rooms.getRooms() } : null;
    case 'presence':
      return host ? answerPresence(host, arg as string | undefined) : null;
    default:
      return null;
  }
}

/** A presence query (JSON, checked) answered by this node's server: a Promise, the listing runs in slices. */
function answerPresence(host: AdapterHost, arg: string | undefined): Promise<PresencePart> | null {
  let query: PresenceQuery | null = null;
  try {
    query = readPresenceQuery(arg === undefined ? null : JSON.parse(arg));
  } catch {
    // not JSON: no query
  }
  return query ? host.presence(query) : null;
}

/**
 * Sends an answer's JSON through `send`: at once, or once an answer that is a Promise settles.
 * A query that throws or rejects, or an answer that is not JSON (a BigInt in some metadata),
 * is logged and answered with `null`, so the asking node stops waiting for this one.
 */
export function respond(answer: () => unknown, send: (body: Buffer) => void, logger: () => LoggerLike): void {
  const fail = (err: unknown): void => {
    logger().error('cluster query failed:', err);
    send(Buffer.from('null'));
  };
  const encode = (value: unknown): void => {
    let body: Buffer;
    try {
      body = Buffer.from(JSON.stringify(value ?? null));
    } catch (err) {
      return fail(err);
    }
    send(body);
  };
  let result: unknown;
  try {
    result = answer();
  } catch (err) {
    return fail(err);
  }
  if (result instanceof Promise) result.then(encode, fail);
  else encode(result);
}

/** Presence on every node: this node's part (its server lists it) and the others' answers, checked. */
export async function fetchPresence(view: LocalView, query: PresenceQuery, ask: (kind: QueryKind, arg: string) => Promise<unknown[]>): Promise<PresencePart[]> {
  const [own, answers] = await Promise.all([view.host ? view.host.presence(query) : null, ask('presence', JSON.stringify(query))]);
  const parts: PresencePart[] = own ? [own] : [];
  for (const r of answers) {
    const part = readPresencePart(r);
    if (part) parts.push(part);
  }
  return parts;
}

// Answers come from other processes: each merge takes only the shapes it expects.

export function mergeRooms(view: LocalView, answers: unknown[]): string[] {
  const all = new Set(view.rooms.getRooms());
  for (const r of answers) if (Array.isArray(r)) for (const room of r) all.add(String(room));
  return [...all];
}

export function mergeMembers(view: LocalView, room: string, answers: unknown[]): string[] {
  const all = new Set(view.rooms.getRoomMembers(room));
  for (const r of answers) if (Array.isArray(r)) for (const id of r) all.add(String(id));
  return [...all];
}

export function mergeClients(view: LocalView, room: string | undefined, answers: unknown[]): ClientSummary[] {
  const out = view.host ? view.host.getClients(room) : [];
  for (const r of answers) if (Array.isArray(r)) out.push(...(r as ClientSummary[]));
  return out;
}

export function mergeStats(view: LocalView, answers: unknown[]): ClusterStats {
  const nodes: NodeStats[] = [];
  const rooms = new Set(view.rooms.getRooms());
  if (view.host) nodes.push({ nodeId: view.nodeId, ...view.host.stats() });
  for (const r of answers) {
    const part = r as { stats?: NodeStats; rooms?: unknown } | null;
    if (!part?.stats) continue;
    nodes.push(part.stats);
    if (Array.isArray(part.rooms)) for (const room of part.rooms) rooms.add(String(room));
  }
  const sum = (k: keyof NodeStats): number => nodes.reduce((n, s) => n + (Number(s[k]) || 0), 0);
  return {
    nodes,
    activeConnections: sum('activeConnections'),
    totalConnections: sum('totalConnections'),
    wsConnections: sum('wsConnections'),
    tcpConnections: sum('tcpConnections'),
    totalMessagesReceived: sum('totalMessagesReceived'),
    totalMessagesSent: sum('totalMessagesSent'),
    totalRooms: rooms.size,
  };
}

interface Pending {
  expected: Set<string>;
  results: unknown[];
  resolve: (results: unknown[]) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Queries this node asked and still waits on, by request id. */
export class PendingQueries {
  readonly #timeoutMs: number;
  readonly #open = new Map<string, Pending>();

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Opens a query waiting for `expected` nodes; `done` resolves with their answers. */
  open(expected: Iterable<string>): { id: string; done: Promise<unknown[]> } {
    const id = randomBytes(8).toString('hex');
    const done = new Promise<unknown[]>((resolve) => {
      const pending: Pending = { expected: new Set(expected), results: [], resolve, timer: setTimeout(() => this.#finish(id), this.#timeoutMs) };
      pending.timer.unref();
      this.#open.set(id, pending);
      if (pending.expected.size === 0) this.#finish(id);
    });
    return { id, done };
  }

  /** An answer from `from`; false when no open query has that id (late, or not ours). */
  answer(id: string, from: string, result: unknown): boolean {
    const pending = this.#open.get(id);
    if (!pending) return false;
    if (!pending.expected.delete(from)) return true;
    pending.results.push(result);
    if (pending.expected.size === 0) this.#finish(id);
    return true;
  }

  /** A node left the cluster: no query waits for it any longer. */
  nodeLeft(nodeId: string): void {
    for (const [id, pending] of this.#open) if (pending.expected.delete(nodeId) && pending.expected.size === 0) this.#finish(id);
  }

  /** Settles `id` now with what it has (a request that could not be sent). */
  finish(id: string): void {
    this.#finish(id);
  }

  /** Settles every open query with what it has (closing). */
  finishAll(): void {
    for (const id of [...this.#open.keys()]) this.#finish(id);
  }

  #finish(id: string): void {
    const pending = this.#open.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#open.delete(id);
    pending.resolve(pending.results);
  }
}
