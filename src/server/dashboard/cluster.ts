/**
 * The cluster panel: every few seconds, while someone is watching, the adapter's
 * `fetchStats()` (through `getClusterStats()`) is asked for every node's stats. Only one
 * question is out at a time, a slow or failed answer leaves the last view in place, and the
 * per-node message rates come from the difference between two answers.
 */
import type { ClusterStats, NodeStats } from '../../contracts/index.js';

/** How often the cluster is asked (each node answers with its stats and its room names). */
export const CLUSTER_EVERY_MS = 2000;
/** Nodes listed; the rest are counted. */
export const MAX_NODES = 32;
const MAX_NODE_ID = 64;

export interface NodeRow {
  id: string;
  ws: number;
  tcp: number;
  rooms: number;
  /** Messages received / sent per second since the previous answer (0 on the first). */
  in: number;
  out: number;
  mem: number;
  up: number;
}

export interface ClusterView {
  nodes: NodeRow[];
  /** Nodes not listed (past MAX_NODES). */
  more: number;
  /** ms timestamp of the answer shown. */
  at: number;
  /** Set when the last question failed (the rows are from the answer before). */
  error?: string;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

export class ClusterPoller {
  readonly #fetch: () => Promise<ClusterStats>;
  readonly #onError: (err: unknown) => void;
  #asking = false;
  #stopped = false;
  #askedAt = Number.NEGATIVE_INFINITY;
  #view: ClusterView | null = null;
  #previous = new Map<string, { at: number; received: number; sent: number }>();

  constructor(fetch: () => Promise<ClusterStats>, onError: (err: unknown) => void) {
    this.#fetch = fetch;
    this.#onError = onError;
  }

  /** The latest view (null until the first answer). */
  get view(): ClusterView | null {
    return this.#view;
  }

  /** No more questions, and an answer still on its way is dropped (the server is stopping). */
  stop(): void {
    this.#stopped = true;
  }

  /** Asks again when the last question is old enough and none is out. */
  poll(now = Date.now()): void {
    if (this.#stopped || this.#asking || now - this.#askedAt < CLUSTER_EVERY_MS) return;
    this.#asking = true;
    this.#askedAt = now;
    let pending: Promise<ClusterStats>;
    try {
      pending = this.#fetch();
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (stats) => {
        this.#asking = false;
        if (this.#stopped) return;
        this.#view = this.#build(stats.nodes, Date.now());
      },
      (err: unknown) => {
        this.#asking = false;
        if (this.#stopped) return;
        this.#onError(err);
        const message = err instanceof Error ? err.message : String(err);
        this.#view = { nodes: this.#view?.nodes ?? [], more: this.#view?.more ?? 0, at: this.#view?.at ?? 0, error: message.slice(0, 200) };
      },
    );
  }

  #build(nodes: NodeStats[], at: number): ClusterView {
    const next = new Map<string, { at: number; received: number; sent: number }>();
    const rows: NodeRow[] = [];
    for (const n of nodes) {
      const id = String(n.nodeId).slice(0, MAX_NODE_ID);
      const before = this.#previous.get(id);
      const seconds = before ? Math.max(0.001, (at - before.at) / 1000) : 0;
      const rate = (now: number, then: number | undefined): number => (then === undefined || seconds === 0 ? 0 : round1(Math.max(0, now - then) / seconds));
      next.set(id, { at, received: Number(n.totalMessagesReceived) || 0, sent: Number(n.totalMessagesSent) || 0 });
      if (rows.length === MAX_NODES) continue;
      rows.push({
        id,
        ws: Number(n.wsConnections) || 0,
        tcp: Number(n.tcpConnections) || 0,
        rooms: Number(n.totalRooms) || 0,
        in: rate(Number(n.totalMessagesReceived) || 0, before?.received),
        out: rate(Number(n.totalMessagesSent) || 0, before?.sent),
        mem: Number(n.memoryMB) || 0,
        up: Number(n.uptimeSeconds) || 0,
      });
    }
    // Only nodes still present are remembered: the map is as big as the cluster, no bigger.
    this.#previous = next;
    return { nodes: rows, more: Math.max(0, nodes.length - MAX_NODES), at };
  }
}
