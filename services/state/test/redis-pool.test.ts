// Pool leases in a real redis-server through Redis Functions: paired pooling, per-subscriber limits,
// hold-down before reuse, two nodes never sharing a block, and an engine that keeps serving from its
// reserve while Redis restarts empty, then re-claims its blocks from its own state (the event log's fold).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { restartServer, startServer, stopServer, type TestServer } from '../../../infra/services/servers.js';
import {
  ArrayEventSink,
  applyEvents,
  createFlowKey6,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  EngineVerdict,
  type NatEngine,
  type NatEngineConfigInput,
  type NatState,
  POOL_PENDING,
  Protocol,
  TcpFlag,
  validateConfig,
} from '../../nat-engine/src/index.js';
import {
  connectRedis,
  heldBlocksOf,
  poolGeometryOf,
  RedisPoolAllocator,
  RedisPoolStore,
  redisReady,
} from '../src/redis-pool.js';
import { POOL_LIBRARY_NAME, PoolRefusal } from '../src/redis-pool-functions.js';

const CONFIG: NatEngineConfigInput = {
  pool: ['203.0.113.0/30'],
  blockSizePorts: 4096, // 15 blocks per address and protocol
  ports: { tcp: [4096, 65535], udp: [4096, 65535], icmp: [4096, 65535] },
  subscriberBlocksMax: 3,
  sessionsMax: 4096,
  subscribersMax: 256,
};

let redis: Redis;
beforeAll(async () => {
  redis = connectRedis({ url: inject('redisUrl') });
  await redisReady(redis);
});
afterAll(async () => {
  redis?.disconnect();
});

function poolState(): NatState {
  return createReplayState(validateConfig(CONFIG), 0);
}

async function newStore(client: Redis, state: NatState, pool = `t${randomUUID().slice(0, 8)}`) {
  const { geometry, fingerprint } = poolGeometryOf(state);
  const store = new RedisPoolStore(client, pool, geometry, fingerprint);
  await store.load();
  expect(await store.setup()).toBe('created');
  return store;
}

const SUB_A = '20010db8000001000000000000000000';
const SUB_B = '20010db8000002000000000000000000';

describe('Redis pool functions', () => {
  it('are a FUNCTION LOAD library (not EVAL scripts) that a restarted Redis still has, with its leases', async () => {
    // Proves persistence: a lease made before a restart is still owned after it, and FCALL works with no reload.
    const own: TestServer = startServer('redis');
    try {
      let client = connectRedis({ url: own.url });
      await redisReady(client);
      const state = poolState();
      const store = await newStore(client, state, 'persist');
      const block = await store.lease('node-a', SUB_A, 1, -1, 1000);
      expect(block).toBeGreaterThanOrEqual(0);
      await client.call('BGREWRITEAOF');
      await new Promise((r) => setTimeout(r, 300));
      client.disconnect();
      const again = restartServer(own, true);
      Object.assign(own, again);
      client = connectRedis({ url: own.url });
      await redisReady(client);
      const libraries = (await client.call('FUNCTION', 'LIST')) as unknown[];
      expect(JSON.stringify(libraries)).toContain(POOL_LIBRARY_NAME);
      const restarted = new RedisPoolStore(client, 'persist', store.geometry, store.fingerprint);
      expect(await restarted.setup()).toBe('existing');
      expect(await restarted.leasesOf('node-a')).toEqual(new Map([[block, SUB_A]]));
      client.disconnect();
    } finally {
      stopServer(own);
    }
  });

  it("keeps all of a subscriber's blocks on one address and refuses past the per-subscriber limit", async () => {
    // Proves RFC 6888 REQ-2 (paired pooling) and REQ-4 (limit) are enforced by Redis itself.
    const state = poolState();
    const store = await newStore(redis, state);
    const blocks: number[] = [];
    for (let i = 0; i < 3; i++) blocks.push(await store.lease('node-a', SUB_A, 0, -1, 1000));
    expect(blocks.every((b) => b >= 0)).toBe(true);
    expect(new Set(blocks).size).toBe(3);
    const addresses = new Set(blocks.map((b) => state.blockAddressIndexOf(b)));
    expect(addresses.size).toBe(1);
    expect(await store.lease('node-a', SUB_A, 0, -1, 1000)).toBe(PoolRefusal.subscriberLimit);
    // Another protocol has its own limit, but the same address.
    const udp = await store.lease('node-a', SUB_A, 1, -1, 1000);
    expect(state.blockAddressIndexOf(udp)).toBe([...addresses][0]);
    // Asking for another address for that subscriber is refused.
    const other = ([...addresses][0] + 1) % 4;
    expect(await store.lease('node-a', SUB_A, 2, other, 1000)).toBe(PoolRefusal.pairing);
    // A reserve block on the wrong address cannot be assigned to the subscriber either.
    const reserveBlock = await store.lease('node-a', '', 2, other, 1000);
    expect(state.blockAddressIndexOf(reserveBlock)).toBe(other);
    expect(await store.assign('node-a', reserveBlock, SUB_A)).toBe(PoolRefusal.pairing);
    expect(await store.assign('node-b', reserveBlock, SUB_B)).toBe(PoolRefusal.notOwner);
    expect(await store.assign('node-a', reserveBlock, SUB_B)).toBe(reserveBlock);
  });

  it('holds a freed block down for the reuse hold time before leasing it again', async () => {
    // Proves RFC 6888's port reuse hold-down at block level: exhaust one address, free one block, and it
    // comes back only once nowMs has passed its release time + portReuseHoldMs.
    const state = poolState();
    const store = await newStore(redis, state);
    const holdMs = state.config.portReuseHoldMs;
    const perAddress = state.config.protocols[1].blocksPerAddress;
    const taken: number[] = [];
    for (let i = 0; i < perAddress; i++) taken.push(await store.lease('node-a', '', 1, 2, 1000));
    expect(taken.every((b) => b >= 0)).toBe(true);
    expect(await store.lease('node-a', '', 1, 2, 1000)).toBe(PoolRefusal.exhausted);
    expect(await store.release('node-b', taken[0], 2000)).toBe(PoolRefusal.notOwner);
    expect(await store.release('node-a', taken[0], 2000)).toBe(taken[0]);
    expect(await store.lease('node-a', '', 1, 2, 2000 + holdMs - 1)).toBe(PoolRefusal.exhausted);
    expect(await store.lease('node-a', '', 1, 2, 2000 + holdMs)).toBe(taken[0]);
  });

  it('refuses a node whose pool configuration differs from the one the pool was set up with', async () => {
    // Proves block ids mean the same on every node: another geometry would hand out overlapping ports.
    const state = poolState();
    const store = await newStore(redis, state);
    const otherState = createReplayState(validateConfig({ ...CONFIG, blockSizePorts: 2048 }), 0);
    const { geometry, fingerprint } = poolGeometryOf(otherState);
    const other = new RedisPoolStore(
      redis,
      store.prefix.slice('{xlat64:pool:'.length, -1),
      geometry,
      fingerprint,
    );
    await expect(other.setup()).rejects.toMatchObject({ code: 'XLAT64_ERR_STATE_CONFIG' });
  });
});

interface Node {
  engine: NatEngine;
  allocator: RedisPoolAllocator;
  sink: ArrayEventSink;
}

async function startNode(
  client: Redis,
  owner: string,
  pool: string,
  seed: number,
  replica?: NatState,
): Promise<Node> {
  const sink = new ArrayEventSink();
  let allocator: RedisPoolAllocator | undefined;
  const engine = createNatEngine(CONFIG, {
    sink,
    random: createSeededRandom(seed),
    startMs: 0,
    state: replica,
    allocator: (state) => {
      const { geometry, fingerprint } = poolGeometryOf(state);
      allocator = new RedisPoolAllocator(new RedisPoolStore(client, pool, geometry, fingerprint), state, {
        owner,
        reserveBlocks: 3,
        reservePerAddress: 1,
        refillIntervalMs: 20,
        heldBlocks: () => heldBlocksOf(state),
      });
      return allocator;
    },
  });
  engine.start(0);
  if (allocator === undefined) throw new Error('allocator factory not called');
  await allocator.start();
  expect(await allocator.settle()).toBe(true);
  return { engine, allocator, sink };
}

/** A UDP flow from subscriber `sub` (a /56) host port `port`; returns the verdict. */
function flow(engine: NatEngine, sub: number, port: number, nowMs: number): EngineVerdict {
  const key = createFlowKey6();
  key.protocol = Protocol.Udp;
  key.src6[0] = 0x20010db8;
  key.src6[1] = sub << 8;
  key.src6[3] = 1;
  key.srcPort = port;
  key.dst4 = 0xc6336402; // 198.51.100.2
  key.dstPort = 53;
  key.tcpFlags = TcpFlag.Syn;
  return engine.outbound6(key, nowMs);
}

/** Redis's view of `owner`'s blocks (block -> subscriber, '' for reserve) must equal the engine's plus the reserve. */
async function expectRedisAgrees(store: RedisPoolStore, node: Node, owner: string) {
  const redisView = await store.leasesOf(owner);
  const engineView = new Map(heldBlocksOf(node.engine.state).map((h) => [h.block, h.subscriber]));
  const assigned = new Map([...redisView].filter(([, sub]) => sub !== ''));
  expect(assigned).toEqual(engineView);
  expect(redisView.size - assigned.size).toBe(node.allocator.reserveSize);
}

describe('RedisPoolAllocator (engine over Redis leases, node-side reserve)', () => {
  it('two nodes on one pool never hold the same block, and Redis records every assignment', async () => {
    // Proves leases are exclusive across nodes and that assignments written behind the packet path land.
    const pool = `t${randomUUID().slice(0, 8)}`;
    const a = await startNode(redis, 'node-a', pool, 1);
    const b = await startNode(redis, 'node-b', pool, 2);
    let now = 1;
    let served = 0;
    for (let round = 0; round < 6; round++) {
      for (let sub = 0; sub < 4; sub++) {
        for (let port = 0; port < 3; port++) {
          if (flow(a.engine, sub, 5000 + round * 10 + port, now) === EngineVerdict.Translate) served++;
          if (flow(b.engine, 100 + sub, 5000 + round * 10 + port, now) === EngineVerdict.Translate) served++;
        }
      }
      now += 10;
      await a.allocator.settle();
      await b.allocator.settle();
    }
    expect(served).toBeGreaterThan(0);
    const aBlocks = heldBlocksOf(a.engine.state).map((h) => h.block);
    const bBlocks = heldBlocksOf(b.engine.state).map((h) => h.block);
    expect(aBlocks.length).toBeGreaterThan(0);
    expect(bBlocks.length).toBeGreaterThan(0);
    expect(aBlocks.filter((x) => bBlocks.includes(x))).toEqual([]);
    const { geometry, fingerprint } = poolGeometryOf(a.engine.state);
    const store = new RedisPoolStore(redis, pool, geometry, fingerprint);
    await expectRedisAgrees(store, a, 'node-a');
    await expectRedisAgrees(store, b, 'node-b');
    // Paired pooling holds through the reserve: each subscriber's blocks sit on one address.
    for (const node of [a, b]) {
      const bySub = new Map<string, Set<number>>();
      for (const h of heldBlocksOf(node.engine.state)) {
        const set = bySub.get(h.subscriber) ?? new Set();
        set.add(h.addressIndex);
        bySub.set(h.subscriber, set);
      }
      for (const set of bySub.values()) expect(set.size).toBe(1);
    }
    expect(a.allocator.counters.refusedOps + b.allocator.counters.refusedOps).toBe(0);
    await a.allocator.stop();
    await b.allocator.stop();
  });

  it('a reserve miss is a pending block while Redis still has one there, an exhausted pool once Redis said it has none', async () => {
    // Proves the engine's quiet drop (POOL_PENDING: the retransmission gets the block) is kept for misses
    // a refill cures, and the pool-exhausted reply (-1, ICMP) for an address Redis has no block left on.
    const pool = `t${randomUUID().slice(0, 8)}`;
    const node = await startNode(redis, 'node-p', pool, 5);
    const allocator = node.allocator;
    const sub = new Uint32Array([0x20010db8, 0x4200, 0, 0]);
    // Drain the UDP reserve without letting the refill run: the next request misses, and Redis has blocks.
    let answer = 0;
    const taken: number[] = [];
    for (let i = 0; i < 10 && answer >= 0; i++) {
      answer = allocator.tryLease(sub, 1, -1, 1);
      if (answer >= 0) taken.push(answer);
    }
    expect(taken.length).toBeGreaterThan(0);
    expect(answer).toBe(POOL_PENDING);
    expect(await allocator.settle()).toBe(true);
    expect(allocator.tryLease(sub, 1, -1, 2), 'the refill brought a block').toBeGreaterThanOrEqual(0);
    // Another owner takes every free UDP block of address 3: the first miss there is pending (the node
    // has not asked Redis yet); once a refill found none, a miss there is the pool exhausted.
    const { geometry, fingerprint } = poolGeometryOf(node.engine.state);
    const store = new RedisPoolStore(redis, pool, geometry, fingerprint);
    while ((await store.lease('node-q', '', 1, 3, 3)) >= 0);
    const onThree = () => allocator.tryLease(sub, 1, 3, 4);
    let first = onThree();
    while (first >= 0) first = onThree(); // (reserve blocks the node already held on address 3)
    expect(first).toBe(POOL_PENDING);
    await allocator.settle();
    expect(onThree(), 'Redis has no block on address 3').toBe(-1);
    await allocator.stop();
  });

  it('Redis restarted empty mid-use: established flows and the reserve keep serving, then leases resume and Redis is reconciled', async () => {
    // Proves the packet path never needs Redis (flows and reserve blocks while it is down) and that the
    // node's own state, the fold of its event log, is what Redis is rebuilt from after it lost everything.
    let server = startServer('redis');
    const client = connectRedis({ url: server.url });
    try {
      await redisReady(client);
      const pool = 'restart';
      const node = await startNode(client, 'node-a', pool, 3);
      let now = 1;
      for (let sub = 0; sub < 3; sub++)
        expect(flow(node.engine, sub, 6000, now)).toBe(EngineVerdict.Translate);
      expect(await node.allocator.settle()).toBe(true);

      stopServer(server, true); // the data directory goes: Redis comes back with nothing
      now += 10;
      // Established flows keep translating.
      for (let sub = 0; sub < 3; sub++)
        expect(flow(node.engine, sub, 6000, now)).toBe(EngineVerdict.Translate);
      // New subscribers are served from the reserve while it lasts, then refused (counted), never blocked.
      const reserveBefore = node.allocator.reserveSize;
      expect(reserveBefore).toBeGreaterThan(0);
      let servedWhileDown = 0;
      for (let sub = 10; sub < 30; sub++) {
        if (flow(node.engine, sub, 6000, now) === EngineVerdict.Translate) servedWhileDown++;
      }
      expect(servedWhileDown).toBeGreaterThan(0);
      expect(node.allocator.counters.reserveMisses).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(node.allocator.available).toBe(false);
      expect(node.allocator.counters.redisErrors).toBeGreaterThan(0);

      const reconcilesBefore = node.allocator.counters.reconciles;
      server = restartServer({ ...server }, false);
      expect(await node.allocator.settle(15_000)).toBe(true);
      expect(node.allocator.counters.reconciles).toBe(reconcilesBefore + 1);
      expect(node.allocator.counters.reconcileConflicts).toBe(0);
      const { geometry, fingerprint } = poolGeometryOf(node.engine.state);
      const store = new RedisPoolStore(client, pool, geometry, fingerprint);
      await expectRedisAgrees(store, node, 'node-a');
      // New leases resume: a subscriber refused while Redis was down is served now.
      now += 10;
      let servedAfter = 0;
      for (let sub = 10; sub < 30; sub++) {
        if (flow(node.engine, sub, 6001, now) === EngineVerdict.Translate) servedAfter++;
        await node.allocator.settle();
      }
      expect(servedAfter).toBe(20);
      await expectRedisAgrees(store, node, 'node-a');
      await node.allocator.stop();
    } finally {
      client.disconnect();
      stopServer(server);
    }
  });

  it("a node taking a shard over inherits the shard's blocks: its start reconciles Redis to the replayed state", async () => {
    // Proves leases belong to the shard, not the node: the successor's allocator (same owner, the shard)
    // claims exactly what the folded event log holds, and the old node's unused reserve is released.
    const pool = `t${randomUUID().slice(0, 8)}`;
    const first = await startNode(redis, 'shard-9', pool, 7);
    for (let sub = 0; sub < 5; sub++) {
      expect(flow(first.engine, sub, 7000, 1)).toBe(EngineVerdict.Translate);
      expect(await first.allocator.settle()).toBe(true); // the reserve (3 blocks) refills between subscribers
    }
    await first.allocator.stop();
    const oldReserve = first.allocator.reserveSize;
    expect(oldReserve).toBeGreaterThan(0);

    const replica = createReplayState(first.engine.config, 0);
    applyEvents(replica, first.sink.events);
    const successor = await startNode(redis, 'shard-9', pool, 8, replica);
    expect(successor.allocator.counters.reconciles).toBe(1);
    expect(successor.allocator.counters.reconcileConflicts).toBe(0);
    const { geometry, fingerprint } = poolGeometryOf(replica);
    await expectRedisAgrees(new RedisPoolStore(redis, pool, geometry, fingerprint), successor, 'shard-9');
    // The inherited flows keep their blocks; a new subscriber gets a new one.
    for (let sub = 0; sub < 5; sub++)
      expect(flow(successor.engine, sub, 7001, 2)).toBe(EngineVerdict.Translate);
    expect(flow(successor.engine, 50, 7001, 2)).toBe(EngineVerdict.Translate);
    expect(await successor.allocator.settle()).toBe(true);
    await expectRedisAgrees(new RedisPoolStore(redis, pool, geometry, fingerprint), successor, 'shard-9');
    expect(successor.allocator.counters.refusedOps).toBe(0);
    await successor.allocator.stop();
  });
});

describe('reconcile of a large shard (a takeover at scale)', () => {
  /** `count` blocks of a pool of 256 addresses, spread over the three protocols, each with its own subscriber. */
  function heldOf(state: NatState, count: number) {
    const held = [];
    for (let i = 0; i < count; i++) {
      const block = (i * 7) % state.blockOwner.length;
      held.push({
        block,
        subscriber: (i + 1).toString(16).padStart(32, '0'),
        slot: state.blockSlotOf(block),
        addressIndex: state.blockAddressIndexOf(block),
      });
    }
    return held;
  }

  it('claims only the blocks Redis lost before serving (another owner cannot lease them after), then reconciles in batches and releases what the state no longer holds', async () => {
    // Proves the cheap pre-serving step keeps "never two owners" (every held block is the owner's in
    // Redis once it returns, a block another owner took is reported as a conflict) and that the batched
    // reconcile (more blocks than one script takes) leaves Redis equal to the state.
    const state = createReplayState(
      validateConfig({ pool: ['203.0.112.0/24'], blockSizePorts: 512, sessionsMax: 4096 }),
      0,
    );
    const store = await newStore(redis, state);
    const held = heldOf(state, 2500);
    const first = await store.reconcile('shard-3', held, 0);
    expect(first).toEqual({ claimed: 2500, released: 0, conflicts: [] });

    // Redis loses 10 of the shard's leases (an asynchronous replica promoted, say): the blocks are free again.
    const lost = held.slice(100, 110);
    const p = store.prefix;
    for (const h of lost) {
      await redis.hdel(`${p}:lease`, String(h.block));
      await redis.srem(`${p}:owner:shard-3`, String(h.block));
      await redis.sadd(`${p}:free:${h.slot}:${h.addressIndex}`, String(h.block));
      await redis.sadd(`${p}:addrs:${h.slot}`, String(h.addressIndex));
    }
    // Another shard claims one of them meanwhile (its own state says it holds it).
    const stolen = lost[0];
    expect((await store.reconcile('shard-4', [stolen], 0)).claimed).toBe(1);

    const check = await store.claimMissing('shard-3', held);
    expect(check).toEqual({ missing: 10, claimed: 9, conflicts: [stolen.block] });
    // Every lost block not taken by shard-4 is shard-3's again: a lease by anyone else cannot return it.
    const mine = await store.leasesOf('shard-3');
    for (const h of lost.slice(1)) expect(mine.get(h.block)).toBe(h.subscriber);
    expect(mine.has(stolen.block)).toBe(false);
    for (let i = 0; i < 20; i++) {
      const b = await store.lease('shard-5', '', lost[1].slot, lost[1].addressIndex, 0);
      expect(lost.map((h) => h.block)).not.toContain(b);
    }

    // The state now holds 2,000 of them, two with a changed subscriber: the reconcile (3 batches) follows it.
    const now = held.slice(0, 2000).filter((h) => h.block !== stolen.block);
    now[5] = { ...now[5], subscriber: 'f'.repeat(32) };
    now[1500] = { ...now[1500], subscriber: '' };
    const result = await store.reconcile('shard-3', now, 1);
    expect(result.claimed).toBe(0);
    expect(result.released).toBe(500);
    expect(result.conflicts).toEqual([]);
    expect(await store.leasesOf('shard-3')).toEqual(new Map(now.map((h) => [h.block, h.subscriber])));
  });
});
