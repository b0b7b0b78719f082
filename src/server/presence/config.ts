/**
 * The `presence` option: which metadata fields presence shows, whether rooms announce joins
 * and leaves, and how many members one answer lists. Off by default: clients may not ask
 * and nothing is announced (the server's own `presence()` works either way).
 */

export interface PresenceOptions {
  /**
   * Metadata keys shown for each member (`ctx.setMetadata`); nothing else of a client's
   * metadata ever is. Default `[]`: ids only. Values must be JSON-serialisable.
   */
  fields?: readonly string[];
  /**
   * Join and leave notifications to the room's other members: `true` for every room, a
   * function to choose rooms (`(room) => room.startsWith('chat:')`), `false` (default) for
   * none. Each join or leave costs one message per member of the room.
   */
  notify?: boolean | ((room: string) => boolean);
  /** Most members one presence answer lists; past it `count` stays exact and `truncated` is true. Default 10000. */
  maxMembers?: number;
}

/** `server.presence(room, options)`: the server's own query may show other fields or list more. */
export interface PresenceQueryOptions {
  /** Metadata keys to show, instead of the `presence.fields` option. */
  fields?: readonly string[];
  /** Most members to list, instead of `presence.maxMembers`. */
  limit?: number;
}

/** The resolved option (`false` = off, as the option's default). */
export interface PresenceConfig {
  readonly fields: readonly string[];
  readonly notify: boolean | ((room: string) => boolean);
  readonly maxMembers: number;
}

export const PRESENCE_DEFAULTS: PresenceConfig = Object.freeze({ fields: Object.freeze([] as string[]), notify: false, maxMembers: 10_000 });
/** Beyond these a query could not travel between nodes (contracts/presence.ts refuses it). */
export const MAX_PRESENCE_FIELDS = 64;
export const MAX_PRESENCE_LIMIT = 1_000_000;

/** Field names checked once (the server's option, or a `presence()` call's own `fields`). */
export function checkFields(name: string, value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length > MAX_PRESENCE_FIELDS) {
    throw new TypeError(`${name} must be an array of at most ${MAX_PRESENCE_FIELDS} metadata keys`);
  }
  for (const f of value) {
    if (typeof f !== 'string' || f === '' || f === '__proto__') throw new TypeError(`${name} must hold non-empty metadata keys, got ${JSON.stringify(f)}`);
  }
  return Object.freeze([...new Set(value as string[])]);
}

export function checkLimit(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_PRESENCE_LIMIT) {
    throw new RangeError(`${name} must be an integer from 1 to ${MAX_PRESENCE_LIMIT}, got ${String(value)}`);
  }
  return value;
}

export function resolvePresence(value: unknown): PresenceConfig | false {
  if (value === undefined || value === null || value === false) return false;
  if (value === true) return PRESENCE_DEFAULTS;
  if (typeof value !== 'object') throw new TypeError('presence must be false, true or { fields?, notify?, maxMembers? }');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (key !== 'fields' && key !== 'notify' && key !== 'maxMembers') throw new TypeError(`presence.${key} is not an option (fields, notify, maxMembers)`);
  }
  const notify = v.notify ?? PRESENCE_DEFAULTS.notify;
  if (typeof notify !== 'boolean' && typeof notify !== 'function') throw new TypeError('presence.notify must be a boolean or a function (room) => boolean');
  return Object.freeze({
    fields: v.fields === undefined ? PRESENCE_DEFAULTS.fields : checkFields('presence.fields', v.fields),
    notify: notify as PresenceConfig['notify'],
    maxMembers: v.maxMembers === undefined ? PRESENCE_DEFAULTS.maxMembers : checkLimit('presence.maxMembers', v.maxMembers),
  });
}

/** How `getConfig()` shows it. */
export function describePresence(c: PresenceConfig | false): false | { fields: string[]; notify: boolean | 'function'; maxMembers: number } {
  if (!c) return false;
  return { fields: [...c.fields], notify: typeof c.notify === 'function' ? 'function' : c.notify, maxMembers: c.maxMembers };
}
