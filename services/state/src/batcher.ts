// Collects a shard's events and appends them as one batch per flush interval or per
// `batchEventsMax` events, whichever comes first (DESIGN.md: JetStream takes ~15-25 k messages/s
// from one client, so batching is what makes 100 k+ events/s possible). Bounded: when the log
// cannot take batches (an outage), at most `bufferEventsMax` events wait; beyond that the
// oldest-first order is kept and new events are refused with a count, never dropped silently.
import assert from 'node:assert/strict';
import type { EventLog } from './event-log.js';

export interface BatcherOptions {
  shard: number;
  flushIntervalMs: number;
  batchEventsMax: number;
  bufferEventsMax: number;
}

export class EventBatcher<T> {
  private pending: T[] = [];
  private lastFlushMs: number;
  /** Events refused because the buffer was full (the shard is then "unreplicated"). */
  refusedEvents = 0;
  appendFailures = 0;

  constructor(
    private readonly log: EventLog<T>,
    private readonly options: BatcherOptions,
    nowMs: number,
  ) {
    assert.ok(options.batchEventsMax > 0 && options.bufferEventsMax >= options.batchEventsMax);
    this.lastFlushMs = nowMs;
  }

  /** Queues one event; returns false (and counts it) when the bounded buffer is full. */
  add(event: T): boolean {
    if (this.pending.length >= this.options.bufferEventsMax) {
      this.refusedEvents++;
      return false;
    }
    this.pending.push(event);
    return true;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Appends what is due: everything when the interval has passed, else only full batches. */
  tick(nowMs: number): void {
    const due = nowMs - this.lastFlushMs >= this.options.flushIntervalMs;
    while (this.pending.length >= this.options.batchEventsMax || (due && this.pending.length > 0)) {
      const count = Math.min(this.pending.length, this.options.batchEventsMax);
      try {
        this.log.append(this.options.shard, this.pending.slice(0, count));
      } catch {
        this.appendFailures++;
        return; // keep the events; the next tick retries
      }
      this.pending = this.pending.slice(count);
    }
    if (due) this.lastFlushMs = nowMs;
  }
}
