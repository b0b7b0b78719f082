/**
 * Requests to every member of a room at once (`server.requestRoom()`): one ACK Request per
 * member, the answers collected into one result that always settles by the timeout.
 *
 * Built on the one-client path (`Hub.request`, so `OutgoingRequests` for local members and the
 * adapter's `requestRemote` for members on other nodes): every member's request counts against
 * `maxOutgoingRequests` / `maxOutgoingRequestsPerClient` like any other, and one refused there
 * is reported as that member's failure, not the whole call's.
 *
 * Members: this node's at once (synchronous), then, with a cluster adapter, the rest of the
 * room from `fetchRoomMembers` (one cluster query); those are asked with what is left of the
 * timeout. Each remote member is a request of its own through the adapter (for Redis: one
 * message to every node plus a count from each, then the answer), so a room spread over N
 * nodes with M remote members costs about M x N small messages: fine for tens or hundreds of
 * members, not for a room of 100,000 (a per-node room request would cost N).
 *
 * Bounds: `maxRoomRequests` collective requests outstanding on this server (past it the call
 * rejects at once with STELAR_ERR_REQUEST_LIMIT), and `maxRoomRequestMembers` members asked
 * per call (the rest are not asked and are listed in `failed` with STELAR_ERR_REQUEST_LIMIT).
 */
import type { ClientAnswer, ClientRequest } from '../contracts/index.js';
import { ErrorCode, StelarError } from '../protocol/index.js';
import type { SettleFn } from './outgoing-requests.js';

/** One member's answer. */
export interface RoomAnswer<R = any> {
  id: string;
  data: R;
}

/** A member whose request failed: its handler threw, it had none, it left, or a cap refused it. */
export interface RoomFailure {
  id: string;
  /** A `STELAR_ERR_*` code, or the application's own code the client's handler failed with. */
  code: string;
  message: string;
}

/** What `server.requestRoom()` resolves with. Every member asked is in exactly one list. */
export interface RoomAnswers<R = any> {
  answers: RoomAnswer<R>[];
  failed: RoomFailure[];
  /** Members that did not answer within the timeout. */
  timedOut: string[];
}

/** The caps, read at each call (the server's live config). */
export interface RoomRequestLimits {
  readonly maxRoomRequests: number;
  readonly maxRoomRequestMembers: number;
}

export interface RoomRequestParts {
  readonly limits: RoomRequestLimits;
  /** This node's members of `room`. */
  localMembers(room: string): string[];
  /** Every node's members (a cluster adapter), or null when this node is the whole picture. */
  clusterMembers(room: string): Promise<string[]> | null;
  /** Asks one member (Hub.request): settles exactly once; throws only what encoding throws. */
  ask(id: string, request: ClientRequest, timeoutMs: number, settle: SettleFn): void;
}

export class RoomRequests {
  readonly #p: RoomRequestParts;
  #outstanding = 0;

  constructor(parts: RoomRequestParts) {
    this.#p = parts;
  }

  /** Collective requests not settled yet. */
  get size(): number {
    return this.#outstanding;
  }

  /** Arguments already checked by the server. Resolves (never rejects) once the caps let it start. */
  start(room: string, request: ClientRequest, timeoutMs: number, exceptId: string | undefined): Promise<RoomAnswers> {
    const limits = this.#p.limits;
    if (this.#outstanding >= limits.maxRoomRequests) {
      const msg = `${limits.maxRoomRequests} room requests are waiting for answers already (maxRoomRequests)`;
      return Promise.reject(new StelarError(ErrorCode.REQUEST_LIMIT, msg, 0));
    }
    this.#outstanding++;
    return new Promise((resolve) => {
      const result: RoomAnswers = { answers: [], failed: [], timedOut: [] };
      const deadline = Date.now() + timeoutMs;
      /** Every member met (asked or refused), so each is asked once. */
      const seen = new Set<string>();
      const pending = new Set<string>();
      let membersKnown = false;
      let done = false;

      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#outstanding--;
        for (const id of pending) result.timedOut.push(id);
        pending.clear();
        resolve(result);
      };
      const timer = setTimeout(finish, timeoutMs);
      timer.unref();

      const record = (id: string, answer: ClientAnswer): void => {
        if (done || !pending.delete(id)) return;
        if (answer.ok) result.answers.push({ id, data: answer.data });
        else if (answer.error.code === ErrorCode.ACK_TIMEOUT) result.timedOut.push(id);
        else result.failed.push({ id, code: answer.error.code, message: answer.error.message });
        if (membersKnown && pending.size === 0) finish();
      };

      const askAll = (ids: Iterable<string>): void => {
        for (const id of ids) {
          if (done) return;
          if (id === exceptId || seen.has(id)) continue;
          seen.add(id);
          if (seen.size > limits.maxRoomRequestMembers) {
            const msg = `only ${limits.maxRoomRequestMembers} members are asked per room request (maxRoomRequestMembers)`;
            result.failed.push({ id, code: ErrorCode.REQUEST_LIMIT, message: msg });
            continue;
          }
          const left = deadline - Date.now();
          if (left <= 0) {
            result.timedOut.push(id);
            continue;
          }
          pending.add(id);
          try {
            this.#p.ask(id, request, left, (answer) => record(id, answer));
          } catch (err) {
            record(id, { ok: false, error: { code: ErrorCode.ACK_FAILED, message: `the request could not be encoded: ${String(err)}` } });
          }
        }
      };
      const allKnown = (): void => {
        membersKnown = true;
        if (pending.size === 0) finish();
      };

      askAll(this.#p.localMembers(room));
      let cluster: Promise<string[]> | null;
      try {
        cluster = this.#p.clusterMembers(room);
      } catch {
        cluster = null;
      }
      if (!cluster) return allKnown();
      // A cluster that cannot be asked leaves the answer to this node's members.
      cluster.then((ids) => {
        askAll(ids);
        allKnown();
      }, allKnown);
    });
  }
}
