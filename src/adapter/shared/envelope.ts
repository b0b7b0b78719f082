/**
 * The inter-node message format of every cluster adapter (Redis, NATS). The packet bytes
 * travel as they are (encoded once, on the node where the message started); only a small
 * routing header is JSON.
 *
 *   envelope = flags:u8 | kind:u8 | headerLen:u32be | header:json | body | [hmac:32]
 *
 * flags: low bits = format version (1), 0x80 = signed. With a `secret`, the HMAC-SHA256 covers
 * every byte before it; an envelope whose HMAC is missing or wrong is dropped and counted,
 * and so is a replay (an origin's sequence number seen before, or a timestamp far off).
 *
 * Redis only: a recorded message (connection-state recovery) is published by a Lua script that adds
 * what only Redis knows, in front: `R epoch LF streamId LF envelope`. Those two fields are
 * not covered by the HMAC (they are assigned after signing).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const Kind = {
  /** A message for local clients: body = packet bytes. */
  DELIVER: 1,
  /** A cluster query: body empty. */
  REQUEST: 2,
  /** The answer to a query: body = JSON. */
  RESPONSE: 3,
  /** A node started (or came back). */
  HELLO: 4,
  /** A node is leaving. */
  BYE: 5,
  /** A server -> client request for a client on another node: body = JSON { e, n, d, m }. */
  CLIENT_REQUEST: 6,
  /** To the asking node: how many of its clients a node asked (`c`), then each answer (body = JSON). */
  CLIENT_ANSWER: 7,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface Header {
  /** Origin node id. */
  o: string;
  /** Origin's sequence number (anti-replay). */
  s: number;
  /** Origin's clock, ms. */
  t: number;
  /** DELIVER: rooms (absent = everyone). */
  r?: string[];
  /** DELIVER: excluded client id. */
  x?: string;
  /** DELIVER: a single client id (toId); CLIENT_REQUEST: the client asked. */
  i?: string;
  /** REQUEST/RESPONSE, CLIENT_REQUEST/CLIENT_ANSWER: request id. */
  q?: string;
  /** CLIENT_ANSWER: how many local clients the node asked (absent: the body is an answer). */
  c?: number;
  /** REQUEST: query name. */
  k?: string;
  /** REQUEST: query argument. */
  a?: string;
}

export interface Envelope {
  kind: Kind;
  header: Header;
  body: Buffer;
}

const VERSION = 1;
const SIGNED = 0x80;
const HEAD = 6;
const MAC_SIZE = 32;
/** First byte of a recorded message ('R'); an envelope starts with 0x01 or 0x81. */
export const RECORDED_MARK = 0x52;

export function encodeEnvelope(kind: Kind, header: Header, body: Uint8Array, secret: Buffer | null): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const size = HEAD + json.length + body.length;
  const out = Buffer.allocUnsafe(size + (secret ? MAC_SIZE : 0));
  out[0] = VERSION | (secret ? SIGNED : 0);
  out[1] = kind;
  out.writeUInt32BE(json.length, 2);
  json.copy(out, HEAD);
  out.set(body, HEAD + json.length);
  if (secret) createHmac('sha256', secret).update(out.subarray(0, size)).digest().copy(out, size);
  return out;
}

export type DecodeResult = Envelope | 'forged' | 'malformed';

/** Checks the HMAC first (with a secret), then parses. Never throws. */
export function decodeEnvelope(buf: Buffer, secret: Buffer | null): DecodeResult {
  if (buf.length < HEAD || (buf[0] & 0x7f) !== VERSION) return 'malformed';
  let end = buf.length;
  if (secret) {
    if (!(buf[0] & SIGNED) || buf.length < HEAD + MAC_SIZE) return 'forged';
    end -= MAC_SIZE;
    const expected = createHmac('sha256', secret).update(buf.subarray(0, end)).digest();
    if (!timingSafeEqual(expected, buf.subarray(end))) return 'forged';
  } else if (buf[0] & SIGNED) {
    // Signed by a peer that has a secret we do not: parse it, but the signature means nothing here.
    end -= MAC_SIZE;
  }
  const kind = buf[1] as Kind;
  if (kind < Kind.DELIVER || kind > Kind.CLIENT_ANSWER) return 'malformed';
  const len = buf.readUInt32BE(2);
  if (HEAD + len > end) return 'malformed';
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', HEAD, HEAD + len)) as Header;
  } catch {
    return 'malformed';
  }
  if (!header || typeof header.o !== 'string' || typeof header.s !== 'number' || typeof header.t !== 'number') return 'malformed';
  return { kind, header, body: buf.subarray(HEAD + len, end) };
}

/** Splits `R epoch LF id LF envelope`; null when malformed. */
export function splitRecorded(buf: Buffer): { epoch: string; id: string; envelope: Buffer } | null {
  const a = buf.indexOf(10, 1);
  if (a < 0) return null;
  const b = buf.indexOf(10, a + 1);
  if (b < 0) return null;
  return { epoch: buf.toString('latin1', 1, a), id: buf.toString('latin1', a + 1, b), envelope: buf.subarray(b + 1) };
}

/**
 * Anti-replay: per origin, the highest sequence number and the ones seen within a window
 * below it. An envelope is fresh once; an old or far-off timestamp is refused outright.
 */
export class ReplayGuard {
  readonly #window: number;
  readonly #maxAgeMs: number;
  #origins = new Map<string, { max: number; seen: Set<number>; last: number }>();

  constructor(window = 4096, maxAgeMs = 60_000) {
    this.#window = window;
    this.#maxAgeMs = maxAgeMs;
  }

  fresh(h: Header, now = Date.now()): boolean {
    if (Math.abs(now - h.t) > this.#maxAgeMs) return false;
    let o = this.#origins.get(h.o);
    if (!o) {
      o = { max: h.s, seen: new Set([h.s]), last: now };
      this.#origins.set(h.o, o);
      return true;
    }
    o.last = now;
    if (h.s <= o.max - this.#window || o.seen.has(h.s)) return false;
    o.seen.add(h.s);
    if (h.s > o.max) {
      o.max = h.s;
      if (o.seen.size > this.#window * 2) for (const s of o.seen) if (s <= o.max - this.#window) o.seen.delete(s);
    }
    return true;
  }

  /** Forgets origins silent for longer than the age limit (their messages would be refused anyway). */
  prune(now = Date.now()): void {
    for (const [id, o] of this.#origins) if (now - o.last > this.#maxAgeMs) this.#origins.delete(id);
  }
}

/**
 * The first bytes of every header `nodeId` sends (`{"o":"<id>"`: `o` is always its first key),
 * to recognise a node's own messages coming back without checking or parsing them.
 */
export function originMarker(nodeId: string): Buffer {
  return Buffer.from(`{"o":${JSON.stringify(nodeId)}`);
}

/** Does `buf` carry a header starting with `marker`? (Cheap; not a proof of origin.) */
export function startsWithOrigin(buf: Buffer, marker: Buffer): boolean {
  return buf.length >= HEAD + marker.length && buf.compare(marker, 0, marker.length, HEAD, HEAD + marker.length) === 0;
}

/** What a node counts of the envelopes it had to drop. */
export interface DropCounters {
  /** Envelopes whose HMAC was missing or wrong (with a secret). */
  forged: number;
  /** Authentic envelopes seen before (replayed) or with a timestamp far off. */
  replayed: number;
  malformed: number;
}

/**
 * Verifies (HMAC first, then replay unless `guard` is null) and parses; null when the
 * envelope must be dropped, counted in `counters`. Never throws.
 */
export function openEnvelope(buf: Buffer, secret: Buffer | null, guard: ReplayGuard | null, counters: DropCounters): Envelope | null {
  const env = decodeEnvelope(buf, secret);
  if (env === 'forged') {
    counters.forged++;
    return null;
  }
  if (env === 'malformed') {
    counters.malformed++;
    return null;
  }
  if (guard && !guard.fresh(env.header)) {
    counters.replayed++;
    return null;
  }
  return env;
}
