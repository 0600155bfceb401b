// Hot standby (DESIGN.md "Event sourcing": takeover = "bump the epoch and serve"): tails one shard's
// subject of the JetStream event log into a replica NatState, batch by batch in sequence order, so the
// standby holds the owner's state with a lag of one flush interval plus transit. Batches of an epoch
// older than one already applied are dropped and counted (a stale owner cannot rewrite the replica).
import assert from 'node:assert/strict';
import { DeliverPolicy } from '@nats-io/jetstream';
import { applyEvents, type NatEvent, type NatState } from '../../nat-engine/src/index.js';
import { StateError } from './errors.js';
import type { EventBatch } from './event-log.js';
import type { JetStreamEventLog } from './jetstream-log.js';

export interface StandbyCounters {
  appliedBatches: number;
  appliedEvents: number;
  /** Batches dropped because their epoch is older than the newest applied one. */
  staleEpochBatches: number;
  /** Batches skipped because their sequence was already applied (redelivery). */
  repeatedBatches: number;
}

export interface StandbyOptions {
  /** The payload codec (the engine's versioned codec); must refuse a newer version by throwing. */
  decode: (batch: EventBatch) => NatEvent[];
  /** Called after each applied batch (replication lag measurement, status). */
  onBatch?: (batch: EventBatch) => void;
}

export class ShardStandby {
  readonly counters: StandbyCounters = {
    appliedBatches: 0,
    appliedEvents: 0,
    staleEpochBatches: 0,
    repeatedBatches: 0,
  };
  /** Sequence and epoch of the last applied batch: a takeover continues from here. */
  appliedSequence: number;
  appliedEpoch: number;
  /** Set when the tail stopped on an error (gap, decode failure); the standby must then be rebuilt. */
  failure: Error | undefined;
  private stopping = false;
  private closer: (() => Promise<void>) | undefined;
  private done: Promise<void> | undefined;
  private readonly waiters: { sequence: number; resolve: () => void }[] = [];

  /**
   * `replica` is the state after `afterSequence` (a restored snapshot, or an empty state with 0).
   */
  constructor(
    private readonly log: JetStreamEventLog,
    readonly shard: number,
    readonly replica: NatState,
    afterSequence: number,
    private readonly options: StandbyOptions,
  ) {
    assert.ok(afterSequence >= 0);
    this.appliedSequence = afterSequence;
    this.appliedEpoch = 0;
  }

  /** Starts tailing; returns once the consumer is subscribed. */
  async start(): Promise<void> {
    const consumer = await this.log.jetstream.consumers.get(this.log.stream, {
      filter_subjects: this.log.subjectOf(this.shard),
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 512 });
    this.closer = async () => {
      await messages.close();
    };
    this.done = (async () => {
      try {
        for await (const m of messages) {
          if (this.stopping) break;
          this.apply(this.log.batchOf(this.shard, m.headers, m.data));
        }
      } catch (error) {
        this.failure = error as Error;
      } finally {
        for (const w of this.waiters.splice(0)) w.resolve();
      }
    })();
  }

  /** Resolves once the batch with `sequence` is applied (or the tail stopped). */
  caughtUp(sequence: number): Promise<void> {
    if (this.appliedSequence >= sequence || this.failure !== undefined || this.stopping)
      return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ sequence, resolve }));
  }

  /** Stops tailing; the replica keeps what it applied (takeover: then bump the epoch and serve). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.closer?.();
    await this.done;
  }

  private apply(batch: EventBatch): void {
    if (batch.sequence <= this.appliedSequence) {
      this.counters.repeatedBatches++;
      return;
    }
    if (batch.epoch < this.appliedEpoch) {
      this.counters.staleEpochBatches++;
      return;
    }
    if (batch.sequence !== this.appliedSequence + 1) {
      throw new StateError(
        'XLAT64_ERR_LOG_CORRUPT',
        `standby of shard ${this.shard}: batch ${this.appliedSequence + 1} is missing (got ${batch.sequence}) — rebuild from the latest snapshot`,
      );
    }
    const events = this.options.decode(batch);
    applyEvents(this.replica, events);
    this.appliedSequence = batch.sequence;
    this.appliedEpoch = batch.epoch;
    this.counters.appliedBatches++;
    this.counters.appliedEvents += events.length;
    this.options.onBatch?.(batch);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].sequence <= this.appliedSequence) {
        this.waiters[i].resolve();
        this.waiters.splice(i, 1);
      }
    }
  }
}
