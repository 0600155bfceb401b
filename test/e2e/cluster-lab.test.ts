// The cluster lab (infra/lab/cluster-lab.sh): three `xlat64 plat --state nats://…,redis://…` nodes, each in
// its own namespace with a local BIRD 2 announcing what it serves over eBGP with BFD to a router namespace
// that installs the routes as ECMP; a 3-server NATS JetStream cluster and Redis; many subscribers. One lab
// for the whole file. Proves: the lab describes itself in cluster.json; the router's next hops are exactly
// the serving nodes, learned over BGP; a serving node cut off from NATS and Redis makes no new mapping once
// its lease lapses, before a standby takes over, so the server sees one IPv4 address and port per flow
// throughout (the operator's drill, `xlat64 drill --fault partition-state`, against the lab's cluster.json),
// and back on NATS it is fenced and withdraws; a hung serving node (PLAT killed -9, its BIRD frozen so
// nothing can withdraw) loses its next hop through BFD before the standby serves, and flows from the
// subscribers go on with the same IPv4 address and port; a graceful stop withdraws the routes before the
// process exits.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrillReport } from '../../services/cli/src/drill/report.js';
import {
  alive,
  type ClusterDescription,
  type ClusterLabNode,
  clusterLab,
  fileText,
  nodeStatus,
  POOL4,
  PREF64,
  pidOf,
  serving,
  ticks,
} from './helpers/cluster-lab.js';
import { waitUntil, XLAT64 } from './support.js';

const PREFIX = `x64t-cl-${process.pid}`;
const TICKERS = [3, 7, 11, 14]; // subscribers (index + 1) with a long-lived TCP connection each
const lab = clusterLab({ prefix: PREFIX, tickers: TICKERS });
const { ns, procs, run: RUN, nextHops, flowCounts, flowsAdvanced, tcpLog, expectFlowsKeptTheirMapping } = lab;
let cluster: ClusterDescription;
/** The node the hung-node test froze (its PLAT killed, its BIRD stopped). */
let hung: ClusterLabNode;

const counters = (node: ClusterLabNode) => nodeStatus(node)?.counters ?? null;

function birdc(where: keyof typeof ns, socket: string, ...args: string[]): string {
  return procs.sh(where, 'birdc', '-s', socket, ...args);
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

function diagnostics(): string {
  const status = lab.labScript('status', 60_000).stdout;
  const logs = cluster.nodes.map((n) => `--- ${n.id}\n${fileText(`${RUN}/${n.id}.log`).slice(-1500)}`);
  return `${status}\nroute events:\n${fileText(`${RUN}/router-monitor.log`).replace(/\0/g, '')}\n${logs.join('\n')}\n${lab.flowReport()}`;
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
    cluster = lab.up();
    // Every route change of the router, with timestamps, for the order of events below.
    procs.background('router', `${PREFIX}/router-monitor`, [
      'env',
      'TZ=UTC',
      'ip',
      '-ts',
      'monitor',
      'route',
    ]);
    lab.startServers();
  }, 300_000);

  afterAll(() => lab.down(), 180_000);

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

  it('a serving node cut off from NATS and Redis (xlat64 drill --fault partition-state): its lease lapses before a standby takes over, the server sees one IPv4 address and port per flow throughout, and back on NATS the node is fenced and follows as a standby', () => {
    const [n1] = cluster.nodes;
    expect(serving(n1)).toBe(true);
    const workDir = mkdtempSync(`${RUN}/drill-`);
    // The operator's drill against the lab's cluster.json, from the router's namespace (it reaches the
    // nodes' NATS): nftables in n1's namespace drop its NATS and Redis traffic for --observe ms, then go.
    const result = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        ns.router,
        process.execPath,
        XLAT64,
        'drill',
        '--target',
        `${RUN}/cluster.json`,
        '--node',
        'serving',
        '--fault',
        'partition-state',
        '--observe',
        '8000',
        '--settle',
        '3000',
        '--json',
        '--work-dir',
        workDir,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    const why = () => `exit ${result.status}\n${result.stdout}\n${result.stderr}\n${diagnostics()}`;
    let report: DrillReport | null = null;
    try {
      report = JSON.parse(result.stdout) as DrillReport;
    } catch {}
    expect(report, why()).not.toBeNull();
    const r = report!;
    expect(r.node).toBe('n1');
    expect(r.servingBefore).toEqual(['n1']);
    expect(r.takeoverBy, why()).not.toBeNull();
    expect(r.takeoverBy).not.toBe('n1');
    // One mapping per flow at the server from the first reply to the last: the cut-off node served its
    // flows with the mappings its successor holds too, and made none of its own.
    expect(
      r.flows.filter((f) => !f.survived).map((f) => `${f.id}: ${f.broken}`),
      why(),
    ).toEqual([]);
    for (const flow of r.flows) {
      expect(flow.serverSaw, flow.id).toHaveLength(1);
      expect(flow.resets, flow.id).toBe(0);
    }
    expect(result.status, why()).toBe(0);
    // n1's lease lapsed while it was cut off (it could not know of the takeover); back on NATS it found
    // the newer epoch, stopped serving, withdrew, and follows the shard again as a standby.
    expect(counters(n1)?.['state.leaseExpiries'], why()).toBe(1);
    expect(fileText(`${RUN}/n1.log`)).toMatch(
      /lease lapsed: ownership record last renewed \d+ ms ago \(lease 1500 ms; is NATS reachable\?\); serving existing mappings only/,
    );
    waitUntil(
      () =>
        !serving(n1) &&
        (counters(n1)?.['state.rejoins'] ?? 0) >= 1 &&
        (counters(n1)?.['state.standbyBatches'] ?? 0) > 0,
      `n1 to stop serving and follow the shard again\n${why()}`,
      60_000,
    );
    expect(fileText(`${RUN}/n1.log`)).toMatch(/no longer owns it/);
    const successor = cluster.nodes.find((n) => n.id === r.takeoverBy)!;
    expect(serving(successor)).toBe(true);
    waitUntil(
      () => JSON.stringify(nextHops('-6', PREF64)) === JSON.stringify([successor.uplink.ipv6]),
      `the router to route through ${successor.id} alone\n${why()}`,
      30_000,
    );
  }, 180_000);

  it('a hung serving node (PLAT killed -9, BIRD frozen): BFD removes its next hop, then the standby serves, and TCP and UDP flows from many subscribers keep their IPv4 address and port', () => {
    hung = cluster.nodes.find(serving)!;
    expect(hung, diagnostics()).toBeDefined();
    const others = cluster.nodes.filter((n) => n !== hung);
    const batches = (n: ClusterLabNode) => counters(n)?.['state.standbyBatches'] ?? 0;
    const [b2, b3] = others.map(batches);
    lab.startFlows(cluster, 4);
    const zero = TICKERS.map(() => 0).concat(0);
    try {
      waitUntil(() => flowsAdvanced(zero, 5), 'every flow to be answered', 30_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${diagnostics()}`);
    }
    // The standbys have folded a batch with these sessions (published within the flush interval, 1 s),
    // and one more flush interval passes so the last of them is in the stream too.
    waitUntil(
      () => batches(others[0]) > b2 && batches(others[1]) > b3,
      'the standbys to fold the new sessions',
      30_000,
    );
    spawnSync('sleep', ['1.5']);
    const before = flowCounts();
    const killedAt = Date.now();
    process.kill(pidOf(`${RUN}/${hung.id}-bird.pid`), 'SIGSTOP'); // the node hangs: nothing on it can withdraw
    process.kill(pidOf(hung.pidFile), 'SIGKILL');
    let survivor: ClusterLabNode | undefined;
    try {
      waitUntil(
        () => withdrawnAt(hung.uplink.ipv6, killedAt) !== undefined,
        `the router to drop ${hung.id}'s next hop`,
        30_000,
      );
      waitUntil(
        () => {
          survivor = others.find(serving);
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
    // BFD, not a withdrawal, took the route away: the hung node's BIRD is frozen, and the router says why.
    const protocols = birdc('router', cluster.router.birdSocket, 'show', 'protocols');
    expect(protocols).toMatch(new RegExp(`${hung.id}v6\\s+BGP.*BFD session down`));
    expect(birdc('router', cluster.router.birdSocket, 'show', 'bfd', 'sessions')).toMatch(
      new RegExp(`${hung.uplink.ipv6}\\s+r\\d+\\s+Down`),
    );
    // Order of events: route withdrawn, then the standby's route installed, then the flows answered again.
    const withdrawn = withdrawnAt(hung.uplink.ipv6, killedAt)!;
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
    const s = cluster.nodes.find((n) => n !== hung && serving(n));
    expect(s, diagnostics()).toBeDefined();
    const node = s!;
    const last = cluster.nodes.find((n) => n !== node && n !== hung)!;
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
    const down = lab.labScript('down', 120_000);
    expect(down.status, down.stderr).toBe(0);
    expect(down.stderr).not.toContain('still run in');
    expect(pids.filter(alive), 'processes the lab started that still run').toEqual([]);
    const left = procs.run('router', 'true').status === 0;
    expect(left, 'the router namespace is gone').toBe(false);
    for (const name of Object.values(ns)) expect(existsSync(`/run/netns/${name}`), name).toBe(false);
    expect(existsSync(RUN)).toBe(false);
  }, 180_000);
});
