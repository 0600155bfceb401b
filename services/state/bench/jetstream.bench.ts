// Event replication through NATS JetStream from one node (DESIGN.md "Event sourcing"): events/s into the
// stream batched (one message per flush batch, the adapter's fence and dedupe on every publish) against
// one message per event in the same run (pipelined raw publishes, the best a per-event design gets), and
// the replication lag to a hot standby at 50,000 events/s (p50/p99 from an event's creation to its fold
// into the standby's replica). Starts its own nats-server (infra/services) on a free loopback port.
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { jetstream } from '@nats-io/jetstream';
import { startServer, stopServer } from '../../../infra/services/servers.js';
import {
  ArrayEventSink,
  createFlowKey6,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  EngineVerdict,
  encodeNatEventBatch,
  type NatEngine,
  type NatEvent,
  Protocol,
  TcpFlag,
} from '../../nat-engine/src/index.js';
import { type BatchEncoder, EventBatcher } from '../src/batcher.js';
import { JetStreamEventLog } from '../src/jetstream-log.js';
import { connectNats } from '../src/nats-connection.js';
import { ShardStandby } from '../src/standby.js';

const encoder: BatchEncoder<NatEvent> = { encode: (events) => encodeNatEventBatch(events) };
const CONFIG = {
  pool: ['203.0.113.0/24'],
  sessionsMax: 1 << 19,
  mappingsMax: 1 << 19,
  subscribersMax: 8192,
  leasedBlocksMax: 16384,
  subscriberSessionsMax: 100_000,
  subscriberBlocksMax: 64,
};

/** An engine and a function that opens `count` new UDP flows from many subscribers at `nowMs`. */
function workload(sink: { push(e: NatEvent): void }) {
  const engine: NatEngine = createNatEngine(CONFIG, {
    sink,
    random: createSeededRandom(3),
    startMs: 0,
    shard: 1,
    epoch: 1,
  });
  engine.start(0);
  const key = createFlowKey6();
  let n = 0;
  const open = (count: number, nowMs: number) => {
    for (let i = 0; i < count; i++, n++) {
      key.protocol = Protocol.Udp;
      key.src6[0] = 0x20010db8;
      key.src6[1] = (n % 4096) << 8;
      key.src6[2] = 0;
      key.src6[3] = 1;
      key.srcPort = 1024 + Math.floor(n / 4096);
      key.dst4 = 0xc6336402;
      key.dstPort = 53;
      key.tcpFlags = TcpFlag.Syn;
      if (engine.outbound6(key, nowMs) !== EngineVerdict.Translate)
        throw new Error('bench workload refused a flow');
    }
    engine.flush(nowMs);
  };
  return { engine, open };
}

function batcher(log: JetStreamEventLog, shard: number, lastSequence: number, batchEventsMax: number) {
  return new EventBatcher<NatEvent>(
    log,
    encoder,
    {
      shard,
      epoch: 1,
      lastSequence,
      flushIntervalMs: 10,
      batchEventsMax,
      inFlightBatchesMax: 8,
      bufferEventsMax: 4_000_000,
      retryDelayMs: 50,
    },
    0,
  );
}

async function drain(b: EventBatcher<NatEvent>[], fromMs: number): Promise<void> {
  let now = fromMs;
  for (;;) {
    if (b.every((x) => x.status().bufferedEvents === 0)) return;
    if (b.some((x) => x.status().state === 'fenced')) throw new Error('bench writer fenced');
    now += 10;
    for (const x of b) x.tick(now);
    await new Promise((r) => setImmediate(r));
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

export default async function run(): Promise<void> {
  const server = startServer('nats');
  const nc = await connectNats({ url: server.url, name: 'bench' });
  try {
    // Real engine events (mapping, session, block leases of new UDP flows), reused cyclically.
    const sink = new ArrayEventSink();
    const { open } = workload(sink);
    open(100_000, 1);
    const events = sink.events;
    const bytesPerEvent = encodeNatEventBatch(events).byteLength / events.length;
    const rows: [string, number, string][] = [];

    // Baseline: one message per event, pipelined (256 in flight), Nats-Msg-Id on each.
    {
      const js = jetstream(nc);
      const log = await JetStreamEventLog.open(nc, {
        stream: 'BENCH_SINGLE',
        subjectPrefix: 'bench.single',
        snapshotBucket: 'bench-single',
      });
      const n = 40_000;
      const start = performance.now();
      const window: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        window.push(
          js.publish(log.subjectOf(1), encodeNatEventBatch([events[i % events.length]]), {
            msgID: `1.1.${i + 1}`,
          }),
        );
        if (window.length >= 256) await window.shift();
      }
      await Promise.all(window);
      const rate = n / ((performance.now() - start) / 1000);
      rows.push(['one message per event, pipelined (baseline)', rate, `${n} events`]);
      await log.stop();
    }
    const baseline = rows[0][1];

    // The adapter with one event per batch: every publish fenced and awaited in shard order.
    {
      const log = await JetStreamEventLog.open(nc, {
        stream: 'BENCH_FENCED1',
        subjectPrefix: 'bench.f1',
        snapshotBucket: 'bench-f1',
      });
      const b = batcher(log, 1, 0, 1);
      const n = 5_000;
      const start = performance.now();
      for (let i = 0; i < n; i++) b.add(events[i % events.length]);
      await drain([b], 0);
      rows.push([
        'adapter, 1 event per batch (fenced, shard-ordered)',
        n / ((performance.now() - start) / 1000),
        `${n} events`,
      ]);
      await log.stop();
    }

    // Batched: 1,000 events per message, one shard and eight shards.
    for (const shards of [1, 8]) {
      const log = await JetStreamEventLog.open(nc, {
        stream: `BENCH_B${shards}`,
        subjectPrefix: `bench.b${shards}`,
        snapshotBucket: `bench-b${shards}`,
      });
      const bs = Array.from({ length: shards }, (_, s) => batcher(log, s, 0, 1000));
      const n = 1_000_000;
      const start = performance.now();
      let now = 0;
      for (let i = 0; i < n; i++) {
        bs[i % shards].add(events[i % events.length]);
        if (i % 10_000 === 9_999) {
          now += 10;
          for (const b of bs) b.tick(now);
          await new Promise((r) => setImmediate(r));
        }
      }
      await drain(bs, now);
      const rate = n / ((performance.now() - start) / 1000);
      rows.push([
        `adapter, batches of 1,000 events, ${shards} shard${shards > 1 ? 's' : ''}`,
        rate,
        `${n} events`,
      ]);
      await log.stop();
    }

    process.stdout.write(
      `events: real engine events (new UDP flows), ${bytesPerEvent.toFixed(1)} B/event in the binary codec\n`,
    );
    process.stdout.write('| path | events/s | × baseline | n |\n|---|---:|---:|---:|\n');
    for (const [name, rate, n] of rows) {
      process.stdout.write(
        `| ${name} | ${Math.round(rate).toLocaleString('en')} | ${(rate / baseline).toFixed(1)} | ${n} |\n`,
      );
    }

    // Replication lag to a hot standby at 50,000 events/s for 5 s: a live engine opens flows at the rate,
    // its batcher flushes every 10 ms, the standby folds each batch into its replica.
    const lag = async (rate: number, name: string): Promise<number> => {
      const log = await JetStreamEventLog.open(nc, {
        stream: `BENCH_LAG_${name}`,
        subjectPrefix: `bench.lag${name}`,
        snapshotBucket: `bench-lag-${name}`,
      });
      const ncStandby = await connectNats({ url: server.url, name: 'bench-standby' });
      const standbyLog = await JetStreamEventLog.open(ncStandby, {
        stream: `BENCH_LAG_${name}`,
        subjectPrefix: `bench.lag${name}`,
        snapshotBucket: `bench-lag-${name}`,
      });
      const seconds = 5;
      const addedAt = new Float64Array(rate * seconds * 4);
      let added = 0;
      const b = batcher(log, 1, 0, 2000);
      const { engine, open: openFlows } = workload({
        push: (e) => {
          addedAt[added++] = performance.now();
          b.add(e);
        },
      });
      const lags = new Float64Array(addedAt.length);
      const ackLags = new Float64Array(addedAt.length);
      let acked = 0;
      let folded = 0;
      const replica = createReplayState(engine.config, 0);
      const standby = new ShardStandby(
        standbyLog,
        1,
        replica,
        { sequence: 0, epoch: 0 },
        {
          onBatch: (batch) => {
            const t = performance.now();
            for (let i = 0; i < batch.eventCount; i++, folded++) lags[folded] = t - addedAt[folded];
          },
        },
      );
      await standby.start();
      const start = performance.now();
      let flows = 0;
      let nowMs = 1;
      while (performance.now() - start < seconds * 1000) {
        // Events per flow vary (a block lease now and then), so pace on events, not flows.
        const due = Math.floor(((performance.now() - start) / 1000) * rate);
        while (added < due) {
          openFlows(1, nowMs);
          flows++;
        }
        nowMs = Math.floor(performance.now() - start) + 1;
        b.tick(nowMs);
        const appended = b.status().appendedEvents;
        const t = performance.now();
        for (; acked < appended; acked++) ackLags[acked] = t - addedAt[acked];
        await new Promise((r) => setTimeout(r, 1));
      }
      await drain([b], nowMs);
      await standby.caughtUp(b.status().ackedSequence);
      const elapsed = (performance.now() - start) / 1000;
      const sorted = lags.slice(0, folded).sort();
      // Where the slow events are: the p99 lag of the events created in each second of the run.
      const perSecond: string[] = [];
      for (let sec = 0; sec < seconds; sec++) {
        const from = start + sec * 1000;
        const picked: number[] = [];
        for (let i = 0; i < folded; i++)
          if (addedAt[i] >= from && addedAt[i] < from + 1000) picked.push(lags[i]);
        const inSecond = Float64Array.from(picked).sort();
        perSecond.push(`s${sec + 1} p99 ${percentile(inSecond, 0.99).toFixed(0)} ms`);
      }
      process.stdout.write(
        `replication lag to a hot standby at ${rate.toLocaleString('en')} events/s target (${Math.round(added / elapsed).toLocaleString('en')} achieved, ${flows.toLocaleString('en')} flows, ${folded.toLocaleString('en')} events folded, flush 10 ms): p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms\n`,
      );
      process.stdout.write(`  per second of the run: ${perSecond.join(', ')}\n`);
      const ackSorted = ackLags.slice(0, acked).sort();
      process.stdout.write(
        `  of which event -> stored in JetStream (acknowledged to the owner): p50 ${percentile(ackSorted, 0.5).toFixed(1)} ms, p99 ${percentile(ackSorted, 0.99).toFixed(1)} ms\n`,
      );
      process.stdout.write(
        `  (load average during the run: ${loadavg()[0].toFixed(1)} on ${cpus().length} cores; a shard's publishes are serialised by the fence, so the lag follows the publish round trip)\n`,
      );
      await standby.stop();
      await ncStandby.close();
      await log.stop();
      return percentile(sorted, 0.99);
    };
    // The same measurement at a tenth of the rate first (the baseline of this run), then at 50,000/s.
    const quiet = await lag(5_000, 'base');
    const loaded = await lag(50_000, 'main');
    process.stdout.write(
      `replication lag p99 at 50,000 events/s / at 5,000 events/s (same run): ${(loaded / quiet).toFixed(2)} (target p99 < 100 ms)\n`,
    );
  } finally {
    await nc.close();
    stopServer(server);
  }
}
