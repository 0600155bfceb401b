// The cluster lab with `cluster:` (infra/lab/cluster-lab.sh, X64_CLUSTER_FABRIC=1): three PLAT nodes that
// act as one translator, deployed as an exchange would run them. Every node announces the PREF64 and the
// pool over eBGP with BFD, the router spreads flows over all three (ECMP), the ownership table names one
// owner of the (single) table shard and the other nodes forward what reaches them over the GENEVE fabric.
// Proves: flows from many subscribers enter every node and are translated by the owner alone, both ways,
// from each subscriber's first datagram (a reply reaching a node before it learned the block included);
// when the owner's PLAT is killed (-9), the router keeps the two live next hops, the table's next owner
// takes the shard over, and long-lived TCP and UDP flows keep their IPv4 address and port, with no reset.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClusterDescription,
  type ClusterLabNode,
  clusterLab,
  count,
  fileText,
  nodeStatus,
  POOL4,
  PREF64,
  pidOf,
  serving,
  UDP_PORT,
} from './helpers/cluster-lab.js';
import { LABTOOL, PY, readUdpLog, waitUntil } from './support.js';

const PREFIX = `x64t-clf-${process.pid}`;
const TICKERS = [2, 5, 9, 13]; // subscribers (index + 1) with a long-lived TCP connection each
const lab = clusterLab({ prefix: PREFIX, tickers: TICKERS, fabric: true });
const { procs, run: RUN, nextHops, flowCounts, flowsAdvanced, udpServerLog } = lab;
let cluster: ClusterDescription;

function diagnostics(): string {
  const labStatus = lab.labScript('status', 60_000).stdout;
  const nodes = cluster.nodes.map((n) => {
    const s = nodeStatus(n);
    const c = Object.fromEntries(
      Object.entries(s?.counters ?? {}).filter(([k]) =>
        /^(fabric|cluster|state\.|replication\.|nat\.sessions|drop)/.test(k),
      ),
    );
    return `--- ${n.id}: ${JSON.stringify(s?.cluster)} ${JSON.stringify(c)}\n${fileText(`${RUN}/${n.id}.log`).slice(-1500)}`;
  });
  return `${labStatus}\n${nodes.join('\n')}\n${lab.flowReport()}`;
}

describe('cluster lab with cluster: three nodes, one translator, ECMP over all of them', () => {
  beforeAll(() => {
    cluster = lab.up();
    lab.startServers();
  }, 300_000);

  afterAll(() => lab.down(), 180_000);

  it('every node announces both prefixes; flows from every subscriber enter all three nodes and one owner translates them all', () => {
    expect(cluster.mode).toBe('fabric');
    const uplinks6 = cluster.nodes.map((n) => n.uplink.ipv6).sort();
    const uplinks4 = cluster.nodes.map((n) => n.uplink.ipv4).sort();
    waitUntil(
      () =>
        nextHops('-6', PREF64).join() === uplinks6.join() && nextHops('-4', POOL4).join() === uplinks4.join(),
      'the router to have a next hop through every node for both prefixes',
      30_000,
    );
    const owners = cluster.nodes.filter(serving);
    expect(owners, diagnostics()).toHaveLength(1);
    const [owner] = owners;
    const others = cluster.nodes.filter((n) => n !== owner);
    const subscribers = cluster.client.subscribers;
    for (const [k, source] of subscribers.entries()) {
      const reply = JSON.parse(
        procs.sh(
          'client',
          PY,
          LABTOOL,
          'udp-send',
          cluster.server.ipv6,
          String(UDP_PORT),
          '200',
          '--bind',
          source,
          '--tag',
          `sub-${k}`,
          '--tries',
          '1',
          '--timeout',
          '2',
        ),
      ) as { reply: string | null };
      if (!/^GOT 200 /.test(reply.reply ?? ''))
        throw new Error(`subscriber ${source}: ${JSON.stringify(reply)}\n${diagnostics()}`);
    }
    // One translator: the owner holds every session, the others none; both other nodes forwarded
    // some packets (the router's multipath hash spreads the subscribers), and the owner accepted them.
    expect(count(owner, 'nat.sessions')).toBeGreaterThanOrEqual(subscribers.length);
    for (const n of others) {
      expect(count(n, 'nat.sessions'), `${n.id} translated nothing`).toBe(0);
      expect(count(n, 'cluster.remoteForwarded'), `${n.id} forwarded\n${diagnostics()}`).toBeGreaterThan(0);
    }
    expect(count(owner, 'fabric.accepted')).toBeGreaterThan(0);
    // Each subscriber's first datagram was answered (one try): a reply the router sent to a node that had
    // not yet learned the subscriber's new block (the owner's lease reaches the others with the next
    // replicated batch) went over the fabric to the owner all the same.
    expect(
      others.reduce((sum, n) => sum + count(n, 'fabric.send.unleased'), 0),
      'replies to blocks not learned yet, passed to the owner',
    ).toBeGreaterThan(0);
    const seen = readUdpLog(udpServerLog).filter((d) => d.tag.startsWith('sub-'));
    expect(new Set(seen.map((d) => d.tag)).size).toBe(subscribers.length);
    for (const d of seen) expect(d.peer).toMatch(/^203\.0\.113\.\d+$/);
  }, 180_000);

  it("the owner's PLAT killed -9: the table's next owner takes the shard, and TCP and UDP flows keep their IPv4 address and port", () => {
    const owner = cluster.nodes.find(serving)!;
    const others = cluster.nodes.filter((n) => n !== owner);
    // Read before the flows start: their sessions can be folded before startFlows returns.
    const folded = others.map((n) => count(n, 'state.standbyBatches'));
    lab.startFlows(cluster, 6);
    try {
      waitUntil(() => flowsAdvanced([0, 0, 0, 0, 0], 5), 'every flow to be answered', 30_000);
      waitUntil(
        () => others.every((n, k) => count(n, 'state.standbyBatches') > folded[k]),
        'the standbys to fold the new sessions',
        30_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${diagnostics()}`);
    }
    spawnSync('sleep', ['1.5']); // one more flush interval: the last sessions are in the stream too
    const before = flowCounts();
    process.kill(pidOf(owner.pidFile), 'SIGKILL');
    let next: ClusterLabNode | undefined;
    try {
      waitUntil(
        () => {
          next = others.find(serving);
          return next !== undefined;
        },
        'another node to take the shard over',
        60_000,
      );
      waitUntil(() => flowsAdvanced(before, 10), 'every flow to be answered again', 60_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${diagnostics()}`);
    }
    // The killed node's TUN went with its process: its BIRD withdrew both prefixes.
    expect(nextHops('-6', PREF64)).toEqual(others.map((n) => n.uplink.ipv6).sort());
    expect(nextHops('-4', POOL4)).toEqual(others.map((n) => n.uplink.ipv4).sort());
    const s = nodeStatus(next!)!;
    expect(s.cluster?.owners[0]).toBe(`${PREFIX}-${next!.id}`);
    expect(s.counters['state.takeovers']).toBeGreaterThanOrEqual(1);
    lab.expectFlowsKeptTheirMapping();
  }, 240_000);
});
