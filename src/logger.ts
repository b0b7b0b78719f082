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

export class Logger implements LoggerLike {
  readonly level: LogLevel;
  readonly prefix: string;
  constructor(level: LogLevel = 'info', prefix = '[stelar]') {
    this.level = level in RANK ? level : 'info';
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
  if (option === false) return new Logger('silent', prefix);
  if (typeof option === 'string') return new Logger(option, prefix);
  if (option && typeof option === 'object') return option;
  return new Logger(fallback, prefix);
}
