// The follower folds a shard's batches strictly in sequence: duplicates are skipped, a gap, a stale
// epoch, a newer payload version or a malformed payload is refused as a value with a counter and leaves
// the state and position untouched, and a newer epoch is taken over.
import { describe, expect, it } from 'vitest';
import {
  ArrayEventSink,
  createFlowKey6,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  dumpState,
  encodeNatEventBatch,
  type NatEvent,
  Protocol,
} from '../../nat-engine/src/index.js';
import type { EventBatch } from '../src/event-log.js';
import { NatShardFollower } from '../src/nat-shard-follower.js';

function eventsOfTwoFlows(): { events: NatEvent[]; engine: ReturnType<typeof createNatEngine> } {
  const sink = new ArrayEventSink();
  const engine = createNatEngine(
    { pool: ['203.0.113.0/30'], sessionsMax: 64 },
    { sink, random: createSeededRandom(1), startMs: 0 },
  );
  const key = createFlowKey6();
  for (const port of [5000, 5001]) {
    Object.assign(key, { protocol: Protocol.Udp, srcPort: port, dst4: 0xc6336401, dstPort: 53 });
    key.src6.set([0x20010db8, 0x100, 0, 1]);
    engine.outbound6(key, port);
  }
  return { events: sink.events, engine };
}

const batch = (sequence: number, events: NatEvent[], epoch = 1): EventBatch => ({
  shard: 4,
  epoch,
  sequence,
  eventCount: events.length,
  payload: encodeNatEventBatch(events),
});

describe('NAT shard follower', () => {
  it('proves batches apply in order, duplicates are skipped, and gaps and stale epochs are refused without touching the state', () => {
    const { events, engine } = eventsOfTwoFlows();
    const state = createReplayState(engine.config, 0);
    const follower = new NatShardFollower(state, 4, { sequence: 0, epoch: 1 });
    const first = events.slice(0, 3);
    const second = events.slice(3);
    expect(follower.apply(batch(1, first))).toBe('applied');
    expect(follower.apply(batch(1, first))).toBe('duplicate');
    expect(follower.apply(batch(3, second))).toBe('gap');
    expect(follower.lastRefusal).toBe('shard 4: batch 3 follows 1 (batches 2-2 missing)');
    expect(follower.apply(batch(2, second, 0))).toBe('stale-epoch');
    expect(state.sessionCount).toBe(1);
    expect(follower.sequence).toBe(1);
    expect(follower.apply(batch(2, second, 2))).toBe('applied');
    expect(follower.epoch).toBe(2);
    expect(dumpState(state)).toEqual(dumpState(engine.state, { expiry: 'logged' }));
    expect(follower.counters).toEqual({
      appliedBatches: 2,
      appliedEvents: events.length,
      duplicateBatches: 1,
      gaps: 1,
      staleEpochBatches: 1,
      refusedNewerVersion: 0,
      refusedMalformed: 0,
      inconsistentBatches: 0,
      epochStarts: 0,
    });
    // A new owner's epoch start (no events): sequence and epoch move, the state does not.
    const before = dumpState(state);
    const start = { ...batch(3, second, 3), eventCount: 0, payload: new Uint8Array(0) };
    expect(follower.apply(start)).toBe('applied');
    expect([follower.sequence, follower.epoch, follower.counters.epochStarts]).toEqual([3, 3, 1]);
    expect(dumpState(state)).toEqual(before);
  });

  it('proves a newer payload version and a malformed payload are refused and counted, and the follower stays put', () => {
    const { events, engine } = eventsOfTwoFlows();
    const state = createReplayState(engine.config, 0);
    const follower = new NatShardFollower(state, 4, { sequence: 0, epoch: 1 });
    const newer = batch(1, events);
    newer.payload[0] = 9;
    expect(follower.apply(newer)).toBe('newer-version');
    expect(follower.lastRefusal).toMatch(/version 9 is newer than this build's 1/);
    const cut = batch(1, events);
    expect(follower.apply({ ...cut, payload: cut.payload.subarray(0, cut.payload.length - 1) })).toBe(
      'malformed',
    );
    // An event that does not fit the state (a session of an unknown mapping) is "inconsistent", not a throw.
    expect(follower.apply(batch(1, events.slice(2)))).toBe('inconsistent');
    expect(follower.counters).toMatchObject({
      refusedNewerVersion: 1,
      refusedMalformed: 1,
      inconsistentBatches: 1,
      appliedBatches: 0,
    });
    expect(follower.sequence).toBe(0);
    expect(state.sessionCount).toBe(0);
  });
});
