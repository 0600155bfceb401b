// Cluster state through the lab (issue 9): two `xlat64 plat --state nats://…,redis://…` processes in the
// PLAT namespace, one owning the shard and one hot standby (no routes, following the JetStream subject).
// A long-lived TCP connection and a UDP flow run through the owner; the owner is killed with SIGKILL; the
// standby takes the shard over (epoch + 1 in NATS KV), adds the routes and serves from its replica, so the
// TCP connection continues with no reset and both flows keep their IPv4 address and port at the server.
// The killed node started again comes back as a standby: the live owner keeps the shard.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStandbyLab, pidAlive } from './helpers/standby-lab.js';
import { LABTOOL, PY, readUdpLog, SERVER_V6, startUdpServer, UDP_PORT, waitUntil } from './support.js';

const standby = createStandbyLab('e2e-takeover');
const { lab } = standby;
const TCP_PORT = 9001;

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

const startClusterPlat = standby.startPlat;
const counters = standby.counters;
const logOf = standby.logOf;

describe('xlat64 PLAT hot standby takeover (--state nats://…,redis://…)', () => {
  beforeAll(() => {
    // The lab's own (embedded) PLAT makes way for the two cluster PLATs; NATS and Redis start.
    standby.up();
    startUdpServer(lab);
    lab.background('server', 'tcp-echo-server', [PY, LABTOOL, 'tcp-echo-server', String(TCP_PORT)]);
    waitUntil(
      () => lab.run('server', ['ss', '-ltnH', `sport = :${TCP_PORT}`]).stdout.trim() !== '',
      'the TCP echo server to listen',
    );
  }, 120_000);

  afterAll(() => {
    standby.teardown();
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
