/**
 * A tiny event emitter that runs in Node and in browsers (no `node:events`).
 *
 * It does not give `error` special meaning: the client decides what an unheard error means
 * (it logs it), so nothing here ever throws because nobody listens.
 * With `onListenerError`, a listener that throws (or returns a promise that rejects) is
 * reported there and the remaining listeners still run: one bad handler must not stop a
 * socket's packet loop.
 * Listeners run in registration order over a snapshot, so a listener that removes itself
 * (or another) does not make the current emit skip anyone.
 */
export type Listener = (...args: any[]) => unknown;

interface Entry {
  fn: Listener;
  once: boolean;
}

export type ListenerErrorHandler = (error: unknown, event: string) => void;

export class Emitter {
  #listeners = new Map<string, Entry[]>();
  #onListenerError: ListenerErrorHandler | undefined;

  constructor(onListenerError?: ListenerErrorHandler) {
    this.#onListenerError = onListenerError;
  }

  on(event: string, fn: Listener): this {
    this.#add(event, fn, false);
    return this;
  }

  once(event: string, fn: Listener): this {
    this.#add(event, fn, true);
    return this;
  }

  /** Removes one registration of `fn` (the most recent, like Node's EventEmitter). */
  off(event: string, fn: Listener): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].fn === fn) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  /** Calls every listener of `event`; returns false when there was none. */
  emit(event: string, ...args: unknown[]): boolean {
    const list = this.#listeners.get(event);
    if (!list || list.length === 0) return false;
    const snapshot = list.slice();
    const report = this.#onListenerError;
    for (const entry of snapshot) {
      if (entry.once) this.#removeEntry(event, entry);
      if (!report) {
        entry.fn(...args);
        continue;
      }
      try {
        const result = entry.fn(...args);
        if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
          (result as PromiseLike<unknown>).then(undefined, (err: unknown) => report(err, event));
        }
      } catch (err) {
        report(err, event);
      }
    }
    return true;
  }

  listenerCount(event: string): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  eventNames(): string[] {
    return [...this.#listeners.keys()];
  }

  removeAllListeners(event?: string): this {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  #add(event: string, fn: Listener, once: boolean): void {
    if (typeof fn !== 'function') throw new TypeError(`listener for "${event}" must be a function`);
    const list = this.#listeners.get(event);
    if (list) list.push({ fn, once });
    else this.#listeners.set(event, [{ fn, once }]);
  }

  #removeEntry(event: string, entry: Entry): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(event);
  }
}
