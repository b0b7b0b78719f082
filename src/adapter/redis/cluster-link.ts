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
import { HEARTBEAT, RECORD, type Script } from './scripts.js';
import type { RedisArg } from './driver.js';

export interface LinkOptions {
  prefix: string;
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

interface Pending {
  expected: Set<string>;
  results: unknown[];
  resolve: (results: unknown[]) => void;
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
  readonly #allChannel: string;
  readonly #ownChannel: string;
  readonly #nodesKey: string;
  #sub: RedisDriver | null = null;
  #subscribing: Promise<void> | null = null;
  #unwatch: Array<() => void> = [];
  #timer: ReturnType<typeof setInterval> | null = null;
  #seq = 0;
  #pending = 0;
  #queries = new Map<string, Pending>();
  #nodes = new Set<string>();
  /** Last known state, to log transitions once. */
  #up = false;
  #wasDown = false;
  #closed = true;

  constructor(driver: RedisDriver, options: LinkOptions, handlers: LinkHandlers) {
    const link = this;
    this.#driver = driver;
    this.#o = options;
    this.#h = handlers;
    this.#allChannel = `${options.prefix}all`;
    this.#ownChannel = `${options.prefix}node:${options.nodeId}`;
    this.#nodesKey = `${options.prefix}nodes`;
    this.requests = new ClusterRequests({
      nodeId: options.nodeId,
      otherNodes: () => [...this.#nodes].filter((n) => n !== options.nodeId),
      get ready() {
        return link.ready;
      },
      publish: (kind, header, body, toNode) => this.publish(kind, header, body, toNode === undefined ? this.#allChannel : `${options.prefix}node:${toNode}`),
      askLocal: (id, request, timeoutMs) => handlers.askClient(id, request, timeoutMs),
      malformed: () => void this.counters.malformed++,
      logger: () => handlers.logger(),
    });
  }

  /** Both connections can run commands right now. */
  get ready(): boolean {
    return this.#driver.ready && (this.#sub?.ready ?? false);
  }

  get nodeId(): string {
    return this.#o.nodeId;
  }

  get requestTimeout(): number {
    return this.#o.requestTimeout;
  }

  /** The command connection is usable (the subscriber may still be reconnecting). */
  get commandsReady(): boolean {
    return this.#driver.ready;
  }

  /** Runs a command now, or rejects at once when Redis is away (never queued offline). */
  command(args: RedisArg[]): Promise<unknown> {
    if (!this.#driver.ready) return Promise.reject(new Error('Redis unavailable'));
    return this.#driver.command(args);
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
        await sub.subscribe([this.#allChannel, this.#ownChannel], (_channel, message) => this.#onMessage(message));
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
  publish(kind: Kind, extra: Partial<Header>, body: Uint8Array, channel = this.#allChannel): boolean {
    if (!this.#driver.ready || this.#pending >= this.#o.maxPending) {
      this.counters.dropped++;
      return false;
    }
    const envelope = encodeEnvelope(kind, this.#header(extra), body, this.#o.secret);
    this.#pending++;
    this.#driver.command(['PUBLISH', channel, envelope]).then(
      () => {
        this.#pending--;
        this.counters.published++;
      },
      (err: unknown) => {
        this.#pending--;
        this.counters.dropped++;
        this.#down(err);
      },
    );
    return true;
  }

  /** Records a DELIVER in the history stream and publishes it (one script). Rejects when Redis is away. */
  record(extra: Partial<Header>, body: Uint8Array, keys: { stream: string; epoch: string }, maxLen: number, candidateEpoch: string): Promise<unknown> {
    if (!this.#driver.ready || this.#pending >= this.#o.maxPending) {
      this.counters.dropped++;
      return Promise.reject(new Error('Redis unavailable'));
    }
    const envelope = encodeEnvelope(Kind.DELIVER, this.#header(extra), body, this.#o.secret);
    this.#pending++;
    return RECORD.run(this.#driver, [keys.stream, keys.epoch], [this.#allChannel, String(maxLen), candidateEpoch, envelope])
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
        if (!self && !this.#nodes.has(from)) {
          this.#nodes.add(from);
          this.#h.nodesChanged([from], []);
        }
        return;
      case Kind.BYE:
        if (!self && this.#nodes.delete(from)) {
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
    HEARTBEAT.run(this.#driver, [this.#nodesKey], [this.#o.nodeId, String(this.#o.heartbeatTimeout)]).then(
      (reply) => this.#setNodes(Array.isArray(reply) ? reply.map(String) : []),
      (err: unknown) => this.#down(err),
    );
  }

  #setNodes(live: string[]): void {
    if (this.#closed) return;
    const next = new Set(live);
    next.add(this.#o.nodeId);
    const joined = [...next].filter((n) => !this.#nodes.has(n));
    const left = [...this.#nodes].filter((n) => !next.has(n));
    this.#nodes = next;
    if (joined.length || left.length) this.#h.nodesChanged(joined, left);
    // A node that left answers no query: stop waiting for it.
    if (left.length) for (const q of this.#queries.values()) for (const n of left) q.expected.delete(n), this.#settle(q);
    if (left.length) this.requests.nodesLeft(left);
  }

  // ---- queries ------------------------------------------------------------------------------

  /** Asks every other live node; resolves with their answers (partial after requestTimeout). */
  ask(kind: string, arg?: string): Promise<unknown[]> {
    const expected = new Set([...this.#nodes].filter((n) => n !== this.#o.nodeId));
    if (expected.size === 0 || !this.ready) return Promise.resolve([]);
    const q = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const pending: Pending = {
        expected,
        results: [],
        resolve,
        timer: setTimeout(() => this.#finish(pending, q), this.#o.requestTimeout),
      };
      pending.timer.unref();
      this.#queries.set(q, pending);
      if (!this.publish(Kind.REQUEST, { q, k: kind, a: arg }, EMPTY)) this.#finish(pending, q);
    });
  }

  #answer(env: Envelope): void {
    const channel = `${this.#o.prefix}node:${env.header.o}`;
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
    if (!pending) return;
    try {
      pending.results.push(JSON.parse(env.body.toString('utf8')));
    } catch {
      this.counters.malformed++;
    }
    pending.expected.delete(env.header.o);
    this.#settle(pending, q);
  }

  #settle(pending: Pending, q?: string): void {
    if (pending.expected.size === 0) this.#finish(pending, q);
  }

  #finish(pending: Pending, q?: string): void {
    clearTimeout(pending.timer);
    if (q) this.#queries.delete(q);
    else for (const [k, v] of this.#queries) if (v === pending) this.#queries.delete(k);
    pending.resolve(pending.results);
  }
}

const EMPTY = new Uint8Array(0);
