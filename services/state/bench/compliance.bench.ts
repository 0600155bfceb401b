// Compliance log on a real Kafka broker (started here by infra/kafka/start-kafka.sh, stopped at the end):
//   1. records/s the outbox produces from a backlog (derive + encode + idempotent send with acks=all +
//      checkpoint), packed messages (format 2, the default) against one record per message (format 1,
//      the earlier default) in the same run, with and without gzip; kafkajs sending pre-encoded
//      single-record messages with nothing else (the client's ceiling for format 1); derivation alone;
//   2. end-to-end latency (batch visible in the event log -> its records acknowledged by Kafka and
//      checkpointed) at a steady offered load, both formats at the same load, and packed at a load
//      format 1 cannot carry;
//   3. lookup latency over a day of records for a /22 pool (1024 addresses) and 100,000 subscribers,
//      packed against format 1 at the same moments, and against reading the address's whole partition.
//      Every lookup's answer is checked against the generated leases.
// Events are generated in the engine's schema (BlockLeased/BlockReleased) rather than by simulating
// 100,000 subscribers through the engine for a day, which would take longer than the bench itself.
// FORMAT1_HOURS (default 3) bounds the part of the day written in format 1 (it is ~10x slower).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { removeKafkaDir, startKafka, stopKafka, waitForKafka } from '../../../infra/kafka/broker.js';
import { NAT_EVENT_SCHEMA_VERSION, type NatEvent, NatEventType } from '../../nat-engine/src/index.js';
import {
  ComplianceDeriver,
  type ComplianceEventSource,
  ComplianceOutbox,
  type ComplianceOutboxOptions,
  type ComplianceRecord,
  createKafka,
  decodeMessage,
  defaultDeriverOptions,
  defaultOutboxOptions,
  formatPrefix,
  lookupInKafka,
  partitionOf,
  type SourceBatch,
  scanPartition,
} from '../src/index.js';

const HOUR = 3_600_000;
const SUBSCRIBERS = Number(process.env.SUBS ?? 100_000);
// The pool is 198.18.0.0/22 from the RFC 2544 benchmarking range: the documentation ranges hold only
// 768 addresses, and these addresses are data in Kafka records, never on a wire.
const ADDRESSES = 1024;
const SHARDS = 16;
const BLOCK = 512;
const EVENTS_PER_BATCH = 500;

interface Lease {
  subscriber: number;
  address: number;
  firstPort: number;
  startMs: number;
  endMs: number;
}

function poolAddress(i: number): number {
  return (0xc6120000 + i) >>> 0;
}

function generateDay(endMs: number): { sources: Map<number, SourceBatch[]>; leases: Lease[] } {
  let x = 12345;
  const random = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
  const startMs = endMs - 24 * HOUR;
  const leases: Lease[] = [];
  const perShard: NatEvent[][] = Array.from({ length: SHARDS }, () => []);
  // ~98 subscribers per address share its 126 UDP blocks; each has its own block slot on its address,
  // so leases of one block never overlap.
  for (let s = 0; s < SUBSCRIBERS; s++) {
    const address = poolAddress(s % ADDRESSES);
    const firstPort = 1024 + Math.floor(s / ADDRESSES) * BLOCK;
    let t = startMs + random() * 4 * HOUR;
    while (t < endMs) {
      const duration = Math.min(10 * 60_000 + random() * 4 * HOUR, endMs - t - 1);
      const lease: Lease = {
        subscriber: s,
        address,
        firstPort,
        startMs: Math.floor(t),
        endMs: Math.floor(t + duration),
      };
      leases.push(lease);
      const shard = s % SHARDS;
      const subscriber = [0x20010db8, (s << 8) >>> 0, 0, 0] as const;
      perShard[shard].push(
        {
          type: NatEventType.BlockLeased,
          version: NAT_EVENT_SCHEMA_VERSION,
          shard,
          epoch: 1,
          timeMs: lease.startMs,
          protocol: 1,
          address,
          firstPort,
          subscriber,
        },
        {
          type: NatEventType.BlockReleased,
          version: NAT_EVENT_SCHEMA_VERSION,
          shard,
          epoch: 1,
          timeMs: lease.endMs,
          protocol: 1,
          address,
          firstPort,
        },
      );
      t += duration + 60_000 + random() * 6 * HOUR;
    }
  }
  const sources = new Map<number, SourceBatch[]>();
  for (let shard = 0; shard < SHARDS; shard++) {
    const events = perShard[shard].sort((a, b) => a.timeMs - b.timeMs);
    // As the PLAT's batcher: a batch per flush interval (here 10 s) or per 500 events.
    const batches: SourceBatch[] = [];
    for (let i = 0; i < events.length; ) {
      let j = i + 1;
      while (j < events.length && j - i < EVENTS_PER_BATCH && events[j].timeMs - events[i].timeMs < 10_000)
        j++;
      batches.push({ shard, sequence: batches.length + 1, events: events.slice(i, j) });
      i = j;
    }
    sources.set(shard, batches);
  }
  return { sources, leases };
}

function arraySource(sources: Map<number, SourceBatch[]>): ComplianceEventSource {
  const shards = [...sources.keys()];
  return {
    shards: () => shards,
    lastSequence: (shard) => sources.get(shard)?.length ?? 0,
    firstSequence: () => 1,
    read: (shard, after, max) => (sources.get(shard) ?? []).slice(after, after + max),
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const quantile = (a: number[], q: number): number =>
  [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * q))];

/** Batches made visible over time at `eventsPerSecond`; records each batch's visible time. */
function liveSource(
  sources: Map<number, SourceBatch[]>,
  eventsPerSecond: number,
  durationMs: number,
): { source: ComplianceEventSource; visibleAt: Map<string, number>; done: () => boolean; stop: () => void } {
  const shards = [...sources.keys()];
  const visible = new Map<number, number>(shards.map((s) => [s, 0]));
  const visibleAt = new Map<string, number>();
  const began = performance.now();
  let offered = 0;
  let finished = false;
  const tick = (): void => {
    const elapsed = performance.now() - began;
    const target = Math.min(elapsed, durationMs) * (eventsPerSecond / 1000);
    const now = performance.now();
    // Round-robin over shards, one batch at a time, until the offered events reach the target.
    while (offered < target) {
      let progressed = false;
      for (const shard of shards) {
        if (offered >= target) break;
        const batches = sources.get(shard) as SourceBatch[];
        const n = visible.get(shard) as number;
        if (n >= batches.length) continue;
        visible.set(shard, n + 1);
        visibleAt.set(`${shard}:${n + 1}`, now);
        offered += batches[n].events.length;
        progressed = true;
      }
      if (!progressed) break;
    }
    if (elapsed >= durationMs) finished = true;
  };
  const timer = setInterval(tick, 10);
  return {
    source: {
      shards: () => shards,
      lastSequence: (shard) => visible.get(shard) ?? 0,
      firstSequence: () => 1,
      read: (shard, after, max) =>
        (sources.get(shard) ?? []).slice(after, Math.min(after + max, visible.get(shard) ?? 0)),
    },
    visibleAt,
    done: () => finished,
    stop: () => clearInterval(timer),
  };
}

/** The batches of `sources` whose first event lies before `untilMs`. */
function until(sources: Map<number, SourceBatch[]>, untilMs: number): Map<number, SourceBatch[]> {
  const out = new Map<number, SourceBatch[]>();
  for (const [shard, batches] of sources)
    out.set(
      shard,
      batches.filter((b) => b.events.length === 0 || b.events[0].timeMs < untilMs),
    );
  return out;
}

function addressText(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

export default async function bench(): Promise<void> {
  const endMs = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  const dayStartMs = endMs - 24 * HOUR;
  const format1Hours = Number(process.env.FORMAT1_HOURS ?? 3);
  const t0 = performance.now();
  const { sources, leases } = generateDay(endMs);
  const events = [...sources.values()].reduce((n, b) => n + b.reduce((m, x) => m + x.events.length, 0), 0);
  console.log(
    `generated a day: ${fmt(SUBSCRIBERS)} subscribers, ${ADDRESSES} addresses, ${fmt(leases.length)} leases, ${fmt(events)} events (${fmt(performance.now() - t0)} ms)`,
  );

  // Derivation alone.
  const deriverOptions = { ...defaultDeriverOptions, blockSizePorts: BLOCK };
  const deriver = new ComplianceDeriver(deriverOptions);
  // Records are counted and dropped batch by batch: keeping a day of them (~2 M objects) would
  // measure the garbage collector, not the outbox.
  const scratch: ComplianceRecord[] = [];
  const baselineRecords: ComplianceRecord[] = [];
  let derivedCount = 0;
  let started = performance.now();
  for (const [shard, batches] of sources)
    for (const b of batches) {
      deriver.derive(shard, b.sequence, b.events, scratch);
      derivedCount += scratch.length;
      for (const r of scratch) if (baselineRecords.length < 100_000) baselineRecords.push(r);
      scratch.length = 0;
    }
  const deriveSeconds = (performance.now() - started) / 1000;

  const broker = await startKafka();
  const dir = mkdtempSync(join(tmpdir(), 'xlat64-compliance-bench-'));
  try {
    await waitForKafka(broker.bootstrap, { dir: broker.dir, pid: broker.pid });
    const kafka = createKafka({ brokers: [broker.bootstrap] });

    // Client ceiling for format 1: kafkajs alone, the same records pre-encoded one per message,
    // partition = address mod 64, 5000 per send.
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 'baseline',
          numPartitions: 64,
          configEntries: [{ name: 'max.message.bytes', value: String(8 << 20) }],
        },
      ],
      waitForLeaders: true,
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const baselineCount = baselineRecords.length;
    const encoded = baselineRecords.splice(0).map((r) => ({
      key: r.address,
      value: JSON.stringify(r),
      partition: partitionOf(r.address, 64),
      timestamp: String(r.atMs),
      headers: { id: r.id },
    }));
    started = performance.now();
    for (let i = 0; i < encoded.length; i += 5000)
      await producer.send({ topic: 'baseline', acks: -1, messages: encoded.slice(i, i + 5000) });
    const baselineSeconds = (performance.now() - started) / 1000;
    await producer.disconnect();

    const optionsFor = (
      topic: string,
      overrides: Partial<ComplianceOutboxOptions>,
    ): ComplianceOutboxOptions => ({
      ...defaultOutboxOptions,
      kafka: { brokers: [broker.bootstrap] },
      topic,
      checkpointPath: join(dir, `${topic}.json`),
      deriver: deriverOptions,
      ...overrides,
    });
    // Format 1 with the settings of the build before packing (5000 records per send, 32 batches per
    // shard per round).
    const format1 = { format: 'single', recordsPerSendMax: 5000, batchesPerRoundMax: 32 } as const;
    const runOutbox = async (
      topic: string,
      source: Map<number, SourceBatch[]>,
      overrides: Partial<ComplianceOutboxOptions>,
    ) => {
      const options = optionsFor(topic, overrides);
      const outbox = new ComplianceOutbox(arraySource(source), options);
      const began = performance.now();
      await outbox.start();
      await outbox.drain(3_600_000);
      const seconds = (performance.now() - began) / 1000;
      const produced = outbox.status().producedRecords;
      await outbox.stop();
      return { options, produced, seconds, rate: produced / seconds };
    };
    const firstHours = until(sources, dayStartMs + format1Hours * HOUR);
    const single = await runOutbox('compliance-format1', firstHours, format1);
    const packedPart = await runOutbox('compliance-packed-part', firstHours, { compression: 'none' });
    const gzipPart = await runOutbox('compliance-packed-gzip', firstHours, {});
    const packed = await runOutbox(defaultOutboxOptions.topic, sources, {});
    const baselineRate = baselineCount / baselineSeconds;

    console.log(`\n| outbox from a backlog, 64 partitions | records | records/s | vs format 1 |`);
    console.log('| --- | ---: | ---: | ---: |');
    console.log(
      `| derivation only (no Kafka) | ${fmt(derivedCount)} | ${fmt(derivedCount / deriveSeconds)} | |`,
    );
    console.log(
      `| kafkajs alone: pre-encoded format 1 messages, idempotent, acks=all (client ceiling) | ${fmt(baselineCount)} | ${fmt(baselineRate)} | ${(baselineRate / single.rate).toFixed(2)} |`,
    );
    for (const [name, run] of [
      [`format 1, one record per message (before; first ${format1Hours} h of the day)`, single],
      [`format 2, packed, no compression, first ${format1Hours} h`, packedPart],
      [`format 2, packed + gzip (default), first ${format1Hours} h`, gzipPart],
      ['format 2, packed + gzip (default), the whole day (target ≥ 50,000/s)', packed],
    ] as const) {
      console.log(
        `| outbox: derive + encode + send + checkpoint, ${name} | ${fmt(run.produced)} | ${fmt(run.rate)} | ${(run.rate / single.rate).toFixed(2)} |`,
      );
    }

    // End-to-end latency at a steady offered load: batch visible -> checkpointed after Kafka's ack.
    const latency = async (
      topic: string,
      eventsPerSecond: number,
      overrides: Partial<ComplianceOutboxOptions>,
    ) => {
      const live = liveSource(sources, eventsPerSecond, 8000);
      const outbox = new ComplianceOutbox(live.source, optionsFor(topic, overrides));
      await outbox.start();
      const samples: number[] = [];
      const next = new Map<number, number>();
      const shards = live.source.shards();
      const collect = (): void => {
        const now = performance.now();
        for (const shard of shards) {
          const committed = outbox.committed(shard);
          for (let sequence = (next.get(shard) ?? 0) + 1; sequence <= committed; sequence++) {
            const at = live.visibleAt.get(`${shard}:${sequence}`);
            if (at !== undefined) samples.push(now - at);
          }
          next.set(shard, committed);
        }
      };
      const poll = setInterval(collect, 2);
      while (!live.done()) await new Promise((r) => setTimeout(r, 50));
      live.stop();
      await outbox.drain(600_000);
      collect();
      clearInterval(poll);
      const produced = outbox.status().producedRecords;
      await outbox.stop();
      return { samples, produced };
    };
    const loads = [
      ['format 1', 2_000, format1, 'compliance-latency-format1'],
      ['format 2, packed + gzip (default)', 2_000, {}, 'compliance-latency-packed'],
      ['format 2, packed + gzip (default)', 20_000, {}, 'compliance-latency-packed-20k'],
    ] as const;
    console.log(
      '\n| end-to-end latency (batch in the log -> acknowledged and checkpointed), 8 s of load | events/s offered | batches | median ms | p99 ms | max ms |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [name, load, overrides, topic] of loads) {
      const { samples } = await latency(topic, load, overrides);
      console.log(
        `| ${name} | ${fmt(load)} | ${fmt(samples.length)} | ${fmt(median(samples))} | ${fmt(quantile(samples, 0.99))} | ${fmt(Math.max(...samples))} |`,
      );
    }

    // Lookups: random leases asked at a random moment inside them, with 2 s skew.
    const lookups = async (
      topic: string,
      queries: number,
      fromMs: number,
      toMs: number,
      wholePartitionQueries: number,
    ) => {
      let y = 99;
      const random = (): number => {
        y = (Math.imul(y, 1103515245) + 12345) >>> 0;
        return y / 2 ** 32;
      };
      const candidates = leases.filter(
        (l) => l.startMs >= fromMs && l.endMs <= toMs && l.endMs - l.startMs > 20_000,
      );
      const times: number[] = [];
      const fullTimes: number[] = [];
      let wrong = 0;
      let read = 0;
      for (let q = 0; q < queries; q++) {
        const lease = candidates[Math.floor(random() * candidates.length)];
        const atMs = Math.floor(lease.startMs + 5000 + random() * (lease.endMs - lease.startMs - 10_000));
        const address = addressText(lease.address);
        const port = lease.firstPort + Math.floor(random() * BLOCK);
        started = performance.now();
        const result = await lookupInKafka(
          { address, port, protocol: 'udp', atMs, skewMs: 2000 },
          { kafka: { brokers: [broker.bootstrap] }, topic, heldIntervalMs: deriverOptions.heldIntervalMs },
          kafka,
        );
        times.push(performance.now() - started);
        read += result.scanned.toOffset - result.scanned.fromOffset;
        const expected = formatPrefix([0x20010db8, (lease.subscriber << 8) >>> 0, 0, 0], 56);
        if (result.holders.length !== 1 || result.holders[0].subscriber !== expected) {
          wrong++;
          if (wrong <= 3)
            console.log(
              `wrong answer: ${address}:${port} at ${atMs} expected ${expected} [${lease.startMs}, ${lease.endMs}], got ${JSON.stringify(result.holders.map((h) => [h.subscriber, h.startMs, h.endMs]))}, scanned ${JSON.stringify(result.scanned)}`,
            );
        }
        if (q < wholePartitionQueries) {
          // Baseline: the whole partition of the address, decoded, as a lookup without the window would.
          const partition = partitionOf(address, 64);
          const offsets = await admin.fetchTopicOffsets(topic);
          const high = Number(offsets.find((o) => o.partition === partition)?.high ?? 0);
          started = performance.now();
          await scanPartition(kafka, topic, 64, partition, 0, high, (message) => {
            const key = message.key?.toString() ?? '';
            if (key === '' || key === address) decodeMessage(message.value?.toString() ?? '');
            return true;
          });
          fullTimes.push(performance.now() - started);
        }
      }
      return { times, fullTimes, wrong, read };
    };
    const partEndMs = dayStartMs + format1Hours * HOUR;
    const old = await lookups('compliance-format1', 20, dayStartMs, partEndMs, 0);
    const same = await lookups(defaultOutboxOptions.topic, 20, dayStartMs, partEndMs, 0);
    const day = await lookups(defaultOutboxOptions.topic, 30, dayStartMs, endMs, 5);
    await admin.disconnect();
    console.log(
      `\nlookup, ${fmt(SUBSCRIBERS)} subscribers, /22 pool, 64 partitions; answers wrong: ${old.wrong + same.wrong + day.wrong}`,
    );
    console.log('| lookup | queries | median ms | max ms | offsets read per query | vs format 1 |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    const base = median(old.times);
    console.log(
      `| format 1 topic (first ${format1Hours} h of the day, ${fmt(single.produced)} records) | ${old.times.length} | ${fmt(base)} | ${fmt(Math.max(...old.times))} | ${fmt(old.read / old.times.length)} | 1.00 |`,
    );
    console.log(
      `| format 2 topic (the whole day, ${fmt(packed.produced)} records), the same moments | ${same.times.length} | ${fmt(median(same.times))} | ${fmt(Math.max(...same.times))} | ${fmt(same.read / same.times.length)} | ${(median(same.times) / base).toFixed(2)} |`,
    );
    console.log(
      `| format 2 topic, moments over the whole day (target < 1 s) | ${day.times.length} | ${fmt(median(day.times))} | ${fmt(Math.max(...day.times))} | ${fmt(day.read / day.times.length)} | ${(median(day.times) / base).toFixed(2)} |`,
    );
    console.log(
      `| format 2 topic, reading the address's whole partition (no time window) | ${day.fullTimes.length} | ${fmt(median(day.fullTimes))} | ${fmt(Math.max(...day.fullTimes))} | | ${(median(day.fullTimes) / base).toFixed(2)} |`,
    );
  } finally {
    await stopKafka(broker);
    removeKafkaDir(broker);
    rmSync(dir, { recursive: true, force: true });
  }
}
