/**
 * The client's diagnostics channels: the Node StelarClient publishes its sessions and its
 * requests on `node:diagnostics_channel`, under `stelar:client:*` (the server's are `stelar:*`,
 * src/server/diagnostics.ts). This file holds the names, the message shapes and the tracing
 * of a request; it imports nothing from Node, because the core it serves also runs in
 * browsers: the Node platform supplies the channels (node-diagnostics.ts), the browser
 * platform none, and then nothing here runs.
 *
 * Same rules as the server's: a call site reads `hasSubscribers` before it builds anything,
 * messages are plain data (plus the client, to tell instances apart), and a subscriber that
 * throws does not stop the client (Node reports it as an uncaught exception a tick later).
 */
import type { ClientMode } from './url.js';

export const ClientDiagnosticsChannel = {
  /** The session is up: the server accepted the client (the 'connect' event). */
  CONNECTION_OPEN: 'stelar:client:connection:open',
  /** The session ended: the connection closed, or `disconnect()` (the 'disconnect' event). */
  CONNECTION_CLOSE: 'stelar:client:connection:close',
  /** `request()` (or `emit` with an ack) was called: its ack id is allocated, it goes out or is queued. */
  REQUEST_START: 'stelar:client:request:start',
  /** The request settled: answered, refused, timed out, dropped or cancelled (the same object as its start). */
  REQUEST_END: 'stelar:client:request:end',
} as const;
export type ClientDiagnosticsChannelName = (typeof ClientDiagnosticsChannel)[keyof typeof ClientDiagnosticsChannel];

/** What the core needs of a channel (a `node:diagnostics_channel` Channel is one). */
export interface ChannelLike {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
}

/** The channels a platform publishes on; absent where there is no diagnostics_channel (browsers). */
export interface ClientChannels {
  readonly connectionOpen: ChannelLike;
  readonly connectionClose: ChannelLike;
  readonly requestStart: ChannelLike;
  readonly requestEnd: ChannelLike;
}

export interface ClientConnectionOpenMessage {
  /** The StelarClient that published it (compare with `===`). */
  client: object;
  /** The normalised address (`getUrl()`). */
  url: string;
  mode: ClientMode;
  clientId: string;
  /** The server resumed the earlier session (connection-state recovery). */
  recovered: boolean;
}
export interface ClientConnectionCloseMessage {
  client: object;
  url: string;
  mode: ClientMode;
  clientId: string | null;
  code: number;
  reason: string;
}
export interface ClientRequestStartMessage {
  client: object;
  event: string;
  ackName: string;
  ackId: number;
}
/** request:end receives the very object request:start did, with these fields filled in. */
export interface ClientRequestEndMessage extends ClientRequestStartMessage {
  /** Answered with `ok: true`. */
  ok: boolean;
  /** For `ok: false`: the error the request was rejected with (the server's refusal, a timeout, a closed connection...). */
  error?: { code: string; message: string };
  /** Milliseconds from request:start to settlement (performance.now() based). */
  duration: number;
}

/** Channel name -> the message it publishes. */
export interface ClientDiagnosticsMessages {
  'stelar:client:connection:open': ClientConnectionOpenMessage;
  'stelar:client:connection:close': ClientConnectionCloseMessage;
  'stelar:client:request:start': ClientRequestStartMessage;
  'stelar:client:request:end': ClientRequestEndMessage;
}

/** True when a request must be traced on `channels`. */
export function tracingRequests(channels: ClientChannels | undefined): channels is ClientChannels {
  return channels !== undefined && (channels.requestStart.hasSubscribers || channels.requestEnd.hasSubscribers);
}

/**
 * Publishes request:start and returns the request's settle functions wrapped to publish
 * request:end on the same object first. Only called while someone listens.
 */
export function traceRequest<E extends { code?: unknown; message?: unknown }>(
  channels: ClientChannels,
  start: ClientRequestStartMessage,
  resolve: (value: unknown) => void,
  reject: (error: E) => void,
): [(value: unknown) => void, (error: E) => void] {
  const began = performance.now();
  const end = (ok: boolean, error: E | undefined): void => {
    if (!channels.requestEnd.hasSubscribers) return;
    const message = start as ClientRequestEndMessage;
    message.ok = ok;
    if (error) message.error = { code: String(error.code ?? ''), message: String(error.message ?? '') };
    message.duration = performance.now() - began;
    channels.requestEnd.publish(message);
  };
  if (channels.requestStart.hasSubscribers) channels.requestStart.publish(start);
  return [
    (value) => {
      end(true, undefined);
      resolve(value);
    },
    (error) => {
      end(false, error);
      reject(error);
    },
  ];
}
