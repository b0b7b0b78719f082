/**
 * A node's line to the rest of the cluster: the subscriber connection, publishing, node
 * membership (heartbeats in a Redis sorted set) and request/response queries.
 *
 * Redis trouble is not an error for the server: while Redis is away the node keeps serving
 * its own clients, drops what it would have published (no queue: a late cluster message is
 * worth less than a dropped one), logs once when the link goes down and once when it is back.
 * The user's client reconnects on its own (with its backoff); both clients resubscribe.
 */
import { randomBytes } from 'node:crypto';
import type { ClientAnswer, ClientRequest } from '../../contracts/index.js';
import type { LoggerLike } from '../../logger.js';
import { ClusterRequests } from './client-requests.js';
import type { RedisDriver } from './driver.js';
import { decodeEnvelope, encodeEnvelope, type Envelope, type Header, Kind, RECORDED_MARK, ReplayGuard, splitRecorded } from '../shared/envelope.js';
import { respond } from '../shared/queries.js';
import { ChannelWatch } from './channel-watch.js';
import type { Names } from './names.js';
import { HEARTBEAT, RECORD, type Script } from './scripts.js';
import type { RedisArg } from './driver.js';

export interface LinkOptions {
  names: Names;
  nodeId: string;
  secret: Buffer | null;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  requestTimeout: number;
  /** Most publishes waiting for Redis at once; past it, new ones are dropped. */
  maxPending: number;
}

export interface LinkHandlers {
  /** A DELIVER from another node (or any recorded one, ours included, with its stream position). */
  deliver(env: Envelope, recorded: { epoch: string; id: string } | null): void;
  /** Answers a query from another node (JSON-able, or a Promise of it for work done in slices). */
  answer(kind: string, arg: string | undefined): unknown;
  /** Asks a client of this node for another node (null: not here). */
  askClient(id: string, request: ClientRequest, timeoutMs: number): Promise<ClientAnswer> | null;
  nodesChanged(joined: string[], left: string[]): void;
  /** The link is up again after an outage (or for the first time). */
  up(): void;
  /** Recorded messages may have been missed here (Redis Cluster: the recorded channel went deaf). */
  gap(): void;
  logger(): LoggerLike;
}

export interface LinkCounters {
  published: number;
  received: number;
  /** Envelopes whose HMAC was missing or wrong (with a secret). */
  forged: number;
  /** Authentic envelopes seen before (replayed) or with a timestamp far off. */
  replayed: number;
  malformed: number;
  /** Publishes dropped because Redis was unavailable or too far behind. */
  dropped: number;
}

/** What a cluster query got: the answers, and the live nodes that gave none. */
export interface QueryAnswer {
  results: unknown[];
  missing: string[];
}

interface Pending {
  expected: Set<string>;
  results: unknown[];
  missing: string[];
  resolve: (answer: QueryAnswer) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class ClusterLink {
  readonly counters: LinkCounters = { published: 0, received: 0, forged: 0, replayed: 0, malformed: 0, dropped: 0 };
  /** Server -> client requests to clients of other nodes, and theirs to ours. */
  readonly requests: ClusterRequests;
  readonly #driver: RedisDriver;
  readonly #o: LinkOptions;
  readonly #h: LinkHandlers;
  readonly #guard = new ReplayGuard();
  readonly #names: Names;
  readonly #ownChannel: string;
  readonly #nodesKey: string;
  /** A node whose last beat is older than this (ms, Redis' clock) is not waited for. */
  readonly #suspectAfter: number;
  #sub: RedisDriver | null = null;
  #subscribing: Promise<void> | null = null;
  #unwatch: Array<() => void> = [];
  #timer: ReturnType<typeof setInterval> | null = null;
  #seq = 0;
  #pending = 0;
  #queries = new Map<string, Pending>();
  #nodes = new Set<string>();
  /** Live nodes that missed a beat or more: not asked, reported missing. */
  #suspects = new Set<string>();
  /** Kept alive by the heartbeat (recovery history), with their expiry. */
  #kept: { keys: string[]; ttl: number } = { keys: [], ttl: 0 };
  /** Redis Cluster: canaries on the sharded channels (null on a single Redis). */
  readonly #watch: ChannelWatch | null;
  /** Last known state, to log transitions once. */
  #up = false;
  #wasDown = false;
  #closed = true;

  constructor(driver: RedisDriver, options: LinkOptions, handlers: LinkHandlers) {
    const link = this;
    this.#driver = driver;
    this.#o = options;
    this.#h = handlers;
    this.#names = options.names;
    this.#ownChannel = options.names.node(options.nodeId);
    this.#nodesKey = options.names.key('nodes');
    this.#suspectAfter = Math.min(2 * options.heartbeatInterval, options.heartbeatTimeout);
    this.#watch = driver.sharded
      ? new ChannelWatch(
          [...options.names.shared, this.#ownChannel],
          Math.max(options.heartbeatInterval, 1000),
          (channel) => this.publish(Kind.HELLO, { k: CANARY, a: channel }, EMPTY, channel),
          {
            lost: (channels, first) => {
              if (first) {
                const logger = this.#h.logger();
                logger.warn(
                  `Redis Cluster: ${channels.length} sharded channel(s) stopped delivering (shard failover or slot migration?): those messages are lost until the client resubscribes`,
                );
              }
              // Recorded messages may have passed by unseen: the recovery epoch must change.
              if (channels.includes(options.names.all)) this.#h.gap();
            },
            back: () => {
              this.#h.logger().info('Redis Cluster: every sharded channel delivers again');
              this.#h.up();
            },
          },
        )
      : null;
    this.requests = new ClusterRequests({
      nodeId: options.nodeId,
      otherNodes: () => [...this.#nodes].filter((n) => n !== options.nodeId),
      get ready() {
        return link.ready;
      },
      publish: (kind, header, body, toNode) => this.publish(kind, header, body, toNode === undefined ? this.#names.all : this.#names.node(toNode)),
      askLocal: (id, request, timeoutMs) => handlers.askClient(id, request, timeoutMs),
      malformed: () => void this.counters.malformed++,
      logger: () => handlers.logger(),
    });
  }

  get names(): Names {
    return this.#names;
  }

  /** Keys the heartbeat keeps alive (`ttl` ms after the last beat of any node). */
  keepAlive(keys: string[], ttl: number): void {
    this.#kept = { keys, ttl };
  }

  /** Both connections can run commands right now. */
  get ready(): boolean {
    return this.#driver.ready && (this.#sub?.ready ?? false);
  }

  get nodeId(): string {
    return this.#o.nodeId;
  }

  get heartbeatTimeout(): number {
    return this.#o.heartbeatTimeout;
  }

  get requestTimeout(): number {
    return this.#o.requestTimeout;
  }

  /** The command connection is usable (the subscriber may still be reconnecting). */
  get commandsReady(): boolean {
    return this.#driver.ready;
  }

  /** Runs a command about `key` now, or rejects at once when Redis is away (never queued offline). */
  command(args: RedisArg[], key: RedisArg): Promise<unknown> {
    if (!this.#driver.ready) return Promise.reject(new Error('Redis unavailable'));
    return this.#driver.command(args, key);
  }

  /** Runs a script now (EVALSHA, EVAL on NOSCRIPT), or rejects at once when Redis is away. */
  run(script: Script, keys: RedisArg[], args: RedisArg[], buffers = false): Promise<unknown> {
    if (!this.#driver.ready) return Promise.reject(new Error('Redis unavailable'));
    return script.run(this.#driver, keys, args, buffers);
  }

  /** Live nodes (this one included) as of the last heartbeat. */
  nodes(): string[] {
    return [...this.#nodes];
  }

  get nodeCount(): number {
    return this.#nodes.size;
  }

  /** Connects the subscriber and starts the heartbeat. Resolves within requestTimeout even if Redis is away. */
  async start(): Promise<void> {
    if (!this.#closed) return;
    this.#closed = false;
    this.#unwatch.push(
      this.#driver.watch(
        () => this.#check(),
        (err) => this.#down(err),
      ),
    );
    this.#timer = setInterval(() => this.#beat(), this.#o.heartbeatInterval);
    this.#timer.unref();
    const attempt = this.#connectSubscriber();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#o.requestTimeout);
      timer.unref();
    });
    await Promise.race([attempt, late]);
    clearTimeout(timer);
  }

  #connectSubscriber(): Promise<void> {
    if (this.#sub || this.#subscribing) return this.#subscribing ?? Promise.resolve();
    this.#subscribing = (async () => {
      try {
        const sub = await this.#driver.duplicate();
        if (this.#closed) {
          await sub.quit();
          return;
        }
        this.#unwatch.push(
          sub.watch(
            () => this.#check(),
            (err) => this.#down(err),
          ),
        );
        await sub.subscribe([...this.#names.shared, this.#ownChannel], (_channel, message) => this.#onMessage(message));
        this.#sub = sub;
        this.#check();
      } catch (err) {
        this.#down(err);
      } finally {
        this.#subscribing = null;
      }
    })();
    return this.#subscribing;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const q of this.#queries.values()) this.#finish(q);
    this.#queries.clear();
    this.requests.close();
    if (this.#driver.ready) {
      this.publish(Kind.BYE, {}, EMPTY);
      await HEARTBEAT.run(this.#driver, [this.#nodesKey], [this.#o.nodeId, '']).catch(() => {});
    }
    await this.#subscribing;
    for (const off of this.#unwatch) off();
    this.#unwatch = [];
    const sub = this.#sub;
    this.#sub = null;
    await sub?.quit();
    this.#nodes.clear();
    this.#watch?.reset();
    this.#up = this.#wasDown = false;
  }

  // ---- up / down ----------------------------------------------------------------------------

  #down(err?: unknown): void {
    if (this.#closed) return;
    if (this.#up || !this.#wasDown) {
      const why = err instanceof Error ? err.message : err === undefined ? 'connection closed' : String(err);
      this.#h.logger().warn(`Redis unavailable (${why}): cluster delivery paused, local clients are still served`);
    }
    this.#up = false;
    this.#wasDown = true;
  }

  /**
   * A command failed. On a single Redis that means Redis is away (the client's events follow).
   * On a cluster it is one shard's trouble (a failover under way, say), not the link's: the
   * channel watch reports what it costs, once each way.
   */
  #failed(err: unknown): void {
    if (!this.#watch) this.#down(err);
  }

  /** Called on any 'ready': when both connections are up again, say so once and rejoin. */
  #check(): void {
    if (this.#closed || !this.ready || this.#up) {
      if (!this.#closed && this.#driver.ready && !this.#sub) void this.#connectSubscriber();
      return;
    }
    this.#up = true;
    if (this.#wasDown) this.#h.logger().info('Redis reachable again: cluster delivery resumed');
    this.#wasDown = false;
    this.publish(Kind.HELLO, {}, EMPTY);
    this.#beat();
    this.#h.up();
  }

  // ---- publishing -------------------------------------------------------------------------

  #header(extra: Partial<Header>): Header {
    return { o: this.#o.nodeId, s: ++this.#seq, t: Date.now(), ...extra };
  }

  /** Fire and forget. False when it was dropped (Redis away, or too many publishes pending). */
  publish(kind: Kind, extra: Partial<Header>, body: Uint8Array, channel = this.#names.all): boolean {
    if (!this.#driver.ready || this.#pending >= this.#o.maxPending) {
      this.counters.dropped++;
      return false;
    }
    void this.#send(channel, encodeEnvelope(kind, this.#header(extra), body, this.#o.secret));
    return true;
  }

  /** Publishes an envelope; resolves with how many subscribers got it (-1: it failed, counted). */
  #send(channel: string, envelope: Buffer): Promise<number> {
    this.#pending++;
    return this.#driver.publish(channel, envelope).then(
      (receivers) => {
        this.#pending--;
        this.counters.published++;
        return receivers;
      },
      (err: unknown) => {
        this.#pending--;
        this.counters.dropped++;
        this.#failed(err);
        return -1;
      },
    );
  }

  /** Records a DELIVER in the history stream and publishes it (one script). Rejects when Redis is away. */
  record(
    extra: Partial<Header>,
    body: Uint8Array,
    keys: { stream: string; epoch: string },
    maxLen: number,
    candidateEpoch: string,
    ttl: number,
  ): Promise<unknown> {
    if (!this.#driver.ready || this.#pending >= this.#o.maxPending) {
      this.counters.dropped++;
      return Promise.reject(new Error('Redis unavailable'));
    }
    const envelope = encodeEnvelope(Kind.DELIVER, this.#header(extra), body, this.#o.secret);
    this.#pending++;
    const publish = this.#names.sharded ? 'SPUBLISH' : 'PUBLISH';
    return RECORD.run(this.#driver, [keys.stream, keys.epoch], [this.#names.all, String(maxLen), candidateEpoch, envelope, String(Math.ceil(ttl)), publish])
      .finally(() => {
        this.#pending--;
      })
      .then((id) => {
        this.counters.published++;
        return id;
      });
  }

  // ---- receiving --------------------------------------------------------------------------

  /** Verifies (HMAC, replay) and parses; null when the envelope must be dropped (counted). */
  open(buf: Buffer, checkReplay = true): Envelope | null {
    const env = decodeEnvelope(buf, this.#o.secret);
    if (env === 'forged') {
      this.counters.forged++;
      return null;
    }
    if (env === 'malformed') {
      this.counters.malformed++;
      return null;
    }
    if (checkReplay && !this.#guard.fresh(env.header)) {
      this.counters.replayed++;
      return null;
    }
    return env;
  }

  #onMessage(buf: Buffer): void {
    this.counters.received++;
    if (buf[0] === RECORDED_MARK) {
      const parts = splitRecorded(buf);
      if (!parts) {
        this.counters.malformed++;
        return;
      }
      const env = this.open(parts.envelope);
      if (env && env.kind === Kind.DELIVER) this.#h.deliver(env, { epoch: parts.epoch, id: parts.id });
      return;
    }
    const env = this.open(buf);
    if (!env) return;
    const from = env.header.o;
    const self = from === this.#o.nodeId;
    switch (env.kind) {
      case Kind.DELIVER:
        if (!self) this.#h.deliver(env, null);
        return;
      case Kind.REQUEST:
        if (!self && env.header.q) this.#answer(env);
        return;
      case Kind.RESPONSE:
        this.#onResponse(env);
        return;
      case Kind.CLIENT_REQUEST:
        if (!self) this.requests.onRequest(env);
        return;
      case Kind.CLIENT_ANSWER:
        this.requests.onAnswer(env);
        return;
      case Kind.HELLO:
        if (self && env.header.k === CANARY && env.header.a !== undefined) this.#watch?.echo(env.header.a);
        if (!self && !this.#nodes.has(from)) {
          this.#nodes.add(from);
          this.#h.nodesChanged([from], []);
        }
        return;
      case Kind.BYE:
        if (!self && this.#nodes.delete(from)) {
          this.#suspects.delete(from);
          // It said goodbye: its clients left with it, so its silence leaves nothing out.
          for (const [q, p] of this.#queries) if (p.expected.delete(from)) this.#settle(p, q);
          this.#h.nodesChanged([], [from]);
          this.requests.nodesLeft([from]);
        }
        return;
    }
  }

  // ---- membership -------------------------------------------------------------------------

  #beat(): void {
    if (this.#closed) return;
    this.#guard.prune();
    if (!this.#sub && !this.#subscribing && this.#driver.ready) void this.#connectSubscriber();
    if (!this.#driver.ready) return;
    if (this.#watch && this.#sub) this.#watch.tick();
    const { keys, ttl } = this.#kept;
    HEARTBEAT.run(this.#driver, [this.#nodesKey, ...keys], [this.#o.nodeId, String(this.#o.heartbeatTimeout), String(Math.ceil(ttl))]).then(
      (reply) => this.#setNodes(Array.isArray(reply) ? reply.map(String) : []),
      (err: unknown) => this.#failed(err),
    );
  }

  /** `reply` = [now, id1, beat1, id2, beat2, ...] on Redis' clock. */
  #setNodes(reply: string[]): void {
    if (this.#closed) return;
    const now = Number(reply[0]);
    const next = new Set<string>([this.#o.nodeId]);
    const suspects = new Set<string>();
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const id = reply[i];
      next.add(id);
      if (id !== this.#o.nodeId && now - Number(reply[i + 1]) > this.#suspectAfter) suspects.add(id);
    }
    const joined = [...next].filter((n) => !this.#nodes.has(n));
    const left = [...this.#nodes].filter((n) => !next.has(n));
    this.#nodes = next;
    this.#suspects = suspects;
    if (joined.length || left.length) this.#h.nodesChanged(joined, left);
    // A node that left or went quiet answers no query: stop waiting for it.
    for (const [q, p] of this.#queries) for (const n of [...left, ...suspects]) this.#giveUp(p, n, q);
    if (left.length) this.requests.nodesLeft(left);
  }

  // ---- queries ------------------------------------------------------------------------------

  /**
   * Asks every other live node, each on its own channel, and resolves as soon as each has
   * answered or is known not to: a node with no subscriber on its channel (its process died,
   * its connection dropped) or one that missed a beat is not waited for; it is listed in
   * `missing`, as is one that does not answer within requestTimeout.
   */
  ask(kind: string, arg?: string): Promise<QueryAnswer> {
    const others = [...this.#nodes].filter((n) => n !== this.#o.nodeId);
    if (others.length === 0) return Promise.resolve({ results: [], missing: [] });
    if (!this.ready) return Promise.resolve({ results: [], missing: others });
    const expected = new Set(others.filter((n) => !this.#suspects.has(n)));
    const missing = others.filter((n) => this.#suspects.has(n));
    if (expected.size === 0) return Promise.resolve({ results: [], missing });
    const q = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const pending: Pending = {
        expected,
        results: [],
        missing,
        resolve,
        timer: setTimeout(() => this.#finish(pending, q), this.#o.requestTimeout),
      };
      pending.timer.unref();
      this.#queries.set(q, pending);
      if (this.#pending >= this.#o.maxPending) {
        this.counters.dropped++;
        this.#finish(pending, q);
        return;
      }
      const envelope = encodeEnvelope(Kind.REQUEST, this.#header({ q, k: kind, a: arg }), EMPTY, this.#o.secret);
      for (const node of expected) {
        void this.#send(this.#names.node(node), envelope).then((receivers) => {
          // Nobody listens on its channel: it is gone (or cut off), it will not answer.
          if (receivers <= 0) this.#giveUp(pending, node, q);
        });
      }
    });
  }

  #answer(env: Envelope): void {
    const channel = this.#names.node(env.header.o);
    respond(
      () => this.#h.answer(env.header.k ?? '', env.header.a),
      (body) => {
        if (!this.#closed) this.publish(Kind.RESPONSE, { q: env.header.q }, body, channel);
      },
      () => this.#h.logger(),
    );
  }

  #onResponse(env: Envelope): void {
    const q = env.header.q;
    const pending = q ? this.#queries.get(q) : undefined;
    if (!pending?.expected.has(env.header.o)) return;
    try {
      pending.results.push(JSON.parse(env.body.toString('utf8')));
    } catch {
      this.counters.malformed++;
    }
    pending.expected.delete(env.header.o);
    this.#settle(pending, q);
  }

  /** Stops waiting for `node`, which will not answer: the answer is incomplete. */
  #giveUp(pending: Pending, node: string, q?: string): void {
    if (!pending.expected.delete(node)) return;
    pending.missing.push(node);
    this.#settle(pending, q);
  }

  #settle(pending: Pending, q?: string): void {
    if (pending.expected.size === 0) this.#finish(pending, q);
  }

  /** Resolves once (a later call finds it gone); whoever did not answer by now is missing. */
  #finish(pending: Pending, q?: string): void {
    clearTimeout(pending.timer);
    if (q) {
      if (!this.#queries.delete(q)) return;
    } else for (const [k, v] of this.#queries) if (v === pending) this.#queries.delete(k);
    pending.missing.push(...pending.expected);
    pending.expected.clear();
    pending.resolve({ results: pending.results, missing: pending.missing });
  }
}

const EMPTY = new Uint8Array(0);
/** A HELLO with this `k` is a channel canary (ChannelWatch); other nodes see a plain hello. */
const CANARY = 'canary';
