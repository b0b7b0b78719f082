// `stelar-time-real/redis`: scale-out on Redis. Bring your own client (node-redis v4+ or
// ioredis); nothing here imports either, the core keeps zero runtime dependencies.
export { RedisAdapter, type RedisAdapterOptions, type RedisAdapterStats } from './redis-adapter.js';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './rate-limiter.js';
export { RedisRecoveryStore } from './redis-recovery.js';
export { driverFor, type RedisDriver } from './driver.js';
export type { ClusterStats, NodeStats } from '../../contracts/index.js';
export { RecoveryFailure, type RecoveryOptions, type RecoveryStore } from '../../contracts/index.js';
export { MemoryRecoveryStore } from '../memory-recovery.js';
