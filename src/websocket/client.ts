/**
 * The client role's opening handshake (RFC 6455 section 4.1), Node only: ws:// and wss://.
 * Resolves with an open WebSocketConnection once the server's 101 response checks out.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../protocol/codes.js';
import { StelarError } from '../protocol/errors.js';
import { WebSocketConnection } from './connection.js';
import { acceptKey, isToken, splitList } from './handshake.js';

export interface ConnectWebSocketOptions {
  /** Extra request headers (e.g. Origin, Authorization). */
  headers?: Record<string, string>;
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Largest inbound message (default 10 MiB). */
  maxPayload?: number;
  /** @deprecated Extra cap on the frames of one inbound message (none by default; reassembly is bounded by bytes, see `fragmentBudget`). */
  maxFragments?: number;
  /** Time allowed for the connect + handshake (default 10 s). */
  handshakeTimeout?: number;
  /** Passed to the connection (default 5000 ms). */
  closeTimeout?: number;
  // TLS (wss://)
  rejectUnauthorized?: boolean;
  ca?: string | Buffer | Array<string | Buffer>;
  servername?: string;
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/**
 * A refused upgrade may say why in this response header (a stelar server does): the codes a
 * client can act on are kept, anything else stays WS_HANDSHAKE_FAILED.
 */
const REFUSAL_HEADER = 'x-stelar-error';
const REFUSAL_CODES: ReadonlySet<string> = new Set([ErrorCode.ORIGIN_NOT_ALLOWED, ErrorCode.SHUTTING_DOWN]);

function fail(message: string, cause?: unknown, code: ErrorCode = ErrorCode.WS_HANDSHAKE_FAILED): StelarError {
  const err = new StelarError(code, message);
  if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause, enumerable: false });
  return err;
}

export function connectWebSocket(url: string | URL, options: ConnectWebSocketOptions = {}): Promise<WebSocketConnection> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new StelarError(ErrorCode.INVALID_URL, `invalid WebSocket URL: ${String(url)}`));
      return;
    }
    const secure = target.protocol === 'wss:' || target.protocol === 'https:';
    if (!secure && target.protocol !== 'ws:' && target.protocol !== 'http:') {
      reject(new StelarError(ErrorCode.INVALID_URL, `unsupported URL scheme ${target.protocol}`));
      return;
    }
    const protocols = options.protocols ?? [];
    if (!protocols.every(isToken) || new Set(protocols).size !== protocols.length) {
      reject(new StelarError(ErrorCode.WS_HANDSHAKE_FAILED, 'subprotocols must be distinct tokens'));
      return;
    }

    const key = randomBytes(16).toString('base64');
    const headers: OutgoingHttpHeaders = {
      ...options.headers,
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
    };
    if (protocols.length > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(', ');

    const requestOptions = {
      method: 'GET',
      hostname: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
      port: target.port || (secure ? 443 : 80),
      path: (target.pathname || '/') + target.search,
      headers,
      // A fresh socket: an upgraded connection never goes back to a keep-alive pool.
      agent: false as const,
      ...(secure
        ? {
            rejectUnauthorized: options.rejectUnauthorized ?? true,
            ca: options.ca,
            servername: options.servername ?? (isIp(target.hostname) ? undefined : target.hostname),
          }
        : {}),
    };

    let settled = false;
    let req: ClientRequest;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new StelarError(ErrorCode.WS_HANDSHAKE_TIMEOUT, 'WebSocket handshake timed out'));
    }, options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT);
    const settle = (err: StelarError | null, ws?: WebSocketConnection): void => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(ws!);
    };

    req = (secure ? httpsRequest : httpRequest)(requestOptions);
    req.on('error', (err) => settle(fail(`WebSocket connection failed: ${err.message}`, err)));
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      req.destroy();
      const told = res.headers[REFUSAL_HEADER];
      const code = typeof told === 'string' && REFUSAL_CODES.has(told) ? (told as ErrorCode) : ErrorCode.WS_HANDSHAKE_FAILED;
      settle(fail(`WebSocket handshake failed: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim(), undefined, code));
    });
    req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (settled) {
        socket.destroy();
        return;
      }
      const problem = checkResponse(res, key, protocols);
      if (problem) {
        socket.destroy();
        settle(fail(`WebSocket handshake failed: HTTP ${res.statusCode}: ${problem}`));
        return;
      }
      const protocol = res.headers['sec-websocket-protocol'] ?? '';
      // Hold reading until the caller's `await` has resumed and could attach listeners:
      // frames sent right behind the 101 (head) would otherwise be emitted to nobody.
      socket.pause();
      setImmediate(() => socket.resume());
      const ws = new WebSocketConnection(socket, {
        isServer: false,
        maxPayload: options.maxPayload,
        maxFragments: options.maxFragments,
        closeTimeout: options.closeTimeout,
        head,
        protocol,
      });
      settle(null, ws);
    });
    req.end();
  });
}

/** Why the server's 101 response is not acceptable (section 4.1, client requirements), or ''. */
function checkResponse(res: IncomingMessage, key: string, offered: string[]): string {
  if (res.statusCode !== 101) return 'expected 101 Switching Protocols';
  const upgrade = res.headers.upgrade;
  if (upgrade?.toLowerCase() !== 'websocket') return 'missing or invalid Upgrade header';
  const connection = splitList(res.headers.connection ?? '', true);
  if (!connection?.includes('upgrade')) return 'missing or invalid Connection header';
  if (res.headers['sec-websocket-accept'] !== acceptKey(key)) return 'invalid Sec-WebSocket-Accept';
  const protocol = res.headers['sec-websocket-protocol'];
  if (protocol !== undefined && !offered.includes(protocol)) return `server chose a subprotocol we did not offer`;
  if (res.headers['sec-websocket-extensions'] !== undefined) return 'server chose an extension we did not offer';
  return '';
}

function isIp(host: string): boolean {
  return host.startsWith('[') || /^[0-9.]+$/.test(host);
}
