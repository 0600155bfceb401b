// The node's recent control-plane events for the dashboard's timeline and `xlat64 status`: takeovers
// (with their duration), hand-overs, fences and rejoins of each worker's shard, read from the counters
// the workers already keep (state.takeovers, state.serving, state.epoch, cluster.handovers,
// state.rejoins, state.takeoverSeconds) by sampling them in the main thread. Nothing is added to the
// workers or the packet path. Each event names shard and epoch: with `tracesUi` the dashboard links it to
// the `state.takeover` trace that carries the same two attributes. Steps of `xlat64 drill` received over
// NATS (drill-follower.ts) join the same list, with their trace id.
import type { CounterLayout } from '../../../libs/dataplane/src/index.js';
import type { DrillStep } from '../../state/src/index.js';

export type ShardEventKind = 'serving' | 'takeover' | 'handover' | 'stopped serving' | 'rejoined as standby';

export type ControlEvent = ShardEvent | DrillEvent;

export interface ShardEvent {
  /** ISO time the sample saw it (within one sampling interval of the event). */
  at: string;
  kind: ShardEventKind;
  /** The worker's shard (in cluster state, worker w serves shard w). */
  shard: number;
  epoch: number;
  /** A takeover's time from the decision to serving. */
  takeoverMs?: number;
}

/** A step of an `xlat64 drill` the node received (services/state drill-steps.ts), at its arrival. */
export interface DrillEvent extends Omit<DrillStep, 'at'> {
  at: string;
  kind: 'drill';
  /** The drill's trace, when the drill was traced. */
  traceId?: string;
}

interface Seen {
  serving: boolean;
  epoch: number;
  takeovers: number;
  handovers: number;
  rejoins: number;
}

/** Newest first, at most `capacity` events (the oldest go). */
export class ControlTimeline {
  private readonly index: {
    serving: number;
    epoch: number;
    takeovers: number;
    handovers: number;
    rejoins: number;
    takeoverSeconds: number;
  };
  private readonly seen: (Seen | null)[];
  private readonly list: ControlEvent[] = [];

  constructor(
    layout: CounterLayout,
    private readonly blocks: () => readonly Float64Array[],
    private readonly capacity = 64,
  ) {
    this.index = {
      serving: layout.index('state.serving'),
      epoch: layout.index('state.epoch'),
      takeovers: layout.index('state.takeovers'),
      handovers: layout.index('cluster.handovers'),
      rejoins: layout.index('state.rejoins'),
      takeoverSeconds: layout.index('state.takeoverSeconds'),
    };
    this.seen = [];
  }

  /** Compares every worker's counters with the last sample and records what changed. */
  sample(now: Date): void {
    const at = now.toISOString();
    const i = this.index;
    this.blocks().forEach((c, shard) => {
      const next: Seen = {
        serving: c[i.serving] === 1,
        epoch: c[i.epoch],
        takeovers: c[i.takeovers],
        handovers: c[i.handovers],
        rejoins: c[i.rejoins],
      };
      const last = this.seen[shard] ?? null;
      this.seen[shard] = next;
      if (last === null) {
        // The first sample: a worker already serving (it started as the owner) is the first event.
        if (next.serving) this.add({ at, kind: 'serving', shard, epoch: next.epoch });
        return;
      }
      if (next.takeovers > last.takeovers) {
        const takeoverMs = Math.round(c[i.takeoverSeconds] * 1000);
        this.add({ at, kind: 'takeover', shard, epoch: next.epoch, takeoverMs });
      } else if (next.serving && !last.serving) {
        this.add({ at, kind: 'serving', shard, epoch: next.epoch });
      }
      if (next.handovers > last.handovers) this.add({ at, kind: 'handover', shard, epoch: last.epoch });
      else if (!next.serving && last.serving)
        this.add({ at, kind: 'stopped serving', shard, epoch: last.epoch });
      if (next.rejoins > last.rejoins)
        this.add({ at, kind: 'rejoined as standby', shard, epoch: next.epoch });
    });
  }

  /** A drill step received from NATS. */
  addDrillStep(step: DrillStep, traceId: string | undefined, now: Date): void {
    const event: DrillEvent = { ...step, at: now.toISOString(), kind: 'drill' };
    if (traceId !== undefined) event.traceId = traceId;
    this.add(event);
  }

  events(): ControlEvent[] {
    return this.list.slice();
  }

  private add(event: ControlEvent): void {
    this.list.unshift(event);
    if (this.list.length > this.capacity) this.list.length = this.capacity;
  }
}
