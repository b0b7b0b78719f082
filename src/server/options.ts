/**
 * Every server default and every option check, in one place. The constructor and
 * `updateConfig()` both go through here, so a value is validated the same way whenever
 * it arrives. Components read the resolved config at use time, which is what makes most
 * options live-updatable without any extra wiring.
 */
import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import { createLogger, type LoggerLike, type LoggerOption } from '../logger.js';
import { RECOVERY_DEFAULTS, type RecoveryOptions } from './recovery.js';
import type {
  ConfigSnapshot,
  ServerLimits,
  CustomHealthHandler,
  HookName,
  IIPTracker,
  IRateLimiter,
  RateLimitConfig,
  RuntimeConfig,
  ServerHooks,
  ServerOptions,
} from './types.js';

const MiB = 1024 * 1024;

export const DEFAULTS = {
  port: 3000,
  namespace: '/',
  maxConnections: 10_000,
  maxConnectionsPerIP: 50,
  maxRooms: 10_000,
  maxRoomsPerClient: 50,
  maxPayloadSize: 10 * MiB,
  maxFrameSize: 10 * MiB,
  maxEventNameLength: 256,
  maxRoomNameLength: 256,
  maxBufferedBytes: 8 * MiB,
  rateLimit: { maxPoints: 100, windowMs: 1000 } as RateLimitConfig,
  heartbeatInterval: 30_000,
  heartbeatTimeout: 60_000,
  connectTimeout: 10_000,
  healthEndpoint: '/health',
  livenessEndpoint: '/livez',
  readinessEndpoint: '/readyz',
  gracefulShutdown: true,
  shutdownTimeout: 10_000,
  logLevel: 'info',
} as const;

/** The resolved, validated configuration. Mutable only through `applyRuntimeConfig`. */
export interface ResolvedConfig extends ServerLimits {
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly server: HttpServer | HttpsServer | undefined;
  readonly namespace: string;
  readonly tcpPort: number | false;
  readonly tls: TlsOptions | null;
  rateLimit: RateLimitConfig | null;
  eventRateLimits: Map<string, RateLimitConfig>;
  customRateLimiter: IRateLimiter | null;
  customIPTracker: IIPTracker | null;
  generateClientId: () => string;
  hasCustomClientId: boolean;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  connectTimeout: number;
  healthEndpoint: string | false;
  livenessEndpoint: string | false;
  readinessEndpoint: string | false;
  customHealthHandler: CustomHealthHandler | null;
  gracefulShutdown: boolean;
  shutdownTimeout: number;
  allowedOrigins: string[] | null;
  logger: LoggerLike;
  hooks: ServerHooks;
  /** Connection-state recovery; null = off. Fixed once the server exists. */
  readonly recovery: RecoveryOptions | null;
}

function positiveInt(name: string, value: unknown, fallback: number): number {
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

function rateLimitOption(value: unknown): RateLimitConfig | null {
  if (value === undefined) return { ...DEFAULTS.rateLimit };
  if (value === false || value === null) return null;
  return validateRateLimit('rateLimit', value);
}

function eventRateLimitsOption(value: unknown): Map<string, RateLimitConfig> {
  const out = new Map<string, RateLimitConfig>();
  if (value === undefined || value === null) return out;
  if (typeof value !== 'object') throw new TypeError('eventRateLimits must be an object of { maxPoints, windowMs }');
  for (const [event, cfg] of Object.entries(value)) out.set(event, validateRateLimit(`eventRateLimits.${event}`, cfg));
  return out;
}

function pathOption(name: string, value: unknown, fallback: string | false): string | false {
  if (value === undefined) return fallback;
  if (value === false || value === null) return false;
  if (typeof value !== 'string' || !value.startsWith('/')) throw new TypeError(`${name} must be a path starting with '/' or false`);
  return value;
}

function originsOption(value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.some((o) => typeof o !== 'string')) {
    throw new TypeError('allowedOrigins must be an array of strings or null');
  }
  return [...value];
}

function hooksOption(value: unknown, base: ServerHooks = {}): ServerHooks {
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
}

function loggerOption(value: unknown): LoggerLike {
  return createLogger(value as LoggerOption, DEFAULTS.logLevel, '[stelar]');
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

function recoveryOption(value: unknown): RecoveryOptions | null {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return { ...RECOVERY_DEFAULTS };
  if (typeof value !== 'object') throw new TypeError('recovery must be { maxDisconnectionDuration, maxMessages? }, true or false');
  const v = value as Partial<RecoveryOptions>;
  return {
    maxDisconnectionDuration: positiveInt('recovery.maxDisconnectionDuration', v.maxDisconnectionDuration, RECOVERY_DEFAULTS.maxDisconnectionDuration),
    maxMessages: positiveInt('recovery.maxMessages', v.maxMessages, RECOVERY_DEFAULTS.maxMessages),
  };
}

const RATE_LIMITER_METHODS = ['check', 'reset', 'cleanup', 'size'];
const IP_TRACKER_METHODS = ['check', 'add', 'remove', 'getCount', 'cleanup'];

export function resolveOptions(options: ServerOptions = {}): ResolvedConfig {
  const namespace = options.namespace ?? DEFAULTS.namespace;
  if (typeof namespace !== 'string' || !namespace.startsWith('/')) throw new TypeError("namespace must start with '/'");
  const tcpPort = options.tcpPort === undefined || options.tcpPort === false || options.tcpPort === null
    ? false
    : portNumber('tcpPort', options.tcpPort);
  const generateClientId = functionOption<() => string>('generateClientId', options.generateClientId);
  const config: ResolvedConfig = {
    // `port` and `server` are alternatives; with both, the existing server wins.
    port: options.server ? undefined : options.port === undefined ? DEFAULTS.port : portNumber('port', options.port),
    host: options.host,
    server: options.server,
    namespace,
    tcpPort,
    tls: options.tls ?? null,
    maxConnections: DEFAULTS.maxConnections,
    maxConnectionsPerIP: DEFAULTS.maxConnectionsPerIP,
    maxRooms: DEFAULTS.maxRooms,
    maxRoomsPerClient: DEFAULTS.maxRoomsPerClient,
    maxPayloadSize: DEFAULTS.maxPayloadSize,
    maxFrameSize: DEFAULTS.maxFrameSize,
    maxEventNameLength: DEFAULTS.maxEventNameLength,
    maxRoomNameLength: DEFAULTS.maxRoomNameLength,
    maxBufferedBytes: DEFAULTS.maxBufferedBytes,
    rateLimit: rateLimitOption(options.rateLimit),
    eventRateLimits: eventRateLimitsOption(options.eventRateLimits),
    customRateLimiter: null,
    customIPTracker: null,
    generateClientId: generateClientId ?? randomUUID,
    hasCustomClientId: generateClientId !== null,
    heartbeatInterval: DEFAULTS.heartbeatInterval,
    heartbeatTimeout: DEFAULTS.heartbeatTimeout,
    connectTimeout: DEFAULTS.connectTimeout,
    healthEndpoint: DEFAULTS.healthEndpoint,
    livenessEndpoint: DEFAULTS.livenessEndpoint,
    readinessEndpoint: DEFAULTS.readinessEndpoint,
    customHealthHandler: null,
    gracefulShutdown: DEFAULTS.gracefulShutdown,
    shutdownTimeout: DEFAULTS.shutdownTimeout,
    allowedOrigins: null,
    logger: loggerOption(options.logger),
    hooks: {},
    recovery: recoveryOption(options.recovery),
  };
  // Everything that can also change at runtime goes through the same code path.
  const { rateLimit: _r, eventRateLimits: _e, logger: _l, generateClientId: _g, ...runtime } = options;
  applyRuntimeConfig(config, pickRuntime(runtime));
  return config;
}

const FIXED_KEYS = new Set(['port', 'host', 'server', 'namespace', 'tcpPort', 'tls', 'adapter', 'recovery']);

function pickRuntime(options: ServerOptions): RuntimeConfig {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!FIXED_KEYS.has(k)) out[k] = v;
  return out as RuntimeConfig;
}

/**
 * Applies a runtime patch in place and returns the keys that changed, so the server can
 * re-time the sweep or resize limiters. Validates everything before changing anything.
 */
export function applyRuntimeConfig(config: ResolvedConfig, patch: RuntimeConfig): Set<keyof RuntimeConfig> {
  if (!patch || typeof patch !== 'object') throw new TypeError('updateConfig expects an object');
  const next: Partial<ResolvedConfig> = {};
  const changed = new Set<keyof RuntimeConfig>();
  for (const key of Object.keys(patch) as (keyof RuntimeConfig)[]) {
    if (FIXED_KEYS.has(key)) throw new TypeError(`${key} cannot be changed at runtime (restart the server)`);
    const value = patch[key] as unknown;
    changed.add(key);
    switch (key) {
      case 'maxConnections':
      case 'maxConnectionsPerIP':
      case 'maxRooms':
      case 'maxRoomsPerClient':
      case 'maxPayloadSize':
      case 'maxFrameSize':
      case 'maxEventNameLength':
      case 'maxRoomNameLength':
      case 'maxBufferedBytes':
      case 'heartbeatInterval':
      case 'heartbeatTimeout':
      case 'connectTimeout':
      case 'shutdownTimeout':
        next[key] = positiveInt(key, value, config[key]);
        break;
      case 'rateLimit':
        next.rateLimit = rateLimitOption(value);
        break;
      case 'eventRateLimits':
        next.eventRateLimits = eventRateLimitsOption(value);
        break;
      case 'customRateLimiter':
        next.customRateLimiter = objectOption<IRateLimiter>(key, value, RATE_LIMITER_METHODS);
        break;
      case 'customIPTracker':
        next.customIPTracker = objectOption<IIPTracker>(key, value, IP_TRACKER_METHODS);
        break;
      case 'generateClientId': {
        const fn = functionOption<() => string>(key, value);
        next.generateClientId = fn ?? randomUUID;
        next.hasCustomClientId = fn !== null;
        break;
      }
      case 'healthEndpoint':
      case 'livenessEndpoint':
      case 'readinessEndpoint':
        next[key] = pathOption(key, value, DEFAULTS[key]);
        break;
      case 'customHealthHandler':
        next.customHealthHandler = functionOption<NonNullable<ResolvedConfig['customHealthHandler']>>(key, value);
        break;
      case 'gracefulShutdown':
        next.gracefulShutdown = value === undefined ? DEFAULTS.gracefulShutdown : Boolean(value);
        break;
      case 'allowedOrigins':
        next.allowedOrigins = originsOption(value);
        break;
      case 'logger':
        next.logger = loggerOption(value);
        break;
      case 'hooks':
        next.hooks = hooksOption(value, config.hooks);
        break;
      default:
        throw new TypeError(`unknown option ${String(key)}`);
    }
  }
  Object.assign(config, next);
  return changed;
}

/** The public view of the config: values, plus flags/names for functions and components. */
export function describeConfig(config: ResolvedConfig, clientRateLimits: number, port: number | undefined): ConfigSnapshot {
  return {
    port: port ?? config.port,
    host: config.host,
    namespace: config.namespace,
    tcpPort: config.tcpPort,
    tls: config.tls !== null,
    attachedToServer: config.server !== undefined,
    maxConnections: config.maxConnections,
    maxConnectionsPerIP: config.maxConnectionsPerIP,
    maxRooms: config.maxRooms,
    maxRoomsPerClient: config.maxRoomsPerClient,
    maxPayloadSize: config.maxPayloadSize,
    maxFrameSize: config.maxFrameSize,
    maxEventNameLength: config.maxEventNameLength,
    maxRoomNameLength: config.maxRoomNameLength,
    maxBufferedBytes: config.maxBufferedBytes,
    rateLimit: config.rateLimit ? { ...config.rateLimit } : null,
    eventRateLimits: [...config.eventRateLimits.keys()],
    clientRateLimits,
    heartbeatInterval: config.heartbeatInterval,
    heartbeatTimeout: config.heartbeatTimeout,
    connectTimeout: config.connectTimeout,
    healthEndpoint: config.healthEndpoint,
    livenessEndpoint: config.livenessEndpoint,
    readinessEndpoint: config.readinessEndpoint,
    gracefulShutdown: config.gracefulShutdown,
    shutdownTimeout: config.shutdownTimeout,
    allowedOrigins: config.allowedOrigins ? [...config.allowedOrigins] : null,
    hasCustomRateLimiter: config.customRateLimiter !== null,
    hasCustomIPTracker: config.customIPTracker !== null,
    hasCustomHealthHandler: config.customHealthHandler !== null,
    hasCustomClientId: config.hasCustomClientId,
    hooks: Object.keys(config.hooks) as HookName[],
  };
}
