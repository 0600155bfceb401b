// The compliance outbox (DESIGN.md "Event sourcing"): forwards records derived from the event log
// to a Kafka topic keyed by external address, so Kafka being down delays records and loses none.
// Exactly one record per id in the topic: after every acknowledged send the outbox stores, durably,
// the event-log position of each shard and the end offset of each partition it wrote. After a restart
// or a failed send it reads the topic from those offsets to the current end, and drops the derived
// records whose ids are already there (ids are deterministic: shard/epoch/sequence/index). Each
// reconnect uses a new idempotent producer, so a resend never reuses an old producer's sequence numbers.
import assert from 'node:assert/strict';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import kafkajs, { type Admin, type Kafka, type Producer } from 'kafkajs';
import type { NatEngineConfigInput } from '../../../nat-engine/src/index.js';
import { StateError } from '../errors.js';
import { createKafka, ensureTopic, type KafkaConnection, partitionEnds, scanPartition } from './kafka.js';
import { type ComplianceMessageFormat, decodeMessage, encodeMessages } from './message-format.js';
import { ComplianceDeriver, type ComplianceRecord, type DeriverOptions } from './records.js';
import { recordConfiguration } from './rfc7422.js';
import type { ComplianceEventSource, SourceBatch, SourceStatus } from './source.js';

export interface ComplianceOutboxOptions {
  kafka: KafkaConnection;
  topic: string;
  /** Partitions when the outbox creates the topic (an existing topic keeps its own). */
  partitions: number;
  /** Topic `retention.ms` when the outbox creates it; -1 keeps records forever. */
  retentionMs: number;
  /** File holding the committed position (written atomically after every acknowledged send). */
  checkpointPath: string;
  /**
   * Where the committed position is kept instead of `checkpointPath` (cluster mode: per shard in NATS
   * KV, so the node that takes a shard over resumes where the previous owner's outbox stopped).
   */
  checkpointStore?: CheckpointStore;
  deriver: DeriverOptions;
  /** Event-log batches read per shard per round. */
  batchesPerRoundMax: number;
  /** Records per Kafka send (one request; bounded by the topic's max.message.bytes per partition). */
  recordsPerSendMax: number;
  /** Message format written (message-format.ts): `packed` (format 2, default) or `single` (format 1). */
  format: ComplianceMessageFormat;
  /** Records per packed message (one address's records; ~400 bytes each as JSON). */
  recordsPerPackMax: number;
  /** Producer compression: `gzip` (default; the codec kafkajs has built in) or `none`. */
  compression: 'none' | 'gzip';
  /** Idle wait when the outbox has caught up. */
  pollIntervalMs: number;
  /** Wait between attempts while Kafka is unreachable. */
  retryIntervalMs: number;
  /**
   * The NAT configuration in effect from `fromMs`: logged once (when it differs from the latest
   * logged one) to `<topic>-config`, the history RFC 7422 deterministic lookups are computed from.
   */
  configuration?: { nat: NatEngineConfigInput; fromMs: number };
}

export const defaultOutboxOptions = {
  topic: 'xlat64-compliance',
  partitions: 64,
  retentionMs: -1,
  batchesPerRoundMax: 2048,
  recordsPerSendMax: 50_000,
  format: 'packed',
  recordsPerPackMax: 256,
  compression: 'gzip',
  pollIntervalMs: 200,
  retryIntervalMs: 1000,
} as const;

export interface Checkpoint {
  version: 1;
  topic: string;
  /** Last event-log sequence whose records are all in the topic, per shard. */
  positions: Record<string, number>;
  /** Offset after the last record this outbox wrote, per partition. */
  partitionEnds: number[];
}

/** A place for the committed position other than the local file (read at start, written after every send). */
export interface CheckpointStore {
  read(topic: string): Promise<Checkpoint>;
  write(checkpoint: Checkpoint): Promise<void>;
}

export type OutboxState = 'starting' | 'running' | 'waiting-for-kafka' | 'stopped';

export interface OutboxStatus {
  state: OutboxState;
  /** Event-log batches not yet in Kafka, summed over shards (the outbox's lag; alert when it grows). */
  lagBatches: number;
  /** Records derived and waiting for Kafka's acknowledgement. */
  pendingRecords: number;
  /** Event time of the oldest of them (null when none wait): its age is the outbox's delay. */
  oldestPendingAtMs: number | null;
  producedRecords: number;
  /** Records found in the topic already (after a restart or a failed send) and not sent again. */
  duplicatesSkipped: number;
  /** Batches the event log dropped (retention) before the outbox could forward them. */
  lostBatches: number;
  lastError: string | null;
  /** What the event source could not decode (null when the source does not report it). */
  source: SourceStatus | null;
}

interface Pending {
  records: ComplianceRecord[];
  positions: Record<string, number>;
  /** The smallest atMs of `records` (null when empty). */
  oldestAtMs: number | null;
}

export class ComplianceOutbox {
  private readonly deriver: ComplianceDeriver;
  private checkpoint: Checkpoint;
  private kafka: Kafka | null = null;
  private admin: Admin | null = null;
  private producer: Producer | null = null;
  private partitions = 0;
  private pending: Pending | null = null;
  /** Ids found in the topic beyond the checkpoint; cleared once the outbox has caught up. */
  private seenIds = new Set<string>();
  private stopping = false;
  private configurationLogged = false;
  private loopDone: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly statusValue: OutboxStatus = {
    state: 'starting',
    lagBatches: 0,
    pendingRecords: 0,
    oldestPendingAtMs: null,
    producedRecords: 0,
    duplicatesSkipped: 0,
    lostBatches: 0,
    lastError: null,
    source: null,
  };

  constructor(
    private readonly source: ComplianceEventSource,
    private readonly options: ComplianceOutboxOptions,
  ) {
    assert.ok(options.partitions > 0 && options.recordsPerSendMax > 0 && options.batchesPerRoundMax > 0);
    assert.ok(options.recordsPerPackMax > 0);
    if (options.topic.length === 0 || !/^[a-zA-Z0-9._-]+$/.test(options.topic)) {
      throw new StateError(
        'XLAT64_ERR_COMPLIANCE_CONFIG',
        `compliance.topic: '${options.topic}' is not a Kafka topic name; use letters, digits, '.', '_' and '-'`,
      );
    }
    this.deriver = new ComplianceDeriver(options.deriver);
    this.checkpoint =
      options.checkpointStore === undefined
        ? readCheckpoint(options.checkpointPath, options.topic)
        : { version: 1, topic: options.topic, positions: {}, partitionEnds: [] };
  }

  status(): OutboxStatus {
    return {
      ...this.statusValue,
      pendingRecords: this.pending?.records.length ?? 0,
      oldestPendingAtMs: this.pending?.oldestAtMs ?? null,
      source: this.source.status?.() ?? null,
    };
  }

  /** The last event-log sequence of `shard` whose records Kafka has acknowledged (0 before any). */
  committed(shard: number): number {
    return this.checkpoint.positions[shard] ?? 0;
  }

  /** Rebuilds the deriver's open intervals up to the committed position, then forwards in the background. */
  async start(): Promise<void> {
    assert.ok(this.loopDone === null, 'started once');
    if (this.options.checkpointStore !== undefined)
      this.checkpoint = await this.options.checkpointStore.read(this.options.topic);
    for (const shard of this.source.shards()) {
      const position = this.checkpoint.positions[shard] ?? 0;
      // Batches compacted away before the committed position cannot be replayed: the deriver starts
      // from the first retained one (open intervals older than that are unknown, as after a loss).
      let after = Math.min(position, Math.max(0, (await this.source.firstSequence(shard)) - 1));
      const scratch: ComplianceRecord[] = [];
      while (after < position) {
        const batches = await this.source.read(
          shard,
          after,
          Math.min(this.options.batchesPerRoundMax, position - after),
        );
        // Compacted meanwhile, or a payload this build cannot read: rebuild from what was readable.
        if (batches.length === 0) break;
        for (const batch of batches) {
          this.deriver.derive(shard, batch.sequence, batch.events, scratch);
          after = batch.sequence;
        }
        scratch.length = 0;
      }
    }
    await this.updateLag();
    this.loopDone = this.loop();
  }

  /** Resolves when every batch in the source at call time is in Kafka (tests, orderly shutdown). */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const targets = new Map<number, number>();
    for (const shard of this.source.shards()) targets.set(shard, await this.source.lastSequence(shard));
    for (;;) {
      let done = true;
      for (const [shard, target] of targets)
        if ((this.checkpoint.positions[shard] ?? 0) < target) done = false;
      if (done) return;
      if (Date.now() > deadline) {
        throw new Error(
          `compliance outbox: not drained after ${timeoutMs} ms (${JSON.stringify(this.status())})`,
        );
      }
      this.wake?.();
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loopDone;
    await this.disconnect();
    this.statusValue.state = 'stopped';
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let produced = 0;
      try {
        if (this.producer === null) await this.connect();
        produced = await this.round();
        this.statusValue.state = 'running';
        this.statusValue.lastError = null;
      } catch (error) {
        this.statusValue.state = 'waiting-for-kafka';
        this.statusValue.lastError = (error as Error).message;
        await this.disconnect();
        await this.updateLag();
        await this.pause(this.options.retryIntervalMs);
        continue;
      }
      await this.updateLag();
      if (produced === 0) await this.pause(this.options.pollIntervalMs);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  private async connect(): Promise<void> {
    const kafka = createKafka(this.options.kafka);
    this.kafka = kafka;
    const admin = kafka.admin();
    this.admin = admin;
    await admin.connect();
    this.partitions = await ensureTopic(admin, this.options);
    if (this.options.configuration !== undefined && !this.configurationLogged) {
      const { nat, fromMs } = this.options.configuration;
      await recordConfiguration(kafka, admin, this.options.topic, nat, fromMs);
      this.configurationLogged = true;
    }
    // What reached the topic after the last checkpoint (a crash after the ack, or a send that failed
    // after part of it was written) is read back, so those records are not written twice.
    const ends = await partitionEnds(admin, this.options.topic);
    for (let p = 0; p < this.partitions; p++) {
      const from = this.checkpoint.partitionEnds[p] ?? 0;
      await scanPartition(kafka, this.options.topic, this.partitions, p, from, ends[p] ?? 0, (message) => {
        const records = message.value === null ? null : decodeMessage(message.value.toString());
        if (records !== null) for (const record of records) this.seenIds.add(record.id);
        return true;
      });
      this.checkpoint.partitionEnds[p] = Math.max(from, ends[p] ?? 0);
    }
    if (this.pending !== null) this.pending.records = this.withoutSeen(this.pending.records);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 2 } });
    await producer.connect();
    this.producer = producer;
  }

  private async disconnect(): Promise<void> {
    const { producer, admin } = this;
    this.producer = null;
    this.admin = null;
    this.kafka = null;
    await producer?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
  }

  private withoutSeen(records: ComplianceRecord[]): ComplianceRecord[] {
    if (this.seenIds.size === 0) return records;
    const kept = records.filter((r) => !this.seenIds.has(r.id));
    this.statusValue.duplicatesSkipped += records.length - kept.length;
    return kept;
  }

  /** Derives one round of records (unless a failed round is pending), sends them, commits. */
  private async round(): Promise<number> {
    if (this.pending === null) {
      const records: ComplianceRecord[] = [];
      const positions = { ...this.checkpoint.positions };
      let read = 0;
      // Shards are merged by event time (the batch whose first event is oldest goes first), so a
      // partition's records stay close to time order also while a backlog drains after an outage:
      // the lookup's scan window relies on it (lookup.ts).
      const heads = new Map<number, SourceBatch[]>();
      for (const shard of this.source.shards()) {
        let position = positions[shard] ?? 0;
        const first = await this.source.firstSequence(shard);
        if (position < first - 1) {
          // The log's retention dropped batches the outbox never forwarded: counted, and the
          // status says so; the open intervals of that stretch are unknown to the deriver.
          this.statusValue.lostBatches += first - 1 - position;
          position = first - 1;
          positions[shard] = position;
        }
        const batches = await this.source.read(shard, position, this.options.batchesPerRoundMax);
        if (batches.length > 0) heads.set(shard, [...batches].reverse());
      }
      while (records.length < this.options.recordsPerSendMax && heads.size > 0) {
        let oldestShard = -1;
        let oldestMs = Number.POSITIVE_INFINITY;
        for (const [shard, stack] of heads) {
          const batch = stack[stack.length - 1];
          const timeMs = batch.events.length > 0 ? batch.events[0].timeMs : Number.NEGATIVE_INFINITY;
          if (timeMs < oldestMs || oldestShard === -1) {
            oldestMs = timeMs;
            oldestShard = shard;
          }
        }
        const stack = heads.get(oldestShard) as SourceBatch[];
        const batch = stack.pop() as SourceBatch;
        if (stack.length === 0) heads.delete(oldestShard);
        this.deriver.derive(oldestShard, batch.sequence, batch.events, records);
        positions[oldestShard] = batch.sequence;
        read++;
      }
      if (read === 0) {
        this.seenIds.clear();
        return 0;
      }
      const kept = this.withoutSeen(records);
      let oldestAtMs: number | null = null;
      for (const r of kept) if (oldestAtMs === null || r.atMs < oldestAtMs) oldestAtMs = r.atMs;
      this.pending = { records: kept, positions, oldestAtMs };
    }
    const { records, positions } = this.pending;
    const ends = [...this.checkpoint.partitionEnds];
    if (records.length > 0) {
      assert.ok(this.producer !== null);
      const counts: number[] = [];
      const messages = encodeMessages(
        records,
        this.partitions,
        this.options.format,
        this.options.recordsPerPackMax,
        counts,
      );
      const results = await this.producer.send({
        topic: this.options.topic,
        acks: -1,
        messages,
        compression:
          this.options.compression === 'gzip' ? kafkajs.CompressionTypes.GZIP : kafkajs.CompressionTypes.None,
      });
      for (const result of results) {
        ends[result.partition] = Number(result.baseOffset) + counts[result.partition];
      }
    }
    this.checkpoint = { ...this.checkpoint, positions, partitionEnds: ends };
    if (this.options.checkpointStore === undefined)
      writeCheckpoint(this.options.checkpointPath, this.checkpoint);
    else await this.options.checkpointStore.write(this.checkpoint);
    this.pending = null;
    this.statusValue.producedRecords += records.length;
    return records.length;
  }

  private async updateLag(): Promise<void> {
    let lag = 0;
    for (const shard of this.source.shards()) {
      lag += (await this.source.lastSequence(shard)) - (this.checkpoint.positions[shard] ?? 0);
    }
    this.statusValue.lagBatches = lag;
  }
}

function readCheckpoint(path: string, topic: string): Checkpoint {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { version: 1, topic, positions: {}, partitionEnds: [] };
    }
    throw new StateError(
      'XLAT64_ERR_COMPLIANCE_CHECKPOINT',
      `cannot read the compliance checkpoint ${path}: ${(error as NodeJS.ErrnoException).code}`,
      { cause: error },
    );
  }
  const value = JSON.parse(text) as Checkpoint;
  if (value.version !== 1 || value.topic !== topic) {
    throw new StateError(
      'XLAT64_ERR_COMPLIANCE_CHECKPOINT',
      `the compliance checkpoint ${path} is for topic '${value.topic}' (version ${value.version}), not '${topic}'; ` +
        'point compliance.checkpointPath at a new file when changing the topic',
    );
  }
  return value;
}

function writeCheckpoint(path: string, checkpoint: Checkpoint): void {
  const temporary = `${path}.tmp`;
  try {
    const fd = openSync(temporary, 'w');
    writeSync(fd, JSON.stringify(checkpoint));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, path);
  } catch (error) {
    throw new StateError(
      'XLAT64_ERR_COMPLIANCE_CHECKPOINT',
      `cannot write the compliance checkpoint ${path}: ${(error as NodeJS.ErrnoException).code}`,
      { cause: error },
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
