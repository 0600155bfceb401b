// StrykerJS mutation testing (`npm run mutate`; not part of `npm test`: it runs the suites once per
// mutant and takes hours on two cores). Narrow it with `npm run mutate -- --mutate 'libs/packet/src/ipv4.ts'`.
// The report is written to reports/mutation/ (not committed).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  mutate: ['libs/packet/src/**/*.ts', 'libs/xlat/src/**/*.ts', 'services/nat-engine/src/**/*.ts'],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 60_000,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
