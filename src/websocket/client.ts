/**
 * The client role's opening handshake (RFC 6455 section 4.1), Node only: ws:// and wss://.
 * Resolves with an open WebSocketConnection once the server's 101 response checks out.
 *
 * The upgrade is written and read here on a plain (or TLS) socket, not through Node's HTTP
 * client: one request and one response head is all a handshake is, and a ClientRequest,
 * its agent plumbing and an HTTP parser per connection cost more than the rest of opening
 * a connection. The response head is bounded (MAX_RESPONSE_HEAD) and read with plain loops.
 *
 * With `perMessageDeflate` the request offers permessage-deflate (RFC 7692); an answer that
 * accepts it is checked (deflate-negotiation.ts) and a wrong one fails the handshake. Client
 * connections share one zlib queue per process.
 */
import { randomFillSync } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ErrorCode } from '../protocol/codes.js';
import { StelarError } from '../protocol/errors.js';
import { ERROR_HEADER } from '../protocol/packet.js';
import { WebSocketConnection } from './connection.js';
import type { NegotiatedDeflate } from './deflate-sender.js';
import { DeflateContext } from './deflate-codec.js';
import { CLIENT_DEFLATE_DEFAULTS, checkDeflateAnswer, deflateOffer, type PerMessageDeflateOptions, resolveDeflateOptions } from './deflate-negotiation.js';
import { acceptKey, isToken, splitList } from './handshake.js';
import { sharedClientLimiter } from './zlib-limiter.js';

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
  /** Called with the 101's headers (lower-case names) once it checked out, before the promise resolves. */
  onResponse?(headers: Readonly<Record<string, string>>): void;
  /**
   * Offer permessage-deflate (RFC 7692): true for the defaults, or settings (`threshold`,
   * `level`, and what to ask of the server). Default false. The client compresses every
   * message on its own (no context kept), whatever the server allows.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** Largest response head accepted (Node's HTTP client default, 16 KiB). */
const MAX_RESPONSE_HEAD = 16 * 1024;

/**
 * A refused upgrade may say why in its ERROR_HEADER (a stelar server does): the codes a
 * client can act on are kept, anything else stays WS_HANDSHAKE_FAILED.
 */
const REFUSAL_CODES: ReadonlySet<string> = new Set([ErrorCode.ORIGIN_NOT_ALLOWED, ErrorCode.SHUTTING_DOWN]);

function fail(message: string, cause?: unknown, code: ErrorCode = ErrorCode.WS_HANDSHAKE_FAILED): StelarError {
  const err = new StelarError(code, message);
  if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause, enumerable: false });
  return err;
}

/**
 * Sec-WebSocket-Key nonces, drawn from the CSPRNG in batches: one call per KEY_BATCH keys
 * instead of one per connection (the key only has to be unpredictable, RFC 6455 4.1).
 */
const KEY_BATCH = 64;
const keyPool = Buffer.alloc(16 * KEY_BATCH);
let keyNext = KEY_BATCH;

function newKey(): string {
  if (keyNext === KEY_BATCH) {
    randomFillSync(keyPool);
    keyNext = 0;
  }
  const start = 16 * keyNext++;
  return keyPool.toString('base64', start, start + 16);
}

/** What the server answered: status, reason phrase, headers by lower-case name (repeats joined with ", "). */
interface ResponseHead {
  status: number;
  reason: string;
  headers: Record<string, string>;
}

/** A response head (without its final CRLF CRLF), or why it is not one. Plain loops, no regular expressions. */
function parseResponseHead(text: string): ResponseHead | string {
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  // HTTP-version SP status-code SP [reason-phrase]
  const statusLine = text.slice(0, lineEnd);
  if (!statusLine.startsWith('HTTP/1.') || statusLine.length < 12 || statusLine[8] !== ' ') return 'invalid HTTP status line';
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const c = statusLine.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return 'invalid HTTP status line';
    status = status * 10 + c;
  }
  if (statusLine.length > 12 && statusLine[12] !== ' ') return 'invalid HTTP status line';
  const reason = statusLine.slice(13);
  const headers: Record<string, string> = Object.create(null);
  let start = lineEnd + 2;
  while (start < text.length) {
    let end = text.indexOf('\r\n', start);
    if (end === -1) end = text.length;
    const colon = text.indexOf(':', start);
    if (colon === -1 || colon >= end) return 'invalid HTTP header line';
    const name = text.slice(start, colon);
    if (!isToken(name)) return 'invalid HTTP header name';
    let a = colon + 1;
    let b = end;
    while (a < b && (text.charCodeAt(a) === 0x20 || text.charCodeAt(a) === 0x09)) a++;
    while (b > a && (text.charCodeAt(b - 1) === 0x20 || text.charCodeAt(b - 1) === 0x09)) b--;
    const key = name.toLowerCase();
    const value = text.slice(a, b);
    const seen = headers[key];
    headers[key] = seen === undefined ? value : `${seen}, ${value}`;
    start = end + 2;
  }
  return { status, reason, headers };
}

/** A header value Node's HTTP client would refuse to send (CR, LF, other controls). */
function badHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return true;
  }
  return false;
}

/** `Host:` as Node's HTTP client writes it: IPv6 in brackets, the port unless it is the scheme's default. */
function hostHeader(hostname: string, port: number, secure: boolean): string {
  const host = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
  return port === (secure ? 443 : 80) ? host : `${host}:${port}`;
}

/** The request head, or a TypeError for a header that cannot be sent (as Node's client throws). */
function requestHead(
  path: string,
  host: string,
  key: string,
  protocols: string[],
  extensions: string,
  extra: Record<string, string> | undefined,
): string | TypeError {
  const ours: Record<string, string> = {
    connection: 'Connection: Upgrade',
    upgrade: 'Upgrade: websocket',
    'sec-websocket-key': `Sec-WebSocket-Key: ${key}`,
    'sec-websocket-version': 'Sec-WebSocket-Version: 13',
  };
  if (protocols.length > 0) ours['sec-websocket-protocol'] = `Sec-WebSocket-Protocol: ${protocols.join(', ')}`;
  if (extensions !== '') ours['sec-websocket-extensions'] = `Sec-WebSocket-Extensions: ${extensions}`;
  let head = `GET ${path} HTTP/1.1\r\n`;
  let hostGiven = false;
  if (extra) {
    for (const name in extra) {
      const lower = name.toLowerCase();
      if (lower in ours) continue; // ours win, as they did over the caller's through setHeader
      const value = String(extra[name]);
      if (!isToken(name)) return new TypeError(`Header name must be a valid HTTP token ["${name}"]`);
      if (badHeaderValue(value)) return new TypeError(`Invalid character in header content ["${name}"]`);
      if (lower === 'host') hostGiven = true;
      head += `${name}: ${value}\r\n`;
    }
  }
  if (!hostGiven) head += `Host: ${host}\r\n`;
  for (const line of Object.values(ours)) head += `${line}\r\n`;
  return `${head}\r\n`;
}

const HTTP_PREFIX = Buffer.from('HTTP/', 'latin1');

/** Whether the bytes so far can still be the start of an HTTP response. */
function startsLikeHttp(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, HTTP_PREFIX.length);
  return bytes.compare(HTTP_PREFIX, 0, n, 0, n) === 0;
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

    let deflate: DeflateContext | null = null;
    try {
      const settings = resolveDeflateOptions(options.perMessageDeflate, 'perMessageDeflate', CLIENT_DEFLATE_DEFAULTS);
      if (settings) deflate = new DeflateContext(settings, sharedClientLimiter());
    } catch (err) {
      reject(err);
      return;
    }

    const key = newKey();
    const hostname = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    const port = target.port ? Number(target.port) : secure ? 443 : 80;
    const offer = deflate ? deflateOffer(deflate.options) : '';
    const head = requestHead((target.pathname || '/') + target.search, hostHeader(hostname, port, secure), key, protocols, offer, options.headers);
    if (head instanceof TypeError) {
      reject(head);
      return;
    }

    // A fresh socket: an upgraded connection never goes back to a keep-alive pool. Written at
    // once: the socket holds the request until it is connected (and, for wss, secured).
    const socket: Socket = secure
      ? tlsConnect({
          host: hostname,
          port,
          rejectUnauthorized: options.rejectUnauthorized ?? true,
          ca: options.ca,
          servername: options.servername ?? (isIp(hostname) ? undefined : hostname),
        })
      : netConnect({ host: hostname, port });
    socket.setNoDelay(true);

    let settled = false;
    let received: Buffer | null = null;
    const timer = setTimeout(() => {
      settle(fail('WebSocket handshake timed out', undefined, ErrorCode.WS_HANDSHAKE_TIMEOUT));
      socket.destroy();
    }, options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT);
    function settle(err: StelarError | null, ws?: WebSocketConnection): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) {
        socket.on('error', () => {}); // a late error from the dying socket must not crash anyone
        socket.destroy();
        reject(err);
      } else resolve(ws!);
    }
    function onError(err: Error): void {
      settle(fail(`WebSocket connection failed: ${err.message}`, err));
    }
    function onClose(): void {
      settle(fail('WebSocket connection failed: socket hang up'));
    }
    function onData(chunk: Buffer): void {
      const from = received ? Math.max(0, received.length - 3) : 0;
      received = received ? Buffer.concat([received, chunk]) : chunk;
      // A peer that is not an HTTP server (e.g. our TCP port) is named at its first bytes,
      // not left to a hang-up or the timeout. Same words as Node's HTTP parser used.
      if (!startsLikeHttp(received)) return settle(fail('WebSocket connection failed: Parse Error: Expected HTTP/ (the server did not answer with HTTP)'));
      const end = received.indexOf('\r\n\r\n', from, 'latin1');
      if (end === -1) {
        if (received.length > MAX_RESPONSE_HEAD) settle(fail('WebSocket handshake failed: response head too large'));
        return;
      }
      if (end > MAX_RESPONSE_HEAD) return settle(fail('WebSocket handshake failed: response head too large'));
      const res = parseResponseHead(received.toString('latin1', 0, end));
      if (typeof res === 'string') return settle(fail(`WebSocket connection failed: ${res}`));
      if (res.status !== 101) {
        const told = res.headers[ERROR_HEADER];
        const code = told !== undefined && REFUSAL_CODES.has(told) ? (told as ErrorCode) : ErrorCode.WS_HANDSHAKE_FAILED;
        return settle(fail(`WebSocket handshake failed: HTTP ${res.status} ${res.reason}`.trim(), undefined, code));
      }
      const problem = checkResponse(res, key, protocols);
      if (problem) return settle(fail(`WebSocket handshake failed: HTTP ${res.status}: ${problem}`));
      const extensions = res.headers['sec-websocket-extensions'];
      let negotiated: NegotiatedDeflate | undefined;
      if (extensions !== undefined) {
        // Only an answer to our offer may name an extension (RFC 6455 section 4.1, RFC 7692 section 5.1).
        const params = deflate ? checkDeflateAnswer(extensions, deflate.options) : 'server chose an extension we did not offer';
        if (typeof params === 'string') return settle(fail(`WebSocket handshake failed: HTTP ${res.status}: ${params}`));
        negotiated = { codec: deflate!.codec(params), extensions };
      }
      // Hold reading until the caller's `await` has resumed and could attach listeners:
      // frames sent right behind the 101 (the rest of this chunk) would otherwise be emitted to nobody.
      socket.off('data', onData);
      socket.pause();
      setImmediate(() => socket.resume());
      const ws = new WebSocketConnection(socket, {
        isServer: false,
        maxPayload: options.maxPayload,
        maxFragments: options.maxFragments,
        closeTimeout: options.closeTimeout,
        head: received.subarray(end + 4),
        protocol: res.headers['sec-websocket-protocol'] ?? '',
        deflate: negotiated,
      });
      options.onResponse?.(res.headers);
      settle(null, ws);
    }
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(head, 'latin1');
  });
}

/** Why the server's 101 response is not acceptable (section 4.1, client requirements), or ''. */
function checkResponse(res: ResponseHead, key: string, offered: string[]): string {
  const upgrade = res.headers.upgrade;
  if (upgrade?.toLowerCase() !== 'websocket') return 'missing or invalid Upgrade header';
  const connection = splitList(res.headers.connection ?? '', true);
  if (!connection?.includes('upgrade')) return 'missing or invalid Connection header';
  if (res.headers['sec-websocket-accept'] !== acceptKey(key)) return 'invalid Sec-WebSocket-Accept';
  const protocol = res.headers['sec-websocket-protocol'];
  if (protocol !== undefined && !offered.includes(protocol)) return `server chose a subprotocol we did not offer`;
  return '';
}

function isIp(host: string): boolean {
  return host.startsWith('[') || /^[0-9.]+$/.test(host) || host.includes(':');
}
