/**
 * One TCP (or TLS) connection speaking length-prefixed packets.
 *
 * It frames and unframes; it does not interpret packets, with one exception: the
 * Disconnect packet (type 7) is the TCP transport's close handshake, so it is consumed
 * here and never reaches `frame` listeners. Everything else goes up as raw packet bytes.
 *
 * Close rules (mirroring WebSocket's so the layers above treat both transports alike):
 * - `close(code, reason)` sends Disconnect `{ code, reason }` and ends our side; if the peer
 *   never closes its side, the socket is destroyed after `closeTimeout`.
 * - A Disconnect from the peer: remember its code and reason, end our side.
 * - A framing error: emit `error`, send Disconnect with the error's close code, end.
 * - `close (code, reason)` fires once, after the socket is gone: the code of the Disconnect
 *   that was sent or received first (when both sides close at once, each keeps the one it
 *   sent), else 1006 (the connection just dropped).
 * Socket errors (ECONNRESET, EPIPE...) are not protocol errors: they never throw and never
 * emit `error`; they end in `close` with 1006.
 *
 * Writes are coalesced (src/net/write-batcher.ts): frames sent in one tick are queued and
 * written with one `write()` on the next `process.nextTick`. `bufferedAmount` counts the
 * queued bytes and `send` answers false once queued + socket-buffered bytes reach the
 * socket's high-water mark; `drain` follows. The Disconnect is written after everything
 * queued before it (the queue is flushed synchronously, then the socket ended). Data still
 * queued when the socket goes away (peer reset, `terminate()`) is dropped with it.
 * With `pauseReadsOnBacklog` (the server's side) reads are paused while `bufferedAmount` is
 * over the high-water mark and resumed on `drain` or when closing starts.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { CloseCode, decodePacket, encodePacket, type Packet, PacketType, peekPacketType, type StelarError } from '../protocol/index.js';
import { ReadyState } from '../net/ready-state.js';
import { OutboundQueue } from '../net/write-batcher.js';
import { DEFAULT_MAX_FRAME_SIZE, TcpFrameParser, type TcpFrameParserOptions } from './frame-parser.js';

export interface TcpConnectionOptions {
  /** Largest accepted inbound frame, prefix included. Default 10 MiB. */
  maxFrameSize?: number;
  /** How long to wait for the peer to close after our Disconnect before destroying (ms). Default 5000. */
  closeTimeout?: number;
  /**
   * Stop reading the socket while `bufferedAmount` is over the socket's high-water mark, and
   * resume on `drain`: a peer that sends without reading our answers is held back by TCP flow
   * control instead of growing our buffer. Default false; the server turns it on for the
   * connections it accepts (only one side may pause, or two peers that each wait for the
   * other to read would wait forever). Reads resume once closing starts.
   */
  pauseReadsOnBacklog?: boolean;
}

/** The same states as WebSocket's readyState (one table, src/net/ready-state.ts), so upper layers need one check. */
export const TcpReadyState = ReadyState;
export type TcpReadyState = ReadyState;

const DEFAULT_CLOSE_TIMEOUT = 5000;

/** Disconnect data from the peer: `{ code, reason }`; anything else counts as "no status". */
function readDisconnect(packet: Buffer): { code: number; reason: string } {
  try {
    const data = decodePacket(packet).data as { code?: unknown; reason?: unknown } | null | undefined;
    const code = data?.code;
    const reason = data?.reason;
    return {
      code: typeof code === 'number' && Number.isInteger(code) && code >= 1000 && code <= 4999 ? code : CloseCode.NO_STATUS,
      reason: typeof reason === 'string' ? reason : '',
    };
  } catch {
    return { code: CloseCode.NO_STATUS, reason: '' };
  }
}

/*
 * No closures per connection (they cost ~100 bytes each, times every idle client): socket
 * listeners are shared functions that find their connection through a symbol on the socket
 * (Node calls them with `this` = the socket), and the parser calls methods of one small hooks
 * object. Both reach the private handlers through functions set in the class's static block.
 */
const kConn = Symbol('stelar.tcp.connection');
type TaggedSocket = Socket & { [kConn]?: TcpConnection };
function ignoreError(): void {
  // Transport errors end in `close` 1006; without a listener they would crash the process.
}
let onSocketData: (this: TaggedSocket, chunk: Buffer) => void;
let onSocketEnd: (this: TaggedSocket) => void;
let onSocketClose: (this: TaggedSocket) => void;
let onSocketDrain: (this: TaggedSocket) => void;
let hookFrame: (conn: TcpConnection, packet: Buffer) => void;
let hookError: (conn: TcpConnection, err: StelarError) => void;

class ParserHooks implements TcpFrameParserOptions {
  readonly conn: TcpConnection;
  readonly maxFrameSize: number;
  constructor(conn: TcpConnection, maxFrameSize: number) {
    this.conn = conn;
    this.maxFrameSize = maxFrameSize;
  }
  onFrame(packet: Buffer): void {
    hookFrame(this.conn, packet);
  }
  onError(err: StelarError): void {
    hookError(this.conn, err);
  }
}

export class TcpConnection extends EventEmitter {
  static {
    onSocketData = function (chunk) {
      const conn = this[kConn];
      if (conn) conn.#parser.push(chunk);
    };
    onSocketEnd = function () {
      const conn = this[kConn];
      if (!conn) return;
      // The peer finished sending: finish ours too (matters when allowHalfOpen is set).
      if (conn.#state === TcpReadyState.OPEN) conn.#state = TcpReadyState.CLOSING;
      conn.flushWrites();
      if (!this.writableEnded) this.end();
    };
    onSocketClose = function () {
      const conn = this[kConn];
      if (conn) conn.#finish();
    };
    onSocketDrain = function () {
      const conn = this[kConn];
      if (conn) conn.#queue.onSocketDrain();
    };
    hookFrame = (conn, packet) => conn.#onFrame(packet);
    hookError = (conn, err) => conn.#onProtocolError(err);
  }

  readonly socket: Socket;
  #parser: TcpFrameParser;
  #state: TcpReadyState = TcpReadyState.OPEN;
  /** Code/reason of the first Disconnect sent or received; undefined = none (-> 1006). */
  #closeCode: number | undefined;
  #closeReason = '';
  /** True once the peer's Disconnect arrived: later frames are ignored. */
  #peerClosed = false;
  #closeTimeout: number;
  #closeTimer: NodeJS.Timeout | undefined;
  /** Frames queued this tick, flushed by the shared batcher. */
  readonly #queue: OutboundQueue;

  constructor(socket: Socket, options: TcpConnectionOptions = {}) {
    super();
    this.socket = socket;
    this.#queue = new OutboundQueue(socket, this, options.pauseReadsOnBacklog ?? false);
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.#parser = new TcpFrameParser(new ParserHooks(this, options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE));
    // Small packets are the common case; Nagle would add up to 40 ms to each of them.
    socket.setNoDelay(true);
    (socket as TaggedSocket)[kConn] = this;
    socket.on('data', onSocketData);
    socket.on('drain', onSocketDrain);
    socket.on('error', ignoreError);
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    if (socket.destroyed) process.nextTick(() => this.#finish());
  }

  get readyState(): TcpReadyState {
    return this.#state;
  }

  /** Bytes sent and not yet handed to the kernel: queued for this tick's flush plus the socket's buffer. */
  get bufferedAmount(): number {
    return this.#queue.bufferedAmount;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** A send answered false and `drain` has not followed yet (as Node's `writable.writableNeedDrain`). */
  get writableNeedDrain(): boolean {
    return this.#queue.writableNeedDrain;
  }

  /** true while reads are paused because the peer is not reading what we sent (`pauseReadsOnBacklog`). */
  get readsPaused(): boolean {
    return this.#queue.readsPaused;
  }

  /** Whether the peer read any of our backlog since the previous call (the kernel took bytes). */
  peerTookSinceLastLook(): boolean {
    return this.#queue.peerTookSinceLastLook();
  }

  /** Bytes held for the inbound frame in progress (0 between frames). */
  get inboundPending(): number {
    return this.#parser.bufferedBytes;
  }

  /**
   * Drops the inbound frame in progress and reads nothing more into it (what arrives is
   * discarded). For a connection being closed because of what it buffered.
   */
  discardInbound(): void {
    this.#parser.stop();
  }

  /** Maximum inbound frame size this connection accepts (a frame past it closes the connection). */
  get maxFrameSize(): number {
    return this.#parser.maxFrameSize;
  }
  set maxFrameSize(value: number) {
    this.#parser.maxFrameSize = value;
  }

  /**
   * Writes a frame that already carries its 4-byte prefix (`encodePacket(p, 4)`); the same
   * bytes may go to many connections (never modify them after). The frame is written on the
   * next tick with everything else sent this tick. Returns false when `bufferedAmount` is at
   * or above the socket's high-water mark (the frame is queued anyway: wait for `drain`), or
   * drops the frame and returns false once the connection is closing.
   */
  send(frame: Uint8Array): boolean {
    if (this.#state !== TcpReadyState.OPEN) return false;
    return this.#queue.write(frame);
  }

  /** Writes everything queued now, in order (also called before a Disconnect or `end()`). */
  flushWrites(): void {
    this.#queue.flushWrites();
  }

  sendPacket(packet: Packet): boolean {
    return this.send(encodePacket(packet, 4));
  }

  /** Sends Disconnect `{ code, reason }`, then ends the socket. No-op once closing. */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.#state !== TcpReadyState.OPEN) return;
    this.#startClosing(code, reason, true);
  }

  /** Destroys the socket at once, without a Disconnect; queued frames are dropped. */
  terminate(): void {
    if (this.#state === TcpReadyState.CLOSED) return;
    if (this.#state === TcpReadyState.OPEN) this.#state = TcpReadyState.CLOSING;
    this.socket.destroy();
  }

  #onFrame(packet: Buffer): void {
    if (this.#peerClosed || this.#state === TcpReadyState.CLOSED) return;
    if (peekPacketType(packet) === PacketType.DISCONNECT) {
      this.#peerClosed = true;
      // While we are closing already, our own Disconnect went first and its code stands.
      if (this.#state === TcpReadyState.OPEN) {
        const { code, reason } = readDisconnect(packet);
        this.#startClosing(code, reason, false);
      }
      return;
    }
    this.emit('frame', packet);
  }

  #onProtocolError(err: StelarError): void {
    // Only if someone listens: an unheard `error` event would throw out of the socket's data handler.
    if (this.listenerCount('error') > 0) this.emit('error', err);
    if (this.#state === TcpReadyState.OPEN) this.#startClosing(err.closeCode || CloseCode.PROTOCOL_ERROR, err.message, true);
  }

  #startClosing(code: number, reason: string, sendDisconnect: boolean): void {
    this.#state = TcpReadyState.CLOSING;
    this.#closeCode = code;
    this.#closeReason = reason;
    const socket = this.socket;
    if (socket.destroyed) return;
    if (sendDisconnect && socket.writable) {
      this.#queue.enqueue(encodePacket({ type: PacketType.DISCONNECT, event: '', data: { code, reason } }, 4));
    }
    // Everything sent before (and the Disconnect) goes out now, before the end.
    this.flushWrites();
    // The peer's Disconnect (or FIN) must be read even if it never read our backlog.
    this.#queue.stopPausing();
    if (!socket.writableEnded) socket.end();
    // A peer that never closes its side must not hold the socket forever.
    this.#closeTimer = setTimeout(() => socket.destroy(), this.#closeTimeout);
    this.#closeTimer.unref();
  }

  #finish(): void {
    if (this.#state === TcpReadyState.CLOSED) return;
    this.#state = TcpReadyState.CLOSED;
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#queue.clear();
    const code = this.#closeCode ?? CloseCode.ABNORMAL;
    this.emit('close', code, this.#closeCode === undefined ? '' : this.#closeReason);
  }
}
