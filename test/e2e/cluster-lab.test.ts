// The cluster lab (infra/lab/cluster-lab.sh): three `xlat64 plat --state nats://…,redis://…` nodes, each in
// its own namespace with a local BIRD 2 announcing what it serves over eBGP with BFD to a router namespace
// that installs the routes as ECMP; a 3-server NATS JetStream cluster and Redis; many subscribers. One lab
// for the whole file. Proves: the lab describes itself in cluster.json; the router's next hops are exactly
// the serving nodes, learned over BGP; a hung serving node (PLAT killed -9, its BIRD frozen so nothing can
// withdraw) loses its next hop through BFD before the standby serves, and flows from the subscribers go on
// with the same IPv4 address and port; a graceful stop withdraws the routes before the process exits.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceProcesses } from './helpers/namespace-processes.js';
import { LABTOOL, PY, readUdpLog, waitUntil, XLAT64 } from './support.js';

const CLUSTER_LAB = fileURLToPath(new URL('../../infra/lab/cluster-lab.sh', import.meta.url));
const PREFIX = `x64t-cl-${process.pid}`;
const RUN = `/tmp/${PREFIX}`;
const TCP_PORT = 9001;
const UDP_PORT = 9000;
const PREF64 = '64:ff9b::/96';
const POOL4 = '203.0.113.0/24';

interface ClusterDescription {
  format: number;
  nodes: {
    id: string;
    netns: string;
    pidFile: string;
    statusSocket: string;
    command: string[];
    birdSocket: string;
    uplink: { ipv6: string; ipv4: string };
  }[];
  client: { netns: string; subscribers: string[] };
  server: { netns: string; ipv4: string; ipv6: string };
  router: { netns: string; birdSocket: string };
  nats: { url: string; pidFile: string }[];
  redis: { url: string; pidFile: string };
}

// The PLATs' ownership detection is 3 s here, not the default 1 s: on the shared 2-core test machine an
// owner's renewal can be late by more than a second, and a standby would fence a live owner. BFD keeps
// its sub-second detection, so the router drops a hung node long before a standby takes its shard.
const env = {
  ...process.env,
  X64_LAB_PREFIX: PREFIX,
  X64_LAB_RUN: RUN,
  X64_LAB_OWNER_PID: String(process.pid),
  X64_CLUSTER_DETECTION_MS: '3000',
};
const ns = {
  router: `${PREFIX}-router`,
  client: `${PREFIX}-client`,
  server: `${PREFIX}-server`,
  n1: `${PREFIX}-n1`,
  n2: `${PREFIX}-n2`,
  n3: `${PREFIX}-n3`,
};
const procs = namespaceProcesses(ns, '/tmp');
let cluster: ClusterDescription;

function labScript(command: 'up' | 'down' | 'status', timeoutMs = 300_000) {
  return spawnSync('bash', [CLUSTER_LAB, command], { env, encoding: 'utf8', timeout: timeoutMs });
}

function pidOf(file: string): number {
  return Number(readFileSync(file, 'utf8').trim());
}

function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

function counters(node: ClusterDescription['nodes'][number]): Record<string, number> | null {
  const result = spawnSync(process.execPath, [XLAT64, 'status', '--socket', node.statusSocket, '--json'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0) return null;
  return (JSON.parse(result.stdout) as { counters: Record<string, number> }).counters;
}

const serving = (node: ClusterDescription['nodes'][number]) => counters(node)?.['state.serving'] === 1;

function birdc(where: keyof typeof ns, socket: string, ...args: string[]): string {
  return procs.sh(where, 'birdc', '-s', socket, ...args);
}

/** The router's next hops (gateway addresses) for a destination, single-path or multipath. */
function nextHops(family: '-6' | '-4', destination: string): string[] {
  const out = procs.sh('router', 'ip', family, 'route', 'show', destination);
  return [...out.matchAll(/via (\S+)/g)].map((m) => m[1]).sort();
}

function fileText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

interface Tick {
  reply?: string;
  error?: string;
  t?: number;
}

function ticks(path: string): Tick[] {
  return fileText(path)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Tick);
}

/** Route changes the router's kernel made, from `ip -ts monitor route` (UTC): time and line. */
function routeEvents(): { t: number; line: string }[] {
  const events: { t: number; line: string }[] = [];
  for (const line of fileText(`${RUN}/router-monitor.log`).split('\n')) {
    const m = /^\[(\d{4}-\d\d-\d\dT[\d:.]+)\] (.*)$/.exec(line.replace(/^\0+/, ''));
    if (m) events.push({ t: Date.parse(`${m[1]}Z`), line: m[2] });
  }
  return events;
}

/** When the router's route to the PREF64 through `gateway` was removed (after `since`), or undefined. */
function withdrawnAt(gateway: string, since: number): number | undefined {
  return routeEvents().find(
    (e) => e.t >= since && e.line.startsWith(`Deleted ${PREF64}`) && e.line.includes(`via ${gateway} `),
  )?.t;
}

/** When the router first installed a route to the PREF64 through `gateway` (after `since`), or undefined. */
function announcedAt(gateway: string, since: number): number | undefined {
  return routeEvents().find(
    (e) => e.t >= since && e.line.startsWith(PREF64) && new RegExp(`via ${gateway} `).test(e.line),
  )?.t;
}

const TICKERS = [3, 7, 11, 14]; // subscribers (index + 1) with a long-lived TCP connection each
const tcpLog = (i: number) => `${RUN}/tcp-ticker-${i}.jsonl`;
const udpLog = `${RUN}/udp-ticker.jsonl`;
const udpServerLog = `${RUN}/udp-server.jsonl`;

function flowReport(): string {
  const lines = TICKERS.map((i) => `tcp ${i}: ${JSON.stringify(ticks(tcpLog(i)).slice(-2))}`);
  lines.push(`udp: ${JSON.stringify(ticks(udpLog).slice(-2))}`);
  return lines.join('\n');
}

function diagnostics(): string {
  const status = labScript('status', 60_000).stdout;
  const logs = cluster.nodes.map((n) => `--- ${n.id}\n${fileText(`${RUN}/${n.id}.log`).slice(-1500)}`);
  return `${status}\nroute events:\n${fileText(`${RUN}/router-monitor.log`).replace(/\0/g, '')}\n${logs.join('\n')}\n${flowReport()}`;
}

/** Every flow has answered `more` more times than in `before`. */
function flowsAdvanced(before: number[], more: number): boolean {
  const now = [...TICKERS.map((i) => ticks(tcpLog(i)).length), ticks(udpLog).length];
  return now.every((n, k) => n >= before[k] + more);
}

const flowCounts = () => [...TICKERS.map((i) => ticks(tcpLog(i)).length), ticks(udpLog).length];

/** Every TCP connection answered without an error from one IPv4 address and port; the UDP flow too. */
function expectFlowsKeptTheirMapping(): void {
  for (const i of TICKERS) {
    const log = ticks(tcpLog(i));
    expect(
      log.filter((t) => t.error !== undefined),
      `TCP flow of subscriber ${i}`,
    ).toEqual([]);
    const peers = new Set(log.map((t) => t.reply?.split(' ')[0]));
    expect([...peers], `TCP flow of subscriber ${i}: the server saw one IPv4 address and port`).toHaveLength(
      1,
    );
    expect([...peers][0]).toMatch(/^203\.0\.113\.\d+:\d+$/);
  }
  const udpSeen = readUdpLog(udpServerLog).filter((d) => d.tag.startsWith('tick'));
  expect(udpSeen.length).toBeGreaterThan(0);
  expect(new Set(udpSeen.map((d) => `${d.peer}:${d.port}`)).size, 'UDP flow: one IPv4 address and port').toBe(
    1,
  );
}

/** The time of the first answer after the longest silence of a flow (when it came back). */
function resumedAt(path: string, since: number): number {
  const times = ticks(path)
    .map((t) => (t.t ?? 0) * 1000)
    .filter((t) => t > since);
  return times[0] ?? Number.NaN;
}

describe('cluster lab: three PLAT nodes behind a BGP/BFD router (infra/lab/cluster-lab.sh)', () => {
  beforeAll(() => {
    const up = labScript('up');
    if (up.status !== 0)
      throw new Error(`cluster-lab.sh up failed (${up.status}):\n${up.stderr}${up.stdout}`);
    cluster = JSON.parse(readFileSync(`${RUN}/cluster.json`, 'utf8')) as ClusterDescription;
    // Every route change of the router, with timestamps, for the order of events below.
    procs.background('router', `${PREFIX}/router-monitor`, [
      'env',
      'TZ=UTC',
      'ip',
      '-ts',
      'monitor',
      'route',
    ]);
    procs.background('server', `${PREFIX}/tcp-echo`, [PY, LABTOOL, 'tcp-echo-server', String(TCP_PORT)]);
    procs.background('server', `${PREFIX}/udp-server`, [
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
  }, 300_000);

  afterAll(async () => {
    await procs.stopAll();
    const down = labScript('down', 120_000);
    if (down.status !== 0) process.stderr.write(`cluster-lab.sh down: ${down.stderr}\n`);
  }, 180_000);

  it('describes itself in cluster.json: nodes with their namespace, PID file, status socket and command; subscribers; server; NATS and Redis', () => {
    expect(cluster.format).toBe(1);
    expect(cluster.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    for (const node of cluster.nodes) {
      expect(existsSync(`/run/netns/${node.netns}`)).toBe(true);
      expect(alive(pidOf(node.pidFile)), `${node.id} PID file`).toBe(true);
      expect(counters(node), `${node.id} answers on its status socket`).not.toBeNull();
      expect(node.command.slice(0, 4)).toEqual(['ip', 'netns', 'exec', node.netns]);
      expect(node.command).toContain('plat');
    }
    expect(cluster.client.subscribers.length).toBeGreaterThanOrEqual(16);
    const addresses = procs.sh('client', 'ip', '-6', 'addr', 'show', 'dev', 'lo');
    for (const s of cluster.client.subscribers) expect(addresses).toContain(`${s}/128`);
    expect(cluster.server).toEqual({ netns: ns.server, ipv4: '198.51.100.2', ipv6: '64:ff9b::c633:6402' });
    expect(cluster.nats).toHaveLength(3);
    for (const server of [...cluster.nats, cluster.redis]) expect(alive(pidOf(server.pidFile))).toBe(true);
    expect(new Set(cluster.nats.map((n) => n.url)).size).toBe(3);
    expect(cluster.redis.url).toMatch(/^redis:\/\//);
  });

  it('the router learns the PREF64 and the pool over BGP, with BFD, with one next hop per serving node', () => {
    const protocols = birdc('router', cluster.router.birdSocket, 'show', 'protocols');
    for (const node of cluster.nodes.map((n) => n.id))
      for (const family of ['v6', 'v4'])
        expect(protocols).toMatch(new RegExp(`${node}${family}\\s+BGP.*Established`));
    const bfd = birdc('router', cluster.router.birdSocket, 'show', 'bfd', 'sessions');
    for (const node of cluster.nodes) {
      expect(bfd).toMatch(new RegExp(`${node.uplink.ipv6}\\s+r\\d\\s+Up`));
      expect(bfd).toMatch(new RegExp(`${node.uplink.ipv4.replace(/\./g, '\\.')}\\s+r\\d\\s+Up`));
    }
    // Today one node owns the shard (the others are hot standbys and announce nothing); with the fabric
    // every node serves and the same check sees three next hops.
    const servers = cluster.nodes.filter(serving);
    expect(servers.map((n) => n.id)).toEqual(['n1']);
    expect(nextHops('-6', PREF64), diagnostics()).toEqual(servers.map((n) => n.uplink.ipv6).sort());
    expect(nextHops('-4', POOL4)).toEqual(servers.map((n) => n.uplink.ipv4).sort());
    expect(procs.sh('router', 'ip', '-6', 'route', 'show', PREF64)).toContain('proto bird');
    // What each node's BIRD exports is what its PLAT routes into its TUN: nothing on a standby.
    for (const node of cluster.nodes) {
      const exported = birdc(node.id as 'n1', node.birdSocket, 'show', 'route', 'export', 'up6');
      if (servers.includes(node)) expect(exported).toContain(PREF64);
      else expect(exported).not.toContain(PREF64);
    }
  });

  it('a hung serving node (PLAT killed -9, BIRD frozen): BFD removes its next hop, then the standby serves, and TCP and UDP flows from many subscribers keep their IPv4 address and port', () => {
    const subscribers = cluster.client.subscribers;
    const [n1, n2, n3] = cluster.nodes;
    const batches = (n: typeof n2) => counters(n)?.['state.standbyBatches'] ?? 0;
    const b2 = batches(n2);
    const b3 = batches(n3);
    for (const i of TICKERS)
      procs.background('client', `${PREFIX}/tcp-ticker-${i}`, [
        PY,
        LABTOOL,
        'tcp-ticker',
        cluster.server.ipv6,
        String(TCP_PORT),
        tcpLog(i),
        '--bind',
        subscribers[i - 1],
      ]);
    procs.background('client', `${PREFIX}/udp-ticker`, [
      PY,
      LABTOOL,
      'udp-ticker',
      cluster.server.ipv6,
      String(UDP_PORT),
      udpLog,
      '--bind',
      subscribers[4],
    ]);
    const zero = TICKERS.map(() => 0).concat(0);
    try {
      waitUntil(() => flowsAdvanced(zero, 5), 'every flow to be answered', 30_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${diagnostics()}`);
    }
    // The standbys have folded a batch with these sessions (published within the flush interval, 1 s),
    // and one more flush interval passes so the last of them is in the stream too.
    waitUntil(() => batches(n2) > b2 && batches(n3) > b3, 'the standbys to fold the new sessions', 30_000);
    spawnSync('sleep', ['1.5']);
    const before = flowCounts();
    const killedAt = Date.now();
    process.kill(pidOf(`${RUN}/n1-bird.pid`), 'SIGSTOP'); // the node hangs: nothing on it can withdraw
    process.kill(pidOf(n1.pidFile), 'SIGKILL');
    let survivor: typeof n2 | undefined;
    try {
      waitUntil(
        () => withdrawnAt(n1.uplink.ipv6, killedAt) !== undefined,
        "the router to drop n1's next hop",
        30_000,
      );
      waitUntil(
        () => {
          survivor = [n2, n3].find(serving);
          return survivor !== undefined;
        },
        'a standby to serve',
        30_000,
      );
      waitUntil(() => flowsAdvanced(before, 10), 'every flow to be answered again', 60_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${diagnostics()}`);
    }
    const s = survivor!;
    // BFD, not a withdrawal, took the route away: n1's BIRD is frozen, and the router says why.
    const protocols = birdc('router', cluster.router.birdSocket, 'show', 'protocols');
    expect(protocols).toMatch(/n1v6\s+BGP.*BFD session down/);
    expect(birdc('router', cluster.router.birdSocket, 'show', 'bfd', 'sessions')).toMatch(
      new RegExp(`${n1.uplink.ipv6}\\s+r1\\s+Down`),
    );
    // Order of events: route withdrawn, then the standby's route installed, then the flows answered again.
    const withdrawn = withdrawnAt(n1.uplink.ipv6, killedAt)!;
    const announced = announcedAt(s.uplink.ipv6, killedAt);
    expect(announced, diagnostics()).toBeDefined();
    expect(withdrawn, 'the hung node was withdrawn before the standby announced').toBeLessThan(announced!);
    for (const i of TICKERS) {
      const resumed = resumedAt(tcpLog(i), withdrawn);
      expect(resumed, `TCP flow ${i} answered again after the standby announced`).toBeGreaterThan(announced!);
    }
    expect(nextHops('-6', PREF64)).toEqual([s.uplink.ipv6]);
    expect(nextHops('-4', POOL4)).toEqual([s.uplink.ipv4]);
    expect(counters(s)?.['state.takeovers']).toBeGreaterThanOrEqual(1);
    expectFlowsKeptTheirMapping();
    process.stdout.write(
      `cluster lab: BFD detection ${withdrawn - killedAt} ms after the hang; standby routed ` +
        `${announced! - killedAt} ms after it\n`,
    );
  }, 180_000);

  it('a graceful stop (SIGTERM) withdraws the routes before the process exits; the last node takes over and the flows go on', () => {
    const s = cluster.nodes.slice(1).find(serving);
    expect(s, diagnostics()).toBeDefined();
    const node = s!;
    const last = cluster.nodes.slice(1).find((n) => n !== node)!;
    const pid = pidOf(node.pidFile);
    const before = flowCounts();
    const stoppedAt = Date.now();
    process.kill(pid, 'SIGTERM');
    let lastSeenAlive = Date.now();
    let withdrawnWhileAlive = false;
    const deadline = Date.now() + 60_000;
    while (alive(pid) && Date.now() < deadline) {
      lastSeenAlive = Date.now();
      if (!withdrawnWhileAlive && withdrawnAt(node.uplink.ipv6, stoppedAt) !== undefined && alive(pid))
        withdrawnWhileAlive = true;
      spawnSync('sleep', ['0.02']);
    }
    expect(alive(pid), 'the PLAT exits after SIGTERM').toBe(false);
    const withdrawn = withdrawnAt(node.uplink.ipv6, stoppedAt);
    expect(withdrawn, diagnostics()).toBeDefined();
    // Observed in this order: the router had dropped the route while the process still ran.
    expect(
      withdrawnWhileAlive || withdrawn! < lastSeenAlive,
      'routes withdrawn before the process exited',
    ).toBe(true);
    // A withdrawal over a live session, not a lost session: the node's BGP stays Established.
    expect(birdc('router', cluster.router.birdSocket, 'show', 'protocols')).toMatch(
      new RegExp(`${node.id}v6\\s+BGP.*Established`),
    );
    try {
      waitUntil(() => serving(last), 'the last node to serve', 30_000);
      waitUntil(() => flowsAdvanced(before, 10), 'every flow to be answered again', 60_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${diagnostics()}`);
    }
    expect(nextHops('-6', PREF64)).toEqual([last.uplink.ipv6]);
    expectFlowsKeptTheirMapping();
  }, 180_000);

  it('down removes everything it started even after failures (a killed PLAT, a frozen BIRD): processes, namespaces, run directory', async () => {
    await procs.stopAll();
    const pids = readdirSync(RUN)
      .filter((f) => f.endsWith('.pid'))
      .map((f) => pidOf(`${RUN}/${f}`));
    expect(pids.length).toBeGreaterThanOrEqual(11); // 3 PLATs, 4 BIRDs, 3 NATS, Redis
    const down = labScript('down', 120_000);
    expect(down.status, down.stderr).toBe(0);
    expect(down.stderr).not.toContain('still run in');
    expect(pids.filter(alive), 'processes the lab started that still run').toEqual([]);
    const left = procs.run('router', 'true').status === 0;
    expect(left, 'the router namespace is gone').toBe(false);
    for (const name of Object.values(ns)) expect(existsSync(`/run/netns/${name}`), name).toBe(false);
    expect(existsSync(RUN)).toBe(false);
  }, 180_000);
});
