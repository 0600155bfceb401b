// The compliance topic's message formats. Format 2 (packed, the default): one Kafka message carries up
// to `recordsPerPackMax` records of the addresses of ONE partition (partition = address mod partitions,
// as for format 1, so an address's records stay in one partition, in order), value
// `{"v":2,"records":[<record>,...]}` with every record complete (its fields and id as in format 1),
// key = the address when all its records have the same address, else none; timestamp = the smallest
// record time in it; a pack spans at most PACK_SPAN_MS_MAX of record time, which lookup reads further
// back for. Format 1 (single): one record per message, key = its address, value = the record, header
// `id`. Readers (lookup, the outbox's restart scan) accept both, so topics written by earlier builds
// stay readable.
import assert from 'node:assert/strict';
import { partitionOf } from './kafka.js';
import { COMPLIANCE_RECORD_VERSION, type ComplianceRecord } from './records.js';

/** `v` of a packed message (records inside keep their own `v`, COMPLIANCE_RECORD_VERSION). */
export const COMPLIANCE_PACK_VERSION = 2;

/** Largest spread of record times (atMs) inside one pack; lookup starts its scan this much earlier. */
export const PACK_SPAN_MS_MAX = 300_000;

export type ComplianceMessageFormat = 'packed' | 'single';

export interface OutgoingMessage {
  key: string | null;
  value: string;
  partition: number;
  timestamp: string;
  headers: Record<string, string>;
}

/**
 * Turns records (in derived order) into messages for `partitions` partitions. Packed: each partition's
 * records in order, cut into packs of at most `recordsPerPackMax` records spanning at most
 * PACK_SPAN_MS_MAX. Returns the number of messages per partition in `counts` (the end offsets).
 */
export function encodeMessages(
  records: readonly ComplianceRecord[],
  partitions: number,
  format: ComplianceMessageFormat,
  recordsPerPackMax: number,
  counts: number[],
): OutgoingMessage[] {
  assert.ok(partitions > 0 && recordsPerPackMax > 0);
  counts.length = partitions;
  counts.fill(0);
  const out: OutgoingMessage[] = [];
  if (format === 'single' || recordsPerPackMax === 1) {
    for (const record of records) {
      const partition = partitionOf(record.address, partitions);
      counts[partition]++;
      out.push({
        key: record.address,
        value: JSON.stringify(record),
        partition,
        timestamp: String(record.atMs),
        headers: { id: record.id },
      });
    }
    return out;
  }
  const open: (OpenPack | undefined)[] = new Array(partitions);
  const close = (pack: OpenPack): void => {
    counts[pack.partition]++;
    out.push({
      key: pack.address,
      value: `{"v":${COMPLIANCE_PACK_VERSION},"records":[${pack.values.join(',')}]}`,
      partition: pack.partition,
      timestamp: String(pack.minMs),
      headers: { format: String(COMPLIANCE_PACK_VERSION), count: String(pack.values.length) },
    });
  };
  for (const record of records) {
    const partition = partitionOf(record.address, partitions);
    let pack = open[partition];
    if (
      pack !== undefined &&
      (pack.values.length >= recordsPerPackMax ||
        Math.max(pack.maxMs, record.atMs) - Math.min(pack.minMs, record.atMs) > PACK_SPAN_MS_MAX)
    ) {
      close(pack);
      pack = undefined;
    }
    if (pack === undefined) {
      pack = { address: record.address, partition, values: [], minMs: record.atMs, maxMs: record.atMs };
      open[partition] = pack;
    }
    if (pack.address !== record.address) pack.address = null;
    pack.values.push(JSON.stringify(record));
    if (record.atMs < pack.minMs) pack.minMs = record.atMs;
    if (record.atMs > pack.maxMs) pack.maxMs = record.atMs;
  }
  for (const pack of open) if (pack !== undefined) close(pack);
  return out;
}

interface OpenPack {
  /** The address of every record so far, null once two differ. */
  address: string | null;
  partition: number;
  values: string[];
  minMs: number;
  maxMs: number;
}

/**
 * The records of a message value of either format, in the order written; null when the value is not
 * a compliance message of a known format (a pack's entries that are not records are left out).
 */
export function decodeMessage(text: string): ComplianceRecord[] | null {
  let value: { v?: unknown; records?: unknown };
  try {
    value = JSON.parse(text) as { v?: unknown; records?: unknown };
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  if (value.v === COMPLIANCE_RECORD_VERSION) return isRecord(value) ? [value] : null;
  if (value.v !== COMPLIANCE_PACK_VERSION || !Array.isArray(value.records)) return null;
  const out: ComplianceRecord[] = [];
  for (const entry of value.records as unknown[]) if (isRecord(entry)) out.push(entry);
  return out;
}

function isRecord(value: unknown): value is ComplianceRecord {
  const r = value as ComplianceRecord | null;
  return (
    r !== null &&
    typeof r === 'object' &&
    r.v === COMPLIANCE_RECORD_VERSION &&
    typeof r.id === 'string' &&
    typeof r.address === 'string'
  );
}
