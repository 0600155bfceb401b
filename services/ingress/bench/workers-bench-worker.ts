// Worker of workers.bench.ts: one worker of an N-worker PLAT node without a TUN. It "reads" batches of
// 64 small UDP/IPv6 packets of established flows from subscribers spread over every shard (as a TUN
// queue gets them: the kernel picks the queue, not the shard's owner), keeps its own, passes the others
// through the rings, translates its own and what the others pass it, and counts what it writes.
import { parentPort, workerData } from 'node:worker_threads';
import { BatchTranslator, roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { parseRfc6052Prefix } from '../../../libs/xlat/src/index.js';
import {
  CountingEventSink,
  createNatEngine,
  createSeededRandom,
  type NatEngineConfigInput,
  type SharedPoolMemory,
  sharedPoolAllocator,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { createPlatStep, platDropNames } from '../src/plat-step.js';
import {
  type HandoffMemory,
  ShardRouter,
  ShardTable,
  type ShardTableData,
  WorkerHandoff,
} from '../src/routing/index.js';

const VNET = 10;
const BATCH = 64;
const data = workerData as {
  worker: number;
  handoff: HandoffMemory;
  pool: SharedPoolMemory;
  blocks: SharedArrayBuffer;
  table: ShardTableData;
  config: NatEngineConfigInput;
  flows: number;
  batches: number;
  /** [0] workers warmed up, [1] 1 = go, 2 = stop, [2] workers ready to count, [3] workers finished reading. */
  sync: SharedArrayBuffer;
  workers: number;
};
const sync = new Int32Array(data.sync);
const router = new ShardRouter(ShardTable.fromData(data.table), validateConfig(data.config), {
  blockStorage: data.blocks,
});
const sink = new CountingEventSink();
const engine = createNatEngine(data.config, {
  sink: {
    push: (event) => {
      router.applyEvent(event);
      sink.push(event);
    },
  },
  random: createSeededRandom(data.worker + 3),
  startMs: 0,
  shard: data.worker,
  allocator: sharedPoolAllocator(data.pool, data.worker),
});
const layout = roleCounterLayout(platDropNames);
const step = createPlatStep(
  engine,
  { translator: { prefix: '64:ff9b::/96', allowNonGlobalIpv4: true }, icmpSource4: 0xcb007100 },
  layout,
  parseRfc6052Prefix('64:ff9b::/96'),
);
step.setNow(1000);
let written = 0;
const counters = new Float64Array(layout.allocate());
const batch = new BatchTranslator(step, {
  fd: 3,
  vnetHdrBytes: VNET,
  mtu4: 1500,
  mtu6: 1500,
  counters,
  layout,
  writer: {
    writeBatch: (_fd, _b, _o, _l, count) => {
      written += count;
      return count;
    },
  },
});
const handoff = new WorkerHandoff(data.handoff, data.worker, router, VNET);
const translate = (b: Uint8Array, o: Uint32Array, l: Uint32Array, c: number) => batch.onBatch(b, o, l, c);

// This worker's "queue": flows f = worker, worker + N, ... (disjoint per worker, spread over all shards).
const PACKET = 40 + 8 + 32;
const mine = Math.floor(data.flows / data.workers);
const buffer = Buffer.alloc(mine * (VNET + PACKET));
const offsets = new Uint32Array(mine);
for (let i = 0; i < mine; i++) {
  const f = i * data.workers + data.worker;
  const o = i * (VNET + PACKET);
  offsets[i] = o;
  const p = o + VNET;
  buffer[p] = 0x60;
  buffer[p + 5] = 40;
  buffer[p + 6] = 17;
  buffer[p + 7] = 64;
  buffer.set([0x20, 0x01, 0x0d, 0xb8, 0, (f >> 8) & 255, f & 255, 0], p + 8); // one /56 per flow
  buffer[p + 23] = 1;
  buffer.set([0x00, 0x64, 0xff, 0x9b], p + 24);
  buffer.set([198, 51, 100, 7], p + 36);
  buffer[p + 40] = 0x9c; // source port 40000
  buffer[p + 41] = 0x40;
  buffer[p + 42] = 0x01; // destination port 443
  buffer[p + 43] = 0xbb;
  buffer[p + 45] = 40;
}
const batchOffsets = new Uint32Array(BATCH);
const batchLengths = new Uint32Array(BATCH);
const readBatch = (b: number, nowMs: number) => {
  const first = (b * BATCH) % (mine - BATCH);
  for (let i = 0; i < BATCH; i++) {
    batchOffsets[i] = offsets[first + i];
    batchLengths[i] = VNET + PACKET;
  }
  const kept = handoff.splitBatch(buffer, batchOffsets, batchLengths, BATCH, nowMs);
  if (kept > 0) batch.onBatch(buffer, batchOffsets, batchLengths, kept);
  handoff.drain(translate, nowMs);
};

// Warm-up: every flow once (the mappings and sessions are made, by their owners), then wait for all.
for (let b = 0; b * BATCH < mine; b++) readBatch(b, 1000);
Atomics.add(sync, 0, 1);
// Once every worker has warmed up, nobody forwards until "go": take what is left, then start counting.
while (Atomics.load(sync, 0) < data.workers) handoff.drain(translate, 1000);
while (handoff.hasIncoming()) handoff.drain(translate, 1000);
written = 0;
handoff.counters.received = 0;
handoff.counters.forwarded = 0;
Atomics.add(sync, 2, 1);
while (Atomics.load(sync, 1) === 0) Atomics.wait(sync, 1, 0, 5);
for (let b = 0; b < data.batches; b++) {
  readBatch(b, 1000);
}
Atomics.add(sync, 3, 1);
// Until every worker has read all its batches, others may still pass packets here: keep draining.
while (Atomics.load(sync, 1) !== 2) {
  handoff.drain(translate, 1000);
  handoff.wait(1);
}
while (handoff.hasIncoming()) handoff.drain(translate, 1000);
const drops: Record<string, number> = {};
layout.names.forEach((name, i) => {
  if (name.startsWith('drop.') && counters[i] !== 0) drops[name] = counters[i];
});
parentPort!.postMessage({
  written,
  forwarded: handoff.counters.forwarded,
  ringFull: handoff.counters.ringFull,
  drops,
});
