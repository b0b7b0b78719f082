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
import { ByteQueue } from '../net/byte-queue.js';

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

function checkedFrameSize(max: number): number {
  if (!Number.isInteger(max) || max < MIN_FRAME_SIZE || max > 0xffffffff) {
    throw new RangeError(`maxFrameSize must be an integer between ${MIN_FRAME_SIZE} and 4294967295, got ${max}`);
  }
  return max;
}

export class TcpFrameParser {
  #maxFrameSize: number;
  /** Called as methods, so a connection can pass one hooks object instead of two closures. */
  readonly #hooks: TcpFrameParserOptions;
  readonly #input = new ByteQueue();
  #state: State = GET_LENGTH;
  #packetLength = 0;
  /** True while the loop runs, so a push from inside onFrame only queues its chunk. */
  #looping = false;

  constructor(options: TcpFrameParserOptions) {
    this.#maxFrameSize = checkedFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
    this.#hooks = options;
  }

  /** Largest frame accepted. Changeable: a server holds unaccepted peers to a smaller one. */
  get maxFrameSize(): number {
    return this.#maxFrameSize;
  }
  set maxFrameSize(value: number) {
    this.#maxFrameSize = checkedFrameSize(value);
  }

  /** Bytes received but not yet handed up (at most one partial frame once push returns). */
  get bufferedBytes(): number {
    return this.#input.length;
  }

  /** Drops what is buffered and ignores all further input (no error is reported). */
  stop(): void {
    this.#state = FAILED;
    this.#input.clear();
  }

  /** True once a framing error was reported (or `stop()` called); all later input is dropped. */
  get failed(): boolean {
    return this.#state === FAILED;
  }

  push(chunk: Uint8Array): void {
    if (this.#state === FAILED || chunk.byteLength === 0) return;
    this.#input.push(chunk);
    if (this.#looping) return;
    this.#looping = true;
    try {
      this.#loop();
    } finally {
      this.#looping = false;
      this.#input.release();
    }
  }

  #loop(): void {
    for (;;) {
      if (this.#state === GET_LENGTH) {
        if (this.#input.length < TCP_PREFIX_SIZE) return;
        const total = this.#input.readUInt32BE();
        if (total < MIN_FRAME_SIZE) {
          this.#fail(
            new StelarError(
              ErrorCode.TCP_FRAME_TOO_SHORT,
              `TCP frame length ${total} is below the minimum of ${MIN_FRAME_SIZE} bytes (4-byte prefix + 3-byte packet header)`,
            ),
          );
          return;
        }
        if (total > this.#maxFrameSize) {
          this.#fail(new StelarError(ErrorCode.TCP_FRAME_TOO_LARGE, `TCP frame length ${total} exceeds the frame limit of ${this.#maxFrameSize} bytes`));
          return;
        }
        this.#packetLength = total - TCP_PREFIX_SIZE;
        this.#state = GET_PACKET;
      } else {
        // GET_PACKET (FAILED never loops: #fail is always followed by a return)
        if (this.#input.length < this.#packetLength) return;
        const packet = this.#input.take(this.#packetLength);
        // State is settled before the callback, so a throwing or re-entrant handler
        // leaves the parser consistent.
        this.#state = GET_LENGTH;
        this.#hooks.onFrame(packet);
      }
    }
  }

  #fail(err: StelarError): void {
    this.#state = FAILED;
    this.#input.clear();
    this.#hooks.onError(err);
  }
}
