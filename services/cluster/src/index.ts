// Public surface of services/cluster: membership by heartbeats in NATS KV, the ownership table
// (virtual shard -> owner, standby, epoch; rendezvous hashing, compare-and-set in NATS KV) and the
// inter-node fabric (GENEVE frames with a keyed MAC, members only, anti-replay).
export { ClusterError, type ClusterErrorCode, isClusterError } from './errors.js';
export {
  FABRIC_ACCEPT,
  FABRIC_DROP_REASONS,
  FABRIC_PAYLOAD_MAX,
  FabricCodec,
  type FabricCodecOptions,
  type FabricDropReason,
  FabricEndpoint,
  type FabricEndpointOptions,
  type FabricPeer,
} from './fabric.js';
export {
  FABRIC_KEYS_MAX,
  FABRIC_MACS,
  type FabricKeyConfig,
  FabricKeys,
  type FabricMacAlgorithm,
} from './fabric-mac.js';
export {
  checkNodeId,
  DETECTION_MS_DEFAULT,
  MEMBERS_BUCKET,
  type MemberRecord,
  Membership,
  type MembershipChange,
  type MembershipOptions,
} from './membership.js';
export {
  decodeTable,
  encodeTable,
  nextTable,
  type OwnershipTable,
  OwnershipTableStore,
  ownerOf,
  type PublishResult,
  type ServingAction,
  ShardServing,
  type StoredTable,
  standbyOf,
  TABLE_BUCKET,
  TABLE_FORMAT,
} from './ownership-table.js';
export { memberHash, NO_MEMBER, rendezvousAssign } from './rendezvous.js';
export { REPLAY_WINDOW_DEFAULT, ReplayWindow } from './replay-window.js';
export { Blake2sMac } from './rfc7693-blake2s.js';
export {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  FABRIC_HEADER_BYTES,
  FABRIC_OPTION_CLASS,
  FABRIC_OPTION_TYPE,
  FABRIC_VNI_DEFAULT,
  FabricFields,
  GENEVE_UDP_PORT,
} from './rfc8926-geneve.js';
