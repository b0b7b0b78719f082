/**
 * Connection-state recovery across nodes: the history is a Redis Stream (bounded with
 * `XADD MAXLEN ~`), saved sessions are keys that expire after `maxDisconnectionDuration`,
 * so a client may come back on any node.
 *
 * Offsets are `epoch:streamId`. The epoch lives in Redis and changes when the history can no
 * longer be trusted: Redis lost its data (the key is gone, a new one is made), or this node
 * had to deliver messages it could not record (Redis away); then every older offset is
 * refused and clients start new sessions. Never a partial replay.
 */
import type { LoggerLike } from '../../logger.js';
import { type EncodedMessage, WireMessage } from '../../wire/index.js';
import {
  comparePos,
  randomEpoch,
  type RecordedEntry,
  type RecordTarget,
  RecoveryFailure,
  type RecoveryOptions,
  type RecoveryStore,
  type RestoreResult,
  resumePoint,
  type SavedSession,
} from '../../contracts/index.js';
import type { ClusterLink } from './cluster-link.js';
import { type Header, Kind } from '../shared/envelope.js';
import { HISTORY_AFTER, TAKE_SESSION } from './scripts.js';

/** Live recorded messages seen while a restore is in flight. */
interface Capture {
  entries: Array<{ epoch: string; id: string; entry: RecordedEntry }>;
  overflow: boolean;
}

const STREAM_ID = /^\d+-\d+$/;

function targetOf(h: Header): RecordTarget {
  return { rooms: h.r, exceptId: h.x, toId: h.i };
}

export class RedisRecoveryStore implements RecoveryStore {
  readonly #link: ClusterLink;
  readonly #options: RecoveryOptions;
  readonly #logger: () => LoggerLike;
  readonly #streamKey: string;
  readonly #epochKey: string;
  readonly #sessionPrefix: string;
  /** Offered when the epoch key does not exist yet (first message, or a wiped Redis). */
  readonly #candidate = randomEpoch();
  #epoch: string | null = null;
  /** Last stream id this node has processed (they arrive in stream order). */
  #head: string | null = null;
  /** This node delivered something it could not record: the epoch must change. */
  #gap = false;
  #captures = new Set<Capture>();

  /** Expiry (ms) of the history and the epoch, from the last message or heartbeat. */
  readonly #ttl: number;

  constructor(link: ClusterLink, options: RecoveryOptions, logger: () => LoggerLike) {
    this.#link = link;
    this.#options = options;
    this.#logger = logger;
    this.#streamKey = link.names.key('history');
    this.#epochKey = link.names.key('epoch');
    this.#sessionPrefix = link.names.key('session:');
    // Kept while any node beats; once every node is gone, only as long as a session could
    // still come back to it.
    this.#ttl = options.maxDisconnectionDuration + link.heartbeatTimeout;
    link.keepAlive([this.#streamKey, this.#epochKey], this.#ttl);
  }

  head(): string | null {
    return this.#epoch !== null && this.#head !== null ? `${this.#epoch}:${this.#head}` : null;
  }

  /** Reads the epoch and the stream's last id (at start, and after an outage). */
  async load(): Promise<void> {
    if (!this.#link.commandsReady) return;
    try {
      const ttl = String(Math.ceil(this.#ttl));
      if (this.#gap) {
        // Some messages of the outage were never recorded: make every older offset invalid.
        await this.#link.command(['SET', this.#epochKey, randomEpoch(), 'PX', ttl], this.#epochKey);
        this.#gap = false;
      }
      // Created here if missing, so even the first sessions of a new cluster get an offset.
      await this.#link.command(['SET', this.#epochKey, this.#candidate, 'NX', 'PX', ttl], this.#epochKey);
      let [epoch, last] = await Promise.all([
        this.#link.command(['GET', this.#epochKey], this.#epochKey),
        this.#link.command(['XREVRANGE', this.#streamKey, '+', '-', 'COUNT', '1'], this.#streamKey),
      ]);
      let lastId = Array.isArray(last) && Array.isArray(last[0]) ? String(last[0][0]) : '0-0';
      if (epoch === this.#epoch && this.#head !== null && comparePos(lastId, this.#head) < 0) {
        // The stream lost entries this node delivered (a failover to a replica that had not
        // got them yet): offsets past its end would resume with a hole. A new epoch.
        this.#logger().warn('recovery: the history lost recorded messages (Redis failover?), history reset');
        const fresh = randomEpoch();
        await this.#link.command(['SET', this.#epochKey, fresh, 'PX', ttl], this.#epochKey);
        epoch = fresh;
        lastId = '0-0';
      }
      const e = typeof epoch === 'string' && epoch ? epoch : null;
      if (e !== this.#epoch) {
        this.#epoch = e;
        this.#head = e === null ? null : lastId;
      } else if (this.#head === null || comparePos(lastId, this.#head) > 0) this.#head = lastId;
    } catch (err) {
      this.#logger().warn('recovery: could not read the history position:', err);
    }
  }

  onLinkUp(): void {
    void this.load();
  }

  /** This node may have missed recorded messages: the next load() renews the epoch. */
  markGap(): void {
    this.#gap = true;
  }

  /**
   * Sends a message through the history (the adapter delivers it when it comes back).
   * False: Redis is away; `fallback` is not called and the caller delivers it now. When the
   * script fails after being sent, `fallback` delivers it locally. Either way: a gap.
   */
  recordVia(route: Partial<Header>, message: EncodedMessage, fallback: () => void): boolean {
    if (!this.#link.commandsReady) {
      this.#gap = true;
      return false;
    }
    this.#link
      .record(route, message.bytes, { stream: this.#streamKey, epoch: this.#epochKey }, this.#options.maxMessages, this.#candidate, this.#ttl)
      .catch((err: unknown) => {
        this.#gap = true;
        this.#logger().warn('recovery: could not record a message (delivered locally, history reset):', err instanceof Error ? err.message : err);
        fallback();
      });
    return true;
  }

  /** Every recorded message this node receives, in stream order. */
  onRecorded(epoch: string, id: string, message: WireMessage, header: Header): void {
    if (epoch !== this.#epoch) {
      this.#epoch = epoch;
      this.#head = id;
    } else if (this.#head === null || comparePos(id, this.#head) > 0) this.#head = id;
    if (this.#captures.size === 0) return;
    const entry = { epoch, id, entry: { message, target: targetOf(header) } };
    for (const c of this.#captures) {
      if (c.entries.length >= this.#options.maxMessages) c.overflow = true;
      else c.entries.push(entry);
    }
  }

  save(session: SavedSession): void {
    let json: string;
    try {
      json = JSON.stringify(session);
    } catch (err) {
      this.#logger().warn(`recovery: session ${session.id} not saved (metadata is not JSON):`, err);
      return;
    }
    const key = `${this.#sessionPrefix}${session.id}:${session.tokenHash}`;
    this.#link.command(['SET', key, json, 'PX', String(this.#options.maxDisconnectionDuration)], key).catch((err: unknown) => {
      this.#logger().warn(`recovery: session ${session.id} not saved:`, err instanceof Error ? err.message : err);
    });
  }

  restore(id: string, tokenHash: string, epoch: string, from: string): Promise<RestoreResult> {
    if (!this.#link.commandsReady) return Promise.resolve({ ok: false, reason: RecoveryFailure.UNAVAILABLE });
    // Registered before the first command: whatever is recorded after the read is seen here.
    const capture: Capture = { entries: [], overflow: false };
    this.#captures.add(capture);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<RestoreResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: RecoveryFailure.UNAVAILABLE }), this.#link.requestTimeout);
      timer.unref();
    });
    const work = this.#restore(id, tokenHash, epoch, from, capture).catch((err: unknown): RestoreResult => {
      this.#logger().warn('recovery: restore failed:', err instanceof Error ? err.message : err);
      return { ok: false, reason: RecoveryFailure.UNAVAILABLE };
    });
    return Promise.race([work, late]).then((result) => {
      clearTimeout(timer);
      if (!result.ok) this.#captures.delete(capture);
      return result;
    });
  }

  async #restore(id: string, tokenHash: string, epoch: string, from: string, capture: Capture): Promise<RestoreResult> {
    const taken = (await this.#link.run(TAKE_SESSION, [`${this.#sessionPrefix}${id}:${tokenHash}`, this.#epochKey], [])) as unknown[];
    const raw = taken?.[0];
    if (typeof raw !== 'string' || raw === '') return { ok: false, reason: RecoveryFailure.NOT_FOUND };
    const saved = JSON.parse(raw) as SavedSession;
    if (!saved || saved.id !== id || !Array.isArray(saved.rooms)) return { ok: false, reason: RecoveryFailure.NOT_FOUND };
    if (taken[1] !== epoch) return { ok: false, reason: RecoveryFailure.HISTORY_RESET };
    const point = resumePoint(saved, epoch, from);
    if ('reason' in point) return { ok: false, reason: point.reason };
    if (!STREAM_ID.test(point.pos)) return { ok: false, reason: RecoveryFailure.INVALID_OFFSET };
    const reply = (await this.#link.run(HISTORY_AFTER, [this.#streamKey], [point.pos, String(this.#options.maxMessages)], true)) as Buffer[];
    if (!Array.isArray(reply) || String(reply[0]) !== 'ok') return { ok: false, reason: RecoveryFailure.HISTORY_TRIMMED };
    const entries: RecordedEntry[] = [];
    let last = point.pos;
    for (let i = 1; i + 1 < reply.length; i += 2) {
      last = String(reply[i]);
      // Same checks as live messages (HMAC), except replay: these are old by nature.
      const env = this.#link.open(Buffer.from(reply[i + 1]), false);
      if (!env || env.kind !== Kind.DELIVER) continue;
      entries.push({ message: WireMessage.fromBytes(env.body, `${epoch}:${last}`), target: targetOf(env.header) });
    }
    const upTo = last;
    return {
      ok: true,
      session: saved,
      take: () => {
        this.#captures.delete(capture);
        if (capture.overflow) return null;
        for (const c of capture.entries) {
          if (c.epoch === epoch && comparePos(c.id, upTo) <= 0) continue;
          entries.push(c.entry);
        }
        const tail = capture.entries.at(-1);
        return { entries, upTo: tail && (tail.epoch !== epoch || comparePos(tail.id, upTo) > 0) ? `${tail.epoch}:${tail.id}` : `${epoch}:${upTo}` };
      },
    };
  }

  /** Drops in-flight restores' captures (the adapter is closing). */
  stopCaptures(): void {
    this.#captures.clear();
  }

  close(): void {
    // The history and saved sessions stay in Redis for the other nodes; nothing local to free
    // but the position, re-read at the next start.
    this.#captures.clear();
  }
}
