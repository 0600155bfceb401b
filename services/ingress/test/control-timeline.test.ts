// The control-plane timeline (src/control-timeline.ts) read from the workers' state counters: a worker
// that starts serving, a standby's takeover with its duration, a graceful hand-over, a fence and the
// rejoin after it each become one event naming shard and epoch, newest first, and the list is bounded.
import { describe, expect, it } from 'vitest';
import { ControlTimeline } from '../src/control-timeline.js';
import { platCounterLayout } from '../src/plat-queue-handler.js';

const layout = platCounterLayout(undefined);
const at = (name: string) => layout.index(name);

function workers(n: number): Float64Array[] {
  return Array.from({ length: n }, () => new Float64Array(layout.names.length));
}

const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 3, 0, s));

describe('ControlTimeline', () => {
  it('records a worker serving from the start, a standby taking over, a hand-over and a fence with its rejoin', () => {
    const blocks = workers(2);
    const timeline = new ControlTimeline(layout, () => blocks);
    // Worker 0 owns shard 0 at epoch 1 when the node starts; worker 1 is a standby.
    blocks[0][at('state.serving')] = 1;
    blocks[0][at('state.epoch')] = 1;
    timeline.sample(t(0));
    expect(timeline.events()).toEqual([{ at: t(0).toISOString(), kind: 'serving', shard: 0, epoch: 1 }]);

    // Nothing changed: nothing recorded.
    timeline.sample(t(1));
    expect(timeline.events()).toHaveLength(1);

    // Worker 1 takes shard 1 over at epoch 4 in 812 ms.
    blocks[1][at('state.serving')] = 1;
    blocks[1][at('state.epoch')] = 4;
    blocks[1][at('state.takeovers')] = 1;
    blocks[1][at('state.takeoverSeconds')] = 0.812;
    timeline.sample(t(2));
    expect(timeline.events()[0]).toEqual({
      at: t(2).toISOString(),
      kind: 'takeover',
      shard: 1,
      epoch: 4,
      takeoverMs: 812,
    });

    // Worker 0 hands its shard over (table change): one hand-over event at the epoch it served.
    blocks[0][at('state.serving')] = 0;
    blocks[0][at('cluster.handovers')] = 1;
    timeline.sample(t(3));
    expect(timeline.events()[0]).toEqual({ at: t(3).toISOString(), kind: 'handover', shard: 0, epoch: 1 });

    // Worker 1 is fenced (a newer epoch took its record), then rejoins as a standby.
    blocks[1][at('state.serving')] = 0;
    timeline.sample(t(4));
    blocks[1][at('state.rejoins')] = 1;
    blocks[1][at('state.epoch')] = 5;
    timeline.sample(t(5));
    expect(timeline.events().slice(0, 2)).toEqual([
      { at: t(5).toISOString(), kind: 'rejoined as standby', shard: 1, epoch: 5 },
      { at: t(4).toISOString(), kind: 'stopped serving', shard: 1, epoch: 4 },
    ]);
    expect(timeline.events().map((e) => e.kind)).toEqual([
      'rejoined as standby',
      'stopped serving',
      'handover',
      'takeover',
      'serving',
    ]);
  });

  it('keeps the newest events up to its capacity', () => {
    const blocks = workers(1);
    const timeline = new ControlTimeline(layout, () => blocks, 3);
    timeline.sample(t(0));
    for (let n = 1; n <= 5; n++) {
      blocks[0][at('state.takeovers')] = n;
      blocks[0][at('state.epoch')] = n;
      timeline.sample(t(n));
    }
    expect(timeline.events().map((e) => (e.kind === 'drill' ? -1 : e.epoch))).toEqual([5, 4, 3]);
  });
});

describe('ControlTimeline drill steps', () => {
  it('puts a received drill step among the shard events, newest first, with its trace id', () => {
    const blocks = workers(1);
    const timeline = new ControlTimeline(layout, () => blocks);
    blocks[0][at('state.serving')] = 1;
    blocks[0][at('state.epoch')] = 1;
    timeline.sample(t(0));
    timeline.addDrillStep(
      { drill: 'run-1', index: 0, step: 'fault', node: 'n1', fault: 'kill', at: t(1).toISOString() },
      '4bf92f3577b34da6a3ce929d0e0e4736',
      t(2),
    );
    expect(timeline.events()).toEqual([
      {
        drill: 'run-1',
        index: 0,
        step: 'fault',
        node: 'n1',
        fault: 'kill',
        at: t(2).toISOString(),
        kind: 'drill',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      },
      { at: t(0).toISOString(), kind: 'serving', shard: 0, epoch: 1 },
    ]);
  });
});
