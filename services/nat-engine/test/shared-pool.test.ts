// The node's pool shared by the engines of several shards: every subscriber keeps one address; the
// pool's bound is the whole node's; a released block can be leased by another shard; and an engine
// refuses a shared pool built from another configuration. Shards racing in real worker threads:
// shared-pool-race.test.ts.
import { describe, expect, it } from 'vitest';
import {
  CountingEventSink,
  claimSharedPoolBlocks,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  createSharedPoolMemory,
  EngineDropReason,
  EngineVerdict,
  leasedBlockEvents,
  NatEventType,
  Protocol,
  sharedPoolAllocator,
  sharedPoolLessees,
  validateConfig,
} from '../src/index.js';

// 2 addresses x 4 UDP blocks and 4 TCP blocks of 16,128 ports (1024-65535 in blocks of 16128).
const small = { pool: ['203.0.113.8/31'], blockSizePorts: 16128 };

function udpKey(subscriber: number) {
  const key = createFlowKey6();
  key.protocol = Protocol.Udp;
  key.src6.set([0x20010db8, subscriber << 8, 0, 1]);
  key.srcPort = 4000;
  key.dst4 = 0xc0000250;
  key.dstPort = 53;
  return key;
}

describe('shared pool allocator', () => {
  it('gives the blocks a restored state holds back to its shard in a fresh node pool, refuses a second claim, and restates them as BlockLeased events', () => {
    // Proves a restart with several workers cannot lease a restored block to another shard: the claim
    // marks exactly the restored blocks, and the events name each block's address, port and subscriber.
    const config = { ...small, timeouts: { udpMs: 120_000 } };
    const before = createNatEngine(config, {
      sink: new CountingEventSink(),
      random: createSeededRandom(7),
      startMs: 0,
      shard: 1,
      allocator: sharedPoolAllocator(createSharedPoolMemory(validateConfig(small)), 1),
    });
    for (let s = 0; s < 3; s++) expect(before.outbound6(udpKey(s), 0)).toBe(EngineVerdict.Translate);
    const restored = before.state;
    const fresh = createSharedPoolMemory(validateConfig(small));
    expect(claimSharedPoolBlocks(fresh, 1, restored)).toBe(3);
    const lessees = sharedPoolLessees(fresh);
    for (let block = 0; block < lessees.length; block++)
      expect(lessees[block]).toBe(restored.blockOwner[block] === -1 ? 0 : 2);
    expect(() => claimSharedPoolBlocks(fresh, 0, restored)).toThrow();
    const events = leasedBlockEvents(restored);
    expect(events.length).toBe(3);
    for (const e of events) {
      expect(e.type).toBe(NatEventType.BlockLeased);
      const block = restored.blockOfPort(e.protocol, restored.addressIndexOf(e.address), e.firstPort);
      const owner = restored.blockOwner[block];
      expect(owner).not.toBe(-1);
      expect([...e.subscriber]).toEqual([...restored.subscriberPrefix.subarray(owner * 4, owner * 4 + 4)]);
    }
    // Another shard of the node is never given a claimed block: 8 UDP blocks, 3 claimed, so 5 more subscribers fit.
    const after = createNatEngine(config, {
      sink: new CountingEventSink(),
      random: createSeededRandom(8),
      startMs: 0,
      shard: 0,
      allocator: sharedPoolAllocator(fresh, 0),
    });
    for (let s = 10; s < 15; s++) expect(after.outbound6(udpKey(s), 0)).toBe(EngineVerdict.Translate);
    expect(after.outbound6(udpKey(15), 0)).toBe(EngineVerdict.ReplyIcmp);
  });

  it("makes the pool's bound the node's: the ninth subscriber over two shards is refused with pool exhaustion, and a block one shard releases serves the other", () => {
    // Proves the two engines see one pool (8 UDP blocks in all), and that release returns the block.
    const memory = createSharedPoolMemory(validateConfig(small));
    const engines = [0, 1].map((shard) =>
      createNatEngine(
        { ...small, timeouts: { udpMs: 120_000 } },
        {
          sink: new CountingEventSink(),
          random: createSeededRandom(shard + 1),
          startMs: 0,
          shard,
          allocator: sharedPoolAllocator(memory, shard),
        },
      ),
    );
    for (let s = 0; s < 8; s++) expect(engines[s % 2].outbound6(udpKey(s), 0)).toBe(EngineVerdict.Translate);
    expect(engines[0].outbound6(udpKey(8), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(engines[0].result.reason).toBe(EngineDropReason.poolexhausted64);
    expect(engines[1].outbound6(udpKey(9), 0)).toBe(EngineVerdict.ReplyIcmp);
    const lessees = sharedPoolLessees(memory);
    expect(lessees.filter((l) => l === 1).length).toBe(4);
    expect(lessees.filter((l) => l === 2).length).toBe(4);
    // Shard 0's mappings expire and its idle blocks go back; shard 1 can now lease one.
    engines[0].advance(120_000 + 1000);
    engines[0].advance(120_000 + 1000 + 121_000);
    expect(engines[0].state.leasedBlockCount).toBe(0);
    expect(engines[1].outbound6(udpKey(9), 250_000)).toBe(EngineVerdict.Translate);
    expect(sharedPoolLessees(memory).filter((l) => l === 2).length).toBe(5);
  });

  it('refuses an engine whose pool configuration differs from the shared pool', () => {
    // Proves a misconfigured worker fails at start instead of numbering blocks differently.
    const memory = createSharedPoolMemory(validateConfig(small));
    expect(() =>
      createNatEngine(
        { pool: ['203.0.113.0/24'] },
        {
          sink: new CountingEventSink(),
          random: createSeededRandom(1),
          startMs: 0,
          allocator: sharedPoolAllocator(memory, 0),
        },
      ),
    ).toThrow(/same pool configuration/);
  });
});
