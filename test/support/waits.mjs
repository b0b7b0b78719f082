// Waiting helpers shared by every suite. Their timeouts are failure guards, not assertions:
// a test waits for the event or condition it needs, and only a hang runs into the limit.

/** Resolves with the arguments of the next `event` on `emitter`; rejects after `ms`. */
export function nextEvent(emitter, event, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${event}"`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** Polls `fn` (sync or async) every `every` ms until it returns truthy, and returns that value. */
export async function waitUntil(fn, what, ms, every = 10) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
