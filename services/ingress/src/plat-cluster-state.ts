// Cluster state of one PLAT worker (`xlat64 plat --state nats://…,redis://…`): the worker's shard as a
// ClusterNatStore (services/state: JetStream event log, NATS KV ownership with fencing epochs, snapshots
// in the Object Store) and, once the worker owns the shard, its port blocks leased from Redis through a
// RedisPoolAllocator (a node-side reserve, so the packet path never waits for Redis). Leases belong to
// the shard (`shard-<n>`), so the node that takes a shard over inherits its blocks (reconciled at start).
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type {
  EventSink,
  NatEngineConfig,
  NatEvent,
  NatState,
  PoolAllocator,
} from '../../nat-engine/src/index.js';
import {
  ClusterNatStore,
  connectNats,
  connectRedis,
  heldBlocksOf,
  JetStreamEventLog,
  poolGeometryOf,
  RedisPoolAllocator,
  RedisPoolStore,
  type ReplicationMetricsSink,
  redisReady,
  ShardOwnership,
} from '../../state/src/index.js';
import type { PlatStateConfig } from './plat-state-config.js';

/** How long a takeover waits for a Redis client that is not connected yet before it serves anyway. */
const REDIS_READY_WAIT_MS = 500;

export interface ClusterShardStateOptions {
  state: PlatStateConfig;
  config: NatEngineConfig;
  hashSeed: number;
  shard: number;
  flushIntervalMs: number;
  /** A snapshot is due when the log tail since the last one reaches max(this, the last snapshot's size). */
  snapshotTailBytes?: number;
  /** The worker took the shard: serve `state` with this sink and allocator under `epoch`. */
  onOwner: (state: NatState, sink: EventSink, allocator: PoolAllocator, epoch: number) => void;
  /** The worker lost the shard (fenced): stop serving it. */
  onFenced: () => void;
  /** The owner's lease lapsed (make no new mapping) or was renewed again (ClusterNatStoreOptions.onLeaseLapsed). */
  onLeaseLapsed?: (lapsed: boolean) => void;
  /** Cluster with a table: false while the table names another node the shard's owner (no takeover then). */
  mayTakeOver?: () => boolean;
  log: (line: string) => void;
  /** Replication figures (append-to-ack time, standby apply lag) for the worker's shared counters. */
  metrics?: ReplicationMetricsSink;
  /** While a standby: the replica's blocks, then each folded event (ClusterNatStoreOptions.onReplicaEvent). */
  onReplicaEvent?: (event: NatEvent) => void;
}

export interface ClusterShardState {
  readonly store: ClusterNatStore;
  tick(nowMs: number): void;
  stop(nowMs: number): Promise<void>;
}

export async function openClusterShardState(
  options: ClusterShardStateOptions,
  nowMs: number,
): Promise<ClusterShardState> {
  const { state: cfg, shard } = options;
  const nc: NatsConnection = await connectNats({ url: cfg.nats, name: `xlat64-${cfg.nodeId}-q${shard}` });
  // Redis is connected while the worker is still a standby: a client made at takeover would refuse the
  // allocator's first commands (no offline queue) until it is ready, and the shard's blocks would be
  // claimed a refill interval later than the engine starts serving.
  let redis: Redis | null = null;
  let allocator: RedisPoolAllocator | null = null;
  try {
    redis = connectRedis({ url: cfg.redis });
    const log = await JetStreamEventLog.open(nc, { metrics: options.metrics });
    const ownership = await ShardOwnership.open(nc, cfg.nodeId);
    const store: ClusterNatStore = await ClusterNatStore.open(
      {
        log,
        ownership,
        config: options.config,
        hashSeed: options.hashSeed,
        shard,
        flushIntervalMs: options.flushIntervalMs,
        tailBytesMin: options.snapshotTailBytes,
        detectionMs: cfg.detectionMs,
        logLine: options.log,
        metrics: options.metrics,
        onOwner: async (state, epoch) => {
          // A worker that takes the shard at start may not be connected yet: wait a little (not more: a
          // takeover with Redis unreachable serves the replica's blocks meanwhile).
          await redisReady(redis as Redis, REDIS_READY_WAIT_MS).catch(() => {});
          const { geometry, fingerprint } = poolGeometryOf(state);
          allocator = new RedisPoolAllocator(
            new RedisPoolStore(redis as Redis, cfg.pool, geometry, fingerprint),
            state,
            {
              owner: `shard-${shard}`,
              heldBlocks: () => heldBlocksOf(state),
            },
          );
          // Sets the pool up, reconciles the shard's blocks from the replica (the log is authoritative)
          // and fills the reserve; resolves even while Redis is down (existing blocks serve meanwhile).
          await allocator.start();
          options.onOwner(state, store.sink, allocator, epoch);
        },
        onFenced: options.onFenced,
        onLeaseLapsed: options.onLeaseLapsed,
        mayTakeOver: options.mayTakeOver,
        onReplicaEvent: options.onReplicaEvent,
      },
      nowMs,
    );
    options.log(`shard ${shard}: standby of node ${cfg.nodeId}, following ${log.subjectOf(shard)}`);
    return {
      store,
      tick: (now) => store.tick(now),
      async stop(now) {
        await store.stop(now);
        await (allocator as RedisPoolAllocator | null)?.stop();
        (redis as Redis | null)?.disconnect();
        await nc.close();
      },
    };
  } catch (error) {
    (redis as Redis | null)?.disconnect();
    await nc.close().catch(() => {});
    throw error;
  }
}
