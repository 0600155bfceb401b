// Public surface of services/state: the asynchronous event-log contract (embedded file log now, the
// NATS JetStream adapter on the same contract), batch identity, snapshots, and the batcher.
export {
  type BatchEncoder,
  type BatcherOptions,
  type BatcherStatus,
  EventBatcher,
  type ShardReplicationState,
} from './batcher.js';
export { EmbeddedEventLog, type EmbeddedLogOpenReport, LOG_RECORD_HEADER_BYTES } from './embedded-log.js';
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
export { type FollowerCounters, type FollowOutcome, NatShardFollower } from './nat-shard-follower.js';
