/**
 * Every server option, declared once: its default, how a given value is checked and
 * normalised, whether `updateConfig()` may change it, how `getConfig()` shows it, and one
 * line saying what it is for. `options.ts` derives the rest from this table (SERVER_DEFAULTS,
 * the constructor, `updateConfig()`, the fixed keys, `getConfig()`), `types.ts` derives
 * `RuntimeConfig` and `ConfigSnapshot`, and test/docs/options-table.test.mjs holds
 * docs/API.md to it. Adding an option means adding one entry here and its documented field
 * in `ServerOptions` (the compile-time check in options.ts fails otherwise).
 */
import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import { checkLoggerOption, createLogger, type LoggerLike } from '../logger.js';
import { RECOVERY_DEFAULTS, type RecoveryOptions } from '../contracts/index.js';
import type { ByteRateLimitConfig, IRateLimiter, RateLimitConfig } from '../contracts/index.js';
import { resolveDeflateOptions, type ResolvedDeflateOptions } from '../websocket/index.js';
import type { CustomHealthHandler, HealthAuth, HookName, IIPTracker, RateLimitKey, ServerHooks } from './extension-types.js';
import { type DashboardConfig, exposedDashboardError, isLoopbackHost, resolveDashboard } from './dashboard/config.js';
import { describePresence, type PresenceConfig, resolvePresence } from './presence/config.js';

// ---- the shape of one entry --------------------------------------------------------------

/** What `resolve` gets besides the value. */
export interface ResolveContext<R, D> {
  /** The option's name, for error messages. */
  readonly name: string;
  /** The value in force: undefined in the constructor, the live value in `updateConfig()`. */
  readonly current: R | undefined;
  /** The entry's `default`. */
  readonly default: D;
  /** The whole options object (constructor) or patch (`updateConfig()`). */
  readonly input: Readonly<Record<string, unknown>>;
}

/** What a snapshot function may read besides the resolved value. */
export interface SnapshotView {
  /** The port actually listened on (undefined before start). */
  readonly port: number | undefined;
  readonly hasCustomClientId: boolean;
}

/** Resolved fields that are not options of their own (set through an entry's `alsoSets`). */
export interface ResolvedExtras {
  /** true when the application passed `generateClientId`. */
  hasCustomClientId: boolean;
}

/**
 * One option. Type parameters (inferred, never written by hand): R the resolved value,
 * RT the runtime flag, D the default, DK the name of the default in SERVER_DEFAULTS,
 * S the snapshot value, A the snapshot field name when it differs from the option's.
 */
export interface ServerOptionSpec<R = any, RT extends boolean = boolean, D = unknown, DK extends string = string, S = unknown, A extends string = string> {
  /** One line: what the option is for. */
  readonly description: string;
  /** true: `updateConfig()` may change it; false: fixed once the server exists. */
  readonly runtime: RT;
  /** The default, exported in SERVER_DEFAULTS. Absent when there is no plain value to export. */
  readonly default?: D;
  /** The field of SERVER_DEFAULTS holding `default`, when it is not the option's name. */
  readonly defaultsKey?: DK;
  /** How the docs show the default when there is no `default` (markdown). */
  readonly defaultText?: string;
  /**
   * Checks and normalises a value (undefined = not given). Throws TypeError/RangeError
   * naming the option. Absent: the server reads the option itself (it is not kept in the
   * resolved config).
   */
  readonly resolve?: (value: unknown, ctx: ResolveContext<R, D>) => R;
  /** Other resolved fields this option sets, computed from the (valid) given value. */
  readonly alsoSets?: (value: unknown) => Partial<ResolvedExtras>;
  /** How `getConfig()` shows it (under `as` when given); absent: not shown. */
  readonly snapshot?: { readonly as?: A; readonly value: (resolved: R, view: SnapshotView) => S };
}

/** Declares one entry; only here to infer its type parameters. */
function option<R = never, const RT extends boolean = boolean, const D = never, const DK extends string = never, S = never, const A extends string = never>(
  spec: ServerOptionSpec<R, RT, D, DK, S, A>,
): ServerOptionSpec<R, RT, D, DK, S, A> {
  return spec;
}

/** `minInboundRate`: a frame in progress must bring at least `bytesPerSecond` over every `windowMs`. */
export interface InboundRateConfig {
  bytesPerSecond: number;
  windowMs: number;
}

/** `metrics` as given: where the exposition is served, and the bearer token it asks for. */
export interface MetricsOptions {
  /** Default '/metrics'. */
  path?: string;
  /** When set, only requests with `Authorization: Bearer <token>` are answered (others get 401). */
  token?: string;
}

/** `metrics` as resolved (false = off). */
export interface MetricsConfig {
  readonly path: string;
  readonly token: string | null;
}

export const METRICS_PATH = '/metrics';

// ---- checks shared by several entries -----------------------------------------------------

const MiB = 1024 * 1024;

export function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function portNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new RangeError(`${name} must be an integer between 0 and 65535, got ${String(value)}`);
  }
  return value;
}

export function validateRateLimit(name: string, value: unknown): RateLimitConfig {
  const v = value as Partial<RateLimitConfig> | null;
  if (!v || typeof v !== 'object') throw new TypeError(`${name} must be { maxPoints, windowMs }`);
  // Both fields are required: no fallback, so `undefined` is refused like any other non-integer.
  return { maxPoints: positiveInt(`${name}.maxPoints`, v.maxPoints ?? null, 0), windowMs: positiveInt(`${name}.windowMs`, v.windowMs ?? null, 0) };
}

function functionOption<T>(name: string, value: unknown): T | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function`);
  return value as T;
}

function objectOption<T>(name: string, value: unknown, methods: string[]): T | null {
  if (value === undefined || value === null) return null;
  const v = value as Record<string, unknown>;
  for (const m of methods) if (typeof v[m] !== 'function') throw new TypeError(`${name} must implement ${m}()`);
  return value as T;
}

/** A positive integer, changeable at runtime; undefined at runtime keeps the current value. */
function positiveIntOption<const D extends number>(defaultValue: D, description: string) {
  return option({
    description,
    runtime: true,
    default: defaultValue,
    resolve: (value, { name, current, default: d }): number => positiveInt(name, value, current ?? d),
    snapshot: { value: (v) => v },
  });
}

/** An HTTP path or false; undefined = the default. */
function pathOption<const D extends string>(defaultValue: D, description: string) {
  return option({
    description,
    runtime: true,
    default: defaultValue,
    resolve: (value, { name, default: d }): string | false => {
      if (value === undefined) return d;
      if (value === false || value === null) return false;
      if (typeof value !== 'string' || !value.startsWith('/')) throw new TypeError(`${name} must be a path starting with '/' or false`);
      return value;
    },
    snapshot: { value: (v) => v },
  });
}

/**
 * Where a dashboard may go: not on a path the server already uses, and, without a token,
 * only on a server this instance binds to loopback (a server passed in is checked at start,
 * once it listens).
 */
function checkDashboardPlacement(d: DashboardConfig, input: Readonly<Record<string, unknown>>): void {
  const taken: Array<[string, unknown, string]> = [
    ['namespace', input.namespace, '/'],
    ['healthEndpoint', input.healthEndpoint, '/health'],
    ['livenessEndpoint', input.livenessEndpoint, '/livez'],
    ['readinessEndpoint', input.readinessEndpoint, '/readyz'],
  ];
  if (d.path === '/') throw new TypeError("dashboard.path cannot be '/' (it would take every upgrade no endpoint claims)");
  for (const [name, value, fallback] of taken) {
    if ((value ?? fallback) === d.path) throw new TypeError(`dashboard.path ${d.path} is already the ${name}`);
  }
  const host = input.host as string | undefined;
  if (d.token === null && input.server === undefined && !isLoopbackHost(host)) {
    throw exposedDashboardError(host === undefined ? 'listens on every interface (no host option)' : `listens on ${host}`);
  }
}

/** A token that fits an Authorization header as it is: visible ASCII, no spaces. */
const HEADER_TOKEN = /^[\x21-\x7e]{1,1024}$/;

function resolveMetrics(name: string, value: unknown, current: MetricsConfig | false | undefined): MetricsConfig | false {
  if (value === undefined) return current ?? false;
  if (value === false || value === null) return false;
  if (value === true) return { path: METRICS_PATH, token: null };
  if (typeof value !== 'object') throw new TypeError(`${name} must be true, false or { path?, token? }`);
  for (const key of Object.keys(value)) if (key !== 'path' && key !== 'token') throw new TypeError(`${name}.${key} is not an option (path, token)`);
  const v = value as MetricsOptions;
  const path = v.path ?? METRICS_PATH;
  if (typeof path !== 'string' || !/^\/[^?#\s]*$/.test(path)) throw new TypeError(`${name}.path must be a path starting with '/' (no query, no spaces)`);
  if (v.token !== undefined && (typeof v.token !== 'string' || !HEADER_TOKEN.test(v.token))) {
    throw new TypeError(`${name}.token must be 1 to 1024 visible ASCII characters (no spaces)`);
  }
  return { path, token: v.token ?? null };
}

// ---- the table ----------------------------------------------------------------------------

export const SERVER_OPTIONS = {
  port: option({
    description: 'Port of the HTTP/WebSocket server the instance creates (ignored with `server`).',
    runtime: false,
    default: 3000,
    // `port` and `server` are alternatives; with both, the existing server wins.
    resolve: (value, { input, default: d }): number | undefined => (input.server ? undefined : value === undefined ? d : portNumber('port', value)),
    snapshot: { value: (v, view) => view.port ?? v },
  }),
  host: option({
    description: 'Interface the servers it creates bind to.',
    runtime: false,
    defaultText: 'all interfaces',
    resolve: (value): string | undefined => value as string | undefined,
    snapshot: { value: (v) => v },
  }),
  namespace: option({
    description: 'URL path of the WebSocket endpoint.',
    runtime: false,
    default: '/',
    resolve: (value, { default: d }): string => {
      const namespace = value ?? d;
      if (typeof namespace !== 'string' || !namespace.startsWith('/')) throw new TypeError("namespace must start with '/'");
      return namespace;
    },
    snapshot: { value: (v) => v },
  }),
  tcpPort: option({
    description: 'Port of the binary TCP transport; false = no TCP.',
    runtime: false,
    defaultText: 'off',
    resolve: (value): number | false => (value === undefined || value === false || value === null ? false : portNumber('tcpPort', value)),
    snapshot: { value: (v) => v },
  }),
  tls: option({
    description: 'TLS options: the created HTTP server becomes HTTPS, TCP becomes TLS.',
    runtime: false,
    defaultText: 'none',
    resolve: (value): TlsOptions | null => (value as TlsOptions | null | undefined) ?? null,
    snapshot: { value: (v) => v !== null },
  }),
  server: option({
    description: 'An existing http/https server to attach to instead of creating one.',
    runtime: false,
    defaultText: 'none',
    resolve: (value): HttpServer | HttpsServer | undefined => value as HttpServer | HttpsServer | undefined,
    snapshot: { as: 'attachedToServer', value: (v) => v !== undefined },
  }),

  maxConnections: positiveIntOption(10_000, 'Open connections allowed at once (both transports).'),
  maxConnectionsPerIP: positiveIntOption(50, 'Open connections per remote address.'),
  maxRooms: positiveIntOption(10_000, 'Rooms that may exist at once.'),
  maxRoomsPerClient: positiveIntOption(50, 'Rooms one client may be in.'),
  maxPayloadSize: positiveIntOption(10 * MiB, 'Largest accepted packet (bytes), without transport framing; bigger ones are dropped with an Error packet.'),
  maxFrameSize: positiveIntOption(
    10 * MiB,
    'Largest transport message (bytes): a WebSocket payload, or a TCP frame with its prefix; bigger ones close with 1009.',
  ),
  maxInboundBufferedBytes: positiveIntOption(
    256 * MiB,
    'Bytes all connections together may hold for unfinished inbound frames; past it the connection holding the most is closed (1013).',
  ),
  minInboundRate: option({
    description: 'Slowest a frame in progress may arrive, averaged over each window; slower ones close with 4005. false or null turns it off.',
    runtime: true,
    default: { bytesPerSecond: 16 * 1024, windowMs: 10_000 } as InboundRateConfig,
    resolve: (value, { default: d }): InboundRateConfig | null => {
      if (value === undefined) return { ...d };
      if (value === false || value === null) return null;
      const v = value as Partial<InboundRateConfig>;
      if (typeof v !== 'object') throw new TypeError('minInboundRate must be { bytesPerSecond, windowMs } or false');
      return {
        bytesPerSecond: positiveInt('minInboundRate.bytesPerSecond', v.bytesPerSecond ?? null, 0),
        windowMs: positiveInt('minInboundRate.windowMs', v.windowMs ?? null, 0),
      };
    },
    snapshot: { value: (v) => (v ? { ...v } : null) },
  }),
  perMessageDeflate: option({
    description:
      'permessage-deflate (RFC 7692) on the WebSocket transport: true for the defaults, or `{ threshold, level, serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits, concurrency }`.',
    runtime: false,
    default: false,
    // false when off, like its default (the table's defaults resolve to themselves).
    resolve: (value, { name }): ResolvedDeflateOptions | false => resolveDeflateOptions(value, name) ?? false,
    snapshot: { value: (v): ResolvedDeflateOptions | false => (v ? { ...v } : false) },
  }),
  maxEventNameLength: positiveIntOption(256, 'Longest event name in UTF-8 bytes.'),
  maxRoomNameLength: positiveIntOption(256, 'Longest room name in UTF-8 bytes.'),
  maxBufferedBytes: positiveIntOption(8 * MiB, "Cap on one client's outbound buffer; past it the client is disconnected (4006)."),
  maxHandshakePayloadSize: positiveIntOption(64 * 1024, 'Largest packet before a client is accepted (its Connect); bigger ones close with 1009.'),
  maxJsonDepth: positiveIntOption(128, "Deepest nesting of a peer's JSON, checked before parsing; deeper packets are invalid."),
  maxInvalidPackets: positiveIntOption(20, 'Invalid packets one client may send; the next one closes it with 1008.'),

  rateLimit: option({
    description: 'Global token bucket per client; false or null turns it off.',
    runtime: true,
    default: { maxPoints: 100, windowMs: 1000 } as RateLimitConfig,
    resolve: (value, { default: d }): RateLimitConfig | null => {
      if (value === undefined) return { ...d };
      if (value === false || value === null) return null;
      return validateRateLimit('rateLimit', value);
    },
    snapshot: { value: (v) => (v ? { ...v } : null) },
  }),
  eventRateLimits: option({
    description: 'Per-event token buckets, by event name.',
    runtime: true,
    defaultText: '`{}`',
    resolve: (value): Map<string, RateLimitConfig> => {
      const out = new Map<string, RateLimitConfig>();
      if (value === undefined || value === null) return out;
      if (typeof value !== 'object') throw new TypeError('eventRateLimits must be an object of { maxPoints, windowMs }');
      for (const [event, cfg] of Object.entries(value)) out.set(event, validateRateLimit(`eventRateLimits.${event}`, cfg));
      return out;
    },
    snapshot: { value: (v) => [...v.keys()] },
  }),
  pingLimit: option({
    description: 'Pings per client (WebSocket ping frames and Ping packets together) per window; past it Error + close 4008. false or null turns it off.',
    runtime: true,
    default: { maxPoints: 1000, windowMs: 10_000 } as RateLimitConfig,
    resolve: (value, { default: d }): RateLimitConfig | null => {
      if (value === undefined) return { ...d };
      if (value === false || value === null) return null;
      return validateRateLimit('pingLimit', value);
    },
    snapshot: { value: (v) => (v ? { ...v } : null) },
  }),

  byteRateLimit: option({
    description: 'Inbound bytes per client (a token bucket beside the message one); false or null turns it off.',
    runtime: true,
    default: { maxBytes: 64 * MiB, windowMs: 10_000 } as ByteRateLimitConfig,
    resolve: (value, { name, default: d }): ByteRateLimitConfig | null => {
      if (value === undefined) return { ...d };
      if (value === false || value === null) return null;
      const v = value as Partial<ByteRateLimitConfig>;
      if (typeof v !== 'object') throw new TypeError(`${name} must be { maxBytes, windowMs } or false`);
      return { maxBytes: positiveInt(`${name}.maxBytes`, v.maxBytes ?? null, 0), windowMs: positiveInt(`${name}.windowMs`, v.windowMs ?? null, 0) };
    },
    snapshot: { value: (v) => (v ? { ...v } : null) },
  }),
  connectionRateLimit: option({
    description: 'New connections per remote address (token bucket); false or null turns it off.',
    runtime: true,
    default: { maxPoints: 50, windowMs: 10_000 } as RateLimitConfig,
    resolve: (value, { default: d }): RateLimitConfig | null => {
      if (value === undefined) return { ...d };
      if (value === false || value === null) return null;
      return validateRateLimit('connectionRateLimit', value);
    },
    snapshot: { value: (v) => (v ? { ...v } : null) },
  }),
  rateLimitKey: option({
    description: "What rate-limit buckets are keyed by: 'id', 'address' or a function.",
    runtime: false,
    default: 'id' as RateLimitKey,
    resolve: (value, { default: d }): RateLimitKey => {
      if (value === undefined || value === null) return d;
      if (value === 'id' || value === 'address' || typeof value === 'function') return value as RateLimitKey;
      throw new TypeError("rateLimitKey must be 'id', 'address' or a function");
    },
    snapshot: { value: (v) => (typeof v === 'function' ? 'function' : v) },
  }),

  heartbeatInterval: positiveIntOption(30_000, 'How often clients are told to ping (ms).'),
  heartbeatTimeout: positiveIntOption(60_000, 'A client silent this long is closed with 4005 (ms).'),
  connectTimeout: positiveIntOption(10_000, 'Time a new connection has to send Connect and pass middleware (ms).'),
  authRefreshLeadTime: positiveIntOption(
    30_000,
    "How long before a connection's expiry (ctx.setExpiry) the client is asked for fresh credentials, at most half the time left (ms).",
  ),

  ackTimeout: positiveIntOption(5000, "How long server.request() and ctx.request() wait for a client's answer unless told otherwise (ms)."),
  maxOutgoingRequests: positiveIntOption(10_000, 'Requests to clients waiting for an answer on the whole server; past it a request is refused.'),
  maxOutgoingRequestsPerClient: positiveIntOption(100, 'Requests waiting for one client to answer; past it a request to that client is refused.'),
  maxRoomRequests: positiveIntOption(100, 'server.requestRoom() calls waiting for answers at once; past it a call is refused.'),
  maxRoomRequestMembers: positiveIntOption(1000, 'Members asked per server.requestRoom() call; the rest are reported as failed.'),

  healthEndpoint: pathOption('/health', 'Path of the JSON health endpoint; false turns it off.'),
  livenessEndpoint: pathOption('/livez', 'Liveness path; false turns it off.'),
  readinessEndpoint: pathOption('/readyz', 'Readiness path (503 once shutdown starts); false turns it off.'),

  dashboard: option({
    description: 'A live dashboard page (and its channel) on the HTTP port; true or { path, token }. Without a token only on loopback.',
    runtime: false,
    default: false,
    resolve: (value, { input }): DashboardConfig | false => {
      const d = resolveDashboard(value);
      if (d) checkDashboardPlacement(d, input);
      return d;
    },
    // Never the token itself.
    snapshot: { value: (v) => (v ? { path: v.path, hasToken: v.token !== null } : false) },
  }),
  metrics: option({
    description:
      'Prometheus metrics on the HTTP port: true serves them at /metrics, { path, token } moves them or asks for a bearer token; false turns them off.',
    runtime: true,
    default: false,
    resolve: (value, { name, current }): MetricsConfig | false => resolveMetrics(name, value, current),
    snapshot: { value: (v) => (v ? { path: v.path, hasToken: v.token !== null } : (false as const)) },
  }),

  gracefulShutdown: option({
    description: 'Handle SIGINT/SIGTERM with a graceful shutdown.',
    runtime: true,
    default: true,
    resolve: (value, { default: d }): boolean => (value === undefined ? d : Boolean(value)),
    snapshot: { value: (v) => v },
  }),
  shutdownTimeout: positiveIntOption(10_000, 'The whole graceful shutdown fits in this many ms.'),
  allowedOrigins: option({
    description: 'Allowed Origin values for WebSocket upgrades and CORS; null = any.',
    runtime: true,
    defaultText: '`null`',
    resolve: (value): string[] | null => {
      if (value === undefined || value === null) return null;
      if (!Array.isArray(value) || value.some((o) => typeof o !== 'string')) {
        throw new TypeError('allowedOrigins must be an array of strings or null');
      }
      return [...value];
    },
    snapshot: { value: (v) => (v ? [...v] : null) },
  }),

  customRateLimiter: option({
    description: 'Your own limiter in place of the global bucket.',
    runtime: true,
    defaultText: 'none',
    resolve: (value, { name }): IRateLimiter | null => objectOption<IRateLimiter>(name, value, ['check', 'reset', 'cleanup', 'size']),
    snapshot: { as: 'hasCustomRateLimiter', value: (v) => v !== null },
  }),
  customIPTracker: option({
    description: 'Your own per-IP policy in place of maxConnectionsPerIP.',
    runtime: true,
    defaultText: 'none',
    resolve: (value, { name }): IIPTracker | null => objectOption<IIPTracker>(name, value, ['check', 'add', 'remove', 'getCount', 'cleanup']),
    snapshot: { as: 'hasCustomIPTracker', value: (v) => v !== null },
  }),
  customHealthHandler: option({
    description: 'Answers the health path instead of the built-in JSON.',
    runtime: true,
    defaultText: 'none',
    resolve: (value, { name }): CustomHealthHandler | null => functionOption<CustomHealthHandler>(name, value),
    snapshot: { as: 'hasCustomHealthHandler', value: (v) => v !== null },
  }),
  healthAuth: option({
    description: 'Decides who may read the health path (false = 401); liveness and readiness stay open.',
    runtime: true,
    defaultText: 'none',
    resolve: (value, { name }): HealthAuth | null => functionOption<HealthAuth>(name, value),
    snapshot: { as: 'hasHealthAuth', value: (v) => v !== null },
  }),
  generateClientId: option({
    description: 'Makes client ids.',
    runtime: true,
    defaultText: '`crypto.randomUUID`',
    resolve: (value, { name }): (() => string) => functionOption<() => string>(name, value) ?? randomUUID,
    alsoSets: (value) => ({ hasCustomClientId: value !== undefined && value !== null }),
    snapshot: { as: 'hasCustomClientId', value: (_v, view) => view.hasCustomClientId },
  }),
  hooks: option({
    description: 'Notifications and vetoes; merged at runtime, null removes one.',
    runtime: true,
    defaultText: '`{}`',
    resolve: (value, { current }): ServerHooks => {
      const base = current ?? {};
      if (value === undefined || value === null) return { ...base };
      if (typeof value !== 'object') throw new TypeError('hooks must be an object of functions');
      const out: ServerHooks = { ...base };
      for (const [name, fn] of Object.entries(value)) {
        // null/undefined removes a hook at runtime.
        if (fn === undefined || fn === null) delete out[name as HookName];
        else if (typeof fn !== 'function') throw new TypeError(`hooks.${name} must be a function`);
        else (out as Record<string, unknown>)[name] = fn;
      }
      return out;
    },
    snapshot: { value: (v) => Object.keys(v) as HookName[] },
  }),
  logger: option({
    description: 'Level name, a logger object, or false.',
    runtime: true,
    default: 'info',
    defaultsKey: 'logLevel',
    resolve: (value, { name, default: d }): LoggerLike => createLogger(checkLoggerOption(value, name), d, '[stelar]'),
  }),
  adapter: option({
    description: 'Where rooms live and how broadcasts fan out.',
    runtime: false,
    defaultText: 'in-memory',
    // No resolve: the server builds its adapter from the raw option.
  }),
  recovery: option({
    description: 'Connection-state recovery; true = defaults, an object to tune it.',
    runtime: false,
    defaultText: 'off',
    resolve: (value): RecoveryOptions | null => {
      if (value === undefined || value === null || value === false) return null;
      if (value === true) return { ...RECOVERY_DEFAULTS };
      if (typeof value !== 'object') throw new TypeError('recovery must be { maxDisconnectionDuration, maxMessages? }, true or false');
      const v = value as Partial<RecoveryOptions>;
      return {
        maxDisconnectionDuration: positiveInt('recovery.maxDisconnectionDuration', v.maxDisconnectionDuration, RECOVERY_DEFAULTS.maxDisconnectionDuration),
        maxMessages: positiveInt('recovery.maxMessages', v.maxMessages, RECOVERY_DEFAULTS.maxMessages),
      };
    },
  }),
  presence: option({
    description: 'Who is in a room, for clients too, and join/leave notifications; true or { fields, notify, maxMembers }.',
    runtime: true,
    default: false,
    resolve: (value): PresenceConfig | false => resolvePresence(value),
    snapshot: { value: (v) => describePresence(v) },
  }),
} as const;

// ---- types derived from the table ---------------------------------------------------------

export type ServerOptionTable = typeof SERVER_OPTIONS;
export type ServerOptionName = keyof ServerOptionTable;

// Every position is inferred (`any` would not match a `never` default in `resolve`'s context).
type Parts<P> =
  P extends ServerOptionSpec<infer R, infer RT, infer D, infer DK, infer S, infer A>
    ? { resolved: R; runtime: RT; default: D; defaultsKey: DK; snapshot: S; snapshotAs: A }
    : never;
type RuntimeOf<P> = Parts<P>['runtime'];
type ResolvedOf<P> = Parts<P>['resolved'];

/** Options `updateConfig()` accepts. */
export type RuntimeOptionName = { [K in ServerOptionName]: RuntimeOf<ServerOptionTable[K]> extends true ? K : never }[ServerOptionName];
/** Options fixed once the server exists. */
export type FixedOptionName = Exclude<ServerOptionName, RuntimeOptionName>;
/** Options kept in the resolved config (all but those the server reads raw, e.g. `adapter`). */
type KeptOptionName = { [K in ServerOptionName]: [ResolvedOf<ServerOptionTable[K]>] extends [never] ? never : K }[ServerOptionName];

/** The resolved config as the table declares it: fixed options readonly, runtime ones not. */
export type ResolvedFromTable = {
  readonly [K in Exclude<KeptOptionName, RuntimeOptionName>]: ResolvedOf<ServerOptionTable[K]>;
} & {
  -readonly [K in KeptOptionName & RuntimeOptionName]: ResolvedOf<ServerOptionTable[K]>;
};

type SnapshotKey<K, P> = [Parts<P>['snapshot']] extends [never] ? never : [Parts<P>['snapshotAs']] extends [never] ? K : Parts<P>['snapshotAs'];
type SnapshotOf<P> = Parts<P>['snapshot'];
/** The `getConfig()` fields the table declares (the snapshot adds `clientRateLimits`). */
export type SnapshotFromTable = { [K in ServerOptionName as SnapshotKey<K, ServerOptionTable[K]>]: SnapshotOf<ServerOptionTable[K]> };

type DefaultKey<K, P> = [Parts<P>['default']] extends [never] ? never : [Parts<P>['defaultsKey']] extends [never] ? K : Parts<P>['defaultsKey'];
type DefaultOf<P> = Parts<P>['default'];
/** SERVER_DEFAULTS: every entry with a `default`, under its name (or `defaultsKey`). */
export type ServerDefaults = { readonly [K in ServerOptionName as DefaultKey<K, ServerOptionTable[K]>]: DefaultOf<ServerOptionTable[K]> };

// ---- compile-time checks ------------------------------------------------------------------

// (The key check against `ServerOptions` is in options.ts, which sees both.)
export type SameKeys<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : { onlyLeft: Exclude<A, B>; onlyRight: Exclude<B, A> };
export type Assert<T extends true> = T;
