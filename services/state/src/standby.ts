// Hot standby (DESIGN.md "Event sourcing": takeover = "bump the epoch and serve"): tails one shard's
// subject of the JetStream event log and folds each batch into a replica NatState through
// NatShardFollower (sequence, epoch and codec checks: a stale epoch's batch is dropped and counted, a
// gap or a newer codec version stops the fold with the reason), so the standby holds the owner's state
// with a lag of one flush interval plus transit. A batch whose message carries a trace context
// (appended inside a span on the owner) is applied in a `state.standby.apply` span of that trace.
import { DeliverPolicy } from '@nats-io/jetstream';
import { controlPlaneTracer, extractTraceContext, tracedSync } from '../../../libs/telemetry/src/index.js';
import type { NatEvent, NatState } from '../../nat-engine/src/index.js';
import type { EventBatch } from './event-log.js';
import type { JetStreamEventLog } from './jetstream-log.js';
import type { ReplicationMetricsSink } from './metrics-hooks.js';
import { type FollowOutcome, NatShardFollower } from './nat-shard-follower.js';

export interface StandbyOptions {
  /** Called after each batch with its outcome (replication lag measurement, status). */
  onBatch?: (batch: EventBatch, outcome: FollowOutcome) => void;
  /** Told each applied batch's lag behind the log's store time (the standby-lag metric). */
  metrics?: ReplicationMetricsSink;
  /** Told each event folded into the replica, in log order. */
  onEvent?: (event: NatEvent) => void;
}

export class ShardStandby {
  readonly follower: NatShardFollower;
  /** Set when the tail stopped on an error (headers missing, connection closed). */
  failure: Error | undefined;
  private stopping = false;
  private closer: (() => Promise<void>) | undefined;
  private done: Promise<void> | undefined;
  private readonly waiters: { sequence: number; resolve: () => void }[] = [];

  /** `replica` is the state at `from` (a restored snapshot's sequence and epoch, or 0/0 for an empty state). */
  constructor(
    private readonly log: JetStreamEventLog,
    readonly shard: number,
    readonly replica: NatState,
    from: { sequence: number; epoch: number },
    private readonly options: StandbyOptions = {},
  ) {
    this.follower = new NatShardFollower(replica, shard, from, options.onEvent);
  }

  get appliedSequence(): number {
    return this.follower.sequence;
  }

  get appliedEpoch(): number {
    return this.follower.epoch;
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
          const batch = this.log.batchOf(this.shard, m.headers, m.data);
          const outcome =
            m.headers?.get('traceparent') !== undefined && m.headers?.get('traceparent') !== ''
              ? tracedSync(
                  controlPlaneTracer(),
                  'state.standby.apply',
                  {
                    'xlat64.shard': this.shard,
                    'xlat64.batch.sequence': batch.sequence,
                    'xlat64.batch.epoch': batch.epoch,
                  },
                  () => this.follower.apply(batch),
                  extractTraceContext(m.headers),
                )
              : this.follower.apply(batch);
          this.options.onBatch?.(batch, outcome);
          if (outcome === 'applied' && this.options.metrics !== undefined)
            this.options.metrics.standbyApplied(
              this.shard,
              Date.now() - Number(m.timestampNanos / 1_000_000n),
            );
          this.wake();
        }
      } catch (error) {
        this.failure = error as Error;
      } finally {
        for (const w of this.waiters.splice(0)) w.resolve();
      }
    })();
  }

  /** Resolves once the batch with `sequence` is folded in (or the tail stopped). */
  caughtUp(sequence: number): Promise<void> {
    if (this.follower.sequence >= sequence || this.failure !== undefined || this.stopping) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push({ sequence, resolve }));
  }

  /** Stops tailing; the replica keeps what it folded (takeover: then bump the epoch and serve). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.closer?.();
    await this.done;
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].sequence <= this.follower.sequence) {
        this.waiters[i].resolve();
        this.waiters.splice(i, 1);
      }
    }
  }
}
