/**
 * The connection-state recovery contract: offsets, what is kept of a session between its
 * disconnection and its return, and the store the server talks to. The server decides what
 * to record and replay (src/server/recovery.ts); a store keeps the history and the saved
 * sessions: in memory on one node (src/adapter/memory-recovery.ts) or in a cluster adapter's
 * backend (Redis Streams, src/adapter/redis/redis-recovery.ts).
 *
 * Recorded messages are the ones addressed by the server's fan-out (broadcast, to(room),
 * toId); each gets an offset `epoch:position` in one ordered history. The epoch changes when
 * the history is reset (a new in-memory store, a wiped Redis, a node that could not record),
 * so an offset from an older history is refused instead of replayed from the wrong place.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { EncodedMessage } from '../wire/index.js';

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

/** Where history and saved sessions live. The server talks only to this. */
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
