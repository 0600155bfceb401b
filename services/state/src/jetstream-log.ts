// The NATS JetStream event log (DESIGN.md "Event sourcing"): one stream, one subject per shard
// (`xlat64.events.<shard>`), one message per batch. Every publish carries
// Nats-Expected-Last-Subject-Sequence (only the writer that saw the subject's last message can append:
// the fence) and Nats-Msg-Id = shard.epoch.sequence (a retried publish is answered `duplicate`, not
// stored twice). Snapshots go to the Object Store; storing one purges the shard's batches it covers.
// A batch appended inside a span carries its W3C trace context (traceparent) in the message headers,
// so the standby's apply on another node joins the same trace.
import assert from 'node:assert/strict';
import {
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
} from '@nats-io/jetstream';
import { type ObjectStore, Objm } from '@nats-io/obj';
import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import {
  annotateSpan,
  controlPlaneTracer,
  injectTraceContext,
  trace,
  traced,
} from '../../../libs/telemetry/src/index.js';
import { StateError } from './errors.js';
import {
  type AppendAck,
  batchMessageId,
  type EventBatch,
  type EventLog,
  type ShardSnapshot,
  type SnapshotStore,
} from './event-log.js';
import type { ReplicationMetricsSink } from './metrics-hooks.js';

export interface JetStreamLogOptions {
  /** Stream name (default XLAT64_EVENTS). */
  stream?: string;
  /** Subjects are `<subjectPrefix>.<shard>` (default xlat64.events). */
  subjectPrefix?: string;
  /** Stream replicas (1 for one server, 3 for a cluster). */
  replicas?: number;
  /** How long the server remembers Nats-Msg-Id values for dedupe (default 2 min): a retry must come within it. */
  duplicateWindowMs?: number;
  /** A publish not acknowledged within this is reported LOG_UNAVAILABLE (the batcher retries, dedupe keeps it once). */
  appendTimeoutMs?: number;
  /** Object Store bucket for snapshots (default xlat64-snapshots). */
  snapshotBucket?: string;
  /** Told each acknowledged append's time (the replication-lag metrics); none when absent. */
  metrics?: ReplicationMetricsSink;
}

const ERR_WRONG_LAST_SEQUENCE = 10071;
const HEADER_EPOCH = 'Xlat64-Epoch';
const HEADER_SEQUENCE = 'Xlat64-Sequence';
const HEADER_EVENTS = 'Xlat64-Events';

interface ShardCursor {
  /** Stream sequence of the subject's last message (0: none): the next publish's expected value. */
  lastStreamSequence: number;
  lastBatchSequence: number;
  lastEpoch: number;
  /** Appends and purges of one shard run one after another: each needs the previous one's stream sequence. */
  chain: Promise<unknown>;
}

export class JetStreamEventLog implements EventLog, SnapshotStore {
  readonly stream: string;
  readonly subjectPrefix: string;
  private readonly cursors = new Map<number, Promise<ShardCursor>>();
  /** Per shard, the last batch a read yielded and its stream sequence (where the next read may resume). */
  private readonly readPositions = new Map<number, { batch: number; streamSequence: number }>();
  private readonly appendTimeoutMs: number;
  private readonly metrics: ReplicationMetricsSink | undefined;
  private stopped = false;
  /** Appends refused because another writer appended first or a newer epoch holds the shard. */
  fencedAppends = 0;
  duplicateAppends = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly snapshots: ObjectStore,
    options: JetStreamLogOptions,
  ) {
    this.stream = options.stream ?? 'XLAT64_EVENTS';
    this.subjectPrefix = options.subjectPrefix ?? 'xlat64.events';
    this.appendTimeoutMs = options.appendTimeoutMs ?? 2000;
    this.metrics = options.metrics;
  }

  /** Creates (or updates) the stream and the snapshot bucket. */
  static async open(nc: NatsConnection, options: JetStreamLogOptions = {}): Promise<JetStreamEventLog> {
    const jsm = await jetstreamManager(nc);
    const stream = options.stream ?? 'XLAT64_EVENTS';
    const subjectPrefix = options.subjectPrefix ?? 'xlat64.events';
    const config = {
      name: stream,
      subjects: [`${subjectPrefix}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: options.replicas ?? 1,
      duplicate_window: (options.duplicateWindowMs ?? 120_000) * 1_000_000,
      max_msg_size: -1,
      allow_direct: true,
    };
    try {
      await jsm.streams.add(config);
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw unavailable('create the event stream', error);
      await jsm.streams.update(stream, config);
    }
    const snapshots = await new Objm(nc).create(options.snapshotBucket ?? 'xlat64-snapshots', {
      replicas: options.replicas ?? 1,
    });
    return new JetStreamEventLog(nc, jetstream(nc), jsm, snapshots, options);
  }

  subjectOf(shard: number): string {
    assert.ok(Number.isInteger(shard) && shard >= 0, 'shard is a non-negative integer');
    return `${this.subjectPrefix}.${shard}`;
  }

  append(batch: EventBatch): Promise<AppendAck> {
    if (this.stopped) return Promise.reject(stoppedError());
    assert.ok(batch.sequence >= 1 && batch.eventCount >= 0);
    const appended = this.inShardOrder(batch.shard, (cursor) => this.publish(cursor, batch));
    const metrics = this.metrics;
    if (metrics === undefined) return appended;
    const startedMs = performance.now();
    return appended.then((ack) => {
      metrics.appendAcked(batch.shard, performance.now() - startedMs, batch.eventCount);
      return ack;
    });
  }

  private async publish(cursor: ShardCursor, batch: EventBatch): Promise<AppendAck> {
    if (batch.epoch < cursor.lastEpoch) {
      this.fencedAppends++;
      throw new StateError(
        'XLAT64_ERR_FENCED',
        `shard ${batch.shard}: epoch ${batch.epoch} is older than epoch ${cursor.lastEpoch} in the log — this writer no longer owns the shard`,
      );
    }
    if (batch.sequence > cursor.lastBatchSequence + 1) {
      // An earlier batch of this writer is not stored (it failed): the batcher resends from it.
      throw new StateError(
        'XLAT64_ERR_LOG_UNAVAILABLE',
        `shard ${batch.shard}: batch ${batch.sequence} waits for batch ${cursor.lastBatchSequence + 1}`,
      );
    }
    const h = headers();
    h.set(HEADER_EPOCH, String(batch.epoch));
    h.set(HEADER_SEQUENCE, String(batch.sequence));
    h.set(HEADER_EVENTS, String(batch.eventCount));
    if (trace.getActiveSpan() !== undefined) injectTraceContext(h);
    try {
      const ack = await this.js.publish(this.subjectOf(batch.shard), batch.payload, {
        msgID: batchMessageId(batch),
        expect: { lastSubjectSequence: cursor.lastStreamSequence },
        headers: h,
        timeout: this.appendTimeoutMs,
      });
      if (ack.duplicate) {
        // Same identity already stored: a retry (same bytes) or another writer that claims the same
        // epoch and sequence (different bytes), which only a second owner of one epoch can do.
        const stored = await this.jsm.streams.getMessage(this.stream, { seq: ack.seq });
        if (stored === null || !sameBytes(stored.data, batch.payload)) {
          this.fencedAppends++;
          throw new StateError(
            'XLAT64_ERR_FENCED',
            `shard ${batch.shard}: batch ${batchMessageId(batch)} is already stored with other contents — another writer holds this epoch; stop serving the shard`,
          );
        }
        this.duplicateAppends++;
      }
      if (ack.seq > cursor.lastStreamSequence) {
        cursor.lastStreamSequence = ack.seq;
        cursor.lastBatchSequence = Math.max(cursor.lastBatchSequence, batch.sequence);
        cursor.lastEpoch = Math.max(cursor.lastEpoch, batch.epoch);
      }
      return {
        shard: batch.shard,
        epoch: batch.epoch,
        sequence: batch.sequence,
        position: ack.seq,
        duplicate: ack.duplicate,
      };
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === ERR_WRONG_LAST_SEQUENCE) {
        // Another writer appended to the subject: re-read its tail so this log's view is current.
        Object.assign(cursor, await this.readCursor(batch.shard), { chain: cursor.chain });
        this.fencedAppends++;
        throw new StateError(
          'XLAT64_ERR_FENCED',
          `shard ${batch.shard}: another writer appended (the log holds batch ${cursor.lastBatchSequence} of epoch ${cursor.lastEpoch}; this writer sent ${batch.sequence} of epoch ${batch.epoch}) — stop serving the shard`,
          { cause: error },
        );
      }
      throw unavailable(`append batch ${batchMessageId(batch)}`, error);
    }
  }

  async *read(shard: number, afterSequence: number): AsyncIterable<EventBatch> {
    if (this.stopped) throw stoppedError();
    const subject = this.subjectOf(shard);
    const last = await this.lastMessage(shard);
    if (last === null) return;
    const lastBatch = Number(last.header.get(HEADER_SEQUENCE));
    if (lastBatch <= afterSequence) return;
    // A read that continues where this instance's last read of the shard stopped starts at the next
    // stream sequence (a reader polling the tail, as the compliance outbox does, then reads only what
    // is new); any other starts at the subject's first retained message and skips up to afterSequence.
    const resume = this.readPositions.get(shard);
    const startAt = resume !== undefined && resume.batch === afterSequence ? resume.streamSequence + 1 : 0;
    let consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>>;
    try {
      consumer = await this.js.consumers.get(
        this.stream,
        startAt > 0
          ? { filter_subjects: subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startAt }
          : { filter_subjects: subject, deliver_policy: DeliverPolicy.All },
      );
    } catch (error) {
      throw unavailable(`read shard ${shard}`, error);
    }
    let expected = afterSequence + 1;
    let first = true;
    const messages = await consumer.consume({ max_messages: 256 });
    try {
      for await (const m of messages) {
        const sequence = Number(m.headers?.get(HEADER_SEQUENCE));
        if (sequence > afterSequence) {
          if (sequence !== expected) {
            const code = first ? 'XLAT64_ERR_LOG_COMPACTED' : 'XLAT64_ERR_LOG_CORRUPT';
            throw new StateError(
              code,
              first
                ? `shard ${shard}: batches up to ${sequence - 1} were compacted into a snapshot — restore the snapshot, then read after its sequence`
                : `shard ${shard}: batch ${expected} is missing (found ${sequence})`,
            );
          }
          first = false;
          expected++;
          const batch = this.batchOf(shard, m.headers, m.data);
          this.readPositions.set(shard, { batch: sequence, streamSequence: m.seq });
          yield batch;
        } else {
          first = false;
        }
        if (m.seq >= last.seq) break;
      }
    } finally {
      await messages.close();
    }
  }

  async lastSequence(shard: number): Promise<number> {
    return this.inShardOrder(shard, (cursor) => Promise.resolve(cursor.lastBatchSequence));
  }

  async lastEpoch(shard: number): Promise<number> {
    return this.inShardOrder(shard, (cursor) => Promise.resolve(cursor.lastEpoch));
  }

  /**
   * The shard's last batch sequence as the stream holds it now (0 when none), read from the server on
   * every call: for readers of a log that another instance writes (the compliance outbox), where the
   * cached cursor of `lastSequence` would stay where it was first read.
   */
  async tailSequence(shard: number): Promise<number> {
    if (this.stopped) throw stoppedError();
    const last = await this.lastMessage(shard);
    return last === null ? 0 : Number(last.header.get(HEADER_SEQUENCE));
  }

  /**
   * The batch sequence of the shard's first retained message (1 when the subject holds none): batches
   * below it were purged by a snapshot. Reads one message's headers (a direct get), not the snapshot.
   */
  async firstRetainedSequence(shard: number): Promise<number> {
    if (this.stopped) throw stoppedError();
    let first: StoredMsg | null;
    try {
      first = await this.jsm.direct.getMessage(this.stream, { seq: 1, next_by_subj: this.subjectOf(shard) });
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === 10037) return 1;
      throw unavailable(`read the head of shard ${shard}`, error);
    }
    return first === null ? 1 : Number(first.header.get(HEADER_SEQUENCE));
  }

  /** Forgets what this log instance cached of the shard's tail (a new owner re-reads it). */
  forget(shard: number): void {
    this.cursors.delete(shard);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.allSettled([...this.cursors.values()].map((c) => c.then((cursor) => cursor.chain)));
  }

  // ---- snapshots (Object Store) ----------------------------------------------------------------------

  /** Stores the snapshot, then purges the shard's batches with sequence <= snapshot.sequence. */
  put(snapshot: ShardSnapshot): Promise<void> {
    return traced(
      controlPlaneTracer(),
      'state.snapshot.store',
      {
        'xlat64.shard': snapshot.shard,
        'xlat64.snapshot.sequence': snapshot.sequence,
        'xlat64.snapshot.bytes': snapshot.payload.byteLength,
        'xlat64.state.backend': 'jetstream',
      },
      () => this.putSnapshot(snapshot),
    );
  }

  private async putSnapshot(snapshot: ShardSnapshot): Promise<void> {
    const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
    header.writeUInt32BE(SNAPSHOT_MAGIC, 0);
    header.writeUInt32BE(snapshot.shard, 4);
    header.writeUInt32BE(snapshot.epoch, 8);
    header.writeDoubleBE(snapshot.sequence, 12);
    header.writeDoubleBE(snapshot.timeMs, 20);
    const data = Buffer.concat([header, snapshot.payload]);
    try {
      await this.snapshots.putBlob({ name: `shard-${snapshot.shard}` }, data);
    } catch (error) {
      throw unavailable(`store the snapshot of shard ${snapshot.shard}`, error);
    }
    await this.inShardOrder(snapshot.shard, async (cursor) => {
      // The subject keeps at least its last batch even when the snapshot covers it: a writer's cursor
      // (the fence, `Nats-Expected-Last-Subject-Sequence`, and the next batch sequence) is read from it.
      const keep = Math.max(1, cursor.lastBatchSequence - snapshot.sequence);
      if (cursor.lastBatchSequence < snapshot.sequence) return;
      try {
        await this.jsm.streams.purge(this.stream, { filter: this.subjectOf(snapshot.shard), keep });
      } catch (error) {
        throw unavailable(`purge shard ${snapshot.shard}`, error);
      }
    });
  }

  latest(shard: number): Promise<ShardSnapshot | null> {
    return traced(
      controlPlaneTracer(),
      'state.snapshot.fetch',
      { 'xlat64.shard': shard, 'xlat64.state.backend': 'jetstream' },
      async () => {
        const snapshot = await this.latestSnapshot(shard);
        annotateSpan({ 'xlat64.snapshot.found': snapshot !== null });
        return snapshot;
      },
    );
  }

  private async latestSnapshot(shard: number): Promise<ShardSnapshot | null> {
    let data: Uint8Array | null;
    try {
      data = await this.snapshots.getBlob(`shard-${shard}`);
    } catch (error) {
      throw unavailable(`read the snapshot of shard ${shard}`, error);
    }
    if (data === null) return null;
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (
      b.byteLength < SNAPSHOT_HEADER_BYTES ||
      b.readUInt32BE(0) !== SNAPSHOT_MAGIC ||
      b.readUInt32BE(4) !== shard
    ) {
      throw new StateError(
        'XLAT64_ERR_LOG_CORRUPT',
        `the snapshot object of shard ${shard} has no valid header`,
      );
    }
    return {
      shard,
      epoch: b.readUInt32BE(8),
      sequence: b.readDoubleBE(12),
      timeMs: b.readDoubleBE(20),
      payload: b.subarray(SNAPSHOT_HEADER_BYTES),
    };
  }

  // ---- per-shard cursor ------------------------------------------------------------------------------

  private inShardOrder<R>(shard: number, work: (cursor: ShardCursor) => Promise<R>): Promise<R> {
    let cursorPromise = this.cursors.get(shard);
    if (cursorPromise === undefined) {
      cursorPromise = this.readCursor(shard);
      this.cursors.set(shard, cursorPromise);
      // A failed first read is not cached: the next call tries again.
      cursorPromise.catch(() => {
        if (this.cursors.get(shard) === cursorPromise) this.cursors.delete(shard);
      });
    }
    return cursorPromise.then((cursor) => {
      const result = cursor.chain.then(() => work(cursor));
      cursor.chain = result.catch(() => undefined);
      return result;
    });
  }

  private async readCursor(shard: number): Promise<ShardCursor> {
    const last = await this.lastMessage(shard);
    return {
      lastStreamSequence: last?.seq ?? 0,
      lastBatchSequence: last === null ? 0 : Number(last.header.get(HEADER_SEQUENCE)),
      lastEpoch: last === null ? 0 : Number(last.header.get(HEADER_EPOCH)),
      chain: Promise.resolve(),
    };
  }

  private async lastMessage(shard: number): Promise<StoredMsg | null> {
    try {
      return await this.jsm.streams.getMessage(this.stream, { last_by_subj: this.subjectOf(shard) });
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === 10037) return null; // no message found
      throw unavailable(`read the tail of shard ${shard}`, error);
    }
  }

  /** The connection (status, tests). */
  get connection(): NatsConnection {
    return this.nc;
  }

  /** The JetStream client (the standby tails the shard's subject with it). */
  get jetstream(): JetStreamClient {
    return this.js;
  }

  /** The batch a stored message carries (identity from its headers, payload as stored). */
  batchOf(shard: number, h: MsgHdrs | undefined, data: Uint8Array): EventBatch {
    const sequence = Number(h?.get(HEADER_SEQUENCE));
    const epoch = Number(h?.get(HEADER_EPOCH));
    if (!Number.isInteger(sequence) || sequence < 1 || !Number.isInteger(epoch)) {
      throw new StateError(
        'XLAT64_ERR_LOG_CORRUPT',
        `a message on ${this.subjectOf(shard)} has no batch identity headers (written by something else?)`,
      );
    }
    return { shard, epoch, sequence, eventCount: Number(h?.get(HEADER_EVENTS)), payload: data };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

const SNAPSHOT_MAGIC = 0x78363473; // 'x64s'
const SNAPSHOT_HEADER_BYTES = 28;

function unavailable(what: string, error: unknown): StateError {
  if (error instanceof StateError) return error;
  return new StateError(
    'XLAT64_ERR_LOG_UNAVAILABLE',
    `cannot ${what} in NATS JetStream: ${(error as Error)?.message ?? String(error)}`,
    { cause: error },
  );
}

function stoppedError(): StateError {
  return new StateError('XLAT64_ERR_LOG_STOPPED', 'the JetStream event log was stopped');
}
