// The server side of stelar-time-real.
export { StelarServer, type DisconnectInfo } from './stelar-server.js';
export { StelarContext } from './context.js';
export type { Middleware, NextFunction } from './middleware.js';
export { TokenBucketRateLimiter } from '../contracts/index.js';
export { IPConnectionTracker } from './ip-tracker.js';
export { DEFAULTS as SERVER_DEFAULTS } from './options.js';
export type { RequestInfo } from './session.js';
export type * from './types.js';
export { MemoryAdapter } from '../adapter/memory.js';
export type {
  Adapter,
  AdapterClient,
  AdapterHost,
  AdapterMetrics,
  BroadcastTarget,
  ClientAnswer,
  ClientRequest,
  ClusterAnswerInfo,
  ClusterList,
  EncodedMessage,
  PresencePart,
  PresenceQuery,
} from '../contracts/index.js';
export { DiagnosticsChannel } from './diagnostics.js';
export type {
  AckEndMessage,
  AckStartMessage,
  BroadcastMessage,
  ConnectionCloseMessage,
  ConnectionOpenMessage,
  DiagnosticsChannelName,
  DiagnosticsClientFields,
  DiagnosticsMessages,
  DiagnosticsPacketType,
  MessageInMessage,
  MessageOutMessage,
  RateLimitMessage,
  SlowConsumerMessage,
} from './diagnostics.js';
