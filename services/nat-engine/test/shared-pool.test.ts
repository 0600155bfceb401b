// The node's pool shared by the engines of several shards: no block (so no IPv4 transport address) is
// ever held by two shards, even when shards in real worker threads race for the last blocks; every
// subscriber keeps one address; the pool's bound is the whole node's; a released block can be leased by
// another shard; and an engine refuses a shared pool built from another configuration.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
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

const bootstrap = fileURLToPath(new URL('./fixtures/worker-bootstrap.mjs', import.meta.url));
const entry = new URL('./fixtures/shared-pool-worker.ts', import.meta.url).href;

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

  it('never gives one block or transport address to two shards racing in worker threads, and keeps each subscriber on one address', async () => {
    // Proves the compare-and-swap claim under real concurrency: two engines in two threads lease from a pool
    // too small for all their subscribers, at the same time; every leased block has exactly one holder.
    const config = { pool: ['203.0.113.16/29'], blockSizePorts: 2016 }; // 8 addresses x 32 blocks per protocol
    const memory = createSharedPoolMemory(validateConfig(config));
    const subscribers = 200; // 400 subscribers for 256 blocks per protocol: the last blocks are raced for
    const workers = [0, 1].map(
      (shard) => new Worker(bootstrap, { workerData: { entry, shard, subscribers, pool: memory, config } }),
    );
    try {
      const results = await Promise.all(
        workers.map(
          (worker) =>
            new Promise<{
              transport: number[];
              subscriberAddress: number[];
              refused: number;
              leased: number[];
            }>((resolve, reject) => {
              worker.once('message', resolve);
              worker.once('error', reject);
            }),
        ),
      );
      const seen = new Set<string>();
      let duplicates = 0;
      for (const r of results) {
        for (let i = 0; i < r.transport.length; i += 3) {
          const id = `${r.transport[i]}/${r.transport[i + 1]}/${r.transport[i + 2]}`;
          if (seen.has(id)) duplicates++;
          seen.add(id);
        }
        expect(r.subscriberAddress.filter((a) => a === -2).length).toBe(0);
      }
      expect(duplicates).toBe(0);
      // Every block is held by at most one shard, and the shared words agree with each engine's own state.
      const lessees = sharedPoolLessees(memory);
      const [a, b] = results.map((r) => new Set(r.leased));
      for (const block of a) expect(b.has(block)).toBe(false);
      for (let block = 0; block < lessees.length; block++) {
        expect(lessees[block]).toBe(a.has(block) ? 1 : b.has(block) ? 2 : 0);
      }
      // The pool was the bound: 256 blocks per protocol, one per subscriber, so 2 x 144 refusals.
      expect(a.size + b.size).toBe(512);
      expect(results[0].refused + results[1].refused).toBe(2 * (2 * subscribers - 256));
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});
