/**
 * The metrics path on the server's HTTP port (served through the per-server router, next to
 * the health paths). Off unless `metrics` is set: then the request falls through to the
 * application's own routes, as if the path were not ours.
 *
 * Who may read it: with `metrics.token`, only requests bearing it (compared in constant time,
 * on digests, so neither the token nor its length leaks); a browser whose Origin is not in
 * `allowedOrigins` is refused (403). No `Access-Control-Allow-Origin: *` is ever sent: only
 * an origin named in `allowedOrigins` is let read it from a page.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { originAllowed, pathOf } from '../health.js';
import type { ResolvedConfig } from '../options.js';
import { CONTENT_TYPE } from './exposition.js';

export interface MetricsEndpointSource {
  readonly config: ResolvedConfig;
  /** One scrape's text. */
  render(): string;
}

const BEARER = /^Bearer +(\S+) *$/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = header === undefined ? null : BEARER.exec(header)?.[1];
  if (!given) return false;
  return timingSafeEqual(digest(given), digest(token));
}

function sendText(res: ServerResponse, status: number, headers: Record<string, string>, text: string, head = false): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : text);
}

/** Answers the request if it is for the metrics path; false lets the next handler have it. */
export function handleMetricsRequest(src: MetricsEndpointSource, req: IncomingMessage, res: ServerResponse): boolean {
  const c = src.config;
  const m = c.metrics;
  if (!m || pathOf(req.url) !== m.path) return false;
  const origin = req.headers.origin;
  if (!originAllowed(c.allowedOrigins, origin)) {
    sendText(res, 403, {}, 'origin not allowed\n');
    return true;
  }
  const cors: Record<string, string> = c.allowedOrigins && origin !== undefined ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : {};
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      ...cors,
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Allow-Headers': 'Authorization',
      'Access-Control-Max-Age': '86400',
      'Content-Length': '0',
    });
    res.end();
    return true;
  }
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    sendText(res, 405, { ...cors, Allow: 'GET, HEAD, OPTIONS' }, 'method not allowed\n');
    return true;
  }
  if (m.token !== null && !bearerMatches(req.headers.authorization, m.token)) {
    sendText(res, 401, { ...cors, 'WWW-Authenticate': 'Bearer realm="metrics"' }, 'unauthorized\n', head);
    return true;
  }
  let body: string;
  try {
    body = src.render();
  } catch (err) {
    c.logger.error('metrics could not be collected:', err);
    sendText(res, 500, cors, 'metrics could not be collected\n', head);
    return true;
  }
  res.writeHead(200, { ...cors, 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
  return true;
}
