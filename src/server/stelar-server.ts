/**
 * StelarServer: the composition root. It creates (or borrows) the HTTP server, mounts the
 * WebSocket server and the health routes on it, opens the TCP listener, and hands every
 * new connection to the hub. Lifecycle is here; behaviour lives in the modules it wires.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { MemoryAdapter } from '../adapter/memory.js';
import type { Adapter, ClusterList, ClusterStats } from '../contracts/index.js';
import { CloseCode, CONNECT_HEADER, ERROR_HEADER, ErrorCode, isReservedEvent, type PresenceResult, RESERVED_PREFIX } from '../protocol/index.js';
import { TcpConnection } from '../tcp/index.js';
import { WebSocketServer, type WebSocketConnection } from '../websocket/index.js';
import type { ContextHost, StelarContext } from './context.js';
import type { DashboardConfig } from './dashboard/config.js';
import { Dashboard } from './dashboard/dashboard.js';
import { ServerDiagnostics } from './diagnostics.js';
import { Dispatcher } from './dispatcher.js';
import { DrainNotices } from './drain.js';
import { type AckHandler, type EventHandler, Handlers } from './handlers.js';
import { handleHealthRequest, type HealthSource, originAllowed } from './health.js';
import { sweepInterval, Sweeper } from './heartbeat.js';
import { runHook } from './hooks.js';
import { attachRequestHandler } from './http-router.js';
import { Hub } from './hub.js';
import { InFlightRequests } from './in-flight.js';
import { ClientLifecycle } from './lifecycle.js';
import { closeServer, createBoundedHttpServer, createTcpListener, listen, retimeHttpServer } from './listeners.js';
import { handleMetricsRequest, type MetricsEndpointSource } from './metrics/endpoint.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import type { Middleware } from './middleware.js';
import { applyRuntimeConfig, describeConfig, type ResolvedConfig, resolveOptions, validateRateLimit } from './options.js';
import type { PresenceQueryOptions } from './presence/config.js';
import { Presence } from './presence/presence.js';
import { checkRequest, type ClientRequest, OutgoingRequests, type SettleFn, settleWith } from './outgoing-requests.js';
import { type RoomAnswers, RoomRequests } from './room-requests.js';
import { RateLimits } from './rate-limiter.js';
import { SessionRecovery } from './recovery.js';
import { CredentialRefresh } from './refresh.js';
import { RoomPolicy } from './rooms.js';
import { assertCloseCode, type SessionHost } from './session.js';
import { createSessionHost, reportInvalid } from './session-host.js';
import { registerShutdown, unregisterShutdown } from './shutdown.js';
import { SocketGate } from './socket-gate.js';
import { StatsCounters } from './stats.js';
import { normaliseAddress, tcpTransport, wsTransport } from './transport.js';
import type {
  ClientSummary,
  ConfigSnapshot,
  DefaultEvents,
  EventMap,
  RateLimitConfig,
  RuntimeConfig,
  ServerOptions,
  ServerRequestOptions,
  RoomRequestOptions,
  StelarStats,
} from './types.js';

/** How long `stop()` lets clients answer the close before destroying their sockets. */
const STOP_GRACE_MS = 1000;
/** Most of shutdownTimeout is for the clients; this much (at most a fifth) is kept for the teardown. */
const SHUTDOWN_TEARDOWN_MS = 500;

type State = 'idle' | 'starting' | 'running' | 'stopping';

export interface DisconnectInfo {
  code: number;
  reason: string;
}

const CONNECT_TAKEN: Readonly<Record<string, string>> = Object.freeze({ [CONNECT_HEADER]: '1' });

export class StelarServer<CE extends EventMap = DefaultEvents, SE extends EventMap = DefaultEvents> {
  // What this server owns, built once here and handed to the parts that need them.
  readonly #config: ResolvedConfig;
  /** `requestRoom()` calls waiting for their members' answers. */
  readonly #roomRequests: RoomRequests;
  readonly #adapter: Adapter;
  readonly #handlers = new Handlers();
  readonly #rateLimits: RateLimits;
  readonly #recovery: SessionRecovery | null;
  readonly #counters = new StatsCounters();
  readonly #hub: Hub;
  /** Every socket our own listeners accept, counted against the connection caps from the first byte. */
  readonly #gate: SocketGate;
  readonly #sessionHost: SessionHost;
  readonly #sweeper: Sweeper;
  readonly #health: HealthSource;
  readonly #inFlight = new InFlightRequests();
  /** Connection expiries and the requests for fresh credentials before them. */
  readonly #refresh: CredentialRefresh;
  /** The `dashboard` option's page and live channel; null when off. */
  readonly #dashboard: Dashboard | null;
  /** Who is in a room across the cluster, and the `presence` option's notifications. */
  readonly #presence: Presence;
  readonly #metricsEndpoint: MetricsEndpointSource;
  /** Built the first time metrics are turned on; the counters it reads run regardless. */
  #metrics: ServerMetrics | null = null;
  #state: State = 'idle';
  #starting: Promise<number> | null = null;
  #stopping: Promise<void> | null = null;
  #shuttingDown = false;
  /** The graceful shutdown under way: a second shutdown() (another signal) waits for the same one. */
  #shutdown: Promise<void> | null = null;
  #http: HttpServer | null = null;
  #ownHttp = false;
  #detachHttp: (() => void) | null = null;
  #wss: WebSocketServer | null = null;
  #tcp: NetServer | null = null;
  /** Raw TCP sockets, including TLS handshakes that are not sessions yet. */
  #tcpSockets = new Set<Socket>();
  #port: number | undefined;
  #tcpPort: number | undefined;

  constructor(options: ServerOptions = {}) {
    const config = resolveOptions(options);
    this.#config = config;
    const adapter: Adapter = options.adapter ?? new MemoryAdapter();
    this.#adapter = adapter;
    this.#rateLimits = new RateLimits(config, config.rateLimit, config.eventRateLimits, (err) => config.logger.error('rate limiter failed:', err));
    this.#rateLimits.setByteLimit(config.byteRateLimit);
    const diagnostics = new ServerDiagnostics(this);
    // Requests this server sends to clients, waiting for their answers.
    const outgoing = new OutgoingRequests(config);
    const hub = new Hub({ config, adapter, counters: this.#counters, rateLimits: this.#rateLimits, diagnostics, outgoing });
    this.#roomRequests = new RoomRequests({
      limits: config,
      localMembers: (room) => adapter.getRoomMembers(room),
      clusterMembers: (room) => (adapter.fetchRoomMembers ? adapter.fetchRoomMembers(room) : null),
      ask: (id, request, timeout, settle) => hub.request(id, request, timeout, settle),
    });
    this.#hub = hub;
    this.#gate = new SocketGate(config);
    adapter.init(hub);
    // After init: a cluster adapter may build its recovery store from what init gave it.
    this.#recovery = config.recovery ? new SessionRecovery(config.recovery, adapter, config.logger) : null;
    hub.useRecovery(this.#recovery);
    const presence = new Presence({
      config,
      adapter,
      host: hub,
      notify: (room, event, data, exceptId) => hub.broadcast(event, data, { room, exceptId, internal: true }),
    });
    this.#presence = presence;
    const rooms = new RoomPolicy(config, adapter, presence);
    const contextHost: ContextHost = {
      broadcast: (event, data, opts) => hub.broadcast(event, data, opts),
      toId: (id, event, data) => hub.toId(id, event, data),
      joinRoom: (session, room) => rooms.joinRoom(session, room),
      leaveRoom: (session, room) => rooms.leaveRoom(session, room),
      roomsOf: (id) => adapter.roomsOf(id),
      getClients: (room) => hub.getClients(room),
      // Built right below; the context calls these only once a client exists.
      setExpiry: (session, at) => refresh.setExpiry(session, at),
      expiresAt: (session) => refresh.expiresAt(session),
      drained: (session) => drains.wait(session),
      request: (session, event, data, opts) => this.#ask(event, data, opts, (req, timeout, settle) => outgoing.send(session, req, timeout, settle)),
    };
    const refresh = new CredentialRefresh({ config, handlers: this.#handlers, contextHost });
    this.#refresh = refresh;
    const drains = new DrainNotices({ config, handlers: this.#handlers, contextHost });
    const lifecycle = new ClientLifecycle({
      config,
      handlers: this.#handlers,
      recovery: this.#recovery,
      registry: hub,
      adapter,
      rateLimits: this.#rateLimits,
      counters: this.#counters,
      contextHost,
      diagnostics,
      presence,
      refresh,
    });
    const dispatcher = new Dispatcher({
      config,
      handlers: this.#handlers,
      rateLimits: this.#rateLimits,
      rooms,
      lifecycle,
      refresh,
      counters: this.#counters,
      contextHost,
      diagnostics,
      inFlight: this.#inFlight,
      presence,
      outgoing,
      reportInvalid: (session, err) => reportInvalid(config, session, err),
    });
    this.#sessionHost = createSessionHost({
      config,
      hub,
      dispatcher,
      lifecycle,
      adapter,
      counters: this.#counters,
      diagnostics,
      inFlight: this.#inFlight,
      refresh,
      drains,
      outgoing,
    });
    this.#sweeper = new Sweeper((now) => hub.sweep(now));
    this.#dashboard = config.dashboard ? this.#createDashboard(config.dashboard) : null;
    const self = this;
    this.#health = {
      config,
      get shuttingDown() {
        return self.#shuttingDown || self.#state !== 'running';
      },
      stats: () => hub.stats(),
    };
    this.#metricsEndpoint = { config, render: () => this.#metrics?.render() ?? '' };
    this.#syncMetrics();
  }

  /**
   * Metrics on or off as the config says: the histograms are observed while on, and the
   * event-loop monitor runs while on and listening.
   */
  #syncMetrics(): void {
    let metrics = this.#metrics;
    if (!this.#config.metrics) {
      this.#counters.observe = null;
      metrics?.stop();
      return;
    }
    if (!metrics) {
      const adapter = this.#adapter;
      metrics = new ServerMetrics({
        counters: this.#counters,
        rooms: () => adapter.roomCount(),
        acksInFlight: () => this.#inFlight.count,
        sockets: this.#gate,
        adapter: adapter.metrics ? adapter.metrics.bind(adapter) : null,
        recovery: this.#recovery !== null,
      });
      this.#metrics = metrics;
    }
    this.#counters.observe = metrics.observations;
    if (this.#state === 'running') metrics.start();
  }

  #createDashboard(options: DashboardConfig): Dashboard {
    const hub = this.#hub;
    const adapter = this.#adapter;
    const config = this.#config;
    const dashboard = new Dashboard(options, {
      stats: () => hub.stats(),
      clients: () => hub.clients(),
      roomsOf: (id) => adapter.roomsOf(id),
      rooms: () => adapter.getRooms(),
      roomSize: (room) => adapter.getRoomMembers(room).length,
      clusterStats: adapter.fetchStats ? () => this.getClusterStats() : null,
      disconnect: (id) => this.disconnect(id, CloseCode.KICKED, 'disconnected from the dashboard'),
      get logger() {
        return config.logger;
      },
    });
    this.#inFlight.observeLatency((ms) => dashboard.ackLatency.record(ms));
    return dashboard;
  }

  // ---- events -----------------------------------------------------------------------------

  /** Handles a client event. `ctx.data` is typed by the client event map. */
  on<K extends keyof CE & string>(event: K, handler: (ctx: StelarContext<CE[K], SE>) => unknown): this {
    if (typeof event !== 'string' || event.length === 0) throw new TypeError('event must be a non-empty string');
    if (isReservedEvent(event)) throw new TypeError(`event names starting with "${RESERVED_PREFIX}" are reserved for the protocol`);
    this.#handlers.addEvent(event, handler as EventHandler);
    return this;
  }

  /** Sees every JSON and binary event (`ctx.eventName` says which), before the event's own handlers. */
  onAll(handler: (ctx: StelarContext<CE[keyof CE], SE>) => unknown): this {
    this.#handlers.all.push(handler as EventHandler);
    return this;
  }

  /** A client was accepted (it has its id). The handler gets the client's context. */
  onConnection(handler: (client: StelarContext<unknown, SE>) => unknown): this {
    this.#handlers.connection.push(handler as EventHandler);
    return this;
  }

  /** An accepted client is gone; its rooms and metadata are still readable here. */
  onDisconnect(handler: (client: StelarContext<DisconnectInfo, SE>, info: DisconnectInfo) => unknown): this {
    this.#handlers.disconnect.push(handler as EventHandler);
    return this;
  }

  /**
   * A client's backlog fell below the high-water mark after `ctx.emit` (or a send to it)
   * answered false: it can take more. The handler gets the client's context (`ctx.emit`,
   * `ctx.bufferedAmount`...). For a producer inside a handler, `await ctx.drained()` is simpler.
   */
  onDrain(handler: (client: StelarContext<undefined, SE>) => unknown): this {
    if (typeof handler !== 'function') throw new TypeError('onDrain handler must be a function');
    this.#handlers.drain.push(handler as EventHandler);
    return this;
  }

  /** Answers `request(…, name)`: the return value (or awaited value) is the response; a throw rejects it. */
  onAck(name: string, handler: (ctx: StelarContext<any, SE>) => unknown): this {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('ack name must be a non-empty string');
    if (isReservedEvent(name)) throw new TypeError(`ack names starting with "${RESERVED_PREFIX}" are reserved for the protocol`);
    this.#handlers.acks.set(name, handler as AckHandler);
    return this;
  }

  /** Adds a connection middleware; they run in order before a client is accepted. */
  use(middleware: Middleware<SE>): this {
    if (typeof middleware !== 'function') throw new TypeError('middleware must be a function');
    this.#handlers.middleware.push(middleware);
    return this;
  }

  // ---- sending ----------------------------------------------------------------------------

  broadcast<K extends keyof SE & string>(event: K, data?: SE[K], excludeId?: string): number {
    return this.#hub.broadcast(event, data, { exceptId: excludeId });
  }

  to<K extends keyof SE & string>(room: string, event: K, data?: SE[K], excludeId?: string): number {
    return this.#hub.broadcast(event, data, { room, exceptId: excludeId });
  }

  toId<K extends keyof SE & string>(id: string, event: K, data?: SE[K]): boolean {
    return this.#hub.toId(id, event, data);
  }

  broadcastBinary(event: string, data: Uint8Array | ArrayBuffer, excludeId?: string): number {
    return this.#hub.broadcast(event, data, { exceptId: excludeId, binary: true });
  }

  /**
   * Asks one client by id (an ACK Request from the server, on either transport, on this node
   * or, through a cluster adapter, on another) and resolves with its answer: what its
   * `onRequest(name)` handler returned. Rejects with a StelarError: the client's own error
   * (its code kept), STELAR_ERR_NO_ACK_HANDLER, STELAR_ERR_ACK_TIMEOUT after `timeout`
   * (default `ackTimeout`), STELAR_ERR_CONNECTION_CLOSED when the connection ends first,
   * STELAR_ERR_NOT_CONNECTED when no such client is connected, or STELAR_ERR_REQUEST_LIMIT.
   */
  request<R = any, K extends keyof SE & string = keyof SE & string>(id: string, event: K, data?: SE[K], options?: ServerRequestOptions): Promise<R> {
    return this.#ask(event, data, options, (request, timeout, settle) => {
      if (typeof id !== 'string' || id === '') throw new TypeError('id must be a non-empty string');
      this.#hub.request(id, request, timeout, settle);
    }) as Promise<R>;
  }

  /**
   * `server.request` and `ctx.request`: the arguments checked, then `send` starts the request.
   * A bad argument, or data that cannot be encoded, rejects the promise (nothing is sent).
   */
  #ask(
    event: string,
    data: unknown,
    options: ServerRequestOptions | undefined,
    send: (request: ClientRequest, timeout: number, settle: SettleFn) => void,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timeout = checkRequest(event, options, this.#config.ackTimeout);
      send({ event, ackName: options?.ackName ?? event, data }, timeout, settleWith(resolve, reject));
    });
  }

  /**
   * Asks every member of `room`, on every node, and resolves once all have answered or the
   * timeout (default `ackTimeout`) passed: `{ answers, failed, timedOut }`, each member asked
   * in exactly one list. A separate method rather than an overload of `to()`, whose 4-argument
   * form sends an event and returns a count. Rejects only for bad arguments, data that cannot
   * be encoded, or STELAR_ERR_REQUEST_LIMIT (`maxRoomRequests` calls outstanding already).
   */
  requestRoom<R = any, K extends keyof SE & string = keyof SE & string>(
    room: string,
    event: K,
    data?: SE[K],
    options?: RoomRequestOptions,
  ): Promise<RoomAnswers<R>> {
    return new Promise<RoomAnswers<R>>((resolve, reject) => {
      if (typeof room !== 'string' || room === '') throw new TypeError('room must be a non-empty string');
      const timeout = checkRequest(event, options, this.#config.ackTimeout);
      const exceptId = options?.exceptId;
      if (exceptId !== undefined && typeof exceptId !== 'string') throw new TypeError('exceptId must be a string');
      // Encoded once here, so data that cannot be sent rejects the call instead of failing every member.
      JSON.stringify(data);
      this.#roomRequests.start(room, { event, ackName: options?.ackName ?? event, data }, timeout, exceptId).then(resolve, reject);
    });
  }

  /** Closes one client's connection (default 4009, kicked). */
  disconnect(id: string, code: number = CloseCode.KICKED, reason = 'disconnected by the server'): boolean {
    assertCloseCode(code);
    const session = this.#hub.getClient(id);
    if (!session) return false;
    session.close(code, reason);
    return true;
  }

  // ---- information ------------------------------------------------------------------------

  getClients(room?: string): ClientSummary[] {
    return this.#hub.getClients(room);
  }

  getRoomMembers(room: string): string[] {
    return this.#adapter.getRoomMembers(room);
  }

  getRooms(): string[] {
    return this.#adapter.getRooms();
  }

  getStats(): StelarStats {
    return this.#hub.stats();
  }

  // Cluster-wide views (beyond the spec). The synchronous methods above describe this node;
  // these ask the adapter's cluster when it has one, and answer locally otherwise.

  /** Rooms on every node of the cluster (`incomplete` / `missingNodes` when a node did not answer). */
  async fetchRooms(): Promise<ClusterList<string>> {
    const a = this.#adapter;
    return a.fetchRooms ? a.fetchRooms() : a.getRooms();
  }

  /** Members of a room on every node (`incomplete` / `missingNodes` when a node did not answer). */
  async fetchRoomMembers(room: string): Promise<ClusterList<string>> {
    const a = this.#adapter;
    return a.fetchRoomMembers ? a.fetchRoomMembers(room) : a.getRoomMembers(room);
  }

  /** Clients (optionally of one room) on every node (`incomplete` / `missingNodes` when a node did not answer). */
  async fetchClients(room?: string): Promise<ClusterList<ClientSummary>> {
    const a = this.#adapter;
    return a.fetchClients ? a.fetchClients(room) : this.#hub.getClients(room);
  }

  /**
   * Who is in `room` on every node: `{ room, count, members: [{ id, data }], truncated }`,
   * `data` holding only the metadata fields of the `presence` option (none by default), or
   * those of `options.fields`. Asks the cluster like `fetchClients` (a dead node's clients are
   * in no answer); a big room is listed in slices, without holding the event loop.
   */
  presence<D = Record<string, unknown>>(room: string, options?: PresenceQueryOptions): Promise<PresenceResult<D>> {
    return this.#presence.query<D>(room, options);
  }

  /** Every live node's stats and their totals (one node without a cluster adapter). */
  async getClusterStats(): Promise<ClusterStats> {
    const a = this.#adapter;
    if (a.fetchStats) return a.fetchStats();
    const own = this.#hub.stats();
    return {
      nodes: [{ nodeId: 'local', ...own }],
      activeConnections: own.activeConnections,
      totalConnections: own.totalConnections,
      wsConnections: own.wsConnections,
      tcpConnections: own.tcpConnections,
      totalMessagesReceived: own.totalMessagesReceived,
      totalMessagesSent: own.totalMessagesSent,
      totalRooms: own.totalRooms,
    };
  }

  /** The HTTP/WebSocket port (known once started). */
  getPort(): number | undefined {
    return this.#port;
  }

  /** The TCP port (undefined when TCP is off or not started). */
  getTcpPort(): number | undefined {
    return this.#tcpPort;
  }

  // ---- rate limits and config -------------------------------------------------------------

  setEventRateLimit(event: string, limit: RateLimitConfig): this {
    this.#rateLimits.setEventLimit(event, validateRateLimit(`eventRateLimits.${event}`, limit));
    return this;
  }

  removeEventRateLimit(event: string): boolean {
    return this.#rateLimits.removeEventLimit(event);
  }

  /** Overrides every other limit for one client (until it disconnects or the override is removed). */
  setClientRateLimit(clientId: string, limit: RateLimitConfig): this {
    this.#rateLimits.setClientLimit(clientId, validateRateLimit('clientRateLimit', limit));
    return this;
  }

  removeClientRateLimit(clientId: string): boolean {
    return this.#rateLimits.removeClientLimit(clientId);
  }

  /** Changes options on a running server. Port, server, namespace, tcpPort, tls and adapter are fixed. */
  updateConfig(patch: RuntimeConfig): this {
    const changed = applyRuntimeConfig(this.#config, patch);
    const c = this.#config;
    // Each change goes to the part that owns the state it affects.
    if (changed.has('rateLimit')) this.#rateLimits.setGlobalLimit(c.rateLimit);
    if (changed.has('eventRateLimits')) this.#rateLimits.replaceEventLimits(c.eventRateLimits);
    if (changed.has('byteRateLimit')) this.#rateLimits.setByteLimit(c.byteRateLimit);
    if (changed.has('metrics')) this.#syncMetrics();
    if ((changed.has('heartbeatTimeout') || changed.has('connectTimeout')) && this.#sweeper.running) {
      this.#sweeper.start(sweepInterval(c.heartbeatTimeout, c.connectTimeout));
    }
    // New WebSocket connections take it from here; open ones keep the limit they started with.
    if (changed.has('maxFrameSize') && this.#wss) this.#wss.maxPayload = c.maxFrameSize;
    if (changed.has('connectTimeout') && this.#http && this.#ownHttp) retimeHttpServer(this.#http, c.connectTimeout);
    if (changed.has('gracefulShutdown') && this.#state === 'running') {
      if (c.gracefulShutdown) registerShutdown(this);
      else unregisterShutdown(this);
    }
    return this;
  }

  getConfig(): ConfigSnapshot {
    return { ...describeConfig(this.#config, this.#rateLimits.clientLimitCount, this.#port), eventRateLimits: this.#rateLimits.eventNames() };
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Starts listening; resolves with the HTTP/WebSocket port (also passed to `callback`). */
  start(callback?: (port: number) => void): Promise<number> {
    if (!this.#starting) {
      this.#starting = this.#start().catch(async (err: unknown) => {
        await this.#teardown(STOP_GRACE_MS);
        this.#starting = null;
        throw err;
      });
    }
    const p = this.#starting;
    if (callback) p.then(callback, () => {});
    return p;
  }

  async #start(): Promise<number> {
    if (this.#stopping) await this.#stopping;
    this.#state = 'starting';
    this.#shuttingDown = false;
    this.#inFlight.reset();
    const c = this.#config;
    this.#counters.started();
    await this.#adapter.start?.();

    const http = c.server ? (c.server as HttpServer) : createBoundedHttpServer(c);
    this.#http = http;
    this.#ownHttp = !c.server;
    this.#gate.measure();
    if (this.#ownHttp) this.#gate.watch(http, 'HTTP server');
    this.#detachHttp = attachRequestHandler(
      http,
      (req, res) => handleHealthRequest(this.#health, req, res) || handleMetricsRequest(this.#metricsEndpoint, req, res),
    );
    this.#dashboard?.attach(http);
    const wss = new WebSocketServer({
      server: http,
      path: c.namespace,
      maxPayload: c.maxFrameSize,
      perMessageDeflate: c.perMessageDeflate,
      verifyClient: (req) => this.#verifyUpgrade(req),
      // The client's Connect came with the upgrade: say so, and it sends no Connect frame.
      acceptHeaders: (req) => (this.#hub.upgradeConnect(req) === null ? undefined : CONNECT_TAKEN),
    });
    this.#wss = wss;
    wss.on('connection', (ws: WebSocketConnection, req: IncomingMessage) => this.#onWebSocket(ws, req));
    wss.on('error', (err: unknown) => c.logger.error('WebSocket server error:', err));

    const listening: Promise<void>[] = [];
    if (this.#ownHttp) listening.push(listen(http, c.port ?? 0, c.host));
    else if (!http.listening) listening.push(new Promise((resolve) => http.once('listening', resolve)));
    if (c.tcpPort !== false) {
      const tcp = createTcpListener(c, this.#tcpSockets, (socket) => this.#onTcpSocket(socket));
      this.#tcp = tcp;
      this.#gate.watch(tcp, 'TCP server');
      listening.push(listen(tcp, c.tcpPort, c.host));
    }
    await Promise.all(listening);
    this.#dashboard?.checkExposure(http.address());
    this.#port = (http.address() as AddressInfo | null)?.port;
    this.#tcpPort = this.#tcp ? (this.#tcp.address() as AddressInfo).port : undefined;

    this.#sweeper.start(sweepInterval(c.heartbeatTimeout, c.connectTimeout));
    if (c.gracefulShutdown) registerShutdown(this);
    this.#state = 'running';
    this.#syncMetrics();
    const dashboard = c.dashboard ? `, dashboard at ${c.dashboard.path}` : '';
    c.logger.info(
      `listening: ws on ${this.#port}${c.namespace === '/' ? '' : c.namespace}${this.#tcpPort !== undefined ? `, tcp on ${this.#tcpPort}` : ''}${dashboard}`,
    );
    return this.#port ?? 0;
  }

  /** New connections are refused once shutdown or stop began (not while starting up). */
  get #refusing(): boolean {
    return this.#shuttingDown || this.#state === 'stopping' || this.#state === 'idle';
  }

  /** A refused upgrade says why in `X-Stelar-Error` too, so a Node client reports that code. */
  #verifyUpgrade(req: IncomingMessage): true | { status: number; message: string; headers: Record<string, string> } {
    if (this.#refusing) {
      this.#counters.refused('ws', 'shutting_down');
      return { status: 503, message: 'Server is shutting down', headers: { [ERROR_HEADER]: ErrorCode.SHUTTING_DOWN } };
    }
    if (!originAllowed(this.#config.allowedOrigins, req.headers.origin)) {
      this.#counters.refused('ws', 'origin_not_allowed');
      return { status: 403, message: 'Origin not allowed', headers: { [ERROR_HEADER]: ErrorCode.ORIGIN_NOT_ALLOWED } };
    }
    return true;
  }

  #onWebSocket(ws: WebSocketConnection, req: IncomingMessage): void {
    try {
      this.#hub.open('ws', normaliseAddress(req.socket.remoteAddress), req, this.#sessionHost, (sink) => wsTransport(ws, sink));
    } catch (err) {
      this.#config.logger.error('could not open a session:', err);
      ws.terminate();
    }
  }

  #onTcpSocket(socket: Socket): void {
    // Destroyed: dropped at accept by the socket gate.
    if (this.#refusing || socket.destroyed) {
      if (!socket.destroyed) this.#counters.refused('tcp', 'shutting_down');
      socket.destroy();
      return;
    }
    const conn = new TcpConnection(socket, { maxFrameSize: this.#config.maxFrameSize, pauseReadsOnBacklog: true });
    try {
      this.#hub.open('tcp', normaliseAddress(socket.remoteAddress), null, this.#sessionHost, (sink) => tcpTransport(conn, sink));
    } catch (err) {
      this.#config.logger.error('could not open a session:', err);
      conn.terminate();
    }
  }

  /** Closes every client, listener, timer and signal handler this instance created. */
  stop(): Promise<void> {
    return this.#stop(STOP_GRACE_MS);
  }

  #stop(graceMs: number): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const starting = this.#starting;
    if (this.#state === 'idle' && !starting) return Promise.resolve();
    // A start() from now on is a new start (it waits for this stop), never the old port.
    this.#starting = null;
    this.#stopping = (async () => {
      if (starting) await starting.catch(() => {});
      this.#state = 'stopping';
      await this.#teardown(graceMs);
    })().finally(() => {
      this.#stopping = null;
      this.#state = 'idle';
    });
    return this.#stopping;
  }

  /** `graceMs`: how long closing clients get, then again after their sockets are destroyed. */
  async #teardown(graceMs: number): Promise<void> {
    const hub = this.#hub;
    unregisterShutdown(this);
    this.#sweeper.stop();
    this.#metrics?.stop();
    const tcpClosed = this.#tcp ? closeServer(this.#tcp) : Promise.resolve();
    // Detach first so no new upgrade arrives; open connections are closed below, as sessions.
    this.#wss?.close();
    this.#wss = null;
    const dashboardClosed = this.#dashboard?.detach(graceMs);
    this.#refresh.clear();
    hub.closeAll(CloseCode.GOING_AWAY, 'server stopping');
    await hub.whenIdle(graceMs);
    hub.terminateAll();
    for (const s of this.#tcpSockets) s.destroy();
    await hub.whenIdle(graceMs);
    await dashboardClosed;
    this.#detachHttp?.();
    this.#detachHttp = null;
    if (this.#http && this.#ownHttp) {
      const http = this.#http;
      const closed = closeServer(http);
      http.closeAllConnections();
      await closed;
    }
    await tcpClosed;
    this.#http = null;
    this.#tcp = null;
    this.#port = undefined;
    this.#tcpPort = undefined;
    this.#rateLimits.clear();
    try {
      await this.#recovery?.close();
      await this.#adapter.close();
    } catch (err) {
      this.#config.logger.error('adapter close failed:', err);
    }
  }

  /**
   * Graceful shutdown (what SIGINT/SIGTERM trigger with `gracefulShutdown`, the default):
   * readiness turns 503 and new connections are refused at once, and so are new ACK requests
   * (error ACK response, STELAR_ERR_SHUTTING_DOWN). Requests whose handler already started
   * are waited for (see in-flight.ts) and their answers sent; then clients are told (1001)
   * and get what is left of most of `shutdownTimeout` to leave; then everything is stopped
   * and `onShutdown` runs. The whole of it fits in `shutdownTimeout` (plus the adapter's own
   * close): a handler that never settles only delays the 1001 until that budget is spent.
   */
  shutdown(signal = 'manual'): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    if (this.#state !== 'running') return this.#stopping ?? Promise.resolve();
    this.#shuttingDown = true;
    const run = this.#runShutdown(signal).finally(() => {
      this.#shuttingDown = false;
      this.#shutdown = null;
    });
    this.#shutdown = run;
    return run;
  }

  async #runShutdown(signal: string): Promise<void> {
    const c = this.#config;
    const budget = c.shutdownTimeout;
    const reserve = Math.min(SHUTDOWN_TEARDOWN_MS, Math.floor(budget / 5));
    const deadline = Date.now() + budget - reserve;
    c.logger.info(`${signal}: shutting down (up to ${budget} ms)`);
    this.#tcp?.close();
    this.#inFlight.drain();
    const pending = this.#inFlight.count;
    if (pending > 0 && !(await this.#inFlight.whenDrained(deadline - Date.now()))) {
      c.logger.warn(`${signal}: ${this.#inFlight.count} of ${pending} requests still unanswered, closing anyway`);
    }
    this.#hub.closeAll(CloseCode.GOING_AWAY, 'server shutting down');
    await this.#hub.whenIdle(Math.max(0, deadline - Date.now()));
    await this.#stop(Math.floor(reserve / 2));
    runHook(c.hooks, 'onShutdown', { signal }, c.logger);
  }

  /** The current shutdownTimeout (the signal handler bounds its wait with it). */
  get shutdownTimeout(): number {
    return this.#config.shutdownTimeout;
  }

  /**
   * True while a graceful shutdown is under way: from `shutdown()` (or the signal) until the
   * promise it returned resolves (the server stopped and `onShutdown` ran). False before and
   * after, and during a plain `stop()`.
   */
  get isShuttingDown(): boolean {
    return this.#shuttingDown;
  }
}
