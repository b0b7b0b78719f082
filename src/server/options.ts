/**
 * Derives and applies the server options declared in `option-table.ts`: the defaults, the
 * constructor's resolution, `updateConfig()` and `getConfig()`. The constructor and
 * `updateConfig()` both go through `applyRuntimeConfig`, so a value is validated the same
 * way whenever it arrives. Components read the resolved config at use time, which is what
 * makes most options live-updatable without any extra wiring.
 */
import {
  type Assert,
  type ResolvedExtras,
  type ResolvedFromTable,
  SERVER_OPTIONS,
  type SameKeys,
  type ServerDefaults,
  type ServerOptionName,
  type ServerOptionSpec,
  validateRateLimit,
} from './option-table.js';
import type { ConfigSnapshot, RuntimeConfig, ServerLimits, ServerOptions } from './types.js';

/** Fails to compile (naming the odd keys) when `ServerOptions` and the table list different options. */
export type ServerOptionKeysMatch = Assert<SameKeys<keyof ServerOptions, ServerOptionName>>;

export { validateRateLimit };

const ENTRIES = Object.entries(SERVER_OPTIONS) as unknown as [ServerOptionName, ServerOptionSpec][];

function specOf(key: string): ServerOptionSpec | undefined {
  return Object.hasOwn(SERVER_OPTIONS, key) ? (SERVER_OPTIONS as unknown as Record<string, ServerOptionSpec>)[key] : undefined;
}

/** SERVER_DEFAULTS: the `default` of every entry that has one. */
export const DEFAULTS: ServerDefaults = Object.fromEntries(
  ENTRIES.filter(([, spec]) => 'default' in spec).map(([name, spec]) => [spec.defaultsKey ?? name, spec.default]),
) as ServerDefaults;

/** The options `updateConfig()` refuses. */
const FIXED_KEYS: ReadonlySet<string> = new Set(ENTRIES.filter(([, spec]) => !spec.runtime).map(([name]) => name));

/**
 * The resolved, validated configuration (one field per option of the table, fixed ones
 * readonly, plus `hasCustomClientId`). Mutable only through `applyRuntimeConfig`.
 */
export interface ResolvedConfig extends ResolvedFromTable, ResolvedExtras {}

/** One option's resolved field(s). */
function resolveOne(name: string, spec: ServerOptionSpec, value: unknown, current: unknown, input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const resolved = spec.resolve!(value, { name, current, default: spec.default, input });
  return { [name]: resolved, ...spec.alsoSets?.(value) };
}

export function resolveOptions(options: ServerOptions = {}): ResolvedConfig {
  const input = options as Readonly<Record<string, unknown>>;
  const config: Record<string, unknown> = {};
  // Fixed options are resolved here; runtime ones start at their defaults, then everything
  // given goes through the same code path as `updateConfig()`.
  for (const [name, spec] of ENTRIES) {
    if (!spec.resolve) continue;
    Object.assign(config, resolveOne(name, spec, spec.runtime ? undefined : input[name], undefined, input));
  }
  const runtime: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (!FIXED_KEYS.has(k)) runtime[k] = v;
  applyRuntimeConfig(config as unknown as ResolvedConfig, runtime as RuntimeConfig);
  return config as unknown as ResolvedConfig;
}

/**
 * Applies a runtime patch in place and returns the keys that changed, so the server can
 * re-time the sweep or resize limiters. Validates everything before changing anything.
 */
export function applyRuntimeConfig(config: ResolvedConfig, patch: RuntimeConfig): Set<keyof RuntimeConfig> {
  if (!patch || typeof patch !== 'object') throw new TypeError('updateConfig expects an object');
  const input = patch as Readonly<Record<string, unknown>>;
  const live = config as unknown as Record<string, unknown>;
  const next: Record<string, unknown> = {};
  const changed = new Set<keyof RuntimeConfig>();
  for (const key of Object.keys(input)) {
    const spec = specOf(key);
    if (FIXED_KEYS.has(key)) throw new TypeError(`${key} cannot be changed at runtime (restart the server)`);
    if (!spec?.resolve) throw new TypeError(`unknown option ${key}`);
    changed.add(key as keyof RuntimeConfig);
    Object.assign(next, resolveOne(key, spec, input[key], live[key], input));
  }
  Object.assign(config, next);
  return changed;
}

/** The public view of the config: values, plus flags/names for functions and components. */
export function describeConfig(config: ResolvedConfig, clientRateLimits: number, port: number | undefined): ConfigSnapshot {
  const live = config as unknown as Record<string, unknown>;
  const view = { port, hasCustomClientId: config.hasCustomClientId };
  const out: Record<string, unknown> = {};
  for (const [name, spec] of ENTRIES) {
    if (spec.snapshot) out[spec.snapshot.as ?? name] = spec.snapshot.value(live[name], view);
  }
  out.clientRateLimits = clientRateLimits;
  return out as unknown as ConfigSnapshot;
}

// Compile-time: the resolved config keeps the numeric limits `ServerLimits` names.
export type ResolvedConfigHasLimits = Assert<ResolvedConfig extends ServerLimits ? true : false>;
