// Proves the alerting rules load in Prometheus (promtool check rules) and fire as their comments say:
// promtool test rules (Debian's prometheus package) evaluates them over series where each alert should
// fire, after its `for`, and not before (xlat64-alerts.test.yml). That the metrics they name are the
// ones xlat64 exports is checked against real scrapes (test/compliance/kafka-restart.test.ts for the
// compliance ones, test/e2e/takeover.test.ts through a real Prometheus for the replication ones).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));
const promtool = (...args: string[]) =>
  spawnSync('promtool', args, { cwd: here, encoding: 'utf8', timeout: 60_000 });

describe('xlat64 alerting rules', () => {
  it('load in Prometheus: promtool check rules finds every rule', () => {
    const result = promtool('check', 'rules', 'xlat64-alerts.yml');
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS: 4 rules found');
  });

  it('fire on the series that should raise them, after their hold time, and not before', () => {
    const result = promtool('test', 'rules', 'xlat64-alerts.test.yml');
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });
});
