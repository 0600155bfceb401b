// The timer wheel visits every entity no earlier than its due time and at most one tick late, including
// deadlines beyond one turn of the wheel (re-added lazily), and removal unschedules.
import { describe, expect, it } from 'vitest';
import { TimerWheel } from '../src/internal.js';

describe('timer wheel', () => {
  it('proves entities are visited after their due time, within one tick, across many turns of the wheel', () => {
    const wheel = new TimerWheel(100, 8, 1000, 0);
    const due = new Float64Array(100);
    const visitedAt = new Float64Array(100).fill(-1);
    for (let e = 0; e < 100; e++) {
      due[e] = e * 997 + (e % 7) * 13_000;
      wheel.add(e, due[e]);
    }
    wheel.remove(50);
    for (let now = 0; now <= 300_000; now += 250) {
      wheel.advance(now, (e) => {
        if (due[e] > now) wheel.add(e, due[e]);
        else visitedAt[e] = now;
      });
    }
    for (let e = 0; e < 100; e++) {
      if (e === 50) {
        expect(visitedAt[e]).toBe(-1);
        continue;
      }
      expect(visitedAt[e]).toBeGreaterThanOrEqual(due[e]);
      expect(visitedAt[e]).toBeLessThanOrEqual(due[e] + 1000);
    }
  });

  it('proves a long gap between advances (a standby taking over) still visits everything due', () => {
    const wheel = new TimerWheel(10, 4, 1000, 0);
    for (let e = 0; e < 10; e++) wheel.add(e, e * 1500);
    const seen: number[] = [];
    wheel.advance(1_000_000, (e) => seen.push(e));
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
