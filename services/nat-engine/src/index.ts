// Public surface of services/nat-engine: the RFC 6146 stateful NAT64 engine with RFC 6888 port blocks,
// its configuration, flow keys, verdicts, events and the reducer that rebuilds state from them.
export { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './address.js';
export {
  type DecodedNatEvents,
  decodeNatEvents,
  encodeNatEventBatch,
  encodeNatEvents,
  NAT_EVENT_BYTES_MAX,
  NatEventDecoder,
  type NatEventsRefusal,
  natEventsBytesMax,
} from './codec/nat-event-codec.js';
export {
  NAT_SNAPSHOT_FORMAT_VERSION,
  type NatSnapshotRefusal,
  natConfigFingerprint,
  natStateSnapshotBytesMax,
  type RestoredNatState,
  type RestoreOptions,
  restoreNatState,
  snapshotNatState,
  writeNatStateSnapshot,
} from './codec/nat-state-snapshot.js';
export { adoptNatStateTables, copyNatStateTables, type NatStateTables } from './codec/nat-state-transfer.js';
export {
  addressIndexIn,
  type FilteringBehaviour,
  type NatEngineConfig,
  type NatEngineConfigInput,
  type StaticBibEntryInput,
  subscriberPrefixOf,
  validateConfig,
} from './config.js';
export {
  createNatEngine,
  createReplayState,
  NatEngine,
  type NatEngineOptions,
} from './engine.js';
export { NatConfigError, NatStaticMappingError } from './errors.js';
export {
  ArrayEventSink,
  CountingEventSink,
  type EventSink,
  type Ipv6Words,
  type LimitName,
  NAT_EVENT_SCHEMA_VERSION,
  type NatEvent,
  NatEventType,
  SessionRemovedCause,
} from './events.js';
export {
  createFlowKey4,
  createFlowKey6,
  type FlowKey4,
  type FlowKey6,
  PROTOCOL_SLOTS,
  Protocol,
  ProtocolSlot,
  protocolSlotOf,
  TcpFlag,
} from './flow-key.js';
export { checkInvariants, dumpState, type StateDump } from './inspect.js';
export {
  bytesFromWords,
  ShardPipeline,
  type ShardPipelineOptions,
  shardPipelineDropNames,
} from './pipeline/shard-pipeline.js';
export { InProcessPoolAllocator, POOL_PENDING, POOL_REFUSED, type PoolAllocator } from './pool4/allocator.js';
export { type Pool4Range, parsePool4, parsePool4Entry, pool4Cidrs } from './pool4/pool-text.js';
export { DeterministicPoolAllocator, deterministicMapping } from './pool4/rfc7422.js';
export {
  claimSharedPoolBlocks,
  createSharedPoolMemory,
  leasedBlockEvents,
  type PoolAddressUse,
  type PoolShares,
  portsInUseByAddress,
  SharedPoolAllocator,
  type SharedPoolMemory,
  sharedPoolAllocator,
  sharedPoolLessees,
  sharedPoolUse,
} from './pool4/shared-allocator.js';
export { createCryptoRandom, createSeededRandom, type RandomSource } from './random.js';
export { applyEvent, applyEvents, EventApplied } from './reducer.js';
export type { SessionShares } from './session-shares.js';
export { IPV6_MASKS, SubscriberLengths, type SubscriberLengthTable } from './subscriber-lengths.js';
export type { NatState } from './tables/nat-state.js';
export { TcpState, tcpStateNames } from './tcp-state-machine.js';
export {
  createEngineResult,
  EngineDropReason,
  type EngineDropReasonName,
  type EngineResult,
  EngineVerdict,
  engineDropReasonNames,
  IcmpReply,
} from './verdict.js';
