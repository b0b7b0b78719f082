/**
 * What every part of the client shares: the current options (replaced by `updateOptions`),
 * the logger, the target url, the application's listeners, and the client's voice towards
 * the application (errors, hooks, its own events). The parts (session, outbound, inbound)
 * get this object instead of reaching into each other's state.
 */
import { createLogger, type LoggerLike } from '../logger.js';
import { ListenerRegistry, type ClientReservedEvents } from './listeners.js';
import { type ClientHooks, type ErrorContext, type ResolvedClientOptions, resolveOptions, type StelarClientOptions } from './options.js';
import type { ClientPlatform } from './transport.js';
import { type ClientTarget, resolveTargets, type UrlList } from './url.js';

const LOG_PREFIX = '[stelar-client]';

export class ClientContext {
  readonly platform: ClientPlatform;
  /** The StelarClient these parts serve (what diagnostics messages name as `client`). */
  readonly client: object;
  readonly listeners: ListenerRegistry;
  #options: ResolvedClientOptions;
  #logger: LoggerLike;
  #input: UrlList;
  /** Every server address (one, or several for failover) and the one in use. */
  #targets: ClientTarget[];
  #index = 0;
  #lastError: Error | null = null;

  constructor(url: UrlList, options: StelarClientOptions | undefined, platform: ClientPlatform, client: object) {
    this.platform = platform;
    this.client = client;
    this.#options = resolveOptions(options ?? {});
    this.#checkMode(this.#options);
    this.#logger = createLogger(this.#options.logger, 'warn', LOG_PREFIX);
    this.#input = url;
    this.#targets = resolveTargets(url, this.#options.mode, this.#options.tls !== false);
    this.listeners = new ListenerRegistry(
      (err, event) => {
        // A throwing 'error' listener must not feed itself.
        if (event === 'error') this.#logger.error(`an 'error' listener threw:`, err);
        else this.report(err, 'handler');
      },
      (err) => this.report(err, 'handler'),
    );
  }

  get options(): ResolvedClientOptions {
    return this.#options;
  }

  get logger(): LoggerLike {
    return this.#logger;
  }

  /** The address the next (or current) connection uses. */
  get target(): ClientTarget {
    return this.#targets[this.#index];
  }

  get targets(): readonly ClientTarget[] {
    return this.#targets;
  }

  /**
   * Moves to the next address (wrapping around) for the next attempt; false when there is
   * only one.
   */
  nextTarget(): boolean {
    if (this.#targets.length < 2) return false;
    const from = this.target.url;
    this.#index = (this.#index + 1) % this.#targets.length;
    this.#logger.info(`${from} failed; trying ${this.target.url} next`);
    return true;
  }

  get lastError(): Error | null {
    return this.#lastError;
  }

  /** Takes effect at the next connection attempt (from the first address). Throws INVALID_URL at once for a bad url. */
  setUrl(url: UrlList): void {
    this.#targets = resolveTargets(url, this.#options.mode, this.#options.tls !== false);
    this.#index = 0;
    this.#input = url;
  }

  /** Merges `patch` into the options; everything is checked before anything changes. */
  updateOptions(patch: StelarClientOptions): ResolvedClientOptions {
    const next = resolveOptions(patch, this.#options);
    this.#checkMode(next);
    const targets =
      next.mode !== this.#options.mode || (next.tls !== false) !== (this.#options.tls !== false)
        ? resolveTargets(this.#input, next.mode, next.tls !== false)
        : this.#targets;
    const previous = this.#options;
    this.#options = next;
    this.#targets = targets;
    if (next.logger !== previous.logger) this.#logger = createLogger(next.logger, 'warn', LOG_PREFIX);
    return next;
  }

  emitReserved(event: keyof ClientReservedEvents, ...args: unknown[]): void {
    this.listeners.events.emit(event, ...args);
  }

  /**
   * Records an error, tells the onError hook, and (unless `asEvent` is false) emits 'error'.
   * Nothing throws when no 'error' listener exists: the logger gets it instead.
   */
  report(raw: unknown, context: ErrorContext, asEvent = true): void {
    const error = raw instanceof Error ? raw : new Error(String(raw));
    this.#lastError = error;
    const onError = this.#options.hooks.onError;
    if (onError) {
      try {
        onError({ error, context });
      } catch (err) {
        this.#logger.error('the onError hook threw:', err);
      }
    }
    if (!asEvent) return;
    if (!this.listeners.events.emit('error', error)) this.#logger.warn(`${context} error:`, error.message);
  }

  /** Runs one of the application's hooks; one that throws is reported and counts as no answer. */
  hook<K extends keyof ClientHooks>(name: K, info: Parameters<NonNullable<ClientHooks[K]>>[0]): unknown {
    const fn = this.#options.hooks[name] as ((arg: typeof info) => unknown) | undefined;
    if (!fn) return undefined;
    try {
      return fn(info);
    } catch (err) {
      this.report(err, 'hook');
      return undefined;
    }
  }

  #checkMode(options: ResolvedClientOptions): void {
    const platform = this.platform;
    if (!platform.modes.includes(options.mode)) {
      throw new TypeError(`mode '${options.mode}' is not available on this platform (${platform.name}); use ${platform.modes.join(' or ')}`);
    }
  }
}
