// The embedded event log: one append-only file of JSON lines, one line per batch
// ({"shard","sequence","events"}), so a single node runs with no services installed (DESIGN.md
// "Embedded mode"). On open it indexes the file; a torn last line (a crash mid-write) is cut off
// and reported, never silently merged. Writes are synchronous: the caller batches per flush interval.
import assert from 'node:assert/strict';
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { StateError } from './errors.js';
import type { EventBatch, EventLog } from './event-log.js';

export interface EmbeddedLogOpenReport {
  batches: number;
  /** Bytes cut off the end because the last line was incomplete or not valid JSON. */
  tornBytes: number;
}

export class EmbeddedEventLog<T> implements EventLog<T> {
  private fd: number;
  private readonly batchesByShard = new Map<number, EventBatch<T>[]>();
  readonly openReport: EmbeddedLogOpenReport;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'a+');
    } catch (error) {
      throw new StateError(
        'XLAT64_ERR_EVENT_LOG',
        `cannot open the event log ${path}: ${(error as NodeJS.ErrnoException).code} — check stateDir exists and is writable`,
        { cause: error },
      );
    }
    this.openReport = this.load();
  }

  private load(): EmbeddedLogOpenReport {
    const text = readFileSync(this.path, 'utf8');
    let offset = 0;
    let batches = 0;
    while (offset < text.length) {
      const end = text.indexOf('\n', offset);
      const line = end === -1 ? null : text.slice(offset, end);
      const batch = line === null ? null : parseBatch<T>(line);
      if (batch === null || batch.sequence !== this.lastSequence(batch.shard) + 1) {
        const keep = Buffer.byteLength(text.slice(0, offset));
        const tornBytes = Buffer.byteLength(text) - keep;
        ftruncateSync(this.fd, keep);
        return { batches, tornBytes };
      }
      this.shardBatches(batch.shard).push(batch);
      batches++;
      offset = end + 1;
    }
    return { batches, tornBytes: 0 };
  }

  private shardBatches(shard: number): EventBatch<T>[] {
    let list = this.batchesByShard.get(shard);
    if (list === undefined) {
      list = [];
      this.batchesByShard.set(shard, list);
    }
    return list;
  }

  append(shard: number, events: readonly T[]): number {
    assert.ok(Number.isInteger(shard) && shard >= 0, 'shard must be a non-negative integer');
    assert.ok(events.length > 0, 'an appended batch holds at least one event');
    const batch: EventBatch<T> = { shard, sequence: this.lastSequence(shard) + 1, events: [...events] };
    writeSync(this.fd, `${JSON.stringify(batch)}\n`);
    this.shardBatches(shard).push(batch);
    return batch.sequence;
  }

  forEach(shard: number, afterSequence: number, visit: (batch: EventBatch<T>) => void): void {
    const list = this.batchesByShard.get(shard) ?? [];
    // Sequences are gap-free from 1, so the batch with sequence s sits at index s - 1.
    for (let i = Math.max(0, afterSequence); i < list.length; i++) visit(list[i]);
  }

  lastSequence(shard: number): number {
    return this.batchesByShard.get(shard)?.length ?? 0;
  }

  flush(): void {
    fsyncSync(this.fd);
  }

  stop(): void {
    if (this.fd === -1) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }
}

function parseBatch<T>(line: string): EventBatch<T> | null {
  try {
    const value = JSON.parse(line) as EventBatch<T>;
    if (!Number.isInteger(value.shard) || !Number.isInteger(value.sequence) || !Array.isArray(value.events))
      return null;
    return value;
  } catch {
    return null;
  }
}
