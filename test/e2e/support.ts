// Shared harness of the end-to-end suites (test/e2e): a namespace lab per suite (infra/lab/lab.sh
// through lab.ts) under its own x64t- prefix and state directory, commands run in its namespaces
// with their exit status (failures are results to assert on, not exceptions), background helpers
// stopped by the PID we started, and the xlat64 roles' status counters.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from '../../infra/lab/lab.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const XLAT64 = `${REPO}bin/xlat64.mjs`;
export const LABTOOL = fileURLToPath(new URL('./helpers/labtool.py', import.meta.url));
/** The lab runs Debian's python (standard library only), not a developer's pyenv shim. */
export const PY = '/usr/bin/python3';

export const SERVER_V4 = '198.51.100.2';
export const PLAT_V4 = '198.51.100.1';
/** The server as the IPv6-only client reaches it through NAT64 (RFC 6052 well-known prefix). */
export const SERVER_V6 = '64:ff9b::c633:6402';
export const PLAT_V4_IN_V6 = '64:ff9b::c633:6401';
export const HELLO = 'hello from x64-server (IPv4-only) via NAT64';
export const HTTP_PORT = 8000;
/** Port of labtool.py udp-server in the suites that start one. */
export const UDP_PORT = 9000;

export type Where = 'client' | 'plat' | 'server';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type PlatIo = 'tun' | 'xdp';

/** The PLAT I/O a suite runs with when it does not name one (`PLAT_IO=xdp npx vitest run …`). */
export function platIoFromEnvironment(): PlatIo {
  return process.env.PLAT_IO === 'xdp' ? 'xdp' : 'tun';
}

/**
 * The PLAT I/Os the suites that describe.each over them run with: both, unless PLAT_IO names one
 * (a developer reproducing one of them).
 */
export const PLAT_IOS: readonly PlatIo[] =
  process.env.PLAT_IO === 'xdp' || process.env.PLAT_IO === 'tun' ? [process.env.PLAT_IO] : ['tun', 'xdp'];

export interface E2eLab extends Lab {
  readonly runDir: string;
  /** The PLAT's I/O in this lab. */
  readonly io: PlatIo;
  /** Runs a command in a namespace; never throws on a non-zero exit (the result says what happened). */
  run(where: Where, command: readonly string[], timeoutMs?: number): RunResult;
  /** Like run, but throws (with stdout and stderr) unless the command exits 0. */
  check(where: Where, command: readonly string[], timeoutMs?: number): string;
  /** Runs labtool.py in a namespace and parses the JSON it prints. */
  tool<T = Record<string, unknown>>(where: Where, args: readonly string[], timeoutMs?: number): T;
  /** Starts a long-running helper in a namespace (output to runDir/<name>.log); returns its PID. */
  background(where: Where, name: string, command: readonly string[]): number;
  /** The status document of a running xlat64 role (`xlat64 status --json`). */
  roleStatus(role: 'plat' | 'clat'): StatusDocument;
  /** The counters of a running xlat64 role, read through `xlat64 status --json`. */
  counters(role: 'plat' | 'clat'): Record<string, number>;
  /** Whether the xlat64 role the lab started is still running. */
  roleAlive(role: 'plat' | 'clat'): boolean;
  /**
   * `kill -9` of the running xlat64 PLAT (by the PID lab.sh recorded), then the same command line again
   * (as lab.sh starts it: setsid, in the PLAT namespace, its PID recorded for lab.sh down); resolves when
   * the new PLAT answers `xlat64 status`. Returns the old and new PIDs.
   */
  killAndRestartPlat(downtimeMs: number): { killed: number; started: number };
  /** Stops the helpers we started (by PID), then takes the lab down; safe to call twice. */
  teardown(): void;
}

export function createE2eLab(
  name: string,
  options: {
    plat: 'tayga' | 'xlat64';
    clat: 'tayga' | 'xlat64' | 'none';
    queues?: number;
    /** Extra flags for `xlat64 plat` (e.g. --metrics). */
    platArgs?: readonly string[];
    /** YAML appended to the xlat64 PLAT's configuration. */
    platConfigExtra?: string;
    /**
     * The xlat64 PLAT's I/O: a TUN device (the kernel routes around it) or AF_XDP on the veths (the
     * PLAT is the router). Default: the PLAT_IO environment variable, else 'tun'.
     */
    io?: PlatIo;
  },
): E2eLab {
  if (!name.startsWith('e2e')) throw new Error(`e2e lab names start with e2e, not '${name}'`);
  const io = options.io ?? platIoFromEnvironment();
  const labName = io === 'xdp' ? `${name}-xdp` : name;
  // The test process's PID in every name: two test runs on one machine (several checkouts) used to
  // share x64t-<name> namespaces and run directories, take each other's labs down, and leave daemons
  // whose pid files the other run had removed. The global teardown knows the -<pid> convention.
  const prefix = `x64t-${labName}-${process.pid}`;
  const runDir = `/tmp/x64t-${labName}-${process.pid}`;
  // Each suite's PLAT writes its event log into its own state directory (removed by lab.sh down),
  // not into the shared default /var/lib/xlat64.
  const platCommand = [
    process.execPath,
    XLAT64,
    'plat',
    '--config',
    `${runDir}/xlat64-plat.yaml`,
    '--state-dir',
    `${runDir}/state`,
    ...(options.queues === undefined ? [] : ['--queues', String(options.queues)]),
    ...(options.platArgs ?? []),
  ];
  const lab = createLab({
    prefix,
    runDir,
    plat: options.plat,
    clat: options.clat,
    xlat64PlatCommand: options.plat === 'xlat64' ? platCommand.join(' ') : undefined,
    xlat64PlatConfigExtra: options.platConfigExtra,
    platIo: io,
    xdpQueues: options.queues,
  });
  const children: ChildProcess[] = [];
  const run = (where: Where, command: readonly string[], timeoutMs = 60_000): RunResult => {
    const result = spawnSync('ip', ['netns', 'exec', lab.namespaces[where], ...command], {
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  };
  const check = (where: Where, command: readonly string[], timeoutMs?: number): string => {
    const result = run(where, command, timeoutMs);
    if (result.code !== 0) {
      throw new Error(
        `${command.join(' ')} in ${where} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
      );
    }
    return result.stdout;
  };
  const pidOf = (role: 'plat' | 'clat'): number | null => {
    const file = `${runDir}/xlat64-${role}.pid`;
    return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : null;
  };
  return {
    ...lab,
    io,
    up: () => {
      let output: string;
      try {
        output = lab.up();
      } catch (error) {
        // execFileSync's message names only the command; the reason is in lab.sh's own log lines.
        const output = String((error as { stdout?: string }).stdout ?? '');
        throw new Error(`lab.sh up (${prefix}) failed:\n${output.split('\n').slice(-30).join('\n')}`);
      }
      // lab.sh waits for a PLAT started with a command of its own (as here) only until its TUN device
      // exists; its workers and status socket come later (seconds under load). Tests start against a
      // PLAT that answers `xlat64 status`.
      if (options.plat === 'xlat64') waitForStatus(runDir, 'plat');
      return output;
    },
    runDir,
    run,
    check,
    tool: <T>(where: Where, args: readonly string[], timeoutMs?: number): T => {
      const out = check(where, [PY, LABTOOL, ...args], timeoutMs);
      return JSON.parse(out.trim().split('\n').at(-1) ?? 'null') as T;
    },
    background: (where, logName, command) => {
      const fd = openSync(`${runDir}/${logName}.log`, 'a');
      // `ip netns exec` execs the command in place, so the PID is the helper's own.
      const child = spawn('ip', ['netns', 'exec', lab.namespaces[where], ...command], {
        detached: true,
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      child.unref();
      children.push(child);
      if (child.pid === undefined) throw new Error(`could not start ${command.join(' ')}`);
      return child.pid;
    },
    roleStatus: (role) => readStatus(runDir, role),
    counters: (role) => readStatus(runDir, role).counters,
    roleAlive: (role) => {
      const pid = pidOf(role);
      if (pid === null || !existsSync(`/proc/${pid}/stat`)) return false;
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
    },
    killAndRestartPlat: (downtimeMs) => {
      const killed = pidOf('plat');
      if (killed === null) throw new Error('no xlat64 PLAT pid file: the lab did not start one');
      process.kill(killed, 'SIGKILL');
      waitUntil(
        () =>
          !existsSync(`/proc/${killed}/stat`) ||
          readFileSync(`/proc/${killed}/stat`, 'utf8').split(' ')[2] === 'Z',
        'the killed PLAT to die',
      );
      spawnSync('sleep', [String(downtimeMs / 1000)]);
      const fd = openSync(`${runDir}/xlat64-plat.log`, 'a');
      // detached: a new session, as lab.sh's setsid; `ip netns exec` execs in place, so the PID is the PLAT's.
      const child = spawn('ip', ['netns', 'exec', lab.namespaces.plat, ...platCommand], {
        detached: true,
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      child.unref();
      if (child.pid === undefined) throw new Error('could not start the PLAT again');
      writeFileSync(`${runDir}/xlat64-plat.pid`, `${child.pid}\n`);
      waitUntil(
        () =>
          spawnSync(process.execPath, [XLAT64, 'status', '--socket', `${runDir}/xlat64-plat.sock`, '--json'])
            .status === 0,
        'the restarted PLAT to answer xlat64 status',
        20_000,
      );
      return { killed, started: child.pid };
    },
    teardown: () => {
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      lab.down();
    },
  };
}

export interface StatusDocument {
  counters: Record<string, number>;
  queueStats?: { handlerErrors?: number };
  [key: string]: unknown;
}

/** Waits until the role's status socket answers (its ' up, ' line is logged just after). */
function waitForStatus(runDir: string, role: 'plat' | 'clat', timeoutMs = 60_000): void {
  const socket = `${runDir}/xlat64-${role}.sock`;
  const answers = () =>
    spawnSync(process.execPath, [XLAT64, 'status', '--socket', socket, '--json'], { timeout: 30_000 })
      .status === 0;
  try {
    waitUntil(answers, `the lab's ${role} to answer xlat64 status on ${socket}`, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${logTail(runDir, role)}`);
  }
}

/** The last lines of a lab role's log, for an error message. */
function logTail(runDir: string, role: 'plat' | 'clat'): string {
  const log = `${runDir}/xlat64-${role}.log`;
  const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
  return `${log} ends:\n${tail}`;
}

function readStatus(runDir: string, role: 'plat' | 'clat'): StatusDocument {
  const result = spawnSync(
    process.execPath,
    [XLAT64, 'status', '--socket', `${runDir}/xlat64-${role}.sock`, '--json'],
    {
      encoding: 'utf8',
      timeout: 30_000, // a Node start under a load of 30 on 2 cores has taken over 10 s
    },
  );
  if (result.status !== 0) {
    const why = result.signal ? `killed by ${result.signal} (timeout 30 s?)` : `exit ${result.status}`;
    throw new Error(`xlat64 status (${role}) failed, ${why}: ${result.stderr}\n${logTail(runDir, role)}`);
  }
  return JSON.parse(result.stdout) as StatusDocument;
}

/** Sum of the counters whose names start with `prefix` (e.g. 'drop.'). */
export function sumCounters(counters: Record<string, number>, prefix: string): number {
  let total = 0;
  for (const [name, value] of Object.entries(counters)) if (name.startsWith(prefix)) total += value;
  return total;
}

/** Per-counter growth between two readings (only counters that changed). */
export function counterDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, value] of Object.entries(after)) {
    const d = value - (before[name] ?? 0);
    if (d !== 0) delta[name] = d;
  }
  return delta;
}

export interface IperfResult {
  error?: string;
  bytesReceived: number;
  raw: unknown;
}

/** Runs an iperf3 client (JSON output) in the client namespace; TCP unless `udp` is given. */
export function iperf(lab: E2eLab, server: string, extra: readonly string[] = []): IperfResult {
  const result = lab.run('client', ['iperf3', '-c', server, '-t', '2', '-J', ...extra], 30_000);
  let doc: {
    error?: string;
    end?: {
      sum_received?: { bytes: number };
      sum?: { bytes: number; packets?: number; lost_packets?: number };
    };
  };
  try {
    doc = JSON.parse(result.stdout);
  } catch {
    return {
      error: `iperf3 exited ${result.code}: ${result.stdout}${result.stderr}`,
      bytesReceived: 0,
      raw: null,
    };
  }
  const end = doc.end ?? {};
  // TCP reports what the receiver got in sum_received; UDP reports the receiver's view in sum.
  const bytesReceived = end.sum_received?.bytes ?? end.sum?.bytes ?? 0;
  return {
    error: doc.error ?? (result.code === 0 ? undefined : `exit ${result.code}`),
    bytesReceived,
    raw: doc,
  };
}

/** Waits until `ready()` holds (polling), or throws after timeoutMs with `what`. */
export function waitUntil(ready: () => boolean, what: string, timeoutMs = 10_000): void {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    spawnSync('sleep', ['0.05']);
  }
}

/** Starts labtool.py udp-server on the server and waits until it listens. */
export function startUdpServer(lab: E2eLab): string {
  const log = `${lab.runDir}/udp-server.jsonl`;
  lab.background('server', 'udp-server', [PY, LABTOOL, 'udp-server', String(UDP_PORT), log]);
  waitUntil(
    () => lab.run('server', ['ss', '-lunH', `sport = :${UDP_PORT}`]).stdout.trim() !== '',
    'the UDP server to listen',
  );
  return log;
}

/** The UDP server's log lines. */
export function readUdpLog(path: string): { peer: string; port: number; length: number; tag: string }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

/**
 * The PID a pid file recorded, while that process still runs; null when it is gone. A recorded process
 * that exited may have its PID recycled by another suite's process (pid_max may be 32768): one that
 * started after the file was written is not the recorded one and is never signalled.
 */
export function recordedPid(pidFile: string): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  if (fields[0] === 'Z') return null;
  const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
  const startedSeconds = bootSeconds + Number(fields[19]) / CLOCK_TICKS;
  return startedSeconds <= statSync(pidFile).mtimeMs / 1000 + 1 ? pid : null;
}

/** USER_HZ: /proc's process start times are in these ticks (100 on Linux for every architecture we run). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface ChromiumResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Headless Chromium (Debian's package) inside `netns` on `url`, with a fresh profile it removes after:
 * the DOM after the page's scripts ran for 4 s of virtual time, or with `screenshot` a PNG at that path.
 */
export function chromium(netns: string, url: string, screenshot?: string): ChromiumResult {
  const profile = mkdtempSync('/tmp/x64t-chromium-');
  try {
    const result = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        netns,
        'chromium',
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        `--user-data-dir=${profile}`,
        '--window-size=1280,1000',
        '--virtual-time-budget=4000',
        screenshot === undefined ? '--dump-dom' : `--screenshot=${screenshot}`,
        url,
      ],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
    );
    return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
