/**
 * StelarServer: the composition root. It creates (or borrows) the HTTP server, mounts the
 * WebSocket server and the health routes on it, opens the TCP listener, and hands every
 * new connection to the hub. Lifecycle is here; behaviour lives in the modules it wires.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { ClusterStats } from '../adapter/adapter.js';
import { MemoryAdapter } from '../adapter/memory.js';
import { CloseCode } from '../protocol/index.js';
import { TcpConnection } from '../tcp/index.js';
import { WebSocketServer, type WebSocketConnection, type WebSocketServerOptions } from '../websocket/index.js';
import type { StelarContext } from './context.js';
import type { AckHandler, EventHandler } from './dispatcher.js';
import { handleHealthRequest, type HealthSource, originAllowed } from './health.js';
import { sweepInterval, Sweeper } from './heartbeat.js';
import { runHook } from './hooks.js';
import { attachRequestHandler } from './http-router.js';
import { Hub } from './hub.js';
import type { Middleware } from './middleware.js';
import { applyRuntimeConfig, describeConfig, type ResolvedConfig, resolveOptions, validateRateLimit } from './options.js';
import { assertCloseCode } from './session.js';
import { registerShutdown, unregisterShutdown } from './shutdown.js';
import { normaliseAddress, tcpTransport, wsTransport } from './transport.js';
import type {
  ClientSummary,
  ConfigSnapshot,
  DefaultEvents,
  EventMap,
  RateLimitConfig,
  RuntimeConfig,
  ServerOptions,
  StelarStats,
} from './types.js';

/** How long `stop()` lets clients answer the close before destroying their sockets. */
const STOP_GRACE_MS = 1000;
/** Most of shutdownTimeout is for the clients; this much (at most a fifth) is kept for the teardown. */
const SHUTDOWN_TEARDOWN_MS = 500;
/** The HTTP server looks for requests whose head is overdue this often (at most). */
const HEAD_CHECK_MS = 1000;

type State = 'idle' | 'starting' | 'running' | 'stopping';

export interface DisconnectInfo {
  code: number;
  reason: string;
}

export class StelarServer<CE extends EventMap = DefaultEvents, SE extends EventMap = DefaultEvents> {
  readonly #config: ResolvedConfig;
  readonly #hub: Hub;
  readonly #sweeper: Sweeper;
  readonly #health: HealthSource;
  #state: State = 'idle';
  #starting: Promise<number> | null = null;
  #stopping: Promise<void> | null = null;
  #shuttingDown = false;
  #http: HttpServer | null = null;
  #ownHttp = false;
  #detachHttp: (() => void) | null = null;
  #wss: WebSocketServer | null = null;
  #wsOptions: WebSocketServerOptions | null = null;
  #tcp: NetServer | null = null;
  /** Raw TCP sockets, including TLS handshakes that are not sessions yet. */
  #tcpSockets = new Set<Socket>();
  #port: number | undefined;
  #tcpPort: number | undefined;

  constructor(options: ServerOptions = {}) {
    this.#config = resolveOptions(options);
    this.#hub = new Hub(this.#config, options.adapter ?? new MemoryAdapter());
    this.#sweeper = new Sweeper((now) => this.#hub.sweep(now));
    const self = this;
    this.#health = {
      config: this.#config,
      get shuttingDown() {
        return self.#shuttingDown || self.#state !== 'running';
      },
      stats: () => this.#hub.stats(),
    };
  }

  // ---- events -----------------------------------------------------------------------------

  /** Handles a client event. `ctx.data` is typed by the client event map. */
  on<K extends keyof CE & string>(event: K, handler: (ctx: StelarContext<CE[K], SE>) => unknown): this {
    if (typeof event !== 'string' || event.length === 0) throw new TypeError('event must be a non-empty string');
    this.#hub.handlers.addEvent(event, handler as EventHandler);
    return this;
  }

  /** Sees every JSON and binary event (`ctx.eventName` says which), before the event's own handlers. */
  onAll(handler: (ctx: StelarContext<CE[keyof CE], SE>) => unknown): this {
    this.#hub.handlers.all.push(handler as EventHandler);
    return this;
  }

  /** A client was accepted (it has its id). The handler gets the client's context. */
  onConnection(handler: (client: StelarContext<unknown, SE>) => unknown): this {
    this.#hub.handlers.connection.push(handler as EventHandler);
    return this;
  }

  /** An accepted client is gone; its rooms and metadata are still readable here. */
  onDisconnect(handler: (client: StelarContext<DisconnectInfo, SE>, info: DisconnectInfo) => unknown): this {
    this.#hub.handlers.disconnect.push(handler as EventHandler);
    return this;
  }

  /** Answers `request(…, name)`: the return value (or awaited value) is the response; a throw rejects it. */
  onAck(name: string, handler: (ctx: StelarContext<any, SE>) => unknown): this {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('ack name must be a non-empty string');
    this.#hub.handlers.acks.set(name, handler as AckHandler);
    return this;
  }

  /** Adds a connection middleware; they run in order before a client is accepted. */
  use(middleware: Middleware<SE>): this {
    if (typeof middleware !== 'function') throw new TypeError('middleware must be a function');
    this.#hub.handlers.middleware.push(middleware);
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
    return this.#hub.adapter.getRoomMembers(room);
  }

  getRooms(): string[] {
    return this.#hub.adapter.getRooms();
  }

  getStats(): StelarStats {
    return this.#hub.stats();
  }

  // Cluster-wide views (beyond the spec). The synchronous methods above describe this node;
  // these ask the adapter's cluster when it has one, and answer locally otherwise.

  /** Rooms on every node of the cluster. */
  async fetchRooms(): Promise<string[]> {
    const a = this.#hub.adapter;
    return a.fetchRooms ? a.fetchRooms() : a.getRooms();
  }

  /** Members of a room on every node. */
  async fetchRoomMembers(room: string): Promise<string[]> {
    const a = this.#hub.adapter;
    return a.fetchRoomMembers ? a.fetchRoomMembers(room) : a.getRoomMembers(room);
  }

  /** Clients (optionally of one room) on every node. */
  async fetchClients(room?: string): Promise<ClientSummary[]> {
    const a = this.#hub.adapter;
    return a.fetchClients ? a.fetchClients(room) : this.#hub.getClients(room);
  }

  /** Every live node's stats and their totals (one node without a cluster adapter). */
  async getClusterStats(): Promise<ClusterStats> {
    const a = this.#hub.adapter;
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
    this.#hub.rateLimits.setEventLimit(event, validateRateLimit(`eventRateLimits.${event}`, limit));
    return this;
  }

  removeEventRateLimit(event: string): boolean {
    return this.#hub.rateLimits.removeEventLimit(event);
  }

  /** Overrides every other limit for one client (until it disconnects or the override is removed). */
  setClientRateLimit(clientId: string, limit: RateLimitConfig): this {
    this.#hub.rateLimits.setClientLimit(clientId, validateRateLimit('clientRateLimit', limit));
    return this;
  }

  removeClientRateLimit(clientId: string): boolean {
    return this.#hub.rateLimits.removeClientLimit(clientId);
  }

  /** Changes options on a running server. Port, server, namespace, tcpPort, tls and adapter are fixed. */
  updateConfig(patch: RuntimeConfig): this {
    const changed = applyRuntimeConfig(this.#config, patch);
    const c = this.#config;
    if (changed.has('rateLimit') || changed.has('eventRateLimits')) this.#hub.rateLimits.sync();
    if ((changed.has('heartbeatTimeout') || changed.has('connectTimeout')) && this.#sweeper.running) {
      this.#sweeper.start(sweepInterval(c.heartbeatTimeout, c.connectTimeout));
    }
    // New WebSocket connections read it from here; open ones keep the limit they started with.
    if (changed.has('maxFrameSize') && this.#wsOptions) this.#wsOptions.maxPayload = c.maxFrameSize;
    if (changed.has('connectTimeout') && this.#http && this.#ownHttp) {
      this.#http.requestTimeout = c.connectTimeout;
      this.#http.headersTimeout = c.connectTimeout;
    }
    if (changed.has('gracefulShutdown') && this.#state === 'running') {
      if (c.gracefulShutdown) registerShutdown(this);
      else unregisterShutdown(this);
    }
    return this;
  }

  getConfig(): ConfigSnapshot {
    return describeConfig(this.#config, this.#hub.rateLimits.clientLimitCount, this.#port);
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
    const c = this.#config;
    const hub = this.#hub;
    hub.counters.startedAt = Date.now();
    await hub.adapter.start?.();

    const http = c.server ? (c.server as HttpServer) : this.#createHttpServer();
    this.#http = http;
    this.#ownHttp = !c.server;
    this.#detachHttp = attachRequestHandler(http, (req, res) => handleHealthRequest(this.#health, req, res));
    this.#wsOptions = {
      server: http,
      path: c.namespace,
      maxPayload: c.maxFrameSize,
      verifyClient: (req) => this.#verifyUpgrade(req),
    };
    const wss = new WebSocketServer(this.#wsOptions);
    this.#wss = wss;
    wss.on('connection', (ws: WebSocketConnection, req: IncomingMessage) => this.#onWebSocket(ws, req));
    wss.on('error', (err: unknown) => c.logger.error('WebSocket server error:', err));

    const listening: Promise<void>[] = [];
    if (this.#ownHttp) listening.push(listen(http, c.port ?? 0, c.host));
    else if (!http.listening) listening.push(new Promise((resolve) => http.once('listening', resolve)));
    if (c.tcpPort !== false) {
      const tcp = this.#createTcpServer();
      this.#tcp = tcp;
      listening.push(listen(tcp, c.tcpPort, c.host));
    }
    await Promise.all(listening);
    this.#port = (http.address() as AddressInfo | null)?.port;
    this.#tcpPort = this.#tcp ? (this.#tcp.address() as AddressInfo).port : undefined;

    this.#sweeper.start(sweepInterval(c.heartbeatTimeout, c.connectTimeout));
    if (c.gracefulShutdown) registerShutdown(this);
    this.#state = 'running';
    c.logger.info(`listening: ws on ${this.#port}${c.namespace === '/' ? '' : c.namespace}${this.#tcpPort !== undefined ? `, tcp on ${this.#tcpPort}` : ''}`);
    return this.#port ?? 0;
  }

  #createHttpServer(): HttpServer {
    const c = this.#config;
    // Bounded request heads and handshake time: the HTTP server is exposed to anyone. A request
    // (an upgrade included) gets connectTimeout to arrive, and Node must look often enough for
    // overdue ones, or a head trickled one byte at a time would live for its 30 s default check.
    const opts = {
      requestTimeout: c.connectTimeout,
      headersTimeout: c.connectTimeout,
      connectionsCheckingInterval: Math.max(25, Math.min(HEAD_CHECK_MS, Math.floor(c.connectTimeout / 4))),
      maxHeaderSize: 16 * 1024,
    };
    // A TLS handshake that never finishes is bounded the same way (Node's default is 120 s).
    const server = c.tls ? createHttpsServer({ handshakeTimeout: c.connectTimeout, ...c.tls, ...opts }) : createHttpServer(opts);
    if (c.tls) server.on('tlsClientError', (err) => c.logger.debug('TLS handshake failed:', err.message));
    return server as HttpServer;
  }

  #createTcpServer(): NetServer {
    const c = this.#config;
    const onSocket = (socket: Socket): void => this.#onTcpSocket(socket);
    // The session (and its connectTimeout) starts after TLS: bound the handshake itself too.
    const server = c.tls ? createTlsServer({ handshakeTimeout: c.connectTimeout, ...c.tls }, onSocket) : createNetServer(onSocket);
    // Track raw sockets from the first byte, so stop() also ends TLS handshakes in flight.
    server.on('connection', (socket: Socket) => {
      this.#tcpSockets.add(socket);
      socket.once('close', () => this.#tcpSockets.delete(socket));
    });
    if (c.tls) {
      server.on('tlsClientError', (err: Error, socket: Socket) => {
        c.logger.debug('TLS handshake failed:', err.message);
        // Node reports a handshake timeout here but leaves the socket open: close it ourselves.
        socket.destroy();
      });
    }
    server.on('error', (err) => c.logger.error('TCP server error:', err));
    return server;
  }

  /** New connections are refused once shutdown or stop began (not while starting up). */
  get #refusing(): boolean {
    return this.#shuttingDown || this.#state === 'stopping' || this.#state === 'idle';
  }

  #verifyUpgrade(req: IncomingMessage): true | { status: number; message: string } {
    if (this.#refusing) return { status: 503, message: 'Server is shutting down' };
    if (!originAllowed(this.#config.allowedOrigins, req.headers.origin)) return { status: 403, message: 'Origin not allowed' };
    return true;
  }

  #onWebSocket(ws: WebSocketConnection, req: IncomingMessage): void {
    try {
      this.#hub.open('ws', normaliseAddress(req.socket.remoteAddress), req, (sink) => wsTransport(ws, sink));
    } catch (err) {
      this.#config.logger.error('could not open a session:', err);
      ws.terminate();
    }
  }

  #onTcpSocket(socket: Socket): void {
    if (this.#refusing) {
      socket.destroy();
      return;
    }
    const conn = new TcpConnection(socket, { maxFrameSize: this.#config.maxFrameSize });
    try {
      this.#hub.open('tcp', normaliseAddress(socket.remoteAddress), null, (sink) => tcpTransport(conn, sink));
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
    const tcpClosed = this.#tcp ? closeServer(this.#tcp) : Promise.resolve();
    // Detach first so no new upgrade arrives; open connections are closed below, as sessions.
    this.#wss?.close();
    this.#wss = null;
    this.#wsOptions = null;
    hub.closeAll(CloseCode.GOING_AWAY, 'server stopping');
    await hub.whenIdle(graceMs);
    hub.terminateAll();
    for (const s of this.#tcpSockets) s.destroy();
    await hub.whenIdle(graceMs);
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
    hub.rateLimits.clear();
    try {
      await hub.recovery?.close();
      await hub.adapter.close();
    } catch (err) {
      this.#config.logger.error('adapter close failed:', err);
    }
  }

  /**
   * Graceful shutdown (what SIGINT/SIGTERM trigger with `gracefulShutdown`, the default):
   * readiness turns 503 and new connections are refused at once, clients are told (1001),
   * they get most of `shutdownTimeout` to leave, then everything is stopped and `onShutdown`
   * runs. The whole of it fits in `shutdownTimeout` (plus the adapter's own close).
   */
  async shutdown(signal = 'manual'): Promise<void> {
    if (this.#shuttingDown || this.#state !== 'running') return this.#stopping ?? undefined;
    this.#shuttingDown = true;
    const c = this.#config;
    const budget = c.shutdownTimeout;
    const reserve = Math.min(SHUTDOWN_TEARDOWN_MS, Math.floor(budget / 5));
    c.logger.info(`${signal}: shutting down (up to ${budget} ms)`);
    this.#tcp?.close();
    this.#hub.closeAll(CloseCode.GOING_AWAY, 'server shutting down');
    await this.#hub.whenIdle(budget - reserve);
    await this.#stop(Math.floor(reserve / 2));
    runHook(c.hooks, 'onShutdown', { signal }, c.logger);
  }

  /** The current shutdownTimeout (the signal handler bounds its wait with it). */
  get shutdownTimeout(): number {
    return this.#config.shutdownTimeout;
  }

  /** True from the start of a graceful shutdown until the server is stopped. */
  get isShuttingDown(): boolean {
    return this.#shuttingDown;
  }
}

function listen(server: NetServer, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Stops listening; resolves once the server is closed (at once if it was not listening). */
function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
