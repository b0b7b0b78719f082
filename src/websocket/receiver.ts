/**
 * The WebSocket frame parser (RFC 6455 section 5), for both roles.
 *
 * A push-based state machine over a queue of received chunks: `write(chunk)` appends,
 * then the loop consumes exactly the bytes each state needs (2 header bytes, a 16- or
 * 64-bit length, a 4-byte mask, the payload) and returns when more input is required.
 * It can therefore be fed any chunking, down to one byte at a time.
 *
 * Every bound is checked before the bytes it describes are buffered: a frame whose
 * declared length would take the message past `maxPayload` is refused the moment the
 * length is known. Reassembly of a fragmented message is bounded by bytes, not by a frame
 * count: each data frame costs its payload plus FRAGMENT_OVERHEAD against
 * `fragmentBudget(maxPayload)`, so honest fragmentation of any message within maxPayload
 * into up to max(4096, maxPayload / 64) frames always passes, while a flood of empty
 * fragments is stopped (1009) after a bounded number of frames. Short fragments are copied
 * into one growing block rather than kept as views, so what is held stays proportional to
 * the bytes of the message (a view would pin its whole socket chunk). After an error or a
 * close frame the receiver drops its buffers and ignores all further input.
 *
 * Text is validated as it arrives, not only once a frame is complete: when a read ends in
 * the middle of a text frame's payload, the bytes in so far are unmasked in place and fed to
 * the message's UTF-8 validator, so invalid text is refused (1007) at the read that makes it
 * invalid rather than when the frame ends (Autobahn 6.4.3/6.4.4).
 *
 * Payloads are unmasked in place, so a chunk passed to `write` must not be reused.
 *
 * permessage-deflate (RFC 7692 section 6), when `onCompressedMessage` is given: RSV1 on the first
 * frame of a data message marks it compressed (on a continuation or control frame it is still
 * 1002). A compressed message goes to `onCompressedMessage` as it came (its size bounded by
 * `maxPayload` like any other, its text checked only once inflated, by the caller), and the
 * caller may `hold()` the receiver until it has inflated it: input is then kept, unparsed,
 * until `resume()`, so messages keep their order.
 */
import { ByteQueue } from '../net/byte-queue.js';
import { applyMask, maskAt } from './mask.js';
import { ErrorCode } from '../protocol/codes.js';
import { StelarError } from '../protocol/errors.js';
import { isValidWireCloseCode, NO_STATUS_CODE } from './close-codes.js';
import { isControlOpcode, MAX_CONTROL_PAYLOAD, Opcode } from './opcodes.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';

/** What a Receiver calls back. */
export interface ReceiverCallbacks {
  onMessage(data: Buffer, isBinary: boolean): void;
  /**
   * Given only when permessage-deflate was negotiated: RSV1 then marks a compressed message,
   * handed here as it came (still compressed, its fragments joined). Without it, RSV1 is 1002.
   */
  onCompressedMessage?(data: Buffer, isBinary: boolean): void;
  onPing?(data: Buffer): void;
  onPong?(data: Buffer): void;
  /** `code` is 1005 when the close frame had no body. */
  onClose?(code: number, reason: string): void;
  onError?(err: StelarError): void;
}

/** A Receiver's settings. */
export interface ReceiverSettings {
  /** Server role: client frames must be masked. Client role: server frames must not be. */
  isServer: boolean;
  /** Largest message (sum of its fragments) accepted, in bytes. Default 10 MiB. */
  maxPayload?: number;
  /**
   * @deprecated Reassembly is bounded by bytes (see `fragmentBudget`), which already stops a
   * flood of tiny or empty fragments. When set, this is still an extra hard cap on the frames
   * of one message (1009 past it); by default there is none (it used to be 4096).
   */
  maxFragments?: number;
}

export interface ReceiverOptions extends ReceiverSettings, ReceiverCallbacks {}

export const DEFAULT_MAX_PAYLOAD = 10 * 1024 * 1024;
/** @deprecated No frame-count cap by default any more (was 4096); see `fragmentBudget`. */
export const DEFAULT_MAX_FRAGMENTS = Number.POSITIVE_INFINITY;
/**
 * What "no cap" is stored as: the largest small integer, not Infinity (a double field costs
 * every receiver a heap number). Never reached: the byte budget stops a message long before
 * (at most fragmentBudget(maxPayload) / FRAGMENT_OVERHEAD frames, 2^25 for a 1 GiB maxPayload).
 */
const NO_FRAGMENT_CAP = 0x3fffffff;
/** What each data frame of a fragmented message costs against the budget, on top of its payload. */
export const FRAGMENT_OVERHEAD = 64;
/** The budget's slack is at least this (4096 frames' overhead), whatever maxPayload is. */
const MIN_FRAGMENT_SLACK = 4096 * FRAGMENT_OVERHEAD;
/**
 * The byte budget of one fragmented message: maxPayload + max(maxPayload, 256 KiB). Every
 * frame of the message is charged its payload + FRAGMENT_OVERHEAD; past the budget, 1009.
 * A message within maxPayload in n frames therefore always fits when
 * n <= max(4096, maxPayload / 64).
 */
export function fragmentBudget(maxPayload: number): number {
  return maxPayload + Math.max(maxPayload, MIN_FRAGMENT_SLACK);
}
/** Fragments shorter than this are copied into the message's block instead of kept as views. */
const COPY_BELOW = 4096;
const FIRST_BLOCK = 256;
const MAX_BLOCK = 64 * 1024;

const State = {
  GET_INFO: 0,
  GET_LENGTH_16: 1,
  GET_LENGTH_64: 2,
  GET_MASK: 3,
  GET_DATA: 4,
  /** After a close frame or an error: input is ignored. */
  STOPPED: 5,
  /** Between two frames, until `resume()`: input is kept, not parsed (a message is being inflated). */
  HELD: 6,
} as const;
type State = (typeof State)[keyof typeof State];

const EMPTY = Buffer.alloc(0);

export class Receiver {
  readonly #isServer: boolean;
  #maxPayload: number;
  readonly #maxFragments: number;
  #budget: number;
  readonly #opts: ReceiverCallbacks;

  readonly #input = new ByteQueue();
  #state: State = State.GET_INFO;

  // The frame being parsed.
  #fin = false;
  #opcode = 0;
  #masked = false;
  #payloadLength = 0;
  /** The frame's masking key as one big-endian int (a kept 4-byte Buffer costs ~200 bytes per idle client). */
  #mask = 0;

  // The message being reassembled (opcode 0 = none open).
  #messageOpcode = 0;
  /** Its first frame had RSV1: it is compressed (permessage-deflate). */
  #compressed = false;
  /** Only for messages split over several frames; null otherwise. */
  #fragments: Buffer[] | null = null;
  #messageLength = 0;
  #fragmentCount = 0;
  /** Payload + FRAGMENT_OVERHEAD per frame of the open message, against #budget. */
  #cost = 0;
  /** Where short fragments are copied (its first #blockUsed bytes are message bytes). */
  #block: Buffer | null = null;
  #blockUsed = 0;
  /**
   * Created for a fragmented text message, or a text frame arriving over several reads
   * (a single frame that arrived whole is checked in one pass).
   */
  #utf8: Utf8Validator | null = null;
  /** Payload bytes of the current text frame already unmasked and validated while it was arriving. */
  #checked = 0;

  /** `settings`: where they are kept apart from the callbacks (a connection's options); default `opts`. */
  constructor(opts: ReceiverCallbacks & Partial<ReceiverSettings>, settings: ReceiverSettings = opts as ReceiverSettings) {
    this.#opts = opts;
    this.#isServer = settings.isServer;
    this.#maxPayload = settings.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    const cap = settings.maxFragments;
    this.#maxFragments = cap === undefined || cap > NO_FRAGMENT_CAP ? NO_FRAGMENT_CAP : cap;
    this.#budget = fragmentBudget(this.#maxPayload);
  }

  /** Largest message accepted. Changeable: a server holds unaccepted peers to a smaller one. */
  get maxPayload(): number {
    return this.#maxPayload;
  }
  set maxPayload(value: number) {
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`maxPayload must be a positive integer, got ${value}`);
    this.#maxPayload = value;
    this.#budget = fragmentBudget(value);
  }

  /**
   * Input bytes received but not yet parsed into a complete frame. After each `write` this
   * is at most max(maxPayload, 125) + 14: one unfinished frame (a control frame may carry
   * 125 bytes whatever maxPayload is) plus its longest header.
   */
  get bufferedBytes(): number {
    return this.#input.length;
  }

  /** Payload bytes of an unfinished fragmented message held for reassembly. */
  get messageBytes(): number {
    return this.#messageLength;
  }

  /**
   * Bytes held for the message in progress: its unparsed input (an unfinished frame and its
   * header) plus the fragments already reassembled. 0 between messages. What a server charges
   * against its global budget for unfinished inbound frames.
   */
  get pendingBytes(): number {
    return this.#input.length + this.#messageLength;
  }

  /** True once a close frame was parsed or the input was refused. */
  get stopped(): boolean {
    return this.#state === State.STOPPED;
  }

  write(chunk: Uint8Array): void {
    if (this.#state === State.STOPPED || chunk.length === 0) return;
    this.#input.push(chunk);
    this.#loop();
    this.#input.release();
  }

  /**
   * Stops parsing after the frame just handled (call it from `onCompressedMessage`): input is
   * kept until `resume()`. A no-op unless between two frames.
   */
  hold(): void {
    if (this.#state === State.GET_INFO) this.#state = State.HELD;
  }

  /** Parses what came in while held. */
  resume(): void {
    if (this.#state !== State.HELD) return;
    this.#state = State.GET_INFO;
    this.#loop();
    this.#input.release();
  }

  /** Drops everything and ignores further input (the connection is going away). */
  stop(): void {
    this.#state = State.STOPPED;
    this.#compressed = false;
    this.#checked = 0;
    this.#input.clear();
    this.#resetMessage();
  }

  #loop(): void {
    for (;;) {
      switch (this.#state) {
        case State.GET_INFO:
          if (this.#input.length < 2) return;
          this.#getInfo();
          break;
        case State.GET_LENGTH_16:
          if (this.#input.length < 2) return;
          this.#haveLength(this.#input.readUInt16BE());
          break;
        case State.GET_LENGTH_64:
          if (this.#input.length < 8) return;
          this.#getLength64();
          break;
        case State.GET_MASK:
          if (this.#input.length < 4) return;
          this.#mask = this.#input.readInt32BE();
          this.#state = State.GET_DATA;
          break;
        case State.GET_DATA:
          if (this.#input.length < this.#payloadLength) {
            // Fail fast on invalid text: do not wait for the rest of the frame to refuse it.
            if (this.#input.length > this.#checked && this.#isTextFrame()) this.#checkPartialText();
            return;
          }
          this.#getData();
          break;
        default:
          return;
      }
    }
  }

  #getInfo(): void {
    const header = this.#input.readUInt16BE();
    const b0 = header >>> 8;
    const b1 = header & 0xff;
    if ((b0 & 0x70) !== 0) {
      // RFC 7692 section 6: RSV1 alone, on the first frame of a data message, once negotiated
      // (a field less per connection: the callback's presence says so).
      const op = b0 & 0x0f;
      const deflate = this.#opts.onCompressedMessage !== undefined;
      if (!deflate || (b0 & 0x70) !== 0x40 || (op !== Opcode.TEXT && op !== Opcode.BINARY)) {
        return this.#fail(ErrorCode.WS_RSV_SET, deflate ? 'RSV1 is only allowed on the first frame of a message' : 'RSV1, RSV2 and RSV3 must be clear');
      }
      if (this.#messageOpcode === 0) this.#compressed = true;
    }

    this.#fin = (b0 & 0x80) !== 0;
    this.#opcode = b0 & 0x0f;
    this.#masked = (b1 & 0x80) !== 0;
    const length7 = b1 & 0x7f;

    if (isControlOpcode(this.#opcode)) {
      if (this.#opcode > Opcode.PONG) return this.#fail(ErrorCode.WS_INVALID_OPCODE, `reserved opcode ${this.#opcode}`);
      if (!this.#fin) return this.#fail(ErrorCode.WS_CONTROL_FRAGMENTED, 'control frames must not be fragmented');
      if (length7 > MAX_CONTROL_PAYLOAD) {
        return this.#fail(ErrorCode.WS_CONTROL_TOO_LONG, 'control frame payload is longer than 125 bytes');
      }
    } else if (this.#opcode === Opcode.CONTINUATION) {
      if (this.#messageOpcode === 0) {
        return this.#fail(ErrorCode.WS_UNEXPECTED_CONTINUATION, 'continuation frame without a message to continue');
      }
    } else if (this.#opcode === Opcode.TEXT || this.#opcode === Opcode.BINARY) {
      if (this.#messageOpcode !== 0) {
        return this.#fail(ErrorCode.WS_EXPECTED_CONTINUATION, 'new message started before the fragmented one ended');
      }
    } else {
      return this.#fail(ErrorCode.WS_INVALID_OPCODE, `reserved opcode ${this.#opcode}`);
    }

    if (!isControlOpcode(this.#opcode) && ++this.#fragmentCount > this.#maxFragments) {
      return this.#fail(ErrorCode.WS_TOO_MANY_FRAGMENTS, `message split into more than ${this.#maxFragments} frames`);
    }
    if (this.#isServer && !this.#masked) return this.#fail(ErrorCode.WS_MASK_REQUIRED, 'client frames must be masked');
    if (!this.#isServer && this.#masked) return this.#fail(ErrorCode.WS_UNEXPECTED_MASK, 'server frames must not be masked');

    if (length7 === 126) this.#state = State.GET_LENGTH_16;
    else if (length7 === 127) this.#state = State.GET_LENGTH_64;
    else this.#haveLength(length7);
  }

  #getLength64(): void {
    const bytes = this.#input.take(8);
    const high = bytes.readUInt32BE(0);
    if (high & 0x80000000) {
      return this.#fail(ErrorCode.WS_INVALID_LENGTH, 'the most significant bit of a 64-bit length must be 0');
    }
    // JS numbers hold integers exactly up to 2^53 - 1; anything larger is far past any cap anyway.
    if (high > 0x1fffff) {
      return this.#fail(ErrorCode.WS_MESSAGE_TOO_BIG, 'payload length above 2^53 - 1');
    }
    this.#haveLength(high * 0x100000000 + bytes.readUInt32BE(4));
  }

  #haveLength(length: number): void {
    if (!isControlOpcode(this.#opcode)) {
      if (this.#messageLength + length > this.#maxPayload) {
        return this.#fail(ErrorCode.WS_MESSAGE_TOO_BIG, `message larger than the limit of ${this.#maxPayload} bytes`);
      }
      // A lone FIN frame (the common case) is never charged; the first frame of a fragmented
      // message, and every one after it, is.
      if (!this.#fin || this.#fragmentCount > 1) {
        this.#cost += length + FRAGMENT_OVERHEAD;
        if (this.#cost > this.#budget) {
          return this.#fail(
            ErrorCode.WS_TOO_MANY_FRAGMENTS,
            `fragmented message over its budget (${this.#budget} bytes: payload + ${FRAGMENT_OVERHEAD} per frame)`,
          );
        }
      }
    }
    this.#payloadLength = length;
    this.#state = this.#masked ? State.GET_MASK : State.GET_DATA;
  }

  /** A data frame of an uncompressed text message: TEXT, or a continuation of one (compressed text is checked once inflated). */
  #isTextFrame(): boolean {
    if (this.#compressed) return false;
    return this.#opcode === Opcode.TEXT || (this.#opcode === Opcode.CONTINUATION && this.#messageOpcode === Opcode.TEXT);
  }

  /**
   * The current text frame is incomplete: unmask in place and validate the payload bytes that
   * arrived since the last look (all queued bytes belong to this frame), so a peer cannot hold
   * invalid text open until the frame ends. `#getData` skips what was done here.
   */
  #checkPartialText(): void {
    const from = this.#checked;
    const to = this.#input.length;
    const utf8 = (this.#utf8 ??= new Utf8Validator());
    let at = from;
    for (const view of this.#input.peek(from, to)) {
      if (this.#masked) applyMask(view, maskAt(this.#mask, at));
      at += view.length;
      if (!utf8.write(view)) return this.#fail(ErrorCode.WS_INVALID_UTF8, 'text message is not valid UTF-8');
    }
    this.#checked = to;
  }

  #getData(): void {
    const length = this.#payloadLength;
    const data = length === 0 ? EMPTY : this.#input.take(length);
    // Bytes before `checked` were unmasked and validated by #checkPartialText already.
    const checked = this.#checked;
    this.#checked = 0;
    if (this.#masked && length > checked) applyMask(checked === 0 ? data : data.subarray(checked), maskAt(this.#mask, checked));
    this.#state = State.GET_INFO;

    if (isControlOpcode(this.#opcode)) return this.#control(data);

    if (this.#opcode !== Opcode.CONTINUATION) this.#messageOpcode = this.#opcode;
    if (this.#fin && this.#fragmentCount === 1) {
      // The common case, a message in one frame: no reassembly state at all.
      const isBinary = this.#messageOpcode === Opcode.BINARY;
      if (this.#compressed) return this.#compressedMessage(data, isBinary);
      const valid = isBinary || (checked === 0 ? isValidUtf8(data) : this.#utf8!.write(data.subarray(checked)) && this.#utf8!.end());
      if (!valid) return this.#fail(ErrorCode.WS_INVALID_UTF8, 'text message is not valid UTF-8');
      this.#resetMessage();
      this.#opts.onMessage(data, isBinary);
      return;
    }
    if (this.#messageOpcode === Opcode.TEXT && !this.#compressed) {
      if (!(this.#utf8 ??= new Utf8Validator()).write(checked === 0 ? data : data.subarray(checked))) {
        return this.#fail(ErrorCode.WS_INVALID_UTF8, 'text message is not valid UTF-8');
      }
    }
    if (length > 0) this.#keep(data);
    this.#messageLength += length;
    if (!this.#fin) return;

    const isBinary = this.#messageOpcode === Opcode.BINARY;
    if (!isBinary && !this.#compressed && !(this.#utf8 ??= new Utf8Validator()).end()) {
      return this.#fail(ErrorCode.WS_INVALID_UTF8, 'text message is not valid UTF-8');
    }
    this.#sealBlock();
    const fragments = this.#fragments;
    const message =
      fragments === null || fragments.length === 0 ? EMPTY : fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, this.#messageLength);
    if (this.#compressed) return this.#compressedMessage(message, isBinary);
    this.#resetMessage();
    this.#opts.onMessage(message, isBinary);
  }

  /** A whole compressed message, handed over as it came (the caller inflates it and checks its text). */
  #compressedMessage(data: Buffer, isBinary: boolean): void {
    this.#compressed = false;
    this.#resetMessage();
    this.#opts.onCompressedMessage!(data, isBinary);
  }

  /**
   * Holds one fragment's bytes. A long fragment that fills at least half of the memory it
   * lives in is kept as it is (a view); anything else is copied into the message's block,
   * sized like the message so far (256 bytes to 64 KiB). A view pins its whole socket chunk: kept for a
   * one-byte fragment followed by 400 pings in one read, it held ~50 KiB per message byte.
   * This way a message of tiny fragments costs about its own bytes and a few Buffers.
   */
  #keep(data: Buffer): void {
    if (data.length >= COPY_BELOW && data.length * 2 >= data.buffer.byteLength) {
      this.#sealBlock();
      (this.#fragments ??= []).push(data);
      return;
    }
    let block = this.#block;
    if (block !== null && this.#blockUsed + data.length > block.length) {
      this.#sealBlock();
      block = null;
    }
    if (block === null) {
      block = Buffer.allocUnsafeSlow(Math.max(data.length, Math.min(MAX_BLOCK, Math.max(FIRST_BLOCK, this.#messageLength))));
      this.#block = block;
    }
    data.copy(block, this.#blockUsed);
    this.#blockUsed += data.length;
  }

  /**
   * Moves the block's bytes into the fragment list (before a long fragment, or at the end).
   * A block less than half full is copied out at its used size, so tiny fragments between
   * long ones cannot each leave a mostly empty block behind.
   */
  #sealBlock(): void {
    const block = this.#block;
    if (block === null) return;
    const used = this.#blockUsed;
    if (used > 0) {
      let kept = block.subarray(0, used);
      if (used * 2 < block.length) {
        kept = Buffer.allocUnsafeSlow(used);
        block.copy(kept, 0, 0, used);
      }
      (this.#fragments ??= []).push(kept);
    }
    this.#block = null;
    this.#blockUsed = 0;
  }

  #control(data: Buffer): void {
    if (this.#opcode === Opcode.PING) {
      this.#opts.onPing?.(data);
    } else if (this.#opcode === Opcode.PONG) {
      this.#opts.onPong?.(data);
    } else {
      this.#closeFrame(data);
    }
  }

  #closeFrame(data: Buffer): void {
    let code = NO_STATUS_CODE;
    let reason = '';
    if (data.length === 1) {
      return this.#fail(ErrorCode.WS_INVALID_CLOSE_PAYLOAD, 'close frame payload of 1 byte');
    }
    if (data.length >= 2) {
      code = data.readUInt16BE(0);
      if (!isValidWireCloseCode(code)) return this.#fail(ErrorCode.WS_INVALID_CLOSE_CODE, `invalid close code ${code}`);
      const reasonBytes = data.subarray(2);
      if (!isValidUtf8(reasonBytes)) return this.#fail(ErrorCode.WS_INVALID_UTF8, 'close reason is not valid UTF-8');
      reason = reasonBytes.toString('utf8');
    }
    this.stop();
    this.#opts.onClose?.(code, reason);
  }

  #fail(code: ErrorCode, message: string): void {
    this.stop();
    this.#opts.onError?.(new StelarError(code, message));
  }

  #resetMessage(): void {
    this.#messageOpcode = 0;
    this.#fragments = null;
    this.#messageLength = 0;
    this.#fragmentCount = 0;
    this.#cost = 0;
    this.#block = null;
    this.#blockUsed = 0;
    this.#utf8 = null;
  }
}
