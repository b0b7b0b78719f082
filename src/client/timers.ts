/**
 * Timers that never keep a Node process alive on their own (a request timeout must not stop
 * `node app.js` from exiting), written without Node types so the browser bundle can use them:
 * `unref` exists on Node's Timeout and is skipped elsewhere. Delays are clamped to setTimeout's
 * ceiling (2^31-1 ms), above which it would fire at once.
 */
export type TimerHandle = ReturnType<typeof setTimeout>;

export const MAX_TIMER_DELAY = 0x7fffffff;

function clamp(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_DELAY);
}

export function startTimer(fn: () => void, ms: number): TimerHandle {
  const handle = setTimeout(fn, clamp(ms));
  (handle as { unref?: () => void }).unref?.();
  return handle;
}

export function startInterval(fn: () => void, ms: number): ReturnType<typeof setInterval> {
  const handle = setInterval(fn, clamp(ms));
  (handle as { unref?: () => void }).unref?.();
  return handle;
}
