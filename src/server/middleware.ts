/**
 * The connection middleware chain. Each middleware gets `(ctx, next)` and accepts the
 * connection by calling `next()`, at once or later (from a callback, after an await):
 * - `next()` has been called and the middleware returned (its returned promise, if any,
 *   settled): the next middleware runs, or the client is accepted after the last one;
 * - `next(err)`, a throw or a rejected promise: rejected with that error's message, at once;
 * - `next()` never called: rejected (STELAR_ERR_MIDDLEWARE_REJECTED, 4001) once the
 *   connection's `connectTimeout` is spent (counted from the socket's arrival); called, but
 *   the returned promise still pending then: STELAR_ERR_CONNECT_TIMEOUT (4004);
 * - a second `next()` is ignored (and logged once per middleware);
 * - the connection closed meanwhile (e.g. `ctx.socket.destroy()`): the chain stops.
 * A chain whose middleware all call `next()` synchronously runs synchronously.
 */
import type { LoggerLike } from '../logger.js';
import { ErrorCode, StelarError } from '../protocol/index.js';
import type { StelarContext } from './context.js';
import type { DefaultEvents, EventMap } from './types.js';

export type NextFunction = (err?: unknown) => void;
export type Middleware<SE extends EventMap = DefaultEvents> = (ctx: StelarContext<any, SE>, next: NextFunction) => unknown;

/** true = accepted; a StelarError = rejected (its message goes to the client). */
export type MiddlewareVerdict = true | StelarError;

export interface MiddlewareRunOptions {
  /** Date.now() after which a middleware that has not called next() fails the handshake; default: never. */
  deadline?: number;
  /** The connectTimeout the deadline comes from (for the error message). */
  connectTimeout?: number;
  /** Told (once per middleware function) about a next() called twice. */
  logger?: Pick<LoggerLike, 'warn' | 'debug'>;
}

const REJECTED = 'connection rejected by middleware';

/** Middleware already reported for calling next() twice: warned once, then debug. */
const warnedTwice = new WeakSet<object>();

function rejection(err?: unknown): StelarError {
  if (err instanceof StelarError && err.code === ErrorCode.MIDDLEWARE_REJECTED) return err;
  const message = err instanceof Error && err.message ? err.message : typeof err === 'string' && err ? err : REJECTED;
  return new StelarError(ErrorCode.MIDDLEWARE_REJECTED, message);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

const failed = (err: unknown): boolean => err !== undefined && err !== null;

/** Runs the chain; synchronous while every middleware is, a Promise from the first that is not. */
export function runMiddleware(
  chain: readonly Middleware<any>[],
  ctx: StelarContext<any, any>,
  isGone: () => boolean,
  options: MiddlewareRunOptions = {},
): MiddlewareVerdict | Promise<MiddlewareVerdict> {
  // Snapshot: a `use()` during a handshake applies to the next connection, not this one.
  const list = chain.slice();
  let index = 0;

  const run = (): MiddlewareVerdict | Promise<MiddlewareVerdict> => {
    while (index < list.length) {
      if (isGone()) return rejection();
      const position = index;
      const mw = list[index++];
      // What the step knows so far; `wake` is set once it waits (then every change calls it).
      let called = false;
      let failure: unknown;
      let wake: (() => void) | null = null;
      const next: NextFunction = (err) => {
        if (called) {
          reportTwice(mw, position, options.logger);
          return;
        }
        called = true;
        failure = err;
        wake?.();
      };
      let result: unknown;
      try {
        result = mw(ctx, next);
      } catch (err) {
        return rejection(err);
      }
      const thenable = isThenable(result);
      if (!thenable && called) {
        if (failed(failure)) return rejection(failure);
        continue;
      }
      // Waits for next() and, for a returned promise, for it to settle; a failure ends it at once.
      return new Promise<MiddlewareVerdict | null>((resolve) => {
        let settled = !thenable;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const finish = (verdict: MiddlewareVerdict | null): void => {
          if (timer !== undefined) clearTimeout(timer);
          wake = null;
          resolve(verdict);
        };
        wake = () => {
          if (called && failed(failure)) finish(rejection(failure));
          else if (called && settled) finish(null);
        };
        if (thenable) {
          (result as PromiseLike<unknown>).then(
            () => {
              settled = true;
              wake?.();
            },
            (err: unknown) => {
              if (wake) finish(rejection(err));
            },
          );
        }
        wake();
        if (wake !== null && options.deadline !== undefined) {
          timer = setTimeout(
            () => {
              if (!wake) return;
              const within = options.connectTimeout !== undefined ? ` within connectTimeout (${options.connectTimeout} ms)` : ' in time';
              // Never calling next() is a refusal (the 3.2 contract: 4001, the client stops);
              // a next() whose promise is still pending is slowness on our side (4004, retry).
              if (!called) finish(new StelarError(ErrorCode.MIDDLEWARE_REJECTED, `middleware ${position + 1} did not call next()${within}`));
              else finish(new StelarError(ErrorCode.CONNECT_TIMEOUT, `middleware ${position + 1} did not settle the promise it returned${within}`));
            },
            Math.max(0, options.deadline - Date.now()),
          );
          // A pending handshake never keeps the process alive on its own.
          timer.unref?.();
        }
      }).then((verdict) => verdict ?? (isGone() ? rejection() : run()));
    }
    return isGone() ? rejection() : true;
  };
  return run();
}

function reportTwice(mw: Middleware<any>, position: number, logger: MiddlewareRunOptions['logger']): void {
  if (!logger) return;
  const message = `middleware ${position + 1}${mw.name ? ` (${mw.name})` : ''} called next() more than once; the extra call was ignored`;
  if (warnedTwice.has(mw)) {
    logger.debug(message);
    return;
  }
  warnedTwice.add(mw);
  logger.warn(message);
}
