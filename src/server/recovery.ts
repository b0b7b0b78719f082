/**
 * Connection-state recovery, the server's side: what the Connect packets carry, what is saved
 * when a client leaves, and what is replayed when it returns: every recorded message it
 * missed, in order, or nothing at all (a normal new session) when that cannot be guaranteed.
 * The store itself (history and saved sessions) sits behind the contract in
 * src/contracts/recovery.ts.
 */
import { randomBytes } from 'node:crypto';
import {
  type AdapterClient,
  type Adapter,
  comparePos,
  concerns,
  hashToken,
  parseOffset,
  type RecordedEntry,
  type RecordTarget,
  RecoveryFailure,
  type RecoveryOptions,
  type RecoveryStore,
  type RestoreResult,
} from '../contracts/index.js';
import { MemoryRecoveryStore } from '../adapter/memory-recovery.js';
import type { LoggerLike } from '../logger.js';
import type { EncodedMessage } from '../wire/index.js';

export type { RecordTarget, RestoreResult };

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
  readonly id: string;
  readonly recovery: SessionRecoveryState | null;
  readonly metadata: Map<string, unknown>;
  metadataObject(): Record<string, unknown>;
}

export interface Admission {
  /** The id the session goes live with: its old one when it was recovered, else its own. */
  id: string;
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
   * when the restore succeeded (rooms, metadata; the id is returned for the session to go
   * live with) and says what to send. Synchronous, so no live message can slip between the
   * replay and the session going live. `replay()` runs once the session is open.
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
      return { id: session.id, fields: { recovered: false, recovery }, replay: () => 0 };
    }
    const saved = outcome.session;
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
    return { id: saved.id, fields: { recovered: true, recovery: { token: state.token, offset: resume.offset } }, replay };
  }

  /** At disconnection: keeps what a return needs, unless the close was final. */
  save(session: RecoverableSession, rooms: ReadonlySet<string>, code: number): void {
    const state = session.recovery;
    if (!state?.token || FINAL_CODES.has(code)) return;
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
