// `stelar-time-real/nats`: scale-out on NATS. Bring your own connection (`nats` v2 or
// `@nats-io/transport-node`); nothing here imports either, the core keeps zero runtime dependencies.
export { NatsAdapter, type NatsAdapterOptions, type NatsAdapterStats } from './nats-adapter.js';
export { natsDriverFor, type NatsDriver } from './driver.js';
export { ROOM_BYTES, roomToken } from './subjects.js';
export type { ClusterStats, NodeStats } from '../../contracts/index.js';
