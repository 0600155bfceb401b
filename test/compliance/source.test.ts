// The compliance outbox's source over the asynchronous event log: batches read back and decoded with
// the NAT event codec, undecodable payloads counted (never thrown), and compaction reported through
// firstSequence so the outbox can count what it lost.
import { afterEach, describe, expect, it } from 'vitest';
import { encodeNatEventBatch } from '../../services/nat-engine/src/index.js';
import { EmbeddedEventLog, eventLogSource } from '../../services/state/src/index.js';
import { EngineDriver, temporaryDir } from './support.js';

const T0 = 1_700_000_000_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openDriver(): Promise<{ driver: EngineDriver; path: string }> {
  const dir = temporaryDir();
  const driver = await EngineDriver.open(`${dir.path}/events`, T0);
  cleanups.push(async () => {
    await driver.stop();
    dir.remove();
  });
  return { driver, path: `${dir.path}/events` };
}

describe('eventLogSource over the embedded event log', () => {
  it('returns the written events, decoded, batch by batch and at most batchesMax at a time', async () => {
    // Proves the adapter round-trips the codec: the events read back equal the engine's events in order.
    const { driver } = await openDriver();
    for (let i = 0; i < 12; i++) {
      driver.flow(`2001:db8:${i + 1}::1`, 1000 + i);
      driver.advance(60_000);
    }
    await driver.settle();
    const source = eventLogSource(driver.log, [0]);
    expect(await source.firstSequence(0)).toBe(1);
    const last = await source.lastSequence(0);
    expect(last).toBeGreaterThan(12);
    const firstFive = await source.read(0, 0, 5);
    expect(firstFive.map((b) => b.sequence)).toEqual([1, 2, 3, 4, 5]);
    const all = await source.read(0, 0, 10_000);
    expect(all.map((b) => b.sequence)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(all.flatMap((b) => b.events)).toEqual(driver.events);
    expect(await source.read(0, last, 10)).toEqual([]);
    expect(source.status?.()).toEqual({ undecodableBatches: 0, blockedBy: null, lastRefusal: null });
  });

  it('forwards a malformed payload as an empty batch and counts it; stops before a newer-version one', async () => {
    // Proves bad payloads never throw into the outbox loop: malformed ones are counted and skipped
    // (the sequence stays gap-free), a payload of a newer build holds the source there and says why.
    const dir = temporaryDir();
    const log = await EmbeddedEventLog.open(`${dir.path}/events`);
    cleanups.push(async () => {
      await log.stop();
      dir.remove();
    });
    const { driver } = await openDriver();
    driver.flow('2001:db8:1::1', 1000);
    const good = encodeNatEventBatch(driver.events);
    const malformed = good.subarray(0, good.length - 1);
    const newer = Uint8Array.from(good);
    newer[0] = 255;
    const payloads = [good, malformed, good, newer, good];
    for (let i = 0; i < payloads.length; i++) {
      await log.append({ shard: 0, epoch: 0, sequence: i + 1, eventCount: 1, payload: payloads[i] });
    }
    const source = eventLogSource(log, [0]);
    const read = await source.read(0, 0, 100);
    expect(read.map((b) => [b.sequence, b.events.length])).toEqual([
      [1, driver.events.length],
      [2, 0],
      [3, driver.events.length],
    ]);
    const status = source.status?.();
    expect(status?.undecodableBatches).toBe(1);
    expect(status?.blockedBy).toMatch(/shard 0 sequence 4: .*newer/);
    expect(await source.read(0, 3, 100)).toEqual([]);
    expect(source.status?.().undecodableBatches).toBe(1);
  });

  it('reports the first retained sequence after a snapshot compacted the log, and reads from there', async () => {
    // Proves compaction reaches the outbox as firstSequence (so it counts the dropped batches as lost)
    // and that a read started before the compaction point returns nothing instead of throwing.
    const { driver } = await openDriver();
    for (let i = 0; i < 6; i++) {
      driver.flow(`2001:db8:${i + 1}::1`, 1000 + i);
      driver.advance(60_000);
    }
    await driver.settle();
    const source = eventLogSource(driver.log, [0]);
    const last = await source.lastSequence(0);
    await driver.log.put({ shard: 0, epoch: 0, sequence: 4, timeMs: T0, payload: new Uint8Array(8) });
    driver.flow('2001:db8:99::1', 9000);
    await driver.settle();
    expect(await source.firstSequence(0)).toBe(5);
    expect(await source.read(0, 0, 100)).toEqual([]);
    const tail = await source.read(0, 4, 100);
    expect(tail.map((b) => b.sequence)).toEqual(Array.from({ length: last + 1 - 4 }, (_, i) => i + 5));
  });
});
