// TypeScript handle on infra/lab/lab.sh for test suites: bring the namespace lab up with a chosen
// PLAT and CLAT (TAYGA or xlat64 command lines), read its addresses from $RUN/lab.env, run commands
// in its namespaces, and take it down. Each suite uses its own namespace prefix (x64t-…) and state
// directory so suites and a developer's own lab never collide.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LAB_SCRIPT = fileURLToPath(new URL('./lab.sh', import.meta.url));

export interface LabOptions {
  /** Namespace prefix: namespaces are PREFIX-client, PREFIX-plat, PREFIX-server. Tests use x64t-…. */
  prefix: string;
  /** State directory (pid files, logs, configs, served files). */
  runDir: string;
  plat?: 'tayga' | 'xlat64';
  clat?: 'tayga' | 'xlat64' | 'none';
  /** Command line run inside PREFIX-plat when plat is xlat64 (default: node bin/xlat64.mjs plat --config …). */
  xlat64PlatCommand?: string;
  /** Command line run inside PREFIX-client when clat is xlat64. */
  xlat64ClatCommand?: string;
  /** YAML appended to the xlat64 PLAT's configuration (top-level keys it does not set, e.g. `nat:`). */
  xlat64PlatConfigExtra?: string;
  /** false: TSO/GSO/GRO off on the veths. */
  offload?: boolean;
  /** The xlat64 PLAT's I/O: 'tun' (default) or 'xdp' (AF_XDP on p0 and p1; lab.sh PLAT_IO). */
  platIo?: 'tun' | 'xdp';
  /** With platIo 'xdp': receive/transmit queues of each veth (one AF_XDP socket per queue). Default 1. */
  xdpQueues?: number;
}

export interface Lab {
  readonly options: LabOptions;
  readonly namespaces: { client: string; plat: string; server: string };
  /** Runs lab.sh up; resolves to its log lines (stderr). Throws with lab.sh's output on failure. */
  up(): string;
  down(): string;
  status(): string;
  verify(): string;
  /** KEY=value pairs of $RUN/lab.env (addresses, device names, URLs); only while up. */
  env(): Record<string, string>;
  /** Runs a command in one of the lab's namespaces and returns its stdout. */
  exec(
    where: 'client' | 'plat' | 'server',
    command: readonly string[],
    options?: { maxBufferBytes?: number },
  ): Buffer;
}

export function createLab(options: LabOptions): Lab {
  const namespaces = {
    client: `${options.prefix}-client`,
    plat: `${options.prefix}-plat`,
    server: `${options.prefix}-server`,
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    X64_LAB_PREFIX: options.prefix,
    X64_LAB_RUN: options.runDir,
    PLAT: options.plat ?? 'tayga',
    CLAT: options.clat ?? 'tayga',
    OFFLOAD: options.offload === false ? '0' : '1',
    PLAT_IO: options.platIo ?? process.env.PLAT_IO ?? 'tun',
    X64_LAB_XDP_QUEUES: String(options.xdpQueues ?? 1),
    // This process owns the lab's namespaces: a concurrent run's global teardown leaves them alone.
    X64_LAB_OWNER_PID: String(process.pid),
  };
  if (options.xlat64PlatCommand) env.XLAT64_PLAT_CMD = options.xlat64PlatCommand;
  if (options.xlat64ClatCommand) env.XLAT64_CLAT_CMD = options.xlat64ClatCommand;
  if (options.xlat64PlatConfigExtra) env.XLAT64_PLAT_CONFIG_EXTRA = options.xlat64PlatConfigExtra;
  const run = (command: string): string => {
    // lab.sh logs to stderr; merge it so callers see the log lines and the reason of a failure.
    return execFileSync('bash', ['-c', 'bash "$0" "$1" 2>&1', LAB_SCRIPT, command], {
      env,
      encoding: 'utf8',
    });
  };
  return {
    options,
    namespaces,
    up: () => run('up'),
    down: () => run('down'),
    status: () => run('status'),
    verify: () => run('verify'),
    env: () => {
      const result: Record<string, string> = {};
      for (const line of readFileSync(`${options.runDir}/lab.env`, 'utf8').split('\n')) {
        const at = line.indexOf('=');
        if (at > 0) result[line.slice(0, at)] = line.slice(at + 1);
      }
      return result;
    },
    exec: (where, command, execOptions) =>
      execFileSync('ip', ['netns', 'exec', namespaces[where], ...command], {
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: execOptions?.maxBufferBytes ?? 64 * 1024 * 1024,
      }),
  };
}
