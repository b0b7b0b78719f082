/**
 * The `dashboard` option: what it accepts, and the one rule that can refuse a server at
 * construction or start: a dashboard without a token is only allowed where nobody but this
 * machine can reach it (the server bound to a loopback address).
 */

export interface DashboardOptions {
  /** URL path of the page and of its live channel. Default '/dashboard'. */
  path?: string;
  /**
   * The secret an operator types (or passes as `?token=`) to open the page, also checked on
   * the live channel. At least 16 characters. Required unless the server is bound to loopback.
   */
  token?: string;
}

/** The resolved option (`false` = off, as the option's default). */
export interface DashboardConfig {
  readonly path: string;
  /** null: no token (allowed on loopback only). */
  readonly token: string | null;
}

export const DASHBOARD_DEFAULT_PATH = '/dashboard';
/** Short tokens can be guessed by trying; a random 16+ character one cannot. */
export const MIN_TOKEN_LENGTH = 16;
/** Paths and tokens are compared and echoed in full: keep them small. */
const MAX_PATH_LENGTH = 256;
const MAX_TOKEN_LENGTH = 1024;

export function resolveDashboard(value: unknown): DashboardConfig | false {
  if (value === undefined || value === null || value === false) return false;
  if (value === true) return { path: DASHBOARD_DEFAULT_PATH, token: null };
  if (typeof value !== 'object') throw new TypeError('dashboard must be false, true or { path?, token? }');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) if (key !== 'path' && key !== 'token') throw new TypeError(`dashboard.${key} is not an option (path, token)`);
  const path = v.path ?? DASHBOARD_DEFAULT_PATH;
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > MAX_PATH_LENGTH || /[?#\s]/.test(path)) {
    throw new TypeError(`dashboard.path must be a path starting with '/' (no query, no spaces), got ${String(path)}`);
  }
  const token = v.token ?? null;
  if (token !== null) {
    if (typeof token !== 'string') throw new TypeError('dashboard.token must be a string');
    if (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH) {
      throw new RangeError(`dashboard.token must be ${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} characters (a long random string), got ${token.length}`);
    }
  }
  return { path, token };
}

/** An address only this machine can reach: 127.0.0.0/8, ::1, or an IPv4-mapped loopback. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** A `host` option that binds to loopback only ('localhost' resolves to a loopback address). */
export function isLoopbackHost(host: string | undefined): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}

/** The config error for a dashboard without a token on a reachable address. */
export function exposedDashboardError(where: string): TypeError {
  return new TypeError(
    `dashboard without a token is only allowed on a loopback address, but the server ${where}: ` +
      `set dashboard.token (${MIN_TOKEN_LENGTH}+ random characters) or bind to 127.0.0.1 / ::1`,
  );
}
