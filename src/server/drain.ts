/**
 * Send-side backpressure, the server's half. `ctx.emit()` answers false once a connection's
 * backlog reached the high-water mark (the message is queued and sent anyway); when the
 * backlog is written out the transport reports `drain` (src/net/write-batcher.ts), and this
 * file tells whoever waits: the `ctx.drained()` promise of that connection and the
 * `onDrain` handlers. A producer that waits for it before sending more holds at most about
 * one high-water mark per connection, however much it sends; `maxBufferedBytes` still cuts a
 * client whose producer does not wait (4006).
 *
 * One pending promise per waiting connection, shared by every caller: nothing grows with
 * how often `drained()` is called.
 */
import { ErrorCode, StelarError } from '../protocol/index.js';
import { type ContextHost, StelarContext } from './context.js';
import { type Handlers, invokeHandler } from './handlers.js';
import type { ResolvedConfig } from './options.js';
import type { Session } from './session.js';

interface Waiter {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: StelarError) => void;
}

export interface DrainParts {
  config: ResolvedConfig;
  handlers: Handlers;
  contextHost: ContextHost;
}

export class DrainNotices {
  readonly #p: DrainParts;
  readonly #waiting = new Map<Session, Waiter>();

  constructor(parts: DrainParts) {
    this.#p = parts;
  }

  /**
   * `ctx.drained()`: resolves at once when the backlog is below the high-water mark, else at
   * the next drain; rejects with STELAR_ERR_CONNECTION_CLOSED when the connection is (or
   * gets) closed, so a producer's loop ends instead of spinning.
   */
  wait(session: Session): Promise<void> {
    if (!session.isOpen) return Promise.reject(closed(session));
    if (!session.transport.writableNeedDrain) return Promise.resolve();
    const pending = this.#waiting.get(session);
    if (pending) return pending.promise;
    let resolve!: () => void;
    let reject!: (err: StelarError) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#waiting.set(session, { promise, resolve, reject });
    return promise;
  }

  /** The session's transport drained (a drain is only reported after a send answered false). */
  drained(session: Session): void {
    const waiter = this.#waiting.get(session);
    if (waiter) {
      this.#waiting.delete(session);
      waiter.resolve();
    }
    const list = this.#p.handlers.drain;
    if (list.length === 0 || !session.isOpen) return;
    const ctx = new StelarContext(this.#p.contextHost, session, 'drain', undefined);
    const logger = this.#p.config.logger;
    for (const handler of list) {
      if (!session.isOpen) break; // a handler closed it
      invokeHandler(handler, ctx, logger, 'onDrain');
    }
  }

  /** The session is gone: whoever waits for its drain hears it will not come. */
  closed(session: Session): void {
    if (this.#waiting.size === 0) return;
    const waiter = this.#waiting.get(session);
    if (!waiter) return;
    this.#waiting.delete(session);
    waiter.reject(closed(session));
  }
}

function closed(session: Session): StelarError {
  return new StelarError(ErrorCode.CONNECTION_CLOSED, `client ${session.id} is not connected: nothing will drain`);
}
