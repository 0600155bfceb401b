// Cluster state through the lab (issue 9): two `xlat64 plat --state nats://…,redis://…` processes in the
// PLAT namespace, one owning the shard and one hot standby (no routes, following the JetStream subject).
// A long-lived TCP connection and a UDP flow run through the owner; the owner is killed with SIGKILL; the
// standby takes the shard over (epoch + 1 in NATS KV), adds the routes and serves from its replica, so the
// TCP connection continues with no reset and both flows keep their IPv4 address and port at the server.
// The killed node started again comes back as a standby: the live owner keeps the shard.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createE2eLab,
  LABTOOL,
  PY,
  readUdpLog,
  SERVER_V6,
  startUdpServer,
  UDP_PORT,
  waitUntil,
  XLAT64,
} from './support.js';

const lab = createE2eLab('e2e-takeover', { plat: 'xlat64', clat: 'none' });
const TCP_PORT = 9001;
const NATS_PORT = 4222;
const REDIS_PORT = 6379;
const STATE = `nats://127.0.0.1:${NATS_PORT},redis://127.0.0.1:${REDIS_PORT}`;
const servers = new URL('../../infra/services/', import.meta.url);

interface Tick {
  reply?: string;
  error?: string;
}

function ticks(path: string): Tick[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Tick);
}

function pidAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}/stat`) && readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
}

/** Starts a state server (NATS or Redis) inside the PLAT namespace; its PID file makes lab.sh down stop it. */
function startStateServer(kind: 'nats' | 'redis', port: number): void {
  const script = fileURLToPath(new URL(`${kind}-server.sh`, servers));
  const out = lab.check('plat', [
    'bash',
    script,
    'start',
    '--port',
    String(port),
    '--owner',
    String(process.pid),
  ]);
  const pid = /^pid=(\d+)$/m.exec(out)?.[1];
  if (pid === undefined) throw new Error(`${kind}-server.sh printed no pid: ${out}`);
  writeFileSync(`${lab.runDir}/state-${kind}.pid`, `${pid}\n`);
}

const plats: ChildProcess[] = [];

/** `xlat64 plat --state …` in the PLAT namespace on its own device and status socket; returns its PID. */
function startClusterPlat(name: string, device: string): number {
  const fd = openSync(`${lab.runDir}/plat-${name}.log`, 'a');
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      lab.namespaces.plat,
      process.execPath,
      XLAT64,
      'plat',
      '--config',
      `${lab.runDir}/xlat64-plat.yaml`,
      '--device',
      device,
      '--state-dir',
      `${lab.runDir}/state-${name}`,
      '--status-socket',
      `${lab.runDir}/plat-${name}.sock`,
      '--state',
      STATE,
    ],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  child.unref();
  plats.push(child);
  if (child.pid === undefined) throw new Error(`could not start PLAT ${name}`);
  writeFileSync(`${lab.runDir}/plat-${name}.pid`, `${child.pid}\n`);
  return child.pid;
}

function counters(name: string): Record<string, number> | null {
  const result = spawnSync(
    process.execPath,
    [XLAT64, 'status', '--socket', `${lab.runDir}/plat-${name}.sock`, '--json'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (result.status !== 0) return null;
  return (JSON.parse(result.stdout) as { counters: Record<string, number> }).counters;
}

function logOf(name: string): string {
  return existsSync(`${lab.runDir}/plat-${name}.log`)
    ? readFileSync(`${lab.runDir}/plat-${name}.log`, 'utf8')
    : '';
}

describe('xlat64 PLAT hot standby takeover (--state nats://…,redis://…)', () => {
  beforeAll(() => {
    lab.up();
    // The lab's own (embedded) PLAT makes way for the two cluster PLATs.
    const pid = Number(readFileSync(`${lab.runDir}/xlat64-plat.pid`, 'utf8').trim());
    process.kill(pid, 'SIGTERM');
    waitUntil(() => !pidAlive(pid), 'the lab PLAT to stop', 20_000);
    startStateServer('nats', NATS_PORT);
    startStateServer('redis', REDIS_PORT);
    startUdpServer(lab);
    lab.background('server', 'tcp-echo-server', [PY, LABTOOL, 'tcp-echo-server', String(TCP_PORT)]);
    waitUntil(
      () => lab.run('server', ['ss', '-ltnH', `sport = :${TCP_PORT}`]).stdout.trim() !== '',
      'the TCP echo server to listen',
    );
  }, 120_000);

  afterAll(() => {
    for (const child of plats) if (child.pid !== undefined && pidAlive(child.pid)) child.kill('SIGKILL');
    lab.teardown();
  });

  it('keeps a long-lived TCP connection and a UDP flow on the same IPv4 address and port when the owner is killed and the standby takes over', () => {
    const a = startClusterPlat('a', 'nat64');
    waitUntil(() => counters('a')?.['state.serving'] === 1, `PLAT a to own its shard\n${logOf('a')}`, 30_000);
    const b = startClusterPlat('b', 'nat64b');
    waitUntil(() => counters('b') !== null, `PLAT b to answer status\n${logOf('b')}`, 30_000);

    const tcpLog = `${lab.runDir}/tcp-ticker.jsonl`;
    const udpLog = `${lab.runDir}/udp-ticker.jsonl`;
    lab.background('client', 'tcp-ticker', [PY, LABTOOL, 'tcp-ticker', SERVER_V6, String(TCP_PORT), tcpLog]);
    lab.background('client', 'udp-ticker', [PY, LABTOOL, 'udp-ticker', SERVER_V6, String(UDP_PORT), udpLog]);
    try {
      waitUntil(
        () => ticks(tcpLog).length >= 5 && ticks(udpLog).length >= 5,
        'both flows to be answered',
        20_000,
      );
    } catch (error) {
      const routes = lab.run('plat', ['ip', '-6', 'route']).stdout + lab.run('plat', ['ip', 'route']).stdout;
      throw new Error(
        `${(error as Error).message}\n${logOf('a')}\n${JSON.stringify(counters('a'))}\n${routes}`,
      );
    }
    // The standby follows: it has folded the owner's batches (flush interval 1 s) and serves nothing.
    waitUntil(
      () => (counters('b')?.['state.standbyBatches'] ?? 0) >= 2,
      'the standby to fold batches',
      20_000,
    );
    expect(counters('b')?.['state.serving'] ?? 0).toBe(0);
    expect(counters('a')?.['state.epoch']).toBe(1);
    spawnSync('sleep', ['1.5']); // the latest sessions reach the stream within a flush interval

    const tcpBefore = ticks(tcpLog).length;
    const udpBefore = ticks(udpLog).length;
    process.kill(a, 'SIGKILL');
    waitUntil(() => !pidAlive(a), 'the owner to die');
    waitUntil(
      () => counters('b')?.['state.serving'] === 1,
      `the standby to take over\n${logOf('b')}`,
      30_000,
    );
    const after = counters('b')!;
    expect(after['state.epoch']).toBe(2);
    expect(after['state.takeovers']).toBe(1);

    waitUntil(
      () => ticks(tcpLog).length >= tcpBefore + 10 && ticks(udpLog).length >= udpBefore + 10,
      'both flows to be answered again after the takeover',
      45_000,
    );
    const tcp = ticks(tcpLog);
    expect(tcp.filter((t) => t.error !== undefined)).toEqual([]);
    const tcpPeers = new Set(tcp.map((t) => t.reply?.split(' ')[0]));
    expect(tcpPeers.size).toBe(1);
    expect([...tcpPeers][0]).toMatch(/^203\.0\.113\.\d+:\d+$/);
    const udpSeen = readUdpLog(`${lab.runDir}/udp-server.jsonl`).filter((d) => d.tag.startsWith('tick'));
    expect(new Set(udpSeen.map((d) => `${d.peer}:${d.port}`)).size).toBe(1);
    expect(counters('b')?.['drop.nat.nosession64'] ?? 0).toBe(0);

    // The killed node comes back with the same command: b renews, so a stays a standby.
    startClusterPlat('a2', 'nat64');
    waitUntil(() => counters('a2') !== null, `the restarted PLAT to answer status\n${logOf('a2')}`, 30_000);
    spawnSync('sleep', ['2.5']); // more than the detection time (1 s)
    expect(counters('a2')?.['state.serving'] ?? 0).toBe(0);
    expect(counters('b')?.['state.serving']).toBe(1);
    expect(b).toBeGreaterThan(0);
  }, 240_000);
});
