// Two `xlat64 plat` nodes with `cluster:` act as one translator (issue 10): IPv6 flows that enter the node
// which does not own their shard are forwarded over the authenticated GENEVE fabric to the owner, which
// translates them (the IPv4 server sees the owner's pool address) and the replies return; the fabric
// counters of both nodes show the forwarded packets. IPv4 replies routed to the non-owner are forwarded to
// the owner by the blocks the non-owner's standby replica holds; TCP super-packets are cut into packets
// for the fabric. Forged fabric frames from a namespace outside the cluster (a sender id that is no
// member; a member's id and address with the wrong key) are dropped and counted by reason, and create
// nothing at the server. When the owner is killed (-9), the table drops it, the other node takes its shard
// over (state epoch + 1) and a UDP flow continues with the same IPv4 address and port; when the killed
// node comes back, the shard is handed back to it under traffic and the flow still keeps its address and
// port.
//
//   client 2001:db8:c::2 ─┐                         ┌─ node A 198.51.100.2 / 2001:db8:f::2 (TUN nat64)
//                         ├─ hub (router, bridge br0 ┼─ node B 198.51.100.3 / 2001:db8:f::3 (TUN nat64)
//   server 192.0.2.2 ─────┘   198.51.100.1: NATS,    └─ outsider 198.51.100.4 (no member)
//                             Redis)
// The hub routes the PREF64 to the node that does not own the (single) table shard, the entry node,
// and the pool to the owner; so every flow crosses the fabric on its way in.
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordNamespaceOwner } from '../../infra/lab/global-teardown.js';
import { checksumFinish, sumWords } from '../../libs/packet/src/index.js';
import { FabricCodec, rendezvousAssign } from '../../services/cluster/src/index.js';
import { namespaceProcesses, sleep } from './helpers/namespace-processes.js';
import { chromium, LABTOOL, PY, REPO, readUdpLog, XLAT64 } from './support.js';

const pid = process.pid;
const NS = {
  hub: `x64t-cw-h-${pid}`,
  a: `x64t-cw-a-${pid}`,
  b: `x64t-cw-b-${pid}`,
  client: `x64t-cw-c-${pid}`,
  server: `x64t-cw-s-${pid}`,
  outsider: `x64t-cw-x-${pid}`,
};
type Node = keyof typeof NS;
const dir = mkdtempSync(join(tmpdir(), 'x64t-cw-'));
const { run, sh, background, stopAll, logOf } = namespaceProcesses(NS, dir);

const HUB = '198.51.100.1';
const FABRIC = { a: '198.51.100.2', b: '198.51.100.3', outsider: '198.51.100.4' };
const FABRIC6 = { a: '2001:db8:f::2', b: '2001:db8:f::3' };
const SERVER_V4 = '192.0.2.2';
const SERVER_V6 = '64:ff9b::c000:202';
const CLIENT_V6 = '2001:db8:c::2';
const UDP_PORT = 9000;
const PUT_PORT = 9080;
const HTTP_PORT = 9081;
const BODY_BYTES = 4 * 1024 * 1024;
const METRICS = '127.0.0.1:9464';
const KEY = { id: 1, secretHex: '8f3a9c1e5b7d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a' };
const NODE_IDS = { a: `cw-a-${pid}`, b: `cw-b-${pid}` };
// The single table shard (one worker per node) goes to the rendezvous winner: it is the owner, the other
// node the entry. Started owner first, so the owner takes the shard's state without a handover.
const winner = rendezvousAssign([NODE_IDS.a, NODE_IDS.b].sort(), 1).owner[0];
const ownerName: 'a' | 'b' = [NODE_IDS.a, NODE_IDS.b].sort()[winner] === NODE_IDS.a ? 'a' : 'b';
const entryName: 'a' | 'b' = ownerName === 'a' ? 'b' : 'a';

let natsUrl = '';
let redisUrl = '';
const serverPids: number[] = [];

interface Status {
  counters: Record<string, number>;
  cluster?: {
    members: string[];
    tableVersion: number;
    owners: string[];
    epochs: number[];
    tableReads: number;
    tableReadsNewer: number;
  };
}

function status(node: 'a' | 'b'): Status | null {
  const result = run(
    node,
    process.execPath,
    XLAT64,
    'status',
    '--socket',
    join(dir, `${node}.sock`),
    '--json',
  );
  if (result.status !== 0) return null;
  return JSON.parse(result.stdout) as Status;
}
const counter = (node: 'a' | 'b', name: string) => status(node)?.counters[name] ?? 0;
/** A counter of a status document (counters at zero are left out of it). */
const of = (counters: Record<string, number>, name: string) => counters[name] ?? 0;

function diagnostics(): string {
  const parts = (['a', 'b'] as const).map((n) => {
    const s = status(n);
    const c = s?.counters ?? {};
    const interesting = Object.fromEntries(
      Object.entries(c).filter(([k, v]) => v !== 0 && /^(fabric|cluster|state|nat\.|drop|handoff)/.test(k)),
    );
    return `node ${n} (${NODE_IDS[n]}): cluster ${JSON.stringify(s?.cluster)}\ncounters ${JSON.stringify(interesting)}\nlog:\n${logOf(`plat-${n}`).slice(-4000)}`;
  });
  return parts.join('\n\n');
}

async function waitFor(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${diagnostics()}`);
    await sleep(200);
  }
}

/** A veth pair from `node` (eth0) to the hub (`hubSide`). */
function link(node: Node, hubSide: string): void {
  sh(node, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', hubSide, 'netns', NS.hub);
  sh(node, 'ip', 'link', 'set', 'eth0', 'up');
  sh('hub', 'ip', 'link', 'set', hubSide, 'up');
}

function startStateServer(kind: 'nats' | 'redis'): string {
  const out = sh(
    'hub',
    'bash',
    join(REPO, `infra/services/${kind}-server.sh`),
    'start',
    '--host',
    HUB,
    // Inside the test's directory, which the teardown removes (the server is stopped by PID).
    '--dir',
    join(dir, `${kind}-server`),
    '--owner',
    String(pid),
  );
  const serverPid = /^pid=(\d+)$/m.exec(out)?.[1];
  const url = /^url=(\S+)$/m.exec(out)?.[1];
  if (serverPid === undefined || url === undefined)
    throw new Error(`${kind}-server.sh printed no pid/url: ${out}`);
  serverPids.push(Number(serverPid));
  return url;
}

const plats: Partial<Record<'a' | 'b', ChildProcess>> = {};

type Key = { id: number; secretHex: string };

/** The node's configuration file; `keys` / `currentKeyId` are what a key rotation changes. */
function writeNodeConfig(node: 'a' | 'b', keys: Key[], currentKeyId?: number): void {
  nodeKeys[node] = { keys, currentKeyId };
  writeFileSync(
    join(dir, `${node}.yaml`),
    JSON.stringify({
      device: 'nat64',
      pool4: ['203.0.113.0/28'],
      allowNonGlobalIpv4: true,
      stateDir: join(dir, `state-${node}`),
      statusSocket: join(dir, `${node}.sock`),
      // The dashboard (each node in its own namespace): the last test reads the survivor's shard owners.
      metrics: METRICS,
      queues: 1,
      state: { nats: natsUrl, redis: redisUrl, detectionMs: 1000 },
      cluster: {
        nodeId: NODE_IDS[node],
        detectionMs: 1000,
        fabric: { address: FABRIC[node], keys, currentKeyId, mac: 'blake2s' },
      },
    }),
  );
}

/** The keys each node's configuration holds now (a restarted node keeps those of the last rotation). */
const nodeKeys: Record<'a' | 'b', { keys: Key[]; currentKeyId?: number }> = {
  a: { keys: [KEY] },
  b: { keys: [KEY] },
};

function startNode(node: 'a' | 'b'): void {
  writeNodeConfig(node, nodeKeys[node].keys, nodeKeys[node].currentKeyId);
  plats[node] = background(node, `plat-${node}`, [
    process.execPath,
    XLAT64,
    'plat',
    '--config',
    join(dir, `${node}.yaml`),
  ]);
}

/** An IPv6/UDP packet from `source` to the server through the PREF64, with a correct checksum. */
function udp6(source: string, payloadText: string): Uint8Array {
  const payload = new TextEncoder().encode(payloadText);
  const packet = new Uint8Array(48 + payload.length);
  const view = new DataView(packet.buffer);
  view.setUint32(0, 0x60000000);
  view.setUint16(4, 8 + payload.length);
  packet[6] = 17;
  packet[7] = 64;
  packet.set(ipv6Bytes(source), 8);
  packet.set(ipv6Bytes(SERVER_V6), 24);
  view.setUint16(40, 40000);
  view.setUint16(42, UDP_PORT);
  view.setUint16(44, 8 + payload.length);
  packet.set(payload, 48);
  let sum = sumWords(packet, 8, 40, 0);
  sum = sumWords(packet, 40, packet.length, sum + 17 + 8 + payload.length);
  view.setUint16(46, checksumFinish(sum) || 0xffff);
  return packet;
}

function ipv6Bytes(text: string): Uint8Array {
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** A fabric frame sealed by a codec of `nodeId` with `secretHex`, for the table shard 0 at epoch `epoch`. */
function forgedFrame(
  nodeId: string,
  secretHex: string,
  inner: Uint8Array,
  epoch: number,
  keyId = KEY.id,
  /** Frames sealed before this one (its sequence number is one more): past what the receiver has seen. */
  sealedBefore = 0,
): Uint8Array {
  const codec = new FabricCodec({ nodeId, keys: [{ id: keyId, secretHex }], mac: 'blake2s' });
  const frame = new Uint8Array(48 + inner.length);
  for (let i = 0; i < sealedBefore; i++) codec.seal(frame, inner, inner.length, 0, epoch);
  const length = codec.seal(frame, inner, inner.length, 0, epoch);
  return frame.subarray(0, length);
}

/** A fabric frame sent from the outsider to the owner's fabric port, with `source` as its IPv4 source (raw socket). */
function sendFrameFrom(source: string, frame: Uint8Array, name: string): void {
  const file = join(dir, `${name}.bin`);
  writeFileSync(file, frame);
  const sender = [
    'import socket, struct, sys',
    'target, port, spoofed = sys.argv[1], int(sys.argv[2]), sys.argv[3]',
    `body = open(${JSON.stringify(file)}, "rb").read()`,
    'udp = struct.pack("!HHHH", 40000, port, 8 + len(body), 0) + body',
    'ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton(spoofed), socket.inet_aton(target))',
    'r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)',
    'r.sendto(ip + udp, (target, 0))',
  ].join('\n');
  sh('outsider', PY, '-c', sender, FABRIC[ownerName], '6081', source);
}

/** One UDP request from the client to the server through the cluster (it enters at the non-owner). */
function udpThroughCluster(tag: string): { ok: boolean; reply: string | null } {
  return JSON.parse(
    sh(
      'client',
      PY,
      LABTOOL,
      'udp-send',
      SERVER_V6,
      String(UDP_PORT),
      '300',
      '--tag',
      tag,
      '--tries',
      '10',
      '--timeout',
      '1',
    ),
  ) as { ok: boolean; reply: string | null };
}

beforeAll(async () => {
  for (const ns of Object.values(NS)) {
    recordNamespaceOwner(ns);
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  }
  sh('hub', 'ip', 'link', 'add', 'br0', 'type', 'bridge');
  sh('hub', 'ip', 'link', 'set', 'br0', 'up');
  sh('hub', 'ip', 'addr', 'add', `${HUB}/24`, 'dev', 'br0');
  sh('hub', 'ip', 'addr', 'add', '2001:db8:f::1/64', 'dev', 'br0', 'nodad');
  for (const [node, side] of [
    ['a', 'ha'],
    ['b', 'hb'],
    ['outsider', 'hx'],
  ] as const) {
    link(node, side);
    sh('hub', 'ip', 'link', 'set', side, 'master', 'br0');
    sh(node, 'ip', 'addr', 'add', `${FABRIC[node]}/24`, 'dev', 'eth0');
    sh(node, 'ip', 'route', 'add', 'default', 'via', HUB);
    if (node !== 'outsider') {
      sh(node, 'ip', 'addr', 'add', `${FABRIC6[node]}/64`, 'dev', 'eth0', 'nodad');
      sh(node, 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:f::1');
    }
  }
  link('client', 'hc');
  sh('hub', 'ip', 'addr', 'add', '2001:db8:c::1/64', 'dev', 'hc', 'nodad');
  sh('client', 'ip', 'addr', 'add', `${CLIENT_V6}/64`, 'dev', 'eth0', 'nodad');
  sh('client', 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:c::1');
  link('server', 'hs');
  sh('hub', 'ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'hs');
  sh('server', 'ip', 'addr', 'add', `${SERVER_V4}/24`, 'dev', 'eth0');
  sh('server', 'ip', 'route', 'add', 'default', 'via', '192.0.2.1');
  sh('hub', 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  sh('hub', 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
  // In through the entry node, back through the owner: every flow crosses the fabric once.
  sh('hub', 'ip', '-6', 'route', 'add', '64:ff9b::/96', 'via', FABRIC6[entryName]);
  sh('hub', 'ip', 'route', 'add', '203.0.113.0/24', 'via', FABRIC[ownerName]);
  natsUrl = startStateServer('nats');
  redisUrl = startStateServer('redis');
  mkdirSync(join(dir, 'www'));
  writeFileSync(join(dir, 'www', 'body.bin'), randomBytes(BODY_BYTES));
  background('server', 'put-server', [PY, LABTOOL, 'put-server', String(PUT_PORT)]);
  background('server', 'http-server', [
    PY,
    '-m',
    'http.server',
    '--directory',
    join(dir, 'www'),
    String(HTTP_PORT),
  ]);
  background('server', 'udp-server', [
    PY,
    LABTOOL,
    'udp-server',
    String(UDP_PORT),
    join(dir, 'udp-server.jsonl'),
  ]);
  startNode(ownerName);
  await waitFor(
    `the owner (${ownerName}) to serve its shard`,
    () => counter(ownerName, 'state.serving') === 1,
  );
  startNode(entryName);
  await waitFor('both nodes to route by a table of both members', () =>
    (['a', 'b'] as const).every(
      (n) => status(n)?.cluster?.members.length === 2 && counter(n, 'fabric.tableVersion') >= 2,
    ),
  );
}, 180_000);

afterAll(async () => {
  await stopAll();
  for (const serverPid of serverPids) spawnSync('kill', [String(serverPid)]);
  // The servers write their data directories until they exit: removing the directory before that failed
  // once with ENOTEMPTY (nats-server's JetStream store), so wait for them (5 s at most, then SIGKILL).
  for (const serverPid of serverPids) {
    for (let i = 0; i < 100 && existsSync(`/proc/${serverPid}`); i++) await sleep(50);
    if (existsSync(`/proc/${serverPid}`)) spawnSync('kill', ['-KILL', String(serverPid)]);
  }
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
  rmSync(dir, { recursive: true, force: true });
});

describe('xlat64 plat cluster: two nodes, one translator, over the GENEVE fabric', () => {
  it('forwards flows entering the non-owner to the owner, which translates them with its pool address; the replies return', async () => {
    const owner = status(ownerName)!;
    expect(owner.cluster?.owners, diagnostics()).toEqual([NODE_IDS[ownerName]]);
    expect(status(entryName)?.cluster?.owners).toEqual([NODE_IDS[ownerName]]);
    expect(counter(entryName, 'state.serving'), 'the entry node is the shard standby').toBe(0);
    // Drops are counted from here: before the tables were installed, the kernel's own packets into the
    // TUN devices (router solicitations, MLD) may have met a node with no owner for their shard yet.
    const dropsBefore = { entry: status(entryName)!.counters, owner: status(ownerName)!.counters };
    const flows = 5;
    for (let i = 0; i < flows; i++) {
      const reply = udpThroughCluster(`flow-${i}`);
      expect(reply.ok, `flow ${i}: ${JSON.stringify(reply)}\n${diagnostics()}`).toBe(true);
    }
    const seen = readUdpLog(join(dir, 'udp-server.jsonl')).filter((d) => d.tag.startsWith('flow-'));
    expect(seen.length).toBeGreaterThanOrEqual(flows);
    // One subscriber (each flow its own source port): one pool address (paired pooling), leased by the owner.
    expect(new Set(seen.map((d) => d.peer)).size).toBe(1);
    expect(seen[0].peer).toMatch(/^203\.0\.113\.(\d|1[0-5])$/);
    const entry = status(entryName)!.counters;
    const ownerNow = status(ownerName)!.counters;
    expect(of(entry, 'cluster.remoteForwarded'), diagnostics()).toBeGreaterThanOrEqual(flows);
    expect(of(entry, 'fabric.sent')).toBeGreaterThanOrEqual(flows);
    expect(of(ownerNow, 'fabric.accepted')).toBeGreaterThanOrEqual(flows);
    expect(of(ownerNow, 'fabric.received')).toBe(of(ownerNow, 'fabric.accepted'));
    expect(of(ownerNow, 'nat.sessions')).toBeGreaterThanOrEqual(flows);
    expect(of(entry, 'nat.sessions'), 'the entry node translated nothing itself').toBe(0);
    // No frame refused (MAC, replay, member, epoch, owner) and no packet left unsent, at either node.
    for (const [node, now, before] of [
      ['entry', entry, dropsBefore.entry],
      ['owner', ownerNow, dropsBefore.owner],
    ] as const) {
      for (const [name, value] of Object.entries(now))
        if (name.startsWith('fabric.drop.') || name.startsWith('fabric.send.'))
          expect(value - (before[name] ?? 0), `${node} ${name}\n${diagnostics()}`).toBe(0);
    }
  }, 120_000);

  it('forwards IPv4 return traffic that reaches the non-owner to the owner, by the blocks its standby replica holds', async () => {
    // The router sends the pool to the entry node too (as ECMP or a BGP best path may): the replies
    // arrive at a node that does not translate them, which finds the block's shard in the blocks its
    // standby folded from the owner's log and forwards them over the fabric; the owner translates them.
    const before = { entry: status(entryName)!.counters, owner: status(ownerName)!.counters };
    const seenBefore = readUdpLog(join(dir, 'udp-server.jsonl')).filter((d) => d.tag.startsWith('flow-'));
    sh('hub', 'ip', 'route', 'replace', '203.0.113.0/24', 'via', FABRIC[entryName]);
    try {
      const flows = 4;
      for (let i = 0; i < flows; i++) {
        const reply = udpThroughCluster(`v4-return-${i}`);
        expect(reply.ok, `flow ${i}: ${JSON.stringify(reply)}\n${diagnostics()}`).toBe(true);
      }
      const entry = status(entryName)!.counters;
      const owner = status(ownerName)!.counters;
      const delta = (now: Record<string, number>, then: Record<string, number>, name: string) =>
        of(now, name) - of(then, name);
      // Both ways through the fabric: requests in (IPv6), replies back (IPv4), each forwarded by the entry.
      expect(delta(entry, before.entry, 'cluster.remoteForwarded'), diagnostics()).toBeGreaterThanOrEqual(
        2 * flows,
      );
      expect(delta(owner, before.owner, 'fabric.accepted')).toBeGreaterThanOrEqual(2 * flows);
      expect(of(entry, 'nat.sessions'), 'the entry node translated nothing itself').toBe(0);
      for (const [node, now, then] of [
        ['entry', entry, before.entry],
        ['owner', owner, before.owner],
      ] as const)
        for (const [name, value] of Object.entries(now))
          if (name.startsWith('fabric.drop.') || name.startsWith('fabric.send.'))
            expect(value - (then[name] ?? 0), `${node} ${name}\n${diagnostics()}`).toBe(0);
      // The same subscriber: the owner's pool address as before.
      const seen = readUdpLog(join(dir, 'udp-server.jsonl')).filter((d) => d.tag.startsWith('v4-return-'));
      expect(new Set(seen.map((d) => d.peer))).toEqual(new Set([seenBefore[0].peer]));
    } finally {
      sh('hub', 'ip', 'route', 'replace', '203.0.113.0/24', 'via', FABRIC[ownerName]);
    }
  }, 120_000);

  it('carries TCP super-packets (GSO) across the fabric, cut into segments: a 4 MiB upload and download complete', async () => {
    // The kernel hands the entry node's TUN TCP super-packets (up to 64 KiB, the client's or the server's
    // TSO); the fabric seals one packet per frame, so the entry cuts them as the kernel's GSO would. The
    // download's IPv4 super-packets reach the entry too (the pool routed to it), so both families are cut.
    const body = join(dir, 'www', 'body.bin');
    const digest = createHash('sha256').update(readFileSync(body)).digest('hex');
    const before = { entry: status(entryName)!.counters, owner: status(ownerName)!.counters };
    const curl = (...args: string[]) =>
      spawnSync(
        'ip',
        [
          'netns',
          'exec',
          NS.client,
          'curl',
          '-sS',
          '-g',
          '--max-time',
          '30',
          '--speed-time',
          '5',
          '--speed-limit',
          '100000',
          ...args,
        ],
        { encoding: 'utf8', timeout: 40_000 },
      );
    await waitFor('the HTTP servers to listen', () =>
      [PUT_PORT, HTTP_PORT].every((port) => sh('server', 'ss', '-ltnH', `sport = :${port}`).trim() !== ''),
    );
    const up = curl('-T', body, `http://[${SERVER_V6}]:${PUT_PORT}/up`);
    expect(up.stdout.trim(), `${up.stderr}\n${diagnostics()}`).toBe(`${BODY_BYTES} ${digest}`);
    sh('hub', 'ip', 'route', 'replace', '203.0.113.0/24', 'via', FABRIC[entryName]);
    try {
      const downloaded = join(dir, 'down.bin');
      const down = curl('-o', downloaded, `http://[${SERVER_V6}]:${HTTP_PORT}/body.bin`);
      expect(down.status, `${down.stderr}\n${diagnostics()}`).toBe(0);
      expect(createHash('sha256').update(readFileSync(downloaded)).digest('hex')).toBe(digest);
    } finally {
      sh('hub', 'ip', 'route', 'replace', '203.0.113.0/24', 'via', FABRIC[ownerName]);
    }
    const entry = status(entryName)!.counters;
    const owner = status(ownerName)!.counters;
    expect(
      of(entry, 'fabric.send.segmented') - of(before.entry, 'fabric.send.segmented'),
      diagnostics(),
    ).toBeGreaterThan(0);
    expect(
      of(entry, 'fabric.send.gso') - of(before.entry, 'fabric.send.gso'),
      'no super-packet dropped',
    ).toBe(0);
    expect(of(entry, 'nat.sessions'), 'the entry node translated nothing itself').toBe(0);
    for (const [node, now, then] of [
      ['entry', entry, before.entry],
      ['owner', owner, before.owner],
    ] as const)
      for (const [name, value] of Object.entries(now))
        if (name.startsWith('fabric.drop.'))
          expect(value - (then[name] ?? 0), `${node} ${name}\n${diagnostics()}`).toBe(0);
  }, 120_000);

  it('drops and counts forged fabric frames from outside the cluster, and they create nothing; a newer epoch makes the receiver read the table', async () => {
    const epoch = status(ownerName)!.cluster!.epochs[0];
    const before = status(ownerName)!.counters;
    // 1. A sender id that is no member, from the outsider's own address.
    const stranger = forgedFrame(
      'intruder',
      KEY.secretHex,
      udp6('2001:db8:c::66', 'forged-stranger\n'),
      epoch,
    );
    // 2. The entry node's id, from the entry node's address (spoofed with a raw socket), with another key.
    const wrongKey = 'ab'.repeat(32);
    const impostor = forgedFrame(
      NODE_IDS[entryName],
      wrongKey,
      udp6('2001:db8:c::67', 'forged-impostor\n'),
      epoch,
    );
    // 3. The entry node's id, address and key, with an epoch newer than the owner's table and a sequence
    // number past the entry's: authentic, so it passes the MAC and replay checks, and is dropped as
    // epoch-newer, which makes the owner read the stored table at once (no newer one is there).
    const entrySent = of(status(entryName)!.counters, 'fabric.sent');
    const newer = forgedFrame(
      NODE_IDS[entryName],
      KEY.secretHex,
      udp6('2001:db8:c::69', 'forged-newer\n'),
      epoch + 1,
      KEY.id,
      entrySent + 2000,
    );
    const readsBefore = status(ownerName)!.cluster!.tableReads;
    sendFrameFrom(FABRIC.outsider, stranger, 'stranger');
    sendFrameFrom(FABRIC[entryName], impostor, 'impostor');
    sendFrameFrom(FABRIC[entryName], newer, 'newer');
    await waitFor(
      'the owner to count both forged frames',
      () => {
        const c = status(ownerName)!.counters;
        return (
          of(c, 'fabric.drop.non-member') >= of(before, 'fabric.drop.non-member') + 1 &&
          of(c, 'fabric.drop.mac') >= of(before, 'fabric.drop.mac') + 1 &&
          of(c, 'fabric.drop.epoch-newer') >= of(before, 'fabric.drop.epoch-newer') + 1
        );
      },
      30_000,
    );
    await sleep(500);
    const after = status(ownerName)!.counters;
    expect(of(after, 'fabric.drop.non-member') - of(before, 'fabric.drop.non-member'), diagnostics()).toBe(1);
    expect(of(after, 'fabric.drop.mac') - of(before, 'fabric.drop.mac')).toBe(1);
    expect(of(after, 'fabric.drop.epoch-newer') - of(before, 'fabric.drop.epoch-newer')).toBe(1);
    await waitFor(
      'the owner to read the ownership table after the newer epoch',
      () => status(ownerName)!.cluster!.tableReads === readsBefore + 1,
      10_000,
    );
    expect(status(ownerName)!.cluster!.tableReadsNewer, 'the stored table is the one it has').toBe(0);
    expect(of(after, 'fabric.accepted')).toBe(of(before, 'fabric.accepted'));
    expect(of(after, 'fabric.received')).toBe(of(before, 'fabric.received'));
    expect(of(after, 'nat.subscribers'), 'no session for the forged subscribers').toBe(
      of(before, 'nat.subscribers'),
    );
    const forgedSeen = readUdpLog(join(dir, 'udp-server.jsonl')).filter((d) => d.tag.startsWith('forged'));
    expect(forgedSeen, 'no forged packet reached the server').toEqual([]);
    expect(readFileSync(join(dir, 'udp-server.jsonl'), 'utf8')).not.toContain('forged');
  }, 60_000);

  it('rotates the fabric key on SIGHUP without a restart: flows keep crossing under the new key, a frame under the retired one is dropped', async () => {
    const KEY2 = { id: 2, secretHex: '5d1c7e9a3b2f4d6c8e0a1b3c5d7e9f2a4c6e8b0d1f3a5c7e9b2d4f6a8c0e1b3d' };
    const flowThroughFabric = (tag: string) =>
      expect(udpThroughCluster(tag).ok, `${tag}\n${diagnostics()}`).toBe(true);
    const hangup = async (keys: Key[], currentKeyId: number, applied: string) => {
      for (const node of ['a', 'b'] as const) {
        writeNodeConfig(node, keys, currentKeyId);
        process.kill(plats[node]!.pid!, 'SIGHUP');
      }
      for (const node of ['a', 'b'] as const)
        await waitFor(
          `node ${node} to apply the keys (${applied})`,
          () => logOf(`plat-${node}`).includes(applied),
          30_000,
        );
    };
    const before = { entry: status(entryName)!.counters, owner: status(ownerName)!.counters };
    expect(of(before.owner, 'fabric.currentKeyId')).toBe(KEY.id);

    // 1. Both keys, the new one current: every node accepts both while they switch; frames go out under key 2.
    await hangup([KEY, KEY2], KEY2.id, 'fabric keys now 1, 2, sending with 2');
    for (const node of ['a', 'b'] as const)
      expect(of(status(node)!.counters, 'fabric.currentKeyId')).toBe(KEY2.id);
    expect(logOf(`plat-${ownerName}`)).toContain(
      'SIGHUP: no tenants: any source is translated; fabric keys 1, 2 accepted, sending with key 2',
    );
    flowThroughFabric('rotated-1');

    // 2. Only the new key: a frame sealed with the retired key (the entry node's id and address) is dropped.
    await hangup([KEY2], KEY2.id, 'fabric keys now 2, sending with 2');
    flowThroughFabric('rotated-2');
    const mid = status(ownerName)!.counters;
    const retired = forgedFrame(
      NODE_IDS[entryName],
      KEY.secretHex,
      udp6('2001:db8:c::68', 'forged-retired\n'),
      status(ownerName)!.cluster!.epochs[0],
      KEY.id,
    );
    sendFrameFrom(FABRIC[entryName], retired, 'retired');
    await waitFor(
      'the owner to drop the frame under the retired key',
      () =>
        of(status(ownerName)!.counters, 'fabric.drop.unknown-key') >= of(mid, 'fabric.drop.unknown-key') + 1,
      30_000,
    );
    const after = { entry: status(entryName)!.counters, owner: status(ownerName)!.counters };
    // The real flows crossed the fabric under the new key: accepted, and nothing else refused.
    expect(of(after.owner, 'fabric.accepted') - of(before.owner, 'fabric.accepted')).toBeGreaterThanOrEqual(
      2,
    );
    for (const [node, now, then] of [
      ['entry', after.entry, before.entry],
      ['owner', after.owner, before.owner],
    ] as const)
      for (const [name, value] of Object.entries(now))
        if (name.startsWith('fabric.drop.') && name !== 'fabric.drop.unknown-key')
          expect(value - (then[name] ?? 0), `${node} ${name}\n${diagnostics()}`).toBe(0);
    expect(of(after.owner, 'fabric.drop.unknown-key') - of(before.owner, 'fabric.drop.unknown-key')).toBe(1);
    expect(readFileSync(join(dir, 'udp-server.jsonl'), 'utf8')).not.toContain('forged-retired');
  }, 120_000);

  it('after a kill -9 of the owner, the table names the other node, which takes the shard over; a UDP flow keeps its IPv4 address and port', async () => {
    const tickLog = join(dir, 'udp-ticks.jsonl');
    const ticks = () =>
      readFileSync(tickLog, { encoding: 'utf8', flag: 'a+' })
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { n: number; reply?: string });
    // The flow's new session is one event batch (flush interval 1 s), which the standby folds.
    const folded = counter(entryName, 'state.standbyBatches');
    background('client', 'udp-ticker', [PY, LABTOOL, 'udp-ticker', SERVER_V6, String(UDP_PORT), tickLog]);
    await waitFor('the UDP flow to be answered through the fabric', () => ticks().length >= 5);
    await waitFor(
      "the standby to fold the batch with the flow's session",
      () => counter(entryName, 'state.standbyBatches') >= folded + 1,
    );
    const before = ticks().length;
    plats[ownerName]!.kill('SIGKILL');
    await waitFor(
      'the table without the killed owner, and the other node serving the shard',
      () => {
        const s = status(entryName);
        return s?.cluster?.owners[0] === NODE_IDS[entryName] && s.counters['state.serving'] === 1;
      },
      60_000,
    );
    // The router follows the new owner (what the BGP lab does by itself): the pool back to it.
    sh('hub', 'ip', 'route', 'replace', '203.0.113.0/24', 'via', FABRIC[entryName]);
    await waitFor('the UDP flow to be answered again', () => ticks().length >= before + 5, 60_000);
    const after = status(entryName)!;
    expect(after.cluster?.members).toEqual([NODE_IDS[entryName]]);
    expect(after.cluster?.epochs[0], 'the table epoch rose with the owner change').toBe(2);
    expect(after.counters['state.epoch'], 'the ownership record epoch rose with the takeover').toBe(2);
    expect(after.counters['state.takeovers']).toBe(1);
    const tickPeers = readUdpLog(join(dir, 'udp-server.jsonl')).filter((d) => d.tag.startsWith('tick'));
    expect(
      new Set(tickPeers.map((d) => `${d.peer}:${d.port}`)).size,
      JSON.stringify(tickPeers.slice(-3)),
    ).toBe(1);
    expect(of(after.counters, 'drop.nat.nosession64')).toBe(0);

    // The survivor's dashboard, rendered by headless Chromium, names the members, the owner and epoch of
    // the shard as its status does, and the takeover on its timeline.
    const dom = chromium(NS[entryName], `http://${METRICS}/`);
    expect(dom.code, dom.stderr).toBe(0);
    expect(dom.stdout).toContain('data-loaded="1"');
    const shown = new RegExp(`members: <b>${NODE_IDS[entryName]}</b>, table v(\\d+)`).exec(dom.stdout);
    expect(Number(shown?.[1])).toBeGreaterThanOrEqual(after.cluster?.tableVersion ?? Number.NaN);
    expect(/data-shard-owner="0">(?:<b>)?([^<]+)</.exec(dom.stdout)?.[1]).toBe(NODE_IDS[entryName]);
    expect(dom.stdout).toMatch(/data-event="takeover" data-shard="0" data-epoch="2"/);
  }, 180_000);

  it('the killed node comes back: the table gives it its shard again, handed over under traffic; the UDP flow keeps its IPv4 address and port', async () => {
    // The rendezvous winner rejoins: the survivor hands the shard over (final batch, snapshot, release),
    // the rejoined node takes it at epoch 3, and the flow that lived through the kill lives through the
    // move back. The router changes nothing: both directions now enter the former owner, which forwards
    // them (IPv6 by subscriber, IPv4 by the blocks its standby replica holds).
    const tickLog = join(dir, 'udp-ticks.jsonl');
    const ticks = () =>
      readFileSync(tickLog, { encoding: 'utf8', flag: 'a+' })
        .split('\n')
        .filter((l) => l.trim() !== '').length;
    const peersBefore = new Set(
      readUdpLog(join(dir, 'udp-server.jsonl'))
        .filter((d) => d.tag.startsWith('tick'))
        .map((d) => `${d.peer}:${d.port}`),
    );
    expect(peersBefore.size).toBe(1);
    startNode(ownerName);
    await waitFor(
      'the rejoined node to own and serve the shard again, handed over by the survivor',
      () => {
        const back = status(ownerName);
        return (
          back?.cluster?.owners[0] === NODE_IDS[ownerName] &&
          back.counters['state.serving'] === 1 &&
          counter(entryName, 'state.serving') === 0 &&
          counter(entryName, 'cluster.handovers') >= 1
        );
      },
      120_000,
    );
    const moved = ticks();
    await waitFor(
      'the UDP flow to be answered through the rejoined owner',
      () => ticks() >= moved + 5,
      60_000,
    );
    const back = status(ownerName)!;
    expect(back.cluster?.epochs[0], 'the owner changed again: epoch 3').toBe(3);
    expect(back.counters['state.epoch']).toBe(3);
    expect(of(back.counters, 'drop.nat.nosession64'), diagnostics()).toBe(0);
    expect(of(status(entryName)!.counters, 'cluster.remoteForwarded')).toBeGreaterThan(0);
    const peersAfter = new Set(
      readUdpLog(join(dir, 'udp-server.jsonl'))
        .filter((d) => d.tag.startsWith('tick'))
        .map((d) => `${d.peer}:${d.port}`),
    );
    expect([...peersAfter], 'one IPv4 address and port through the kill and the move back').toEqual([
      ...peersBefore,
    ]);
  }, 240_000);
});
