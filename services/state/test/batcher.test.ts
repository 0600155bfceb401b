// The batcher owns batch identity (sequence from the log's last + 1, gap-free, kept through retries),
// keeps at most inFlightBatchesMax appends outstanding, retries a failed window in order with the same
// identities, refuses and counts events past its buffer (the shard then reports "unreplicated" until a
// snapshot cut), and stops at a fence.
import { describe, expect, it } from 'vitest';
import { EventBatcher } from '../src/batcher.js';
import { StateError } from '../src/errors.js';
import type { AppendAck, EventBatch, EventLog } from '../src/event-log.js';

/** A log that records every attempt and lets the test settle each one (the real log is tested in embedded-log.test.ts). */
class ScriptedLog implements EventLog {
  attempts: { batch: EventBatch; resolve: (a: AppendAck) => void; reject: (e: unknown) => void }[] = [];
  stored: EventBatch[] = [];
  append(batch: EventBatch): Promise<AppendAck> {
    return new Promise((resolve, reject) => this.attempts.push({ batch, resolve, reject }));
  }
  /** Stores and acknowledges attempt i (duplicate when that identity is already stored). */
  ack(i: number): void {
    const { batch, resolve } = this.attempts[i];
    const duplicate = this.stored.some((b) => b.sequence === batch.sequence);
    if (!duplicate) this.stored.push(batch);
    resolve({ shard: batch.shard, epoch: batch.epoch, sequence: batch.sequence, position: i, duplicate });
  }
  /** Stores attempt i but reports a failure (the ack was lost on the way back). */
  storeAndLoseAck(i: number): void {
    this.stored.push(this.attempts[i].batch);
    this.fail(i, 'XLAT64_ERR_LOG_UNAVAILABLE');
  }
  fail(i: number, code: 'XLAT64_ERR_LOG_UNAVAILABLE' | 'XLAT64_ERR_FENCED'): void {
    this.attempts[i].reject(new StateError(code, 'scripted'));
  }
  async *read(): AsyncIterable<EventBatch> {}
  async lastSequence(): Promise<number> {
    return this.stored.length;
  }
  async lastEpoch(): Promise<number> {
    return 0;
  }
  async stop(): Promise<void> {}
}

const encoder = { encode: (events: readonly number[]) => Uint8Array.from(events) };
const settle = () => new Promise((r) => setImmediate(r));

function batcher(log: EventLog, options: Partial<ConstructorParameters<typeof EventBatcher>[2]> = {}) {
  return new EventBatcher<number>(
    log,
    encoder,
    {
      shard: 2,
      epoch: 7,
      lastSequence: 10,
      flushIntervalMs: 5,
      batchEventsMax: 3,
      inFlightBatchesMax: 2,
      bufferEventsMax: 10,
      retryDelayMs: 100,
      ...options,
    },
    0,
  );
}

describe('event batcher', () => {
  it('seals full batches at once and the remainder at the interval, numbering from the log last + 1', () => {
    const log = new ScriptedLog();
    const b = batcher(log, { inFlightBatchesMax: 8 });
    for (let i = 1; i <= 4; i++) b.add(i);
    b.tick(1);
    expect(log.attempts.map((a) => [...a.batch.payload])).toEqual([[1, 2, 3]]);
    b.tick(4);
    expect(log.attempts.length).toBe(1);
    b.tick(5);
    expect(log.attempts.map((a) => a.batch.sequence)).toEqual([11, 12]);
    expect(log.attempts.every((a) => a.batch.shard === 2 && a.batch.epoch === 7)).toBe(true);
    expect(log.attempts.map((a) => a.batch.eventCount)).toEqual([3, 1]);
  });

  it('keeps at most inFlightBatchesMax appends outstanding and advances the acked sequence in order', async () => {
    const log = new ScriptedLog();
    const b = batcher(log);
    for (let i = 1; i <= 9; i++) b.add(i);
    b.tick(1);
    expect(log.attempts.length).toBe(2);
    expect(b.status().inFlightBatches).toBe(2);
    log.ack(1); // out of order: 12 before 11
    await settle();
    expect(b.status().ackedSequence).toBe(10);
    log.ack(0);
    await settle();
    // An acknowledgement frees the window and sends the next sealed batch at once.
    expect(b.status()).toMatchObject({
      ackedSequence: 12,
      ackedPosition: 1,
      inFlightBatches: 1,
      bufferedEvents: 3,
    });
    expect(log.attempts.map((a) => a.batch.sequence)).toEqual([11, 12, 13]);
  });

  it('after a failure resends the whole window in order with the same identities, and a lost ack becomes a duplicate', async () => {
    const log = new ScriptedLog();
    const b = batcher(log);
    for (let i = 1; i <= 6; i++) b.add(i);
    b.tick(1);
    log.storeAndLoseAck(0);
    log.fail(1, 'XLAT64_ERR_LOG_UNAVAILABLE');
    await settle();
    expect(b.status()).toMatchObject({ state: 'lagging', ackedSequence: 10, appendFailures: 2 });
    b.tick(50);
    expect(log.attempts.length).toBe(2); // waits for retryDelayMs
    b.tick(101);
    expect(log.attempts.map((a) => a.batch.sequence)).toEqual([11, 12, 11, 12]);
    expect(log.attempts[2].batch.payload).toBe(log.attempts[0].batch.payload);
    expect([...log.attempts[3].batch.payload]).toEqual([4, 5, 6]);
    log.ack(2);
    log.ack(3);
    await settle();
    expect(b.status()).toMatchObject({
      state: 'replicated',
      ackedSequence: 12,
      bufferedEvents: 0,
      duplicateAcks: 1,
    });
    expect(log.stored.map((s) => s.sequence)).toEqual([11, 12]);
  });

  it('believes FENCED only for the first unacknowledged batch, then stops sending and refuses events', async () => {
    const log = new ScriptedLog();
    const b = batcher(log);
    for (let i = 1; i <= 6; i++) b.add(i);
    b.tick(1);
    log.fail(0, 'XLAT64_ERR_LOG_UNAVAILABLE');
    log.fail(1, 'XLAT64_ERR_FENCED'); // a consequence of batch 11 failing, not a fence
    await settle();
    expect(b.isFenced).toBe(false);
    b.tick(200);
    expect(log.attempts.length).toBe(4);
    log.fail(2, 'XLAT64_ERR_FENCED');
    await settle();
    expect(b.status().state).toBe('fenced');
    expect(b.add(7)).toBe(false);
    b.tick(400);
    expect(log.attempts.length).toBe(4);
  });

  it('refuses and counts events past bufferEventsMax; the shard is unreplicated until a snapshot cut', () => {
    const log = new ScriptedLog();
    const b = batcher(log, { bufferEventsMax: 4 });
    expect([1, 2, 3, 4, 5].map((n) => b.add(n))).toEqual([true, true, true, true, false]);
    expect(b.status()).toMatchObject({ state: 'unreplicated', refusedEvents: 1, bufferedEvents: 4 });
    const cut = b.cut(); // 4 pending events: two batches of at most 3
    expect(cut).toBe(12);
    b.resynchronized(cut);
    expect(b.status().state).toBe('replicated');
  });

  it('drain resolves once every added event is acknowledged', async () => {
    const log = new ScriptedLog();
    const b = batcher(log);
    b.add(1);
    let drained = false;
    const done = b.drain(1).then(() => {
      drained = true;
    });
    await settle();
    expect(drained).toBe(false);
    log.ack(0);
    await done;
    expect(b.status().ackedSequence).toBe(11);
  });
});
