/**
 * The browser platform: the page's own `WebSocket` (binaryType 'arraybuffer'), Blob/File for
 * `sendFile`. No Node imports here or in anything it imports: esbuild bundles it for browsers.
 * Received binary is a Uint8Array with its own ArrayBuffer (offset 0, exact length), so
 * `data.buffer` is the payload and nothing else.
 */
import { CloseCode, ErrorCode, StelarError } from '../protocol/index.js';
import { bytesOf, type ClientPlatform, type ClientTransport, PLAIN_LAYOUT, type TransportHandlers, type TransportOptions } from './transport.js';

/** Above this many unsent bytes, sendPacketBytes reports backpressure (it still sends). */
const HIGH_WATER_MARK = 1024 * 1024;
/**
 * The browser's WebSocket has no drain event: after a send answered false, bufferedAmount is
 * read this often (ms) until it is below the mark. One timer per client, only while owed.
 */
const DRAIN_POLL_MS = 16;

/** Codes a script may put in a close frame (others throw InvalidAccessError). */
function allowedCloseCode(code: number): number {
  return code === CloseCode.NORMAL || (code >= 3000 && code <= 4999) ? code : CloseCode.NORMAL;
}

class BrowserTransport implements ClientTransport {
  readonly layout = PLAIN_LAYOUT;
  #ws: WebSocket | null = null;
  #handlers: TransportHandlers;
  #finished = false;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: TransportOptions, handlers: TransportHandlers) {
    this.#handlers = handlers;
    const { target } = options;
    if (Object.keys(options.headers).length > 0) options.logger.warn('headers are ignored in browsers (the WebSocket API cannot set them)');
    const url = `${target.secure ? 'wss' : 'ws'}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}${target.path}`;
    const Ctor = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
    try {
      if (!Ctor) throw new StelarError(ErrorCode.CONNECTION_CLOSED, 'this environment has no WebSocket');
      const ws = new Ctor(url);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => handlers.onOpen();
      ws.onmessage = (ev: MessageEvent) => {
        if (ev.data instanceof ArrayBuffer) handlers.onData(new Uint8Array(ev.data));
        else handlers.onError(new StelarError(ErrorCode.PACKET_UNEXPECTED, 'text WebSocket message: stelar packets travel as binary messages'));
      };
      // The browser tells nothing more (on purpose); the close event follows with the code.
      ws.onerror = () => handlers.onError(new StelarError(ErrorCode.CONNECTION_CLOSED, `WebSocket error on ${url}`));
      ws.onclose = (ev: CloseEvent) => this.#finish(ev.code, ev.reason);
      this.#ws = ws;
    } catch (err) {
      queueMicrotask(() => {
        handlers.onError(err instanceof Error ? err : new StelarError(ErrorCode.CONNECTION_CLOSED, String(err)));
        this.#finish(CloseCode.ABNORMAL, '');
      });
    }
  }

  sendPacketBytes(bytes: Uint8Array): boolean {
    const ws = this.#ws;
    if (ws?.readyState !== 1) return false;
    ws.send(bytes);
    if (ws.bufferedAmount < HIGH_WATER_MARK) return true;
    if (this.#drainTimer === undefined) this.#drainTimer = setTimeout(this.#pollDrain, DRAIN_POLL_MS);
    return false;
  }

  get bufferedAmount(): number {
    return this.#ws?.bufferedAmount ?? 0;
  }

  #pollDrain = (): void => {
    this.#drainTimer = undefined;
    const ws = this.#ws;
    if (ws?.readyState !== 1) return;
    if (ws.bufferedAmount >= HIGH_WATER_MARK) this.#drainTimer = setTimeout(this.#pollDrain, DRAIN_POLL_MS);
    else this.#handlers.onDrain();
  };

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    try {
      this.#ws?.close(allowedCloseCode(code), reason.slice(0, 120));
    } catch {
      this.#ws?.close();
    }
  }

  /** Browsers cannot drop a socket: start the close and stop listening to it right away. */
  terminate(): void {
    this.close(CloseCode.NORMAL, 'terminated');
    queueMicrotask(() => this.#finish(CloseCode.ABNORMAL, ''));
  }

  #finish(code: number, reason: string): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#drainTimer !== undefined) clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    const ws = this.#ws;
    if (ws) ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    this.#ws = null;
    this.#handlers.onClose(code, reason);
  }
}

async function readBrowserFile(file: unknown): Promise<Uint8Array> {
  const bytes = bytesOf(file);
  if (bytes) return bytes;
  if (typeof Blob !== 'undefined' && file instanceof Blob) return new Uint8Array(await file.arrayBuffer());
  throw new TypeError('sendFile needs a Blob, File, ArrayBuffer or Uint8Array in the browser');
}

export const browserPlatform: ClientPlatform = {
  name: 'browser',
  modes: ['ws'],
  createTransport: (options, handlers) => new BrowserTransport(options, handlers),
  layout: () => PLAIN_LAYOUT,
  readFile: readBrowserFile,
  binary: (view) => view.slice(),
};
