/**
 * Connection-state recovery: a client that comes back within `maxDisconnectionDuration` gets
 * its id, rooms and metadata back and every recorded message it missed, in order, or nothing
 * at all (a normal new session) when that cannot be guaranteed.
 *
 * Recorded messages are the ones addressed by the server's fan-out (broadcast, to(room),
 * toId); each gets an offset `epoch:position` in one ordered history. The epoch changes when
 * the history is reset (a new in-memory store, a wiped Redis, a node that could not record),
 * so an offset from an older history is refused instead of replayed from the wrong place.
 *
 * This file holds the store contract, the single-node store (a bounded in-memory buffer) and
 * the hub-side logic (what the Connect packets carry, what is saved at disconnect, what is
 * replayed). Cluster adapters supply their own store (see RedisAdapter: Redis Streams).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Adapter, AdapterClient, EncodedMessage } from '../adapter/adapter.js';
import type { LoggerLike } from '../logger.js';
import { OffsetMessage } from './recorded-message.js';

export interface RecoveryOptions {
  /** How long (ms) a disconnected client's state is kept. */
  maxDisconnectionDuration: number;
  /** How many recorded messages the history keeps (older ones are dropped). */
  maxMessages: number;
}

export const RECOVERY_DEFAULTS = { maxDisconnectionDuration: 120_000, maxMessages: 1000 } as const;

/** Why a recovery was refused (sent to the client in its Connect). */
export const RecoveryFailure = {
  /** No saved session for this id and token: too late, a deliberate close, or unknown. */
  NOT_FOUND: 'session_not_found',
  /** The offset belongs to an older history (server restarted, history reset). */
  HISTORY_RESET: 'history_reset',
  /** Messages after the offset were already dropped from the history. */
  HISTORY_TRIMMED: 'history_trimmed',
  /** The offset is malformed or outside this session's history. */
  INVALID_OFFSET: 'invalid_offset',
  /** A session with that id is connected right now. */
  IN_USE: 'session_in_use',
  /** The store could not be reached (cluster store down). */
  UNAVAILABLE: 'store_unavailable',
} as const;
export type RecoveryFailure = (typeof RecoveryFailure)[keyof typeof RecoveryFailure];

/** Who a recorded message was for; replay filters on it. */
export interface RecordTarget {
  rooms?: readonly string[];
  exceptId?: string;
  toId?: string;
}

export interface RecordedEntry {
  /** Carries its `offset`. */
  readonly message: EncodedMessage;
  readonly target: RecordTarget;
}

/** What is kept of a session between its disconnection and its return. */
export interface SavedSession {
  id: string;
  /** sha256 of the recovery token, hex (the token itself is never stored). */
  tokenHash: string;
  rooms: string[];
  metadata: Record<string, unknown>;
  /** Position the session started at; older offsets are refused. */
  since: string | null;
  /** Offset of the last recorded message written to it. */
  sent: string | null;
  /** The history head when it disconnected. */
  head: string | null;
  disconnectedAt: number;
}

export type RestoreResult =
  | {
      ok: true;
      session: SavedSession;
      /**
       * The recorded messages after the resume point, in order (not yet filtered for the
       * session), and the offset they cover up to (a cluster store: live copies of older ones
       * may still be on their way and are skipped). Called once, in the same tick the session
       * goes live; null = recovery lost (e.g. too many messages arrived meanwhile).
       */
      take(): { entries: RecordedEntry[]; upTo: string | null } | null;
    }
  | { ok: false; reason: RecoveryFailure };

/** Where history and saved sessions live. The hub talks only to this. */
export interface RecoveryStore {
  /** The offset a new session starts from (null while unknown). */
  head(): string | null;
  /**
   * Single-node stores record here, synchronously, and return the message with its offset.
   * Cluster adapters record while publishing instead and leave this out.
   */
  record?(message: EncodedMessage, target: RecordTarget): EncodedMessage;
  save(session: SavedSession): void;
  /** Takes the saved session (single use) and the history after `from` (a position of `epoch`). */
  restore(id: string, tokenHash: string, epoch: string, from: string): RestoreResult | Promise<RestoreResult>;
  close(): void | Promise<void>;
}

// ---- offsets ----------------------------------------------------------------------------

const OFFSET_RE = /^([A-Za-z0-9]{1,32}):(\d{1,20}(?:-\d{1,20})?)$/;

export function parseOffset(offset: unknown): { epoch: string; pos: string } | null {
  if (typeof offset !== 'string') return null;
  const m = OFFSET_RE.exec(offset);
  return m ? { epoch: m[1], pos: m[2] } : null;
}

/** Orders positions `n` (memory) or `ms-seq` (Redis stream ids). */
export function comparePos(a: string, b: string): number {
  const [a1, a2 = '0'] = a.split('-');
  const [b1, b2 = '0'] = b.split('-');
  return Number(a1) - Number(b1) || Number(a2) - Number(b2);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function randomEpoch(): string {
  return randomBytes(6).toString('hex');
}

/** Does a recorded message concern this client (id, rooms at disconnection)? */
export function concerns(target: RecordTarget, id: string, rooms: ReadonlySet<string>): boolean {
  if (target.toId !== undefined) return target.toId === id;
  if (target.exceptId === id) return false;
  if (!target.rooms) return true;
  for (const room of target.rooms) if (rooms.has(room)) return true;
  return false;
}

// ---- the single-node store ----------------------------------------------------------------

interface MemoryEntry extends RecordedEntry {
  readonly seq: number;
  readonly at: number;
}

export class MemoryRecoveryStore implements RecoveryStore {
  readonly #options: RecoveryOptions;
  #epoch = randomEpoch();
  #seq = 0;
  /** Highest sequence number dropped from the history (0 = none). */
  #dropped = 0;
  #entries: MemoryEntry[] = [];
  #start = 0;
  /** Insertion order = expiry order (one duration for all), so pruning reads from the front. */
  #sessions = new Map<string, SavedSession>();

  constructor(options: RecoveryOptions) {
    this.#options = options;
  }

  head(): string {
    return `${this.#epoch}:${this.#seq}`;
  }

  record(message: EncodedMessage, target: RecordTarget): EncodedMessage {
    const seq = ++this.#seq;
    const now = Date.now();
    const recorded = new OffsetMessage(message, `${this.#epoch}:${seq}`);
    this.#entries.push({ seq, at: now, message: recorded, target });
    this.#trim(now);
    return recorded;
  }

  #trim(now: number): void {
    const { maxMessages, maxDisconnectionDuration } = this.#options;
    const entries = this.#entries;
    // Entries older than the window are needed by no session that may still come back.
    while (entries.length - this.#start > maxMessages || (this.#start < entries.length && now - entries[this.#start].at > maxDisconnectionDuration)) {
      this.#dropped = entries[this.#start].seq;
      this.#start++;
    }
    if (this.#start > 1024 && this.#start * 2 > entries.length) {
      this.#entries = entries.slice(this.#start);
      this.#start = 0;
    }
  }

  save(session: SavedSession): void {
    this.#prune(Date.now());
    // Re-inserted at the end: the Map stays in expiry order.
    this.#sessions.delete(session.id);
    this.#sessions.set(session.id, session);
  }

  #prune(now: number): void {
    for (const [id, s] of this.#sessions) {
      if (now - s.disconnectedAt <= this.#options.maxDisconnectionDuration) break;
      this.#sessions.delete(id);
    }
  }

  restore(id: string, tokenHash: string, epoch: string, from: string): RestoreResult {
    const now = Date.now();
    this.#prune(now);
    const saved = this.#sessions.get(id);
    if (!saved || !sameHash(saved.tokenHash, tokenHash)) return { ok: false, reason: RecoveryFailure.NOT_FOUND };
    // Single use, whatever happens next.
    this.#sessions.delete(id);
    if (epoch !== this.#epoch) return { ok: false, reason: RecoveryFailure.HISTORY_RESET };
    const point = resumePoint(saved, epoch, from);
    if ('reason' in point) return { ok: false, reason: point.reason };
    const start = Number(point.pos);
    if (!Number.isSafeInteger(start) || start > this.#seq) return { ok: false, reason: RecoveryFailure.INVALID_OFFSET };
    if (start < this.#dropped) return { ok: false, reason: RecoveryFailure.HISTORY_TRIMMED };
    const missed: RecordedEntry[] = [];
    for (let i = this.#start; i < this.#entries.length; i++) if (this.#entries[i].seq > start) missed.push(this.#entries[i]);
    return { ok: true, session: saved, take: () => ({ entries: missed, upTo: null }) };
  }

  close(): void {
    this.#entries = [];
    this.#start = 0;
    this.#sessions.clear();
    // A restarted server starts a new history: offsets handed out before are refused.
    this.#epoch = randomEpoch();
  }
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

// ---- the hub's side ---------------------------------------------------------------------

/** Per-session recovery state, present when the client asked for recovery in its Connect. */
export class SessionRecoveryState {
  /** What the client asked to resume, if anything. */
  resume: { id: string; token: string; offset: string } | null = null;
  token = '';
  since: string | null = null;
  /** Offset of the last recorded message written to this session. */
  sent: string | null = null;
  /** A recorded message for it could not be written: replay must start at the client's own offset. */
  lost = false;
  /** After a cluster restore: recorded messages up to here were replayed already. */
  skipUpTo: string | null = null;

  /** False for a live copy of a message the replay already covered. */
  passes(offset: string): boolean {
    const skip = parseOffset(this.skipUpTo);
    const o = parseOffset(offset);
    if (skip && o && o.epoch === skip.epoch && comparePos(o.pos, skip.pos) <= 0) return false;
    // Messages arrive in history order: once one is past the mark, none behind it can follow.
    this.skipUpTo = null;
    return true;
  }
}

/** Closes after which a session is over for good: a deliberate close, a kick. */
const FINAL_CODES = new Set([1000, 4009]);

/** The minimal view of a session the recovery logic needs (Session implements it). */
export interface RecoverableSession {
  id: string;
  recovery: SessionRecoveryState | null;
  readonly metadata: Map<string, unknown>;
  metadataObject(): Record<string, unknown>;
}

export interface Admission {
  /** Fields added to the server's Connect. */
  fields: { recovered: boolean; recovery: { token: string; offset?: string; reason?: RecoveryFailure } };
  /** Writes the missed messages (recovered sessions only), in order, right after the Connect; returns how many. */
  replay(): number;
}

export class SessionRecovery {
  readonly options: RecoveryOptions;
  readonly store: RecoveryStore;
  readonly #adapter: Adapter;
  readonly #logger: LoggerLike;

  constructor(options: RecoveryOptions, adapter: Adapter, logger: LoggerLike) {
    this.options = options;
    this.#adapter = adapter;
    this.#logger = logger;
    this.store = adapter.recoveryStore?.(options) ?? new MemoryRecoveryStore(options);
  }

  /** Reads the `recovery` field of the client's Connect: absent = the client does not take part. */
  negotiate(field: unknown): SessionRecoveryState | null {
    if (field === undefined || field === null || typeof field !== 'object') return null;
    const state = new SessionRecoveryState();
    const f = field as { id?: unknown; token?: unknown; offset?: unknown };
    if (typeof f.id === 'string' && f.id && typeof f.token === 'string' && f.token.length <= 128 && typeof f.offset === 'string') {
      state.resume = { id: f.id, token: f.token, offset: f.offset };
    }
    return state;
  }

  record(message: EncodedMessage, target: RecordTarget): EncodedMessage {
    return this.store.record ? this.store.record(message, target) : message;
  }

  /** Starts a restore for a session that asked for one (undefined: nothing to restore). */
  restore(session: RecoverableSession): RestoreResult | Promise<RestoreResult> | undefined {
    const resume = session.recovery?.resume;
    if (!resume) return undefined;
    const offset = parseOffset(resume.offset);
    if (!offset) return { ok: false, reason: RecoveryFailure.INVALID_OFFSET };
    try {
      const result = this.store.restore(resume.id, hashToken(resume.token), offset.epoch, offset.pos);
      if (result instanceof Promise) {
        return result.catch((err: unknown) => {
          this.#logger.warn('recovery store failed:', err);
          return { ok: false, reason: RecoveryFailure.UNAVAILABLE } as const;
        });
      }
      return result;
    } catch (err) {
      this.#logger.warn('recovery store failed:', err);
      return { ok: false, reason: RecoveryFailure.UNAVAILABLE };
    }
  }

  /**
   * Completes the handshake of a session that negotiated recovery: adopts the saved state
   * when the restore succeeded (id, rooms, metadata) and says what to send. Synchronous, so
   * no live message can slip between the replay and the session going live.
   */
  admit(session: RecoverableSession & AdapterClient, outcome: RestoreResult | undefined, inUse: (id: string) => boolean): Admission | null {
    const state = session.recovery;
    if (!state) return null;
    const resume = state.resume;
    state.resume = null;
    state.token = randomBytes(18).toString('base64url');
    let missed: { entries: RecordedEntry[]; upTo: string | null } | null = null;
    let reason: RecoveryFailure | undefined;
    if (outcome?.ok) {
      const saved = outcome.session;
      missed = outcome.take();
      if (inUse(saved.id)) reason = RecoveryFailure.IN_USE;
      else if (!missed) reason = RecoveryFailure.HISTORY_TRIMMED;
    } else if (outcome) reason = outcome.reason;
    if (!outcome?.ok || reason || !missed || !resume) {
      state.since = state.sent = this.store.head();
      const recovery: Admission['fields']['recovery'] = { token: state.token };
      if (state.since !== null) recovery.offset = state.since;
      if (resume) recovery.reason = reason ?? RecoveryFailure.NOT_FOUND;
      return { fields: { recovered: false, recovery }, replay: () => 0 };
    }
    const saved = outcome.session;
    session.id = saved.id;
    for (const [key, value] of Object.entries(saved.metadata)) if (!session.metadata.has(key)) session.metadata.set(key, value);
    for (const room of saved.rooms) this.#adapter.addToRoom(saved.id, room);
    const rooms = new Set(saved.rooms);
    const out: EncodedMessage[] = [];
    for (const entry of missed.entries) if (concerns(entry.target, saved.id, rooms)) out.push(entry.message);
    state.since = saved.since;
    state.sent = resume.offset;
    const upTo = missed.upTo;
    const replay = (): number => {
      let n = 0;
      for (const message of out) if (session.sendEncoded(message)) n++;
      // From now on, live copies of what the replay covered are skipped (cluster stores).
      state.skipUpTo = upTo;
      return n;
    };
    return { fields: { recovered: true, recovery: { token: state.token, offset: resume.offset } }, replay };
  }

  /** At disconnection: keeps what a return needs, unless the close was final. */
  save(session: RecoverableSession, rooms: ReadonlySet<string>, code: number): void {
    const state = session.recovery;
    if (!state || !state.token || FINAL_CODES.has(code)) return;
    try {
      this.store.save({
        id: session.id,
        tokenHash: hashToken(state.token),
        rooms: [...rooms],
        metadata: session.metadataObject(),
        since: state.since,
        sent: state.sent,
        head: state.lost ? null : this.store.head(),
        disconnectedAt: Date.now(),
      });
    } catch (err) {
      this.#logger.warn('could not save a session for recovery:', err);
    }
  }

  close(): void | Promise<void> {
    return this.store.close();
  }
}

/**
 * The resume point for a restore: when the client saw the last message written to it, every
 * recorded message up to the head at disconnection was either seen or not for it, so the
 * replay starts at that head (a quiet client in a busy cluster stays recoverable). Otherwise
 * it starts at the client's offset, which must lie within the session's own history.
 */
export function resumePoint(saved: SavedSession, epoch: string, pos: string): { pos: string } | { reason: RecoveryFailure } {
  const sent = parseOffset(saved.sent);
  const head = parseOffset(saved.head);
  const since = parseOffset(saved.since);
  if (sent && sent.epoch === epoch && sent.pos === pos && head && head.epoch === epoch) return { pos: head.pos };
  const invalid = { reason: RecoveryFailure.INVALID_OFFSET };
  if (since && since.epoch === epoch && comparePos(pos, since.pos) < 0) return invalid;
  if (sent && sent.epoch === epoch && comparePos(pos, sent.pos) > 0) return invalid;
  return { pos };
}
