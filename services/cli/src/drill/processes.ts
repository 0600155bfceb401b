// Processes and namespaces the drill acts on: PIDs from pid files, signals, waiting for an exit, a
// command started again inside a network namespace (its new PID written back), and which named
// namespace a running process is in. Processes are only ever addressed by PID, never by name.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { DrillError } from '../errors.js';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function readPid(pidFile: string): number {
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8').trim();
  } catch (error) {
    throw new DrillError(`cannot read the pid file ${pidFile}: ${(error as Error).message}`);
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 1) throw new DrillError(`${pidFile} holds '${text}', not a PID`);
  return pid;
}

/** Whether the process runs (a zombie waiting for its parent counts as gone). */
export function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    return readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

export async function waitUntil(
  ready: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
  stepMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new DrillError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Sends a signal to a PID and waits for it to exit. */
export async function signalAndWait(
  pid: number,
  signal: NodeJS.Signals,
  what: string,
  timeoutMs: number,
): Promise<void> {
  assert.ok(pid > 1);
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
  await waitUntil(() => !alive(pid), `${what} (pid ${pid}) to exit after ${signal}`, timeoutMs);
}

/** argv prefixed to run inside a named network namespace ('' = where the drill runs). */
export function inNetns(netns: string, argv: readonly string[]): string[] {
  return netns === '' ? [...argv] : ['ip', 'netns', 'exec', netns, ...argv];
}

/**
 * Starts a command detached (its own session, output appended to logFile) inside a namespace; `ip
 * netns exec` execs in place, so the PID is the command's own. Writes it to pidFile when one is given.
 */
export function startDetached(
  netns: string,
  argv: readonly string[],
  logFile: string,
  options: { pidFile?: string; cwd?: string } = {},
): number {
  const [file, ...args] = inNetns(netns, argv);
  const fd = openSync(logFile, 'a');
  const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], cwd: options.cwd });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new DrillError(`could not start ${argv.join(' ')}`);
  if (options.pidFile !== undefined) writeFileSync(options.pidFile, `${child.pid}\n`);
  return child.pid;
}

/** Runs a short command inside a namespace; throws with its output unless it exits 0. */
export function runIn(netns: string, argv: readonly string[], input?: string): string {
  const [file, ...args] = inNetns(netns, argv);
  const result = spawnSync(file, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (result.status !== 0) {
    throw new DrillError(
      `${argv.join(' ')}${netns === '' ? '' : ` (in ${netns})`} exited ${result.status ?? result.signal}: ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

/** How a running process can be started again: its argv, working directory and named namespace. */
export interface ProcessImage {
  argv: string[];
  cwd: string;
  netns: string;
}

export function processImage(pid: number): ProcessImage {
  if (!alive(pid)) throw new DrillError(`process ${pid} is not running`);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a, i, all) => a !== '' || i < all.length - 1);
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const ns = statSync(`/proc/${pid}/ns/net`);
  const own = statSync('/proc/self/ns/net');
  let netns: string | null = ns.ino === own.ino && ns.dev === own.dev ? '' : null;
  if (netns === null && existsSync('/run/netns')) {
    for (const name of readdirSync('/run/netns')) {
      const candidate = statSync(`/run/netns/${name}`);
      if (candidate.ino === ns.ino && candidate.dev === ns.dev) netns = name;
    }
  }
  if (netns === null)
    throw new DrillError(`process ${pid} runs in a network namespace with no name in /run/netns`);
  return { argv, cwd, netns };
}
