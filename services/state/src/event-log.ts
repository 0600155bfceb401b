// The event-log interface every state backend implements (DESIGN.md "Event sourcing"): one
// ordered stream per shard, appended in batches, read back from a sequence number. The embedded
// file log implements it now; the NATS JetStream adapter implements the same interface.

/** One appended batch: the events of one shard over one flush interval. */
export interface EventBatch<T> {
  shard: number;
  /** Sequence number of the batch within its shard, from 1, gap-free. */
  sequence: number;
  events: T[];
}

export interface EventLog<T> {
  /** Appends one batch for a shard; returns its sequence number. Synchronous for the embedded log. */
  append(shard: number, events: readonly T[]): number;
  /** Calls `visit` for every batch of `shard` with sequence > `afterSequence`, in order. */
  forEach(shard: number, afterSequence: number, visit: (batch: EventBatch<T>) => void): void;
  /** Highest sequence appended for the shard, 0 when none. */
  lastSequence(shard: number): number;
  /** Makes appended batches durable (fsync for files). */
  flush(): void;
  stop(): void;
}
