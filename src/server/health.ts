/**
 * The HTTP side: /health (stats as JSON, or the user's handler), /livez and /readyz for
 * orchestrators, CORS for all three. Readiness turns 503 the moment shutdown starts so a
 * load balancer drains this instance while its clients are still being closed.
 *
 * The health path carries counters (or whatever `customHealthHandler` answers): `healthAuth`,
 * when set, is asked first for every GET/HEAD of it; false answers 401, a throw or rejection
 * 500, and neither runs the handler nor reads the stats. Liveness and readiness carry nothing
 * and stay open for orchestrators.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedConfig } from './options.js';
import type { StelarStats } from './types.js';

export interface HealthSource {
  readonly config: ResolvedConfig;
  readonly shuttingDown: boolean;
  stats(): StelarStats;
}

/** null = every origin; a '*' entry also allows every origin. Requests without Origin are not browsers. */
export function originAllowed(allowed: readonly string[] | null, origin: string | undefined): boolean {
  if (!allowed || origin === undefined) return true;
  return allowed.includes(origin) || allowed.includes('*');
}

function corsHeaders(allowed: readonly string[] | null, req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (!allowed) return { 'Access-Control-Allow-Origin': '*' };
  if (origin !== undefined && originAllowed(allowed, origin)) return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  return { Vary: 'Origin' };
}

/** The path of a request URL (without its query). */
export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function sendJson(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : text);
}

/** Answers the request if its path is one of ours; returns false to let others handle it. */
export function handleHealthRequest(src: HealthSource, req: IncomingMessage, res: ServerResponse): boolean {
  const c = src.config;
  const path = pathOf(req.url);
  const kind = path === c.healthEndpoint ? 'health' : path === c.livenessEndpoint ? 'live' : path === c.readinessEndpoint ? 'ready' : null;
  if (!kind) return false;
  const cors = corsHeaders(c.allowedOrigins, req);
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      ...cors,
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'Content-Type, Authorization',
      'Access-Control-Max-Age': '86400',
      'Content-Length': '0',
    });
    res.end();
    return true;
  }
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    sendJson(res, 405, { ...cors, Allow: 'GET, HEAD, OPTIONS' }, { status: 'error', message: 'method not allowed' }, false);
    return true;
  }
  if (kind === 'live') {
    sendJson(res, 200, cors, { status: 'ok' }, head);
  } else if (kind === 'ready') {
    if (src.shuttingDown) sendJson(res, 503, cors, { status: 'shutting_down' }, head);
    else sendJson(res, 200, cors, { status: 'ready' }, head);
  } else if (c.healthAuth) {
    authorize(src, c.healthAuth, req, res, cors, head);
  } else {
    serveHealth(src, req, res, cors, head);
  }
  return true;
}

/** The health path itself, once allowed. */
function serveHealth(src: HealthSource, req: IncomingMessage, res: ServerResponse, cors: Record<string, string>, head: boolean): void {
  const c = src.config;
  if (c.customHealthHandler) {
    for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
    runCustom(src, c.customHealthHandler, req, res);
  } else if (src.shuttingDown) {
    sendJson(res, 503, cors, { status: 'shutting_down', ...src.stats() }, head);
  } else {
    sendJson(res, 200, cors, { status: 'ok', ...src.stats() }, head);
  }
}

/** Asks `healthAuth`; only a true answer serves the path. */
function authorize(
  src: HealthSource,
  auth: NonNullable<ResolvedConfig['healthAuth']>,
  req: IncomingMessage,
  res: ServerResponse,
  cors: Record<string, string>,
  head: boolean,
): void {
  const decide = (allowed: unknown): void => {
    if (res.writableEnded || res.destroyed) return;
    if (allowed === true) serveHealth(src, req, res, cors, head);
    else sendJson(res, 401, cors, { status: 'error', message: 'unauthorized' }, head);
  };
  const fail = (err: unknown): void => {
    src.config.logger.error('healthAuth failed:', err);
    if (!res.headersSent) sendJson(res, 500, cors, { status: 'error', message: 'health authorization failed' }, head);
    else res.end();
  };
  try {
    const result = auth(req);
    if (result instanceof Promise) result.then(decide, fail);
    else decide(result);
  } catch (err) {
    fail(err);
  }
}

function runCustom(src: HealthSource, handler: NonNullable<ResolvedConfig['customHealthHandler']>, req: IncomingMessage, res: ServerResponse): void {
  const fail = (err: unknown): void => {
    src.config.logger.error('customHealthHandler failed:', err);
    if (!res.headersSent) sendJson(res, 500, {}, { status: 'error', message: 'health handler failed' }, false);
    else res.end();
  };
  try {
    const result = handler(req, res, src.stats());
    if (result instanceof Promise) result.catch(fail);
  } catch (err) {
    fail(err);
  }
}
