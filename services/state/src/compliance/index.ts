// Public surface of the compliance log: records derived from NAT events, the Kafka outbox, lookup.

export {
  ClusterCompliance,
  type ClusterComplianceOptions,
  type ClusterComplianceStatus,
  COMPLIANCE_CHECKPOINT_BUCKET,
  jetStreamSource,
  KvCheckpointStore,
} from './cluster-outbox.js';
export { EmbeddedLogTail, type TailedLog } from './embedded-tail.js';
export type { LookupEvidence, LookupHolder, LookupQuery } from './holders.js';
export {
  createKafka,
  ensureTopic,
  type KafkaConnection,
  partitionOf,
  scanPartition,
  topicPartitions,
} from './kafka.js';
export {
  type KafkaLookupOptions,
  type LookupResult,
  LookupScan,
  lookupInKafka,
} from './lookup.js';
export {
  type LookupCredential,
  type LookupServer,
  type LookupServerOptions,
  lookupCredentialKeys,
  OPERATOR,
  parseLookupCredentials,
  startLookupServer,
  tokenSha256,
} from './lookup-server.js';
export {
  COMPLIANCE_PACK_VERSION,
  type ComplianceMessageFormat,
  decodeMessage,
  encodeMessages,
  type OutgoingMessage,
  PACK_SPAN_MS_MAX,
} from './message-format.js';
export {
  type ComplianceConfig,
  complianceConfigKeys,
  type NodeCompliance,
  type NodeComplianceOptions,
  parseComplianceConfig,
  startNodeCompliance,
} from './node-outbox.js';
export {
  type Checkpoint,
  type CheckpointStore,
  ComplianceOutbox,
  type ComplianceOutboxOptions,
  defaultOutboxOptions,
  type OutboxState,
  type OutboxStatus,
} from './outbox.js';
export {
  COMPLIANCE_RECORD_VERSION,
  ComplianceDeriver,
  type ComplianceMode,
  type ComplianceRecord,
  type ComplianceRecordKind,
  type DeriverOptions,
  decodeRecord,
  defaultDeriverOptions,
  formatPrefix,
  type TenantOf,
} from './records.js';
export {
  type ConfigRecord,
  configFingerprint,
  configTopic,
  deterministicHolders,
  readConfigHistory,
  recordConfiguration,
  subscriberOf,
} from './rfc7422.js';
export { type ComplianceEventSource, eventLogSource, type SourceBatch, type SourceStatus } from './source.js';
