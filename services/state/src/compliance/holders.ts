// What a lookup asks and answers (lookup.ts for records in Kafka, rfc7422.ts for holders by formula).
import type { ComplianceRecordKind, ProtocolName } from './records.js';

export interface LookupQuery {
  address: string;
  port: number;
  /** Only this protocol; all three when absent. */
  protocol?: ProtocolName;
  atMs: number;
  skewMs: number;
  /**
   * Only holders whose records name this tenant (an ISP's view): the others are left out, and so are
   * holders by RFC 7422 formula and records that name no tenant. Absent: every holder (the operator).
   */
  tenant?: string;
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
  /** The subscriber's tenant as its records name it; null when they name none (no tenants, older records, formula). */
  tenant: string | null;
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
