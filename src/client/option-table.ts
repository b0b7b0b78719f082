/**
 * Every client option, declared once: its default, how a given value is checked and
 * normalised, whether `updateOptions()` may change it, how `getOptions()` copies it, and one
 * line saying what it is for. `options.ts` derives CLIENT_DEFAULTS, `resolveOptions`
 * (constructor and `updateOptions()` alike), `copyOptions` and `ResolvedClientOptions` from
 * it, and test/docs/options-table.test.mjs holds docs/API.md to it. Adding an option means
 * adding one entry here and its documented field in `StelarClientOptions` (option-types.ts;
 * the compile-time check in options.ts fails otherwise).
 *
 * Order matters in one place: an entry's `resolve` sees the options resolved before it
 * (`maxReconnectionDelay` is raised to `reconnectionDelay`).
 */
import { checkLoggerOption, type LoggerOption } from '../logger.js';
import type { CustomReconnectDelay } from './backoff.js';
import type { AuthOption, ClientHooks, ClientTlsOptions } from './option-types.js';
import type { ClientMode } from './url.js';

// ---- the shape of one entry --------------------------------------------------------------

/** What `resolve` gets besides the value. */
export interface ClientResolveContext<R> {
  /** The option's name, for error messages. */
  readonly name: string;
  /** The value in force: the default in the constructor, the live value in `updateOptions()`. */
  readonly current: R;
  /** The whole options object or patch. */
  readonly input: Readonly<Record<string, unknown>>;
  /** The options resolved so far (the entries above this one). */
  readonly resolved: Readonly<Record<string, unknown>>;
}

/** One option. R (the resolved value) and RT (the runtime flag) are inferred. */
export interface ClientOptionSpec<R = any, RT extends boolean = boolean> {
  /** One line: what the option is for. */
  readonly description: string;
  /** true: `updateOptions()` may change it; false: fixed once the client exists. */
  readonly runtime: RT;
  /** The default, exported in CLIENT_DEFAULTS (R is inferred from `resolve`, not from it). */
  readonly default: NoInfer<R>;
  /** Checks and normalises a value (undefined = not given). Throws TypeError/RangeError naming the option. */
  readonly resolve: (value: unknown, ctx: ClientResolveContext<R>) => R;
  /** How `getOptions()` copies it, when the value is a mutable object. */
  readonly copy?: (value: R) => R;
}

function option<R, const RT extends boolean>(spec: ClientOptionSpec<R, RT>): ClientOptionSpec<R, RT> {
  return spec;
}

// ---- checks shared by several entries -----------------------------------------------------

const MIB = 1024 * 1024;

export const HOOK_NAMES = ['onBeforeEmit', 'onMessage', 'onStateChange', 'onReconnectDelay', 'onMessageQueued', 'onQueueDrained', 'onError'] as const;

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

/** The given value, or the one in force when it is undefined. */
const given = <R>(value: unknown, current: R): unknown => (value === undefined ? current : value);

/** A boolean; undefined keeps the value in force. */
function boolOption(defaultValue: boolean, description: string) {
  return option({
    description,
    runtime: true,
    default: defaultValue,
    resolve: (value, { name, current }): boolean => bool(name, given(value, current)),
  });
}

/** A number > 0 (or >= 0); undefined keeps the value in force. */
function numberOption(defaultValue: number, description: string, rules: { allowZero?: boolean; allowInfinity?: boolean } = {}) {
  return option({
    description,
    runtime: true,
    default: defaultValue,
    resolve: (value, { name, current }): number => positive(name, given(value, current), rules),
  });
}

// ---- the table ----------------------------------------------------------------------------

export const CLIENT_OPTIONS = {
  reconnection: boolOption(true, 'Reconnect after an unexpected close.'),
  reconnectionAttempts: numberOption(10, 'Attempts before giving up (`reconnect_failed`); Infinity = forever.', { allowZero: true, allowInfinity: true }),
  reconnectionDelay: numberOption(1000, 'Base of the exponential backoff (ms).', { allowZero: true }),
  maxReconnectionDelay: option({
    description: 'Cap of the backoff (ms); never below reconnectionDelay.',
    runtime: true,
    default: 30_000,
    resolve: (value, { name, current, resolved }): number => {
      const max = positive(name, given(value, current), { allowZero: true });
      const base = resolved.reconnectionDelay as number;
      return Math.max(max, base);
    },
  }),
  heartbeatInterval: numberOption(30_000, "Ping interval (ms); unless set, the server's value is used.", { allowZero: true }),
  mode: option({
    description: "'ws' or 'tcp' (Node only).",
    runtime: true,
    default: 'ws',
    resolve: (value, { current }): ClientMode => {
      const mode = given(value, current);
      if (mode !== 'ws' && mode !== 'tcp') throw new TypeError(`option mode must be 'ws' or 'tcp', got ${String(mode)}`);
      return mode;
    },
  }),
  maxPayloadSize: numberOption(10 * MIB, 'Largest packet this client sends (bytes).'),
  maxFrameSize: numberOption(10 * MIB, 'Largest frame accepted from the server (bytes).'),
  ackTimeout: numberOption(5000, 'How long a request waits for its answer (ms).'),
  messageQueueSize: option({
    description: 'Messages kept while offline; 0 = no queue.',
    runtime: true,
    default: 100,
    resolve: (value, { name, current }): number => Math.floor(positive(name, given(value, current), { allowZero: true })),
  }),
  connectTimeout: numberOption(10_000, "Time from the start of an attempt to the server's Connect answer (ms)."),
  tls: option({
    description: 'TLS for wss:// or TCP; an object also carries ca / servername.',
    runtime: true,
    default: false,
    resolve: (value, { current }): boolean | ClientTlsOptions => tlsOf(given(value, current)),
    copy: (v) => (typeof v === 'object' ? { ...v } : v),
  }),
  rejectUnauthorized: boolOption(true, 'Check the server certificate (Node).'),
  perMessageDeflate: boolOption(true, 'Offer permessage-deflate compression on WebSocket (Node; browsers always offer it); the server decides.'),
  headers: option({
    description: 'Extra WebSocket handshake headers (Node only).',
    runtime: true,
    default: {},
    resolve: (value, { current }): Record<string, string> => (value === undefined ? { ...current } : headersOf(value)),
    copy: (v) => ({ ...v }),
  }),
  auth: option({
    description: 'Sent in the Connect packet; a function is called on every attempt, and when the server asks for fresh credentials.',
    runtime: true,
    default: undefined,
    // `'auth' in input`: an explicit `auth: undefined` clears it.
    resolve: (value, { name, current, input }): AuthOption => (name in input ? value : current),
  }),
  logger: option({
    description: 'Level name, a logger object, or false.',
    runtime: true,
    default: 'warn',
    resolve: (value, { name, current }): LoggerOption => checkLoggerOption(given(value, current), name),
  }),
  hooks: option({
    description: 'Client hooks; merged at runtime, undefined removes one.',
    runtime: true,
    default: {},
    // Runtime updates merge hooks: passing one hook does not remove the others.
    resolve: (value, { current }): ClientHooks => (value === undefined ? { ...current } : hooksOf({ ...current, ...(value as ClientHooks) })),
    copy: (v) => ({ ...v }),
  }),
  customReconnectDelay: option({
    description: 'Replaces the default backoff: (attempt, baseDelay, maxDelay) => ms.',
    runtime: true,
    default: undefined,
    resolve: (value, { current }): CustomReconnectDelay | undefined => {
      const custom = given(value, current);
      if (custom !== undefined && typeof custom !== 'function') throw new TypeError('option customReconnectDelay must be a function');
      return custom as CustomReconnectDelay | undefined;
    },
  }),
  recovery: boolOption(false, 'Ask to resume the previous session after a drop.'),
} as const;

// ---- types derived from the table ---------------------------------------------------------

export type ClientOptionTable = typeof CLIENT_OPTIONS;
export type ClientOptionName = keyof ClientOptionTable;

type Parts<P> = P extends ClientOptionSpec<infer R, infer RT> ? { resolved: R; runtime: RT } : never;

/** The resolved options as the table declares them. */
export type ClientResolvedFromTable = { [K in ClientOptionName]: Parts<ClientOptionTable[K]>['resolved'] };
/** Options `updateOptions()` accepts. */
export type ClientRuntimeOptionName = { [K in ClientOptionName]: Parts<ClientOptionTable[K]>['runtime'] extends true ? K : never }[ClientOptionName];

// ---- compile-time checks ------------------------------------------------------------------

// (The key check against `StelarClientOptions` is in options.ts, which sees both.)
export type SameKeys<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : { onlyLeft: Exclude<A, B>; onlyRight: Exclude<B, A> };
export type Assert<T extends true> = T;
