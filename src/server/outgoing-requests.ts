/**
 * Requests the server sends to clients (server -> client ACK Requests: `server.request()`,
 * `ctx.request()`), from the id on the wire to the settled answer. The one owner of that
 * bookkeeping, so a request to many clients at once reuses it client by client:
 *
 *   send(peer, request, timeoutMs, settle)  one ACK Request out; `settle` is called exactly
 *                                           once, with the client's answer, the timeout, the
 *                                           connection's end, or a refusal (at once)
 *   answer(peer, ackId, ok, data)           the client's ACK Response; true when it settled one
 *   release(peer)                           the connection is ending: its requests fail
 *   wait(remote, event, timeoutMs, settle)  a request answered elsewhere (a client on another
 *                                           node): counted and timed here like the others
 *
 * Bounds: at most `maxOutgoingRequestsPerClient` unanswered requests per connection and
 * `maxOutgoingRequests` on the whole server (remote ones included); past either, a request is
 * refused at once with STELAR_ERR_REQUEST_LIMIT. Every request has its own timer (unref'd),
 * so it settles even if the client never answers; a late answer then matches nothing.
 *
 * Ids are per connection, u32 from 1 upwards and never reused while the connection lives, so
 * the late answer to a request that timed out cannot settle a newer one (after 2^32 requests
 * they wrap, skipping ids still waiting). They are the server's own: the client numbers its
 * requests independently, and the direction of an ACK Response says which side it answers.
 */
import type { ClientAnswer, ClientRequest } from '../contracts/index.js';
import { ErrorCode, errorBody, MAX_ACK_ID, type Packet, PacketType, StelarError } from '../protocol/index.js';

export type { ClientAnswer, ClientRequest };

/** What a request needs from a connection (a Session). */
export interface RequestPeer {
  readonly id: string;
  /** Accepted and not closing: only such a client may be asked. */
  readonly isOpen: boolean;
  /** False when the packet could not be written (closing, or over its buffer cap). */
  sendPacket(packet: Packet): boolean;
}

/** The caps, read at each request (the server's live config: `updateConfig()` applies at once). */
export interface OutgoingLimits {
  readonly maxOutgoingRequests: number;
  readonly maxOutgoingRequestsPerClient: number;
}

/** Called once per request with how it ended. It must not throw. */
export type SettleFn = (answer: ClientAnswer) => void;

/** The longest timeout a timer can hold (setTimeout's limit, about 24.8 days). */
export const MAX_REQUEST_TIMEOUT = 0x7fffffff;

interface Waiting {
  readonly event: string;
  readonly settle: SettleFn;
  readonly timer: NodeJS.Timeout;
}

/** One connection's requests. Kept for the connection's life, so ids are never reused. */
interface Ledger {
  next: number;
  readonly waiting: Map<number, Waiting>;
}

/** A refusal or failure as an answer. */
export function failed(code: ErrorCode, message: string): ClientAnswer {
  return { ok: false, error: { message, code } };
}

/** An answer as a promise's outcome: the data, or a StelarError carrying the answer's code. */
export function settleWith(resolve: (data: unknown) => void, reject: (err: StelarError) => void): SettleFn {
  return (answer) => (answer.ok ? resolve(answer.data) : reject(new StelarError(answer.error.code as ErrorCode, answer.error.message, 0)));
}

/** Checks what `request(…)` was given; throws TypeError/RangeError. */
export function checkRequest(event: unknown, options: { timeout?: unknown; ackName?: unknown } | undefined, defaultTimeout: number): number {
  if (typeof event !== 'string' || event.length === 0) throw new TypeError('event must be a non-empty string');
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new TypeError('request options must be an object');
  const ackName = options?.ackName;
  if (ackName !== undefined && (typeof ackName !== 'string' || ackName.length === 0)) throw new TypeError('ackName must be a non-empty string');
  const timeout = options?.timeout ?? defaultTimeout;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_REQUEST_TIMEOUT) {
    throw new RangeError(`timeout must be a positive number of ms up to ${MAX_REQUEST_TIMEOUT}, got ${String(timeout)}`);
  }
  return timeout;
}

export class OutgoingRequests {
  readonly #limits: OutgoingLimits;
  readonly #ledgers = new WeakMap<RequestPeer, Ledger>();
  /** Unanswered requests on this server: local ones and those waiting on another node. */
  #total = 0;

  constructor(limits: OutgoingLimits) {
    this.#limits = limits;
  }

  /** Requests waiting for an answer (local and remote). */
  get size(): number {
    return this.#total;
  }

  /** Requests waiting for this connection's answer. */
  pendingFor(peer: RequestPeer): number {
    return this.#ledgers.get(peer)?.waiting.size ?? 0;
  }

  /** True when `ackId` is a request of ours this connection has not answered yet. */
  isWaiting(peer: RequestPeer, ackId: number): boolean {
    return this.#ledgers.get(peer)?.waiting.has(ackId) ?? false;
  }

  /**
   * Sends one ACK Request to `peer`. `settle` gets the outcome exactly once, possibly before
   * this returns (a refusal). Throws only what encoding `request.data` throws (a circular
   * value, a BigInt...), and then nothing was sent or counted.
   */
  send(peer: RequestPeer, request: ClientRequest, timeoutMs: number, settle: SettleFn): void {
    if (!peer.isOpen) return settle(failed(ErrorCode.NOT_CONNECTED, `client ${peer.id} is not connected`));
    const refusal = this.#overLimit(peer);
    if (refusal) return settle(refusal);
    let ledger = this.#ledgers.get(peer);
    if (!ledger) {
      ledger = { next: 1, waiting: new Map() };
      this.#ledgers.set(peer, ledger);
    }
    const ackId = allocate(ledger);
    const packet: Packet = { type: PacketType.ACK_REQUEST, event: request.event, ackName: request.ackName, ackId, data: request.data };
    if (!peer.sendPacket(packet)) {
      return settle(failed(ErrorCode.CONNECTION_CLOSED, `the request "${request.event}" could not be written: the connection is closing`));
    }
    const timer = setTimeout(() => this.#timedOut(ledger, ackId, timeoutMs), timeoutMs);
    timer.unref();
    ledger.waiting.set(ackId, { event: request.event, settle, timer });
    this.#total++;
  }

  /**
   * The client's ACK Response. `ok` false: `data` is its error (read with `errorBody`, so an
   * application code survives). Returns false when it answers nothing waiting (ignored).
   */
  answer(peer: RequestPeer, ackId: number, ok: boolean, data: unknown): boolean {
    const w = this.#take(this.#ledgers.get(peer), ackId);
    if (!w) return false;
    w.settle(ok ? { ok: true, data } : { ok: false, error: errorBody(data, ErrorCode.ACK_FAILED, `request "${w.event}" failed on the client`) });
    return true;
  }

  /** The connection is closing or gone: everything it was asked fails with CONNECTION_CLOSED. */
  release(peer: RequestPeer): void {
    const ledger = this.#ledgers.get(peer);
    if (!ledger || ledger.waiting.size === 0) return;
    const all = [...ledger.waiting];
    ledger.waiting.clear();
    this.#total -= all.length;
    for (const [, w] of all) {
      clearTimeout(w.timer);
      w.settle(failed(ErrorCode.CONNECTION_CLOSED, `the connection closed before the client answered "${w.event}"`));
    }
  }

  /**
   * A request waiting elsewhere (a client on another node): counted against the total cap and
   * bounded by its own timer here, whatever `start()` does. `start` is called only when the
   * cap allows; its result (or failure) after the timeout is ignored.
   */
  wait(start: () => Promise<ClientAnswer>, event: string, timeoutMs: number, settle: SettleFn): void {
    if (this.#total >= this.#limits.maxOutgoingRequests) return settle(this.#totalRefusal());
    this.#total++;
    let done = false;
    const finish = (answer: ClientAnswer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.#total--;
      settle(answer);
    };
    const timer = setTimeout(() => finish(timeoutAnswer(event, timeoutMs)), timeoutMs);
    timer.unref();
    let remote: Promise<ClientAnswer>;
    try {
      remote = start();
    } catch (err) {
      return finish(failed(ErrorCode.NOT_CONNECTED, `the cluster could not be asked: ${String(err)}`));
    }
    remote.then(finish, (err: unknown) => finish(failed(ErrorCode.NOT_CONNECTED, `the cluster could not be asked: ${String(err)}`)));
  }

  #overLimit(peer: RequestPeer): ClientAnswer | null {
    const limits = this.#limits;
    if (this.#total >= limits.maxOutgoingRequests) return this.#totalRefusal();
    if (this.pendingFor(peer) >= limits.maxOutgoingRequestsPerClient) {
      return failed(ErrorCode.REQUEST_LIMIT, `client ${peer.id} has ${limits.maxOutgoingRequestsPerClient} requests unanswered (maxOutgoingRequestsPerClient)`);
    }
    return null;
  }

  #totalRefusal(): ClientAnswer {
    return failed(ErrorCode.REQUEST_LIMIT, `${this.#limits.maxOutgoingRequests} requests are waiting for clients already (maxOutgoingRequests)`);
  }

  #take(ledger: Ledger | undefined, ackId: number): Waiting | undefined {
    const w = ledger?.waiting.get(ackId);
    if (!ledger || !w) return undefined;
    ledger.waiting.delete(ackId);
    clearTimeout(w.timer);
    this.#total--;
    return w;
  }

  #timedOut(ledger: Ledger, ackId: number, timeoutMs: number): void {
    const w = this.#take(ledger, ackId);
    w?.settle(timeoutAnswer(w.event, timeoutMs));
  }
}

function timeoutAnswer(event: string, timeoutMs: number): ClientAnswer {
  return failed(ErrorCode.ACK_TIMEOUT, `no answer to "${event}" within ${timeoutMs} ms`);
}

/** The next id of this connection: 1..2^32-1, skipping ids still waiting (bounded by the per-client cap). */
function allocate(ledger: Ledger): number {
  let id = ledger.next;
  while (ledger.waiting.has(id)) id = id >= MAX_ACK_ID ? 1 : id + 1;
  ledger.next = id >= MAX_ACK_ID ? 1 : id + 1;
  return id;
}
