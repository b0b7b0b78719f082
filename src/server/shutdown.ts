/**
 * SIGINT/SIGTERM handling shared by every StelarServer in the process. One listener per
 * signal is installed while at least one server wants graceful shutdown (the default), and
 * removed with the last one: many instances (or many start/stop cycles) never pile up
 * listeners, and `stop()` leaves the process exactly as it found it.
 *
 * On a signal every registered server shuts down (stop accepting, readyz 503, 1001 to the
 * clients, wait up to its shutdownTimeout, clean up). Then the process must still end the
 * way the signal asked, even if something else (another HTTP server, a database pool) keeps
 * the event loop alive. So:
 *  - if the application added no listener of its own for that signal, ours are removed and
 *    the signal is raised again: the default action ends the process with the usual status
 *    (killed by SIGTERM / SIGINT, what supervisors and shells expect);
 *  - if it did add one, exiting is its decision (typically in the `onShutdown` hook).
 * A second signal while the first shutdown is still running re-raises at once (same rule):
 * an operator pressing Ctrl-C twice means "now".
 */
import { constants } from 'node:os';

export type ShutdownTarget = {
  shutdown(signal: string): Promise<void>;
  /** How long this target's shutdown may take (ms); bounds how long the signal waits. */
  readonly shutdownTimeout: number;
};

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
type Signal = (typeof SIGNALS)[number];
/** Past every target's shutdownTimeout, teardown that still hangs (an adapter...) is not waited for. */
const BACKSTOP_MS = 2000;

const targets = new Set<ShutdownTarget>();
let installed = false;
let inFlight = false;

function onSignal(signal: Signal): void {
  if (inFlight) {
    if (!hasOwnListener(signal)) reraise(signal);
    return;
  }
  inFlight = true;
  const list = [...targets];
  let budget = 0;
  for (const t of list) budget = Math.max(budget, t.shutdownTimeout);
  let backstop: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    // Not unref'd: it must keep the process alive until we re-raise.
    backstop = setTimeout(resolve, budget + BACKSTOP_MS);
  });
  const all = Promise.allSettled(list.map((t) => t.shutdown(signal)));
  void Promise.race([all, timedOut]).then(() => {
    clearTimeout(backstop);
    inFlight = false;
    if (!hasOwnListener(signal)) reraise(signal);
    else if (targets.size === 0) uninstall();
  });
}

/** True when someone other than us listens for `signal` (the application handles exiting). */
function hasOwnListener(signal: Signal): boolean {
  return process.listeners(signal).some((l) => l !== onSignal);
}

function reraise(signal: Signal): void {
  targets.clear();
  uninstall();
  try {
    // With no listener left, Node restores the default action: the process ends as signalled.
    process.kill(process.pid, signal);
  } catch {
    process.exit(128 + (constants.signals[signal] ?? 15));
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

export function registerShutdown(target: ShutdownTarget): void {
  if (targets.has(target)) return;
  targets.add(target);
  install();
}

export function unregisterShutdown(target: ShutdownTarget): void {
  if (!targets.delete(target)) return;
  // While a signal is being handled our listener stays, so a second signal can force the exit.
  if (targets.size === 0 && !inFlight) uninstall();
}
