// What a lookup asks and answers (lookup.ts for records in Kafka, rfc7422.ts for holders by formula).
import type { ComplianceRecordKind, ProtocolName } from './records.js';

export interface LookupQuery {
  address: string;
  port: number;
  /** Only this protocol; all three when absent. */
  protocol?: ProtocolName;
  atMs: number;
  skewMs: number;
}

export interface LookupEvidence {
  id: string;
  kind: ComplianceRecordKind;
  atMs: number;
}

export interface LookupHolder {
  /** `block` for port-block leases, `mapping` / `session` for per-session records, `deterministic` by RFC 7422 formula. */
  level: 'block' | 'mapping' | 'session' | 'deterministic';
  leaseId: string;
  subscriber: string;
  clatPrefix64: string | null;
  ipv6Source?: string;
  ipv6Port?: number;
  address: string;
  protocol: ProtocolName;
  portFirst: number;
  portLast: number;
  startMs: number;
  /** Release time; null when no release was found (still held, or held beyond the scanned records). */
  endMs: number | null;
  /** Latest time the records show it held (its start, or the latest block-held boundary). */
  heldThroughMs: number;
  shard: number;
  epoch: number;
  evidence: LookupEvidence[];
}
