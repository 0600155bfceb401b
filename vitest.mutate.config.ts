import { defineConfig } from 'vitest/config';

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
    ],
    pool: 'forks',
    testTimeout: 60_000,
  },
});
