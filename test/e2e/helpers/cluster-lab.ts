// The cluster lab (infra/lab/cluster-lab.sh) as the e2e suites drive it: bring it up under a suite's own
// prefix and run directory, read what it describes in cluster.json, ask a node for its status, read the
// router's next hops, start the servers and the long-lived flows (TCP tickers, one UDP ticker), and check
// that every flow kept one IPv4 address and port. Used by cluster-lab.test.ts (state only: one serving
// node, hot standbys) and cluster-lab-fabric.test.ts (`cluster:`: every node serves, one translator).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { LABTOOL, PY, readUdpLog, waitUntil, XLAT64 } from '../support.js';
import { namespaceProcesses } from './namespace-processes.js';

const CLUSTER_LAB = fileURLToPath(new URL('../../../infra/lab/cluster-lab.sh', import.meta.url));
export const TCP_PORT = 9001;
export const UDP_PORT = 9000;
export const PREF64 = '64:ff9b::/96';
export const POOL4 = '203.0.113.0/24';

export interface ClusterLabNode {
  id: string;
  netns: string;
  pidFile: string;
  statusSocket: string;
  command: string[];
  birdSocket: string;
  uplink: { ipv6: string; ipv4: string };
}

/** What `cluster-lab.sh up` writes to <run>/cluster.json. */
export interface ClusterDescription {
  format: number;
  mode: string;
  nodes: ClusterLabNode[];
  client: { netns: string; subscribers: string[] };
  server: { netns: string; ipv4: string; ipv6: string };
  router: { netns: string; birdSocket: string };
  nats: { url: string; pidFile: string }[];
  redis: { url: string; pidFile: string };
}

export interface NodeStatus {
  counters: Record<string, number>;
  cluster?: { members: string[]; owners: string[]; epochs: number[] };
}

export interface Tick {
  reply?: string;
  error?: string;
  t?: number;
}

export function pidOf(file: string): number {
  return Number(readFileSync(file, 'utf8').trim());
}

export function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

export function fileText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

export function ticks(path: string): Tick[] {
  return fileText(path)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Tick);
}

/** A node's status over its socket (`xlat64 status --json`), or null when it does not answer. */
export function nodeStatus(node: ClusterLabNode): NodeStatus | null {
  const result = spawnSync(process.execPath, [XLAT64, 'status', '--socket', node.statusSocket, '--json'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return result.status === 0 ? (JSON.parse(result.stdout) as NodeStatus) : null;
}
export const count = (node: ClusterLabNode, name: string) => nodeStatus(node)?.counters[name] ?? 0;
export const serving = (node: ClusterLabNode) => count(node, 'state.serving') === 1;

/**
 * One suite's cluster lab. `prefix` names its namespaces and run directory (/tmp/<prefix>); `tickers`
 * are the subscribers (index + 1) that hold a long-lived TCP connection each; `fabric` starts the nodes
 * with `cluster:` (every node serves) instead of state only. Ownership detection is 3 s, not the default
 * 1 s: on the shared 2-core test machine an owner's renewal can be late by more than a second, and a
 * standby would fence a live owner.
 */
export function clusterLab(options: { prefix: string; tickers: number[]; fabric?: boolean }) {
  const { prefix, tickers } = options;
  const run = `/tmp/${prefix}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    X64_LAB_PREFIX: prefix,
    X64_LAB_RUN: run,
    X64_LAB_OWNER_PID: String(process.pid),
    X64_CLUSTER_DETECTION_MS: '3000',
    ...(options.fabric === true ? { X64_CLUSTER_FABRIC: '1' } : {}),
  };
  const ns = {
    router: `${prefix}-router`,
    client: `${prefix}-client`,
    server: `${prefix}-server`,
    n1: `${prefix}-n1`,
    n2: `${prefix}-n2`,
    n3: `${prefix}-n3`,
  };
  const procs = namespaceProcesses(ns, '/tmp');
  const tcpLog = (i: number) => `${run}/tcp-ticker-${i}.jsonl`;
  const udpLog = `${run}/udp-ticker.jsonl`;
  const udpServerLog = `${run}/udp-server.jsonl`;

  const labScript = (command: 'up' | 'down' | 'status', timeoutMs = 300_000) =>
    spawnSync('bash', [CLUSTER_LAB, command], { env, encoding: 'utf8', timeout: timeoutMs });

  /** `cluster-lab.sh up`, then the lab's description. */
  function up(): ClusterDescription {
    const result = labScript('up');
    if (result.status !== 0)
      throw new Error(`cluster-lab.sh up failed (${result.status}):\n${result.stderr}${result.stdout}`);
    return JSON.parse(readFileSync(`${run}/cluster.json`, 'utf8')) as ClusterDescription;
  }

  /** Stop what the suite started in the namespaces, then `cluster-lab.sh down`. */
  async function down(): Promise<void> {
    await procs.stopAll();
    const result = labScript('down', 120_000);
    if (result.status !== 0) process.stderr.write(`cluster-lab.sh down: ${result.stderr}\n`);
  }

  /** The TCP echo server and the UDP server (which logs every datagram's peer) in the server namespace. */
  function startServers(): void {
    procs.background('server', `${prefix}/tcp-echo`, [PY, LABTOOL, 'tcp-echo-server', String(TCP_PORT)]);
    procs.background('server', `${prefix}/udp-server`, [
      PY,
      LABTOOL,
      'udp-server',
      String(UDP_PORT),
      udpServerLog,
    ]);
    waitUntil(
      () =>
        procs.run('server', 'ss', '-ltnH', `sport = :${TCP_PORT}`).stdout.trim() !== '' &&
        procs.run('server', 'ss', '-lunH', `sport = :${UDP_PORT}`).stdout.trim() !== '',
      'the TCP and UDP servers to listen',
    );
  }

  /** A TCP ticker from each of `tickers`, and a UDP ticker from subscriber `udpSubscriber` (an index). */
  function startFlows(cluster: ClusterDescription, udpSubscriber: number): void {
    const subscribers = cluster.client.subscribers;
    for (const i of tickers)
      procs.background('client', `${prefix}/tcp-ticker-${i}`, [
        PY,
        LABTOOL,
        'tcp-ticker',
        cluster.server.ipv6,
        String(TCP_PORT),
        tcpLog(i),
        '--bind',
        subscribers[i - 1],
      ]);
    procs.background('client', `${prefix}/udp-ticker`, [
      PY,
      LABTOOL,
      'udp-ticker',
      cluster.server.ipv6,
      String(UDP_PORT),
      udpLog,
      '--bind',
      subscribers[udpSubscriber],
    ]);
  }

  /** How many answers each flow has had: the TCP tickers in order, then the UDP ticker. */
  const flowCounts = () => [...tickers.map((i) => ticks(tcpLog(i)).length), ticks(udpLog).length];
  /** Every flow has answered `more` more times than in `before`. */
  const flowsAdvanced = (before: number[], more: number) =>
    flowCounts().every((n, k) => n >= before[k] + more);

  function flowReport(): string {
    const lines = tickers.map((i) => `tcp ${i}: ${JSON.stringify(ticks(tcpLog(i)).slice(-2))}`);
    lines.push(`udp: ${JSON.stringify(ticks(udpLog).slice(-2))}`);
    return lines.join('\n');
  }

  /** Every TCP connection answered without an error from one IPv4 address and port; the UDP flow too. */
  function expectFlowsKeptTheirMapping(): void {
    for (const i of tickers) {
      const log = ticks(tcpLog(i));
      expect(
        log.filter((t) => t.error !== undefined),
        `TCP flow of subscriber ${i}`,
      ).toEqual([]);
      const peers = new Set(log.map((t) => t.reply?.split(' ')[0]));
      expect(
        [...peers],
        `TCP flow of subscriber ${i}: the server saw one IPv4 address and port`,
      ).toHaveLength(1);
      expect([...peers][0]).toMatch(/^203\.0\.113\.\d+:\d+$/);
    }
    const udpSeen = readUdpLog(udpServerLog).filter((d) => d.tag.startsWith('tick'));
    expect(udpSeen.length).toBeGreaterThan(0);
    expect(
      new Set(udpSeen.map((d) => `${d.peer}:${d.port}`)).size,
      'UDP flow: one IPv4 address and port',
    ).toBe(1);
  }

  /** The router's next hops (gateway addresses) for a destination, single-path or multipath. */
  function nextHops(family: '-6' | '-4', destination: string): string[] {
    const out = procs.sh('router', 'ip', family, 'route', 'show', destination);
    return [...out.matchAll(/via (\S+)/g)].map((m) => m[1]).sort();
  }

  return {
    run,
    ns,
    procs,
    labScript,
    up,
    down,
    startServers,
    startFlows,
    tcpLog,
    udpLog,
    udpServerLog,
    flowCounts,
    flowsAdvanced,
    flowReport,
    expectFlowsKeptTheirMapping,
    nextHops,
  };
}
