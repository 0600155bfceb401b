// Test helpers for kernel network namespaces: create one with the lab's sysctls (no DAD, no RA,
// no rp_filter), run commands in it, delete it after killing the processes we started by PID.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { forgetNamespaceOwner, recordNamespaceOwner } from '../../../infra/lab/global-teardown.js';

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function inNs(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function deleteNamespace(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // Not there: nothing to delete.
  }
  forgetNamespaceOwner(ns);
}

export function createNamespace(ns: string): string {
  deleteNamespace(ns);
  // Ours while this test process lives: another run's global teardown must not remove it.
  // Recorded before the namespace exists, so no teardown ever sees it without an owner.
  recordNamespaceOwner(ns);
  ip('netns', 'add', ns);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  inNs(
    ns,
    'sysctl',
    '-qw',
    'net.ipv6.conf.all.accept_dad=0',
    'net.ipv6.conf.default.accept_dad=0',
    'net.ipv6.conf.all.accept_ra=0',
    'net.ipv6.conf.default.accept_ra=0',
    'net.ipv4.conf.all.rp_filter=0',
    'net.ipv4.conf.default.rp_filter=0',
  );
  return `/run/netns/${ns}`;
}

export interface Child {
  process: ChildProcess;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Everything the child wrote to stdout so far. */
  stdout(): string;
  stderr(): string;
  kill(): Promise<void>;
}

/** Starts `command` inside `ns`; kill() stops it by the PID we started, never by name. */
export function spawnInNs(ns: string, command: string[]): Child {
  const child = spawn('ip', ['netns', 'exec', ns, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    process: child,
    exit,
    stdout: () => stdout,
    stderr: () => stderr,
    async kill() {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await exit;
    },
  };
}
