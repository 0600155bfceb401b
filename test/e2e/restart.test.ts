// Embedded state across a crash (issue 9): a long-lived TCP connection and a UDP flow run through the
// xlat64 PLAT; the PLAT is killed with SIGKILL and the same command is started again on the same
// stateDir. The restarted PLAT restores mappings and sessions from its snapshot + log, so the TCP
// connection continues (no reset, no new connection) and both flows reach the server from the same IPv4
// address and port as before the crash. Without the restore the TCP segments would be dropped
// (drop.nat.nosession64) and the UDP flow would get a new mapping (another port at the server).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
} from './support.js';

const lab = createE2eLab('e2e-restart', { plat: 'xlat64', clat: 'none' });
const TCP_PORT = 9001;

interface Tick {
  n?: number;
  reply?: string;
  error?: string;
}

function ticks(path: string): Tick[] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Tick);
  } catch {
    return [];
  }
}

describe('xlat64 PLAT restart after kill -9 (embedded state)', () => {
  let udpLog = '';
  const tcpTicks = () => ticks(`${lab.runDir}/tcp-ticker.jsonl`);
  const udpTicks = () => ticks(`${lab.runDir}/udp-ticker.jsonl`);

  beforeAll(() => {
    lab.up();
    udpLog = startUdpServer(lab);
    lab.background('server', 'tcp-echo-server', [PY, LABTOOL, 'tcp-echo-server', String(TCP_PORT)]);
    waitUntil(
      () => lab.run('server', ['ss', '-ltnH', `sport = :${TCP_PORT}`]).stdout.trim() !== '',
      'the TCP echo server to listen',
    );
  });

  afterAll(() => {
    lab.teardown();
  });

  it('keeps a long-lived TCP connection and a UDP flow on the same IPv4 address and port across kill -9 and restart', () => {
    lab.background('client', 'tcp-ticker', [
      PY,
      LABTOOL,
      'tcp-ticker',
      SERVER_V6,
      String(TCP_PORT),
      `${lab.runDir}/tcp-ticker.jsonl`,
    ]);
    lab.background('client', 'udp-ticker', [
      PY,
      LABTOOL,
      'udp-ticker',
      SERVER_V6,
      String(UDP_PORT),
      `${lab.runDir}/udp-ticker.jsonl`,
    ]);
    waitUntil(() => tcpTicks().length >= 5 && udpTicks().length >= 5, 'both flows to be answered', 20_000);
    // The mappings and sessions reach the log within a flush interval (1 s by default).
    spawnSleep(2.5);
    const before = lab.counters('plat');
    expect(before['nat.sessions']).toBeGreaterThanOrEqual(2);
    const tcpBefore = tcpTicks().length;
    const udpBefore = udpTicks().length;

    const { killed, started } = lab.killAndRestartPlat(1000);
    expect(started).not.toBe(killed);
    const after = lab.counters('plat');
    expect(after['state.restoredSessions']).toBeGreaterThanOrEqual(2);

    waitUntil(
      () => tcpTicks().length >= tcpBefore + 10 && udpTicks().length >= udpBefore + 10,
      'both flows to be answered again after the restart',
      45_000,
    );
    const tcp = tcpTicks();
    expect(tcp.filter((t) => t.error !== undefined)).toEqual([]);
    // One connection throughout: the server saw one peer address and port on every line.
    const tcpPeers = new Set(tcp.map((t) => t.reply?.split(' ')[0]));
    expect(tcpPeers.size).toBe(1);
    expect([...tcpPeers][0]).toMatch(/^203\.0\.113\.\d+:\d+$/);
    // Every UDP tick reached the server from one pool address and port, before and after.
    const udpSeen = readUdpLog(udpLog).filter((d) => d.tag.startsWith('tick'));
    expect(udpSeen.length).toBeGreaterThanOrEqual(udpBefore + 10);
    expect(new Set(udpSeen.map((d) => `${d.peer}:${d.port}`)).size).toBe(1);
    // And the restarted PLAT translated the established TCP segments, not dropped them as unknown.
    const final = lab.counters('plat');
    expect(final['drop.nat.nosession64'] ?? 0).toBe(0);
  });
});

function spawnSleep(seconds: number): void {
  spawnSync('sleep', [String(seconds)]);
}
