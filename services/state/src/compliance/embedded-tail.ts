// A read-only tail of embedded event logs (embedded-log.ts) written by another thread: the PLAT's queue
// workers own their logs (one directory, one shard each); the compliance outbox in the main thread reads
// the same segment files as they grow, so it needs nothing from the workers and Kafka I/O stays off them.
// Only whole records that pass their checksum are indexed (a record being written is picked up on the
// next look); segments the writer deleted after a snapshot are forgotten, and the snapshot's sequence
// is where compaction cut (reads before it reject with XLAT64_ERR_LOG_COMPACTED, as the log's own do).
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_RECORD_HEADER_BYTES, records, snapshotSequenceOf } from '../embedded-log.js';
import { StateError } from '../errors.js';
import type { AppendAck, EventBatch, EventLog, ShardSnapshot, SnapshotStore } from '../event-log.js';

/** One worker's log: its directory and the shard it writes. */
export interface TailedLog {
  shard: number;
  directory: string;
}

interface Entry {
  sequence: number;
  epoch: number;
  eventCount: number;
  segment: number;
  /** Byte offset of the record in its segment, and its whole length. */
  offset: number;
  length: number;
}

interface ShardTail {
  readonly shard: number;
  readonly directory: string;
  /** Scanned bytes per segment number (only whole records are counted). */
  readonly scanned: Map<number, number>;
  /** Indexed records in sequence order. */
  entries: Entry[];
  lastSequence: number;
  lastEpoch: number;
  snapshotSequence: number;
}

/** Bytes read per look at a growing segment at most (the rest waits for the next look). */
const READ_CHUNK_BYTES = 16 * 1024 * 1024;

export class EmbeddedLogTail implements EventLog, SnapshotStore {
  private readonly tails = new Map<number, ShardTail>();

  constructor(logs: readonly TailedLog[]) {
    for (const { shard, directory } of logs) {
      assert.ok(!this.tails.has(shard), `shard ${shard} is tailed once`);
      this.tails.set(shard, {
        shard,
        directory,
        scanned: new Map(),
        entries: [],
        lastSequence: 0,
        lastEpoch: 0,
        snapshotSequence: 0,
      });
    }
  }

  append(_batch: EventBatch): Promise<AppendAck> {
    return Promise.reject(
      new StateError('XLAT64_ERR_EVENT_LOG', 'the compliance tail of a log is read-only'),
    );
  }

  async *read(shard: number, afterSequence: number): AsyncIterable<EventBatch> {
    const tail = this.refresh(shard);
    if (tail === null) return;
    const first = tail.entries.length > 0 ? tail.entries[0].sequence : tail.lastSequence + 1;
    if (afterSequence + 1 < first && afterSequence < tail.snapshotSequence) {
      throw new StateError(
        'XLAT64_ERR_LOG_COMPACTED',
        `shard ${shard}: batches up to ${tail.snapshotSequence} were compacted into the snapshot`,
      );
    }
    // Entries are gap-free and in order: the first wanted one is at a computable index.
    let i = Math.max(0, afterSequence + 1 - first);
    while (i < tail.entries.length) {
      const entry = tail.entries[i++];
      const payload = readRecordPayload(tail, entry);
      // The segment went away (compacted) since it was indexed: the next round sees the new first sequence.
      if (payload === null) return;
      yield {
        shard,
        epoch: entry.epoch,
        sequence: entry.sequence,
        eventCount: entry.eventCount,
        payload,
      };
    }
  }

  lastSequence(shard: number): Promise<number> {
    return Promise.resolve(this.refresh(shard)?.lastSequence ?? 0);
  }

  lastEpoch(shard: number): Promise<number> {
    return Promise.resolve(this.refresh(shard)?.lastEpoch ?? 0);
  }

  put(_snapshot: ShardSnapshot): Promise<void> {
    return Promise.reject(
      new StateError('XLAT64_ERR_EVENT_LOG', 'the compliance tail of a log is read-only'),
    );
  }

  /** Only the sequence is meaningful (eventLogSource's firstSequence uses it); the payload is not read. */
  async latest(shard: number): Promise<ShardSnapshot | null> {
    const tail = this.refresh(shard);
    if (tail === null || tail.snapshotSequence === 0) return null;
    return {
      shard,
      epoch: tail.lastEpoch,
      sequence: tail.snapshotSequence,
      timeMs: 0,
      payload: new Uint8Array(0),
    };
  }

  async stop(): Promise<void> {}

  /** Indexes what the writer added since the last look; forgets deleted segments. */
  private refresh(shard: number): ShardTail | null {
    const tail = this.tails.get(shard);
    if (tail === undefined) return null;
    let names: string[];
    try {
      names = readdirSync(tail.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return tail; // the worker has not opened it yet
      throw new StateError(
        'XLAT64_ERR_LOG_UNAVAILABLE',
        `cannot list ${tail.directory}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    tail.snapshotSequence = snapshotSequenceOf(tail.directory, shard);
    const numbers = names
      .map((name) => /^log-(\d+)\.bin$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const present = new Set(numbers);
    for (const number of [...tail.scanned.keys()]) {
      if (!present.has(number)) tail.scanned.delete(number);
    }
    if (tail.entries.length > 0 && !present.has(tail.entries[0].segment)) {
      tail.entries = tail.entries.filter((e) => present.has(e.segment));
    }
    for (const number of numbers) this.scanSegment(tail, number);
    return tail;
  }

  private scanSegment(tail: ShardTail, number: number): void {
    const path = segmentPathOf(tail.directory, number);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // deleted meanwhile
      throw error;
    }
    try {
      let from = tail.scanned.get(number) ?? 0;
      const size = fstatSync(fd).size;
      while (from < size) {
        const length = Math.min(size - from, READ_CHUNK_BYTES);
        const bytes = Buffer.allocUnsafe(length);
        const read = readSync(fd, bytes, 0, length, from);
        let consumed = 0;
        for (const record of records(bytes, read)) {
          if (record.batch === null) break; // incomplete (being written) or torn: look again later
          const batch = record.batch;
          if (batch.shard === tail.shard && batch.sequence > tail.lastSequence) {
            tail.entries.push({
              sequence: batch.sequence,
              epoch: batch.epoch,
              eventCount: batch.eventCount,
              segment: number,
              offset: from + consumed,
              length: record.end - consumed,
            });
            tail.lastSequence = batch.sequence;
            tail.lastEpoch = batch.epoch;
          }
          consumed = record.end;
        }
        if (consumed === 0) break;
        from += consumed;
      }
      tail.scanned.set(number, from);
    } finally {
      closeSync(fd);
    }
  }
}

function segmentPathOf(directory: string, number: number): string {
  return join(directory, `log-${String(number).padStart(8, '0')}.bin`);
}

function readRecordPayload(tail: ShardTail, entry: Entry): Uint8Array | null {
  let fd: number;
  try {
    fd = openSync(segmentPathOf(tail.directory, entry.segment), 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const bytes = Buffer.allocUnsafe(entry.length - LOG_RECORD_HEADER_BYTES);
    const read = readSync(fd, bytes, 0, bytes.length, entry.offset + LOG_RECORD_HEADER_BYTES);
    if (read !== bytes.length) {
      throw new StateError(
        'XLAT64_ERR_LOG_CORRUPT',
        `shard ${tail.shard}: segment ${entry.segment} is shorter than its indexed record ${entry.sequence}`,
      );
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}
