// Compliance log on a real Kafka broker (started here by infra/kafka/start-kafka.sh, stopped at the end):
//   1. records/s the outbox produces (derive + encode + idempotent send with acks=all + checkpoint),
//      next to kafkajs sending the same encoded records with nothing else (the client's own ceiling),
//      and the derivation alone (no Kafka), all in this run;
//   2. lookup latency over a day of records for a /22 pool (1024 addresses) and 100,000 subscribers,
//      next to reading the address's whole partition (what a lookup without block-held records and
//      the timestamp index would cost). Every lookup's answer is checked against the generated leases.
// Events are generated in the engine's schema (BlockLeased/BlockReleased) rather than by simulating
// 100,000 subscribers through the engine for a day, which would take longer than the bench itself.

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
  type ComplianceRecord,
  createKafka,
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

export default async function bench(): Promise<void> {
  const endMs = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
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

    // Baseline: kafkajs alone, the same encoded records, same partitioning, 5000 per send.
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 'baseline',
          numPartitions: 8,
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
      partition: partitionOf(r.address, 8),
      timestamp: String(r.atMs),
      headers: { id: r.id },
    }));
    started = performance.now();
    for (let i = 0; i < encoded.length; i += 5000)
      await producer.send({ topic: 'baseline', acks: -1, messages: encoded.slice(i, i + 5000) });
    const baselineSeconds = (performance.now() - started) / 1000;
    await producer.disconnect();

    // The outbox: a day of events into a compliance topic, with the partition count before this
    // session's change (8) and the current default (address mod 64), same run, same events.
    const runOutbox = async (topic: string, partitions: number) => {
      const options = {
        ...defaultOutboxOptions,
        kafka: { brokers: [broker.bootstrap] },
        topic,
        partitions,
        checkpointPath: join(dir, `${topic}.json`),
        deriver: deriverOptions,
      };
      const outbox = new ComplianceOutbox(arraySource(sources), options);
      const began = performance.now();
      await outbox.start();
      await outbox.drain(1_800_000);
      const seconds = (performance.now() - began) / 1000;
      const produced = outbox.status().producedRecords;
      await outbox.stop();
      return { options, produced, seconds };
    };
    const before = await runOutbox('compliance-8', 8);
    const after = await runOutbox(defaultOutboxOptions.topic, defaultOutboxOptions.partitions);
    const baselineRate = baselineCount / baselineSeconds;
    const produced = after.produced;

    console.log('\n| path | records | records/s | vs kafkajs alone |');
    console.log('| --- | ---: | ---: | ---: |');
    console.log(
      `| derivation only (no Kafka) | ${fmt(derivedCount)} | ${fmt(derivedCount / deriveSeconds)} | |`,
    );
    console.log(
      `| kafkajs alone: pre-encoded, idempotent, acks=all, 8 partitions (baseline) | ${fmt(baselineCount)} | ${fmt(baselineRate)} | 1.00 |`,
    );
    for (const [name, run] of [
      ['8 partitions (before)', before],
      [`${defaultOutboxOptions.partitions} partitions (default; target ≥ 50,000/s)`, after],
    ] as const) {
      console.log(
        `| outbox: derive + encode + send + checkpoint, ${name} | ${fmt(run.produced)} | ${fmt(run.produced / run.seconds)} | ${(run.produced / run.seconds / baselineRate).toFixed(2)} |`,
      );
    }

    // Lookups: 30 random leases, asked at a random moment inside them, with 2 s skew, on each topic.
    const lookups = async (topic: string, partitions: number, baselineQueries: number) => {
      let y = 99;
      const random = (): number => {
        y = (Math.imul(y, 1103515245) + 12345) >>> 0;
        return y / 2 ** 32;
      };
      const times: number[] = [];
      const fullTimes: number[] = [];
      let wrong = 0;
      let records = 0;
      for (let q = 0; q < 30; q++) {
        const lease = leases[Math.floor(random() * leases.length)];
        const atMs = Math.floor(lease.startMs + 5000 + random() * (lease.endMs - lease.startMs - 10_000));
        const address = `${lease.address >>> 24}.${(lease.address >>> 16) & 255}.${(lease.address >>> 8) & 255}.${lease.address & 255}`;
        const port = lease.firstPort + Math.floor(random() * BLOCK);
        started = performance.now();
        const result = await lookupInKafka(
          { address, port, protocol: 'udp', atMs, skewMs: 2000 },
          { kafka: after.options.kafka, topic, heldIntervalMs: deriverOptions.heldIntervalMs },
          kafka,
        );
        times.push(performance.now() - started);
        records += result.scanned.toOffset - result.scanned.fromOffset;
        const expected = formatPrefix([0x20010db8, (lease.subscriber << 8) >>> 0, 0, 0], 56);
        if (result.holders.length !== 1 || result.holders[0].subscriber !== expected) {
          wrong++;
          if (wrong <= 3)
            console.log(
              `wrong answer: ${address}:${port} at ${atMs} expected ${expected} [${lease.startMs}, ${lease.endMs}], got ${JSON.stringify(result.holders.map((h) => [h.subscriber, h.startMs, h.endMs]))}, scanned ${JSON.stringify(result.scanned)}`,
            );
        }
        if (q < baselineQueries) {
          // Baseline: the whole partition of the address, decoded, as a lookup without the window would.
          const partition = partitionOf(address, partitions);
          const offsets = await admin.fetchTopicOffsets(topic);
          const high = Number(offsets.find((o) => o.partition === partition)?.high ?? 0);
          started = performance.now();
          await scanPartition(kafka, topic, partitions, partition, 0, high, (message) => {
            if (message.key?.toString() === address) JSON.parse(message.value?.toString() ?? 'null');
            return true;
          });
          fullTimes.push(performance.now() - started);
        }
      }
      return { times, fullTimes, wrong, records };
    };
    const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
    const old = await lookups('compliance-8', 8, 5);
    const now = await lookups(defaultOutboxOptions.topic, defaultOutboxOptions.partitions, 0);
    await admin.disconnect();
    console.log(
      `\nlookup over a day (${fmt(produced)} records), 30 queries per topic, answers wrong: ${old.wrong} (8 partitions), ${now.wrong} (${defaultOutboxOptions.partitions})`,
    );
    console.log('| lookup | median ms | max ms | offsets read per query | vs whole partition |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    console.log(
      `| whole partition of the address, 8 partitions (baseline, 5 queries) | ${fmt(median(old.fullTimes))} | ${fmt(Math.max(...old.fullTimes))} | ${fmt(produced / 8)} | 1.00 |`,
    );
    for (const [name, run] of [
      ['8 partitions (before)', old],
      [`${defaultOutboxOptions.partitions} partitions (default; target < 1 s)`, now],
    ] as const) {
      console.log(
        `| lookupInKafka: timestamp index + block-held window, ${name} | ${fmt(median(run.times))} | ${fmt(Math.max(...run.times))} | ${fmt(run.records / run.times.length)} | ${(median(run.times) / median(old.fullTimes)).toFixed(3)} |`,
      );
    }
  } finally {
    await stopKafka(broker);
    removeKafkaDir(broker);
    rmSync(dir, { recursive: true, force: true });
  }
}
