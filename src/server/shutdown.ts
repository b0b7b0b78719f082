/**
 * SIGINT/SIGTERM handling shared by every StelarServer in the process. One listener per
 * signal is installed while at least one server wants graceful shutdown, and removed with
 * the last one: many instances (or many start/stop cycles) never pile up listeners, and
 * `stop()` leaves the process exactly as it found it.
 *
 * The library never calls process.exit(): once shutdown finished, the `onShutdown` hook is
 * where an application decides to exit.
 */
export type ShutdownTarget = { shutdown(signal: string): Promise<void> };

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const targets = new Set<ShutdownTarget>();

function onSignal(signal: string): void {
  for (const t of [...targets]) {
    t.shutdown(signal).catch(() => {
      /* each server logs its own failure */
    });
  }
}

export function registerShutdown(target: ShutdownTarget): void {
  if (targets.has(target)) return;
  targets.add(target);
  if (targets.size === 1) for (const s of SIGNALS) process.on(s, onSignal);
}

export function unregisterShutdown(target: ShutdownTarget): void {
  if (!targets.delete(target)) return;
  if (targets.size === 0) for (const s of SIGNALS) process.removeListener(s, onSignal);
}
