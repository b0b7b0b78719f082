/**
 * What the application registered (on / onAll / onAck / onConnection / onDisconnect / onDrain / use),
 * and how a handler is called: sync throws and async rejections are logged, never thrown
 * upward (user code must not take the server down).
 */
import type { LoggerLike } from '../logger.js';
import type { StelarContext } from './context.js';
import type { Middleware } from './middleware.js';

export type EventHandler = (ctx: StelarContext<any, any>, ...rest: any[]) => unknown;
export type AckHandler = (ctx: StelarContext<any, any>) => unknown;

export class Handlers {
  readonly events = new Map<string, EventHandler[]>();
  readonly all: EventHandler[] = [];
  readonly acks = new Map<string, AckHandler>();
  readonly connection: EventHandler[] = [];
  readonly disconnect: EventHandler[] = [];
  /** `onDrain`: a connection's backlog fell below the high-water mark after `ctx.emit` answered false. */
  readonly drain: EventHandler[] = [];
  readonly middleware: Middleware<any>[] = [];

  addEvent(event: string, handler: EventHandler): void {
    const list = this.events.get(event);
    if (list) list.push(handler);
    else this.events.set(event, [handler]);
  }
}

/** Calls a handler; sync throws and async rejections are logged. Returns its result. */
export function invokeHandler(handler: EventHandler, ctx: StelarContext, logger: LoggerLike, what: string, ...rest: unknown[]): unknown {
  try {
    const result = handler(ctx, ...rest);
    if (result instanceof Promise) result.catch((err: unknown) => logger.error(`${what} handler failed:`, err));
    return result;
  } catch (err) {
    logger.error(`${what} handler threw:`, err);
    return undefined;
  }
}

/** `invokeHandler` for on(event): the log label is only built when the handler fails (per-message path). */
export function invokeEventHandler(handler: EventHandler, ctx: StelarContext, logger: LoggerLike, event: string): void {
  try {
    const result = handler(ctx);
    if (result instanceof Promise) result.catch((err: unknown) => logger.error(`on('${event}') handler failed:`, err));
  } catch (err) {
    logger.error(`on('${event}') handler threw:`, err);
  }
}
