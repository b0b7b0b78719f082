/**
 * WebSocketServer: accepts upgrades on its own HTTP server (`port`) or on a user's (`server`).
 *
 * On a user's server, every WebSocketServer attached to it shares one `upgrade` listener
 * (see router.ts) and the server's `request` listeners are never touched. `close()` detaches
 * from a user's server and never closes it; a server created here is closed by `close()`.
 *
 * Bounds on the handshake (own server only: a user's server keeps its own settings):
 * `maxHeaderSize` (431 above it), and `handshakeTimeout` as Node's headersTimeout and
 * requestTimeout, checked often enough that a request trickled a byte at a time is dropped.
 *
 * permessage-deflate (RFC 7692) is off unless `perMessageDeflate` is given: then the first
 * acceptable offer of each upgrade is taken (deflate-negotiation.ts) and the 101 answers it;
 * the server's connections share one zlib queue and one compressor per window size.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { boundedHttpOptions } from '../net/http-limits.js';
import { WebSocketConnection } from './connection.js';
import type { NegotiatedDeflate } from './deflate-sender.js';
import { DeflateContext } from './deflate-codec.js';
import { acceptDeflateOffer, type PerMessageDeflateOptions, resolveDeflateOptions } from './deflate-negotiation.js';
import { abortHandshake, checkUpgradeRequest, headerLines, switchingProtocols } from './handshake.js';
import { attach, detach, pathnameOf } from './router.js';

export type VerifyClientResult = true | false | { status: number; message?: string; headers?: Record<string, string> };

export interface WebSocketServerOptions {
  /** Create and listen on an HTTP server of our own. */
  port?: number;
  host?: string;
  /** Or attach to an existing HTTP(S) server. */
  server?: Server;
  /** Only upgrades to this pathname ('/' or none: every path no other WebSocketServer claims). */
  path?: string;
  /** Largest inbound message (default 10 MiB). */
  maxPayload?: number;
  /** @deprecated Extra cap on the frames of one inbound message (none by default; reassembly is bounded by bytes, see `fragmentBudget`). */
  maxFragments?: number;
  /** Own server only: the whole request head must arrive within this time (default 10 s). */
  handshakeTimeout?: number;
  /** Own server only: largest request head in bytes (default 16 KiB). */
  maxHeaderSize?: number;
  /** Passed to each connection (default 5000 ms). */
  closeTimeout?: number;
  /** Return true to accept, or the HTTP response that refuses (e.g. 403 for a bad Origin). */
  verifyClient?(req: IncomingMessage): VerifyClientResult;
  /** Extra headers for the 101 answer to this request (called after verifyClient accepted it). */
  acceptHeaders?(req: IncomingMessage): Record<string, string> | undefined;
  /** Pick one of the offered subprotocols, or false for none. */
  handleProtocols?(protocols: string[], req: IncomingMessage): string | false;
  /**
   * permessage-deflate (RFC 7692): true for the defaults, or settings. Default false (off):
   * compression costs CPU on every compressed message and memory per connection.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

export class WebSocketServer extends EventEmitter {
  readonly #opts: WebSocketServerOptions;
  readonly #server: Server;
  readonly #ownServer: boolean;
  readonly #path: string;
  readonly #clients = new Set<WebSocketConnection>();
  /** permessage-deflate settings and shared parts; null = off. */
  readonly #deflate: DeflateContext | null;
  #closed = false;

  constructor(options: WebSocketServerOptions) {
    super();
    // A copy: the caller's object is never read again, and `maxPayload` changes only through its setter.
    this.#opts = { ...options };
    this.#path = options.path ?? '/';
    const deflate = resolveDeflateOptions(options.perMessageDeflate);
    this.#deflate = deflate ? new DeflateContext(deflate) : null;
    if (options.server) {
      this.#server = options.server;
      this.#ownServer = false;
    } else if (options.port !== undefined) {
      this.#server = this.#createServer(options);
      this.#ownServer = true;
    } else {
      throw new TypeError('WebSocketServer needs `port` or `server`');
    }
    attach(this.#server, this.#path, this);
  }

  /** The largest message accepted by connections opened from now on (open ones keep theirs). */
  get maxPayload(): number | undefined {
    return this.#opts.maxPayload;
  }
  set maxPayload(value: number | undefined) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) throw new RangeError(`maxPayload must be a positive integer, got ${String(value)}`);
    this.#opts.maxPayload = value;
  }

  /** The pathname this server answers ('/' = catch-all). */
  get path(): string {
    return this.#path;
  }

  /** Open connections accepted by this server. */
  get clients(): ReadonlySet<WebSocketConnection> {
    return this.#clients;
  }

  address(): AddressInfo | string | null {
    return this.#server.address();
  }

  /** Whether this server would take the upgrade (by path), regardless of other servers. */
  shouldHandle(req: IncomingMessage): boolean {
    return this.#path === '/' || pathnameOf(req.url) === this.#path;
  }

  /** Completes (or refuses) the handshake on `socket`, then calls `cb` with the connection. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WebSocketConnection, req: IncomingMessage) => void): void {
    socket.on('error', onHandshakeError);
    if (this.#closed) return abortHandshake(socket, 503, 'Server is closing');

    const check = checkUpgradeRequest(req);
    if (!check.ok) return abortHandshake(socket, check.status, check.message, check.headers);

    if (this.#opts.verifyClient) {
      let verdict: VerifyClientResult;
      try {
        verdict = this.#opts.verifyClient(req);
      } catch {
        return abortHandshake(socket, 500);
      }
      if (verdict !== true) {
        if (!verdict) return abortHandshake(socket, 401);
        return abortHandshake(socket, verdict.status, verdict.message, verdict.headers);
      }
    }

    let protocol = '';
    if (check.protocols.length > 0 && this.#opts.handleProtocols) {
      let chosen: string | false;
      try {
        chosen = this.#opts.handleProtocols(check.protocols, req);
      } catch {
        return abortHandshake(socket, 500);
      }
      // Only one the client offered: anything else would fail the client's check anyway.
      if (typeof chosen === 'string' && check.protocols.includes(chosen)) protocol = chosen;
    }

    // The client may have gone away while we decided.
    if (!socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }
    let extra = this.#opts.acceptHeaders ? headerLines(this.#opts.acceptHeaders(req)) : '';
    const deflate = this.#negotiateDeflate(req);
    if (deflate) extra += `Sec-WebSocket-Extensions: ${deflate.extensions}\r\n`;
    // Corked until the next tick: what the connection callback sends in this tick (a
    // StelarServer's answer to the Connect carried in the upgrade) is flushed by the write
    // batcher's tick, queued before ours, so the 101 and that answer leave in one syscall.
    socket.cork();
    socket.write(switchingProtocols(check.key, protocol, extra));
    socket.off('error', onHandshakeError);

    const ws = new WebSocketConnection(socket, {
      isServer: true,
      maxPayload: this.#opts.maxPayload,
      maxFragments: this.#opts.maxFragments,
      closeTimeout: this.#opts.closeTimeout,
      head,
      protocol,
      registry: this.#clients,
      deflate,
    });
    this.#clients.add(ws);
    try {
      cb(ws, req);
    } finally {
      process.nextTick(uncork, socket);
    }
  }

  /** The permessage-deflate this upgrade gets: its first acceptable offer, or none. */
  #negotiateDeflate(req: IncomingMessage): NegotiatedDeflate | undefined {
    const context = this.#deflate;
    const offer = req.headers['sec-websocket-extensions'];
    if (context === null || offer === undefined) return undefined;
    const accepted = acceptDeflateOffer(offer, context.options);
    return accepted ? { codec: context.codec(accepted.params), extensions: accepted.response } : undefined;
  }

  /**
   * Stops accepting, closes open connections with 1001 (going away) and detaches from the
   * HTTP server. A server created here is closed too; a user's server is left running.
   */
  close(cb?: (err?: Error) => void): void {
    if (this.#closed) {
      if (cb) queueMicrotask(() => cb());
      return;
    }
    this.#closed = true;
    detach(this.#server, this.#path, this);
    const pending = [...this.#clients].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === 3) return resolve();
          ws.once('close', () => resolve());
          ws.close(1001, 'server closing');
        }),
    );
    if (this.#ownServer) {
      this.#server.close((err) => {
        this.emit('close');
        cb?.(err);
      });
      this.#server.closeIdleConnections();
    } else {
      void Promise.all(pending).then(() => {
        this.emit('close');
        cb?.();
      });
    }
  }

  #createServer(options: WebSocketServerOptions): Server {
    const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    const server = createServer(boundedHttpOptions(timeout, options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE), (req, res) => {
      // Node only emits `upgrade` when both Upgrade and Connection: upgrade are present, so a
      // half-formed WebSocket attempt lands here: tell it what is wrong. Plain HTTP gets 426.
      let status = 426;
      let message = 'Upgrade Required';
      let headers: Record<string, string> = { Upgrade: 'websocket' };
      if (req.headers.upgrade !== undefined || req.headers['sec-websocket-key'] !== undefined) {
        const check = checkUpgradeRequest(req);
        if (!check.ok) ({ status, message, headers = {} } = check);
      }
      res.writeHead(status, {
        ...headers,
        Connection: 'close',
        'Content-Type': 'text/plain',
        'Content-Length': Buffer.byteLength(message),
      });
      res.end(message);
    });
    server.on('error', (err) => this.emit('error', err));
    server.on('listening', () => this.emit('listening'));
    server.listen(options.port, options.host);
    return server;
  }
}

/** Ends the cork of handleUpgrade (a no-op once `end()` uncorked the socket). */
function uncork(socket: Duplex): void {
  if (socket.writableCorked > 0) socket.uncork();
}

function onHandshakeError(this: Duplex): void {
  this.destroy();
}
