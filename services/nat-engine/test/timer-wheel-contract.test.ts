// Proves the timer wheel's documented contract entity by entity: an entity due at d is visited at the
// first tick after d (never at d's own tick, never later), a past deadline waits for the next tick, a
// removed or visited entity is no longer scheduled, re-adding moves an entity instead of listing it
// twice, removing one entity of a slot keeps its neighbours, and an entity re-added into the slot being
// visited waits for that slot's next turn. Expected ticks are worked out by hand from tickMs = 1000.
import { describe, expect, it } from 'vitest';
import { TimerWheel } from '../src/internal.js';

/** Advances to `nowMs` and returns the entities visited, in visit order. */
function visitAt(wheel: TimerWheel, nowMs: number, visit?: (e: number) => void): number[] {
  const seen: number[] = [];
  wheel.advance(nowMs, (e) => {
    seen.push(e);
    visit?.(e);
  });
  return seen;
}

describe('timer wheel contract', () => {
  it('refuses a zero or fractional capacity and a slot count that is not a power of two', () => {
    expect(() => new TimerWheel(0, 8, 1000, 0)).toThrow(/wheel capacity/);
    expect(() => new TimerWheel(1.5, 8, 1000, 0)).toThrow(/wheel capacity/);
    expect(() => new TimerWheel(4, 6, 1000, 0)).toThrow(/power of two/);
    expect(() => new TimerWheel(4, 0, 1000, 0)).toThrow(/power of two/);
    expect(() => new TimerWheel(1, 1, 1000, 0)).not.toThrow();
  });

  it('visits an entity due at 2000 ms at the 3000 ms tick, and one due at 2999 ms at the same tick', () => {
    const wheel = new TimerWheel(4, 8, 1000, 0);
    wheel.add(0, 2000);
    wheel.add(1, 2999);
    expect(wheel.isScheduled(0)).toBe(true);
    expect(visitAt(wheel, 2000)).toEqual([]);
    expect(visitAt(wheel, 2999)).toEqual([]);
    expect(visitAt(wheel, 3000)).toEqual([0, 1]);
    expect(wheel.isScheduled(0)).toBe(false);
    expect(wheel.isScheduled(1)).toBe(false);
    expect(visitAt(wheel, 20_000)).toEqual([]);
  });

  it('schedules a deadline already past for the next tick after the last one visited, not the one visited', () => {
    // Start at 5500 ms: tick 5 counts as visited, so a deadline of 1000 ms comes due at tick 6.
    const wheel = new TimerWheel(2, 8, 1000, 5500);
    wheel.add(0, 1000);
    expect(visitAt(wheel, 5999)).toEqual([]);
    expect(visitAt(wheel, 6000)).toEqual([0]);
    // After advancing to 9000 ms, the same past deadline waits for tick 10.
    visitAt(wheel, 9000);
    wheel.add(1, 1000);
    expect(visitAt(wheel, 9999)).toEqual([]);
    expect(visitAt(wheel, 10_000)).toEqual([1]);
  });

  it('moves a re-added entity to its new deadline instead of listing it twice', () => {
    const wheel = new TimerWheel(3, 8, 1000, 0);
    wheel.add(0, 1000);
    wheel.add(1, 1000);
    wheel.add(0, 4000);
    expect(visitAt(wheel, 2000)).toEqual([1]);
    expect(visitAt(wheel, 5000)).toEqual([0]);
    expect(visitAt(wheel, 50_000)).toEqual([]);
  });

  it('removes the first, middle or last entity of a slot and keeps the others, and removing twice is harmless', () => {
    for (const removed of [0, 1, 2]) {
      const wheel = new TimerWheel(3, 4, 1000, 0);
      for (let e = 0; e < 3; e++) wheel.add(e, 1000);
      wheel.remove(removed);
      wheel.remove(removed);
      expect(wheel.isScheduled(removed)).toBe(false);
      expect(visitAt(wheel, 2000)).toEqual([0, 1, 2].filter((e) => e !== removed));
      // The slot is empty and usable again: a new entity in it is visited on the slot's next turn.
      wheel.add(removed, 5000);
      expect(visitAt(wheel, 5999)).toEqual([]);
      expect(visitAt(wheel, 6000)).toEqual([removed]);
    }
  });

  it('visits due slots in tick order and leaves an entity re-added into the visited slot for its next turn', () => {
    const wheel = new TimerWheel(3, 4, 1000, 0);
    wheel.add(2, 2000); // tick 3
    wheel.add(1, 1000); // tick 2
    wheel.add(0, 0); // tick 1
    const order = visitAt(wheel, 3000, (e) => {
      // Entity 0 comes back 4 ticks later: tick 5, the same slot (5 & 3 = 1) one turn on.
      if (e === 0) wheel.add(0, 4000);
    });
    expect(order).toEqual([0, 1, 2]);
    expect(wheel.isScheduled(0)).toBe(true);
    expect(visitAt(wheel, 4999)).toEqual([]);
    expect(visitAt(wheel, 5000)).toEqual([0]);
  });

  it('visits nothing again when advanced to an earlier or the same time, and does not go back a tick', () => {
    const wheel = new TimerWheel(2, 8, 1000, 0);
    wheel.add(0, 3000);
    expect(visitAt(wheel, 4000)).toEqual([0]);
    // Due at tick 12, in slot 4 (12 & 7) next to the ticks already visited: a wheel that went back to
    // tick 2 would visit it early at 4000 ms.
    wheel.add(1, 11_000);
    expect(visitAt(wheel, 2000)).toEqual([]);
    expect(visitAt(wheel, 4000)).toEqual([]);
    expect(visitAt(wheel, 11_999)).toEqual([]);
    expect(visitAt(wheel, 12_000)).toEqual([1]);
  });

  it('after a gap longer than a turn visits the last turn of slots in the order they came due', () => {
    // 4 slots: entities due at ticks 1..4 sit in slots 1, 2, 3, 0. Advancing to tick 100 visits ticks
    // 97..100, i.e. slots 1, 2, 3, 0: oldest first.
    const wheel = new TimerWheel(4, 4, 1000, 0);
    for (let e = 0; e < 4; e++) wheel.add(e, e * 1000);
    expect(visitAt(wheel, 100_000)).toEqual([0, 1, 2, 3]);
  });
});
