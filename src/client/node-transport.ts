/**
 * The Node platform: our own WebSocket client (src/websocket) for ws:// and wss://, the TCP
 * client (src/tcp) for mode 'tcp', fs for `sendFile(path)`, Buffers for received binary.
 */
import { readFile } from 'node:fs/promises';
import { CloseCode, CONNECT_HEADER, ErrorCode, StelarError } from '../protocol/index.js';
import { connectTcp, type TcpConnection } from '../tcp/index.js';
import { connectWebSocket, MASKED_HEADER_ROOM, maskFrameInPlace, Opcode, type WebSocketConnection } from '../websocket/index.js';
import { nodeChannels } from './node-diagnostics.js';
import type { ClientMode } from './url.js';
import { bytesOf, type ClientPlatform, type ClientTransport, type FrameLayout, type TransportHandlers, type TransportOptions } from './transport.js';

type Connection = WebSocketConnection | TcpConnection;

/**
 * One allocation per frame: TCP packets come with their length prefix, WebSocket packets with
 * room for the masked frame header, which `maskFrameInPlace` writes before masking the packet.
 */
const TCP_LAYOUT: FrameLayout = { prefix: 4, room: 0 };
const WS_LAYOUT: FrameLayout = { prefix: 0, room: MASKED_HEADER_ROOM };
const layoutOf = (mode: ClientMode): FrameLayout => (mode === 'tcp' ? TCP_LAYOUT : WS_LAYOUT);
type Ca = string | Buffer | Array<string | Buffer>;

function caOf(value: unknown): Ca | undefined {
  if (value === undefined) return undefined;
  const one = (v: unknown): string | Buffer => (typeof v === 'string' ? v : Buffer.from(bytesOf(v) ?? []));
  return Array.isArray(value) ? value.map(one) : one(value);
}

/**
 * The largest Connect carried in the upgrade request (raw bytes, before base64): well under
 * any server's request-head limit. A bigger one (a large auth value) goes as the first frame.
 */
const MAX_CONNECT_IN_UPGRADE = 4096;

/**
 * The close code a failed opening is reported with: a server that refused the Origin will
 * refuse it again (1008: no retry), one shutting down is backed off from (1001); anything
 * else is an abnormal close, retried as usual.
 */
function refusalCloseCode(err: unknown): number {
  const code = err instanceof StelarError ? err.code : undefined;
  if (code === ErrorCode.ORIGIN_NOT_ALLOWED) return CloseCode.POLICY_VIOLATION;
  if (code === ErrorCode.SHUTTING_DOWN) return CloseCode.GOING_AWAY;
  return CloseCode.ABNORMAL;
}

class NodeTransport implements ClientTransport {
  readonly layout: FrameLayout;
  readonly #tcp: boolean;
  #handlers: TransportHandlers;
  #conn: Connection | null = null;
  /** close()/terminate() came before the connection existed. */
  #abandoned = false;
  #finished = false;
  /** Close code of a protocol error we failed the connection for (the peer never answers it). */
  #failedWith = 0;
  /** The server's 101 said it took the Connect we put in the upgrade request. */
  #connectSent = false;

  constructor(options: TransportOptions, handlers: TransportHandlers) {
    this.#handlers = handlers;
    const { target } = options;
    this.layout = layoutOf(target.mode);
    this.#tcp = target.mode === 'tcp';
    const tlsObject = typeof options.tls === 'object' ? options.tls : {};
    const ca = caOf(tlsObject.ca);
    const servername = tlsObject.servername;
    const opening: Promise<Connection> =
      target.mode === 'tcp'
        ? connectTcp({
            host: target.host,
            port: target.port,
            tls: target.secure,
            rejectUnauthorized: options.rejectUnauthorized,
            ca,
            servername,
            maxFrameSize: options.maxFrameSize,
            timeout: options.connectTimeout,
          })
        : connectWebSocket(`${target.secure ? 'wss' : 'ws'}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}${target.path}`, {
            headers: this.#upgradeHeaders(options),
            onResponse: (headers) => {
              this.#connectSent = this.#connectSent && headers[CONNECT_HEADER] === '1';
            },
            maxPayload: options.maxFrameSize,
            perMessageDeflate: options.perMessageDeflate,
            handshakeTimeout: options.connectTimeout,
            rejectUnauthorized: options.rejectUnauthorized,
            ca,
            servername,
          });
    opening.then(
      (conn) => this.#attach(conn),
      (err: unknown) => {
        if (this.#finished) return;
        this.#handlers.onError(err instanceof Error ? err : new StelarError(ErrorCode.CONNECTION_CLOSED, String(err)));
        this.#finish(refusalCloseCode(err), err instanceof Error ? err.message : '');
      },
    );
  }

  /** The user's headers, plus the Connect when it fits (the 101 then says whether the server took it). */
  #upgradeHeaders(options: TransportOptions): Record<string, string> {
    let packet: Uint8Array | undefined;
    try {
      packet = options.connect?.();
    } catch {
      // Cannot be encoded: the first frame fails the same way, where it always did.
    }
    if (packet === undefined || packet.length > MAX_CONNECT_IN_UPGRADE) return options.headers;
    this.#connectSent = true;
    return { ...options.headers, [CONNECT_HEADER]: Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength).toString('base64') };
  }

  sendPacketBytes(bytes: Uint8Array): boolean {
    const conn = this.#conn;
    if (!conn) return false;
    if (this.#tcp) return (conn as TcpConnection).send(bytes);
    const ws = conn as WebSocketConnection;
    // permessage-deflate: the connection frames the packet (compressed or not) itself.
    if (ws.perMessageDeflate) return ws.send(bytes.subarray(MASKED_HEADER_ROOM), { binary: true });
    return ws.sendFrame(maskFrameInPlace(Opcode.BINARY, bytes, MASKED_HEADER_ROOM));
  }

  get bufferedAmount(): number {
    return this.#conn?.bufferedAmount ?? 0;
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.#conn) this.#conn.close(code, reason);
    else this.#abandon();
  }

  terminate(): void {
    if (this.#conn) this.#conn.terminate();
    else this.#abandon();
  }

  /** Closed before open: report the close now, drop the connection whenever it shows up. */
  #abandon(): void {
    if (this.#abandoned) return;
    this.#abandoned = true;
    queueMicrotask(() => this.#finish(CloseCode.ABNORMAL, ''));
  }

  #attach(conn: Connection): void {
    if (this.#abandoned || this.#finished) {
      conn.terminate();
      return;
    }
    this.#conn = conn;
    const h = this.#handlers;
    if (this.#tcp) {
      conn.on('frame', (packet: Buffer) => h.onData(packet));
    } else {
      conn.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) h.onData(data);
        else h.onError(new StelarError(ErrorCode.PACKET_UNEXPECTED, 'text WebSocket message: stelar packets travel as binary messages'));
      });
    }
    // Only owed drains are emitted (a send answered false first).
    conn.on('drain', () => h.onDrain());
    conn.on('error', (err: Error) => {
      if (!this.#failedWith && err instanceof StelarError && err.closeCode) this.#failedWith = err.closeCode;
      h.onError(err);
    });
    // After failing the connection the receiver stops reading, so no close frame is seen (1006):
    // report the code we closed with, or a server breaking the protocol would be retried at once.
    conn.once('close', (code: number, reason: string) => this.#finish(code === CloseCode.ABNORMAL && this.#failedWith ? this.#failedWith : code, reason));
    h.onOpen(this.#connectSent);
  }

  #finish(code: number, reason: string): void {
    if (this.#finished) return;
    this.#finished = true;
    // Our listeners go with the connection; nothing of this attempt stays attached.
    this.#conn?.removeAllListeners();
    this.#conn = null;
    this.#handlers.onClose(code, reason);
  }
}

async function readNodeFile(file: unknown): Promise<Uint8Array> {
  const bytes = bytesOf(file);
  if (bytes) return bytes;
  if (typeof file === 'string' || file instanceof URL) return readFile(file);
  if (typeof Blob !== 'undefined' && file instanceof Blob) return Buffer.from(await file.arrayBuffer());
  throw new TypeError('sendFile needs a Buffer, Uint8Array, ArrayBuffer, Blob, or a file path');
}

function asBuffer(view: Uint8Array): Uint8Array {
  return Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

export const nodePlatform: ClientPlatform = {
  name: 'node',
  modes: ['ws', 'tcp'],
  createTransport: (options, handlers) => new NodeTransport(options, handlers),
  layout: layoutOf,
  readFile: readNodeFile,
  binary: asBuffer,
  channels: nodeChannels,
};
