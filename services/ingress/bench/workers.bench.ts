// The PLAT's per-packet path with 1 and with 2 workers in the same run: ingress (shard routing, the
// hand-off through the rings) + shard pipeline (PLAT step: engine, RFC 7915 rewrite), established UDP
// flows of 4096 subscribers, 64-byte-payload packets in batches of 64, each worker reading batches whose
// packets belong to every shard (as the kernel spreads flows over TUN queues), so with 2 workers half of
// each worker's packets cross a ring. Packets/s = packets written by all workers / wall time; the ratio
// 2 workers / 1 worker is printed (target >= 1.6 on 2 otherwise idle cores; the machine is shared, so
// the load average is printed with it). `npm run bench -- workers`.
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createRingMemory } from '../../../libs/dataplane/src/index.js';
import { createSharedPoolMemory, validateConfig } from '../../nat-engine/src/index.js';
import { createBlockTableStorage, createHandoffMemory, createShardTable } from '../src/routing/index.js';

const bootstrap = fileURLToPath(new URL('../test/fixtures/worker-bootstrap.mjs', import.meta.url));
const entry = new URL('./workers-bench-worker.ts', import.meta.url).href;
const FLOWS = 4096;
const BATCHES = 20_000; // per worker: 1.28M packets each

async function run(workers: number): Promise<{ packetsPerS: number; forwarded: number; ringFull: number }> {
  const config = { pool: ['203.0.113.0/24'], sessionsMax: 1 << 16, subscribersMax: 8192 };
  const engineConfig = validateConfig(config);
  const shared = {
    pool: createSharedPoolMemory(engineConfig),
    blocks: createBlockTableStorage(engineConfig),
    table: createShardTable({ memberCount: workers }).toData(),
    handoff: createHandoffMemory(workers, () => createRingMemory(1 << 21)),
    sync: new SharedArrayBuffer(16),
  };
  const sync = new Int32Array(shared.sync);
  const threads = Array.from(
    { length: workers },
    (_, worker) =>
      new Worker(bootstrap, {
        workerData: { entry, worker, workers, config, flows: FLOWS, batches: BATCHES, ...shared },
      }),
  );
  const results = threads.map(
    (t) =>
      new Promise<{ written: number; forwarded: number; ringFull: number; drops: Record<string, number> }>(
        (resolve, reject) => {
          t.once('message', resolve);
          t.once('error', reject);
        },
      ),
  );
  while (Atomics.load(sync, 2) < workers) await new Promise((r) => setTimeout(r, 10));
  const expected = workers * BATCHES * 64;
  const t0 = performance.now();
  Atomics.store(sync, 1, 1);
  // Every worker has read all its batches: then nothing new enters a ring, and each drains what is left.
  while (Atomics.load(sync, 3) < workers) await new Promise((r) => setTimeout(r, 1));
  Atomics.store(sync, 1, 2);
  const stats = await Promise.all(results);
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(threads.map((t) => t.terminate()));
  const done = stats.reduce((n, s) => n + s.written, 0);
  const forwarded = stats.reduce((n, s) => n + s.forwarded, 0);
  const ringFull = stats.reduce((n, s) => n + s.ringFull, 0);
  if (done + ringFull !== expected) {
    throw new Error(
      `${workers} workers: ${expected - done - ringFull} packets neither written nor counted as a ring drop; ` +
        `step drops ${JSON.stringify(stats.map((s) => s.drops))}`,
    );
  }
  return { packetsPerS: done / seconds, forwarded, ringFull };
}

export default async function bench(): Promise<void> {
  const lines = [
    '| workers | packets/s (all workers) | forwarded through rings | dropped, ring full | load average |',
    '|--------:|------------------------:|------------------------:|-------------------:|-------------:|',
  ];
  let one = 0;
  let two = 0;
  for (let round = 0; round < 2; round++) {
    for (const workers of [1, 2]) {
      const load = loadavg()[0].toFixed(1);
      const r = await run(workers);
      if (workers === 1) one = Math.max(one, r.packetsPerS);
      else two = Math.max(two, r.packetsPerS);
      lines.push(
        `| ${String(workers).padStart(7)} | ${Math.round(r.packetsPerS).toLocaleString('en').padStart(23)} | ` +
          `${String(r.forwarded).padStart(23)} | ${String(r.ringFull).padStart(18)} | ${load.padStart(12)} |`,
      );
    }
  }
  lines.push(`\n2 workers / 1 worker (best of 2 each, alternating): ${(two / one).toFixed(2)}x`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
