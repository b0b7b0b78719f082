/**
 * Who may open the dashboard. One gate for the page and for its live channel:
 *
 * - With a token: the token, compared in constant time (both sides hashed to the same length
 *   first, so neither the content nor the length leaks through timing). Nothing else is
 *   asked, so the dashboard works behind a proxy that rewrites Host.
 * - Without a token (allowed only when the server is bound to loopback): the request must
 *   name a loopback host (`Host: localhost:…`, `127.0.0.1:…`, `[::1]:…`), which defeats DNS
 *   rebinding (a web page whose name resolves to 127.0.0.1 sends its own name as Host), and a
 *   browser's WebSocket must come from the page's own origin, which defeats cross-site
 *   WebSocket hijacking (any page the operator visits could otherwise open the channel).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type DashboardConfig, isLoopbackAddress } from './config.js';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class DashboardAccess {
  readonly #expected: Buffer | null;

  constructor(config: DashboardConfig) {
    this.#expected = config.token === null ? null : digest(config.token);
  }

  /** True when the dashboard needs a token. */
  get needsToken(): boolean {
    return this.#expected !== null;
  }

  /** Constant-time check of a presented token (anything not a string is wrong). */
  tokenMatches(given: unknown): boolean {
    if (this.#expected === null) return true;
    if (typeof given !== 'string' || given.length === 0 || given.length > 4096) return false;
    return timingSafeEqual(digest(given), this.#expected);
  }

  /** The request may be served at all (the tokenless rule above; with a token, always). */
  requestAllowed(req: IncomingMessage): boolean {
    if (this.#expected !== null) return true;
    return isLoopbackHostHeader(req.headers.host);
  }

  /** A WebSocket upgrade may proceed to the token check (adds the same-origin rule when tokenless). */
  upgradeAllowed(req: IncomingMessage): boolean {
    if (!this.requestAllowed(req)) return false;
    if (this.#expected !== null) return true;
    const origin = req.headers.origin;
    if (origin === undefined) return true; // not a browser: it cannot be a victim's tab
    return sameOrigin(origin, req.headers.host);
  }
}

/** The token a page request carries: `?token=` or `Authorization: Bearer …`. */
export function requestToken(req: IncomingMessage, url: URL): string | null {
  const fromQuery = url.searchParams.get('token');
  if (fromQuery !== null) return fromQuery;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7);
  return null;
}

/** `localhost`, a loopback IP, or `[::1]`, with or without a port. */
export function isLoopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  let name = host.toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    if (end === -1) return false;
    name = name.slice(1, end);
  } else {
    const colon = name.lastIndexOf(':');
    if (colon !== -1) name = name.slice(0, colon);
  }
  return name === 'localhost' || isLoopbackAddress(name);
}

function sameOrigin(origin: string | string[], host: string | undefined): boolean {
  if (typeof origin !== 'string' || !host) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
