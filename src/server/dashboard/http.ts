/**
 * The dashboard page over HTTP: GET (or HEAD) of the dashboard path. Without the token it
 * answers 401 with a small form asking for it (the form reloads the page with `?token=`);
 * with it, the page itself. Both are static HTML with their script and style inline, pinned
 * by a Content-Security-Policy that allows nothing else: no other script, no framing, and
 * connections only back to this origin (the live channel).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DashboardAccess, requestToken } from './access.js';
import { DASHBOARD_PAGE, loginPage, PAGE_CSP } from './page.js';

function send(res: ServerResponse, status: number, body: string, head: boolean, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'Content-Security-Policy': PAGE_CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    ...extra,
  });
  res.end(head ? undefined : body);
}

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...extra });
  res.end(text);
}

/** Answers the request when it is for the dashboard path; false lets the next handler have it. */
export function handleDashboardRequest(path: string, access: DashboardAccess, req: IncomingMessage, res: ServerResponse): boolean {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return false;
  }
  if (url.pathname !== path) return false;
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    plain(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    return true;
  }
  if (!access.requestAllowed(req)) {
    plain(res, 403, 'Forbidden: without a token the dashboard answers only to a loopback host name (localhost, 127.0.0.1, [::1])');
    return true;
  }
  if (access.needsToken) {
    const token = requestToken(req, url);
    if (!access.tokenMatches(token)) {
      send(res, 401, loginPage(token !== null), head, { 'WWW-Authenticate': 'Bearer realm="stelar dashboard"' });
      return true;
    }
  }
  send(res, 200, DASHBOARD_PAGE, head);
  return true;
}
