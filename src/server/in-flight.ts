/**
 * The ACK requests the server has started and not answered yet, per session, so a graceful
 * shutdown can let them finish before it closes the connections.
 *
 * A request counts from the moment its handler is called until its ACK response is sent
 * (whatever sends it: an onAck handler's return value or settled promise, ctx.ack / ctx.send
 * from a plain handler, an error answer) or its session is closing or gone (the answer could
 * not be delivered any more). A plain `on()` handler that takes an ACK request and never
 * answers it therefore counts until the shutdown's wait runs out: its caller is waiting too.
 *
 * Once `drain()` was called, new requests are refused (the dispatcher answers them with
 * STELAR_ERR_SHUTTING_DOWN) and `whenDrained()` resolves when the count reaches zero.
 */
import { type Session, SessionState } from './session.js';

/** While waiting, sessions that started closing without a word are re-checked this often. */
const RECHECK_MS = 100;

export class InFlightRequests {
  readonly #bySession = new Map<Session, number>();
  #draining = false;
  #waiters: Array<() => void> = [];
  /** Told how long each answered request took (the dashboard's latency chart); null: not timed. */
  #observe: ((ms: number) => void) | null = null;

  /** Times every request from its handler's start to its answer being sent. */
  observeLatency(observe: ((ms: number) => void) | null): void {
    this.#observe = observe;
  }

  /** True once the shutdown began: new ACK requests are refused. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Requests started and not answered, on sessions that can still get the answer. */
  get count(): number {
    let n = 0;
    for (const [session, k] of this.#bySession) {
      if (session.state >= SessionState.CLOSING) this.#bySession.delete(session);
      else n += k;
    }
    return n;
  }

  /** A request's handler is about to run; call the returned function (once) when it is answered. */
  begin(session: Session): () => void {
    this.#bySession.set(session, (this.#bySession.get(session) ?? 0) + 1);
    const observe = this.#observe;
    const startedAt = observe ? performance.now() : 0;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      observe?.(performance.now() - startedAt);
      const k = this.#bySession.get(session);
      if (k === undefined) return;
      if (k <= 1) this.#bySession.delete(session);
      else this.#bySession.set(session, k - 1);
      this.#check();
    };
  }

  /** The session is gone: its requests can no longer be answered. */
  release(session: Session): void {
    if (this.#bySession.delete(session)) this.#check();
  }

  /** Refuse new requests from now on. */
  drain(): void {
    this.#draining = true;
  }

  /** Accept requests again (a new start after a stop). */
  reset(): void {
    this.#draining = false;
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs`. */
  whenDrained(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (drained: boolean): void => {
        clearTimeout(timer);
        clearInterval(recheck);
        this.#waiters = this.#waiters.filter((f) => f !== wake);
        resolve(drained);
      };
      const wake = (): void => finish(true);
      // Not unref'd: the wait is bounded, and the shutdown behind it must get to its end.
      const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
      const recheck = setInterval(() => this.#check(), RECHECK_MS);
      recheck.unref();
      this.#waiters.push(wake);
    });
  }

  #check(): void {
    if (this.#waiters.length === 0 || this.count !== 0) return;
    for (const wake of this.#waiters.slice()) wake();
  }
}
