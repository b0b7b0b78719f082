/**
 * The connection middleware chain. Each middleware gets `(ctx, next)` and accepts the
 * connection by calling `next()`. The rule is strict so a forgotten `next()` can never
 * leave a connection hanging half-accepted:
 * - it returns (or its returned promise settles) without having called `next()`: rejected;
 * - it calls `next(err)` or throws/rejects: rejected with that error's message;
 * - the connection closed meanwhile (e.g. `ctx.socket.destroy()`): the chain stops.
 */
import { ErrorCode, StelarError } from '../protocol/index.js';
import type { StelarContext } from './context.js';
import type { DefaultEvents, EventMap } from './types.js';

export type NextFunction = (err?: unknown) => void;
export type Middleware<SE extends EventMap = DefaultEvents> = (ctx: StelarContext<any, SE>, next: NextFunction) => unknown;

/** true = accepted; a StelarError = rejected (its message goes to the client). */
export type MiddlewareVerdict = true | StelarError;

const REJECTED = 'connection rejected by middleware';

function rejection(err?: unknown): StelarError {
  if (err instanceof StelarError && err.code === ErrorCode.MIDDLEWARE_REJECTED) return err;
  const message = err instanceof Error && err.message ? err.message : typeof err === 'string' && err ? err : REJECTED;
  return new StelarError(ErrorCode.MIDDLEWARE_REJECTED, message);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** Runs the chain; synchronous while every middleware is, a Promise from the first async one. */
export function runMiddleware(
  chain: readonly Middleware<any>[],
  ctx: StelarContext<any, any>,
  isGone: () => boolean,
): MiddlewareVerdict | Promise<MiddlewareVerdict> {
  // Snapshot: a `use()` during a handshake applies to the next connection, not this one.
  const list = chain.slice();
  let index = 0;

  const run = (): MiddlewareVerdict | Promise<MiddlewareVerdict> => {
    while (index < list.length) {
      if (isGone()) return rejection();
      const mw = list[index++];
      let called = false;
      let failure: unknown;
      const next: NextFunction = (err) => {
        if (called) return;
        called = true;
        failure = err;
      };
      const judge = (): MiddlewareVerdict | null => {
        if (!called) return rejection();
        if (failure !== undefined && failure !== null) return rejection(failure);
        return null;
      };
      let result: unknown;
      try {
        result = mw(ctx, next);
      } catch (err) {
        return rejection(err);
      }
      if (isThenable(result)) {
        return Promise.resolve(result).then(
          () => judge() ?? (isGone() ? rejection() : run()),
          (err: unknown) => rejection(err),
        );
      }
      const verdict = judge();
      if (verdict) return verdict;
    }
    return isGone() ? rejection() : true;
  };
  return run();
}
