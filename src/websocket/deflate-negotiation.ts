/**
 * permessage-deflate (RFC 7692) negotiation: the options, the server's answer to an offer, and
 * the client's offer and its check of the answer. Pure functions over header text; the zlib
 * work is in deflate-codec.ts.
 *
 * Server (section 5 and 7.1): the offers are read in order and the first acceptable one is
 * taken. An offer is declined (the next one is tried, and with none left the connection opens
 * without compression) when it has a parameter the RFC does not define, a parameter twice, or
 * an invalid value (a window size outside 8..15, a value on a flag). A header outside the
 * grammar of RFC 6455 section 9.1 is ignored the same way: declining never fails a handshake
 * that would succeed without the extension.
 *
 * Client (section 5.1 and 7.1): an answer naming anything but one permessage-deflate, with an
 * unknown or repeated parameter, an invalid value, `client_max_window_bits` without a value or
 * above what was offered, or a `server_max_window_bits` above what was asked for, fails the
 * connection.
 */
import { type ExtensionOffer, formatExtension, parseExtensions } from './extension-header.js';
import { DEFAULT_ZLIB_CONCURRENCY } from './zlib-limiter.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** permessage-deflate settings of a server or a client (`perMessageDeflate: true | { ... }`). */
export interface PerMessageDeflateOptions {
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib compression level of what we send, 0 (store) to 9 (smallest). Default 1 (fastest). */
  level?: number;
  /**
   * Server: compress every message on its own (the default, true): a broadcast is then
   * compressed once and the same frame goes to every recipient, and no connection keeps a
   * compressor (~300 KB each). false lets each connection keep its compressor between messages
   * (smaller frames, one compression per recipient) unless the client asks otherwise.
   * Client: ask the server to compress every message on its own. Default false.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: ask clients to compress every message on its own (the default, true), so a
   * compressed message is inflated at once and alone, and no connection keeps a decompressor
   * (~40 KB each). false lets clients keep their context (smaller frames from them).
   * Ignored by the client, which always compresses every message on its own.
   */
  clientNoContextTakeover?: boolean;
  /**
   * Server: the largest LZ77 window (as a power of two, 8..15) our compressor uses. Client: the
   * largest one to ask the server for. Default 15 (32 KiB). 8 means: only messages up to 256
   * bytes are compressed (zlib cannot compress with a 256-byte window).
   */
  serverMaxWindowBits?: number;
  /**
   * Server: the largest window clients may compress with, when they say they can be told
   * (they offer `client_max_window_bits`). Client: the largest window we offer to use. 8..15,
   * default 15.
   */
  clientMaxWindowBits?: number;
  /**
   * Most zlib jobs (large or context-keeping messages) running at once on the thread pool; the
   * rest wait in order. Per server; client connections share one queue. Default 10.
   */
  concurrency?: number;
}

/** Every field given: what a server or client works with. */
export type ResolvedDeflateOptions = Readonly<Required<PerMessageDeflateOptions>>;

export const DEFLATE_DEFAULTS: ResolvedDeflateOptions = {
  threshold: 1024,
  level: 1,
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  concurrency: DEFAULT_ZLIB_CONCURRENCY,
};

/** What a client asks for unless told otherwise: no constraints on the server. */
export const CLIENT_DEFLATE_DEFAULTS: ResolvedDeflateOptions = { ...DEFLATE_DEFAULTS, serverNoContextTakeover: false };

/** What one connection negotiated, from our side. */
export interface DeflateParams {
  /** We compress every message on its own (no context kept between messages). */
  readonly ownNoContextTakeover: boolean;
  /** The peer does: each of its messages inflates alone. */
  readonly peerNoContextTakeover: boolean;
  /** The largest window our compressor may use (8..15). */
  readonly ownWindowBits: number;
  /** The largest window the peer compresses with (8..15). */
  readonly peerWindowBits: number;
}

function int(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false`);
  return value;
}

/**
 * `perMessageDeflate` as given (false/undefined/null = off, true = defaults, or an object),
 * checked: null when off. Throws TypeError/RangeError naming the field.
 */
export function resolveDeflateOptions(
  value: unknown,
  name = 'perMessageDeflate',
  defaults: ResolvedDeflateOptions = DEFLATE_DEFAULTS,
): ResolvedDeflateOptions | null {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return defaults;
  if (typeof value !== 'object') throw new TypeError(`${name} must be true, false or an object of options`);
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!Object.hasOwn(defaults, key)) throw new TypeError(`${name}.${key} is not an option (known: ${Object.keys(defaults).join(', ')})`);
  }
  return Object.freeze({
    threshold: int(`${name}.threshold`, v.threshold, 0, Number.MAX_SAFE_INTEGER, defaults.threshold),
    level: int(`${name}.level`, v.level, 0, 9, defaults.level),
    serverNoContextTakeover: flag(`${name}.serverNoContextTakeover`, v.serverNoContextTakeover, defaults.serverNoContextTakeover),
    clientNoContextTakeover: flag(`${name}.clientNoContextTakeover`, v.clientNoContextTakeover, defaults.clientNoContextTakeover),
    serverMaxWindowBits: int(`${name}.serverMaxWindowBits`, v.serverMaxWindowBits, 8, 15, defaults.serverMaxWindowBits),
    clientMaxWindowBits: int(`${name}.clientMaxWindowBits`, v.clientMaxWindowBits, 8, 15, defaults.clientMaxWindowBits),
    concurrency: int(`${name}.concurrency`, v.concurrency, 1, 1024, defaults.concurrency),
  });
}

/** The parameters of one offer or answer, read; null when one is unknown, repeated or invalid. */
interface ReadParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** true: given without a value (allowed in an offer only). */
  clientMaxWindowBits: number | true | undefined;
}

/** RFC 7692 section 7.1.2: a decimal 8 to 15, without leading zeros. */
function windowBits(value: string | true): number | null {
  if (value === true || value.length > 2) return null;
  const n = Number(value);
  return Number.isInteger(n) && n >= 8 && n <= 15 && String(n) === value ? n : null;
}

function readParams(ext: ExtensionOffer, isAnswer: boolean): ReadParams | null {
  const out: ReadParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of ext.params) {
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return null;
        if (name === 'server_no_context_takeover') out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const bits = windowBits(value);
        if (bits === null) return null;
        out.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        // Section 7.1.2.2: the offer may carry it without a value; an answer must give one.
        if (value === true && !isAnswer) {
          out.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBits(value);
        if (bits === null) return null;
        out.clientMaxWindowBits = bits;
        break;
      }
      default:
        return null;
    }
  }
  return out;
}

/** The accepted offer: what this connection uses, and the answer's header value. */
export interface AcceptedDeflate {
  readonly params: DeflateParams;
  readonly response: string;
}

/**
 * The server's answer to a `Sec-WebSocket-Extensions` request header: the first acceptable
 * permessage-deflate offer, or null (declined: no compression on this connection).
 */
export function acceptDeflateOffer(header: string, options: ResolvedDeflateOptions): AcceptedDeflate | null {
  const list = parseExtensions(header);
  if (list === null) return null;
  for (const ext of list) {
    if (ext.name !== PERMESSAGE_DEFLATE) continue;
    const offer = readParams(ext, false);
    if (offer === null) continue;
    const params: Array<[string, string | true]> = [];
    // Section 7.1.1.1: the server may answer server_no_context_takeover even if not offered.
    const ownNoContextTakeover = options.serverNoContextTakeover || offer.serverNoContextTakeover;
    if (ownNoContextTakeover) params.push(['server_no_context_takeover', true]);
    // Section 7.1.1.2: likewise client_no_context_takeover; an offer carrying it is a promise we take up.
    const peerNoContextTakeover = options.clientNoContextTakeover || offer.clientNoContextTakeover;
    if (peerNoContextTakeover) params.push(['client_no_context_takeover', true]);
    // Section 7.1.2.1: the same or a smaller window than the client allows; we may name ours unasked.
    const ownWindowBits = Math.min(options.serverMaxWindowBits, offer.serverMaxWindowBits ?? 15);
    if (offer.serverMaxWindowBits !== undefined || ownWindowBits < 15) params.push(['server_max_window_bits', String(ownWindowBits)]);
    // Section 7.1.2.2: only when offered (the client said it understands it), never above its value.
    let peerWindowBits = 15;
    if (offer.clientMaxWindowBits !== undefined) {
      const offered = offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits;
      peerWindowBits = Math.min(options.clientMaxWindowBits, offered);
      if (peerWindowBits < 15 || offer.clientMaxWindowBits !== true) params.push(['client_max_window_bits', String(peerWindowBits)]);
    }
    return {
      params: { ownNoContextTakeover, peerNoContextTakeover, ownWindowBits, peerWindowBits },
      response: formatExtension({ name: PERMESSAGE_DEFLATE, params }),
    };
  }
  return null;
}

/**
 * The client's offer: `permessage-deflate; client_max_window_bits` (we can be told a window),
 * plus what the options ask of the server. The client always compresses every message on its
 * own, so it never needs the server's permission for that.
 */
export function deflateOffer(options: ResolvedDeflateOptions): string {
  const params: Array<[string, string | true]> = [];
  if (options.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (options.serverMaxWindowBits < 15) params.push(['server_max_window_bits', String(options.serverMaxWindowBits)]);
  params.push(['client_max_window_bits', options.clientMaxWindowBits < 15 ? String(options.clientMaxWindowBits) : true]);
  return formatExtension({ name: PERMESSAGE_DEFLATE, params });
}

/** The client's reading of the server's `Sec-WebSocket-Extensions` answer to `deflateOffer(options)`: params, or why it fails the connection. */
export function checkDeflateAnswer(header: string, options: ResolvedDeflateOptions): DeflateParams | string {
  const list = parseExtensions(header);
  if (list === null) return 'unreadable Sec-WebSocket-Extensions header';
  if (list.length !== 1 || list[0]!.name !== PERMESSAGE_DEFLATE) return 'server chose an extension we did not offer';
  const answer = readParams(list[0]!, true);
  if (answer === null) return 'invalid permessage-deflate parameters';
  const clientBits = answer.clientMaxWindowBits as number | undefined;
  if (clientBits !== undefined && clientBits > options.clientMaxWindowBits) return 'client_max_window_bits above the value offered';
  const serverBits = answer.serverMaxWindowBits;
  if (serverBits !== undefined && serverBits > options.serverMaxWindowBits) return 'server_max_window_bits above the value asked for';
  return {
    ownNoContextTakeover: true,
    peerNoContextTakeover: answer.serverNoContextTakeover,
    ownWindowBits: clientBits ?? options.clientMaxWindowBits,
    peerWindowBits: serverBits ?? 15,
  };
}
