/**
 * The seam between the client core and a platform. The core speaks packets and session
 * rules; a transport only moves encoded packets over one connection. Node has two (our
 * WebSocket client and the TCP client), the browser has its own WebSocket.
 *
 * Rules every transport keeps, so the core needs no per-platform cases:
 * - It starts connecting when created and never calls a handler synchronously from its
 *   constructor (the core has not stored it yet).
 * - `onClose` fires exactly once, also when the connection never opened (after `onError`).
 * - `onData` gets one whole packet without the TCP length prefix.
 */
import type { LoggerLike } from '../logger.js';
import type { ClientChannels } from './diagnostics.js';
import { encodePacket, type Packet } from '../protocol/index.js';
import type { ClientTlsOptions } from './options.js';
import type { ClientMode, ClientTarget } from './url.js';

export interface TransportHandlers {
  /** `connectSent`: the Connect from `TransportOptions.connect` went with the opening and the server took it. */
  onOpen(connectSent?: boolean): void;
  onData(packet: Uint8Array): void;
  /** The backlog fell below the high-water mark after `sendPacketBytes` answered false. */
  onDrain(): void;
  onClose(code: number, reason: string): void;
  onError(error: Error): void;
}

/**
 * How a transport wants the packets it is handed laid out: the core encodes them with
 * `encodePacket(p, prefix, room)`, so a transport frames a packet in the allocation that holds
 * it. `prefix` 4: the TCP length prefix (written by the encoder). `room`: free bytes in front,
 * where the transport writes its own header in place (the Node WebSocket client's masked frame
 * header); 0 when it needs none.
 */
export interface FrameLayout {
  readonly prefix: 0 | 4;
  readonly room: number;
}

export const PLAIN_LAYOUT: FrameLayout = { prefix: 0, room: 0 };

export function sameLayout(a: FrameLayout, b: FrameLayout): boolean {
  return a === b || (a.prefix === b.prefix && a.room === b.room);
}

/** `packet` encoded as a transport with this layout takes it (`sendPacketBytes`). */
export function encodeLaidOut(packet: Packet, layout: FrameLayout): Uint8Array {
  return encodePacket(packet, layout.prefix, layout.room);
}

export interface ClientTransport {
  /** What `sendPacketBytes` takes: the platform's `layout(mode)` for this transport's mode. */
  readonly layout: FrameLayout;
  /**
   * Writes one packet encoded with `encodePacket(p, layout.prefix, layout.room)` (the transport
   * may write into the room in front of it, and mask it in place: hand it over once); false =
   * buffered above the high-water mark (still sent).
   */
  sendPacketBytes(bytes: Uint8Array): boolean;
  /** Bytes handed over and not yet written to the network. */
  readonly bufferedAmount: number;
  /** Orderly close with a code (WebSocket close frame / TCP Disconnect packet). */
  close(code?: number, reason?: string): void;
  /** Drops the connection now (dead peer). `onClose` still follows. */
  terminate(): void;
}

export interface TransportOptions {
  target: ClientTarget;
  maxFrameSize: number;
  connectTimeout: number;
  tls: boolean | ClientTlsOptions;
  rejectUnauthorized: boolean;
  /** Offer permessage-deflate (Node WebSocket; the browser's WebSocket decides by itself). */
  perMessageDeflate: boolean;
  headers: Record<string, string>;
  logger: LoggerLike;
  /**
   * The client's Connect packet (unframed), for a transport that can carry it in its opening
   * (Node WebSocket: the upgrade request, docs/PROTOCOL.md "Connect in the upgrade"), saving
   * a round trip. Absent when it cannot be built up front (an auth callback).
   */
  connect?: () => Uint8Array;
}

/** What the core needs from the platform it runs on. */
export interface ClientPlatform {
  readonly name: 'node' | 'browser';
  readonly modes: readonly ClientMode[];
  createTransport(options: TransportOptions, handlers: TransportHandlers): ClientTransport;
  /** The layout a transport of `mode` takes packets in (known before it exists: the offline queue encodes with it). */
  layout(mode: ClientMode): FrameLayout;
  /** `sendFile` / `sendImage` input to bytes (Node: Buffer, path, Blob; browser: Blob/File). */
  readFile(file: unknown): Promise<Uint8Array>;
  /** A received binary payload as handed to the application (Buffer in Node, own-buffer Uint8Array in browsers). */
  binary(view: Uint8Array): Uint8Array;
  /** Where the client publishes diagnostics (Node: diagnostics_channel); absent in browsers. */
  readonly channels?: ClientChannels;
}

/** Bytes-like input accepted everywhere without going through `readFile`. */
export function bytesOf(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}
