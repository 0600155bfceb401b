// What the compliance outbox reads: "a source of (shard, sequence, events)". The outbox needs only
// this, so swapping the event log (embedded file, the async embedded log, a JetStream consumer) means
// one small adapter. `eventLogSource` adapts the EventLog interface of this package.
import type { NatEvent } from '../../../nat-engine/src/index.js';
import type { EventLog } from '../event-log.js';

export interface SourceBatch {
  shard: number;
  /** From 1, gap-free within the shard. */
  sequence: number;
  events: readonly NatEvent[];
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
}

/** Adapts an EventLog (the embedded log keeps every batch, so firstSequence is always 1). */
export function eventLogSource(log: EventLog<NatEvent>, shards: readonly number[]): ComplianceEventSource {
  return {
    shards: () => shards,
    lastSequence: (shard) => log.lastSequence(shard),
    firstSequence: () => 1,
    read(shard, afterSequence, batchesMax) {
      const out: SourceBatch[] = [];
      const last = Math.min(log.lastSequence(shard), afterSequence + batchesMax);
      if (last <= afterSequence) return out;
      log.forEach(shard, afterSequence, (batch) => {
        if (batch.sequence <= last) out.push(batch);
      });
      return out;
    },
  };
}
