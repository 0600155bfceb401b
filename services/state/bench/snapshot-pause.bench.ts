// How long the packet worker stops translating when it cuts a snapshot (issue 9): the synchronous part of
// SnapshotThread.take — the copy of the state's tables and the hand-off to the snapshot thread (the
// encoding runs there, while the worker translates) — at 1,000,000 sessions next to 10,000 sessions in
// the same run. The tables are preallocated typed arrays sized by the configuration's bounds, so the copy
// follows the table capacity, not the sessions in it: 10,000 sessions are measured both in tables sized
// for them (sessionsMax 16,384) and in the 1,000,000-session tables (sessionsMax 1,048,576). The first cut
// allocates its copy; later cuts copy into the buffers the thread gave back. The former pause (a fresh
// copy at every cut) is measured on the same state in the same run as the baseline.
import { performance } from 'node:perf_hooks';
import {
  copyNatStateTables,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  EngineVerdict,
  type NatEngine,
  Protocol,
} from '../../nat-engine/src/index.js';
import { SnapshotThread } from '../src/snapshot-thread.js';

const FLOWS_PER_SUBSCRIBER = 32;
const RUNS = 7;

function engineWith(sessions: number, capacity: number): NatEngine {
  const subscribers = Math.ceil(sessions / FLOWS_PER_SUBSCRIBER);
  const engine = createNatEngine(
    {
      pool: ['203.0.112.0/23'],
      blockSizePorts: 512,
      sessionsMax: capacity,
      mappingsMax: capacity,
      subscribersMax: Math.max(4096, capacity / 16),
      leasedBlocksMax: Math.max(4096, capacity / 16),
    },
    { sink: { push: () => {} }, random: createSeededRandom(7), startMs: 0 },
  );
  const key = createFlowKey6();
  for (let f = 0; f < sessions; f++) {
    const sub = f % subscribers;
    key.protocol = Protocol.Udp;
    key.src6.set([0x20010db8, sub << 8, 0, 1]);
    key.srcPort = 1024 + Math.floor(f / subscribers);
    key.dst4 = (0xc6336400 + (f & 255)) >>> 0;
    key.dstPort = 443;
    key.tcpFlags = 0;
    if (engine.outbound6(key, 1) !== EngineVerdict.Translate) throw new Error(`flow ${f} refused`);
  }
  return engine;
}

interface Pause {
  label: string;
  sessions: number;
  capacity: number;
  firstMs: number;
  /** Median of the later cuts (copies into the returned buffers). */
  medianMs: number;
  /** Median of a fresh copy per cut (the former take). */
  formerMs: number;
  bytes: number;
  tableBytes: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

async function measure(label: string, sessions: number, capacity: number): Promise<Pause> {
  const engine = engineWith(sessions, capacity);
  const thread = new SnapshotThread();
  const pauses: number[] = [];
  let bytes = 0;
  try {
    for (let run = 0; run < RUNS; run++) {
      // The worker's turn: from the cut until take() returns (copy + postMessage of the copy).
      const started = performance.now();
      const pending = thread.take(engine.state, 2 + run);
      pauses.push(performance.now() - started);
      bytes = (await pending).byteLength; // encoded on the helper thread meanwhile
    }
  } finally {
    await thread.stop();
  }
  const former: number[] = [];
  let tableBytes = 0;
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    const copy = copyNatStateTables(engine.state);
    former.push(performance.now() - started);
    tableBytes = copy.buffers.reduce((n, b) => n + b.byteLength, 0);
  }
  return {
    label,
    sessions,
    capacity,
    firstMs: pauses[0],
    medianMs: median(pauses.slice(1)),
    formerMs: median(former),
    bytes,
    tableBytes,
  };
}

export default async function run(): Promise<void> {
  const rows = [
    await measure('10,000 sessions, tables sized for them', 10_000, 1 << 14),
    await measure('10,000 sessions in 1M-session tables', 10_000, 1 << 20),
    await measure('1,000,000 sessions', 1_000_000, 1 << 20),
  ];
  const base = rows[0];
  const lines = [
    '',
    `Worker pause per snapshot cut (table copy + hand-off to the snapshot thread), median of ${RUNS - 1} later cuts`,
    '',
    '| state | sessions | sessionsMax | tables MB | snapshot MB | first cut ms | later cuts ms | former (fresh copy) ms | former / later | later / 10k sized |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.sessions.toLocaleString('en')} | ${r.capacity.toLocaleString('en')} | ${(r.tableBytes / 1e6).toFixed(0)} | ${(r.bytes / 1e6).toFixed(1)} | ${r.firstMs.toFixed(1)} | ${r.medianMs.toFixed(1)} | ${r.formerMs.toFixed(1)} | ${(r.formerMs / r.medianMs).toFixed(1)} | ${(r.medianMs / base.medianMs).toFixed(1)} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
