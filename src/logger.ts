/**
 * Leveled logger shared by server and client (browser-safe: console only).
 * Options accept a level name, a Logger-like object, or false (silent).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface LoggerLike {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const noop = (): void => {};

/** The level names a logger option accepts. */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(Object.keys(RANK) as LogLevel[]);

function isLevel(value: string): value is LogLevel {
  return Object.hasOwn(RANK, value);
}

const METHODS = ['debug', 'info', 'warn', 'error'] as const;
const EXPECTED = `${LOG_LEVELS.map((l) => `'${l}'`).join(', ')}, false, or an object with debug/info/warn/error methods`;

/**
 * Checks a logger option (`name` for the message): a level name, false, undefined (the
 * default), or an object with the four methods. Anything else throws at once, listing the
 * valid levels: a typo such as 'verbose' must not silently log at another level.
 */
export function checkLoggerOption(value: unknown, name = 'logger'): LoggerOption {
  if (value === undefined || value === false) return value;
  if (typeof value === 'string') {
    if (isLevel(value)) return value;
    throw new RangeError(`${name} must be one of ${EXPECTED}; got '${value}'`);
  }
  if (value !== null && typeof value === 'object') {
    const missing = METHODS.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
    if (missing.length === 0) return value as LoggerLike;
    throw new TypeError(`${name} object lacks ${missing.join(', ')} method${missing.length > 1 ? 's' : ''} (it needs debug, info, warn and error)`);
  }
  throw new TypeError(`${name} must be ${EXPECTED}; got ${value === null ? 'null' : typeof value}`);
}

export class Logger implements LoggerLike {
  readonly level: LogLevel;
  readonly prefix: string;
  constructor(level: LogLevel = 'info', prefix = '[stelar]') {
    if (typeof level !== 'string' || !isLevel(level))
      throw new RangeError(`log level must be one of ${LOG_LEVELS.map((l) => `'${l}'`).join(', ')}; got ${String(level)}`);
    this.level = level;
    this.prefix = prefix;
    // Bind once per logger so a disabled level costs a no-op call and no formatting.
    const rank = RANK[this.level];
    this.debug = rank <= RANK.debug ? console.debug.bind(console, prefix) : noop;
    this.info = rank <= RANK.info ? console.info.bind(console, prefix) : noop;
    this.warn = rank <= RANK.warn ? console.warn.bind(console, prefix) : noop;
    this.error = rank <= RANK.error ? console.error.bind(console, prefix) : noop;
  }
  debug: (...args: unknown[]) => void;
  info: (...args: unknown[]) => void;
  warn: (...args: unknown[]) => void;
  error: (...args: unknown[]) => void;
}

export type LoggerOption = LogLevel | LoggerLike | false | undefined;

export function createLogger(option: LoggerOption, fallback: LogLevel, prefix?: string): LoggerLike {
  checkLoggerOption(option);
  if (option === false) return new Logger('silent', prefix);
  if (typeof option === 'string') return new Logger(option, prefix);
  if (option && typeof option === 'object') return option;
  return new Logger(fallback, prefix);
}
