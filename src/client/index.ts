/**
 * `stelar-time-real/client` in Node: StelarClient over our WebSocket client or the TCP client.
 * Received binary payloads are Buffers.
 */
import { nodePlatform } from './node-transport.js';
import { type DefaultEventMap, type EventMap, StelarClientCore } from './stelar-client.js';
import type { PresenceData } from '../protocol/index.js';
import type { StelarClientOptions } from './options.js';
import type { UrlList } from './url.js';

export class StelarClient<
  ServerEvents extends EventMap = DefaultEventMap,
  ClientEvents extends EventMap = DefaultEventMap,
  Presence extends object = PresenceData,
> extends StelarClientCore<ServerEvents, ClientEvents, Presence> {
  /**
   * `urlOrPort`: 3000, 'host:port', 'ws://…', 'wss://…' (or 'host:port' with `mode: 'tcp'`); or a
   * list of them, the servers of one service, tried in turn (failover).
   */
  constructor(urlOrPort: UrlList, options?: StelarClientOptions) {
    super(urlOrPort, options, nodePlatform);
  }
}

export { StelarClientCore } from './stelar-client.js';
export { CLIENT_DEFAULTS } from './options.js';
export { resolveTarget } from './url.js';
export { ClientDiagnosticsChannel } from './diagnostics.js';
export type {
  ClientConnectionCloseMessage,
  ClientConnectionOpenMessage,
  ClientDiagnosticsChannelName,
  ClientDiagnosticsMessages,
  ClientRequestEndMessage,
  ClientRequestStartMessage,
} from './diagnostics.js';
export { CloseCode, ErrorCode, StelarError, isStelarError, reconnectAdvice } from '../protocol/index.js';
export type * from './types.js';
