// Shard routing: IPv6 packets go to their subscriber's virtual shard (only the prefix counts, shards are
// evenly used), IPv4 return traffic finds the same shard through the block table fed by a real engine's
// events (and loses it when the block is released), static BIB entries route to their subscriber's shard,
// the shard table is versioned, bad settings are refused naming the field, and lookups allocate nothing.
import { describe, expect, it } from 'vitest';
import { DataplaneError } from '../../../libs/dataplane/src/index.js';
import { fewestCollections } from '../../../test/support/collections.js';
import {
  ArrayEventSink,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  EngineVerdict,
  NatEventType,
  Protocol,
  parseIpv4,
  parseIpv6 as parseIpv6Into,
  validateConfig,
} from '../../nat-engine/src/index.js';
import {
  createShardTable,
  NO_MEMBER,
  NO_SHARD,
  ShardRouter,
  ShardTable,
  SubscriberShardHash,
} from '../src/routing/index.js';

function parseIpv6(text: string): Uint32Array {
  const words = new Uint32Array(4);
  if (!parseIpv6Into(text, words, 0)) throw new Error(`bad IPv6 address in the test: ${text}`);
  return words;
}

function ipv6Packet(source: string): Uint8Array {
  const packet = new Uint8Array(60);
  packet[0] = 0x60;
  const words = parseIpv6(source);
  for (let i = 0; i < 4; i++) {
    packet[8 + i * 4] = words[i] >>> 24;
    packet[9 + i * 4] = (words[i] >>> 16) & 255;
    packet[10 + i * 4] = (words[i] >>> 8) & 255;
    packet[11 + i * 4] = words[i] & 255;
  }
  return packet;
}

describe('IPv6 -> virtual shard by subscriber key', () => {
  it('puts every address inside one /56 on one shard, whatever the bits after the prefix', () => {
    // Proves the mask: only the subscriber prefix is hashed (a CLAT's /64 or /128 inside the /56 moves nothing).
    const hash = new SubscriberShardHash();
    const base = hash.shardOfAddress(ipv6Packet('2001:db8:0:4200::1'), 8);
    for (const address of ['2001:db8:0:42ff::1', '2001:db8:0:4201:ffff::9', '2001:db8:0:4200:1:2:3:4']) {
      expect(hash.shardOfAddress(ipv6Packet(address), 8)).toBe(base);
    }
    expect(hash.shardOfWords(parseIpv6('2001:db8:0:42ab::77'))).toBe(base);
  });

  it('spreads 65,536 consecutive /56 prefixes evenly over 1024 shards', () => {
    // Proves the hash uses the prefix bits (consecutive prefixes, as an ISP hands them out, are not clustered).
    const hash = new SubscriberShardHash();
    const counts = new Int32Array(1024);
    const words = new Uint32Array([0x20010db8, 0, 0, 1]);
    for (let p = 0; p < 65_536; p++) {
      words[1] = p << 8; // 2001:db8:<p>00::/56
      counts[hash.shardOfWords(words)]++;
    }
    // 64 expected per shard; a uniform hash keeps every shard within 64 +- 40 (5 sigma) here.
    expect(Math.min(...counts)).toBeGreaterThan(24);
    expect(Math.max(...counts)).toBeLessThan(104);
  });

  it('uses the configured prefix length: with /64, two /64s of one /56 may part; with /48 they stay', () => {
    // Proves the length is a setting, not a constant.
    const by64 = new SubscriberShardHash({ prefixLength: 64 });
    const by48 = new SubscriberShardHash({ prefixLength: 48 });
    let parted = 0;
    for (let i = 0; i < 64; i++) {
      const a = ipv6Packet(`2001:db8:7:${(i << 8).toString(16)}::1`);
      const b = ipv6Packet(`2001:db8:7:${((i << 8) | 1).toString(16)}::1`);
      if (by64.shardOfAddress(a, 8) !== by64.shardOfAddress(b, 8)) parted++;
      expect(by48.shardOfAddress(a, 8)).toBe(by48.shardOfAddress(b, 8));
    }
    expect(parted).toBeGreaterThan(50);
  });

  it('refuses a shard count that is not a power of two and a prefix length outside 1-128, naming the field', () => {
    // Proves bad configuration is refused at start with the field and the fix.
    expect(() => new SubscriberShardHash({ shardCount: 1000 })).toThrow(DataplaneError);
    expect(() => new SubscriberShardHash({ shardCount: 1000 })).toThrow(
      /shards: 1000 .*power of two.*use 1024/,
    );
    expect(() => new SubscriberShardHash({ prefixLength: 0 })).toThrow(/nat.subscriberPrefixLength/);
  });
});

describe('versioned shard table', () => {
  it('gives every member an even share, a different standby, and moves one shard per new version', () => {
    // Proves the table is data: deterministic, versioned, and an explicit handover changes one entry.
    const table = createShardTable({ memberCount: 3 });
    expect(table.version).toBe(1);
    const shares = [0, 1, 2].map((m) => table.shardsOf(m).length);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(1024);
    expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
    for (let s = 0; s < 1024; s++) expect(table.standby[s]).not.toBe(table.owner[s]);
    const next = table.withOwner(5, table.standby[5]);
    expect(next.version).toBe(2);
    expect(next.owner[5]).toBe(table.standby[5]);
    expect(next.standby[5]).toBe(NO_MEMBER);
    let changed = 0;
    for (let s = 0; s < 1024; s++) if (next.owner[s] !== table.owner[s]) changed++;
    expect(changed).toBe(1);
    expect(ShardTable.fromData(structuredClone(next.toData())).owner).toEqual(next.owner);
    expect(createShardTable({ memberCount: 1 }).standby.every((m) => m === NO_MEMBER)).toBe(true);
  });

  it('lets a router take only a newer table', () => {
    // Proves a stale table (an old version arriving late) cannot overwrite a newer one.
    const table = createShardTable({ memberCount: 2 });
    const router = new ShardRouter(table, validateConfig({ pool: ['203.0.113.0/30'] }));
    const next = table.withOwner(0, 1);
    router.setTable(next);
    expect(router.ownerOf(0)).toBe(1);
    expect(() => router.setTable(table)).toThrow(/newer version/);
  });
});

describe('IPv4 -> virtual shard by port block', () => {
  it("routes every translated flow's IPv4 return address to its subscriber's shard, for TCP, UDP and ICMP, until the block is released", () => {
    // Proves the block table follows a real engine's BlockLeased / BlockReleased events over a pool of
    // two ranges, and that the shard it returns is the one IPv6 routing picks for the subscriber.
    const config = {
      pool: ['203.0.113.0/30', '198.51.100.20-198.51.100.22'],
      blockSizePorts: 1008,
      ports: { tcp: [1024, 65535] as const },
    };
    const sink = new ArrayEventSink();
    const engine = createNatEngine(
      {
        ...config,
        sessionsMax: 8192,
        subscribersMax: 512,
        timeouts: { udpMs: 120_000, icmpMs: 60_000, tcpTransitoryMs: 240_000 },
      },
      { sink, random: createSeededRandom(3), startMs: 0 },
    );
    engine.start(0);
    const router = new ShardRouter(createShardTable({ memberCount: 4 }), validateConfig(config));
    const key = createFlowKey6();
    const flows: { slot: number; v4: number; port: number; shard: number }[] = [];
    let applied = 0;
    const protocols = [Protocol.Tcp, Protocol.Udp, Protocol.Icmp6];
    for (let sub = 0; sub < 300; sub++) {
      for (let f = 0; f < 6; f++) {
        const slot = f % 3;
        key.protocol = protocols[slot];
        key.src6.set([0x20010db8, (sub << 8) | (f & 1), 0, 0x100 + f]);
        key.srcPort = 40_000 + f;
        key.dst4 = parseIpv4('192.0.2.80');
        key.dstPort = slot === 2 ? key.srcPort : 80;
        key.tcpFlags = 0x02; // SYN
        key.icmpError = false;
        expect(engine.outbound6(key, 1000)).toBe(EngineVerdict.Translate);
        for (; applied < sink.events.length; applied++) router.applyEvent(sink.events[applied]);
        flows.push({
          slot,
          v4: engine.result.v4Src,
          port: engine.result.v4SrcPort,
          shard: router.subscribers.shardOfWords(key.src6),
        });
      }
    }
    const leased = sink.events.filter((e) => e.type === NatEventType.BlockLeased).length;
    expect(leased).toBeGreaterThanOrEqual(900); // every subscriber leased a block per protocol
    let wrong = 0;
    for (const flow of flows) if (router.shardOf4(flow.slot, flow.v4, flow.port) !== flow.shard) wrong++;
    expect(wrong).toBe(0);
    // Outside the pool, or a block nobody leased: no shard.
    expect(router.shardOf4(1, parseIpv4('192.0.2.1'), 5000)).toBe(NO_SHARD);
    expect(router.ownerOf(NO_SHARD)).toBe(-1);
    // Everything expires, then the idle blocks are released: the table forgets them.
    engine.advance(1000 + 240_000 + 2000);
    engine.advance(1000 + 240_000 + 2000 + 130_000);
    for (; applied < sink.events.length; applied++) router.applyEvent(sink.events[applied]);
    expect(sink.events.filter((e) => e.type === NatEventType.BlockReleased).length).toBe(leased);
    for (const flow of flows) expect(router.shardOf4(flow.slot, flow.v4, flow.port)).toBe(NO_SHARD);
  });

  it("learns other shards' blocks from standby replicas: a late release of a block's former holder does not erase its next holder", () => {
    // Proves the cluster rule for events a node folds as standby of table shards it does not own: a lease
    // routes the block like an own engine's; a release clears it only while the block still names a
    // virtual shard of the releasing table shard (s mod holders), since two replicas fold at their own pace.
    const config = validateConfig({ pool: ['203.0.113.0/30'], blockSizePorts: 1008 });
    const router = new ShardRouter(createShardTable({ memberCount: 4 }), config);
    const holders = 2;
    // Two subscribers whose virtual shards belong to different table shards (0 and 1).
    let subA: Uint32Array | null = null;
    let subB: Uint32Array | null = null;
    for (let i = 1; subA === null || subB === null; i++) {
      const sub = parseIpv6(`2001:db8:0:${i.toString(16)}00::`);
      const tableShard = router.subscribers.shardOfWords(sub) % holders;
      if (tableShard === 0 && subA === null) subA = sub;
      if (tableShard === 1 && subB === null) subB = sub;
    }
    const [a, b] = [subA, subB] as [Uint32Array, Uint32Array];
    const address = parseIpv4('203.0.113.1');
    const header = { version: 1, epoch: 1, timeMs: 0 } as const;
    const lease = (subscriber: Uint32Array, shard: number) =>
      ({
        ...header,
        shard,
        type: NatEventType.BlockLeased,
        protocol: 1,
        address,
        firstPort: 1024 + 1008,
        subscriber: [subscriber[0], subscriber[1], subscriber[2], subscriber[3]],
      }) as const;
    const release = (shard: number) =>
      ({
        ...header,
        shard,
        type: NatEventType.BlockReleased,
        protocol: 1,
        address,
        firstPort: 1024 + 1008,
      }) as const;
    const port = 1024 + 1008 + 77;
    router.applyReplicaEvent(lease(a, 0), 0, holders);
    expect(router.shardOf4(1, address, port)).toBe(router.subscribers.shardOfWords(a));
    // The block's next holder (table shard 1) is folded before its former holder's release (table shard 0).
    router.applyReplicaEvent(lease(b, 1), 1, holders);
    router.applyReplicaEvent(release(0), 0, holders);
    expect(router.shardOf4(1, address, port), 'the late release left the new holder').toBe(
      router.subscribers.shardOfWords(b),
    );
    // The holder's own release clears it.
    router.applyReplicaEvent(release(1), 1, holders);
    expect(router.shardOf4(1, address, port)).toBe(NO_SHARD);
    expect(router.blocks.blockEvents).toBe(4);
  });

  it("routes a static BIB entry's port (outside the dynamic range) to its subscriber's shard", () => {
    // Proves port forwards are reachable from the IPv4 side: they belong to no block.
    const config = validateConfig({
      pool: ['203.0.113.0/30'],
      staticBib: [
        { protocol: 'tcp', ipv6: '2001:db8:0:7700::10', ipv6Port: 22, ipv4: '203.0.113.2', ipv4Port: 222 },
      ],
    });
    const router = new ShardRouter(createShardTable({ memberCount: 2 }), config);
    const shard = router.subscribers.shardOfWords(parseIpv6('2001:db8:0:7700::10'));
    expect(router.shardOf4(0, parseIpv4('203.0.113.2'), 222)).toBe(shard);
    expect(router.shardOf4(1, parseIpv4('203.0.113.2'), 222)).toBe(NO_SHARD);
    expect(router.shardOf4(0, parseIpv4('203.0.113.2'), 223)).toBe(NO_SHARD);
  });
});

describe('routing allocates nothing per lookup', () => {
  it('looks up 2,000,000 IPv6 and 2,000,000 IPv4 packets without a garbage collection', async () => {
    // Proves the packet-path contract: no object, no view, no boxed number per lookup. Fewest over up to 8 rounds
    // (the optimiser compiles in the background; its own allocations are not the lookup's).
    const config = validateConfig({ pool: ['203.0.113.0/24'] });
    const router = new ShardRouter(createShardTable({ memberCount: 2 }), config);
    const packet = ipv6Packet('2001:db8:0:100::1');
    const least = await fewestCollections(() => {
      let sum = 0;
      for (let i = 0; i < 2_000_000; i++) {
        packet[14] = i & 255;
        sum += router.ownerOf(router.shardOf6(packet, 0));
        sum += router.shardOf4(1, 0xcb007100 + (i & 255), 1024 + (i & 0x7fff));
      }
      return sum;
    });
    expect(least).toBe(0);
  });
});
