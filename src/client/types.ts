/** The client's public types, shared by the Node and browser entries. */
export type {
  AckCallback,
  AckInfo,
  AckListener,
  AnyListener,
  ClientError,
  ClientReservedEvents,
  ConnectCallback,
  ConnectInfo,
  DefaultEventMap,
  DisconnectInfo,
  EmitOptions,
  EventHandler,
  EventMap,
  EventNames,
  RequestHandler,
  RequestOptions,
  ServerRequestInfo,
} from './stelar-client.js';
export type {
  AuthOption,
  ClientHooks,
  ClientState,
  ClientTlsOptions,
  ErrorContext,
  MessageInfo,
  QueuedInfo,
  ResolvedClientOptions,
  StelarClientOptions,
} from './options.js';
export type { CustomReconnectDelay } from './backoff.js';
export type { PresenceChange, PresenceData, PresenceMember, PresenceResult } from '../protocol/index.js';
export type { ClientMode, ClientTarget, UrlInput, UrlList } from './url.js';
export type { ClientPlatform, ClientTransport, TransportHandlers, TransportOptions } from './transport.js';
