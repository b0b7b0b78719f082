/**
 * permessage-deflate's zlib work (RFC 7692 section 7.2): one connection's compression and
 * decompression, and the context-free compressor that a server shares between connections.
 *
 * Sending (section 7.2.1): the message is deflated with Z_SYNC_FLUSH and the 4 bytes that flush
 * ends with (00 00 ff ff) are removed. Receiving (section 7.2.2): those 4 bytes are appended and
 * the result inflated.
 *
 * Sync or async. Node's zlib keeps a context across calls only in its stream objects, whose
 * work always goes through the thread pool (~75 µs of CPU per small message, measured); its
 * one-shot `*Sync` calls build a fresh context each time (~15-30 µs) and never leave the event
 * loop. So:
 *  - no context kept between messages (the defaults, both directions): messages are compressed
 *    and inflated synchronously when that is bounded: compression for inputs up to
 *    SYNC_DEFLATE_LIMIT (64 KiB, < 1 ms at level 1), inflation up to SYNC_INFLATE_LIMIT bytes
 *    of output (256 KiB, ~0.4 ms). Past those, the work goes to the thread pool (a one-shot
 *    async call, through the ZlibLimiter): the event loop never inflates more than 256 KiB for
 *    one message, whatever a peer sends.
 *  - a context kept between messages (negotiated): one zlib stream per direction per
 *    connection, created on first use, always asynchronous, through the ZlibLimiter.
 * Asynchronous results come back in the order the work was asked for (one job at a time per
 * direction per connection); the connection holds what comes after them until then.
 *
 * Bombs: the inflated size of a message is bounded by the same maximum as an uncompressed one
 * (`max`), enforced while inflating: zlib stops at max + one output chunk (`maxOutputLength` in
 * the one-shot calls, a count of output chunks on the streams), the output is never allocated
 * whole, and the message fails with 1009. Data zlib cannot inflate fails with 1007.
 */
import * as zlib from 'node:zlib';
import { ErrorCode } from '../protocol/codes.js';
import { StelarError } from '../protocol/errors.js';
import type { DeflateParams, ResolvedDeflateOptions } from './deflate-negotiation.js';
import { ZlibLimiter } from './zlib-limiter.js';

const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
/** What Z_SYNC_FLUSH ends with; removed from sent messages, put back before inflating. */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Largest message compressed on the event loop; bigger ones go to the thread pool. */
export const SYNC_DEFLATE_LIMIT = 64 * 1024;
/** Most output inflated on the event loop for one message; past it the message is inflated on the thread pool. */
export const SYNC_INFLATE_LIMIT = 256 * 1024;
/**
 * zlib cannot deflate with a 256-byte window (it uses 512 when asked for 8 bits). A message no
 * longer than 256 bytes compressed on its own has no match farther back than that, so with 8
 * window bits those are the only messages sent compressed.
 */
const WINDOW_8_LIMIT = 256;
/** Output chunk of the streams and of the one-shot calls: what an inflation may overshoot `max` by. */
const CHUNK = 16 * 1024;

export type InflateResult = Buffer | StelarError;

function tooBig(max: number): StelarError {
  return new StelarError(ErrorCode.WS_MESSAGE_TOO_BIG, `message inflates past the limit of ${max} bytes`);
}

function invalidData(err: unknown): StelarError {
  const why = err instanceof Error ? err.message : String(err);
  return new StelarError(ErrorCode.WS_INVALID_COMPRESSED_DATA, `compressed message could not be inflated: ${why}`);
}

function isTooLarge(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE';
}

function withTrailer(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length + 4);
  data.copy(out, 0);
  TRAILER.copy(out, data.length);
  return out;
}

/** The compressed payload: the flushed deflate output without its trailing 00 00 ff ff. */
function stripTrailer(out: Buffer): Buffer {
  return out.subarray(0, out.length - 4);
}

/**
 * Context-free compression with one setting (level, window): every message compressed on its
 * own, so the result can go to any connection that negotiated this window and no context
 * takeover. A server keeps one per window size and hands it to those connections.
 */
export class Compressor {
  readonly threshold: number;
  readonly windowBits: number;
  readonly #options: zlib.ZlibOptions;
  /** Longest message compressed (the 8-bit window's 256 bytes, or no limit). */
  readonly #maxLength: number;

  constructor(threshold: number, level: number, windowBits: number) {
    this.threshold = threshold;
    this.windowBits = windowBits;
    // zlib has no 8-bit raw deflate: 9, and only messages that fit 8 bits' window (WINDOW_8_LIMIT).
    this.#options = { level, windowBits: Math.max(9, windowBits), finishFlush: Z_SYNC_FLUSH, chunkSize: CHUNK };
    this.#maxLength = windowBits === 8 ? WINDOW_8_LIMIT : Number.POSITIVE_INFINITY;
  }

  /** Whether a message of `length` bytes goes compressed (at or above the threshold, and compressible with this window). */
  wants(length: number): boolean {
    return length >= this.threshold && length <= this.#maxLength;
  }

  /** Whether it is compressed on the event loop (`compressNow`) rather than on the thread pool. */
  isSync(length: number): boolean {
    return length <= SYNC_DEFLATE_LIMIT;
  }

  /** The compressed payload, now (the caller checked `wants` and `isSync`). */
  compressNow(data: Uint8Array): Buffer {
    return stripTrailer(zlib.deflateRawSync(data, this.#options));
  }

  /** The compressed payload, on the thread pool. */
  compress(data: Uint8Array, cb: (err: Error | null, payload: Buffer | null) => void): void {
    zlib.deflateRaw(data, this.#options, (err, out) => cb(err, err ? null : stripTrailer(out)));
  }
}

/** Pending asynchronous compression: the data and who hears the result. */
interface DeflateJob {
  data: Uint8Array;
  cb: (payload: Buffer | null) => void;
}

/**
 * One connection's permessage-deflate: its negotiated parameters, the shared context-free
 * compressor, and (only when a context is kept between messages) its own zlib streams.
 */
export class MessageDeflate {
  readonly params: DeflateParams;
  /** Context-free compression of this connection's window (shared with its server's other connections). */
  readonly compressor: Compressor;
  readonly #limiter: ZlibLimiter;
  readonly #level: number;

  /** Asynchronous compressions, in order, one running at a time; null = none. */
  #deflateJobs: DeflateJob[] | null = null;
  /** The kept-context compressor (serverNoContextTakeover off), created on first use. */
  #deflateStream: zlib.DeflateRaw | null = null;
  /** The kept-context decompressor (the peer keeps its context), created on first use. */
  #inflateStream: zlib.InflateRaw | null = null;
  /**
   * End the running asynchronous compression / inflation early (close), so its limiter slot is
   * free at once (zlib still calls back; that call is then ignored).
   */
  #abortDeflate: (() => void) | null = null;
  #abortInflate: (() => void) | null = null;
  #closed = false;

  constructor(params: DeflateParams, compressor: Compressor, limiter: ZlibLimiter, level: number) {
    this.params = params;
    this.compressor = compressor;
    this.#limiter = limiter;
    this.#level = level;
  }

  /** Whether this connection's messages can take a frame compressed once for many (no context kept). */
  get shares(): boolean {
    return this.params.ownNoContextTakeover;
  }

  /** Whether a message of `length` bytes is sent compressed. */
  wants(length: number): boolean {
    return this.params.ownNoContextTakeover ? this.compressor.wants(length) : length >= this.compressor.threshold && this.params.ownWindowBits > 8;
  }

  /** The compressed payload now, or null: then `deflate` (asynchronous). The caller checked `wants`. */
  deflateNow(data: Uint8Array): Buffer | null {
    if (!this.params.ownNoContextTakeover || !this.compressor.isSync(data.length)) return null;
    return this.compressor.compressNow(data);
  }

  /**
   * Compresses on the thread pool; `cb` gets the payload, or null when it could not be
   * compressed (the caller sends it uncompressed) or the connection closed. Results come in
   * call order.
   */
  deflate(data: Uint8Array, cb: (payload: Buffer | null) => void): void {
    if (this.#closed) return cb(null);
    const job = { data, cb };
    if (this.#deflateJobs !== null) {
      this.#deflateJobs.push(job);
      return;
    }
    this.#deflateJobs = [job];
    this.#nextDeflate();
  }

  #nextDeflate(): void {
    const jobs = this.#deflateJobs;
    if (jobs === null) return;
    const job = jobs.shift();
    if (job === undefined) {
      this.#deflateJobs = null;
      return;
    }
    this.#limiter.run((done) => {
      let over = false;
      const finish = (payload: Buffer | null): void => {
        if (over) return;
        over = true;
        this.#abortDeflate = null;
        done();
        job.cb(this.#closed ? null : payload);
        this.#nextDeflate();
      };
      this.#abortDeflate = () => finish(null);
      if (this.#closed) return finish(null);
      if (this.params.ownNoContextTakeover) this.compressor.compress(job.data, (err, payload) => finish(err ? null : payload));
      else this.#streamDeflate(job.data, finish);
    });
  }

  /** Compression that keeps its context: write, then a sync flush; the output between two flushes is one message. */
  #streamDeflate(data: Uint8Array, finish: (payload: Buffer | null) => void): void {
    const stream = (this.#deflateStream ??= zlib.createDeflateRaw({
      level: this.#level,
      windowBits: Math.max(9, this.params.ownWindowBits),
      chunkSize: CHUNK,
    }));
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
    };
    const onError = (): void => {
      stream.off('data', onData);
      this.#dropDeflateStream();
      finish(null);
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(data);
    stream.flush(Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', onError);
      finish(length >= 4 ? stripTrailer(Buffer.concat(chunks, length)) : null);
    });
  }

  #dropDeflateStream(): void {
    this.#deflateStream?.close();
    this.#deflateStream = null;
  }

  /**
   * The inflated message now: its bytes, a StelarError (1009 past `max`, 1007 for invalid
   * data), or null: then `inflate` (asynchronous). Synchronous only when the peer keeps no
   * context, and only up to SYNC_INFLATE_LIMIT bytes of output.
   */
  inflateNow(data: Buffer, max: number): InflateResult | null {
    if (!this.params.peerNoContextTakeover) return null;
    const cap = Math.min(max, SYNC_INFLATE_LIMIT);
    try {
      return zlib.inflateRawSync(withTrailer(data), { finishFlush: Z_SYNC_FLUSH, maxOutputLength: cap, chunkSize: CHUNK });
    } catch (err) {
      if (!isTooLarge(err)) return invalidData(err);
      // Past what the event loop does for one message: start again on the thread pool, up to `max`.
      return cap < max ? null : tooBig(max);
    }
  }

  /** Inflates on the thread pool (through the limiter); `cb` gets the bytes or the StelarError. */
  inflate(data: Buffer, max: number, cb: (result: InflateResult) => void): void {
    this.#limiter.run((done) => {
      let over = false;
      const finish = (result: InflateResult): void => {
        if (over) return;
        over = true;
        this.#abortInflate = null;
        done();
        if (!this.#closed) cb(result);
      };
      this.#abortInflate = () => finish(invalidData('connection closed'));
      if (this.#closed) return finish(invalidData('connection closed'));
      if (this.params.peerNoContextTakeover) {
        zlib.inflateRaw(withTrailer(data), { finishFlush: Z_SYNC_FLUSH, maxOutputLength: max, chunkSize: CHUNK }, (err, out) =>
          finish(err ? (isTooLarge(err) ? tooBig(max) : invalidData(err)) : out),
        );
      } else this.#streamInflate(data, max, finish);
    });
  }

  /** Decompression that keeps its context. Output is counted as it comes and stopped at `max`. */
  #streamInflate(data: Buffer, max: number, finish: (result: InflateResult) => void): void {
    // Always a 15-bit window: a larger window inflates anything a smaller one made, and a peer
    // told 8 bits may deflate with 9 (zlib has no 8-bit raw deflate), which an 8-bit window refuses.
    const stream = (this.#inflateStream ??= zlib.createInflateRaw({ windowBits: 15, chunkSize: CHUNK }));
    const chunks: Buffer[] = [];
    let length = 0;
    let stopped = false;
    const stop = (result: InflateResult): void => {
      if (stopped) return;
      stopped = true;
      stream.off('data', onData);
      stream.off('error', onError);
      // A stream that failed, overflowed or ended (a final deflate block) is not used again.
      if (result instanceof StelarError || stream.readableEnded) this.#dropInflateStream();
      finish(result);
    };
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > max) return stop(tooBig(max));
      chunks.push(chunk);
    };
    const onError = (err: Error): void => stop(invalidData(err));
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(data);
    stream.write(TRAILER);
    stream.flush(Z_SYNC_FLUSH, () => stop(Buffer.concat(chunks, length)));
  }

  #dropInflateStream(): void {
    const stream = this.#inflateStream;
    if (stream === null) return;
    this.#inflateStream = null;
    stream.on('error', ignore);
    stream.close();
  }

  /** The connection is gone: streams closed, pending results dropped (their callbacks get null / are not called). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const jobs = this.#deflateJobs;
    this.#deflateJobs = null;
    this.#abortDeflate?.();
    this.#abortInflate?.();
    this.#dropInflateStream();
    this.#dropDeflateStream();
    if (jobs) for (const job of jobs) job.cb(null);
  }
}

function ignore(): void {}

/**
 * What the connections of one server (or one client connection) share: the options, the zlib
 * queue, and one context-free compressor per window size, so that a broadcast is compressed
 * once per window size in use (one, unless clients ask for smaller windows).
 */
export class DeflateContext {
  readonly options: ResolvedDeflateOptions;
  readonly limiter: ZlibLimiter;
  readonly #compressors: Array<Compressor | undefined> = [];

  constructor(options: ResolvedDeflateOptions, limiter: ZlibLimiter = new ZlibLimiter(options.concurrency)) {
    this.options = options;
    this.limiter = limiter;
  }

  /** The shared compressor for `windowBits`. */
  compressor(windowBits: number): Compressor {
    return (this.#compressors[windowBits] ??= new Compressor(this.options.threshold, this.options.level, windowBits));
  }

  /** A connection's codec for what it negotiated. */
  codec(params: DeflateParams): MessageDeflate {
    return new MessageDeflate(params, this.compressor(params.ownWindowBits), this.limiter, this.options.level);
  }
}
