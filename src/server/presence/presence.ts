/**
 * Presence: who is in a room across every node (`server.presence()`, a member's own
 * `$stelar:presence` request) and, for the rooms that ask for it, join and leave
 * notifications to the room's other members.
 *
 * Nothing is stored for it: a query asks every live node through the adapter's cluster query
 * (gatherParts) and each node lists its own clients (local.ts), so counts are exact by
 * construction and a dead node's clients are in no answer. Notifications are room sends like
 * any other (recorded for recovery when it is on), made where the membership changes:
 * rooms.ts (joins and leaves), lifecycle.ts (a client's arrival with rooms already joined in
 * middleware or restored by recovery, and its departure).
 */
import type { Adapter, AdapterHost, PresenceQuery } from '../../contracts/index.js';
import { ErrorCode, type PresenceChange, type PresenceResult, ReservedEvent, StelarError } from '../../protocol/index.js';
import type { ResolvedConfig } from '../options.js';
import { type Session, SessionState } from '../session.js';
import { checkFields, checkLimit, PRESENCE_DEFAULTS, type PresenceConfig, type PresenceQueryOptions } from './config.js';
import { project } from './local.js';
import { gatherParts, mergeParts } from './merge.js';

export interface PresenceParts {
  config: ResolvedConfig;
  adapter: Adapter;
  /** This node's clients (the hub). */
  host: AdapterHost;
  /** A room send of the library's own (not shown to onBeforeBroadcast). */
  notify(room: string, event: string, data: PresenceChange, exceptId: string): void;
}

export class Presence {
  readonly #p: PresenceParts;
  /** Clients with a presence request in flight: one at a time each (weak: a gone client is forgotten). */
  readonly #asking = new WeakSet<Session>();

  constructor(parts: PresenceParts) {
    this.#p = parts;
  }

  /** null while the option is off. */
  get #config(): PresenceConfig | null {
    return this.#p.config.presence || null;
  }

  // ---- queries ------------------------------------------------------------------------------

  /** `server.presence()`: the `presence` option's fields and limit unless the call names its own. */
  query<D>(room: string, options: PresenceQueryOptions = {}): Promise<PresenceResult<D>> {
    if (typeof room !== 'string' || room === '') return Promise.reject(new TypeError('room must be a non-empty string'));
    if (options === null || typeof options !== 'object') return Promise.reject(new TypeError('presence options must be an object'));
    let query: PresenceQuery;
    try {
      const c = this.#config ?? PRESENCE_DEFAULTS;
      query = {
        room,
        fields: options.fields === undefined ? c.fields : checkFields('fields', options.fields),
        limit: options.limit === undefined ? c.maxMembers : checkLimit('limit', options.limit),
      };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#run<D>(query);
  }

  async #run<D>(query: PresenceQuery): Promise<PresenceResult<D>> {
    const { adapter, host } = this.#p;
    return mergeParts<D>(query.room, await gatherParts(adapter, host, query), query.limit);
  }

  /**
   * A client's `$stelar:presence` request (data `{ room }`): answered for a member of the
   * room, with the `presence` option's fields and limit. Throws (a StelarError, which
   * becomes the error answer) when presence is off, the data is not a room, the client is
   * not in it, or its previous request is still being answered.
   */
  request(session: Session, data: unknown): Promise<PresenceResult> {
    const c = this.#config;
    if (!c) throw new StelarError(ErrorCode.NO_ACK_HANDLER, 'presence is not enabled on this server');
    const room = (data as { room?: unknown } | null)?.room;
    if (typeof room !== 'string' || room === '') throw new StelarError(ErrorCode.INVALID_ROOM, 'a presence request needs { room }');
    if (!this.#p.adapter.isMember(session.id, room)) throw new StelarError(ErrorCode.NOT_IN_ROOM, `only members of "${room}" may ask who is in it`);
    if (this.#asking.has(session)) throw new StelarError(ErrorCode.PRESENCE_BUSY, 'a presence request of this client is still being answered');
    this.#asking.add(session);
    return this.#run<Record<string, unknown>>({ room, fields: c.fields, limit: c.maxMembers }).finally(() => this.#asking.delete(session));
  }

  // ---- notifications ------------------------------------------------------------------------

  /** True when some room may announce joins and leaves (the option is on with `notify`). */
  get notifying(): boolean {
    const c = this.#config;
    return c !== null && c.notify !== false;
  }

  /** Does `room` announce joins and leaves? A throwing `notify` function counts as no. */
  #announces(room: string): boolean {
    const c = this.#config;
    if (!c || c.notify === false) return false;
    if (c.notify === true) return true;
    try {
      return c.notify(room) === true;
    } catch (err) {
      this.#p.config.logger.error('presence.notify threw (no notification sent):', err);
      return false;
    }
  }

  #announce(event: string, session: Session, room: string): void {
    if (!this.#announces(room)) return;
    const data: PresenceChange = { room, id: session.id, data: project(session, this.#config?.fields ?? []) };
    this.#p.notify(room, event, data, session.id);
  }

  /** A client in OPEN state joined a room (rooms joined before acceptance wait for `arrived`). */
  joined(session: Session, room: string): void {
    if (session.state === SessionState.OPEN) this.#announce(ReservedEvent.PRESENCE_JOIN, session, room);
  }

  /** A client that had been accepted left a room (or was removed from it, even while departing). */
  left(session: Session, room: string): void {
    if (session.connectedAt !== 0) this.#announce(ReservedEvent.PRESENCE_LEAVE, session, room);
  }

  /** A client was accepted: the rooms it is in already (middleware, recovery) are announced now. */
  arrived(session: Session, rooms: ReadonlySet<string>): void {
    if (!this.notifying || rooms.size === 0) return;
    for (const room of [...rooms]) this.joined(session, room);
  }

  /** A departed client was removed from these rooms. */
  departed(session: Session, rooms: readonly string[]): void {
    for (const room of rooms) this.left(session, room);
  }
}
