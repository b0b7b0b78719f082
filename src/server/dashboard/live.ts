/**
 * The dashboard's live channel: a WebSocket endpoint of its own on the dashboard path, built
 * on our WebSocket layer and attached to the server's HTTP server beside the application's
 * endpoint. Its connections never become sessions: the hub, the handlers, middleware, hooks,
 * rooms and stats never see them, and nothing an application client sends can reach them.
 *
 * A tiny JSON protocol (text frames, at most MAX_INBOUND bytes from the page):
 *   page -> server  { t: 'auth', token }            first, within AUTH_TIMEOUT_MS
 *                   { t: 'view', clients: { q, page }, rooms: { q, page } }
 *                   { t: 'kick', id }               disconnect one client (close 4009)
 *   server -> page  { t: 'hello', ... }             after auth: the chart history
 *                   { t: 'tick', ... }              every second, and soon after a view/kick
 *                   { t: 'kicked', id, ok }
 * A wrong token closes with 4001, no auth in time with 4004, anything malformed with 1008.
 * When all MAX_VIEWERS slots are taken, a new connection takes the place of the oldest one
 * that has not authenticated yet (so unauthenticated connections cannot lock an operator
 * out); only when every slot is authenticated is it refused (503).
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { CloseCode } from '../../protocol/index.js';
import { WebSocketServer, type WebSocketConnection } from '../../websocket/index.js';
import type { LoggerLike } from '../../logger.js';
import type { DashboardAccess } from './access.js';
import { type ListRequest, listRequest } from './views.js';

/** Open dashboard connections at once (authenticated or not). */
export const MAX_VIEWERS = 16;
/** Largest message a page may send. */
export const MAX_INBOUND = 4096;
export const AUTH_TIMEOUT_MS = 5000;
/** A viewer that has this much unsent skips ticks until it reads (a tick is a few KiB). */
const MAX_BACKLOG = 1024 * 1024;
/** A view or kick is answered this soon (coalesced), not at the next tick. */
const PROMPT_MS = 50;
/** Wrong tokens are logged at most this often (with a count of the others). */
const WRONG_TOKEN_LOG_MS = 10_000;

export interface ViewerLists {
  clients: ListRequest;
  rooms: ListRequest;
}

export interface LiveChannelParts {
  server: HttpServer;
  path: string;
  access: DashboardAccess;
  logger: LoggerLike;
  /** The hello message (history and settings). */
  hello(): unknown;
  /** A tick for one viewer (its lists). */
  tick(lists: ViewerLists): unknown;
  /** Disconnects a client; `who` names the viewer for the log. */
  kick(id: string, who: string): boolean;
}

interface Viewer {
  ws: WebSocketConnection;
  address: string;
  authed: boolean;
  lists: ViewerLists;
  authTimer: NodeJS.Timeout | null;
  prompt: NodeJS.Timeout | null;
  /** Gave its slot to a newer connection; it is being destroyed. */
  evicted: boolean;
}

export class LiveChannel {
  readonly #p: LiveChannelParts;
  readonly #wss: WebSocketServer;
  /** Oldest first (insertion order), which is what eviction relies on. */
  readonly #viewers = new Set<Viewer>();
  #wrongTokens = 0;
  #wrongTokenLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(parts: LiveChannelParts) {
    this.#p = parts;
    this.#wss = new WebSocketServer({
      server: parts.server,
      path: parts.path,
      maxPayload: MAX_INBOUND,
      verifyClient: (req) => this.#verify(req),
    });
    this.#wss.on('connection', (ws: WebSocketConnection, req: IncomingMessage) => this.#open(ws, req));
    this.#wss.on('error', (err: unknown) => parts.logger.error('dashboard channel error:', err));
  }

  /** Authenticated viewers. */
  get watching(): number {
    let n = 0;
    for (const v of this.#viewers) if (v.authed) n++;
    return n;
  }

  /** Sends a tick to every authenticated viewer that keeps up. */
  push(): void {
    for (const v of this.#viewers) if (v.authed) this.#send(v, this.#p.tick(v.lists));
  }

  /** Closes every viewer (1001), destroying those still open after `graceMs`, and detaches from the HTTP server. */
  close(graceMs: number): Promise<void> {
    for (const v of this.#viewers) this.#clearTimers(v);
    const closed = new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    const timer = setTimeout(() => {
      for (const v of this.#viewers) v.ws.terminate();
    }, graceMs);
    timer.unref();
    return closed.finally(() => clearTimeout(timer));
  }

  #verify(req: IncomingMessage): true | { status: number; message: string } {
    if (!this.#p.access.upgradeAllowed(req)) return { status: 403, message: 'Forbidden' };
    let taken = 0;
    let oldestPending: Viewer | null = null;
    for (const v of this.#viewers) {
      if (v.evicted) continue;
      taken++;
      if (!v.authed && !oldestPending) oldestPending = v;
    }
    if (taken < MAX_VIEWERS) return true;
    if (!oldestPending) return { status: 503, message: 'Too many dashboard connections' };
    oldestPending.evicted = true;
    oldestPending.ws.terminate();
    return true;
  }

  #open(ws: WebSocketConnection, req: IncomingMessage): void {
    const v: Viewer = {
      ws,
      address: req.socket.remoteAddress ?? '?',
      authed: false,
      lists: { clients: listRequest(null), rooms: listRequest(null) },
      authTimer: null,
      prompt: null,
      evicted: false,
    };
    v.authTimer = setTimeout(() => ws.close(CloseCode.CONNECT_TIMEOUT, 'no auth'), AUTH_TIMEOUT_MS);
    v.authTimer.unref();
    this.#viewers.add(v);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(v, data, isBinary));
    ws.on('error', () => {}); // the connection has closed itself with the right code
    ws.on('close', () => {
      this.#clearTimers(v);
      this.#viewers.delete(v);
    });
  }

  #onMessage(v: Viewer, data: Buffer, isBinary: boolean): void {
    let m: { t?: unknown; token?: unknown; clients?: unknown; rooms?: unknown; id?: unknown } | null = null;
    if (!isBinary) {
      try {
        m = JSON.parse(data.toString('utf8'));
      } catch {}
    }
    if (!m || typeof m !== 'object') return v.ws.close(CloseCode.POLICY_VIOLATION, 'bad message');
    if (!v.authed) {
      if (m.t !== 'auth') return v.ws.close(CloseCode.POLICY_VIOLATION, 'auth first');
      if (!this.#p.access.tokenMatches(m.token)) {
        this.#logWrongToken(v.address);
        return v.ws.close(CloseCode.REJECTED, 'unauthorized');
      }
      v.authed = true;
      this.#clearTimers(v);
      this.#send(v, this.#p.hello());
      this.#send(v, this.#p.tick(v.lists));
      return;
    }
    if (m.t === 'view') {
      v.lists = { clients: listRequest(m.clients), rooms: listRequest(m.rooms) };
      this.#soon(v);
    } else if (m.t === 'kick' && typeof m.id === 'string') {
      const ok = this.#p.kick(m.id, v.address);
      this.#send(v, { t: 'kicked', id: m.id.slice(0, 256), ok });
      this.#soon(v);
    } else {
      v.ws.close(CloseCode.POLICY_VIOLATION, 'unknown message');
    }
  }

  /** Logged, but not once per attempt: someone guessing must not flood the log. */
  #logWrongToken(address: string): void {
    this.#wrongTokens++;
    const now = Date.now();
    if (now - this.#wrongTokenLoggedAt < WRONG_TOKEN_LOG_MS) return;
    const others = this.#wrongTokens - 1;
    this.#p.logger.warn(`dashboard: wrong token from ${address}${others > 0 ? ` (and ${others} more since the last report)` : ''}`);
    this.#wrongTokens = 0;
    this.#wrongTokenLoggedAt = now;
  }

  /** One prompt answer per viewer at a time, however fast the page asks. */
  #soon(v: Viewer): void {
    if (v.prompt) return;
    v.prompt = setTimeout(() => {
      v.prompt = null;
      this.#send(v, this.#p.tick(v.lists));
    }, PROMPT_MS);
    v.prompt.unref();
  }

  #send(v: Viewer, message: unknown): void {
    if (v.ws.readyState !== 1 || v.ws.bufferedAmount > MAX_BACKLOG) return;
    v.ws.send(JSON.stringify(message));
  }

  #clearTimers(v: Viewer): void {
    if (v.authTimer) clearTimeout(v.authTimer);
    if (v.prompt) clearTimeout(v.prompt);
    v.authTimer = null;
    v.prompt = null;
  }
}
