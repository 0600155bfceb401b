// Garbage collections during a stretch of synchronous work: how the allocation tests and the
// per-packet benchmarks see whether a path allocates (a GC is the young generation filling up).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
/** A full collection on demand (the flag set above exposes `gc` to contexts created after it). */
const collectNow = runInNewContext('gc') as () => void;

export interface Measured<T> {
  /** What `work` returned. */
  value: T;
  /** Wall time of `work`, in nanoseconds. */
  ns: number;
  /** Garbage collections while it ran. */
  collections: number;
}

/** Runs `work` synchronously, counting garbage collections (their entries arrive asynchronously). */
export async function measure<T>(work: () => T): Promise<Measured<T>> {
  let collections = 0;
  const observer = new PerformanceObserver((list) => {
    collections += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  const start = process.hrtime.bigint();
  const value = work();
  const ns = Number(process.hrtime.bigint() - start);
  await new Promise((resolve) => setTimeout(resolve, 20));
  observer.disconnect();
  return { value, ns, collections };
}

/** Per-operation figures of a benchmark case. */
export interface Timing {
  /** Nanoseconds per operation. */
  ns: number;
  /** Garbage collections, summed over the runs. */
  gcs: number;
}

/**
 * `work` (which performs `operations` operations and returns how many succeeded) run `runs` times: the
 * best time per operation (the machine is shared) and the collections of all runs. Throws when an
 * operation failed, so a figure never hides dropped work.
 */
export async function bestOf(runs: number, work: () => number, operations: number): Promise<Timing> {
  let ns = Number.POSITIVE_INFINITY;
  let gcs = 0;
  for (let i = 0; i < runs; i++) {
    const m = await measure(work);
    if (m.value !== operations) throw new Error(`${operations - m.value} of ${operations} operations failed`);
    ns = Math.min(ns, m.ns / operations);
    gcs += m.collections;
  }
  return { ns, gcs };
}

/**
 * The fewest garbage collections over up to `roundsMax` runs of `work`, stopping at the first run with
 * none. The optimiser compiles in the background (later under load), and code that has not been
 * optimised yet boxes numbers the optimised code keeps in registers; a path that really allocates
 * collects in every run, so the figure still says whether it does. Each run starts right after a
 * full collection (before observing), so the young generation is empty: a collection inside the run
 * is paid for by the run's own allocations, not by whatever the test runner allocated before it.
 */
export async function fewestCollections(work: () => unknown, roundsMax = 8): Promise<number> {
  let least = Number.POSITIVE_INFINITY;
  for (let round = 0; round < roundsMax && least > 0; round++) {
    collectNow();
    least = Math.min(least, (await measure(work)).collections);
  }
  return least;
}
