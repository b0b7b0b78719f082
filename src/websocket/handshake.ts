/**
 * The opening handshake (RFC 6455 section 4): validating a client's upgrade request,
 * the 101 response, and the small HTTP error responses that refuse one.
 *
 * Header lists are parsed with plain loops (no regular expressions over attacker
 * controlled text, so nothing can backtrack).
 */
import * as crypto from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WS_GUID } from './opcodes.js';

const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (section 4.2.2 step 5.4). */
export function acceptKey(key: string): string {
  // crypto.hash (Node >= 20.12) is one call with no Hash object; createHash where it is missing.
  if (oneShot) return oneShot('sha1', key + WS_GUID, 'base64');
  return crypto
    .createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

export type HandshakeCheck = { ok: true; key: string; protocols: string[] } | { ok: false; status: number; message: string; headers?: Record<string, string> };

/** RFC 7230 tchar: the characters of a token (subprotocol names are tokens). */
export function isTokenChar(c: number): boolean {
  if (c >= 0x30 && c <= 0x39) return true; // 0-9
  if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) return true; // A-Z a-z
  // ! # $ % & ' * + - . ^ _ ` | ~
  return "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)) && c < 0x7f;
}

export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTokenChar(value.charCodeAt(i))) return false;
  return true;
}

/**
 * Splits a comma-separated header into trimmed, lower-cased or raw elements.
 * Returns null on an empty element (`a,,b`): a list with holes is malformed.
 */
export function splitList(value: string, lowerCase: boolean): string[] | null {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i < value.length && value.charCodeAt(i) !== 0x2c) continue;
    let a = start;
    let b = i;
    while (a < b && (value.charCodeAt(a) === 0x20 || value.charCodeAt(a) === 0x09)) a++;
    while (b > a && (value.charCodeAt(b - 1) === 0x20 || value.charCodeAt(b - 1) === 0x09)) b--;
    if (a === b) return null;
    const item = value.slice(a, b);
    out.push(lowerCase ? item.toLowerCase() : item);
    start = i + 1;
  }
  return out;
}

function hasToken(value: string | undefined, token: string): boolean {
  if (!value) return false;
  // The usual header is the token alone (`Upgrade: websocket`, `Connection: Upgrade`): no list to split.
  if (value.length === token.length) return value.toLowerCase() === token;
  const items = splitList(value, true);
  return items?.includes(token) === true;
}

/** How many times a header was sent (Node joins repeated unknown headers with ", "). */
function headerCount(req: IncomingMessage, lowerName: string): number {
  let n = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lowerName) n++;
  return n;
}

/** A character of the base64 alphabet (RFC 4648 section 4), not counting the `=` pad. */
export function isBase64Char(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
}

/** A Sec-WebSocket-Key is the base64 of exactly 16 bytes: 22 base64 characters then "==". */
function isValidKey(key: string): boolean {
  if (key.length !== 24 || key[22] !== '=' || key[23] !== '=') return false;
  for (let i = 0; i < 22; i++) if (!isBase64Char(key.charCodeAt(i))) return false;
  return true;
}

/** Checks a client's upgrade request (sections 4.1 and 4.2.1). */
export function checkUpgradeRequest(req: IncomingMessage): HandshakeCheck {
  // Section 4.1: "The method of the request MUST be GET, and the HTTP version MUST be at least
  // 1.1." 400, not 505: 505 means the major version is unsupported, and 1.0 shares ours; an
  // HTTP/1.0 upgrade is simply not a valid opening handshake (section 4.2.1 names 400 for that).
  if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) {
    return { ok: false, status: 400, message: 'WebSocket handshakes need HTTP/1.1 or later' };
  }
  if (req.method !== 'GET') {
    return { ok: false, status: 405, message: 'WebSocket handshakes use GET', headers: { Allow: 'GET' } };
  }
  const upgrade = req.headers.upgrade;
  if (!hasToken(upgrade, 'websocket')) return { ok: false, status: 400, message: 'Missing or invalid Upgrade header' };
  if (!hasToken(req.headers.connection, 'upgrade')) {
    return { ok: false, status: 400, message: 'Missing or invalid Connection header' };
  }
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || headerCount(req, 'sec-websocket-key') !== 1 || !isValidKey(key)) {
    return { ok: false, status: 400, message: 'Missing or invalid Sec-WebSocket-Key header' };
  }
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' || headerCount(req, 'sec-websocket-version') !== 1) {
    return {
      ok: false,
      status: 426,
      message: 'Unsupported WebSocket version',
      headers: { 'Sec-WebSocket-Version': '13' },
    };
  }
  let protocols: string[] = [];
  const offered = req.headers['sec-websocket-protocol'];
  if (offered !== undefined) {
    const list = splitList(offered, false);
    if (list === null || !list.every(isToken) || new Set(list).size !== list.length) {
      return { ok: false, status: 400, message: 'Invalid Sec-WebSocket-Protocol header' };
    }
    protocols = list;
  }
  return { ok: true, key, protocols };
}

/** The 101 response that completes the handshake; `extra` are further header lines, each ending in CRLF. */
export function switchingProtocols(key: string, protocol?: string, extra = ''): string {
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (protocol) head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  return `${head}${extra}\r\n`;
}

/** Header lines (`Name: value\r\n`) for a response; names that are not tokens are skipped, values lose CR/LF. */
export function headerLines(headers: Record<string, string | number> | undefined): string {
  let out = '';
  if (headers) for (const name in headers) if (isToken(name)) out += `${name}: ${clean(String(headers[name]))}\r\n`;
  return out;
}

/** Strips CR/LF so a user-supplied header or message cannot inject response lines. */
function clean(text: string): string {
  let out = '';
  for (const ch of String(text)) if (ch !== '\r' && ch !== '\n') out += ch;
  return out;
}

/**
 * Refuses an upgrade with a small HTTP response, then destroys the socket once it is
 * written (or at once if it can no longer be written to).
 */
export function abortHandshake(socket: Duplex, status: number, message?: string, headers: Record<string, string | number> = {}): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  const body = clean(message ?? STATUS_CODES[status] ?? 'Error');
  let head = `HTTP/1.1 ${status} ${clean(STATUS_CODES[status] ?? 'Error')}\r\n`;
  head += 'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n';
  head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    const n = clean(name);
    if (!isToken(n) || n.toLowerCase() === 'content-length' || n.toLowerCase() === 'connection') continue;
    head += `${n}: ${clean(String(value))}\r\n`;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(head + '\r\n' + body);
}
