// The batcher turns single events into one appended batch per flush interval or per full batch,
// keeps events through an append failure, and refuses (and counts) events past its bound.
import { describe, expect, it } from 'vitest';
import { EventBatcher } from '../src/batcher.js';
import type { EventBatch, EventLog } from '../src/event-log.js';

class MemoryLog implements EventLog<number> {
  batches: EventBatch<number>[] = [];
  failNext = 0;
  append(shard: number, events: readonly number[]): number {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('unavailable');
    }
    this.batches.push({ shard, sequence: this.batches.length + 1, events: [...events] });
    return this.batches.length;
  }
  forEach(): void {}
  lastSequence(): number {
    return this.batches.length;
  }
  flush(): void {}
  stop(): void {}
}

describe('event batcher', () => {
  it('appends full batches at once and the remainder when the interval has passed', () => {
    const log = new MemoryLog();
    const b = new EventBatcher(
      log,
      { shard: 2, flushIntervalMs: 5, batchEventsMax: 3, bufferEventsMax: 10 },
      0,
    );
    for (let i = 1; i <= 4; i++) b.add(i);
    b.tick(1);
    expect(log.batches.map((x) => x.events)).toEqual([[1, 2, 3]]);
    b.tick(4);
    expect(log.batches.length).toBe(1);
    b.tick(5);
    expect(log.batches.map((x) => x.events)).toEqual([[1, 2, 3], [4]]);
    expect(log.batches.every((x) => x.shard === 2)).toBe(true);
  });

  it('keeps events when an append fails and delivers them, in order, on the next tick', () => {
    const log = new MemoryLog();
    const b = new EventBatcher(
      log,
      { shard: 0, flushIntervalMs: 1, batchEventsMax: 2, bufferEventsMax: 4 },
      0,
    );
    b.add(1);
    b.add(2);
    log.failNext = 1;
    b.tick(1);
    expect(b.appendFailures).toBe(1);
    expect(b.pendingCount).toBe(2);
    b.add(3);
    b.tick(2);
    expect(log.batches.map((x) => x.events)).toEqual([[1, 2], [3]]);
  });

  it('refuses and counts events beyond bufferEventsMax while the log is down', () => {
    const log = new MemoryLog();
    const b = new EventBatcher(
      log,
      { shard: 0, flushIntervalMs: 1, batchEventsMax: 2, bufferEventsMax: 3 },
      0,
    );
    expect([1, 2, 3, 4].map((n) => b.add(n))).toEqual([true, true, true, false]);
    expect(b.refusedEvents).toBe(1);
  });
});
