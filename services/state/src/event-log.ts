// The event-log contract every state backend implements (DESIGN.md "Event sourcing"): one ordered
// stream per shard, appended in batches whose identity (shard, epoch, sequence) the writer owns,
// acknowledged asynchronously with the log's own position, read back from a sequence. The embedded
// file log (embedded-log.ts) and the NATS JetStream adapter implement the same interface.

/**
 * Who wrote a batch and where it sits in its shard's stream. The batcher (batcher.ts) assigns it once
 * and keeps it through retries, so a log that has already stored the batch recognises the retry
 * (JetStream: `Nats-Msg-Id` = `batchMessageId(identity)`) instead of storing it twice.
 */
export interface BatchIdentity {
  /** Virtual shard, a non-negative integer. */
  readonly shard: number;
  /** The writer's fencing epoch for the shard (>= 1 for a cluster owner, 0 allowed for embedded). */
  readonly epoch: number;
  /** Position of the batch within its shard: from 1, gap-free, never reused. */
  readonly sequence: number;
}

/**
 * One appended batch: the encoded events of one shard over one flush interval. The log treats the
 * payload as opaque bytes (the NAT engine's versioned codec, `encodeNatEvents`), so a log adapter never
 * decodes on the write path and a newer payload version passes through to readers that refuse it.
 */
export interface EventBatch extends BatchIdentity {
  /** Number of events in `payload` (for counters and bytes-per-event figures; the payload is authoritative). */
  readonly eventCount: number;
  readonly payload: Uint8Array;
}

/** What the log says once a batch is stored durably (as durable as the backend promises). */
export interface AppendAck extends BatchIdentity {
  /**
   * The log's own position for the batch: the byte offset of the record (embedded file) or the stream
   * sequence (JetStream). Opaque to the batcher; reported in status and used by adapters for fencing.
   */
  readonly position: number;
  /** True when the log already held this identity with the same payload and did not store it again. */
  readonly duplicate: boolean;
}

/** A stored snapshot of one shard's state, valid after `sequence` (replay = snapshot + batches > sequence). */
export interface ShardSnapshot {
  readonly shard: number;
  readonly epoch: number;
  /** Sequence of the last batch folded into `payload`; 0 for a snapshot of the empty state. */
  readonly sequence: number;
  /** Wall-clock time the snapshot was taken (restores shorten lifetimes by the time since). */
  readonly timeMs: number;
  /** The NAT engine's snapshot bytes (`snapshotNatState`), which carry their own configuration fingerprint. */
  readonly payload: Uint8Array;
}

/**
 * The asynchronous event log. Every method may reject with a `StateError` (errors.ts):
 * - `XLAT64_ERR_FENCED`: the append's epoch is older than one the log has seen for the shard, or its
 *   sequence is not last + 1 (another writer appended; this writer must stop serving the shard);
 * - `XLAT64_ERR_LOG_UNAVAILABLE`: the log cannot be reached or written now; retry with the same identity;
 * - `XLAT64_ERR_LOG_CORRUPT`: stored data cannot be read back (checksum, framing);
 * - `XLAT64_ERR_LOG_STOPPED`: called after `stop()`.
 * Appends of one shard may be in flight together; the log stores and acknowledges them in sequence order.
 */
export interface EventLog {
  /** Stores one batch. Resolves when durable; a retry of an already stored identity resolves with `duplicate`. */
  append(batch: EventBatch): Promise<AppendAck>;
  /**
   * Every batch of `shard` with sequence > `afterSequence`, in order, gap-free. When batches up to some
   * sequence were compacted away, the iterator rejects with `XLAT64_ERR_LOG_COMPACTED` for a start
   * before the compaction point: read the snapshot first (`SnapshotStore.latest`).
   */
  read(shard: number, afterSequence: number): AsyncIterable<EventBatch>;
  /** Highest sequence stored for the shard, 0 when none. */
  lastSequence(shard: number): Promise<number>;
  /** Highest epoch seen for the shard, 0 when none. */
  lastEpoch(shard: number): Promise<number>;
  /** Flushes, then releases files or connections. Idempotent. Later calls reject with LOG_STOPPED. */
  stop(): Promise<void>;
}

/**
 * Snapshots bound replay time and storage: after `put`, the log may drop the shard's batches up to the
 * snapshot's sequence (embedded: file compaction; JetStream: subject purge, snapshot in the Object Store).
 */
export interface SnapshotStore {
  /** Stores the snapshot durably, then lets the log discard batches with sequence <= snapshot.sequence. */
  put(snapshot: ShardSnapshot): Promise<void>;
  /** The newest stored snapshot of the shard, or null. */
  latest(shard: number): Promise<ShardSnapshot | null>;
}

/** The JetStream `Nats-Msg-Id` (and any log's dedupe key) of a batch: stable across retries. */
export function batchMessageId(identity: BatchIdentity): string {
  return `${identity.shard}.${identity.epoch}.${identity.sequence}`;
}
