/**
 * The browser build of StelarClient (dist/browser/stelar-client.mjs, and the global `Stelar`
 * in stelar-client.global.js). Nothing here may import Node modules.
 * Received binary payloads are Uint8Arrays with their own ArrayBuffer.
 */
import { browserPlatform } from './browser-transport.js';
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
   * `urlOrPort`: 3000, 'host:port', 'ws://…', 'wss://…', or a path such as '/socket' on this page's
   * host; or a list of them, the servers of one service, tried in turn (failover).
   */
  constructor(urlOrPort: UrlList, options?: StelarClientOptions) {
    super(urlOrPort, options, browserPlatform);
  }
}

export { CLIENT_DEFAULTS } from './options.js';
export { CloseCode, ErrorCode, StelarError, isStelarError, reconnectAdvice } from '../protocol/index.js';
export type * from './types.js';
