// Applies the kernel configuration a translator role needs (link up, MTU, addresses, routes,
// sysctls) through iproute2, remembering how to undo each step, so that `stop` removes exactly
// what `start` added — also after a failure halfway through start.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DataplaneError } from './errors.js';

export interface SetupStep {
  /** Human-readable, for logs and error messages. */
  readonly description: string;
  readonly apply: readonly string[];
  /** Command that reverses `apply`, or null when nothing needs undoing. */
  readonly undo: readonly string[] | null;
}

export class SystemSetup {
  private readonly undoStack: SetupStep[] = [];
  private readonly runner: (argv: readonly string[]) => void;

  constructor(runner: (argv: readonly string[]) => void = runCommand) {
    this.runner = runner;
  }

  /** Runs `step.apply`; on failure undoes everything applied so far and throws naming the step. */
  apply(step: SetupStep): void {
    assert.ok(step.apply.length > 0, 'a setup step needs a command');
    try {
      this.runner(step.apply);
    } catch (error) {
      const undoErrors = this.undoAll();
      throw new DataplaneError(
        'XLAT64_ERR_SYSTEM_SETUP',
        `cannot ${step.description}: ${(error as Error).message.trim()}` +
          (undoErrors.length > 0 ? `; undoing earlier steps also failed: ${undoErrors.join('; ')}` : ''),
        { cause: error },
      );
    }
    if (step.undo !== null) this.undoStack.push(step);
  }

  /** Undoes every applied step, newest first; returns the failures instead of stopping at the first. */
  undoAll(): string[] {
    const failures: string[] = [];
    while (this.undoStack.length > 0) {
      const step = this.undoStack.pop()!;
      try {
        this.runner(step.undo!);
      } catch (error) {
        failures.push(`undo '${step.description}': ${(error as Error).message.trim()}`);
      }
    }
    return failures;
  }

  get appliedCount(): number {
    return this.undoStack.length;
  }
}

export function runCommand(argv: readonly string[]): void {
  const [file, ...args] = argv;
  try {
    execFileSync(file, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${argv.join(' ')}: ${stderr || (error as Error).message}`);
  }
}

/** Steps shared by both roles: bring a TUN up with an MTU. The TUN itself vanishes when closed. */
export function linkUpSteps(device: string, mtu: number): SetupStep[] {
  return [
    {
      description: `set ${device} mtu ${mtu}`,
      apply: ['ip', 'link', 'set', 'dev', device, 'mtu', String(mtu)],
      undo: null,
    },
    { description: `bring ${device} up`, apply: ['ip', 'link', 'set', 'dev', device, 'up'], undo: null },
  ];
}

export function addressStep(device: string, cidr: string): SetupStep {
  const family = cidr.includes(':') ? '-6' : '-4';
  const extra = family === '-6' ? ['nodad'] : [];
  return {
    description: `add address ${cidr} to ${device}`,
    apply: ['ip', family, 'addr', 'add', cidr, 'dev', device, ...extra],
    undo: ['ip', family, 'addr', 'del', cidr, 'dev', device],
  };
}

export function routeStep(device: string, destination: string, extra: readonly string[] = []): SetupStep {
  const family = destination.includes(':') ? '-6' : '-4';
  return {
    description: `route ${destination} into ${device}${extra.length ? ` (${extra.join(' ')})` : ''}`,
    apply: ['ip', family, 'route', 'replace', destination, 'dev', device, ...extra],
    undo: ['ip', family, 'route', 'del', destination, 'dev', device, ...extra],
  };
}

/** Sets a sysctl, restoring the previous value on undo; no step when it already has the value. */
export function sysctlStep(key: string, value: string, read = readSysctl): SetupStep | null {
  const previous = read(key);
  if (previous === value) return null;
  return {
    description: `set sysctl ${key}=${value}`,
    apply: ['sysctl', '-qw', `${key}=${value}`],
    undo: ['sysctl', '-qw', `${key}=${previous}`],
  };
}

export function readSysctl(key: string): string {
  return readFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8').trim();
}
