/**
 * The client's option types, as users write them (with their docs). The declaration of each
 * option (default, checks, runtime rule) is in `option-table.ts`; `options.ts` derives the rest.
 */
import type { LoggerOption } from '../logger.js';
import type { StelarError } from '../protocol/index.js';
import type { CustomReconnectDelay } from './backoff.js';
import type { ClientMode } from './url.js';

export type ClientState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting';

/** Where an error reported to `onError` came from. */
export type ErrorContext =
  | 'transport' // the socket / WebSocket failed or could not open
  | 'protocol' // the server sent bytes we cannot decode
  | 'server' // an Error packet from the server
  | 'connect' // the session handshake failed (timeout, auth callback)
  | 'heartbeat' // the server went silent
  | 'emit' // a message could not be sent (too large, cancelled request...)
  | 'queue' // the offline queue dropped its oldest message
  | 'ack' // a request failed or timed out
  | 'handler' // one of the application's listeners threw
  | 'hook'; // one of the application's hooks threw

export interface MessageInfo {
  event: string;
  data: unknown;
  isBinary: boolean;
}

export interface QueuedInfo {
  event: string;
  /** Entries in the queue after this one was added. */
  queueSize: number;
  /** Events of the oldest messages dropped to make room (empty when nothing was dropped). */
  dropped: string[];
}

export interface ClientHooks {
  /** Before a message is sent or queued. Return `false` to cancel it. */
  onBeforeEmit?: (info: MessageInfo) => boolean | void | undefined;
  /** Every event message (JSON or binary) received from the server. */
  onMessage?: (info: MessageInfo) => void;
  onStateChange?: (info: { from: ClientState; to: ClientState }) => void;
  /** Return a number (ms) to replace the computed reconnection delay. */
  onReconnectDelay?: (info: { attempt: number; defaultDelay: number }) => number | void | undefined;
  onMessageQueued?: (info: QueuedInfo) => void;
  /** After a (re)connection sent the queued messages. */
  onQueueDrained?: (info: { count: number }) => void;
  onError?: (info: { error: Error | StelarError; context: ErrorContext }) => void;
}

export interface ClientTlsOptions {
  /** Trusted CA certificate(s) in PEM, e.g. a self-signed server certificate (Node). */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  /** SNI / certificate name, when it differs from the host (Node). */
  servername?: string;
}

/**
 * Value sent as `auth` in the Connect packet; a function is called on every (re)connection,
 * and again when the server asks for fresh credentials on the open connection.
 */
export type AuthOption = unknown | (() => unknown | Promise<unknown>);

/**
 * The client's options. Each one is declared in `option-table.ts` (default, checks, runtime,
 * copy); this interface carries their documentation, and a compile-time check there fails
 * when the two list different options.
 */
export interface StelarClientOptions {
  /** Reconnect after an unexpected close. Default true. */
  reconnection?: boolean;
  /** Attempts before giving up (`reconnect_failed`). Default 10; Infinity = forever. */
  reconnectionAttempts?: number;
  /** Base of the exponential backoff (ms). Default 1000. */
  reconnectionDelay?: number;
  /** Cap of the backoff (ms). Default 30000. */
  maxReconnectionDelay?: number;
  /** Ping interval (ms). When not set, the server's value from its Connect packet is used. Default 30000. */
  heartbeatInterval?: number;
  /** 'ws' (default) or 'tcp' (Node only). */
  mode?: ClientMode;
  /** Largest packet this client sends (bytes). Default 10 MiB; the smaller server limit from Connect applies too. */
  maxPayloadSize?: number;
  /** Largest frame / message accepted from the server (bytes). Default 10 MiB. */
  maxFrameSize?: number;
  /** How long `request()` and `emit(..., { ack })` wait for the answer (ms). Default 5000. */
  ackTimeout?: number;
  /** Messages kept while offline; the oldest is dropped when full. Default 100; 0 = no queue. */
  messageQueueSize?: number;
  /** Time allowed from the start of an attempt to the server's Connect answer (ms). Default 10000. */
  connectTimeout?: number;
  /** TLS for wss:// or TCP; an object also carries `ca` / `servername`. Default false. */
  tls?: boolean | ClientTlsOptions;
  /** Check the server certificate (Node). Default true. */
  rejectUnauthorized?: boolean;
  /**
   * Offer permessage-deflate (RFC 7692) on WebSocket (Node; browsers always offer it). The
   * server decides: a StelarServer compresses only with its own `perMessageDeflate` on. The
   * client compresses messages of 1 KiB and more, each on its own. Default true; applies from
   * the next connection attempt.
   */
  perMessageDeflate?: boolean;
  /** Extra headers for the WebSocket handshake (Node only; browsers do not allow them). */
  headers?: Record<string, string>;
  /** Sent to the server in the Connect packet (`ctx.auth` / middleware). */
  auth?: AuthOption;
  /** Level name, a logger object, or false. Default 'warn'. */
  logger?: LoggerOption;
  hooks?: ClientHooks;
  /** Replaces the default backoff: `(attempt, baseDelay, maxDelay) => ms`. */
  customReconnectDelay?: CustomReconnectDelay;
  /**
   * Connection-state recovery (the server needs `recovery` on too): after a drop, the client
   * asks to resume its session; when the server agrees it keeps its id, rooms and metadata and
   * receives the messages it missed (`connect` says `{ recovered: true }`), otherwise it gets
   * a new session and a `recovery_failed` event. Default false.
   */
  recovery?: boolean;
}
