// The node's pool shared by the engines of several shards: no block (so no IPv4 transport address) is
// ever held by two shards, even when shards in real worker threads race for the last blocks, and every
// subscriber keeps one address. Left out of `npm run mutate` (vitest.mutate.config.ts): StrykerJS
// switches a mutant on through the test thread's global, so the workers run unmutated code.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createSharedPoolMemory, sharedPoolLessees, validateConfig } from '../src/index.js';

const bootstrap = fileURLToPath(new URL('./fixtures/worker-bootstrap.mjs', import.meta.url));
const entry = new URL('./fixtures/shared-pool-worker.ts', import.meta.url).href;

describe('shared pool allocator under real concurrency', () => {
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
