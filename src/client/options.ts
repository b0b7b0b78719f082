/**
 * Client options: the defaults, the checks, and the merge used by `updateOptions`, in one
 * place so the constructor and runtime updates can never disagree.
 * Bad values throw at once (TypeError / RangeError naming the option): a typo in a timeout
 * should fail at startup, not show up as odd behaviour an hour later.
 */
import type { LoggerOption } from '../logger.js';
import type { StelarError } from '../protocol/index.js';
import type { CustomReconnectDelay } from './backoff.js';
import type { ClientMode } from './url.js';

export type ClientState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting';

/** Where an error reported to `onError` came from. */
export type ErrorContext =
  | 'transport' // the socket / WebSocket failed or could not open
  | 'protocol' // the server sent bytes we cannot decode
  | 'server' // an Error packet from the server
  | 'connect' // the session handshake failed (timeout, auth callback)
  | 'heartbeat' // the server went silent
  | 'emit' // a message could not be sent (too large, cancelled request...)
  | 'queue' // the offline queue dropped its oldest message
  | 'ack' // a request failed or timed out
  | 'handler' // one of the application's listeners threw
  | 'hook'; // one of the application's hooks threw

export interface MessageInfo {
  event: string;
  data: unknown;
  isBinary: boolean;
}

export interface QueuedInfo {
  event: string;
  /** Entries in the queue after this one was added. */
  queueSize: number;
  /** Events of the oldest messages dropped to make room (empty when nothing was dropped). */
  dropped: string[];
}

export interface ClientHooks {
  /** Before a message is sent or queued. Return `false` to cancel it. */
  onBeforeEmit?: (info: MessageInfo) => boolean | void | undefined;
  /** Every event message (JSON or binary) received from the server. */
  onMessage?: (info: MessageInfo) => void;
  onStateChange?: (info: { from: ClientState; to: ClientState }) => void;
  /** Return a number (ms) to replace the computed reconnection delay. */
  onReconnectDelay?: (info: { attempt: number; defaultDelay: number }) => number | void | undefined;
  onMessageQueued?: (info: QueuedInfo) => void;
  /** After a (re)connection sent the queued messages. */
  onQueueDrained?: (info: { count: number }) => void;
  onError?: (info: { error: Error | StelarError; context: ErrorContext }) => void;
}

export interface ClientTlsOptions {
  /** Trusted CA certificate(s) in PEM, e.g. a self-signed server certificate (Node). */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  /** SNI / certificate name, when it differs from the host (Node). */
  servername?: string;
}

/** Value sent as `auth` in the Connect packet; a function is called on every (re)connection. */
export type AuthOption = unknown | (() => unknown | Promise<unknown>);

export interface StelarClientOptions {
  /** Reconnect after an unexpected close. Default true. */
  reconnection?: boolean;
  /** Attempts before giving up (`reconnect_failed`). Default 10; Infinity = forever. */
  reconnectionAttempts?: number;
  /** Base of the exponential backoff (ms). Default 1000. */
  reconnectionDelay?: number;
  /** Cap of the backoff (ms). Default 30000. */
  maxReconnectionDelay?: number;
  /** Ping interval (ms). When not set, the server's value from its Connect packet is used. Default 30000. */
  heartbeatInterval?: number;
  /** 'ws' (default) or 'tcp' (Node only). */
  mode?: ClientMode;
  /** Largest packet this client sends (bytes). Default 10 MiB; the smaller server limit from Connect applies too. */
  maxPayloadSize?: number;
  /** Largest frame / message accepted from the server (bytes). Default 10 MiB. */
  maxFrameSize?: number;
  /** How long `request()` and `emit(..., { ack })` wait for the answer (ms). Default 5000. */
  ackTimeout?: number;
  /** Messages kept while offline; the oldest is dropped when full. Default 100; 0 = no queue. */
  messageQueueSize?: number;
  /** Time allowed from the start of an attempt to the server's Connect answer (ms). Default 10000. */
  connectTimeout?: number;
  /** TLS for wss:// or TCP; an object also carries `ca` / `servername`. Default false. */
  tls?: boolean | ClientTlsOptions;
  /** Check the server certificate (Node). Default true. */
  rejectUnauthorized?: boolean;
  /** Extra headers for the WebSocket handshake (Node only; browsers do not allow them). */
  headers?: Record<string, string>;
  /** Sent to the server in the Connect packet (`ctx.auth` / middleware). */
  auth?: AuthOption;
  /** Level name, a logger object, or false. Default 'warn'. */
  logger?: LoggerOption;
  hooks?: ClientHooks;
  /** Replaces the default backoff: `(attempt, baseDelay, maxDelay) => ms`. */
  customReconnectDelay?: CustomReconnectDelay;
  /**
   * Connection-state recovery (the server needs `recovery` on too): after a drop, the client
   * asks to resume its session; when the server agrees it keeps its id, rooms and metadata and
   * receives the messages it missed (`connect` says `{ recovered: true }`), otherwise it gets
   * a new session and a `recovery_failed` event. Default false.
   */
  recovery?: boolean;
}

export interface ResolvedClientOptions {
  reconnection: boolean;
  reconnectionAttempts: number;
  reconnectionDelay: number;
  maxReconnectionDelay: number;
  heartbeatInterval: number;
  mode: ClientMode;
  maxPayloadSize: number;
  maxFrameSize: number;
  ackTimeout: number;
  messageQueueSize: number;
  connectTimeout: number;
  tls: boolean | ClientTlsOptions;
  rejectUnauthorized: boolean;
  headers: Record<string, string>;
  auth: AuthOption;
  logger: LoggerOption;
  hooks: ClientHooks;
  customReconnectDelay: CustomReconnectDelay | undefined;
  recovery: boolean;
}

const MIB = 1024 * 1024;

export const CLIENT_DEFAULTS: Readonly<ResolvedClientOptions> = Object.freeze({
  reconnection: true,
  reconnectionAttempts: 10,
  reconnectionDelay: 1000,
  maxReconnectionDelay: 30_000,
  heartbeatInterval: 30_000,
  mode: 'ws',
  maxPayloadSize: 10 * MIB,
  maxFrameSize: 10 * MIB,
  ackTimeout: 5000,
  messageQueueSize: 100,
  connectTimeout: 10_000,
  tls: false,
  rejectUnauthorized: true,
  headers: {},
  auth: undefined,
  logger: 'warn',
  hooks: {},
  customReconnectDelay: undefined,
  recovery: false,
} as ResolvedClientOptions);

const HOOK_NAMES = [
  'onBeforeEmit',
  'onMessage',
  'onStateChange',
  'onReconnectDelay',
  'onMessageQueued',
  'onQueueDrained',
  'onError',
] as const;

function positive(name: string, value: unknown, { allowZero = false, allowInfinity = false } = {}): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`option ${name} must be a number`);
  if (value === Infinity && allowInfinity) return value;
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    throw new RangeError(`option ${name} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${value}`);
  }
  return value;
}

function bool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`option ${name} must be true or false`);
  return value;
}

function hooksOf(value: unknown): ClientHooks {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw new TypeError('option hooks must be an object of functions');
  const out: ClientHooks = {};
  for (const [key, fn] of Object.entries(value)) {
    if (!(HOOK_NAMES as readonly string[]).includes(key)) throw new TypeError(`unknown client hook "${key}" (known: ${HOOK_NAMES.join(', ')})`);
    if (fn === undefined || fn === null) continue; // `{ onX: undefined }` in updateOptions removes a hook
    if (typeof fn !== 'function') throw new TypeError(`hook ${key} must be a function`);
    (out as Record<string, unknown>)[key] = fn;
  }
  return out;
}

function headersOf(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw new TypeError('option headers must be an object of strings');
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw new TypeError(`header ${key} must be a string`);
    out[key] = String(v);
  }
  return out;
}

function tlsOf(value: unknown): boolean | ClientTlsOptions {
  if (value === undefined || value === null || value === false) return false;
  if (value === true) return true;
  if (typeof value === 'object') return { ...(value as ClientTlsOptions) };
  throw new TypeError('option tls must be a boolean or { ca?, servername? }');
}

/** Defaults + checks. `base` is the current set when updating at runtime. */
export function resolveOptions(input: StelarClientOptions = {}, base: ResolvedClientOptions = CLIENT_DEFAULTS): ResolvedClientOptions {
  if (input === null || typeof input !== 'object') throw new TypeError('client options must be an object');
  const pick = <K extends keyof ResolvedClientOptions>(key: K): ResolvedClientOptions[K] | unknown =>
    input[key as keyof StelarClientOptions] === undefined ? base[key] : input[key as keyof StelarClientOptions];
  const mode = pick('mode');
  if (mode !== 'ws' && mode !== 'tcp') throw new TypeError(`option mode must be 'ws' or 'tcp', got ${String(mode)}`);
  const custom = pick('customReconnectDelay');
  if (custom !== undefined && typeof custom !== 'function') throw new TypeError('option customReconnectDelay must be a function');
  const resolved: ResolvedClientOptions = {
    reconnection: bool('reconnection', pick('reconnection')),
    reconnectionAttempts: positive('reconnectionAttempts', pick('reconnectionAttempts'), { allowZero: true, allowInfinity: true }),
    reconnectionDelay: positive('reconnectionDelay', pick('reconnectionDelay'), { allowZero: true }),
    maxReconnectionDelay: positive('maxReconnectionDelay', pick('maxReconnectionDelay'), { allowZero: true }),
    heartbeatInterval: positive('heartbeatInterval', pick('heartbeatInterval'), { allowZero: true }),
    mode,
    maxPayloadSize: positive('maxPayloadSize', pick('maxPayloadSize')),
    maxFrameSize: positive('maxFrameSize', pick('maxFrameSize')),
    ackTimeout: positive('ackTimeout', pick('ackTimeout')),
    messageQueueSize: Math.floor(positive('messageQueueSize', pick('messageQueueSize'), { allowZero: true })),
    connectTimeout: positive('connectTimeout', pick('connectTimeout')),
    tls: tlsOf(pick('tls')),
    rejectUnauthorized: bool('rejectUnauthorized', pick('rejectUnauthorized')),
    headers: input.headers === undefined ? { ...base.headers } : headersOf(input.headers),
    auth: 'auth' in input ? input.auth : base.auth,
    logger: pick('logger') as LoggerOption,
    // Runtime updates merge hooks: passing one hook does not remove the others.
    hooks: input.hooks === undefined ? { ...base.hooks } : hooksOf({ ...base.hooks, ...input.hooks }),
    customReconnectDelay: custom as CustomReconnectDelay | undefined,
    recovery: bool('recovery', pick('recovery')),
  };
  if (resolved.maxReconnectionDelay < resolved.reconnectionDelay) resolved.maxReconnectionDelay = resolved.reconnectionDelay;
  return resolved;
}

/** A copy safe to hand out: changing it does not change the client. */
export function copyOptions(options: ResolvedClientOptions): ResolvedClientOptions {
  return {
    ...options,
    tls: typeof options.tls === 'object' ? { ...options.tls } : options.tls,
    headers: { ...options.headers },
    hooks: { ...options.hooks },
  };
}
