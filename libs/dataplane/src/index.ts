// Public surface of libs/dataplane: the role runtime both translators (PLAT and CLAT) build on —
// the per-queue batch loop and its PacketStep contract, shared counters, the status socket,
// kernel setup with undo, the configuration field readers that word every refusal alike, and the
// shared-memory packet ring that hands packets between the workers of one node.
export {
  BatchTranslator,
  type BatchTranslatorOptions,
  type BatchWriter,
  baseCounterNames,
  type PacketStep,
} from './batch-translator.js';
export {
  checkPrefix,
  configError,
  type RawConfig,
  readBoolean,
  readDeviceName,
  readEnum,
  readInteger,
  readIpv4Address,
  readIpv6Address,
  readListenAddress,
  readOptionalString,
  readPrefix,
  readString,
  refuseUnknownKeys,
} from './config-fields.js';
export { CounterLayout, sumCounters } from './counters.js';
export { DataplaneError, type DataplaneErrorCode } from './errors.js';
export {
  createRingMemory,
  Doorbell,
  RING_BYTES_MAX,
  RING_BYTES_MIN,
  RING_PACKET_BYTES_MAX,
  RING_POLL_PACKETS_MAX,
  RING_WORD_COPY_BYTES_MAX,
  RingBatch,
  RingConsumer,
  type RingMemory,
  RingProducer,
  type RingStats,
  readRingStats,
} from './ring.js';
export { type RoleSpec, type RunningRole, startRole } from './role.js';
export { roleCounterLayout, translatorDropBase } from './role-counters.js';
export {
  defaultStatusDirectory,
  findStatusSockets,
  readStatus,
  type StatusDocument,
  StatusServer,
} from './status-server.js';
export {
  addressStep,
  linkUpSteps,
  readSysctl,
  routeStep,
  runCommand,
  type SetupStep,
  SystemSetup,
  sysctlStep,
} from './system-setup.js';
export { type RunningXdpRole, startXdpRole, type XdpRoleSpec } from './xdp-role.js';
