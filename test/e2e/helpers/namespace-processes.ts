// Commands and long-running processes in a suite's own network namespaces (the CLAT suites build
// theirs outside the lab): run or check a command in a node's namespace, start a process whose output
// goes to <dir>/<name>.log, and stop it by the PID we started (SIGTERM, then SIGKILL after 5 s).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function namespaceProcesses<Node extends string>(
  ns: Record<Node, string>,
  dir: string,
  commandTimeoutMs = 30_000,
) {
  const children = new Map<string, ChildProcess>();
  const run = (node: Node, ...args: string[]) =>
    spawnSync('ip', ['netns', 'exec', ns[node], ...args], { encoding: 'utf8', timeout: commandTimeoutMs });
  /** `run`, throwing with the command's output when it fails. */
  const sh = (node: Node, ...args: string[]) => {
    const result = run(node, ...args);
    if (result.status !== 0)
      throw new Error(`${args.join(' ')} in ${node}: ${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  function background(node: Node, name: string, args: string[], cwd = dir): ChildProcess {
    const fd = openSync(join(dir, `${name}.log`), 'a');
    const child = spawn('ip', ['netns', 'exec', ns[node], ...args], { stdio: ['ignore', fd, fd], cwd });
    closeSync(fd);
    children.set(name, child);
    return child;
  }
  async function stopChild(name: string): Promise<void> {
    const child = children.get(name);
    children.delete(name);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  async function stopAll(): Promise<void> {
    for (const name of [...children.keys()]) await stopChild(name);
  }
  const logOf = (name: string) =>
    existsSync(join(dir, `${name}.log`)) ? readFileSync(join(dir, `${name}.log`), 'utf8') : '';
  return { run, sh, background, stopChild, stopAll, logOf };
}
