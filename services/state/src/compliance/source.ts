// What the compliance outbox reads: "a source of (shard, sequence, events)". The outbox needs only
// this, so swapping the event log (the embedded file log, JetStream) means one small adapter.
// `eventLogSource` adapts the asynchronous EventLog of this package: it reads batches with `read()`,
// decodes their payloads with the NAT event codec, and reports (never throws) payloads it cannot decode.
import { type NatEvent, NatEventDecoder } from '../../../nat-engine/src/index.js';
import { isStateError } from '../errors.js';
import type { EventLog, SnapshotStore } from '../event-log.js';

export interface SourceBatch {
  shard: number;
  /** From 1, gap-free within the shard. */
  sequence: number;
  events: readonly NatEvent[];
}

/** What a source reports about batches it could not turn into events. */
export interface SourceStatus {
  /** Batches whose payload was malformed (or of an unknown version): forwarded as empty, their records lost. */
  undecodableBatches: number;
  /**
   * Set while the source stops before a batch written by a newer build (payload version newer than this
   * one): the outbox waits there, lag grows, until this node is upgraded. Null otherwise.
   */
  blockedBy: string | null;
  /** The last refusal, with shard and sequence, or null. */
  lastRefusal: string | null;
}

export interface ComplianceEventSource {
  /** Shards whose batches the outbox forwards. */
  shards(): readonly number[];
  /** Highest sequence appended for the shard, 0 when none. */
  lastSequence(shard: number): number | Promise<number>;
  /**
   * Lowest sequence still retained for the shard (1 when nothing was dropped). A position below it
   * means the outbox waited longer than the log's retention: those batches are reported as lost.
   */
  firstSequence(shard: number): number | Promise<number>;
  /** Up to `batchesMax` batches with sequence > `afterSequence`, in order. */
  read(
    shard: number,
    afterSequence: number,
    batchesMax: number,
  ): readonly SourceBatch[] | Promise<readonly SourceBatch[]>;
  /** Optional: decode refusals, shown in the outbox status. */
  status?(): SourceStatus;
}

/**
 * Adapts an EventLog. `snapshots` (by default the log itself when it is also a SnapshotStore, as the
 * embedded and JetStream logs are) tells where compaction cut the shard: batches up to the latest
 * snapshot's sequence may be gone, so `firstSequence` is that sequence + 1. A read that races a
 * compaction returns no batches; the outbox's next round sees the new first sequence and counts the
 * dropped stretch as lost.
 */
export function eventLogSource(
  log: EventLog | (EventLog & SnapshotStore),
  shards: readonly number[],
  snapshots: SnapshotStore | null = 'latest' in log ? log : null,
): ComplianceEventSource {
  const decoder = new NatEventDecoder();
  const status: SourceStatus = { undecodableBatches: 0, blockedBy: null, lastRefusal: null };
  return {
    shards: () => shards,
    lastSequence: (shard) => log.lastSequence(shard),
    async firstSequence(shard) {
      const snapshot = snapshots === null ? null : await snapshots.latest(shard);
      return snapshot === null ? 1 : snapshot.sequence + 1;
    },
    async read(shard, afterSequence, batchesMax) {
      const out: SourceBatch[] = [];
      if (batchesMax <= 0) return out;
      let blocked: string | null = null;
      try {
        for await (const batch of log.read(shard, afterSequence)) {
          const decoded = decoder.decode(batch.payload, batch.shard, batch.epoch);
          if (decoded.ok) {
            out.push({ shard: batch.shard, sequence: batch.sequence, events: decoded.events });
          } else {
            const where = `shard ${batch.shard} sequence ${batch.sequence}: ${decoded.message}`;
            if (decoded.refusal === 'newer-version') {
              blocked = where;
              if (status.blockedBy !== where) status.lastRefusal = where;
              break;
            }
            status.undecodableBatches++;
            status.lastRefusal = where;
            out.push({ shard: batch.shard, sequence: batch.sequence, events: [] });
          }
          if (out.length >= batchesMax) break;
        }
      } catch (error) {
        // Compacted between firstSequence and this read: nothing now, the next round counts the loss.
        if (isStateError(error, 'XLAT64_ERR_LOG_COMPACTED')) return [];
        throw error;
      }
      status.blockedBy = blocked;
      return out;
    },
    status: () => ({ ...status }),
  };
}
