// Public surface of services/state: event logs (embedded file now, JetStream later), batching,
// shard ownership and epochs (NATS KV), pool leases (Redis Functions).
export { type BatcherOptions, EventBatcher } from './batcher.js';
export { EmbeddedEventLog, type EmbeddedLogOpenReport } from './embedded-log.js';
export { StateError, type StateErrorCode } from './errors.js';
export type { EventBatch, EventLog } from './event-log.js';
export { connectNats, type NatsStateOptions, parseNatsUrls } from './nats-connection.js';
export { OWNERSHIP_BUCKET, type OwnershipRecord, type ShardLease, ShardOwnership } from './ownership.js';
export {
  connectRedis,
  type HeldBlock,
  heldBlocksOf,
  type PoolGeometry,
  poolGeometryOf,
  RedisPoolAllocator,
  type RedisPoolAllocatorOptions,
  type RedisPoolCounters,
  RedisPoolStore,
  type RedisStateOptions,
  redisReady,
  subscriberKey,
} from './redis-pool.js';
export { POOL_LIBRARY_NAME, PoolRefusal } from './redis-pool-functions.js';
