// Worker of workers.bench.ts: one worker of an N-worker PLAT node without a TUN. It "reads" batches of
// 64 small UDP/IPv6 packets of established flows from subscribers spread over every shard (as a TUN
// queue gets them: the kernel picks the queue, not the shard's owner), keeps its own, passes the others
// through the rings, translates its own and what the others pass it, and counts what it writes.
import { readFileSync } from 'node:fs';
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
  /** Every flow of this worker's queue is of its own shards (no packet crosses a ring). */
  local: boolean;
  /** Read a batch only when every outgoing ring has room for all of it (no ring drop; see workers.bench.ts). */
  paced: boolean;
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

// This worker's "queue": `spread` = flows f = worker, worker + N, ... (disjoint per worker, spread over
// all shards: with N workers (N-1)/N of them cross a ring); `local` = as many flows, all of shards this
// worker owns (nothing crosses: the same work without the hand-off, its baseline in the same run).
const PACKET = 40 + 8 + 32;
const mine = Math.floor(data.flows / data.workers);
const buffer = Buffer.alloc(mine * (VNET + PACKET));
const offsets = new Uint32Array(mine);
const writeFlow = (f: number, o: number) => {
  buffer.fill(0, o, o + VNET + PACKET);
  const p = o + VNET;
  buffer[p] = 0x60;
  buffer[p + 5] = 40;
  buffer[p + 6] = 17;
  buffer[p + 7] = 64;
  buffer.set([0x20, 0x01, 0x0d, 0xb8, (f >> 16) & 255, (f >> 8) & 255, f & 255, 0], p + 8); // one /56 per flow
  buffer[p + 23] = 1;
  buffer.set([0x00, 0x64, 0xff, 0x9b], p + 24);
  buffer.set([198, 51, 100, 7], p + 36);
  buffer[p + 40] = 0x9c; // source port 40000
  buffer[p + 41] = 0x40;
  buffer[p + 42] = 0x01; // destination port 443
  buffer[p + 43] = 0xbb;
  buffer[p + 45] = 40;
};
for (let i = 0, f = data.worker; i < mine; f += data.local ? 1 : data.workers) {
  const o = i * (VNET + PACKET);
  writeFlow(f, o);
  if (data.local && handoff.ownerOf(buffer, o + VNET, PACKET) !== data.worker) continue;
  offsets[i++] = o;
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

/** This thread's CPU time (utime + stime, clock ticks of 10 ms) from /proc/thread-self/stat. */
function threadCpuMs(): number {
  const f = readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

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
const cpu0 = threadCpuMs();
const wall0 = performance.now();
// Room for a whole batch in every outgoing ring: records of header + pad + packet, and the bytes a
// record straddling the ring's end leaves unused.
const BATCH_ROOM = (BATCH + 1) * (8 + 3 + VNET + PACKET);
for (let b = 0; b < data.batches; b++) {
  if (data.paced) {
    // Like a kernel that offers no more than the slowest worker takes: wait (giving the CPU away)
    // for the peers to take what is in flight, translating what they pass here meanwhile.
    while (handoff.outgoingRoomBytes() < BATCH_ROOM) {
      handoff.drain(translate, 1000);
      handoff.wait(1);
    }
  }
  readBatch(b, 1000);
}
const readMs = performance.now() - wall0;
Atomics.add(sync, 3, 1);
// Until every worker has read all its batches, others may still pass packets here: keep draining.
while (Atomics.load(sync, 1) !== 2) {
  handoff.drain(translate, 1000);
  handoff.wait(1);
}
while (handoff.hasIncoming()) handoff.drain(translate, 1000);
const cpuMs = threadCpuMs() - cpu0;
const wallMs = performance.now() - wall0;
const drops: Record<string, number> = {};
layout.names.forEach((name, i) => {
  if (name.startsWith('drop.') && counters[i] !== 0) drops[name] = counters[i];
});
parentPort!.postMessage({
  written,
  forwarded: handoff.counters.forwarded,
  ringFull: handoff.counters.ringFull,
  drops,
  cpuMs,
  wallMs,
  readMs,
});
