import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// StrykerJS stops a mutant's run at its first failing test (bail), so the file order decides what a
// killed mutant costs. Vitest runs the longest files first; here the shortest known files run first, so
// a mutant that a directed test kills does not wait for the replay, snapshot and codec sweeps
// (services/nat-engine: 2-4 s each, against tens of ms for the directed files).
class ShortestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const cost = (file: TestSpecification): number => {
      const key = `${file.project.name}:${relative(this.ctx.config.root, file.moduleId)}`;
      return cache.getFileTestResults(key)?.duration ?? Number.POSITIVE_INFINITY;
    };
    return [...files].sort((a, b) => {
      const ca = cost(a);
      const cb = cost(b);
      return ca === cb ? 0 : ca < cb ? -1 : 1;
    });
  }
}

// The suites StrykerJS runs against each mutant (`npm run mutate`): the unit suites of the mutated
// packages and the golden vectors. No lab, no namespaces, no GC-counting allocation tests (their
// instrumented code allocates by design), no global teardown: nothing here touches the system.
export default defineConfig({
  test: {
    include: [
      'libs/packet/test/**/*.test.ts',
      'libs/xlat/test/**/*.test.ts',
      'services/nat-engine/test/**/*.test.ts',
      'test/vectors/**/*.test.ts',
    ],
    // The 50,000-packet offset and robustness sweeps take ~20 s each and cover every mutant of the
    // packet path, which would make one run last days on two cores; the golden vectors and unit
    // suites are what the score measures.
    exclude: [
      '**/node_modules/**',
      'dist/**',
      '**/*allocation*.test.ts',
      'libs/xlat/test/offsets.test.ts',
      'libs/xlat/test/robustness.test.ts',
      // Shards racing in worker threads (3.7 s): a mutant is switched on through the test thread's
      // global, so the workers run unmutated code and the test re-checks only main-thread setup that
      // shared-pool.test.ts and config-contract.test.ts cover directly.
      'services/nat-engine/test/shared-pool-race.test.ts',
    ],
    pool: 'forks',
    sequence: { sequencer: ShortestFirstSequencer },
    testTimeout: 60_000,
  },
});
