/**
 * Child processes for the bench: every server and every load generator runs in its own
 * process, talks to the orchestrator over IPC with request/response messages, and is
 * killed when the orchestrator exits, times out or is interrupted.
 */
import { fork } from 'node:child_process';

const live = new Set();

function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * A forked child with `call(cmd, args, timeoutMs)` that resolves with the child's reply
 * (`{ id, ok, result | error }`). Unsolicited messages go to `onEvent`.
 */
export class Child {
  #child;
  #nextId = 1;
  #pending = new Map();
  #exited = false;
  #exitInfo = null;
  onEvent = null;

  constructor(script, args = [], { execArgv = [], env, name = script } = {}) {
    this.name = name;
    this.#child = fork(script, args, {
      execArgv,
      env: env ?? process.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    live.add(this.#child);
    this.#child.on('message', (msg) => {
      if (msg && msg.replyTo !== undefined) {
        const pending = this.#pending.get(msg.replyTo);
        if (!pending) return;
        this.#pending.delete(msg.replyTo);
        clearTimeout(pending.timer);
        if (msg.ok) pending.resolve(msg.result);
        else pending.reject(new Error(`${this.name}: ${msg.error}`));
      } else if (this.onEvent) {
        this.onEvent(msg);
      }
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = true;
      this.#exitInfo = { code, signal };
      live.delete(this.#child);
      for (const pending of this.#pending.values()) {
        clearTimeout(pending.timer);
        pending.reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) during ${pending.cmd}`));
      }
      this.#pending.clear();
    });
  }

  get pid() {
    return this.#child.pid;
  }

  get exited() {
    return this.#exited;
  }

  call(cmd, args = {}, timeoutMs = 30_000) {
    if (this.#exited) return Promise.reject(new Error(`${this.name} already exited (${JSON.stringify(this.#exitInfo)})`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: '${cmd}' timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer, cmd });
      this.#child.send({ id, cmd, args });
    });
  }

  /** Asks the child to exit cleanly (so --cpu-prof can write its file), then kills it. */
  async stop(graceMs = 5_000) {
    if (this.#exited) return;
    const gone = new Promise((resolve) => this.#child.once('exit', resolve));
    try {
      this.#child.send({ id: 0, cmd: 'exit', args: {} });
    } catch {
      // channel already closed
    }
    const timer = setTimeout(() => this.kill(), graceMs);
    await gone;
    clearTimeout(timer);
  }

  kill() {
    if (this.#exited) return;
    try {
      this.#child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * The child side: dispatches IPC requests to `handlers[cmd](args)` (sync or async) and
 * replies. Exits when the parent goes away, and after `maxLifetimeMs` in any case.
 */
export function serveIpc(handlers, { maxLifetimeMs = 15 * 60_000, onExit } = {}) {
  const exit = async (code) => {
    try {
      if (onExit) await onExit();
    } finally {
      process.exit(code);
    }
  };
  process.on('disconnect', () => exit(0));
  setTimeout(() => exit(2), maxLifetimeMs).unref();
  process.on('message', async (msg) => {
    if (!msg || typeof msg.cmd !== 'string') return;
    if (msg.cmd === 'exit') {
      await exit(0);
      return;
    }
    const handler = handlers[msg.cmd];
    try {
      if (!handler) throw new Error(`unknown command ${msg.cmd}`);
      const result = await handler(msg.args ?? {});
      process.send({ replyTo: msg.id, ok: true, result });
    } catch (err) {
      process.send({ replyTo: msg.id, ok: false, error: err?.stack ? err.stack : String(err) });
    }
  });
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one host. */
export function nowMs() {
  return performance.timeOrigin + performance.now();
}
