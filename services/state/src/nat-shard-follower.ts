// Folds one shard's batches into a NatState in log order, as a restart and a standby do: each batch must
// be the next sequence of the shard (a duplicate is skipped, a gap is refused and the follower stays where
// it is), of the current epoch or a newer one (an older epoch is a stale writer's: dropped), and decode
// with this build's codec (a newer version is refused, never misread). Every outcome is a value and a
// counter; nothing here throws into the caller's loop. A batch of no events and an empty payload is an
// epoch start (a new owner's first append, cluster-nat-store.ts): it moves the sequence and the epoch.
import {
  applyEvent,
  EventApplied,
  type NatEvent,
  NatEventDecoder,
  type NatState,
} from '../../nat-engine/src/index.js';
import type { EventBatch } from './event-log.js';

export type FollowOutcome =
  | 'applied'
  | 'duplicate'
  | 'gap'
  | 'stale-epoch'
  | 'newer-version'
  | 'malformed'
  /** The events decoded but do not fit the state (a log that is not this state's history). */
  | 'inconsistent';

export interface FollowerCounters {
  appliedBatches: number;
  appliedEvents: number;
  duplicateBatches: number;
  gaps: number;
  staleEpochBatches: number;
  refusedNewerVersion: number;
  refusedMalformed: number;
  inconsistentBatches: number;
  /** Epoch-start batches (no events) folded. */
  epochStarts: number;
}

export class NatShardFollower {
  private readonly decoder = new NatEventDecoder();
  readonly counters: FollowerCounters = {
    appliedBatches: 0,
    appliedEvents: 0,
    duplicateBatches: 0,
    gaps: 0,
    staleEpochBatches: 0,
    refusedNewerVersion: 0,
    refusedMalformed: 0,
    inconsistentBatches: 0,
    epochStarts: 0,
  };
  /** The last refusal's explanation, for status and start-up errors. */
  lastRefusal: string | null = null;
  private sequenceValue: number;
  private epochValue: number;

  constructor(
    readonly state: NatState,
    readonly shard: number,
    /** Where the state stands: the snapshot's (or 0, 0 for an empty state). */
    from: { sequence: number; epoch: number },
    /** Told each event once it is folded in (a standby's node keeps its IPv4 block routes from them). */
    private readonly onEvent?: (event: NatEvent) => void,
  ) {
    this.sequenceValue = from.sequence;
    this.epochValue = from.epoch;
  }

  /** Last sequence folded in. */
  get sequence(): number {
    return this.sequenceValue;
  }

  get epoch(): number {
    return this.epochValue;
  }

  apply(batch: EventBatch): FollowOutcome {
    if (batch.shard !== this.shard)
      return this.refused('malformed', `batch of shard ${batch.shard} on shard ${this.shard}`);
    if (batch.sequence <= this.sequenceValue) {
      this.counters.duplicateBatches++;
      return 'duplicate';
    }
    if (batch.sequence !== this.sequenceValue + 1) {
      this.counters.gaps++;
      return this.refused(
        'gap',
        `shard ${this.shard}: batch ${batch.sequence} follows ${this.sequenceValue} (batches ${this.sequenceValue + 1}-${batch.sequence - 1} missing)`,
      );
    }
    if (batch.epoch < this.epochValue) {
      this.counters.staleEpochBatches++;
      return this.refused(
        'stale-epoch',
        `shard ${this.shard}: batch ${batch.sequence} of epoch ${batch.epoch} < ${this.epochValue}`,
      );
    }
    if (batch.eventCount === 0 && batch.payload.length === 0) {
      this.sequenceValue = batch.sequence;
      this.epochValue = batch.epoch;
      this.counters.appliedBatches++;
      this.counters.epochStarts++;
      return 'applied';
    }
    const decoded = this.decoder.decode(batch.payload, batch.shard, batch.epoch);
    if (!decoded.ok) {
      if (decoded.refusal === 'newer-version') this.counters.refusedNewerVersion++;
      else this.counters.refusedMalformed++;
      return this.refused(
        decoded.refusal === 'newer-version' ? 'newer-version' : 'malformed',
        decoded.message,
      );
    }
    let applied = 0;
    try {
      for (const event of decoded.events) {
        if (applyEvent(this.state, event) !== EventApplied.Applied) break;
        applied++;
        this.onEvent?.(event);
      }
    } catch (error) {
      // A reducer assertion: the batch does not fit this state. What was applied stays; the follower stops here.
      this.counters.inconsistentBatches++;
      return this.refused(
        'inconsistent',
        `shard ${this.shard}: batch ${batch.sequence} event ${applied}: ${(error as Error).message}`,
      );
    }
    if (applied !== decoded.events.length) {
      this.counters.refusedNewerVersion++;
      return this.refused(
        'newer-version',
        `shard ${this.shard}: batch ${batch.sequence} holds an event of another schema version`,
      );
    }
    this.sequenceValue = batch.sequence;
    this.epochValue = batch.epoch;
    this.counters.appliedBatches++;
    this.counters.appliedEvents += applied;
    return 'applied';
  }

  private refused(outcome: FollowOutcome, message: string): FollowOutcome {
    this.lastRefusal = message;
    return outcome;
  }
}
