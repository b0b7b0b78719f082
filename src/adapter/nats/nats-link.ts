/**
 * A node's line to the rest of the cluster over NATS: its subscriptions (the broadcast subject,
 * its own subject, one subject per room with local members), publishing, membership by
 * heartbeat, and cluster queries by request and answer.
 *
 * NATS trouble is not an error for the server: while the connection is down the node keeps
 * serving its own clients, drops what it would have published (the client would buffer it
 * without a bound), logs once when the link goes down and once when it is back. The
 * application's client reconnects on its own and resubscribes; this node then says hello.
 *
 * Queries travel as envelopes too: the request goes on the broadcast subject, each node
 * answers on the asker's own subject, named from the authenticated origin of the request
 * (never from a reply-to field, which the HMAC does not cover).
 */
import type { LoggerLike } from '../../logger.js';
import {
  type DropCounters,
  type Envelope,
  encodeEnvelope,
  type Header,
  Kind,
  openEnvelope,
  originMarker,
  ReplayGuard,
  startsWithOrigin,
} from '../shared/envelope.js';
import { PendingQueries, respond } from '../shared/queries.js';
import type { NatsDriver } from './driver.js';
import { Membership } from './membership.js';
import { isNodeId, Subjects } from './subjects.js';

export interface NatsLinkOptions {
  prefix: string;
  nodeId: string;
  secret: Buffer | null;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  requestTimeout: number;
}

export interface NatsLinkHandlers {
  /** A DELIVER from another node. */
  deliver(env: Envelope): void;
  /** Answers a query from another node (JSON-able, or a Promise of it for work done in slices). */
  answer(kind: string, arg: string | undefined): unknown;
  nodesChanged(joined: string[], left: string[]): void;
  logger(): LoggerLike;
}

export interface NatsLinkCounters extends DropCounters {
  published: number;
  received: number;
  /** Publishes dropped: NATS unavailable, or a message above the server's max_payload. */
  dropped: number;
}

const EMPTY = new Uint8Array(0);

export class NatsLink {
  readonly counters: NatsLinkCounters = { published: 0, received: 0, forged: 0, replayed: 0, malformed: 0, dropped: 0 };
  readonly #driver: NatsDriver;
  readonly #o: NatsLinkOptions;
  readonly #h: NatsLinkHandlers;
  readonly #subjects: Subjects;
  readonly #self: Buffer;
  readonly #guard = new ReplayGuard();
  readonly #members: Membership;
  readonly #queries: PendingQueries;
  /** Subscriptions of the broadcast and own subjects. */
  #subs: Array<() => void> = [];
  /** Room -> its unsubscribe (null until subscribed: before start, or after a failed subscribe). */
  #rooms = new Map<string, (() => void) | null>();
  #unwatch: (() => void) | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #seq = 0;
  /** Last known state, to log transitions once. */
  #up = false;
  #wasDown = false;
  #closed = true;
  #warnedSize = false;

  constructor(driver: NatsDriver, options: NatsLinkOptions, handlers: NatsLinkHandlers) {
    this.#driver = driver;
    this.#o = options;
    this.#h = handlers;
    this.#subjects = new Subjects(options.prefix, options.nodeId);
    this.#self = originMarker(options.nodeId);
    this.#members = new Membership(options.nodeId);
    this.#queries = new PendingQueries(options.requestTimeout);
  }

  /** The connection is up and this node publishes. */
  get ready(): boolean {
    return this.#up;
  }

  get nodeId(): string {
    return this.#o.nodeId;
  }

  /** Live nodes, this one first. */
  nodes(): string[] {
    return this.#members.all();
  }

  /** Rooms this node listens to. */
  get roomSubscriptions(): number {
    return this.#rooms.size;
  }

  /** Subscribes and joins the cluster; resolves within requestTimeout even if NATS is away. */
  async start(): Promise<void> {
    if (!this.#closed) return;
    this.#closed = false;
    this.#unwatch = this.#driver.watch({
      up: () => this.#onUp(),
      down: (why) => this.#down(why),
      closed: () => this.#down('the NATS client was closed'),
    });
    for (const subject of [this.#subjects.all, this.#subjects.own]) {
      const unsub = this.#subscribe(subject);
      if (unsub) this.#subs.push(unsub);
    }
    for (const [room, unsub] of this.#rooms) if (!unsub) this.#rooms.set(room, this.#subscribe(this.#subjects.room(room)));
    this.#timer = setInterval(() => this.#beat(), this.#o.heartbeatInterval);
    this.#timer.unref();
    // Up once the server answers a PING: a client still reconnecting answers later (or never).
    const flushed = this.#driver.flush().then(
      () => this.#onUp(),
      (err: unknown) => this.#down(err),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#o.requestTimeout);
      timer.unref();
    });
    await Promise.race([flushed, late]);
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#queries.finishAll();
    const wasUp = this.#up;
    if (wasUp) this.publish(Kind.BYE, {}, EMPTY);
    this.#closed = true;
    for (const unsub of this.#subs) unsub();
    this.#subs = [];
    for (const unsub of this.#rooms.values()) unsub?.();
    this.#rooms.clear();
    // The goodbye and the unsubscribes leave before the application closes its client.
    if (wasUp) await this.#bounded(this.#driver.flush());
    this.#unwatch?.();
    this.#unwatch = null;
    this.#members.clear();
    this.#up = this.#wasDown = false;
  }

  async #bounded(p: Promise<unknown>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      p.catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#o.requestTimeout);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  #subscribe(subject: string): (() => void) | null {
    try {
      return this.#driver.subscribe(
        subject,
        (data) => this.#onMessage(data),
        (err) => this.#h.logger().warn(`NATS subscription ${subject}:`, err instanceof Error ? err.message : err),
      );
    } catch (err) {
      this.#down(err);
      return null;
    }
  }

  // ---- rooms ------------------------------------------------------------------------------

  /** Listens to `room`'s subject (it has a local member now). */
  watchRoom(room: string): void {
    if (this.#rooms.has(room)) return;
    this.#rooms.set(room, this.#closed ? null : this.#subscribe(this.#subjects.room(room)));
  }

  /** Stops listening to `room` (its last local member left). */
  unwatchRoom(room: string): void {
    const unsub = this.#rooms.get(room);
    if (unsub === undefined) return;
    this.#rooms.delete(room);
    unsub?.();
  }

  roomSubject(room: string): string {
    return this.#subjects.room(room);
  }

  get allSubject(): string {
    return this.#subjects.all;
  }

  // ---- up / down ----------------------------------------------------------------------------

  #down(err: unknown): void {
    if (this.#closed) return;
    if (this.#up || !this.#wasDown) {
      const why = err instanceof Error ? err.message : String(err);
      this.#h.logger().warn(`NATS unavailable (${why}): cluster delivery paused, local clients are still served`);
    }
    this.#up = false;
    this.#wasDown = true;
    // No answer can arrive meanwhile: settle the open queries with what they have.
    this.#queries.finishAll();
  }

  #onUp(): void {
    if (this.#closed || this.#up || this.#driver.closed) return;
    this.#up = true;
    if (this.#wasDown) this.#h.logger().info('NATS reachable again: cluster delivery resumed');
    this.#wasDown = false;
    this.#members.refresh(Date.now());
    this.publish(Kind.HELLO, {}, EMPTY);
  }

  // ---- publishing -------------------------------------------------------------------------

  #header(extra: Partial<Header>): Header {
    return { o: this.#o.nodeId, s: ++this.#seq, t: Date.now(), ...extra };
  }

  /** Fire and forget. False when it was dropped (NATS away, or above max_payload). */
  publish(kind: Kind, extra: Partial<Header>, body: Uint8Array, subject = this.#subjects.all): boolean {
    if (!this.#up) {
      this.counters.dropped++;
      return false;
    }
    const envelope = encodeEnvelope(kind, this.#header(extra), body, this.#o.secret);
    try {
      this.#driver.publish(subject, envelope);
    } catch (err) {
      this.counters.dropped++;
      this.#publishFailed(err, envelope.length);
      return false;
    }
    this.counters.published++;
    return true;
  }

  #publishFailed(err: unknown, size: number): void {
    const max = this.#driver.maxPayload;
    if (max !== undefined && size > max) {
      if (!this.#warnedSize) {
        this.#warnedSize = true;
        this.#h
          .logger()
          .warn(`a cluster message of ${size} bytes is above NATS max_payload (${max}): delivered on this node only (counted in dropped; said once)`);
      }
      return;
    }
    this.#down(err);
  }

  // ---- receiving --------------------------------------------------------------------------

  #onMessage(buf: Buffer): void {
    // Our own messages come back (NATS echoes unless the client was made with noEcho).
    if (startsWithOrigin(buf, this.#self)) return;
    this.counters.received++;
    const env = openEnvelope(buf, this.#o.secret, this.#guard, this.counters);
    if (!env) return;
    const from = env.header.o;
    if (from === this.#o.nodeId) return;
    if (!isNodeId(from)) {
      this.counters.malformed++;
      return;
    }
    switch (env.kind) {
      case Kind.DELIVER:
        this.#h.deliver(env);
        return;
      case Kind.REQUEST:
        if (typeof env.header.q === 'string') this.#answer(env);
        return;
      case Kind.RESPONSE:
        this.#onResponse(env);
        return;
      case Kind.HELLO:
        this.#heard(from);
        return;
      case Kind.BYE:
        if (this.#members.left(from)) {
          this.#queries.nodeLeft(from);
          this.#h.nodesChanged([], [from]);
        }
        return;
    }
  }

  // ---- membership -------------------------------------------------------------------------

  #heard(from: string): void {
    if (!this.#members.heard(from, Date.now())) return;
    this.#h.nodesChanged([from], []);
    // A newcomer learns of this node now rather than at its next heartbeat.
    this.publish(Kind.HELLO, {}, EMPTY, this.#subjects.node(from));
  }

  #beat(): void {
    if (this.#closed) return;
    this.#guard.prune();
    if (!this.#up) return;
    this.publish(Kind.HELLO, {}, EMPTY);
    const gone = this.#members.expire(Date.now(), this.#o.heartbeatTimeout);
    if (gone.length === 0) return;
    for (const id of gone) this.#queries.nodeLeft(id);
    this.#h.nodesChanged([], gone);
  }

  // ---- queries ------------------------------------------------------------------------------

  /** Asks every other live node; resolves with their answers (partial after requestTimeout). */
  ask(kind: string, arg?: string): Promise<unknown[]> {
    const others = this.#members.others();
    if (others.length === 0 || !this.#up) return Promise.resolve([]);
    const { id, done } = this.#queries.open(others);
    if (!this.publish(Kind.REQUEST, { q: id, k: kind, a: arg }, EMPTY)) this.#queries.finish(id);
    return done;
  }

  #answer(env: Envelope): void {
    const subject = this.#subjects.node(env.header.o);
    // A query that throws, or an answer that is not JSON (a BigInt in some metadata), is answered null.
    respond(
      () => this.#h.answer(String(env.header.k), env.header.a),
      (body) => this.publish(Kind.RESPONSE, { q: env.header.q }, body, subject),
      () => this.#h.logger(),
    );
  }

  #onResponse(env: Envelope): void {
    const q = env.header.q;
    if (typeof q !== 'string') return;
    let result: unknown;
    try {
      result = JSON.parse(env.body.toString('utf8'));
    } catch {
      this.counters.malformed++;
      return;
    }
    this.#queries.answer(q, env.header.o, result);
  }
}
