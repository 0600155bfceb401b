// Takeover of a warm standby (issue 9, cluster mode) at 1,000 / 200,000 / 1,000,000 sessions in one run.
// The shard's state is built quickly: the owner (a ClusterNatStore that took the free shard) runs its
// engine in-process with N UDP sessions of N/32 subscribers (one 512-port block each) without sending the
// events, takes a snapshot into the JetStream Object Store (the real snapshot path) and leases its blocks
// in Redis as the shard's (what its allocator would have done). The standby opens from that snapshot (a
// warm replica), the owner stops renewing (as after kill -9) and the standby takes over: KV
// compare-and-set to epoch + 1, the subject folded to its end, the epoch-start batch, ownership confirmed,
// then the Redis step before serving (claimMissing: every block of the replica is the shard's in Redis)
// and the reserve. Printed per size: the time from the takeover decision to serving, its Redis part, the
// full reconcile that follows after serving starts (batched, pipelined), and the former one-script
// reconcile of the same state in the same run (the baseline; it ran before serving). The detection time
// (no renewal for `detectionMs`, 1 s by default) comes on top and is a setting.
// TAKEOVER_SESSIONS=1000,200000,1000000 changes the sizes.
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startServer, stopServer } from '../../../infra/services/servers.js';
import {
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  EngineVerdict,
  type NatEngine,
  type NatEngineConfigInput,
  type NatState,
  Protocol,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { ClusterNatStore } from '../src/cluster-nat-store.js';
import { JetStreamEventLog } from '../src/jetstream-log.js';
import { connectNats } from '../src/nats-connection.js';
import { ShardOwnership } from '../src/ownership.js';
import {
  connectRedis,
  heldBlocksOf,
  poolGeometryOf,
  RedisPoolAllocator,
  RedisPoolStore,
  redisReady,
} from '../src/redis-pool.js';

/** Sessions per subscriber: one 512-port block each. */
const FLOWS_PER_SUBSCRIBER = 32;

interface Measured {
  sessions: number;
  blocks: number;
  buildMs: number;
  snapshotBytes: number;
  restoreMs: number;
  takeoverMs: number;
  redisBeforeServingMs: number;
  reconcileAfterMs: number;
  claimMs: number;
  batchedMs: number;
  oneScriptMs: number;
}

const pow2 = (n: number) => Math.max(4096, 2 ** Math.ceil(Math.log2(n + 1)));

async function once(natsUrl: string, redisUrl: string, sessions: number): Promise<Measured> {
  const subscribers = Math.ceil(sessions / FLOWS_PER_SUBSCRIBER);
  const input: NatEngineConfigInput = {
    pool: ['203.0.112.0/23'],
    blockSizePorts: 512,
    sessionsMax: pow2(sessions),
    mappingsMax: pow2(sessions),
    subscribersMax: pow2(subscribers),
    leasedBlocksMax: pow2(subscribers),
  };
  const config = validateConfig(input);
  const id = randomUUID().slice(0, 8);
  const names = { stream: `TK_${id}`, subjectPrefix: `tk.${id}`, snapshotBucket: `tksnap-${id}` };
  const pool = `tk${id}`;
  const ncA = await connectNats({ url: natsUrl, name: 'bench-owner' });
  const ncB = await connectNats({ url: natsUrl, name: 'bench-standby' });
  const redis = connectRedis({ url: redisUrl });
  await redisReady(redis);
  let engine: NatEngine | null = null;
  let allocator: RedisPoolAllocator | null = null;
  let redisBeforeServingMs = 0;
  const open = async (nc: typeof ncA, name: string, role: 'owner' | 'standby'): Promise<ClusterNatStore> => {
    const log = await JetStreamEventLog.open(nc, names);
    const ownership = await ShardOwnership.open(nc, name, `tkown-${id}`);
    const store: ClusterNatStore = await ClusterNatStore.open(
      {
        log,
        ownership,
        config,
        hashSeed: 1,
        shard: 0,
        flushIntervalMs: 10,
        detectionMs: 1000,
        tailBytesMin: 1 << 30,
        onOwner: async (state: NatState) => {
          // The owner's build sends no events (the snapshot carries the state): a discarding sink.
          if (role === 'owner') {
            engine = createNatEngine(input, {
              sink: { push: () => {} },
              random: createSeededRandom(1),
              state,
              startMs: 0,
              epoch: 1,
            });
            return;
          }
          // What plat-cluster-state.ts does before the engine serves: the allocator's start.
          const started = performance.now();
          const { geometry, fingerprint } = poolGeometryOf(state);
          allocator = new RedisPoolAllocator(new RedisPoolStore(redis, pool, geometry, fingerprint), state, {
            owner: 'shard-0',
            heldBlocks: () => heldBlocksOf(state),
          });
          await allocator.start();
          redisBeforeServingMs = performance.now() - started;
        },
      },
      0,
    );
    return store;
  };
  const owner = await open(ncA, 'owner', 'owner');
  if (!(await owner.takeOver(null, 0))) throw new Error(`owner: ${owner.status().lastError}`);
  const buildStarted = performance.now();
  const key = createFlowKey6();
  for (let f = 0; f < sessions; f++) {
    const sub = f % subscribers;
    key.protocol = Protocol.Udp;
    key.src6.set([0x20010db8, sub << 8, 0, 1]);
    key.srcPort = 1024 + Math.floor(f / subscribers);
    key.dst4 = (0xc6336400 + (f & 255)) >>> 0;
    key.dstPort = 443;
    key.tcpFlags = 0;
    if ((engine as NatEngine | null)!.outbound6(key, 1) !== EngineVerdict.Translate)
      throw new Error(`flow ${f} refused`);
  }
  const buildMs = performance.now() - buildStarted;
  await owner.snapshot(2);
  if (owner.status().snapshots !== 1) throw new Error(`snapshot failed: ${owner.status().lastError}`);
  // The owner's blocks are the shard's in Redis, as its allocator leased them.
  const ownerState = owner.state;
  const { geometry, fingerprint } = poolGeometryOf(ownerState);
  const store = new RedisPoolStore(redis, pool, geometry, fingerprint);
  await store.load();
  await store.setup();
  const held = heldBlocksOf(ownerState);
  await store.reconcile('shard-0', held, 2);

  const restoreStarted = performance.now();
  const standby = await open(ncB, 'standby', 'standby');
  const restoreMs = performance.now() - restoreStarted;
  if (standby.state.sessionCount !== sessions)
    throw new Error(`the replica has ${standby.state.sessionCount} sessions, not ${sessions}`);
  // The owner dies (stops renewing and appending); the standby decides and takes over.
  const seen = await (await ShardOwnership.open(ncB, 'probe', `tkown-${id}`)).find(0);
  const started = performance.now();
  if (!(await standby.takeOver(seen, 3))) throw new Error(`takeover failed: ${standby.status().lastError}`);
  const takeoverMs = performance.now() - started;
  // The rest of the reconcile runs after serving started.
  const afterStarted = performance.now();
  const settled = await (allocator as RedisPoolAllocator | null)!.settle(120_000);
  const reconcileAfterMs = performance.now() - afterStarted;
  if (!settled) throw new Error('the reconcile after serving did not finish');
  await (allocator as RedisPoolAllocator | null)!.stop();
  // The same state and Redis, each step alone: the pre-serving check now, the batched reconcile, and the
  // former reconcile (one script for the whole state, which ran before serving) as the baseline.
  const replicaHeld = heldBlocksOf(standby.state);
  const claimStarted = performance.now();
  await store.claimMissing('shard-0', replicaHeld);
  const claimMs = performance.now() - claimStarted;
  const batchedStarted = performance.now();
  await store.reconcile('shard-0', replicaHeld, 4);
  const batchedMs = performance.now() - batchedStarted;
  const oneStarted = performance.now();
  await store.reconcileInOneScript('shard-0', replicaHeld, 4);
  const oneScriptMs = performance.now() - oneStarted;
  await standby.stop(5).catch(() => {});
  await owner.stop(5).catch(() => {});
  redis.disconnect();
  await ncA.close();
  await ncB.close();
  return {
    sessions,
    blocks: held.length,
    buildMs,
    snapshotBytes: owner.status().lastSnapshotBytes,
    restoreMs,
    takeoverMs,
    redisBeforeServingMs,
    reconcileAfterMs,
    claimMs,
    batchedMs,
    oneScriptMs,
  };
}

export default async function run(): Promise<void> {
  const nats = startServer('nats');
  const redis = startServer('redis');
  try {
    const sizes = (process.env.TAKEOVER_SESSIONS ?? '1000,200000,1000000').split(',').map(Number);
    const rows: Measured[] = [];
    for (const n of sizes) rows.push(await once(nats.url, redis.url, n));
    process.stdout.write(
      `\nTakeover of a warm standby (ClusterNatStore, real nats-server + redis-server; load ${loadavg()[0].toFixed(1)} on ${cpus().length} cores)\n\n`,
    );
    process.stdout.write(
      '| sessions | blocks | build ms (in-process) | snapshot MB | standby restore ms | takeover ms (decision -> serving) | of which Redis ms (load, claim check, reserve) | reconcile after serving ms |\n',
    );
    process.stdout.write('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n');
    for (const m of rows)
      process.stdout.write(
        `| ${m.sessions.toLocaleString('en')} | ${m.blocks.toLocaleString('en')} | ${m.buildMs.toFixed(0)} | ${(m.snapshotBytes / 1e6).toFixed(1)} | ${m.restoreMs.toFixed(0)} | ${m.takeoverMs.toFixed(0)} | ${m.redisBeforeServingMs.toFixed(0)} | ${m.reconcileAfterMs.toFixed(0)} |\n`,
      );
    process.stdout.write(
      "\nRedis steps alone on the same state (all blocks already the shard's, as after a takeover):\n\n| sessions | blocks | claimMissing ms (before serving now) | batched reconcile ms | former one-script reconcile ms (before serving then) | one-script / claimMissing |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (const m of rows)
      process.stdout.write(
        `| ${m.sessions.toLocaleString('en')} | ${m.blocks.toLocaleString('en')} | ${m.claimMs.toFixed(1)} | ${m.batchedMs.toFixed(1)} | ${m.oneScriptMs.toFixed(1)} | ${(m.oneScriptMs / m.claimMs).toFixed(1)} |\n`,
      );
    const base = rows[0];
    for (const m of rows.slice(1))
      process.stdout.write(
        `\ntakeover time at ${m.sessions.toLocaleString('en')} sessions / at ${base.sessions.toLocaleString('en')} (same run): ${(m.takeoverMs / base.takeoverMs).toFixed(2)}`,
      );
    process.stdout.write('\n(target < 1 s at 1,000,000 sessions; add the detection time, 1 s by default)\n');
  } finally {
    stopServer(nats);
    stopServer(redis);
  }
}
