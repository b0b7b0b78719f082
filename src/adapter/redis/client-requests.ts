/**
 * Server -> client requests across the cluster (`server.request(id, …)` for a client on another
 * node), in the style of the cluster queries: the asking node publishes one CLIENT_REQUEST to
 * every node; every other node answers on the asking node's own channel, so answers come back
 * to the node that asked and to no other:
 *
 *   1. at once, `c`: how many of its clients it asked (0 or 1 for one id);
 *   2. for each of them, when the request settles there (the client's answer, its timeout, its
 *      connection's end), the outcome as JSON (`ClientAnswer`).
 *
 * The asker settles on the first answer; with `c` 0 from every live node (or no other node,
 * or Redis away) it knows at once that nobody has the client (STELAR_ERR_NOT_CONNECTED); a
 * node that leaves while its client was asked fails the request (STELAR_ERR_CONNECTION_CLOSED);
 * its own timer (the request's timeout) bounds the rest. A request to many clients at once can
 * reuse the same two messages: a route instead of one id in the request, `c` > 1 in the count.
 *
 * The node that has the client asks it through its server (`AdapterHost.requestClient`), so the
 * request counts against that server's caps and timeout like one of its own.
 */
import { randomBytes } from 'node:crypto';
import type { ClientAnswer, ClientRequest } from '../../contracts/index.js';
import type { LoggerLike } from '../../logger.js';
import { ErrorCode } from '../../protocol/index.js';
import { type Envelope, type Header, Kind } from '../shared/envelope.js';

/** The longest timeout accepted from another node (setTimeout's limit). */
const MAX_TIMEOUT_MS = 0x7fffffff;

export interface RequestParts {
  readonly nodeId: string;
  /** Other live nodes, as of the last heartbeat. */
  otherNodes(): string[];
  /** Both Redis connections are usable. */
  readonly ready: boolean;
  /** Fire and forget; false when dropped. `toNode`: that node's own channel (else every node's). */
  publish(kind: Kind, header: Partial<Header>, body: Uint8Array, toNode?: string): boolean;
  /** Asks a client of this node; null when it is not here. */
  askLocal(id: string, request: ClientRequest, timeoutMs: number): Promise<ClientAnswer> | null;
  /** An authentic envelope with a bad body: counted with the link's malformed ones. */
  malformed(): void;
  logger(): LoggerLike;
}

interface Asked {
  /** Nodes that have not said yet whether they have the client. */
  readonly expected: Set<string>;
  /** Nodes that asked the client and owe its answer. */
  readonly holders: Set<string>;
  readonly settle: (answer: ClientAnswer) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

const EMPTY = new Uint8Array(0);

function failed(code: ErrorCode, message: string): ClientAnswer {
  return { ok: false, error: { message, code } };
}

/** A ClientAnswer received from another node, or null when it is not one. */
function readAnswer(body: Buffer): ClientAnswer | null {
  let v: { ok?: unknown; data?: unknown; error?: { message?: unknown; code?: unknown } };
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  if (v.ok === true) return { ok: true, data: v.data };
  const e = v.error;
  if (v.ok !== false || !e || typeof e.message !== 'string' || typeof e.code !== 'string') return null;
  return failed(e.code as ErrorCode, e.message);
}

/** A CLIENT_REQUEST's body, checked; null when malformed. */
function readRequest(body: Buffer): { request: ClientRequest; timeoutMs: number } | null {
  let v: { e?: unknown; n?: unknown; d?: unknown; m?: unknown };
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || typeof v.e !== 'string' || v.e === '' || typeof v.n !== 'string' || v.n === '') return null;
  if (typeof v.m !== 'number' || !(v.m > 0)) return null;
  return { request: { event: v.e, ackName: v.n, data: v.d }, timeoutMs: Math.min(v.m, MAX_TIMEOUT_MS) };
}

export class ClusterRequests {
  readonly #p: RequestParts;
  readonly #asked = new Map<string, Asked>();

  constructor(parts: RequestParts) {
    this.#p = parts;
  }

  /** Requests this node is waiting on. */
  get size(): number {
    return this.#asked.size;
  }

  /** Asks the client `id` wherever it is; resolves (never rejects) within `timeoutMs`. */
  ask(id: string, request: ClientRequest, timeoutMs: number): Promise<ClientAnswer> {
    const p = this.#p;
    const expected = new Set(p.otherNodes());
    if (expected.size === 0) return Promise.resolve(failed(ErrorCode.NOT_CONNECTED, `client ${id} is not connected to any node`));
    if (!p.ready) return Promise.resolve(failed(ErrorCode.NOT_CONNECTED, `client ${id} is not on this node and the cluster is unreachable`));
    const q = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => this.#finish(q, failed(ErrorCode.ACK_TIMEOUT, `no answer to "${request.event}" within ${timeoutMs} ms`)),
        Math.min(timeoutMs, MAX_TIMEOUT_MS),
      );
      timer.unref();
      this.#asked.set(q, { expected, holders: new Set(), settle: resolve, timer });
      const body = Buffer.from(JSON.stringify({ e: request.event, n: request.ackName, d: request.data, m: timeoutMs }));
      if (!p.publish(Kind.CLIENT_REQUEST, { q, i: id }, body)) {
        this.#finish(q, failed(ErrorCode.NOT_CONNECTED, `client ${id} is not on this node and the cluster is unreachable`));
      }
    });
  }

  /** Another node asks one of our clients. */
  onRequest(env: Envelope): void {
    const { q, i: id, o: from } = env.header;
    if (typeof q !== 'string' || typeof id !== 'string') {
      this.#p.malformed();
      return;
    }
    const read = readRequest(env.body);
    if (!read) {
      this.#p.malformed();
      return;
    }
    let asking: Promise<ClientAnswer> | null;
    try {
      asking = this.#p.askLocal(id, read.request, read.timeoutMs);
    } catch (err) {
      this.#p.logger().error('cluster request failed:', err);
      asking = null;
    }
    this.#p.publish(Kind.CLIENT_ANSWER, { q, c: asking ? 1 : 0 }, EMPTY, from);
    asking?.then((answer) => this.#p.publish(Kind.CLIENT_ANSWER, { q }, Buffer.from(JSON.stringify(answer)), from));
  }

  /** A node tells us about a request of ours: its count, or an answer. */
  onAnswer(env: Envelope): void {
    const { q, c, o: from } = env.header;
    const asked = typeof q === 'string' ? this.#asked.get(q) : undefined;
    if (!asked || q === undefined) return;
    if (c !== undefined) {
      if (typeof c !== 'number') {
        this.#p.malformed();
        return;
      }
      asked.expected.delete(from);
      if (c > 0) asked.holders.add(from);
      return this.#checkAbsent(q, asked);
    }
    const answer = readAnswer(env.body);
    if (!answer) {
      this.#p.malformed();
      return;
    }
    this.#finish(q, answer);
  }

  /** Nodes that left answer nothing more: stop waiting for them. */
  nodesLeft(left: string[]): void {
    for (const [q, asked] of this.#asked) {
      for (const node of left) {
        asked.expected.delete(node);
        if (asked.holders.has(node)) {
          this.#finish(q, failed(ErrorCode.CONNECTION_CLOSED, `the node of the client (${node}) left before it answered`));
          break;
        }
      }
      if (this.#asked.has(q)) this.#checkAbsent(q, asked);
    }
  }

  /** The link is closing: nothing can answer any more. */
  close(): void {
    for (const q of [...this.#asked.keys()]) this.#finish(q, failed(ErrorCode.CONNECTION_CLOSED, 'the server is leaving the cluster'));
  }

  #checkAbsent(q: string, asked: Asked): void {
    if (asked.expected.size === 0 && asked.holders.size === 0) this.#finish(q, failed(ErrorCode.NOT_CONNECTED, 'the client is not connected to any node'));
  }

  #finish(q: string, answer: ClientAnswer): void {
    const asked = this.#asked.get(q);
    if (!asked) return;
    this.#asked.delete(q);
    clearTimeout(asked.timer);
    asked.settle(answer);
  }
}
