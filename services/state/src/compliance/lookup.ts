// `xlat64 lookup`: who held ADDRESS:PORT at TIME (± skew)? It reads the compliance topic directly:
// an address's records all sit in one partition, Kafka's timestamp index gives the first offset at
// TIME − skew − heldInterval, and because every leased block is re-stated (block-held) at each
// interval boundary, a scan of a few intervals finds every lease open at TIME without reading the
// log from its start. The outbox writes in event-time order, so the scan stops at records
// 2 intervals + maxLag past the window. Holders whose interval overlaps [TIME − skew, TIME + skew]
// are returned with the ids of the records that prove it. The matching (LookupScan) does not depend
// on record order. Messages of both formats are read (message-format.ts): a pack's timestamp is its
// oldest record's, so the scan starts PACK_SPAN_MS_MAX earlier. Each holder names its tenant as its
// records do; a query for one tenant (an ISP's view) gets that tenant's holders only.
import assert from 'node:assert/strict';
import type { Kafka } from 'kafkajs';
import type { LookupHolder, LookupQuery } from './holders.js';
import { createKafka, type KafkaConnection, partitionOf, scanPartition, topicPartitions } from './kafka.js';
import { decodeMessage, PACK_SPAN_MS_MAX } from './message-format.js';
import type { ComplianceRecord } from './records.js';
import { deterministicHolders, readConfigHistory } from './rfc7422.js';

/** Collects the records about one address and port and decides which intervals overlap the window. */
export class LookupScan {
  readonly lowMs: number;
  readonly highMs: number;
  private readonly candidates = new Map<string, LookupHolder>();
  recordsVisited = 0;

  constructor(readonly query: LookupQuery) {
    assert.ok(query.skewMs >= 0 && Number.isFinite(query.atMs));
    this.lowMs = query.atMs - query.skewMs;
    this.highMs = query.atMs + query.skewMs;
  }

  visit(record: ComplianceRecord): void {
    this.recordsVisited++;
    const { query } = this;
    if (record.address !== query.address) return;
    if (query.protocol !== undefined && record.protocol !== query.protocol) return;
    if (query.port < record.portFirst || query.port > record.portLast) return;
    let holder = this.candidates.get(record.leaseId);
    if (holder === undefined) {
      holder = {
        level: record.kind.startsWith('block')
          ? 'block'
          : record.kind.startsWith('mapping')
            ? 'mapping'
            : 'session',
        leaseId: record.leaseId,
        subscriber: record.subscriber,
        tenant: record.tenant ?? null,
        clatPrefix64: record.clatPrefix64,
        address: record.address,
        protocol: record.protocol,
        portFirst: record.portFirst,
        portLast: record.portLast,
        startMs: record.startMs,
        endMs: null,
        heldThroughMs: record.startMs,
        shard: record.shard,
        epoch: record.epoch,
        evidence: [],
      };
      if (record.ipv6Source !== undefined) {
        holder.ipv6Source = record.ipv6Source;
        holder.ipv6Port = record.ipv6Port;
      }
      this.candidates.set(record.leaseId, holder);
    }
    if (holder.evidence.some((e) => e.id === record.id)) return;
    // The record opening the interval says the tenant at lease time; later ones fill in when it is unseen.
    if (record.tenant !== undefined && (holder.tenant === null || record.id === record.leaseId))
      holder.tenant = record.tenant;
    holder.evidence.push({ id: record.id, kind: record.kind, atMs: record.atMs });
    if (record.endMs !== null) holder.endMs = record.endMs;
    if (record.atMs > holder.heldThroughMs) holder.heldThroughMs = record.atMs;
    if (record.epoch > holder.epoch) holder.epoch = record.epoch;
  }

  /** True while some lease may still turn out to have ended before the window (no release, no later held record). */
  undecided(): boolean {
    for (const holder of this.candidates.values()) {
      if (holder.endMs === null && holder.startMs <= this.highMs && holder.heldThroughMs < this.lowMs)
        return true;
    }
    return false;
  }

  hasCandidates(): boolean {
    return this.candidates.size > 0;
  }

  /** Holders overlapping [at − skew, at + skew], oldest first. */
  holders(): LookupHolder[] {
    const out: LookupHolder[] = [];
    for (const holder of this.candidates.values()) {
      if (holder.startMs > this.highMs) continue;
      if (holder.endMs !== null && holder.endMs < this.lowMs) continue;
      if (this.query.tenant !== undefined && holder.tenant !== this.query.tenant) continue;
      holder.evidence.sort((a, b) => a.atMs - b.atMs || (a.id < b.id ? -1 : 1));
      out.push(holder);
    }
    return out.sort((a, b) => a.startMs - b.startMs || (a.leaseId < b.leaseId ? -1 : 1));
  }
}

/** Holders by RFC 7422 formula: the configuration names no tenant, so only the operator's view has them. */
function formulaHolders(
  history: Parameters<typeof deterministicHolders>[0],
  query: LookupQuery,
): LookupHolder[] {
  return query.tenant === undefined ? deterministicHolders(history, query) : [];
}

export interface KafkaLookupOptions {
  kafka: KafkaConnection;
  topic: string;
  /** The outbox's block-held interval (the scan starts one interval before the window). */
  heldIntervalMs: number;
  /**
   * How far behind other writers of the same partition a record may have been produced (an outbox
   * that waited for Kafka, or another node's outbox): the scan goes on until records are this much
   * past the window. Default 1 h.
   */
  maxLagMs?: number;
  /** Read to the end of the partition whatever the times (an answer for any lag). */
  scanToEnd?: boolean;
}

export interface LookupResult {
  query: LookupQuery;
  holders: LookupHolder[];
  partition: number;
  /** Offsets read, [from, to), and how many records were decoded. */
  scanned: { fromOffset: number; toOffset: number; records: number; fullScan: boolean };
}

export async function lookupInKafka(
  query: LookupQuery,
  options: KafkaLookupOptions,
  client?: Kafka,
): Promise<LookupResult> {
  const kafka = client ?? createKafka(options.kafka);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const partitions = await topicPartitions(admin, options.topic);
    // RFC 7422: holders by formula under the configurations in effect (none when none is logged).
    // Read while the partition is scanned: each read is a consumer of its own, waiting on the broker.
    // Its own admin client: kafkajs' admin does not take two offset requests at once.
    const historyRead = (async () => {
      const historyAdmin = kafka.admin();
      await historyAdmin.connect();
      try {
        return await readConfigHistory(kafka, historyAdmin, options.topic);
      } finally {
        await historyAdmin.disconnect();
      }
    })();
    historyRead.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    if (partitions === 0) {
      const history = await historyRead;
      return {
        query,
        holders: formulaHolders(history, query),
        partition: -1,
        scanned: { fromOffset: 0, toOffset: 0, records: 0, fullScan: false },
      };
    }
    const partition = partitionOf(query.address, partitions);
    const offsets = await admin.fetchTopicOffsets(options.topic);
    const entry = offsets.find((o) => o.partition === partition);
    assert.ok(entry !== undefined);
    const low = Number(entry.low);
    const high = Number(entry.high);
    // A pack's timestamp is its oldest record's time and its records span up to PACK_SPAN_MS_MAX.
    const startTs = query.atMs - query.skewMs - options.heldIntervalMs - PACK_SPAN_MS_MAX;
    const byTime = await admin.fetchTopicOffsetsByTimestamp(options.topic, startTs);
    const fromEntry = byTime.find((o) => o.partition === partition);
    let from = fromEntry === undefined || Number(fromEntry.offset) < 0 ? high : Number(fromEntry.offset);
    from = Math.max(low, Math.min(from, high));
    const scan = new LookupScan(query);
    const stopAfterMs = options.scanToEnd
      ? Number.POSITIVE_INFINITY
      : query.atMs + query.skewMs + 2 * options.heldIntervalMs + (options.maxLagMs ?? 3_600_000);
    let records = 0;
    let to = from;
    const visit = (
      message: { key: Buffer | null; value: Buffer | null; timestamp: string },
      offset: number,
    ): boolean => {
      to = offset + 1;
      if (message.value === null) return true;
      // Only messages that may hold this address's records are decoded (the partition holds other
      // addresses too): format 1 and single-address packs carry their address as the key.
      if (message.key === null || message.key.length === 0 || message.key.toString() === query.address) {
        const decoded = decodeMessage(message.value.toString());
        if (decoded !== null) {
          for (const record of decoded) {
            records++;
            scan.visit(record);
          }
        }
      }
      return !(Number(message.timestamp) > stopAfterMs && !scan.undecided());
    };
    await scanPartition(kafka, options.topic, partitions, partition, from, high, visit);
    let fullScan = false;
    if (!scan.hasCandidates() && from > low) {
      // Nothing about this port since the window's start: a lease may be older than the last
      // block-held boundary its shard stated (an idle shard). Read the part before the window too.
      fullScan = true;
      await scanPartition(kafka, options.topic, partitions, partition, low, from, (message, offset) => {
        visit(message, offset);
        return true;
      });
      to = Math.max(to, from);
      from = low;
    }
    const history = await historyRead;
    return {
      query,
      holders: [...scan.holders(), ...formulaHolders(history, query)],
      partition,
      scanned: { fromOffset: from, toOffset: to, records, fullScan },
    };
  } finally {
    await admin.disconnect();
  }
}
