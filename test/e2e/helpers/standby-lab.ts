// The two-node hot-standby lab of the takeover suites: the e2e namespace lab with its embedded PLAT
// replaced by `xlat64 plat --state nats://…,redis://…` processes (one owner, one standby, each on its
// own TUN device and status socket), a nats-server and a redis-server in the PLAT namespace, and a
// drill target file (`xlat64 drill --target`) describing it all.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createE2eLab,
  type E2eLab,
  recordedPid,
  SERVER_V4,
  SERVER_V6,
  waitUntil,
  XLAT64,
} from '../support.js';

const servers = new URL('../../../infra/services/', import.meta.url);
export const NATS_PORT = 4222;
export const REDIS_PORT = 6379;

export function pidAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}/stat`) && readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
}

export interface StandbyLabOptions {
  /** Lines added to the lab's PLAT configuration (e.g. `tracesUrl: …`). */
  platConfigExtra?: string;
  /** state.detectionMs of the PLATs (default: the PLAT's own, 1 s). */
  detectionMs?: number;
}

export interface StandbyLab {
  readonly lab: E2eLab;
  /** Lab up, its embedded PLAT stopped, nats-server and redis-server started in the PLAT namespace. */
  up(): void;
  /** `xlat64 plat --state …` in the PLAT namespace on its own device and status socket; returns its PID. */
  startPlat(name: string, device: string, extraArgs?: readonly string[]): number;
  /** The argv `startPlat` runs inside the PLAT namespace (a drill target's `command`). */
  platCommand(name: string, device: string, extraArgs?: readonly string[]): string[];
  pidFile(name: string): string;
  socket(name: string): string;
  counters(name: string): Record<string, number> | null;
  logOf(name: string): string;
  /** Writes a drill target file for the named PLATs (name → device) and returns its path. */
  writeTarget(plats: Record<string, string>, subscribers: readonly string[]): string;
  /** Stops every PLAT started here or by a drill (by the PIDs in their pid files), then the lab. */
  teardown(): void;
}

export function createStandbyLab(name: string, options: StandbyLabOptions = {}): StandbyLab {
  const lab = createE2eLab(name, { plat: 'xlat64', clat: 'none', platConfigExtra: options.platConfigExtra });
  const config = `${lab.runDir}/xlat64-plat-cluster.yaml`;
  const plats: ChildProcess[] = [];
  const names = new Set<string>();
  const pidFile = (plat: string) => `${lab.runDir}/plat-${plat}.pid`;
  const socket = (plat: string) => `${lab.runDir}/plat-${plat}.sock`;
  const platCommand = (plat: string, device: string, extraArgs: readonly string[] = []): string[] => [
    process.execPath,
    XLAT64,
    'plat',
    '--config',
    config,
    '--device',
    device,
    '--state-dir',
    `${lab.runDir}/state-${plat}`,
    '--status-socket',
    socket(plat),
    ...extraArgs,
  ];
  /** Starts a state server inside the PLAT namespace; its PID file makes lab.sh down stop it. */
  const startStateServer = (kind: 'nats' | 'redis', port: number): void => {
    const script = fileURLToPath(new URL(`${kind}-server.sh`, servers));
    const out = lab.check('plat', [
      'bash',
      script,
      'start',
      '--port',
      String(port),
      // Inside the lab's run directory, which lab.sh down removes after stopping the server by PID.
      '--dir',
      `${lab.runDir}/${kind}-server`,
      '--owner',
      String(process.pid),
    ]);
    const pid = /^pid=(\d+)$/m.exec(out)?.[1];
    if (pid === undefined) throw new Error(`${kind}-server.sh printed no pid: ${out}`);
    writeFileSync(`${lab.runDir}/state-${kind}.pid`, `${pid}\n`);
  };
  return {
    lab,
    up() {
      lab.up();
      const pid = Number(readFileSync(`${lab.runDir}/xlat64-plat.pid`, 'utf8').trim());
      process.kill(pid, 'SIGTERM');
      waitUntil(() => !pidAlive(pid), 'the lab PLAT to stop', 20_000);
      // Its pid file goes too: lab.sh down must not signal the PID once another process has it.
      rmSync(`${lab.runDir}/xlat64-plat.pid`);
      // The lab's configuration plus the cluster state (URLs and detection time).
      const detection = options.detectionMs === undefined ? '' : `  detectionMs: ${options.detectionMs}\n`;
      writeFileSync(
        config,
        `${readFileSync(`${lab.runDir}/xlat64-plat.yaml`, 'utf8')}\nstate:\n  nats: nats://127.0.0.1:${NATS_PORT}\n` +
          `  redis: redis://127.0.0.1:${REDIS_PORT}\n${detection}`,
      );
      startStateServer('nats', NATS_PORT);
      startStateServer('redis', REDIS_PORT);
    },
    startPlat(plat, device, extraArgs = []) {
      names.add(plat);
      const fd = openSync(`${lab.runDir}/plat-${plat}.log`, 'a');
      const child = spawn(
        'ip',
        ['netns', 'exec', lab.namespaces.plat, ...platCommand(plat, device, extraArgs)],
        {
          detached: true,
          stdio: ['ignore', fd, fd],
        },
      );
      closeSync(fd);
      child.unref();
      plats.push(child);
      if (child.pid === undefined) throw new Error(`could not start PLAT ${plat}`);
      writeFileSync(pidFile(plat), `${child.pid}\n`);
      return child.pid;
    },
    platCommand,
    pidFile,
    socket,
    counters(plat) {
      const result = spawnSync(process.execPath, [XLAT64, 'status', '--socket', socket(plat), '--json'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      if (result.status !== 0) return null;
      return (JSON.parse(result.stdout) as { counters: Record<string, number> }).counters;
    },
    logOf(plat) {
      const path = `${lab.runDir}/plat-${plat}.log`;
      return existsSync(path) ? readFileSync(path, 'utf8') : '';
    },
    writeTarget(devices, subscribers) {
      const path = `${lab.runDir}/cluster.json`;
      for (const plat of Object.keys(devices)) names.add(plat);
      const target = {
        format: 1,
        nodes: Object.entries(devices).map(([plat, device]) => ({
          id: plat,
          netns: lab.namespaces.plat,
          pidFile: pidFile(plat),
          statusSocket: socket(plat),
          command: platCommand(plat, device),
          logFile: `${lab.runDir}/plat-${plat}.log`,
        })),
        client: { netns: lab.namespaces.client, subscribers },
        server: { netns: lab.namespaces.server, ipv4: SERVER_V4, ipv6: SERVER_V6 },
        nats: [{ url: `nats://127.0.0.1:${NATS_PORT}`, pidFile: `${lab.runDir}/state-nats.pid` }],
        redis: { url: `redis://127.0.0.1:${REDIS_PORT}`, pidFile: `${lab.runDir}/state-redis.pid` },
      };
      writeFileSync(path, `${JSON.stringify(target, null, 2)}\n`);
      return path;
    },
    teardown() {
      for (const child of plats) if (child.pid !== undefined && pidAlive(child.pid)) child.kill('SIGKILL');
      // A drill starts killed nodes again itself; their PIDs are only in the pid files.
      for (const plat of names) {
        const pid = recordedPid(pidFile(plat));
        if (pid !== null) process.kill(pid, 'SIGKILL');
      }
      lab.teardown();
    },
  };
}
