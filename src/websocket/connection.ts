/**
 * One open WebSocket over a connected socket (after the handshake), in either role.
 *
 * Closing (RFC 6455 sections 5.5.1 and 7):
 *  - peer's close frame: echo a close frame (the same code and reason, or an empty body if
 *    the peer sent none). The server then ends TCP at once; the client waits for the server to end
 *    it (section 7.1.1), bounded by `closeTimeout`.
 *  - `close(code, reason)`: send a close frame, wait up to `closeTimeout` for the peer's,
 *    then destroy the socket.
 *  - protocol error from the peer: send the error's close code, emit `error`, end TCP.
 * `close` is emitted exactly once, after the socket is gone: with the code of the close
 * frame received (1005 when it had none), or 1006 when none was received.
 *
 * Writes are coalesced (src/net/write-batcher.ts): frames sent in one tick are queued and
 * written with one `write()` on the next `process.nextTick`. `bufferedAmount` counts the
 * queued bytes, and `send` answers false once queued + socket-buffered bytes reach the
 * socket's high-water mark; `drain` follows. A close frame is written after everything
 * queued before it (the queue is flushed synchronously before the close frame and before
 * the socket is ended). Data still queued when the socket goes away (peer reset,
 * `terminate()`) is dropped, like the socket's own buffer.
 *
 * In the server role reads are paused while `bufferedAmount` is over the high-water mark
 * (`pauseReadsOnBacklog`, `readsPaused`) and resumed on `drain` or when closing starts.
 *
 * permessage-deflate (RFC 7692), when negotiated (`perMessageDeflate`, see deflate-codec.ts):
 * `send` compresses messages at or above the threshold; a compressed message received is
 * inflated before `message` is emitted, its text checked then. Order is kept both ways: a
 * message inflated on the thread pool holds the parser (and the socket's reads) until it is
 * done, and frames sent after a message compressed on the thread pool wait behind it (counted
 * in `bufferedAmount`); `close()` sends its close frame once they are out. Connections without
 * the extension pay one null check per send for it.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../protocol/codes.js';
import { StelarError } from '../protocol/errors.js';
import { ABNORMAL_CLOSE_CODE, NO_STATUS_CODE } from './close-codes.js';
import type { InflateResult } from './deflate-codec.js';
import { DeflateSender, type DeflateSenderHost, type NegotiatedDeflate, type SharedMessage } from './deflate-sender.js';
import { MAX_CONTROL_PAYLOAD, Opcode, ReadyState } from './opcodes.js';
import { OutboundQueue } from '../net/write-batcher.js';
import { Receiver, type ReceiverCallbacks } from './receiver.js';
import { buildFrame, closePayload, frameHeader, type FramePayload } from './sender.js';
import { isValidUtf8 } from './utf8.js';

export interface WebSocketConnectionOptions {
  isServer: boolean;
  /** Largest inbound message in bytes (default 10 MiB); bigger ones close with 1009. */
  maxPayload?: number;
  /** @deprecated Extra cap on the frames of one inbound message (none by default; reassembly is bounded by bytes, see `fragmentBudget`). */
  maxFragments?: number;
  /** Bytes that arrived with the handshake, already past the HTTP head. */
  head?: Buffer;
  /** The negotiated subprotocol ('' when none). */
  protocol?: string;
  /** How long to wait for the peer's side of the closing handshake (default 5000 ms). */
  closeTimeout?: number;
  /**
   * Stop reading the socket while `bufferedAmount` is over the socket's high-water mark, and
   * resume on `drain`: a peer that sends (messages, pings) without reading what we send back
   * is held back by TCP flow control instead of growing our buffer. Default: true in the
   * server role, false in the client role (only one side may pause, or two peers that each
   * wait for the other to read would wait forever). Reads resume once the closing handshake
   * starts, so a paused peer's close frame is still seen.
   */
  pauseReadsOnBacklog?: boolean;
  /**
   * The accepting server's set of open connections: this connection leaves it when it
   * closes, just before `close` is emitted (a field, not a `once('close')` closure and its
   * wrapper per connection).
   */
  registry?: Set<WebSocketConnection>;
  /** permessage-deflate as negotiated in the handshake (by the server or client that made this connection). */
  deflate?: NegotiatedDeflate;
}

export interface SendOptions {
  /** Strings go as text and bytes as binary; `binary` overrides either way. */
  binary?: boolean;
}

export const DEFAULT_CLOSE_TIMEOUT = 5000;
/** Payloads at least this big are written after their header instead of copied behind it. */
const SEPARATE_WRITE_THRESHOLD = 16 * 1024;
const EMPTY = Buffer.alloc(0);

function emitDrain(conn: WebSocketConnection): void {
  conn.emit('drain');
}

type Stream = Duplex & Partial<Pick<Socket, 'setNoDelay' | 'setTimeout' | 'remoteAddress'>>;

/*
 * No closures per connection (they cost ~100 bytes each, times every idle client): socket
 * listeners are shared functions that find their connection through a symbol on the socket
 * (Node calls them with `this` = the socket), and the receiver calls methods of one small
 * hooks object. Both reach the private handlers through functions set in the class's static
 * block.
 */
const kConn = Symbol('stelar.websocket.connection');
type TaggedStream = Stream & { [kConn]?: WebSocketConnection };
function ignoreError(): void {
  // Socket errors (ECONNRESET...) end in 'close' with 1006; they are not protocol errors.
}
let onSocketData: (this: TaggedStream, chunk: Buffer) => void;
let onSocketEnd: (this: TaggedStream) => void;
let onSocketClose: (this: TaggedStream) => void;
let onSocketDrain: (this: TaggedStream) => void;
let hookPing: (conn: WebSocketConnection, data: Buffer) => void;
let hookCloseFrame: (conn: WebSocketConnection, code: number, reason: string) => void;
let hookError: (conn: WebSocketConnection, err: StelarError) => void;
let hookCompressed: (conn: WebSocketConnection, data: Buffer, isBinary: boolean) => void;

/**
 * What the receiver calls back: methods on the prototype, one field per connection (the
 * receiver's settings come from the connection's options, not kept here).
 */
class ReceiverHooks implements ReceiverCallbacks {
  readonly conn: WebSocketConnection;
  constructor(conn: WebSocketConnection) {
    this.conn = conn;
  }
  onMessage(data: Buffer, isBinary: boolean): void {
    this.conn.emit('message', data, isBinary);
  }
  onPing(data: Buffer): void {
    hookPing(this.conn, data);
  }
  onPong(data: Buffer): void {
    this.conn.emit('pong', data);
  }
  onClose(code: number, reason: string): void {
    hookCloseFrame(this.conn, code, reason);
  }
  onError(err: StelarError): void {
    hookError(this.conn, err);
  }
}

/** The hooks of a connection with permessage-deflate: `onCompressedMessage` is what allows RSV1. */
class DeflateReceiverHooks extends ReceiverHooks {
  onCompressedMessage(data: Buffer, isBinary: boolean): void {
    hookCompressed(this.conn, data, isBinary);
  }
}

export class WebSocketConnection extends EventEmitter {
  static {
    onSocketData = function (chunk) {
      const conn = this[kConn];
      if (conn) conn.#receiver.write(chunk);
    };
    onSocketEnd = function () {
      const conn = this[kConn];
      if (conn) conn.#onSocketEnd();
    };
    onSocketClose = function () {
      const conn = this[kConn];
      if (conn) conn.#onSocketClose();
    };
    onSocketDrain = function () {
      const conn = this[kConn];
      if (conn) conn.#queue.onSocketDrain();
    };
    hookPing = (conn, data) => conn.#onPing(data);
    hookCloseFrame = (conn, code, reason) => conn.#onCloseFrame(code, reason);
    hookError = (conn, err) => conn.#onProtocolError(err);
    hookCompressed = (conn, data, isBinary) => conn.#onCompressedMessage(data, isBinary);
  }

  readonly #socket: Stream;
  readonly #isServer: boolean;
  readonly #receiver: Receiver;
  readonly #closeTimeout: number;
  readonly #protocol: string;
  readonly #remoteAddress: string | undefined;
  #readyState: ReadyState = ReadyState.OPEN;
  #closeFrameSent = false;
  /** The peer's close frame, once received (null until then: one slot per idle connection, not three). */
  #peerClose: { code: number; reason: string } | null = null;
  #closeTimer: NodeJS.Timeout | undefined;
  /** Frames queued this tick, flushed by the shared batcher. */
  readonly #queue: OutboundQueue;
  readonly #registry: Set<WebSocketConnection> | null;
  /** permessage-deflate's sending side (null on connections without it: one field, one check per send). */
  readonly #deflate: DeflateSender | null;

  constructor(socket: Duplex, options: WebSocketConnectionOptions) {
    super();
    this.#socket = socket as Stream;
    this.#queue = new OutboundQueue(socket, this, options.pauseReadsOnBacklog ?? options.isServer);
    this.#isServer = options.isServer;
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.#protocol = options.protocol ?? '';
    this.#remoteAddress = this.#socket.remoteAddress;
    this.#registry = options.registry ?? null;
    this.#deflate = options.deflate ? new DeflateSender(options.deflate, !options.isServer, this.#deflateHost()) : null;
    this.#receiver = new Receiver(this.#deflate ? new DeflateReceiverHooks(this) : new ReceiverHooks(this), options);

    // Small frames must leave at once; idle timeouts belong to the layers above (cleared only
    // when one is set: Node's HTTP server sets none by default, and the call is not free).
    this.#socket.setNoDelay?.(true);
    if ((this.#socket as { timeout?: number }).timeout) this.#socket.setTimeout?.(0);
    // Bytes that came with the handshake go back in front of the stream, so they are read
    // first and only once the caller has had a chance to attach listeners.
    if (options.head && options.head.length > 0) socket.unshift(options.head);
    (socket as TaggedStream)[kConn] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    socket.on('error', ignoreError);
    if (socket.destroyed) queueMicrotask(() => this.#onSocketClose());
  }

  get readyState(): ReadyState {
    return this.#readyState;
  }

  get protocol(): string {
    return this.#protocol;
  }

  /** The negotiated extensions, as the 101 answer named them ('' when none). */
  get extensions(): string {
    return this.#deflate?.extensions ?? '';
  }

  /** Whether permessage-deflate was negotiated: messages may travel compressed. */
  get perMessageDeflate(): boolean {
    return this.#deflate !== null;
  }

  get socket(): Duplex {
    return this.#socket;
  }

  get remoteAddress(): string | undefined {
    return this.#remoteAddress;
  }

  /** Bytes sent but not yet handed to the OS: queued for this tick's flush plus the socket's buffer. */
  get bufferedAmount(): number {
    const d = this.#deflate;
    return d === null ? this.#queue.bufferedAmount : this.#queue.bufferedAmount + d.waitingBytes;
  }

  /** A send answered false and `drain` has not followed yet (as Node's `writable.writableNeedDrain`). */
  get writableNeedDrain(): boolean {
    return this.#queue.writableNeedDrain;
  }

  /** true while reads are paused because the peer is not reading what we sent (`pauseReadsOnBacklog`). */
  get readsPaused(): boolean {
    return this.#queue.readsPaused;
  }

  /** Largest inbound message accepted (a bigger one closes 1009). Changeable at any time. */
  get maxPayload(): number {
    return this.#receiver.maxPayload;
  }
  set maxPayload(value: number) {
    this.#receiver.maxPayload = value;
  }

  /** Bytes held for the inbound message in progress (unparsed input + reassembled fragments; 0 between messages). */
  get inboundPending(): number {
    return this.#receiver.pendingBytes;
  }

  /**
   * Drops the inbound message in progress and parses nothing more (the peer's close frame
   * included: the close then ends by `closeTimeout`). For a connection being closed because
   * of what it buffered.
   */
  discardInbound(): void {
    this.#receiver.stop();
  }

  /** Whether the peer read any of our backlog since the previous call (the kernel took bytes). */
  peerTookSinceLastLook(): boolean {
    return this.#queue.peerTookSinceLastLook();
  }

  /**
   * Sends one message (written on the next tick, with everything else sent this tick).
   * Returns false when `bufferedAmount` is at or above the socket's high-water mark (the
   * data is queued anyway: wait for `drain`) or when the connection is not open (the data
   * is dropped). Payloads are not copied before the flush, and large server payloads not
   * at all, so do not modify a buffer after sending it.
   */
  send(data: FramePayload, options: SendOptions = {}): boolean {
    if (this.#readyState !== ReadyState.OPEN) return false;
    const isString = typeof data === 'string';
    const binary = options.binary ?? !isString;
    const opcode = binary ? Opcode.BINARY : Opcode.TEXT;
    if (this.#deflate !== null) return this.#deflate.send(opcode, data);
    if (!this.#isServer || isString || data.length < SEPARATE_WRITE_THRESHOLD) {
      return this.#queue.write(buildFrame(opcode, data, { mask: !this.#isServer }));
    }
    if (!this.#socket.writable) return false;
    // Header and payload queued apart: the flush sends them in one writev, no copy.
    this.#queue.enqueue(frameHeader(opcode, data.length));
    return this.#queue.write(data);
  }

  /** Writes a frame built by `buildFrame` (unmasked frames in the server role: broadcast). */
  sendFrame(frame: Uint8Array): boolean {
    if (this.#readyState !== ReadyState.OPEN) return false;
    const d = this.#deflate;
    return d === null ? this.#queue.write(frame) : d.sendFrame(frame);
  }

  /**
   * Sends a message many connections send (binary): in the server role its shared frame, or, with
   * permessage-deflate, its shared compressed frame (compressed once per compressor) when this
   * connection keeps no compression context; with a context, it is compressed for this
   * connection alone. Messages too big to compress on the event loop go uncompressed.
   */
  sendShared(message: SharedMessage): boolean {
    const d = this.#deflate;
    // Shared frames are unmasked: a client sends the message as its own (masked) frame.
    if (!this.#isServer) return this.send(message.bytes, { binary: true });
    if (d === null) return this.sendFrame(message.wsFrame());
    if (!d.codec.shares) return this.send(message.bytes, { binary: true });
    const compressor = d.codec.compressor;
    const n = message.bytes.length;
    return this.sendFrame(compressor.wants(n) && compressor.isSync(n) ? message.wsCompressedFrame(compressor) : message.wsFrame());
  }

  /** What the sending side of permessage-deflate needs from this connection. */
  #deflateHost(): DeflateSenderHost {
    const queue = this.#queue;
    const socket = this.#socket;
    return {
      write: (frame) => queue.write(frame),
      get queuedBytes() {
        return queue.bufferedAmount;
      },
      get highWaterMark() {
        return socket.writableHighWaterMark;
      },
      drain: () => process.nextTick(emitDrain, this),
      close: (body) => this.#closeNow(body),
    };
  }

  /** A compressed message came in: inflate it (now, or holding the parser until the thread pool is done), then emit it. */
  #onCompressedMessage(data: Buffer, isBinary: boolean): void {
    const codec = this.#deflate!.codec;
    const max = this.#receiver.maxPayload;
    const now = codec.inflateNow(data, max);
    if (now !== null) {
      this.#inflated(now, isBinary);
      return;
    }
    this.#receiver.hold();
    this.#queue.holdReads(true);
    codec.inflate(data, max, (result) => {
      if (this.#readyState === ReadyState.CLOSED) return;
      this.#queue.holdReads(false);
      // Told to parse nothing more meanwhile (discardInbound): the message is dropped.
      if (this.#receiver.stopped) return;
      if (this.#inflated(result, isBinary)) this.#receiver.resume();
    });
  }

  /** Emits an inflated message, or fails the connection (1009 too big, 1007 invalid data or text). false = failed. */
  #inflated(result: InflateResult, isBinary: boolean): boolean {
    let err = result instanceof StelarError ? result : null;
    if (err === null && !isBinary && !isValidUtf8(result as Buffer)) err = new StelarError(ErrorCode.WS_INVALID_UTF8, 'text message is not valid UTF-8');
    if (err !== null) {
      this.#receiver.stop();
      this.#onProtocolError(err);
      return false;
    }
    this.emit('message', result, isBinary);
    return true;
  }

  ping(data: FramePayload = EMPTY): boolean {
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (length > MAX_CONTROL_PAYLOAD) {
      throw new StelarError(ErrorCode.WS_CONTROL_TOO_LONG, 'ping payload is longer than 125 bytes');
    }
    if (this.#readyState !== ReadyState.OPEN) return false;
    return this.#queue.write(buildFrame(Opcode.PING, data, { mask: !this.#isServer }));
  }

  /**
   * Starts the closing handshake. `code` 1005 sends a close frame without a body.
   * Throws a StelarError for a code that may not be sent or a reason over 123 bytes.
   */
  close(code = 1000, reason = ''): void {
    const body = closePayload(code, reason);
    if (this.#readyState === ReadyState.CLOSED || this.#closeFrameSent) return;
    this.#readyState = ReadyState.CLOSING;
    // Messages sent before close() may still be compressing: the close frame then follows them.
    if (this.#deflate?.deferClose(body)) {
      this.#armCloseTimer();
      return;
    }
    this.#closeNow(body);
  }

  #closeNow(body: Buffer): void {
    this.#sendClose(body);
    if (this.#peerClose !== null && this.#isServer) this.#end();
    this.#armCloseTimer();
  }

  /** Drops the connection without a closing handshake (the peer sees 1006); queued data is dropped. */
  terminate(): void {
    if (this.#readyState === ReadyState.CLOSED) return;
    this.#readyState = ReadyState.CLOSING;
    this.#socket.destroy();
  }

  /** Writes everything queued now, in order (also called before a close frame or `end()`). */
  flushWrites(): void {
    this.#queue.flushWrites();
  }

  /** Ends our side after writing everything queued before it. */
  #end(): void {
    this.flushWrites();
    this.#socket.end();
  }

  #sendClose(body: Buffer): void {
    this.#closeFrameSent = true;
    this.#deflate?.drop();
    this.#queue.write(buildFrame(Opcode.CLOSE, body, { mask: !this.#isServer }));
    // The close frame goes out now, behind everything queued before it.
    this.flushWrites();
    // The peer's close frame (or FIN) must be read even if it never read our backlog.
    this.#queue.stopPausing();
  }

  #armCloseTimer(): void {
    if (this.#closeTimer || this.#readyState === ReadyState.CLOSED) return;
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#closeTimeout);
    this.#closeTimer.unref();
  }

  #onPing(data: Buffer): void {
    if (!this.#closeFrameSent) this.#queue.write(buildFrame(Opcode.PONG, data, { mask: !this.#isServer }));
    this.emit('ping', data);
  }

  #onCloseFrame(code: number, reason: string): void {
    this.#peerClose = { code, reason };
    if (this.#readyState === ReadyState.OPEN) this.#readyState = ReadyState.CLOSING;
    if (!this.#closeFrameSent) this.#sendClose(code === NO_STATUS_CODE ? EMPTY : closePayload(code, reason));
    // The server closes TCP first (section 7.1.1) so the client is not left in TIME_WAIT.
    if (this.#isServer) this.#end();
    this.#armCloseTimer();
  }

  #onProtocolError(err: StelarError): void {
    if (this.#readyState === ReadyState.CLOSED) return;
    this.#readyState = ReadyState.CLOSING;
    // The reason says which limit or rule was broken, when it fits the 123 bytes a close allows.
    if (!this.#closeFrameSent) this.#sendClose(closePayload(err.closeCode, Buffer.byteLength(err.message) <= 123 ? err.message : ''));
    this.#end();
    this.#armCloseTimer();
    // A misbehaving peer must not be able to crash a process that did not listen for errors.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #onSocketEnd(): void {
    // The peer finished sending. Finish ours too: the socket may allow half-open connections.
    if (this.#readyState === ReadyState.OPEN) this.#readyState = ReadyState.CLOSING;
    this.#end();
    this.#armCloseTimer();
  }

  #onSocketClose(): void {
    if (this.#readyState === ReadyState.CLOSED) return;
    this.#readyState = ReadyState.CLOSED;
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#receiver.stop();
    this.#queue.clear();
    if (this.#deflate !== null) {
      this.#deflate.drop();
      this.#deflate.codec.close();
    }
    this.#registry?.delete(this);
    const peer = this.#peerClose;
    this.emit('close', peer ? peer.code : ABNORMAL_CLOSE_CODE, peer ? peer.reason : '');
  }
}
