// Takeover of a warm standby (issue 9, cluster mode): an owner (ClusterNatStore) builds N UDP sessions
// whose events go through its batcher into JetStream; a standby folds them into its replica; the owner
// then stops renewing (as after kill -9) and the standby takes over: KV compare-and-set to epoch + 1, the
// rest of the subject folded, the epoch-start batch appended, ownership confirmed, and the pool's blocks
// reconciled in Redis from the replica (what `xlat64 plat --state` does before it serves). Printed: the
// time from the takeover decision to serving for N sessions next to a shard of 1,000 sessions in the same
// run (the ratio says whether it grows with the state), and how long the standby took to fold the
// history. The detection time (no renewal for `detectionMs`, 1 s by default) comes on top and is a setting.
// TAKEOVER_SESSIONS=N changes N (default 200,000: building 1,000,000 sessions through JetStream takes over 10 minutes on the shared 2-core machine; the takeover itself does not grow with N).
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

const SUBSCRIBERS = 4096;

interface Measured {
  sessions: number;
  buildMs: number;
  foldMs: number;
  takeoverMs: number;
  reconcileMs: number;
  events: number;
}

async function once(natsUrl: string, redisUrl: string, sessions: number): Promise<Measured> {
  const input = {
    pool: ['203.0.113.0/24'],
    sessionsMax: Math.max(4096, 2 ** Math.ceil(Math.log2(sessions + 1))),
    mappingsMax: Math.max(4096, 2 ** Math.ceil(Math.log2(sessions + 1))),
    subscribersMax: SUBSCRIBERS * 2,
    leasedBlocksMax: SUBSCRIBERS * 2,
  };
  const config = validateConfig(input);
  const id = randomUUID().slice(0, 8);
  const names = { stream: `TK_${id}`, subjectPrefix: `tk.${id}`, snapshotBucket: `tksnap-${id}` };
  const ncA = await connectNats({ url: natsUrl, name: 'bench-owner' });
  const ncB = await connectNats({ url: natsUrl, name: 'bench-standby' });
  const redis = connectRedis({ url: redisUrl });
  await redisReady(redis);
  let engine: NatEngine | null = null;
  let reconcileMs = 0;
  const open = async (nc: typeof ncA, name: string, withEngine: boolean): Promise<ClusterNatStore> => {
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
        batchEventsMax: 4096,
        inFlightBatchesMax: 8,
        bufferEventsMax: 1 << 22,
        tailBytesMin: 1 << 30, // no snapshot during the build: the standby folds the whole history
        onOwner: async (state, epoch) => {
          const started = performance.now();
          const { geometry, fingerprint } = poolGeometryOf(state);
          const allocator = new RedisPoolAllocator(
            new RedisPoolStore(redis, `tk${id}`, geometry, fingerprint),
            state,
            {
              owner: 'shard-0',
              heldBlocks: () => heldBlocksOf(state),
            },
          );
          await allocator.start();
          await allocator.stop();
          reconcileMs = performance.now() - started;
          if (withEngine)
            engine = createNatEngine(input, {
              sink: store.sink,
              random: createSeededRandom(1),
              state,
              startMs: 0,
              epoch,
            });
        },
      },
      0,
    );
    return store;
  };
  const step = (what: string) => {
    if (process.env.TAKEOVER_DEBUG) process.stderr.write(`takeover bench (${sessions}): ${what}\n`);
  };
  const owner = await open(ncA, 'owner', true);
  step('owner open');
  if (!(await owner.takeOver(null, 0))) throw new Error(`owner: ${owner.status().lastError}`);
  step('owner owns');
  const standby = await open(ncB, 'standby', false);
  const buildStarted = performance.now();
  const key = createFlowKey6();
  let nowMs = 1;
  for (let f = 0; f < sessions; f++) {
    const sub = f % SUBSCRIBERS;
    key.protocol = Protocol.Udp;
    key.src6.set([0x20010db8, sub << 8, 0, 1]);
    key.srcPort = 1024 + Math.floor(f / SUBSCRIBERS);
    key.dst4 = (0xc6336400 + (f & 255)) >>> 0;
    key.dstPort = 443;
    key.tcpFlags = 0;
    if ((engine as NatEngine | null)!.outbound6(key, nowMs) !== EngineVerdict.Translate)
      throw new Error(`flow ${f} refused`);
    if (f % 20_000 === 19_999) {
      nowMs += 20;
      owner.tick(nowMs);
      await new Promise((r) => setImmediate(r));
      while ((owner.status().batcher?.bufferedEvents ?? 0) > 200_000) {
        if (owner.role !== 'owner') throw new Error(`the owner lost the shard: ${owner.status().lastError}`);
        owner.tick(++nowMs);
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  }
  while ((owner.status().batcher?.bufferedEvents ?? 1) > 0) {
    if (owner.role !== 'owner') throw new Error(`the owner lost the shard: ${owner.status().lastError}`);
    if (process.env.TAKEOVER_DEBUG && nowMs % 2000 === 0) step(JSON.stringify(owner.status().batcher));
    nowMs += 20;
    owner.tick(nowMs);
    await new Promise((r) => setTimeout(r, 5));
  }
  const buildMs = performance.now() - buildStarted;
  step('built');
  const last = owner.status().batcher!.ackedSequence;
  while (standby.follower.sequence < last) await new Promise((r) => setTimeout(r, 10));
  const foldMs = performance.now() - buildStarted;
  step('folded');
  // The owner dies (stops renewing and appending); the standby decides and takes over.
  const seen = await (await ShardOwnership.open(ncB, 'probe', `tkown-${id}`)).find(0);
  const started = performance.now();
  if (!(await standby.takeOver(seen, nowMs)))
    throw new Error(`takeover failed: ${standby.status().lastError}`);
  const takeoverMs = performance.now() - started;
  if (standby.state.sessionCount !== sessions)
    throw new Error(`the replica has ${standby.state.sessionCount} sessions, not ${sessions}`);
  const events = standby.follower.counters.appliedEvents;
  await standby.stop(nowMs).catch(() => {});
  redis.disconnect();
  await ncA.close();
  await ncB.close();
  return { sessions, buildMs, foldMs, takeoverMs, reconcileMs, events };
}

export default async function run(): Promise<void> {
  const nats = startServer('nats');
  const redis = startServer('redis');
  try {
    const n = Number(process.env.TAKEOVER_SESSIONS ?? 200_000);
    const base = await once(nats.url, redis.url, 1000);
    const big = await once(nats.url, redis.url, n);
    process.stdout.write(
      `\nTakeover of a warm standby (ClusterNatStore, real nats-server + redis-server; load ${loadavg()[0].toFixed(1)} on ${cpus().length} cores)\n\n`,
    );
    process.stdout.write(
      '| sessions | events folded by the standby | build + fold ms | takeover ms (decision -> serving) | of which Redis reconcile ms |\n',
    );
    process.stdout.write('| ---: | ---: | ---: | ---: | ---: |\n');
    for (const m of [base, big])
      process.stdout.write(
        `| ${m.sessions.toLocaleString('en')} | ${m.events.toLocaleString('en')} | ${m.foldMs.toFixed(0)} | ${m.takeoverMs.toFixed(0)} | ${m.reconcileMs.toFixed(0)} |\n`,
      );
    process.stdout.write(
      `\ntakeover time at ${n.toLocaleString('en')} sessions / at 1,000 sessions (same run): ${(big.takeoverMs / base.takeoverMs).toFixed(2)} (target < 1 s; add the detection time, 1 s by default)\n`,
    );
  } finally {
    stopServer(nats);
    stopServer(redis);
  }
}
