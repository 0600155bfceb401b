// `npm run bench -- cluster-fabric` (root): what the inter-node fabric costs, in the cluster lab with
// `cluster:` (infra/lab/cluster-lab.sh, X64_CLUSTER_FABRIC=1: three PLAT nodes, one translator, the
// router spreading flows over every node that announces). Two phases in the same lab run, in this order
// and then once more reversed, so neither always runs first:
//   1 node  — the router's BGP sessions to the two non-owners are disabled: every packet enters the
//             owner, nothing crosses the fabric (the single-node baseline);
//   3 nodes — all sessions up: ECMP over three next hops, so about 2/3 of the packets enter a node that
//             does not own the shard and are forwarded over GENEVE to the owner.
// Each phase runs FABRIC_CLIENTS (default 8) iperf3 clients from different subscribers, once as 64-byte
// UDP at FABRIC_UDP_PPS packets/s in all (default 40,000) and once as TCP bulk (one stream each), for
// FABRIC_DUR seconds (default 5). Printed per phase: delivered rate, loss, the share of the packets the
// owner's step took that came over the fabric, each PLAT's CPU time and its CPU per packet (owner: per
// translated packet; others: per fabric frame sent), the drops by counter, and the ratios 3 nodes / 1 node.
// On two cores the three nodes, the router and iperf3 share the CPUs: this measures the fabric's
// overhead, not scale-out.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  type ClusterDescription,
  type ClusterLabNode,
  clusterLab,
  fileText,
  nodeStatus,
  pidOf,
  serving,
} from '../e2e/helpers/cluster-lab.js';
import { waitUntil } from '../e2e/support.js';

const CLIENTS = Number(process.env.FABRIC_CLIENTS ?? 8);
const UDP_PPS = Number(process.env.FABRIC_UDP_PPS ?? 40_000);
const DUR = Number(process.env.FABRIC_DUR ?? 5);
const PORT0 = 5201;
const CLK_TCK = 100; // /proc/PID/stat utime and stime are in clock ticks (USER_HZ)

interface Phase {
  nodes: 1 | 3;
  test: 'udp' | 'tcp';
  deliveredPps: number;
  gbps: number;
  lossPct: number;
  fabricShare: number;
  cpuS: Record<string, number>;
  usPerPacket: Record<string, number>;
  drops: Record<string, number>;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the whole line)
}

const counter = (c: Record<string, number> | undefined, name: string) => c?.[name] ?? 0;

/** UDP datagrams the kernel dropped for a full socket receive buffer in a node's namespace (the fabric's). */
function rcvbufErrors(netns: string): number {
  const snmp = spawnSync('ip', ['netns', 'exec', netns, 'cat', '/proc/net/snmp'], {
    encoding: 'utf8',
  }).stdout;
  const [names, values] = snmp.split('\n').filter((l) => l.startsWith('Udp:'));
  const at = names.split(' ').indexOf('RcvbufErrors');
  return Number(values.split(' ')[at]);
}

export default async function clusterFabricBench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: the cluster fabric bench needs root (network namespaces)\n');
    return;
  }
  const prefix = `x64t-bfab-${process.pid}`;
  const lab = clusterLab({ prefix, tickers: [], fabric: true });
  let cluster: ClusterDescription | undefined;
  try {
    cluster = lab.up();
    const c = cluster;
    for (let k = 0; k < CLIENTS; k++)
      lab.procs.background('server', `${prefix}/iperf3-s${k}`, ['iperf3', '-s', '-p', String(PORT0 + k)]);
    waitUntil(
      () => lab.procs.run('server', 'ss', '-ltnH', `sport = :${PORT0 + CLIENTS - 1}`).stdout.trim() !== '',
      'the iperf3 servers to listen',
    );
    waitUntil(() => c.nodes.filter(serving).length === 1, 'one node to own the shard', 60_000);
    const owner = c.nodes.find(serving)!;
    const others = c.nodes.filter((n) => n !== owner);
    const all = c.nodes.map((n) => n.uplink.ipv6).sort();

    const setSessions = (nodes: ClusterLabNode[], verb: 'enable' | 'disable') => {
      for (const n of nodes)
        for (const family of ['v6', 'v4'])
          lab.procs.sh('router', 'birdc', '-s', c.router.birdSocket, verb, `${n.id}${family}`);
    };
    const single = () => {
      setSessions(others, 'disable');
      waitUntil(
        () => lab.nextHops('-6', '64:ff9b::/96').join() === owner.uplink.ipv6,
        'the router to route through the owner alone',
        30_000,
      );
    };
    const spread = () => {
      setSessions(others, 'enable');
      waitUntil(
        () => lab.nextHops('-6', '64:ff9b::/96').join() === all.join(),
        'the router to route through all three nodes',
        60_000,
      );
    };

    const phases: Phase[] = [];
    const order: [1 | 3, 'udp' | 'tcp'][] = [
      [1, 'udp'],
      [3, 'udp'],
      [1, 'tcp'],
      [3, 'tcp'],
      [3, 'udp'],
      [1, 'udp'],
      [3, 'tcp'],
      [1, 'tcp'],
    ];
    for (const [nodes, test] of order) {
      if (nodes === 1) single();
      else spread();
      // iperf3 3.12 sets a UDP test up with one datagram each way and no retry: a lost one (a new
      // session's first packet) fails the client with "unable to read from stream socket". Run again.
      for (let attempt = 1; ; attempt++) {
        try {
          phases.push(await runPhase(lab, c, owner, nodes, test));
          break;
        } catch (error) {
          if (attempt === 3) throw error;
          process.stdout.write(`${nodes} node(s) ${test}: ${(error as Error).message}; run again\n`);
        }
      }
    }
    report(phases, owner, others);
  } catch (error) {
    if (cluster !== undefined)
      process.stderr.write(
        cluster.nodes
          .map((n) => `--- ${n.id}\n${fileText(`${lab.run}/${n.id}.log`).slice(-1500)}`)
          .join('\n'),
      );
    throw error;
  } finally {
    await lab.down();
  }
}

async function runPhase(
  lab: ReturnType<typeof clusterLab>,
  cluster: ClusterDescription,
  owner: ClusterLabNode,
  nodes: 1 | 3,
  test: 'udp' | 'tcp',
): Promise<Phase> {
  const pids = new Map(cluster.nodes.map((n) => [n.id, pidOf(n.pidFile)]));
  const before = new Map(cluster.nodes.map((n) => [n.id, nodeStatus(n)?.counters]));
  const ticks0 = new Map([...pids].map(([id, pid]) => [id, cpuTicks(pid)]));
  const rcvbuf0 = new Map(cluster.nodes.map((n) => [n.id, rcvbufErrors(n.netns)]));
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  for (let k = 0; k < CLIENTS; k++) {
    const name = `${lab.run.slice('/tmp/'.length)}/iperf3-c${nodes}-${test}-${k}-${Date.now()}`;
    logs.push(`/tmp/${name}.log`);
    const args = ['iperf3', '-c', cluster.server.ipv6, '-p', String(PORT0 + k), '-t', String(DUR), '-J'];
    args.push('-B', cluster.client.subscribers[k % cluster.client.subscribers.length]);
    if (test === 'udp') args.push('-u', '-l', '64', '-b', String(Math.round((UDP_PPS / CLIENTS) * 64 * 8)));
    children.push(lab.procs.background('client', name, args));
  }
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) resolve();
          else child.once('exit', () => resolve());
        }),
    ),
  );
  const ticks1 = new Map([...pids].map(([id, pid]) => [id, cpuTicks(pid)]));
  const rcvbuf1 = new Map(cluster.nodes.map((n) => [n.id, rcvbufErrors(n.netns)]));
  const after = new Map(cluster.nodes.map((n) => [n.id, nodeStatus(n)?.counters]));
  let delivered = 0;
  let sent = 0;
  let bits = 0;
  for (const path of logs) {
    const text = readFileSync(path, 'utf8');
    const doc = JSON.parse(text.slice(text.indexOf('{'))) as {
      error?: string;
      end: {
        sum?: { packets: number; lost_packets: number; bits_per_second: number };
        sum_received?: { bits_per_second: number };
      };
    };
    if (doc.error !== undefined) throw new Error(`iperf3 (${path}): ${doc.error}`);
    if (test === 'udp') {
      sent += doc.end.sum!.packets;
      delivered += doc.end.sum!.packets - doc.end.sum!.lost_packets;
    } else {
      bits += doc.end.sum_received!.bits_per_second;
    }
  }
  const delta = (id: string, name: string) => counter(after.get(id), name) - counter(before.get(id), name);
  const cpuS: Record<string, number> = {};
  const usPerPacket: Record<string, number> = {};
  const drops: Record<string, number> = {};
  for (const n of cluster.nodes) {
    // Forwarders: per frame sent (a GSO super-packet read from the TUN is sent as its segments).
    const frames = delta(n.id, 'fabric.sent');
    const translated = delta(n.id, 'tx.packets64') + delta(n.id, 'tx.packets46');
    const seconds = (ticks1.get(n.id)! - ticks0.get(n.id)!) / CLK_TCK;
    cpuS[n.id] = seconds;
    const handled = n === owner ? translated : frames;
    usPerPacket[n.id] = handled > 0 ? (seconds * 1e6) / handled : Number.NaN;
    for (const name of new Set([
      ...Object.keys(after.get(n.id) ?? {}),
      ...Object.keys(before.get(n.id) ?? {}),
    ]))
      if (/(^drop\.|\.drop\.|Drops$|queueFull|errors|Limited|noRemoteOwner|tooBig)/.test(name)) {
        const d = delta(n.id, name);
        if (d > 0) drops[`${n.id} ${name}`] = d;
      }
    const overflow = rcvbuf1.get(n.id)! - rcvbuf0.get(n.id)!;
    if (overflow > 0) drops[`${n.id} kernel RcvbufErrors`] = overflow;
  }
  // Of the packets the owner's step took (TUN reads, each GSO super-packet one, and fabric frames), those
  // that came over the fabric.
  const ownerRead = delta(owner.id, 'rx.packets');
  const accepted = delta(owner.id, 'fabric.accepted');
  return {
    nodes,
    test,
    deliveredPps: delivered / DUR,
    gbps: bits / 1e9,
    lossPct: sent > 0 ? (100 * (sent - delivered)) / sent : 0,
    fabricShare: ownerRead > 0 ? accepted / ownerRead : 0,
    cpuS,
    usPerPacket,
    drops,
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)];
}

function report(phases: Phase[], owner: ClusterLabNode, others: ClusterLabNode[]): void {
  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '—');
  process.stdout.write(
    `cluster fabric: ${CLIENTS} iperf3 clients, ${DUR} s per run; UDP 64 B at ${UDP_PPS} pps offered in all; ` +
      `owner ${owner.id}, forwarders ${others.map((n) => n.id).join(', ')}; each phase twice (order 1,3,3,1)\n`,
  );
  process.stdout.write(
    `| nodes | test | delivered | loss % | crossed the fabric | CPU s ${owner.id} (owner) | µs/translated pkt ${owner.id} | ` +
      `${others.map((n) => `CPU s ${n.id} | µs/frame sent ${n.id}`).join(' | ')} | drops |\n`,
  );
  process.stdout.write(`|---|---|---|---|---|---|---|${others.map(() => '---|---|').join('')}---|\n`);
  for (const p of phases) {
    const rate = p.test === 'udp' ? `${f(p.deliveredPps / 1000)} kpps` : `${f(p.gbps, 2)} Gbit/s`;
    process.stdout.write(
      `| ${p.nodes} | ${p.test} | ${rate} | ${p.test === 'udp' ? f(p.lossPct, 2) : '—'} | ${f(100 * p.fabricShare)} % | ` +
        `${f(p.cpuS[owner.id], 2)} | ${f(p.usPerPacket[owner.id], 2)} | ` +
        `${others.map((n) => `${f(p.cpuS[n.id], 2)} | ${f(p.usPerPacket[n.id], 2)}`).join(' | ')} | ${
          Object.entries(p.drops)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || '—'
        } |\n`,
    );
  }
  for (const test of ['udp', 'tcp'] as const) {
    const one = phases.filter((p) => p.test === test && p.nodes === 1);
    const three = phases.filter((p) => p.test === test && p.nodes === 3);
    const rate = (ps: Phase[]) => median(ps.map((p) => (test === 'udp' ? p.deliveredPps : p.gbps)));
    const cpu = (ps: Phase[]) => median(ps.map((p) => Object.values(p.cpuS).reduce((a, b) => a + b, 0)));
    const fwdUs = median(three.flatMap((p) => others.map((n) => p.usPerPacket[n.id])));
    process.stdout.write(
      `${test}: 3 nodes / 1 node delivered ${f(rate(three) / rate(one), 2)}×, cluster CPU ${f(cpu(three) / cpu(one), 2)}×; ` +
        `fabric share ${f(100 * median(three.map((p) => p.fabricShare)))} %; forwarding CPU ${f(fwdUs, 2)} µs per frame sent (median of forwarders)\n`,
    );
  }
}
