// A PLAT worker's cluster state against the real nats-server and redis-server of the test run: the worker
// that takes the shard (at start, and as the standby after a graceful release) finds its Redis client
// connected, so the shard's blocks are claimed and its reserve filled before the engine serves, not a
// refill interval later (a client made at takeover refuses its first commands: ioredis without an
// offline queue).
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { validateConfig } from '../../nat-engine/src/index.js';
import type { RedisPoolAllocator } from '../../state/src/index.js';
import { type ClusterShardState, openClusterShardState } from '../src/plat-cluster-state.js';
import type { PlatStateConfig } from '../src/plat-state-config.js';

const SHARD = 733; // no other suite uses it on the shared server
const CONFIG = validateConfig({ pool: ['203.0.113.0/30'] });

interface Served {
  node: string;
  epoch: number;
  available: boolean;
  reserve: number;
  redisErrors: number;
}

const opened: ClusterShardState[] = [];
afterAll(async () => {
  for (const s of opened) await s.stop(Date.now()).catch(() => {});
});

async function worker(nodeId: string, pool: string, served: Served[]): Promise<ClusterShardState> {
  const state: PlatStateConfig = {
    nats: inject('natsUrl'),
    redis: inject('redisUrl'),
    nodeId,
    detectionMs: 300,
    pool,
  };
  const s = await openClusterShardState(
    {
      state,
      config: CONFIG,
      hashSeed: 11,
      shard: SHARD,
      flushIntervalMs: 20,
      onOwner: (_state, _sink, allocator, epoch) => {
        const redisAllocator = allocator as RedisPoolAllocator;
        served.push({
          node: nodeId,
          epoch,
          available: redisAllocator.available,
          reserve: redisAllocator.reserveSize,
          redisErrors: redisAllocator.counters.redisErrors,
        });
      },
      onFenced: () => {},
      log: () => {},
    },
    Date.now(),
  );
  opened.push(s);
  return s;
}

async function tickUntil(states: ClusterShardState[], done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    for (const s of states) s.tick(Date.now());
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('openClusterShardState: Redis is connected before the worker serves', () => {
  it('the first owner and the standby that takes over both start with a filled reserve and no Redis error', async () => {
    const pool = `x64t-pool-${randomUUID()}`;
    const served: Served[] = [];
    const a = await worker('node-a', pool, served);
    await tickUntil([a], () => served.length === 1, 'node-a to serve the free shard');
    const b = await worker('node-b', pool, served);
    // b follows as a standby; a hands the shard over (stop: final batch, release).
    await new Promise((r) => setTimeout(r, 200));
    await a.stop(Date.now());
    opened.splice(opened.indexOf(a), 1);
    await tickUntil([b], () => served.length === 2, 'node-b to take the released shard over');
    expect(served.map((s) => s.node)).toEqual(['node-a', 'node-b']);
    expect(served[1].epoch).toBe(served[0].epoch + 1);
    for (const s of served) {
      expect(s.available, `${s.node}: the allocator's first Redis round succeeded`).toBe(true);
      expect(s.redisErrors, `${s.node}: no Redis call failed`).toBe(0);
      expect(s.reserve, `${s.node}: blocks reserved before serving`).toBeGreaterThan(0);
    }
  }, 30_000);
});
