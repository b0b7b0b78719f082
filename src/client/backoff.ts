/**
 * How long to wait before reconnection attempt `attempt` (1-based).
 *
 * Default: exponential from `baseDelay` (base, 2x, 4x...) capped at `maxDelay`, with jitter so
 * that a thousand clients dropped by the same restart do not come back in the same millisecond.
 * - advice 'backoff' (the server said "later": full, restarting, rate limited...): equal jitter,
 *   between half and all of the exponential value, never less than half the base.
 * - advice 'reconnect' (the line just dropped): full jitter, anywhere from 0 to the value, so the
 *   first retry can be almost immediate.
 * Then `customReconnectDelay(attempt, base, max)` replaces the default when given, and the
 * `onReconnectDelay({ attempt, defaultDelay })` hook may replace either by returning a number.
 */
import type { ReconnectAdvice } from '../protocol/index.js';
import { MAX_TIMER_DELAY } from './timers.js';

export function exponentialDelay(
  attempt: number,
  baseDelay: number,
  maxDelay: number,
  advice: ReconnectAdvice = 'backoff',
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30); // 2^30 x base is past any cap already
  const ceiling = Math.min(baseDelay * 2 ** exponent, maxDelay);
  const r = random();
  const delay = advice === 'reconnect' ? ceiling * r : ceiling / 2 + (ceiling / 2) * r;
  return Math.round(Math.min(delay, maxDelay));
}

export type CustomReconnectDelay = (attempt: number, baseDelay: number, maxDelay: number) => number;
export type ReconnectDelayHook = (info: { attempt: number; defaultDelay: number }) => number | void | undefined;

function usable(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

export interface DelayInputs {
  attempt: number;
  baseDelay: number;
  maxDelay: number;
  advice: ReconnectAdvice;
  custom?: CustomReconnectDelay;
  hook?: ReconnectDelayHook;
  random?: () => number;
}

/**
 * The delay actually used. A custom function or hook that throws or returns something that
 * is not a finite number >= 0 is ignored (the previous value stands); `onFault` hears why.
 */
export function reconnectDelay(inputs: DelayInputs, onFault?: (error: unknown, where: string) => void): number {
  const { attempt, baseDelay, maxDelay, advice, custom, hook, random } = inputs;
  let delay = exponentialDelay(attempt, baseDelay, maxDelay, advice, random);
  if (custom) {
    try {
      const value = custom(attempt, baseDelay, maxDelay);
      if (usable(value)) delay = value;
      else onFault?.(new TypeError(`customReconnectDelay returned ${String(value)}, not a number >= 0`), 'customReconnectDelay');
    } catch (err) {
      onFault?.(err, 'customReconnectDelay');
    }
  }
  if (hook) {
    try {
      const value = hook({ attempt, defaultDelay: delay });
      if (usable(value)) delay = value;
      else if (value !== undefined) {
        onFault?.(new TypeError(`onReconnectDelay returned ${String(value)}, not a number >= 0`), 'onReconnectDelay');
      }
    } catch (err) {
      onFault?.(err, 'onReconnectDelay');
    }
  }
  return Math.min(Math.round(delay), MAX_TIMER_DELAY);
}
