// Vitest global setup/teardown for suites that touch kernel namespaces: after a run (also when a test
// file crashed or its fork was killed before its afterAll ran) it removes the x64t- namespaces that
// run's suites left behind. Several runs share a machine, so a namespace is only removed when the
// process that created it is gone: creators record themselves with recordNamespaceOwner() (the lab
// does it through X64_LAB_OWNER_PID); names ending in -<pid> count as owned by that PID.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TEST_PREFIX = 'x64t-';
export const OWNER_DIR = '/run/x64t-owners';

/** Records `pid` (default: this process) as the owner of namespace `ns`; best effort. */
export function recordNamespaceOwner(ns: string, pid: number = process.pid): void {
  try {
    mkdirSync(OWNER_DIR, { recursive: true });
    writeFileSync(`${OWNER_DIR}/${ns}`, `${pid}\n`);
  } catch {
    // Not root: the namespace could not have been created either.
  }
}

export function forgetNamespaceOwner(ns: string): void {
  rmSync(`${OWNER_DIR}/${ns}`, { force: true });
}

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.split(' ')[0];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}

/** PID that owns `ns`, or undefined when nobody recorded one. */
function ownerOf(ns: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${OWNER_DIR}/${ns}`, 'utf8').trim());
    if (pid > 0) return pid;
  } catch {}
  const suffix = /-(\d+)$/.exec(ns);
  return suffix ? Number(suffix[1]) : undefined;
}

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

/** Removes the x64t- namespaces whose owner is gone (or unknown); returns their names. */
export function removeTestNamespaces(): string[] {
  const orphans = leftoverTestNamespaces().filter((ns) => {
    const owner = ownerOf(ns);
    return owner === undefined || !alive(owner);
  });
  // A lab of infra/lab/lab.test.ts (x64t-lab-<pid>-client, ...) recorded the PIDs it started in
  // /tmp/x64t-lab-<pid>: let lab.sh stop them before the namespaces go.
  const labs = new Set(orphans.map((ns) => /^(x64t-lab-\d+)-(?:client|plat|server)$/.exec(ns)?.[1]));
  for (const prefix of labs) {
    if (prefix === undefined) continue;
    try {
      execFileSync('bash', [fileURLToPath(new URL('./lab.sh', import.meta.url)), 'down'], {
        env: { ...process.env, X64_LAB_PREFIX: prefix, X64_LAB_RUN: `/tmp/${prefix}` },
        stdio: 'ignore',
      });
    } catch {
      // Already down; the sweep below removes what is left.
    }
  }
  // A cluster lab of test/e2e/cluster-lab.test.ts (x64t-cl-<pid>-router, -n1, …): cluster-lab.sh stops the
  // PLATs, BIRDs and servers it recorded in /tmp/x64t-cl-<pid>.
  const clusters = new Set(orphans.map((ns) => /^(x64t-cl-\d+)-(?:router|client|server|n\d)$/.exec(ns)?.[1]));
  for (const prefix of clusters) {
    if (prefix === undefined) continue;
    try {
      execFileSync('bash', [fileURLToPath(new URL('./cluster-lab.sh', import.meta.url)), 'down'], {
        env: { ...process.env, X64_LAB_PREFIX: prefix, X64_LAB_RUN: `/tmp/${prefix}` },
        stdio: 'ignore',
      });
    } catch {
      // Already down; the sweep below removes what is left.
    }
  }
  for (const ns of orphans) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // Already gone (lab.sh down above), or not permitted.
    }
    forgetNamespaceOwner(ns);
  }
  const left = leftoverTestNamespaces();
  forgetStaleOwners(left);
  return orphans.filter((ns) => !left.includes(ns));
}

/** Removes owner records of namespaces that no longer exist and whose owner is gone. */
function forgetStaleOwners(existing: readonly string[]): void {
  let names: string[] = [];
  try {
    names = readdirSync(OWNER_DIR);
  } catch {
    return; // nothing recorded
  }
  for (const ns of names) {
    const owner = ownerOf(ns);
    if (!existing.includes(ns) && (owner === undefined || !alive(owner))) forgetNamespaceOwner(ns);
  }
}

export default function setup(): () => void {
  return () => {
    const removed = removeTestNamespaces();
    if (removed.length > 0) {
      process.stderr.write(`global teardown: removed namespaces left by tests: ${removed.join(', ')}\n`);
    }
  };
}
