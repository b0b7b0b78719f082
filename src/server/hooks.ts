/**
 * Calling user hooks. A hook is a notification that may veto the default action by
 * returning `false` (where its doc says so). A hook that throws is logged and treated as
 * "no veto": user code must never take the server down or silently change a limit.
 */
import type { LoggerLike } from '../logger.js';
import type { HookName, ServerHooks } from './types.js';

type HookInfo<K extends HookName> = Parameters<NonNullable<ServerHooks[K]>>[0];

/** Runs `hooks[name](info)`; returns false only when the hook returned exactly false. */
export function runHook<K extends HookName>(hooks: ServerHooks, name: K, info: HookInfo<K>, logger: LoggerLike): boolean {
  const fn = hooks[name] as ((info: HookInfo<K>) => unknown) | undefined;
  if (!fn) return true;
  try {
    const result = fn(info);
    if (result instanceof Promise) {
      // Vetoes are synchronous; an async hook is still observed so its rejection is logged.
      result.catch((err: unknown) => logger.error(`hook ${name} failed:`, err));
      return true;
    }
    return result !== false;
  } catch (err) {
    logger.error(`hook ${name} threw:`, err);
    return true;
  }
}
