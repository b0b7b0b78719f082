/**
 * Turns what a user passes to `new StelarClient(urlOrPort)` into one connection target.
 *
 * Accepted: a port (`3000` or `'3000'`, host localhost), `'host:port'`, `'host'` (WebSocket:
 * port 80/443), `'[::1]:3000'`, `ws://` / `wss://` (and `http://` / `https://`, mapped to
 * them), in tcp mode `tcp://` / `tcps://`, and in a browser a path such as `'/socket'` on the
 * page's own host. `tls: true` makes the WebSocket target `wss:` and the TCP target TLS; a
 * `wss:`/`https:`/`tcps:` url is secure whatever `tls` says.
 * Anything else throws StelarError INVALID_URL at once, so a typo fails at construction and
 * not as an endless reconnect loop.
 */
import { ErrorCode, StelarError } from '../protocol/index.js';

export type ClientMode = 'ws' | 'tcp';

export interface ClientTarget {
  mode: ClientMode;
  secure: boolean;
  /** Host name or IP, IPv6 without brackets (what a socket connects to). */
  host: string;
  port: number;
  /** WebSocket request path with query, '/' at least; '/' for TCP. */
  path: string;
  /** Normalised form, what `getUrl()` returns: `ws://localhost:3000`, `wss://h:443/p`, `tcp://h:3001`, `tcps://…`. */
  url: string;
}

export type UrlInput = string | number;
/**
 * One address, or several servers of one service: the client connects to the first and moves
 * to the next when one refuses, is unreachable, or sends it away (failover).
 */
export type UrlList = UrlInput | readonly UrlInput[];

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
const WS_SCHEMES: Record<string, boolean> = { 'ws:': false, 'wss:': true, 'http:': false, 'https:': true };
/**
 * Everything is parsed under one non-special scheme: the WHATWG parser then keeps every
 * explicit port (http: would drop :80) and treats the authority alike for all inputs.
 */
const PARSE_AS = 'stelar://';
const TCP_SCHEMES: Record<string, boolean> = { 'tcp:': false, 'tcps:': true, 'tls:': true };

function invalid(input: unknown, why: string): StelarError {
  const shown = typeof input === 'string' ? `"${input}"` : String(input);
  return new StelarError(ErrorCode.INVALID_URL, `invalid server url ${shown}: ${why}`);
}

function checkPort(port: number, input: unknown): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(input, 'the port must be an integer from 1 to 65535');
  return port;
}

function format(mode: ClientMode, secure: boolean, host: string, port: number, path: string): string {
  const scheme = mode === 'tcp' ? (secure ? 'tcps' : 'tcp') : secure ? 'wss' : 'ws';
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${shownHost}:${port}${path === '/' ? '' : path}`;
}

function build(mode: ClientMode, secure: boolean, host: string, port: number, path: string): ClientTarget {
  return { mode, secure, host, port, path, url: format(mode, secure, host, port, path) };
}

/** The page's location in a browser, undefined in Node. */
function pageLocation(): { protocol: string; host: string } | undefined {
  const loc = (globalThis as { location?: { protocol?: unknown; host?: unknown } }).location;
  if (loc && typeof loc.protocol === 'string' && typeof loc.host === 'string' && loc.host) {
    return { protocol: loc.protocol, host: loc.host };
  }
  return undefined;
}

export function resolveTarget(input: UrlInput, mode: ClientMode = 'ws', tls = false): ClientTarget {
  if (mode !== 'ws' && mode !== 'tcp') throw new TypeError(`mode must be 'ws' or 'tcp', got ${String(mode)}`);
  if (typeof input === 'number') return build(mode, tls, 'localhost', checkPort(input, input), '/');
  if (typeof input !== 'string') throw invalid(input, 'expected a port number or a url string');
  const text = input.trim();
  if (text === '') throw invalid(input, 'it is empty');
  if (/^\d+$/.test(text)) return build(mode, tls, 'localhost', checkPort(Number(text), input), '/');

  let secure = tls;
  let absolute: string;
  const scheme = SCHEME.exec(text);
  if (scheme) {
    const protocol = `${scheme[1].toLowerCase()}:`;
    const table = mode === 'tcp' ? TCP_SCHEMES : WS_SCHEMES;
    if (!(protocol in table)) {
      const expected = mode === 'tcp' ? "'host:port', tcp:// or tcps://" : 'ws://, wss://, http:// or https://';
      throw invalid(input, `mode '${mode}' expects ${expected}`);
    }
    secure = secure || table[protocol];
    absolute = `${PARSE_AS}${text.slice(scheme[0].length)}`;
  } else if (text.startsWith('/') && mode === 'ws') {
    const page = pageLocation();
    if (!page) throw invalid(input, 'a bare path needs a page location (browser only)');
    secure = secure || page.protocol === 'https:';
    absolute = `${PARSE_AS}${page.host}${text}`;
  } else {
    absolute = `${PARSE_AS}${text}`;
  }

  let url: URL;
  try {
    url = new URL(absolute);
  } catch {
    throw invalid(input, 'it cannot be parsed as host:port or a url');
  }
  const host = (url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname).toLowerCase();
  if (!host) throw invalid(input, 'it has no host');
  let port: number;
  if (url.port !== '') port = checkPort(Number(url.port), input);
  else if (mode === 'tcp') throw invalid(input, "tcp mode needs a port ('host:port')");
  else port = secure ? 443 : 80;
  const path = `${url.pathname || '/'}${url.search}`;
  if (mode === 'tcp' && path !== '/') throw invalid(input, 'a tcp address has no path');
  return build(mode, secure, host, port, path);
}

/** Every address of a `UrlList`, in order; INVALID_URL for an empty list or any bad entry. */
export function resolveTargets(input: UrlList, mode: ClientMode = 'ws', tls = false): ClientTarget[] {
  if (!Array.isArray(input)) return [resolveTarget(input as UrlInput, mode, tls)];
  if (input.length === 0) throw invalid(input, 'the list of servers is empty');
  return input.map((one) => resolveTarget(one, mode, tls));
}
