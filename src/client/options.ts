/**
 * Client options: the public types, and what is derived from the declarations in
 * `option-table.ts` (CLIENT_DEFAULTS, the checks and the merge used by `updateOptions`), so
 * the constructor and runtime updates can never disagree.
 * Bad values throw at once (TypeError / RangeError naming the option): a typo in a timeout
 * should fail at startup, not show up as odd behaviour an hour later.
 */
import { type Assert, CLIENT_OPTIONS, type ClientOptionName, type ClientOptionSpec, type ClientResolvedFromTable, type SameKeys } from './option-table.js';
import type { StelarClientOptions } from './option-types.js';

export type {
  AuthOption,
  ClientHooks,
  ClientState,
  ClientTlsOptions,
  ErrorContext,
  MessageInfo,
  QueuedInfo,
  StelarClientOptions,
} from './option-types.js';

/** Fails to compile (naming the odd keys) when `StelarClientOptions` and the table list different options. */
export type ClientOptionKeysMatch = Assert<SameKeys<keyof StelarClientOptions, ClientOptionName>>;

/** The options in force: every option, resolved (the shape comes from `option-table.ts`). */
export interface ResolvedClientOptions extends ClientResolvedFromTable {}

const ENTRIES = Object.entries(CLIENT_OPTIONS) as unknown as [ClientOptionName, ClientOptionSpec][];

export const CLIENT_DEFAULTS: Readonly<ResolvedClientOptions> = Object.freeze(
  Object.fromEntries(ENTRIES.map(([name, spec]) => [name, spec.default])) as unknown as ResolvedClientOptions,
);

/** Defaults + checks. `base` is the current set when updating at runtime. */
export function resolveOptions(input: StelarClientOptions = {}, base: ResolvedClientOptions = CLIENT_DEFAULTS): ResolvedClientOptions {
  if (input === null || typeof input !== 'object') throw new TypeError('client options must be an object');
  const given = input as Readonly<Record<string, unknown>>;
  const current = base as unknown as Readonly<Record<string, unknown>>;
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of ENTRIES) {
    if (!spec.runtime && base !== CLIENT_DEFAULTS && given[name] !== undefined) {
      throw new TypeError(`option ${name} cannot be changed at runtime`);
    }
    resolved[name] = spec.resolve(given[name], { name, current: current[name], input: given, resolved });
  }
  return resolved as unknown as ResolvedClientOptions;
}

/** A copy safe to hand out: changing it does not change the client. */
export function copyOptions(options: ResolvedClientOptions): ResolvedClientOptions {
  const copy: Record<string, unknown> = { ...options };
  for (const [name, spec] of ENTRIES) if (spec.copy) copy[name] = spec.copy(copy[name]);
  return copy as unknown as ResolvedClientOptions;
}
