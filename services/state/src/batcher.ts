// Collects a shard's events and appends them as one batch per flush interval or per `batchEventsMax`
// events (DESIGN.md: JetStream takes ~15-25 k messages/s from one client, so batching is what makes
// 100 k+ events/s possible). The batcher owns batch identity (shard, epoch, sequence from the log's
// last + 1, gap-free) and keeps it through retries, so a log that stored a batch whose ack was lost
// answers `duplicate` instead of storing it twice. Bounded twice: at most `inFlightBatchesMax` appends
// are outstanding, and at most `bufferEventsMax` events wait (pending + sealed, unacknowledged); past
// that, events are refused and counted and the shard is "unreplicated" until a snapshot is taken at a
// cut (`cut()` + `resynchronized()`), because a log with a hole cannot be replayed.
import assert from 'node:assert/strict';
import { isStateError, type StateErrorCode } from './errors.js';
import type { AppendAck, BatchIdentity, EventLog } from './event-log.js';

/** Turns a batch's events into the opaque payload the log stores (the NAT engine's versioned codec). */
export interface BatchEncoder<T> {
  encode(events: readonly T[], identity: BatchIdentity): Uint8Array;
}

export interface BatcherOptions {
  shard: number;
  /** The writer's fencing epoch for the shard (0 in embedded mode). */
  epoch: number;
  /** The log's last sequence for the shard when this writer starts (`await log.lastSequence(shard)`). */
  lastSequence: number;
  flushIntervalMs: number;
  batchEventsMax: number;
  /** Most appends outstanding at once (sent, not yet acknowledged or failed). */
  inFlightBatchesMax: number;
  /** Most events held: pending plus sealed batches not yet acknowledged. */
  bufferEventsMax: number;
  /** Wait after a failed append before sending again (same identities). */
  retryDelayMs: number;
}

/**
 * replicated: everything sealed is stored or on its way. lagging: appends are failing, events wait in
 * the bounded buffer. unreplicated: events were refused, the log misses them until the next snapshot.
 * fenced: another writer owns the shard; this writer must stop serving it. stopped: after stop().
 */
export type ShardReplicationState = 'replicated' | 'lagging' | 'unreplicated' | 'fenced' | 'stopped';

export interface BatcherStatus {
  shard: number;
  epoch: number;
  state: ShardReplicationState;
  /** Events added, not yet sealed into a batch. */
  pendingEvents: number;
  /** pendingEvents plus the events of sealed batches not yet acknowledged (bounded by bufferEventsMax). */
  bufferedEvents: number;
  bufferedBytes: number;
  inFlightBatches: number;
  /** Highest sequence assigned to a sealed batch. */
  sealedSequence: number;
  /** Highest sequence acknowledged by the log with every earlier one (the durable prefix). */
  ackedSequence: number;
  /** The log's position of the last acknowledged batch (-1 before the first). */
  ackedPosition: number;
  appendedBatches: number;
  appendedEvents: number;
  appendedBytes: number;
  appendFailures: number;
  duplicateAcks: number;
  refusedEvents: number;
  lastErrorCode: StateErrorCode | 'unknown' | null;
}

interface SealedBatch {
  readonly sequence: number;
  readonly eventCount: number;
  readonly payload: Uint8Array;
  inFlight: boolean;
  acked: boolean;
  position: number;
}

export class EventBatcher<T> {
  private pending: T[] = [];
  private readonly sealed: SealedBatch[] = [];
  private lastFlushMs: number;
  /** Time of the last tick: an acknowledgement sends the next batches without waiting for a tick. */
  private lastTickMs: number;
  private sealedSequence: number;
  private ackedSequence: number;
  private ackedPosition = -1;
  private inFlight = 0;
  private sealedEvents = 0;
  private sealedBytes = 0;
  /** After a failure nothing is sent until every outstanding append has settled and the delay passed. */
  private recovering = false;
  private retryAtMs = 0;
  private unreplicated = false;
  private fenced = false;
  private stopped = false;
  private drainWaiters: (() => void)[] = [];
  private counters = {
    appendedBatches: 0,
    appendedEvents: 0,
    appendedBytes: 0,
    appendFailures: 0,
    duplicateAcks: 0,
    refusedEvents: 0,
  };
  private lastErrorCode: StateErrorCode | 'unknown' | null = null;

  constructor(
    private readonly log: EventLog,
    private readonly encoder: BatchEncoder<T>,
    private readonly options: BatcherOptions,
    nowMs: number,
  ) {
    assert.ok(Number.isInteger(options.shard) && options.shard >= 0, 'shard is a non-negative integer');
    assert.ok(Number.isInteger(options.epoch) && options.epoch >= 0, 'epoch is a non-negative integer');
    assert.ok(Number.isInteger(options.lastSequence) && options.lastSequence >= 0);
    assert.ok(options.batchEventsMax > 0 && options.bufferEventsMax >= options.batchEventsMax);
    assert.ok(options.inFlightBatchesMax >= 1 && options.retryDelayMs >= 0);
    this.lastFlushMs = nowMs;
    this.lastTickMs = nowMs;
    this.sealedSequence = options.lastSequence;
    this.ackedSequence = options.lastSequence;
  }

  /** Queues one event; returns false (and counts it) when the buffer is full, fenced, or unreplicated. */
  add(event: T): boolean {
    if (
      this.unreplicated ||
      this.fenced ||
      this.stopped ||
      this.pending.length + this.sealedEvents >= this.options.bufferEventsMax
    ) {
      this.counters.refusedEvents++;
      this.unreplicated = this.unreplicated || !this.fenced;
      return false;
    }
    this.pending.push(event);
    return true;
  }

  /** Seals what is due (everything when the interval has passed, else full batches) and sends what the window allows. */
  tick(nowMs: number): void {
    if (this.stopped) return;
    this.lastTickMs = nowMs;
    const due = nowMs - this.lastFlushMs >= this.options.flushIntervalMs;
    while (this.pending.length >= this.options.batchEventsMax) this.seal(this.options.batchEventsMax);
    if (due) {
      if (this.pending.length > 0) this.seal(this.pending.length);
      this.lastFlushMs = nowMs;
    }
    this.send(nowMs);
  }

  /**
   * Seals every pending event now and returns the last assigned sequence: a snapshot of the state taken
   * before any further event is added is valid "after" that sequence (replay = snapshot + later batches).
   */
  cut(): number {
    while (this.pending.length > 0 && !this.stopped)
      this.seal(Math.min(this.pending.length, this.options.batchEventsMax));
    return this.sealedSequence;
  }

  /**
   * A snapshot taken at `cut()` returning `sequence` is stored: events refused before that cut are in the
   * snapshot, so the shard is replicated again and new events are accepted.
   */
  resynchronized(sequence: number): void {
    assert.ok(sequence <= this.sealedSequence, 'a snapshot is taken at a sequence this batcher assigned');
    this.unreplicated = false;
  }

  /** Resolves when every event added so far is acknowledged, or the batcher is fenced or stopped. */
  drain(nowMs: number): Promise<void> {
    this.lastFlushMs = nowMs - this.options.flushIntervalMs;
    this.tick(nowMs);
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Stops sending; pending and unacknowledged events stay unacknowledged (drain first to keep them). */
  stop(): void {
    this.stopped = true;
    this.wakeDrainWaiters();
  }

  status(): BatcherStatus {
    return {
      shard: this.options.shard,
      epoch: this.options.epoch,
      state: this.stateName(),
      pendingEvents: this.pending.length,
      bufferedEvents: this.pending.length + this.sealedEvents,
      bufferedBytes: this.sealedBytes,
      inFlightBatches: this.inFlight,
      sealedSequence: this.sealedSequence,
      ackedSequence: this.ackedSequence,
      ackedPosition: this.ackedPosition,
      ...this.counters,
      lastErrorCode: this.lastErrorCode,
    };
  }

  get isFenced(): boolean {
    return this.fenced;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  get refusedEvents(): number {
    return this.counters.refusedEvents;
  }

  get appendFailures(): number {
    return this.counters.appendFailures;
  }

  private stateName(): ShardReplicationState {
    if (this.stopped) return 'stopped';
    if (this.fenced) return 'fenced';
    if (this.unreplicated) return 'unreplicated';
    if (this.recovering) return 'lagging';
    return 'replicated';
  }

  private seal(count: number): void {
    const events = count === this.pending.length ? this.pending : this.pending.slice(0, count);
    this.pending = count === this.pending.length ? [] : this.pending.slice(count);
    const sequence = this.sealedSequence + 1;
    const payload = this.encoder.encode(events, {
      shard: this.options.shard,
      epoch: this.options.epoch,
      sequence,
    });
    this.sealedSequence = sequence;
    this.sealed.push({ sequence, eventCount: count, payload, inFlight: false, acked: false, position: -1 });
    this.sealedEvents += count;
    this.sealedBytes += payload.byteLength;
  }

  private send(nowMs: number): void {
    if (this.fenced || this.stopped) return;
    if (this.recovering) {
      if (this.inFlight > 0 || nowMs < this.retryAtMs) return;
      this.recovering = false;
    }
    for (const batch of this.sealed) {
      if (this.inFlight >= this.options.inFlightBatchesMax) break;
      if (batch.inFlight || batch.acked) continue;
      this.appendOne(batch, nowMs);
    }
  }

  private appendOne(batch: SealedBatch, sentAtMs: number): void {
    batch.inFlight = true;
    this.inFlight++;
    const { shard, epoch } = this.options;
    this.log
      .append({
        shard,
        epoch,
        sequence: batch.sequence,
        eventCount: batch.eventCount,
        payload: batch.payload,
      })
      .then(
        (ack) => this.acked(batch, ack),
        (error: unknown) => this.failed(batch, error, sentAtMs),
      );
  }

  private acked(batch: SealedBatch, ack: AppendAck): void {
    assert.equal(ack.sequence, batch.sequence, 'the log acknowledges the identity it was given');
    batch.inFlight = false;
    batch.acked = true;
    batch.position = ack.position;
    this.inFlight--;
    if (ack.duplicate) this.counters.duplicateAcks++;
    this.counters.appendedBatches++;
    this.counters.appendedEvents += batch.eventCount;
    this.counters.appendedBytes += batch.payload.byteLength;
    while (this.sealed.length > 0 && this.sealed[0].acked) {
      const done = this.sealed.shift() as SealedBatch;
      this.sealedEvents -= done.eventCount;
      this.sealedBytes -= done.payload.byteLength;
      this.ackedSequence = done.sequence;
      this.ackedPosition = done.position;
    }
    if (this.isDrained()) this.wakeDrainWaiters();
    else this.send(this.lastTickMs);
  }

  private failed(batch: SealedBatch, error: unknown, sentAtMs: number): void {
    batch.inFlight = false;
    this.inFlight--;
    this.counters.appendFailures++;
    this.lastErrorCode =
      error instanceof Error && 'code' in error ? (error.code as StateErrorCode) : 'unknown';
    // FENCED is believed only for the first unacknowledged batch outside a recovery: a later batch is
    // also refused as "not last + 1" when an earlier one of the same window failed.
    const first = this.sealed.find((b) => !b.acked);
    if (isStateError(error, 'XLAT64_ERR_FENCED') && first === batch && !this.recovering) {
      this.fenced = true;
      this.wakeDrainWaiters();
      return;
    }
    if (isStateError(error, 'XLAT64_ERR_LOG_STOPPED')) {
      this.stop();
      return;
    }
    if (!this.recovering) this.retryAtMs = sentAtMs + this.options.retryDelayMs;
    this.recovering = true;
  }

  private isDrained(): boolean {
    return this.pending.length === 0 && this.sealed.length === 0;
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
