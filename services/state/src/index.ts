// Public surface of services/state: the asynchronous event-log contract (embedded file log, NATS
// JetStream adapter), batch identity, snapshots, the batcher; shard ownership and epochs (NATS KV);
// pool leases (Redis Functions).
export {
  type BatchEncoder,
  type BatcherOptions,
  type BatcherStatus,
  EventBatcher,
  type ShardReplicationState,
} from './batcher.js';
export {
  ClusterNatStore,
  type ClusterNatStoreOptions,
  type ClusterShardRole,
  type ClusterStoreStatus,
} from './cluster-nat-store.js';
export * from './compliance/index.js';
export {
  DRILL_STEPS_SUBJECT,
  type DrillStep,
  type DrillStepName,
  drillStepNames,
  parseDrillStep,
  publishDrillStep,
} from './drill-steps.js';
export {
  EmbeddedEventLog,
  type EmbeddedLogOpenReport,
  encodeRecord,
  LOG_RECORD_HEADER_BYTES,
} from './embedded-log.js';
export {
  EmbeddedNatStore,
  type EmbeddedNatStoreOptions,
  type EmbeddedStoreStatus,
  type RecoveryReport,
} from './embedded-nat-store.js';
export { isStateError, StateError, type StateErrorCode } from './errors.js';
export {
  type AppendAck,
  type BatchIdentity,
  batchMessageId,
  type EventBatch,
  type EventLog,
  type ShardSnapshot,
  type SnapshotStore,
} from './event-log.js';
export { JetStreamEventLog, type JetStreamLogOptions } from './jetstream-log.js';
export type { ReplicationMetricsSink } from './metrics-hooks.js';
export { type FollowerCounters, type FollowOutcome, NatShardFollower } from './nat-shard-follower.js';
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
export { SnapshotThread } from './snapshot-thread.js';
export { ShardStandby, type StandbyOptions } from './standby.js';
