// Benchmarks of the state layer (issue 9), each next to its baseline in the same run:
// - soak: 20,000 active UDP flows driven into engine + store (soak-child.ts, one process per design so
//   each RSS is its own): RSS and bytes on disk over engine time, this design against the replaced one
//   (refresh per touched session per flush, JSON lines kept in memory). Engine seconds are simulated
//   (one round of 20,000 datagrams per second), disk writes are real. X64_SOAK_SECONDS (default 600) and
//   X64_SOAK_OLD_SECONDS (default 60: the old design grows by megabytes per engine second) set the lengths.
// - codec: bytes per event of a realistic log, binary against the JSON lines it replaces.
// - replay: events/s folding a log into a fresh state (decode + reducer), binary against JSON.
// - snapshot at 1,000,000 sessions: bytes, time to take and to restore, against the event log that
//   rebuilds the same state (its bytes and replay time).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  applyEvent,
  copyNatStateTables,
  createFlowKey6,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  decodeNatEvents,
  EngineVerdict,
  type EventSink,
  encodeNatEventBatch,
  type NatEngine,
  type NatEvent,
  Protocol,
  restoreNatState,
  snapshotNatState,
} from '../../nat-engine/src/index.js';

const SOAK_SECONDS = Number(process.env.X64_SOAK_SECONDS ?? 600);
const OLD_SOAK_SECONDS = Number(process.env.X64_SOAK_OLD_SECONDS ?? 60);
const MB = 1024 * 1024;

interface Sample {
  second: number;
  rss: number;
  heap: number;
  disk: number;
  events: number;
  snapshots: number;
}

function soak(mode: 'embedded' | 'old', seconds: number): { samples: Sample[]; wallMs: number } {
  const child = fileURLToPath(new URL('./soak-child.ts', import.meta.url));
  const started = performance.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', child, mode, String(seconds)], {
    encoding: 'utf8',
    maxBuffer: 16 * MB,
  });
  if (result.status !== 0) throw new Error(`soak ${mode} failed: ${result.stderr}`);
  const samples = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Sample);
  return { samples, wallMs: performance.now() - started };
}

function growthPerSecond(samples: Sample[], field: 'rss' | 'disk', fromSecond: number): number {
  const from = samples.find((s) => s.second >= fromSecond) ?? samples[0];
  const to = samples[samples.length - 1];
  return to.second === from.second ? 0 : (to[field] - from[field]) / (to.second - from.second);
}

function printSoak(): void {
  const embedded = soak('embedded', SOAK_SECONDS);
  const old = soak('old', OLD_SOAK_SECONDS);
  const lines = [
    `Soak: 20,000 active UDP flows (40 subscribers x 500 ports, 1 datagram/flow/engine-second)`,
    '',
    '| design | engine s | RSS MB | on disk MB | events written | snapshots |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  const every = Math.max(60, Math.ceil(SOAK_SECONDS / 15 / 60) * 60);
  const pick = (samples: Sample[]) =>
    samples.filter((s, i) => i === 0 || s.second % every === 0 || i === samples.length - 1);
  for (const [name, run] of [
    ['embedded (this issue)', embedded],
    ['old (JSON, refresh per flush)', old],
  ] as const) {
    for (const s of pick(run.samples)) {
      lines.push(
        `| ${name} | ${s.second} | ${(s.rss / MB).toFixed(1)} | ${(s.disk / MB).toFixed(3)} | ${s.events.toLocaleString('en')} | ${s.snapshots} |`,
      );
    }
  }
  // Warm-up: the first refreshes of the embedded design come 280 s in (5 min lifetime - 20 s lead).
  const warm = Math.min(300, Math.floor(SOAK_SECONDS / 2));
  const newRss = growthPerSecond(embedded.samples, 'rss', warm);
  const newDisk = growthPerSecond(embedded.samples, 'disk', warm);
  const oldRss = growthPerSecond(old.samples, 'rss', 10);
  const oldDisk = growthPerSecond(old.samples, 'disk', 10);
  lines.push(
    '',
    `growth per engine second after warm-up (embedded from ${warm} s, old from 10 s): ` +
      `RSS ${(newRss / 1024).toFixed(1)} KB/s vs ${(oldRss / 1024).toFixed(1)} KB/s, ` +
      `disk ${(newDisk / 1024).toFixed(2)} KB/s vs ${(oldDisk / 1024).toFixed(1)} KB/s ` +
      `(old/new disk ${(oldDisk / Math.max(newDisk, 1)).toFixed(0)}x); wall ${(embedded.wallMs / 1000).toFixed(0)} s + ${(old.wallMs / 1000).toFixed(0)} s`,
    'embedded disk is bounded by the last snapshot + a tail of max(8 MiB, snapshot) (a snapshot then compacts the log);',
    'X64_SOAK_SECONDS=9000 shows the first compaction (the refreshes of 20,000 flows write ~1.1 KB per engine second).',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Collects events into encoded batches of 4096 (what the log would hold), plus the events themselves when asked. */
class BatchingSink implements EventSink {
  readonly payloads: Uint8Array[] = [];
  readonly kept: NatEvent[] = [];
  private pending: NatEvent[] = [];
  count = 0;
  constructor(private readonly keep: boolean) {}
  push(event: NatEvent): void {
    this.pending.push(event);
    if (this.keep) this.kept.push(event);
    this.count++;
    if (this.pending.length === 4096) this.seal();
  }
  seal(): void {
    if (this.pending.length === 0) return;
    this.payloads.push(encodeNatEventBatch(this.pending));
    this.pending = [];
  }
}

const SESSIONS = 1_000_000;
const SUBSCRIBERS = 4096;

/** 1,000,000 UDP sessions of 4096 subscribers (each flow its own mapping), events batched as the log holds them. */
function millionSessions(): { engine: NatEngine; sink: BatchingSink; nowMs: number } {
  const sink = new BatchingSink(false);
  const nowMs = 1_764_500_000_000;
  const engine = createNatEngine(
    {
      pool: ['203.0.113.0/24'],
      sessionsMax: 1 << 20,
      mappingsMax: 1 << 20,
      subscribersMax: SUBSCRIBERS * 2,
      leasedBlocksMax: SUBSCRIBERS * 2,
    },
    { sink, random: createSeededRandom(42), startMs: nowMs },
  );
  const key = createFlowKey6();
  for (let f = 0; f < SESSIONS; f++) {
    const sub = f % SUBSCRIBERS;
    key.protocol = Protocol.Udp;
    key.src6[0] = 0x20010db8;
    key.src6[1] = sub << 8;
    key.src6[2] = 0;
    key.src6[3] = 1;
    key.srcPort = 1024 + Math.floor(f / SUBSCRIBERS);
    key.dst4 = (0xc6336400 + (f & 255)) >>> 0;
    key.dstPort = 443;
    key.tcpFlags = 0;
    key.icmpError = false;
    if (engine.outbound6(key, nowMs + Math.floor(f / 1000)) !== EngineVerdict.Translate)
      throw new Error(`flow ${f} refused`);
  }
  sink.seal();
  return { engine, sink, nowMs: nowMs + SESSIONS / 1000 };
}

function printCodecAndReplay(): void {
  // A realistic mixed log: flows created, refreshed and expired (UDP, TCP, ICMP) over many subscribers.
  const sink = new BatchingSink(true);
  const startMs = 1_764_500_000_000;
  const engine = createNatEngine(
    { pool: ['203.0.113.0/24'], sessionsMax: 1 << 18 },
    { sink, random: createSeededRandom(5), startMs },
  );
  const rnd = createSeededRandom(9);
  const key = createFlowKey6();
  let now = startMs;
  for (let i = 0; i < 400_000; i++) {
    now += rnd.nextUint32() % 20;
    key.protocol = [Protocol.Udp, Protocol.Tcp, Protocol.Icmp6][rnd.nextUint32() % 3];
    key.src6[0] = 0x20010db8;
    key.src6[1] = (rnd.nextUint32() % 2000) << 8;
    key.src6[2] = 0;
    key.src6[3] = 1;
    key.srcPort = 1024 + (rnd.nextUint32() % 2000);
    key.dst4 = (0xc6336400 + (rnd.nextUint32() & 255)) >>> 0;
    key.dstPort = key.protocol === Protocol.Icmp6 ? key.srcPort : 443;
    key.tcpFlags = 2;
    key.icmpError = false;
    engine.outbound6(key, now);
    if (i % 1000 === 0) {
      engine.advance(now);
      engine.flush(now);
    }
  }
  engine.advance(now + 10_000_000);
  sink.seal();
  const events = sink.kept;
  const binaryBytes = sink.payloads.reduce((n, p) => n + p.byteLength, 0);
  const jsonLines: string[] = [];
  for (let i = 0; i < events.length; i += 4096) {
    jsonLines.push(
      JSON.stringify({ shard: 0, sequence: jsonLines.length + 1, events: events.slice(i, i + 4096) }),
    );
  }
  const jsonBytes = jsonLines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);

  const binaryTime = bestOf(3, () => {
    const state = createReplayState(engine.config, startMs);
    for (const payload of sink.payloads) {
      const decoded = decodeNatEvents(payload, 0, payload.length, 0, 0);
      if (!decoded.ok) throw new Error(decoded.message);
      for (const e of decoded.events) applyEvent(state, e);
    }
  });
  const binaryDecodeTime = bestOf(3, () => {
    for (const payload of sink.payloads) {
      if (!decodeNatEvents(payload, 0, payload.length, 0, 0).ok) throw new Error('decode failed');
    }
  });
  const jsonDecodeTime = bestOf(3, () => {
    for (const line of jsonLines) JSON.parse(line);
  });
  const jsonTime = bestOf(3, () => {
    const state = createReplayState(engine.config, startMs);
    for (const line of jsonLines) for (const e of JSON.parse(line).events as NatEvent[]) applyEvent(state, e);
  });
  const lines = [
    '',
    `Codec and replay: ${events.length.toLocaleString('en')} events (UDP/TCP/ICMP flows created, refreshed, expired)`,
    '',
    '| log format | bytes/event | decode events/s | replay events/s (decode + reducer) |',
    '| --- | ---: | ---: | ---: |',
    `| binary codec (this issue) | ${(binaryBytes / events.length).toFixed(1)} | ${rate(events.length, binaryDecodeTime)} | ${rate(events.length, binaryTime)} |`,
    `| JSON lines (replaced) | ${(jsonBytes / events.length).toFixed(1)} | ${rate(events.length, jsonDecodeTime)} | ${rate(events.length, jsonTime)} |`,
    '',
    `binary/JSON: ${(jsonBytes / binaryBytes).toFixed(1)}x smaller, replay ${(jsonTime / binaryTime).toFixed(2)}x faster ` +
      '(Jool joold: 52 B/session; VPP NAT HA: 44 B/event)',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printSnapshot(): void {
  const { engine, sink, nowMs } = millionSessions();
  const logBytes = sink.payloads.reduce((n, p) => n + p.byteLength, 0);
  let snapshot: Uint8Array = new Uint8Array(0);
  const takeMs = bestOf(3, () => {
    snapshot = snapshotNatState(engine.state, nowMs);
  });
  // What the packet worker pauses for now: the table copy handed to the snapshot thread (snapshot-thread.ts).
  const copyMs = bestOf(3, () => {
    copyNatStateTables(engine.state);
  });
  const restoreMs = bestOf(2, () => {
    const restored = restoreNatState(engine.config, snapshot, 0, snapshot.length, {
      hashSeed: 1,
      startMs: nowMs,
    });
    if (!restored.ok || restored.state.sessionCount !== SESSIONS) throw new Error('restore failed');
  });
  const replayMs = bestOf(2, () => {
    const state = createReplayState(engine.config, nowMs);
    for (const payload of sink.payloads) {
      const decoded = decodeNatEvents(payload, 0, payload.length, 0, 0);
      if (!decoded.ok) throw new Error(decoded.message);
      for (const e of decoded.events) applyEvent(state, e);
    }
    if (state.sessionCount !== SESSIONS) throw new Error('replay failed');
  });
  const lines = [
    '',
    `Snapshot at ${SESSIONS.toLocaleString('en')} sessions (${engine.state.mappingCount.toLocaleString('en')} mappings, ${engine.state.leasedBlockCount} blocks), ${sink.count.toLocaleString('en')} events to build`,
    '',
    '| what | bytes | bytes/session | time ms (best) |',
    '| --- | ---: | ---: | ---: |',
    `| snapshot: take | ${snapshot.length.toLocaleString('en')} | ${(snapshot.length / SESSIONS).toFixed(1)} | ${takeMs.toFixed(0)} |`,
    `| snapshot: worker pause with the snapshot thread (table copy; encoding off the worker) | | | ${copyMs.toFixed(0)} |`,
    `| snapshot: restore (with duplicate and ownership checks) | | | ${restoreMs.toFixed(0)} |`,
    `| event log: replay from sequence 0 | ${logBytes.toLocaleString('en')} | ${(logBytes / SESSIONS).toFixed(1)} | ${replayMs.toFixed(0)} |`,
    '',
    `worker pause per snapshot, copy/synchronous take: ${(copyMs / takeMs).toFixed(3)} (the packet loop used to stop for the whole take)`,
    `restore/replay time: ${(restoreMs / replayMs).toFixed(2)}; replay ${Math.round((sink.count / replayMs) * 1000).toLocaleString('en')} events/s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function rate(count: number, ms: number): string {
  return Math.round((count / ms) * 1000).toLocaleString('en');
}

function bestOf(runs: number, work: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    work();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

export default async function main(): Promise<void> {
  printCodecAndReplay();
  printSnapshot();
  printSoak();
}
