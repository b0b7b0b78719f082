// The contracts the server and its pluggable parts (adapters, recovery stores, rate limiters)
// share. They live below both, so neither has to import the other.
export type { Adapter, AdapterClient, AdapterHost, AdapterMetrics, BroadcastTarget, ClientAnswer, ClientRequest, EncodedMessage } from './adapter.js';
export {
  comparePos,
  concerns,
  hashToken,
  parseOffset,
  randomEpoch,
  RECOVERY_DEFAULTS,
  type RecordedEntry,
  type RecordTarget,
  RecoveryFailure,
  type RecoveryOptions,
  type RecoveryStore,
  type RestoreResult,
  resumePoint,
  type SavedSession,
} from './recovery.js';
export { type ByteRateLimitConfig, type IRateLimiter, type RateLimitConfig, reconfigured, TokenBucketRateLimiter } from './rate-limit.js';
export { type ClusterAnswerInfo, type ClusterList, markList } from './cluster-answer.js';
export { type PresencePart, type PresenceQuery, readPresencePart, readPresenceQuery } from './presence.js';
export type { ClientSummary, ClusterStats, NodeStats, StelarStats, TransportProtocol } from './stats.js';
