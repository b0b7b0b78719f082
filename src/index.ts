// Public entry point. Thin on purpose: it re-exports, it does not implement.
import { StelarServer } from './server/index.js';

export * from './protocol/index.js';
export * from './server/index.js';
export { Logger, createLogger, type LoggerLike, type LogLevel, type LoggerOption } from './logger.js';

// ---- client ------------------------------------------------------------------------------
export { StelarClient, ClientDiagnosticsChannel } from './client/index.js';
export type {
  ClientConnectionCloseMessage,
  ClientConnectionOpenMessage,
  ClientDiagnosticsChannelName,
  ClientDiagnosticsMessages,
  ClientRequestEndMessage,
  ClientRequestStartMessage,
  AckCallback,
  AckInfo,
  ClientError,
  ClientHooks,
  ClientReservedEvents,
  ClientState,
  ConnectCallback,
  ConnectInfo as ClientConnectInfo,
  DisconnectInfo as ClientDisconnectEvent,
  EmitOptions,
  ErrorContext as ClientErrorContext,
  RequestOptions,
  RequestHandler,
  ServerRequestInfo,
  StelarClientOptions,
} from './client/index.js';
// -----------------------------------------------------------------------------------------

export default StelarServer;
