// StrykerJS mutation testing (`npm run mutate`; not part of `npm test`: it runs the suites once per
// mutant, over an hour for the three packages on two cores; libs/packet alone takes minutes).
// Narrow it with `npm run mutate -- --mutate 'libs/packet/src/ipv4.ts'`.
// The report is written to reports/mutation/ (not committed).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  mutate: ['libs/packet/src/**/*.ts', 'libs/xlat/src/**/*.ts', 'services/nat-engine/src/**/*.ts'],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // A mutant's run is killed at 1.5 × its tests' time in the initial run + 5 s: mutants that loop for
  // ever (a loop bound turned around) then cost seconds, not a minute each.
  timeoutMS: 5_000,
  // Results are kept in reports/stryker-incremental.json: an interrupted or repeated run tests only
  // the mutants whose code or tests changed.
  incremental: true,
  // Static mutants (module-level code: constant tables, class fields) run every test file each; on two
  // cores they alone would take a day. They are reported as ignored, not counted in the score.
  ignoreStatic: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
