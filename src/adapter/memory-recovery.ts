/**
 * The single-node recovery store: a bounded in-memory history and the saved sessions of
 * this node. The server uses it when its adapter brings no store of its own, which lets a
 * client recover on the node it left (a cluster adapter's store lets it come back anywhere).
 */
import { timingSafeEqual } from 'node:crypto';
import {
  randomEpoch,
  type RecordedEntry,
  type RecordTarget,
  RecoveryFailure,
  type RecoveryOptions,
  type RecoveryStore,
  type RestoreResult,
  resumePoint,
  type SavedSession,
} from '../contracts/recovery.js';
import { type EncodedMessage, recordedAt } from '../wire/index.js';

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
    const recorded = recordedAt(message, `${this.#epoch}:${seq}`);
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
