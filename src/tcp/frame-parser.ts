/**
 * Resumable parser for the TCP transport's framing:
 *
 *   frame = totalLen:u32be | packet      (totalLen counts the whole frame, prefix included)
 *
 * Push-based, like a WebSocket receiver: chunks are kept in a list and the state machine
 * consumes exactly the bytes each state needs, so any chunking (one byte at a time, many
 * frames per chunk, a frame split over chunks) gives the same frames. A frame that lies
 * inside one chunk is handed up as a zero-copy slice of that chunk.
 *
 * The length is checked the moment its four bytes are known, before a single byte of the
 * body is waited for, so a peer cannot make us reserve memory with a forged length.
 */
import { ErrorCode, PACKET_HEADER_SIZE, StelarError, TCP_PREFIX_SIZE } from '../protocol/index.js';

/** The smallest frame: prefix (4) + type (1) + eventLen (2). */
export const MIN_FRAME_SIZE = TCP_PREFIX_SIZE + PACKET_HEADER_SIZE;
/** Default cap on one frame, prefix included (10 MiB). */
export const DEFAULT_MAX_FRAME_SIZE = 10 * 1024 * 1024;

export interface TcpFrameParserOptions {
  /** Largest accepted frame in bytes, prefix included. Default 10 MiB. */
  maxFrameSize?: number;
  /** Called with each packet (the frame without its 4-byte prefix). */
  onFrame(packet: Buffer): void;
  /** Called once when the peer broke the framing; the parser then ignores all input. */
  onError(err: StelarError): void;
}

const GET_LENGTH = 0;
const GET_PACKET = 1;
const FAILED = 2;
type State = typeof GET_LENGTH | typeof GET_PACKET | typeof FAILED;

/**
 * The chunk list while nothing is buffered: shared and never written to. An emptied list
 * keeps its grown backing store (~150 bytes), which every idle client would hold.
 */
const NO_CHUNKS: readonly Buffer[] = Object.freeze([]);

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class TcpFrameParser {
  readonly maxFrameSize: number;
  /** Called as methods, so a connection can pass one hooks object instead of two closures. */
  readonly #hooks: TcpFrameParserOptions;
  #chunks: Buffer[] = NO_CHUNKS as Buffer[];
  #buffered = 0;
  /** Bytes of the first chunk already consumed (read in place instead of slicing a view off). */
  #offset = 0;
  #state: State = GET_LENGTH;
  #packetLength = 0;
  /** True while the loop runs, so a push from inside onFrame only queues its chunk. */
  #looping = false;

  constructor(options: TcpFrameParserOptions) {
    const max = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(max) || max < MIN_FRAME_SIZE || max > 0xffffffff) {
      throw new RangeError(`maxFrameSize must be an integer between ${MIN_FRAME_SIZE} and 4294967295, got ${max}`);
    }
    this.maxFrameSize = max;
    this.#hooks = options;
  }

  /** Bytes received but not yet handed up (at most one partial frame once push returns). */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** True once a framing error was reported; all later input is dropped. */
  get failed(): boolean {
    return this.#state === FAILED;
  }

  push(chunk: Uint8Array): void {
    if (this.#state === FAILED || chunk.byteLength === 0) return;
    if (this.#chunks.length === 0) this.#chunks = [asBuffer(chunk)];
    else this.#chunks.push(asBuffer(chunk));
    this.#buffered += chunk.byteLength;
    if (this.#looping) return;
    this.#looping = true;
    try {
      this.#loop();
    } finally {
      this.#looping = false;
      if (this.#buffered === 0) {
        this.#chunks = NO_CHUNKS as Buffer[];
        this.#offset = 0;
      }
    }
  }

  #loop(): void {
    for (;;) {
      if (this.#state === GET_LENGTH) {
        if (this.#buffered < TCP_PREFIX_SIZE) return;
        const total = this.#readLength();
        if (total < MIN_FRAME_SIZE) {
          this.#fail(
            new StelarError(
              ErrorCode.TCP_FRAME_TOO_SHORT,
              `TCP frame length ${total} is below the minimum of ${MIN_FRAME_SIZE} bytes (4-byte prefix + 3-byte packet header)`,
            ),
          );
          return;
        }
        if (total > this.maxFrameSize) {
          this.#fail(
            new StelarError(
              ErrorCode.TCP_FRAME_TOO_LARGE,
              `TCP frame length ${total} exceeds maxFrameSize of ${this.maxFrameSize} bytes`,
            ),
          );
          return;
        }
        this.#packetLength = total - TCP_PREFIX_SIZE;
        this.#state = GET_PACKET;
      } else {
        // GET_PACKET (FAILED never loops: #fail is always followed by a return)
        if (this.#buffered < this.#packetLength) return;
        const packet = this.#consume(this.#packetLength);
        // State is settled before the callback, so a throwing or re-entrant handler
        // leaves the parser consistent.
        this.#state = GET_LENGTH;
        this.#hooks.onFrame(packet);
      }
    }
  }

  /** Reads the 4-byte length prefix in place when the first chunk holds it (no view). */
  #readLength(): number {
    const first = this.#chunks[0];
    const offset = this.#offset;
    if (first.length - offset < TCP_PREFIX_SIZE) return this.#consume(TCP_PREFIX_SIZE).readUInt32BE(0);
    const total = first.readUInt32BE(offset);
    this.#buffered -= TCP_PREFIX_SIZE;
    this.#skip(first, offset + TCP_PREFIX_SIZE);
    return total;
  }

  /** Moves the read position in the first chunk to `offset`, dropping the chunk once used up. */
  #skip(first: Buffer, offset: number): void {
    if (offset === first.length) {
      this.#chunks.shift();
      this.#offset = 0;
    } else {
      this.#offset = offset;
    }
  }

  /** Takes exactly n buffered bytes: a slice when they sit in the first chunk, else one copy. */
  #consume(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0];
    const start = this.#offset;
    if (n <= first.length - start) {
      const out = start === 0 && n === first.length ? first : first.subarray(start, start + n);
      this.#skip(first, start + n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0];
      const from = this.#offset;
      const take = Math.min(chunk.length - from, n - filled);
      chunk.copy(out, filled, from, from + take);
      filled += take;
      this.#skip(chunk, from + take);
    }
    return out;
  }

  #fail(err: StelarError): void {
    this.#state = FAILED;
    this.#chunks = NO_CHUNKS as Buffer[];
    this.#offset = 0;
    this.#buffered = 0;
    this.#hooks.onError(err);
  }
}
