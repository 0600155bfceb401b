// Shared pieces of the compliance suites: the run's Kafka broker (started by infra/kafka/global-setup.ts),
// and a driver that makes flows through the real NAT engine and appends its events, encoded with the
// NAT event codec, to a real embedded event log, one batch per step (shard 0, epoch 0 as in
// embedded mode, sequence from 1).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { type KafkaBroker, waitForKafka } from '../../infra/kafka/broker.js';
import {
  ArrayEventSink,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  EngineVerdict,
  encodeNatEventBatch,
  formatIpv4,
  type NatEngine,
  type NatEngineConfigInput,
  type NatEvent,
  Protocol,
  parseIpv4,
  parseIpv6,
} from '../../services/nat-engine/src/index.js';
import {
  ComplianceDeriver,
  type ComplianceRecord,
  createKafka,
  type DeriverOptions,
  decodeMessage,
  defaultDeriverOptions,
  EmbeddedEventLog,
  type EventLog,
  eventLogSource,
  type SourceBatch,
  scanPartition,
  topicPartitions,
} from '../../services/state/src/index.js';

/** The run's broker, once it answers clients. */
export async function kafkaForTests(): Promise<KafkaBroker> {
  const broker = inject('kafkaBroker');
  await waitForKafka(broker.bootstrap, { dir: broker.dir, pid: broker.pid });
  return broker;
}

let topicCounter = 0;
export function uniqueTopic(name: string): string {
  return `${name}-${process.pid}-${Date.now()}-${topicCounter++}`;
}

export function temporaryDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'xlat64-compliance-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Two hours ago, on a whole hour: record times lie in the past, as Kafka's timestamp checks expect. */
export function baseTimeMs(): number {
  return Math.floor((Date.now() - 2 * 3_600_000) / 3_600_000) * 3_600_000;
}

export interface FlowResult {
  address: string;
  port: number;
}

/** The NAT engine and an event log: every step's events become one batch of shard 0. */
export class EngineDriver<L extends EventLog = EmbeddedEventLog> {
  readonly engine: NatEngine;
  readonly events: NatEvent[] = [];
  nowMs: number;
  private readonly sink = new ArrayEventSink();
  private readonly key = createFlowKey6();
  private sequence = 0;
  private appends: Promise<unknown>[] = [];

  /** Opens the embedded log in `logDir` and starts the engine at `startMs`. */
  static async open(
    logDir: string,
    startMs: number,
    config: Partial<NatEngineConfigInput> = {},
    seed = 7,
  ): Promise<EngineDriver<EmbeddedEventLog>> {
    return new EngineDriver(await EmbeddedEventLog.open(logDir), startMs, config, seed);
  }

  /**
   * The engine writing to `log` (e.g. the cluster state's JetStream log) as `shard`, under `epoch`
   * (raise `epoch` to write as a new owner after a takeover, as the cluster store does).
   */
  static over<T extends EventLog>(
    log: T,
    startMs: number,
    shard: number,
    epoch: number,
    config: Partial<NatEngineConfigInput> = {},
    seed = 7,
  ): EngineDriver<T> {
    const driver = new EngineDriver(log, startMs, config, seed);
    driver.shard = shard;
    driver.epoch = epoch;
    return driver;
  }

  shard = 0;
  /** Owner epoch of the batches appended from now on. */
  epoch = 0;

  private constructor(
    readonly log: L,
    startMs: number,
    config: Partial<NatEngineConfigInput>,
    seed: number,
  ) {
    this.nowMs = startMs;
    this.engine = createNatEngine(
      {
        pool: ['203.0.113.0/30'],
        blockSizePorts: 512,
        sessionsMax: 8192,
        subscribersMax: 1024,
        ...config,
      },
      { sink: this.sink, random: createSeededRandom(seed), startMs },
    );
    this.engine.start(startMs);
  }

  /** One outbound UDP (or TCP SYN) flow from `source`:`sourcePort` at the current time; returns its mapping. */
  flow(
    source: string,
    sourcePort: number,
    protocol: 'udp' | 'tcp' = 'udp',
    remote = '198.51.100.1',
    remotePort = 53,
  ): FlowResult {
    const key = this.key;
    key.protocol = protocol === 'udp' ? Protocol.Udp : Protocol.Tcp;
    if (!parseIpv6(source, key.src6)) throw new Error(`bad IPv6 ${source}`);
    key.srcPort = sourcePort;
    key.dst4 = parseIpv4(remote);
    key.dstPort = remotePort;
    key.tcpFlags = protocol === 'tcp' ? 0x02 : 0;
    key.icmpError = false;
    const verdict = this.engine.outbound6(key, this.nowMs);
    if (verdict !== EngineVerdict.Translate)
      throw new Error(`flow ${source}:${sourcePort} not translated (${verdict})`);
    const result = { address: formatIpv4(this.engine.result.v4Src), port: this.engine.result.v4SrcPort };
    this.commit();
    return result;
  }

  /** Moves the clock in 10 s steps as the PLAT's timer does (sessions expire, idle blocks are released). */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    while (this.nowMs < end) {
      this.nowMs = Math.min(end, this.nowMs + 10_000);
      this.engine.advance(this.nowMs);
      this.engine.flush(this.nowMs);
      this.commit();
    }
  }

  private commit(): void {
    if (this.sink.events.length === 0) return;
    const batch = this.sink.events.splice(0);
    this.events.push(...batch);
    const payload = encodeNatEventBatch(batch);
    this.sequence++;
    // The log acknowledges asynchronously and in order; `settle()` waits for every ack (and rethrows).
    this.appends.push(
      this.log.append({
        shard: this.shard,
        epoch: this.epoch,
        sequence: this.sequence,
        eventCount: batch.length,
        payload,
      }),
    );
  }

  /** Resolves once every batch appended so far is durable in the log. */
  async settle(): Promise<void> {
    const appends = this.appends;
    this.appends = [];
    await Promise.all(appends);
  }

  /** The retained batches read back from the log and decoded, as the outbox's source returns them. */
  async batches(): Promise<SourceBatch[]> {
    await this.settle();
    const source = eventLogSource(this.log, [this.shard]);
    const out: SourceBatch[] = [];
    const after = (await source.firstSequence(this.shard)) - 1; // after a compaction: the retained batches
    for (;;) {
      const batches = await source.read(this.shard, out.at(-1)?.sequence ?? after, 1024);
      if (batches.length === 0) break;
      out.push(...batches);
    }
    const status = source.status?.();
    if (status !== undefined && status.lastRefusal !== null) throw new Error(status.lastRefusal);
    return out;
  }

  async stop(): Promise<void> {
    await this.settle().catch(() => undefined);
    await this.log.stop();
  }
}

export interface TopicRecord {
  partition: number;
  /** The message's offset (a pack's records share it). */
  offset: number;
  key: string;
  timestampMs: number;
  record: ComplianceRecord;
}

/** Every record in the topic, partition by partition, packs unpacked (timestampMs: the message's). */
export async function readTopic(bootstrap: string, topic: string): Promise<TopicRecord[]> {
  const kafka = createKafka({ brokers: [bootstrap], clientId: 'read-topic' });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const partitions = await topicPartitions(admin, topic);
    const offsets = await admin.fetchTopicOffsets(topic);
    const out: TopicRecord[] = [];
    for (const { partition, low, high } of offsets) {
      await scanPartition(
        kafka,
        topic,
        partitions,
        partition,
        Number(low),
        Number(high),
        (message, offset) => {
          const records = decodeMessage(message.value?.toString() ?? '');
          if (records === null || records.length === 0)
            throw new Error(`offset ${offset} of partition ${partition} is not a compliance message`);
          for (const record of records) {
            out.push({
              partition,
              offset,
              key: message.key?.toString() ?? '',
              timestampMs: Number(message.timestamp),
              record,
            });
          }
          return true;
        },
      );
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** The records the outbox must produce for the driver's log, derived independently here. */
export async function expectedRecords(
  driver: EngineDriver<EventLog>,
  options: Partial<DeriverOptions>,
): Promise<ComplianceRecord[]> {
  const deriver = new ComplianceDeriver({ ...defaultDeriverOptions, ...options });
  const out: ComplianceRecord[] = [];
  for (const batch of await driver.batches()) deriver.derive(driver.shard, batch.sequence, batch.events, out);
  return out;
}

/** Subscribers making and ending flows over `durationMs`: leases, releases and re-leases. */
export function churn(
  driver: EngineDriver<EventLog>,
  subscribers: number,
  durationMs: number,
  seed = 1,
): void {
  let x = seed;
  const random = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
  const end = driver.nowMs + durationMs;
  while (driver.nowMs < end) {
    for (let i = 0; i < subscribers; i++) {
      if (random() < 0.3)
        driver.flow(
          `2001:db8:${(i + 1).toString(16)}:${Math.floor(random() * 4)}::1`,
          1024 + Math.floor(random() * 60000),
          random() < 0.5 ? 'udp' : 'tcp',
        );
    }
    driver.advance(60_000);
  }
}
