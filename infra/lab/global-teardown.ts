// Vitest global setup/teardown for suites that touch kernel namespaces: after the whole run (also
// when a test file crashed or its fork was killed before its afterAll ran) it takes the test lab
// down through lab.sh (which kills only the PIDs it recorded) and deletes any namespace left with the
// test prefix x64t-. Wire it in vitest.config.ts: `globalSetup: ['infra/lab/global-teardown.ts']`.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TEST_PREFIX = 'x64t-';

export function leftoverTestNamespaces(): string[] {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // no iproute2 or no permission: nothing we could have created
  }
  return list
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name.startsWith(TEST_PREFIX));
}

export function removeTestNamespaces(): string[] {
  const lab = fileURLToPath(new URL('./lab.sh', import.meta.url));
  try {
    execFileSync('bash', [lab, 'down'], {
      env: { ...process.env, X64_LAB_PREFIX: 'x64t-lab', X64_LAB_RUN: '/tmp/x64t-lab' },
      stdio: 'ignore',
    });
  } catch {
    // Nothing was up, or not root: the namespace sweep below reports what is left.
  }
  const removed: string[] = [];
  for (const ns of leftoverTestNamespaces()) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      removed.push(ns);
    } catch {
      // Already gone, or not permitted; a later run retries.
    }
  }
  return removed;
}

export default function setup(): () => void {
  return () => {
    const removed = removeTestNamespaces();
    if (removed.length > 0) {
      process.stderr.write(`global teardown: removed namespaces left by tests: ${removed.join(', ')}\n`);
    }
  };
}
