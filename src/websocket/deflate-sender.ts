/**
 * The sending side of a connection with permessage-deflate: what `send` does with a message
 * (uncompressed below the threshold, compressed now, or compressed on the thread pool), and
 * the order of everything sent after a message that is still being compressed.
 *
 * A message compressed on the thread pool takes a place in a waiting list; frames sent after
 * it (compressed or not, and shared broadcast frames) queue behind it and reach the write
 * queue in order once it is done. What waits counts in the connection's `bufferedAmount`; a
 * send answered false because of it owes a `drain`. A close started meanwhile is sent after
 * the waiting frames (the connection hands its body here). Control frames (ping, pong) do not
 * wait: RFC 6455 lets them go between messages.
 */
import type { Compressor, MessageDeflate } from './deflate-codec.js';
import { Opcode } from './opcodes.js';
import { buildFrame, type FramePayload } from './sender.js';

/** The extension a handshake agreed on: the codec, and the header value that said so. */
export interface NegotiatedDeflate {
  readonly codec: MessageDeflate;
  /** The `Sec-WebSocket-Extensions` value of the 101 answer. */
  readonly extensions: string;
}

/**
 * A message sent as the same bytes to many connections (a broadcast): framed once, and
 * compressed once per compressor for the connections that take shared compressed frames.
 */
export interface SharedMessage {
  /** The payload (a binary message). */
  readonly bytes: Uint8Array;
  /** The unmasked, uncompressed binary frame, built once. */
  wsFrame(): Buffer;
  /** The binary frame compressed by `compressor` (see `compressedFrame`), built once per compressor. */
  wsCompressedFrame(compressor: Compressor): Buffer;
}

/** The unmasked binary frame of `bytes` compressed by `compressor` (what `SharedMessage.wsCompressedFrame` builds). */
export function compressedFrame(compressor: Compressor, bytes: Uint8Array): Buffer {
  return buildFrame(Opcode.BINARY, compressor.compressNow(bytes), { compressed: true });
}

/** What the sender needs from its connection. */
export interface DeflateSenderHost {
  /** Hands a frame to the write queue; false = over the socket's high-water mark. */
  write(frame: Uint8Array): boolean;
  /** Bytes queued for writing and in the socket's buffer (without what waits here). */
  readonly queuedBytes: number;
  readonly highWaterMark: number;
  /** `drain` is owed and nobody else will emit it (the write queue is under its mark). */
  drain(): void;
  /** The close deferred by `deferClose` can go now. */
  close(body: Buffer): void;
}

/** A frame waiting behind a compression on the thread pool; `frame` null = that compression itself, still running. */
interface Waiting {
  frame: Uint8Array | null;
  /** What it counts in `bufferedAmount` until it reaches the write queue. */
  bytes: number;
}

export class DeflateSender {
  readonly codec: MessageDeflate;
  /** The negotiated `Sec-WebSocket-Extensions` (kept here: one field on the connection for all of it). */
  readonly extensions: string;
  /** Mask frames (client role). */
  readonly #mask: boolean;
  readonly #host: DeflateSenderHost;
  /** Frames behind an asynchronous compression, in order; null = nothing waits. */
  #waiting: Waiting[] | null = null;
  #waitingBytes = 0;
  /** A send answered false because of what waits: `drain` is owed once it is written. */
  #owesDrain = false;
  /** A close that came while frames waited: its close frame's body, sent after them. */
  #closeBody: Buffer | null = null;

  constructor(negotiated: NegotiatedDeflate, mask: boolean, host: DeflateSenderHost) {
    this.codec = negotiated.codec;
    this.extensions = negotiated.extensions;
    this.#mask = mask;
    this.#host = host;
  }

  /** Bytes of frames waiting behind a compression (part of the connection's `bufferedAmount`). */
  get waitingBytes(): number {
    return this.#waitingBytes;
  }

  /** One message: compressed from the threshold up (now, or on the thread pool), in order either way. */
  send(opcode: number, data: FramePayload): boolean {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const mask = this.#mask;
    const codec = this.codec;
    if (!codec.wants(bytes.length)) return this.sendFrame(buildFrame(opcode, bytes, { mask }));
    const payload = codec.deflateNow(bytes);
    if (payload !== null) return this.sendFrame(buildFrame(opcode, payload, { mask, compressed: true }));
    // On the thread pool: what is sent after this message waits behind it.
    const entry: Waiting = { frame: null, bytes: bytes.length };
    (this.#waiting ??= []).push(entry);
    this.#waitingBytes += entry.bytes;
    codec.deflate(bytes, (compressed) => {
      // Not compressed after all (the connection closed, or zlib failed): it goes as it is.
      entry.frame = compressed === null ? buildFrame(opcode, bytes, { mask }) : buildFrame(opcode, compressed, { mask, compressed: true });
      this.#writeReady();
    });
    return this.#belowHighWater();
  }

  /** A frame built elsewhere (a shared broadcast frame): written now, or behind what waits. */
  sendFrame(frame: Uint8Array): boolean {
    const list = this.#waiting;
    if (list === null) return this.#host.write(frame);
    list.push({ frame, bytes: frame.length });
    this.#waitingBytes += frame.length;
    return this.#belowHighWater();
  }

  /** Keeps a close for after the waiting frames; false when nothing waits (close now). */
  deferClose(body: Buffer): boolean {
    if (this.#waiting === null) return false;
    this.#closeBody ??= body;
    return true;
  }

  /** Abandons what waits (a close frame is going out, or the socket is gone). */
  drop(): void {
    this.#waiting = null;
    this.#waitingBytes = 0;
    this.#closeBody = null;
  }

  #belowHighWater(): boolean {
    const host = this.#host;
    if (host.queuedBytes + this.#waitingBytes < host.highWaterMark) return true;
    this.#owesDrain = true;
    return false;
  }

  /** Moves the waiting frames that are ready, in order, to the write queue; at the end, a deferred close. */
  #writeReady(): void {
    const list = this.#waiting;
    if (list === null) return;
    const host = this.#host;
    let i = 0;
    let ok = true;
    for (; i < list.length; i++) {
      const entry = list[i]!;
      if (entry.frame === null) break;
      this.#waitingBytes -= entry.bytes;
      ok = host.write(entry.frame);
    }
    if (i < list.length) {
      list.splice(0, i);
      return;
    }
    this.#waiting = null;
    this.#waitingBytes = 0;
    if (this.#owesDrain) {
      this.#owesDrain = false;
      // Over the mark: the write queue owes the drain now. Under it: nobody else will say so.
      if (ok) host.drain();
    }
    const body = this.#closeBody;
    if (body !== null) {
      this.#closeBody = null;
      host.close(body);
    }
  }
}
