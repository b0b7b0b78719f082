/**
 * Public types of the server: options, pluggable components, hooks, stats.
 * The context class (StelarContext) lives in context.ts; it is a type too.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import type { Adapter, ByteRateLimitConfig, ClientSummary, IRateLimiter, RateLimitConfig, StelarStats, TransportProtocol } from '../contracts/index.js';
import type { LoggerOption } from '../logger.js';
import type { PerMessageDeflateOptions } from '../websocket/index.js';
import type { InboundRateConfig, MetricsOptions, RuntimeOptionName, SnapshotFromTable } from './option-table.js';
export type { InboundRateConfig, MetricsOptions } from './option-table.js';
export type { DashboardOptions } from './dashboard/config.js';
import type { DashboardOptions } from './dashboard/config.js';
export type { PresenceOptions, PresenceQueryOptions } from './presence/config.js';
import type { PresenceOptions } from './presence/config.js';

/** What `server.request()` and `ctx.request()` take besides the event and its data. */
export interface ServerRequestOptions {
  /** How long to wait for the client's answer (ms). Default: the server's `ackTimeout`. */
  timeout?: number;
  /** The client's handler to run (`client.onRequest(name)`), when it is not the event's name. */
  ackName?: string;
}

/** `server.requestRoom()` options: those of `server.request()` and the member to leave out. */
export interface RoomRequestOptions extends ServerRequestOptions {
  /** A member not to ask (usually the client whose action started it). */
  exceptId?: string;
}

export type { RoomAnswer, RoomAnswers, RoomFailure } from './room-requests.js';

/** Event name -> payload type. The default accepts any event with any payload. */
export type EventMap = Record<string, any>;
/** Events no one declared: any name, any data. */
export type DefaultEvents = Record<string, any>;

// Shapes shared with adapters and limiters live in src/contracts; they are public types too.
export type { ByteRateLimitConfig, ClientSummary, IRateLimiter, RateLimitConfig, StelarStats, TransportProtocol };

import type { CustomHealthHandler, HealthAuth, IIPTracker, RateLimitKey, ServerHooks } from './extension-types.js';

export * from './extension-types.js';

/**
 * The server's options. Each one is declared in `option-table.ts` (default, checks, runtime
 * or fixed, snapshot); this interface carries their documentation, and a compile-time check
 * there fails when the two list different options.
 */
export interface ServerOptions {
  /** Port of the HTTP/WebSocket server this instance creates (ignored with `server`). Default 3000. */
  port?: number;
  /** Interface to bind the servers it creates to. Default: all interfaces. */
  host?: string;
  /** Attach to an existing http/https server (an Express app's server) instead of creating one. */
  server?: HttpServer | HttpsServer;
  /** WebSocket path on the HTTP server. Default '/'. */
  namespace?: string;
  /** Port of the binary TCP transport; false/undefined = off. */
  tcpPort?: number | false;

  maxConnections?: number;
  maxConnectionsPerIP?: number;
  maxRooms?: number;
  maxRoomsPerClient?: number;
  /** Largest accepted packet; bigger ones are dropped with an Error packet (connection stays). */
  maxPayloadSize?: number;
  /** Largest transport frame; bigger ones close the connection with 1009. */
  maxFrameSize?: number;
  /**
   * Bytes all connections together may hold for unfinished inbound frames (WebSocket
   * messages in progress, fragments included, and TCP frames). When a read takes the total
   * past it, the connection holding the most is closed with 1013 (`STELAR_ERR_INBOUND_OVERLOAD`)
   * and its buffer dropped, until the total fits. Default 256 MiB.
   */
  maxInboundBufferedBytes?: number;
  /**
   * A frame in progress must keep arriving: at least `bytesPerSecond` over every `windowMs`
   * (checked by the sweep), or the connection closes with 4005 (`STELAR_ERR_FRAME_STALLED`).
   * Not applied while reads are paused for the client's backlog. `false` turns it off.
   * Default `{ bytesPerSecond: 16384, windowMs: 10000 }`.
   */
  minInboundRate?: InboundRateConfig | false | null;
  /**
   * permessage-deflate (RFC 7692) on the WebSocket transport (TCP has no compression): `true`
   * for the defaults, or settings. Off by default, as in `ws` and socket.io: each compressed
   * message costs CPU both ways, and a compressed message is a bomb to bound. When on, a
   * broadcast is compressed once for every recipient (no connection keeps a compression
   * context, unless `serverNoContextTakeover: false`), and a message's inflated size is held to
   * `maxFrameSize` (1009 past it) as it is inflated. Fixed once the server exists.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Longest event name in UTF-8 bytes. Default 256. */
  maxEventNameLength?: number;
  /** Longest room name in UTF-8 bytes. Default 256. */
  maxRoomNameLength?: number;
  /** Cap on one client's outbound buffer; past it the client is disconnected (4006). Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Largest packet before a client is accepted (its Connect, with `auth`); bigger ones close with 1009. Default 64 KiB. */
  maxHandshakePayloadSize?: number;
  /** Deepest nesting a peer's JSON may have (checked before parsing). Default 128. */
  maxJsonDepth?: number;
  /** Invalid packets a client may send (each answered with an Error); the next closes it with 1008. Default 20. */
  maxInvalidPackets?: number;

  /** Global token bucket per client; false disables it. Default 100 per 1000 ms. */
  rateLimit?: RateLimitConfig | false | null;
  eventRateLimits?: Record<string, RateLimitConfig>;
  /**
   * Inbound bytes per client, judged from a packet's length before its body is decoded;
   * false disables it. Default 64 MiB per 10 s (bursts of 64 MiB, 6.4 MiB/s sustained).
   */
  byteRateLimit?: ByteRateLimitConfig | false | null;
  /**
   * Pings per client per window, WebSocket ping frames and Ping packets counted together;
   * past it the client gets Error `STELAR_ERR_RATE_LIMITED` and close 4008. false or null
   * turns it off. Default 1000 per 10000 ms (a client pings once per `heartbeatInterval`).
   */
  pingLimit?: RateLimitConfig | false | null;
  /**
   * New connections (sessions) one remote address may open, as a token bucket; past it:
   * `STELAR_ERR_TOO_MANY_FROM_IP`, close 4003. false disables it. Default 50 per 10,000 ms.
   */
  connectionRateLimit?: RateLimitConfig | false | null;
  /**
   * What the global, per-event and custom rate-limit buckets are keyed by. 'id' (default): one
   * bucket per client; a client that leaves with an unfinished bucket hands it to the next
   * client from its address until it refills. 'address': one bucket per remote address. A
   * function: your key (e.g. a user id from the handshake).
   */
  rateLimitKey?: RateLimitKey;
  customRateLimiter?: IRateLimiter | null;
  customIPTracker?: IIPTracker | null;
  generateClientId?: () => string;

  heartbeatInterval?: number;
  heartbeatTimeout?: number;
  connectTimeout?: number;
  /**
   * How long before a connection's expiry (set with `ctx.setExpiry`) the server asks the
   * client for fresh credentials, in ms; at most half the time left when the expiry was set.
   * Default 30,000. Clients that cannot answer are closed at the expiry (4010).
   */
  authRefreshLeadTime?: number;

  /** How long `server.request()` and `ctx.request()` wait for the client's answer by default (ms). Default 5000. */
  ackTimeout?: number;
  /** Requests to clients waiting for an answer on this server (remote ones included); past it they fail with STELAR_ERR_REQUEST_LIMIT. Default 10000. */
  maxOutgoingRequests?: number;
  /** Requests waiting for one client's answer; past it a request to that client fails with STELAR_ERR_REQUEST_LIMIT. Default 100. */
  maxOutgoingRequestsPerClient?: number;
  /** `server.requestRoom()` calls waiting for answers at once; past it a call rejects with STELAR_ERR_REQUEST_LIMIT. Default 100. */
  maxRoomRequests?: number;
  /** Members asked per `server.requestRoom()` call; the rest are listed in `failed` with STELAR_ERR_REQUEST_LIMIT. Default 1000. */
  maxRoomRequestMembers?: number;

  /** Health endpoint path; false disables it. Default '/health'. */
  healthEndpoint?: string | false;
  /** Liveness path; false disables it. Default '/livez'. */
  livenessEndpoint?: string | false;
  /** Readiness path (503 once shutdown starts); false disables it. Default '/readyz'. */
  readinessEndpoint?: string | false;
  customHealthHandler?: CustomHealthHandler | null;
  /**
   * Who may read the health path (its counters, or your `customHealthHandler`): true serves
   * it, false answers 401, a throw or rejection 500. Default: none (open to anyone, as the
   * spec requires). `livenessEndpoint` and `readinessEndpoint` stay open.
   */
  healthAuth?: HealthAuth | null;
  /**
   * A live dashboard on the HTTP port (beyond the spec): a page at `path` (default
   * '/dashboard') with charts of connections, messages and ACK latency, the rooms, a
   * searchable client list with a disconnect button, and the cluster's nodes. `true` = the
   * defaults without a token, which is allowed only when the server is bound to loopback;
   * anywhere else `token` (16+ characters) is required, or the constructor (or `start()`,
   * for a server passed in) throws. Off by default.
   */
  dashboard?: boolean | DashboardOptions;
  /**
   * Prometheus metrics (text format 0.0.4) on the HTTP port, beside the health paths.
   * `true`: at `/metrics`, for anyone who can reach the port. `{ path, token }`: another path,
   * and/or only requests with `Authorization: Bearer <token>`. `false` (the default) turns
   * them off: the path falls through to your other routes. docs/METRICS.md lists the metrics.
   */
  metrics?: boolean | MetricsOptions | null;
  /**
   * Handle SIGINT/SIGTERM with a graceful shutdown, then let the signal end the process
   * (unless the application added its own listener for it). Default true.
   */
  gracefulShutdown?: boolean;
  /**
   * The whole graceful shutdown fits in this many ms: waiting for requests already started,
   * then for clients to leave after the 1001, then the teardown. Default 10000.
   */
  shutdownTimeout?: number;
  /** Allowed Origin values for WebSocket upgrades and CORS; null = any. */
  allowedOrigins?: string[] | null;
  /** TLS options (at least key and cert): the created HTTP server becomes https, TCP becomes TLS. */
  tls?: TlsOptions | null;

  logger?: LoggerOption;
  hooks?: ServerHooks;
  /** Rooms and fan-out; default an in-memory adapter. */
  adapter?: Adapter;
  /**
   * Connection-state recovery (beyond the spec): a client that reconnects within
   * `maxDisconnectionDuration` ms keeps its id, rooms and metadata and gets the recorded
   * messages it missed. `true` = defaults (120 s, 1000 messages). Off by default.
   */
  recovery?: { maxDisconnectionDuration?: number; maxMessages?: number } | boolean;
  /**
   * Presence (beyond the spec): lets a member of a room ask who is in it (`client.presence()`)
   * and, per room, tells members who joins and leaves. `fields` names the metadata keys shown
   * (default none: ids only), `notify` turns notifications on (`true`, or `(room) => boolean`),
   * `maxMembers` caps one answer's list (default 10000; the count stays exact). `true` = the
   * defaults. Off by default; `server.presence()` works either way.
   */
  presence?: boolean | PresenceOptions;
}

/** The options `updateConfig()` accepts (the rest are fixed once the server exists). */
export type RuntimeConfig = Pick<ServerOptions, RuntimeOptionName>;

/** The numeric limits, as resolved: the same fields in the live config and in `getConfig()`. */
export interface ServerLimits {
  maxConnections: number;
  maxConnectionsPerIP: number;
  maxRooms: number;
  maxRoomsPerClient: number;
  maxPayloadSize: number;
  maxFrameSize: number;
  maxEventNameLength: number;
  maxRoomNameLength: number;
  maxBufferedBytes: number;
}

/**
 * What `getConfig()` returns: values, plus flags and names for the pluggable parts. The
 * fields come from the `snapshot` of each entry in `option-table.ts`.
 */
export interface ConfigSnapshot extends ServerLimits, SnapshotFromTable {
  /** How many clients have their own rate limit (`setClientRateLimit`). */
  clientRateLimits: number;
}

/** `ctx.clientInfo`: who the client is, its rooms and its metadata. */
export interface ClientInfo {
  readonly id: string;
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  /** The rooms it is in: a copy made when read (join and leave through the context). */
  readonly rooms: ReadonlySet<string>;
  /** Free-form per-client data (`setMetadata` writes here). */
  readonly metadata: Map<string, unknown>;
  /** ms timestamp of acceptance (0 while middleware runs). */
  readonly connectedAt: number;
}
