// One soak run of `state.bench.ts`, in a process of its own so its RSS is its own: 20,000 active UDP
// flows (40 subscribers x 500 ports, one datagram per flow per second of the engine's clock) driven
// straight into the NAT engine, its events into a log in a fresh temporary directory, for N seconds of
// engine time (each round = one second: the datagrams, advance, flush, the store's tick, the disk write
// awaited). Prints one JSON line per 10 s: engine seconds, RSS, heap, bytes on disk, events written.
//   mode "embedded": this design (EmbeddedNatStore: binary codec, refresh only when the logged
//                    lifetime would end within refreshLeadMs, snapshots compacting the log).
//   mode "old":      the design it replaces, re-created here: every touched session refreshed at every
//                    flush, each batch written as a JSON line and kept in memory.
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  EngineVerdict,
  type NatEvent,
  Protocol,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { EmbeddedNatStore } from '../src/index.js';

const mode = process.argv[2] as 'embedded' | 'old';
const seconds = Number(process.argv[3]);
const SUBSCRIBERS = 40;
const PORTS = 500;
const FLOWS = SUBSCRIBERS * PORTS;
const INPUT = { pool: ['203.0.113.0/24'], sessionsMax: 65_536, subscribersMax: 256 };

/** The replaced embedded log: JSON lines, every batch also kept in memory. */
class OldJsonLog {
  readonly batches: { shard: number; sequence: number; events: NatEvent[] }[] = [];
  constructor(private readonly path: string) {}
  append(events: NatEvent[]): void {
    const batch = { shard: 0, sequence: this.batches.length + 1, events };
    appendFileSync(this.path, `${JSON.stringify(batch)}\n`);
    this.batches.push(batch);
  }
}

function diskBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}

const dir = mkdtempSync(join(tmpdir(), `x64-soak-${mode}-`));
try {
  const startMs = 1_764_500_000_000;
  let pending: NatEvent[] = [];
  let eventsWritten = 0;
  const old = mode === 'old' ? new OldJsonLog(join(dir, 'events.log')) : null;
  const store =
    mode === 'embedded'
      ? await EmbeddedNatStore.open(
          { directory: dir, config: validateConfig(INPUT), hashSeed: 7, flushIntervalMs: 1000 },
          startMs,
        )
      : null;
  const sink = store?.sink ?? { push: (e: NatEvent) => void pending.push(e) };
  const engine = createNatEngine(INPUT, {
    sink,
    random: createSeededRandom(3),
    startMs,
    state: store?.state,
  });
  engine.start(startMs);
  const key = createFlowKey6();
  const mapped = new Float64Array(FLOWS * 2);
  for (let second = 1; second <= seconds; second++) {
    const now = startMs + second * 1000;
    for (let f = 0; f < FLOWS; f++) {
      key.protocol = Protocol.Udp;
      key.src6[0] = 0x20010db8;
      key.src6[1] = (f % SUBSCRIBERS) << 8;
      key.src6[2] = 0;
      key.src6[3] = 1;
      key.srcPort = 10_000 + Math.floor(f / SUBSCRIBERS);
      key.dst4 = (0xc6336400 + (f & 63)) >>> 0;
      key.dstPort = 443;
      key.tcpFlags = 0;
      key.icmpError = false;
      if (engine.outbound6(key, now) !== EngineVerdict.Translate) throw new Error(`flow ${f} refused`);
      mapped[f * 2] = engine.result.v4Src;
      mapped[f * 2 + 1] = engine.result.v4SrcPort;
    }
    engine.advance(now);
    engine.flush(now);
    if (old !== null) {
      // The replaced engine published one SessionChanged per session touched since the last flush.
      for (let f = 0; f < FLOWS; f++) {
        pending.push({
          type: 6,
          version: 1,
          shard: 0,
          epoch: 0,
          timeMs: now,
          protocol: 1,
          ipv4: mapped[f * 2],
          ipv4Port: mapped[f * 2 + 1],
          remote: (0xc6336400 + (f & 63)) >>> 0,
          remotePort: 443,
          state: 0,
          remainingMs: 300_000,
        });
      }
      for (let i = 0; i < pending.length; i += 4096) old.append(pending.slice(i, i + 4096));
      eventsWritten += pending.length;
      pending = [];
    } else if (store !== null) {
      store.tick(now);
      await store.log.flush();
      // Yield to the event loop as the PLAT's queue worker does between batches: file operations of a
      // snapshot in progress complete in the poll phase, which awaiting resolved promises never reaches.
      await new Promise((resolve) => setImmediate(resolve));
      eventsWritten = store.status().batcher.appendedEvents;
    }
    if (second % 10 === 0) {
      const m = process.memoryUsage();
      process.stdout.write(
        `${JSON.stringify({ second, rss: m.rss, heap: m.heapUsed + m.arrayBuffers, disk: diskBytes(dir), events: eventsWritten, snapshots: store?.status().snapshots ?? 0 })}\n`,
      );
    }
  }
  if (store !== null) await store.stop(startMs + (seconds + 1) * 1000);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
