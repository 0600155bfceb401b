// Shard routing (DESIGN.md "Sharding"): the versioned virtual-shard table, IPv6 by subscriber key, IPv4 by
// port block. The cluster issue replaces the members (workers today) with nodes; the packet path stays.
export { BlockTable, createBlockTableStorage, NO_SHARD, STATIC_ROUTES_MAX } from './block-table.js';
export {
  createHandoffMemory,
  FRAGMENT_ROUTE_LIFETIME_MS,
  FRAGMENT_ROUTES,
  HANDOFF_FRAGMENT,
  HANDOFF_OWNED,
  HANDOFF_REMOTE,
  HandoffCounters,
  type HandoffMemory,
  type RemoteSink,
  UNLEASED_BLOCK,
  WorkerHandoff,
} from './handoff.js';
export { ShardRouter } from './router.js';
export {
  checkShardCount,
  createShardTable,
  NO_MEMBER,
  SHARD_MEMBERS_MAX,
  ShardTable,
  type ShardTableData,
  VIRTUAL_SHARDS_DEFAULT,
  VIRTUAL_SHARDS_MAX,
} from './shard-table.js';
export {
  SHARD_HASH_SEED_DEFAULT,
  SUBSCRIBER_PREFIX_LENGTH_DEFAULT,
  SubscriberShardHash,
} from './subscriber-shard.js';
