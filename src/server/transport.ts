/**
 * The one seam between a session and its transport. WebSocket and TCP connections differ
 * in framing and in how they close; above this file they are the same thing: packets in,
 * packets (or shared pre-encoded bytes) out, one close with a code.
 */
import type { Socket } from 'node:net';
import { CloseCode, encodePacket, ErrorCode, type Packet, StelarError, TCP_PREFIX_SIZE } from '../protocol/index.js';
import type { TcpConnection } from '../tcp/index.js';
import type { WebSocketConnection } from '../websocket/index.js';
import type { TransportProtocol } from '../contracts/index.js';
import { ReadyState } from '../net/ready-state.js';
import { type EncodedMessage, encodeFramed } from '../wire/index.js';

/** What a transport reports upward (implemented by Session). */
export interface TransportSink {
  /** One packet's bytes (without framing). */
  onPacket(bytes: Buffer): void;
  /** The peer sent something the protocol does not allow; `err.closeCode` says whether to close. */
  onInvalid(err: StelarError): void;
  /** The transport already closed the connection because the peer broke its framing. */
  onProtocolError(err: StelarError): void;
  /** The transport answered the peer by itself (a WebSocket pong): the bytes count against the cap. */
  onAutoReply(): void;
  /** The backlog fell below the high-water mark after a send answered false. */
  onDrain(): void;
  onClose(code: number, reason: string): void;
}

export interface Transport {
  readonly protocol: TransportProtocol;
  readonly socket: Socket;
  /** Bytes queued for the peer and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** A send answered false (the backlog reached the high-water mark) and `onDrain` has not followed yet. */
  readonly writableNeedDrain: boolean;
  /** true while the connection stopped reading because the peer is not reading what we sent. */
  readonly readsPaused: boolean;
  /** Whether the peer read any of our backlog since the previous call. */
  peerTookSinceLastLook(): boolean;
  /** Bytes held for the unfinished inbound frame (or fragmented message); 0 between frames. */
  readonly inboundPending: number;
  /** Drops the unfinished inbound frame and reads nothing more into it. */
  discardInbound(): void;
  /**
   * Sets the largest frame the peer may send (`maxFrameSize`'s meaning: a WebSocket payload,
   * or a TCP frame with its prefix), lowered further to fit `maxPacketSize` when given. The
   * framing layer refuses a bigger frame from its header, before buffering any of it.
   */
  limitInbound(maxFrameSize: number, maxPacketSize?: number): void;
  readonly isOpen: boolean;
  /** Writes one packet; returns its size in bytes, without the transport's framing (counters and diagnostics). */
  sendPacket(packet: Packet): number;
  sendEncoded(message: EncodedMessage): boolean;
  close(code: number, reason: string): void;
  terminate(): void;
}

/** `::ffff:1.2.3.4` and `1.2.3.4` are the same client: count them as one. */
export function normaliseAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** A WebSocket close reason must fit in 123 bytes of UTF-8. */
function clampReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let out = reason.slice(0, 123);
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

/** The header of an unmasked WebSocket frame (the server's): 2 bytes, or 4 / 10 with a 16 / 64-bit length. */
function serverFrameHeaderSize(frame: Uint8Array): number {
  const len7 = frame[1] & 0x7f;
  return len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
}

/*
 * The connection's listeners are shared functions (called with `this` = the connection) that
 * find the session through a symbol: no closures per client. `on('close')`, not `once`: close
 * fires once, and `once` allocates a wrapper per client.
 */
const kSink = Symbol('stelar.transport.sink');
type WithSink = { [kSink]?: TransportSink };

function onWsMessage(this: WithSink, data: Buffer, isBinary: boolean): void {
  const sink = this[kSink]!;
  if (isBinary) sink.onPacket(data);
  else {
    // One binary message carries one packet; text has no meaning in this protocol.
    sink.onInvalid(new StelarError(ErrorCode.PACKET_UNEXPECTED, 'text messages are not supported, send binary packets', CloseCode.UNSUPPORTED_DATA));
  }
}
function onConnError(this: WithSink, err: StelarError): void {
  this[kSink]!.onProtocolError(err);
}
function onWsPing(this: WithSink): void {
  // The connection has just queued a pong: a peer that pings and never reads must hit the cap.
  this[kSink]!.onAutoReply();
}
function onConnClose(this: WithSink, code: number, reason: string | Buffer): void {
  this[kSink]!.onClose(code, String(reason ?? ''));
}
function onConnDrain(this: WithSink): void {
  this[kSink]!.onDrain();
}
function onTcpFrame(this: WithSink, packet: Buffer): void {
  this[kSink]!.onPacket(packet);
}

/**
 * What both transports share: the connection classes expose the same surface by design
 * (buffered bytes, read pausing, unfinished inbound bytes, readyState, terminate), so only
 * framing and closing differ below.
 */
abstract class ConnectionTransport<C extends WebSocketConnection | TcpConnection> {
  protected readonly conn: C;

  constructor(conn: C, sink: TransportSink) {
    this.conn = conn;
    (conn as WithSink)[kSink] = sink;
    conn.on('error', onConnError);
    conn.on('close', onConnClose);
    conn.on('drain', onConnDrain);
  }

  get socket(): Socket {
    return this.conn.socket as Socket;
  }
  get bufferedAmount(): number {
    return this.conn.bufferedAmount;
  }
  get writableNeedDrain(): boolean {
    return this.conn.writableNeedDrain;
  }
  get readsPaused(): boolean {
    return this.conn.readsPaused;
  }
  peerTookSinceLastLook(): boolean {
    return this.conn.peerTookSinceLastLook();
  }
  get inboundPending(): number {
    return this.conn.inboundPending;
  }
  discardInbound(): void {
    this.conn.discardInbound();
  }
  get isOpen(): boolean {
    return this.conn.readyState === ReadyState.OPEN;
  }
  terminate(): void {
    this.conn.terminate();
  }
}

class WsTransport extends ConnectionTransport<WebSocketConnection> implements Transport {
  /** On the prototype, not a field: one slot less per client. */
  get protocol(): 'ws' {
    return 'ws';
  }

  limitInbound(maxFrameSize: number, maxPacketSize = maxFrameSize): void {
    this.conn.maxPayload = Math.min(maxFrameSize, maxPacketSize);
  }

  constructor(conn: WebSocketConnection, sink: TransportSink) {
    super(conn, sink);
    conn.on('message', onWsMessage);
    conn.on('ping', onWsPing);
  }

  sendPacket(packet: Packet): number {
    const conn = this.conn;
    // permessage-deflate: the connection frames (and maybe compresses) the packet itself.
    if (conn.perMessageDeflate) {
      const bytes = encodePacket(packet);
      conn.send(bytes, { binary: true });
      return bytes.length;
    }
    // Replies, events and errors: packet and frame header built in one Buffer.
    const frame = encodeFramed(packet, false);
    if (frame) {
      conn.sendFrame(frame);
      return frame.length - serverFrameHeaderSize(frame);
    }
    const bytes = encodePacket(packet);
    conn.send(bytes, { binary: true });
    return bytes.length;
  }
  sendEncoded(message: EncodedMessage): boolean {
    const conn = this.conn;
    if (!conn.perMessageDeflate) return conn.sendFrame(message.wsFrame());
    // permessage-deflate: each message's shared compressed frame (or one compressed for this
    // connection); a run of several is compressed message by message, as each was sent.
    const parts = message.parts;
    if (parts === undefined) return conn.sendShared(message);
    let ok = true;
    for (let i = 0; i < parts.length; i++) ok = conn.sendShared(parts[i]!);
    return ok;
  }
  close(code: number, reason: string): void {
    this.conn.close(code, clampReason(reason));
  }
}

class TcpTransport extends ConnectionTransport<TcpConnection> implements Transport {
  /** On the prototype, not a field: one slot less per client. */
  get protocol(): 'tcp' {
    return 'tcp';
  }

  limitInbound(maxFrameSize: number, maxPacketSize = maxFrameSize): void {
    this.conn.maxFrameSize = Math.min(maxFrameSize, maxPacketSize + TCP_PREFIX_SIZE);
  }

  constructor(conn: TcpConnection, sink: TransportSink) {
    super(conn, sink);
    conn.on('frame', onTcpFrame);
  }

  sendPacket(packet: Packet): number {
    const frame = encodeFramed(packet, true) ?? encodePacket(packet, TCP_PREFIX_SIZE);
    this.conn.send(frame);
    return frame.length - TCP_PREFIX_SIZE;
  }
  sendEncoded(message: EncodedMessage): boolean {
    return this.conn.send(message.tcpFrame());
  }
  close(code: number, reason: string): void {
    this.conn.close(code, reason);
  }
}

export function wsTransport(conn: WebSocketConnection, sink: TransportSink): Transport {
  return new WsTransport(conn, sink);
}

export function tcpTransport(conn: TcpConnection, sink: TransportSink): Transport {
  return new TcpTransport(conn, sink);
}
