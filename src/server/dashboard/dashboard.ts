/**
 * The dashboard (option `dashboard`): a page and its live channel on the server's HTTP port.
 * While the server runs, a sampler reads the numbers once a second and keeps two minutes of
 * them; every authenticated viewer gets a tick per second with the latest sample, the page of
 * clients and the page of rooms it is looking at, and the cluster's nodes when the adapter
 * has a cluster. With nobody watching, a tick costs one `getStats()`.
 *
 * It talks to the server through DashboardHost only (built by the composition root), and to
 * viewers through its own WebSocket endpoint (live.ts), never through sessions.
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterStats, StelarStats } from '../../contracts/index.js';
import type { LoggerLike } from '../../logger.js';
import { attachRequestHandler } from '../http-router.js';
import { DashboardAccess } from './access.js';
import { AckLatencyWindow } from './ack-latency.js';
import { ClusterPoller } from './cluster.js';
import { type DashboardConfig, exposedDashboardError, isLoopbackAddress } from './config.js';
import { handleDashboardRequest } from './http.js';
import { LiveChannel, type ViewerLists } from './live.js';
import { type DashboardSample, DashboardSampler } from './sampler.js';
import { createDashboardSource } from './source.js';
import { type ClientSource, clientPage, PAGE_SIZE, roomPage } from './views.js';

export const TICK_MS = 1000;
/** One copy of the room names serves every viewer's tick within this time. */
const ROOMS_REUSE_MS = 250;

/** What the dashboard needs from the server. */
export interface DashboardHost {
  stats(): StelarStats;
  /** Accepted clients on this node. */
  clients(): Iterable<ClientSource>;
  roomsOf(id: string): ReadonlySet<string>;
  /** This node's rooms. */
  rooms(): string[];
  roomSize(room: string): number;
  /** The cluster's stats, when the adapter has a cluster (null otherwise). */
  clusterStats: (() => Promise<ClusterStats>) | null;
  /** Disconnects a client (4009); false when it is not connected here. */
  disconnect(id: string): boolean;
  readonly logger: LoggerLike;
}

export class Dashboard {
  /** Told by the server how long each answered ACK request took. */
  readonly ackLatency = new AckLatencyWindow();
  readonly #config: DashboardConfig;
  readonly #host: DashboardHost;
  readonly #access: DashboardAccess;
  readonly #sampler: DashboardSampler;
  readonly #fetchCluster: (() => Promise<ClusterStats>) | null;
  /** The cluster panel of the current run (a new one per start). */
  #cluster: ClusterPoller | null = null;
  #latest: DashboardSample | null = null;
  #rooms: { at: number; names: string[] } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #detachHttp: (() => void) | null = null;
  #live: LiveChannel | null = null;

  constructor(config: DashboardConfig, host: DashboardHost) {
    this.#config = config;
    this.#host = host;
    this.#access = new DashboardAccess(config);
    this.#sampler = new DashboardSampler(createDashboardSource({ stats: () => host.stats(), ackLatency: this.ackLatency }));
    this.#fetchCluster = host.clusterStats;
  }

  /** Mounts the page and the live channel on `http` and starts sampling. */
  attach(http: HttpServer): void {
    if (this.#timer) return;
    const path = this.#config.path;
    this.#detachHttp = attachRequestHandler(http, (req, res) => handleDashboardRequest(path, this.#access, req, res));
    this.#live = new LiveChannel({
      server: http,
      path,
      access: this.#access,
      logger: this.#host.logger,
      hello: () => ({ t: 'hello', v: 1, pageSize: PAGE_SIZE, history: this.#sampler.history(), cluster: this.#fetchCluster !== null }),
      tick: (lists) => this.#tick(lists),
      kick: (id, who) => this.#kick(id, who),
    });
    const fetch = this.#fetchCluster;
    const host = this.#host;
    this.#cluster = fetch ? new ClusterPoller(fetch, (err) => host.logger.warn('dashboard: cluster stats failed:', err)) : null;
    this.#sampler.reset();
    this.#latest = this.#sampler.sample();
    this.#timer = setInterval(() => this.#onTimer(), TICK_MS);
    this.#timer.unref();
  }

  /**
   * Refuses a tokenless dashboard on an address others can reach. Called once the HTTP server
   * listens: the option check at construction cannot see the address of a server passed in.
   */
  checkExposure(address: AddressInfo | string | null): void {
    if (this.#config.token !== null) return;
    // A pipe or a server not listening is no network exposure.
    if (address === null || typeof address === 'string') return;
    if (!isLoopbackAddress(address.address)) throw exposedDashboardError(`listens on ${address.address}`);
  }

  /** Stops sampling, closes the viewers (destroyed after `graceMs`) and unmounts. */
  async detach(graceMs: number): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#detachHttp?.();
    this.#detachHttp = null;
    this.#cluster?.stop();
    this.#cluster = null;
    const live = this.#live;
    this.#live = null;
    this.#rooms = null;
    await live?.close(graceMs);
  }

  #onTimer(): void {
    this.#latest = this.#sampler.sample();
    const live = this.#live;
    if (!live || live.watching === 0) return;
    this.#cluster?.poll();
    live.push();
  }

  #roomNames(): string[] {
    const now = Date.now();
    if (!this.#rooms || now - this.#rooms.at > ROOMS_REUSE_MS) this.#rooms = { at: now, names: this.#host.rooms() };
    return this.#rooms.names;
  }

  #tick(lists: ViewerLists): unknown {
    const h = this.#host;
    return {
      t: 'tick',
      sample: this.#latest,
      clients: clientPage(h.clients(), (id) => h.roomsOf(id), lists.clients),
      rooms: roomPage(this.#roomNames(), (room) => h.roomSize(room), lists.rooms),
      cluster: this.#cluster?.view ?? null,
    };
  }

  #kick(id: string, who: string): boolean {
    const ok = this.#host.disconnect(id);
    if (ok) this.#host.logger.info(`dashboard: client ${id.slice(0, 256)} disconnected by a dashboard viewer at ${who}`);
    return ok;
  }
}
