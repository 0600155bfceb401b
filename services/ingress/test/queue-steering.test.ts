// The TUN steering program (libs/tun native/xlat64_steer.bpf.c) routes as the JavaScript shard router:
// loaded into the kernel and run on packets with BPF_PROG_TEST_RUN, it names the owner worker of every
// IPv6 subscriber's shard and of every IPv4 packet to a leased block (TCP, UDP, ICMP echo, and an ICMP
// error by the flow it quotes), follows the
// router through block leases and releases, a new shard table and tenant subscriber lengths, and keeps
// the fragments of one IPv4 datagram together. Root (CAP_BPF) is needed to load it.
import { afterAll, describe, expect, it } from 'vitest';
import { TunSteering } from '../../../libs/tun/src/index.js';
import {
  ArrayEventSink,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  EngineVerdict,
  type NatEvent,
  NatEventType,
  Protocol,
  parseIpv4,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { createShardTable, ShardRouter, ShardTable } from '../src/routing/index.js';

const WORKERS = 4;
const CONFIG = {
  pool: ['203.0.113.0/30', '198.51.100.20-198.51.100.22'],
  blockSizePorts: 1008,
  ports: { tcp: [1024, 65535] as const },
};

function ipv6Packet(words: ArrayLike<number>, protocol = 17): Uint8Array {
  const p = new Uint8Array(48);
  p[0] = 0x60;
  p[5] = 8;
  p[6] = protocol;
  p[7] = 64;
  for (let i = 0; i < 4; i++) {
    p[8 + i * 4] = words[i] >>> 24;
    p[9 + i * 4] = (words[i] >>> 16) & 255;
    p[10 + i * 4] = (words[i] >>> 8) & 255;
    p[11 + i * 4] = words[i] & 255;
  }
  p.set([0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 80], 24);
  return p;
}

/** An IPv4 packet from 192.0.2.80 to `dst`; slot 0 TCP, 1 UDP (port = destination port), 2 ICMP echo reply (id). */
function ipv4Packet(slot: number, dst: number, port: number, fragment = 0): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  p[3] = 28;
  p[4] = 0x12;
  p[5] = 0x34;
  p[6] = fragment >>> 8;
  p[7] = fragment & 255;
  p[8] = 64;
  p[9] = slot === 0 ? 6 : slot === 1 ? 17 : 1;
  p.set([192, 0, 2, 80, dst >>> 24, (dst >>> 16) & 255, (dst >>> 8) & 255, dst & 255], 12);
  if (slot === 2) {
    p[20] = 0; // echo reply: the identifier is the query's "port"
    p[24] = port >>> 8;
    p[25] = port & 255;
  } else {
    p[20] = 0;
    p[21] = 80;
    p[22] = port >>> 8;
    p[23] = port & 255;
  }
  return p;
}

/** An ICMPv4 error (type 3 code 3) from 192.0.2.80 quoting a packet the flow sent from (pool `src`, `port`). */
function ipv4Error(slot: number, src: number, port: number): Uint8Array {
  const quoted = ipv4Packet(slot, parseIpv4('192.0.2.80'), 0);
  quoted.set([src >>> 24, (src >>> 16) & 255, (src >>> 8) & 255, src & 255, 192, 0, 2, 80], 12);
  if (slot === 2) {
    quoted[20] = 8; // the echo request the flow sent: identifier = the flow's pool "port"
    quoted[24] = port >>> 8;
    quoted[25] = port & 255;
  } else {
    quoted[20] = port >>> 8; // source port = the flow's pool port
    quoted[21] = port & 255;
    quoted[22] = 0;
    quoted[23] = 80;
  }
  const p = new Uint8Array(28 + quoted.length);
  p[0] = 0x45;
  p[3] = p.length;
  p[8] = 64;
  p[9] = 1;
  p.set([192, 0, 2, 80, src >>> 24, (src >>> 16) & 255, (src >>> 8) & 255, src & 255], 12);
  p[20] = 3;
  p[21] = 3;
  p.set(quoted, 28);
  return p;
}

describe('TUN queue steering program', () => {
  const config = validateConfig(CONFIG);
  const steering = TunSteering.load(1024, config.totalBlocks);
  afterAll(() => steering.close());
  const queueOf = (packet: Uint8Array) => steering.testRun(packet) % WORKERS;

  const sink = new ArrayEventSink();
  const engine = createNatEngine(
    { ...CONFIG, sessionsMax: 8192, subscribersMax: 512 },
    { sink, random: createSeededRandom(5), startMs: 0 },
  );
  engine.start(0);
  const router = new ShardRouter(createShardTable({ memberCount: WORKERS }), config);
  let applied = 0;
  const feed = () => {
    for (; applied < sink.events.length; applied++) router.applyEvent(sink.events[applied] as NatEvent);
  };
  // Some blocks leased before the program is attached: steer() pushes them.
  const key = createFlowKey6();
  const flows: { src6: number[]; slot: number; v4: number; port: number }[] = [];
  const open = (sub: number, f: number) => {
    const slot = f % 3;
    key.protocol = [Protocol.Tcp, Protocol.Udp, Protocol.Icmp6][slot];
    key.src6.set([0x20010db8, (sub << 8) | (f & 1), 0, 0x100 + f]);
    key.srcPort = 40_000 + f;
    key.dst4 = parseIpv4('192.0.2.80');
    key.dstPort = slot === 2 ? key.srcPort : 80;
    key.tcpFlags = 0x02;
    key.icmpError = false;
    expect(engine.outbound6(key, 1000)).toBe(EngineVerdict.Translate);
    feed();
    flows.push({ src6: [...key.src6], slot, v4: engine.result.v4Src, port: engine.result.v4SrcPort });
  };
  for (let sub = 0; sub < 40; sub++) for (let f = 0; f < 3; f++) open(sub, f);
  router.steer(steering, WORKERS);
  for (let sub = 40; sub < 120; sub++) for (let f = 0; f < 3; f++) open(sub, f);

  it("queues every IPv6 subscriber's packets for its shard's owner, as the router routes them", () => {
    // Proves the BPF hash is the router's (same keys, mask, murmur3 steps) and the shard -> queue map.
    let checked = 0;
    for (let sub = 0; sub < 3000; sub++) {
      const src = [0x20010db8, Math.imul(sub, 0x9e3779b1) >>> 0, Math.imul(sub, 0x85ebca6b) >>> 0, sub];
      const packet = ipv6Packet(src);
      expect(queueOf(packet)).toBe(router.ownerOf(router.shardOf6(packet, 0)));
      checked++;
    }
    expect(checked).toBe(3000);
  });

  it('queues IPv4 return traffic to a leased block (TCP, UDP, ICMP echo) for the owner of its shard', () => {
    // Proves the block map: leases from before steer() (pushed) and after (each lease event).
    const owners = new Set<number>();
    for (const flow of flows) {
      const owner = router.ownerOf(router.shardOf4(flow.slot, flow.v4, flow.port));
      expect(owner).toBeGreaterThanOrEqual(0);
      expect(queueOf(ipv4Packet(flow.slot, flow.v4, flow.port))).toBe(owner);
      owners.add(owner);
    }
    expect(owners.size).toBe(WORKERS);
  });

  it('queues an ICMP error for the owner of the flow it quotes (TCP, UDP, ICMP echo)', () => {
    for (const flow of flows) {
      const owner = router.ownerOf(router.shardOf4(flow.slot, flow.v4, flow.port));
      expect(queueOf(ipv4Error(flow.slot, flow.v4, flow.port))).toBe(owner);
    }
  });

  it('follows a new shard table: every shard moved to another worker is queued there', () => {
    const table = router.table;
    // Every standby takes its shard over (the former owner becomes the standby).
    router.setTable(new ShardTable(table.version + 1, WORKERS, table.standby.slice(), table.owner.slice()));
    let moved = 0;
    for (const flow of flows.slice(0, 60)) {
      const expected = router.ownerOf(router.shardOf4(flow.slot, flow.v4, flow.port));
      expect(queueOf(ipv4Packet(flow.slot, flow.v4, flow.port))).toBe(expected);
      expect(queueOf(ipv6Packet(flow.src6))).toBe(router.ownerOf(router.subscribers.shardOfWords(flow.src6)));
      if (expected !== table.owner[router.shardOf4(flow.slot, flow.v4, flow.port)]) moved++;
    }
    expect(moved).toBe(60);
  });

  it('forgets a released block: its packets get the host-pair queue, the same for every port of the block', () => {
    // Expire everything: sessions, then their mappings; idle blocks are released after blockIdleTimeoutMs.
    engine.advance(10 * 60_000);
    engine.advance(20 * 60_000);
    feed();
    const released = sink.events.filter((e) => e.type === NatEventType.BlockReleased).length;
    expect(released).toBeGreaterThanOrEqual(flows.length / 3);
    // Unleased now: the program answers by host pair (source and destination address), so two ports of
    // the same pool address from the same remote get the same queue, whatever their former owners.
    const byAddress = new Map<number, Set<number>>();
    for (const flow of flows) {
      expect(router.shardOf4(flow.slot, flow.v4, flow.port)).toBe(-1);
      const queues = byAddress.get(flow.v4) ?? new Set<number>();
      queues.add(steering.testRun(ipv4Packet(flow.slot, flow.v4, flow.port)));
      byAddress.set(flow.v4, queues);
    }
    for (const queues of byAddress.values()) expect(queues.size).toBe(1);
  });

  it('keeps the fragments of one IPv4 datagram on one queue (routed by the worker that reads them)', () => {
    const dst = parseIpv4('203.0.113.1');
    const first = steering.testRun(ipv4Packet(1, dst, 5000, 0x2000)); // MF, offset 0
    const later = steering.testRun(ipv4Packet(1, dst, 0, 0x0010)); // offset 128 bytes, last
    expect(later).toBe(first);
  });

  it('stops hashing IPv6 while tenants set their own subscriber lengths, and hashes again after', () => {
    // A steered packet's answer is a queue number; an unsteered one's a host-pair hash (32 bits).
    const raw = () =>
      [0, 1, 2, 3, 4, 5, 6, 7].map((n) => steering.testRun(ipv6Packet([0x20010db8, n << 8, 0, 1])));
    const before = raw();
    expect(before.every((q) => q < WORKERS)).toBe(true);
    const lengths = config.subscriberLengths;
    // A tenant table is a longest-prefix match the program does not have: IPv6 falls back to host pairs.
    lengths.set({ lookupWords: () => -1 } as never, new Uint8Array([48]));
    router.refreshSteering();
    expect(raw().every((q) => q >= WORKERS)).toBe(true);
    lengths.set(null);
    router.refreshSteering();
    expect(raw()).toEqual(before);
  });
});
