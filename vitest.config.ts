import { defineConfig } from 'vitest/config';

// One runner for every suite. Suites that touch kernel namespaces or real servers live under
// test/ and run in forks so a stuck child can be killed without taking the runner with it.
export default defineConfig({
  test: {
    include: ['libs/**/*.test.ts', 'services/**/*.test.ts', 'test/**/*.test.ts', 'infra/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'dist/**'],
    pool: 'forks',
    // The first takes down the test lab and any x64t- namespace a crashed suite left behind; the second
    // starts nats-server and redis-server once per run for the state suites (inject('natsUrl')).
    globalSetup: ['infra/lab/global-teardown.ts', 'infra/services/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
