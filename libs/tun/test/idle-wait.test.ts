// The idle wait shared by the TUN and AF_XDP queue workers (no kernel needed): a wait cut short by the
// event loop resumes for what is left of its idle period, which still ends (onIdle runs) when the loop
// kept waking it; too many loop wakes in a row leave the loop's fd out until something else happens.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { IdleWait } from '../src/internal.js';

describe('IdleWait', () => {
  it('waits the whole poll timeout, then what is left of a period a loop wake cut short, and ends that period on time', async () => {
    const wait = new IdleWait(40, 7);
    expect(wait.timeoutMs()).toBe(40);
    expect(wait.loopWoken(), 'the first wake starts the period').toBe(false);
    const left = wait.timeoutMs();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(40);
    expect(wait.loopWoken(), 'still inside the period').toBe(false);
    await sleep(50);
    expect(wait.timeoutMs(), 'the period is over: no wait').toBe(0);
    expect(wait.loopWoken(), 'a wake past the period ends it (onIdle runs)').toBe(true);
    expect(wait.timeoutMs(), 'a new period').toBe(40);
    wait.loopWoken();
    wait.reset();
    expect(wait.timeoutMs(), 'anything else ends the cut-short period').toBe(40);
  });

  it("leaves the loop's fd out after 256 loop wakes in a row, until something else ends a wait", () => {
    const wait = new IdleWait(1_000_000, 7);
    for (let i = 0; i < 255; i++) wait.loopWoken();
    expect(wait.loopFdNow()).toBe(7);
    wait.loopWoken();
    expect(wait.loopFdNow()).toBe(-1);
    wait.reset();
    expect(wait.loopFdNow()).toBe(7);
  });
});
