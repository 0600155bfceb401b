// Embedded mode (DESIGN.md "Embedded mode", the default of `xlat64 plat`): one shard's NAT state kept
// durable in one directory with nothing else installed. At open it restores the last snapshot, folds the
// log after it (a torn tail is cut by the log), and hands the state to the engine: mappings and sessions
// come back with their absolute expiry, so lifetimes are shortened by the downtime and flows keep their
// IPv4 address and port. While running, the engine's events go through the batcher into the log, and
// the state is snapshotted when the tail since the last snapshot outgrows it (or events were refused),
// which lets the log drop what the snapshot covers: disk = last snapshot + tail, memory = what is not yet
// durable. Recovery (snapshot load, log replay) and snapshots are spans of the control-plane tracer
// (libs/telemetry; a no-op unless tracing was started).
import assert from 'node:assert/strict';
import { annotateSpan, controlPlaneTracer, traced } from '../../../libs/telemetry/src/index.js';
import {
  createReplayState,
  type EventSink,
  encodeNatEventBatch,
  type NatEngineConfig,
  type NatEvent,
  type NatState,
  restoreNatState,
  snapshotNatState,
} from '../../nat-engine/src/index.js';
import { type BatcherStatus, EventBatcher } from './batcher.js';
import { EmbeddedEventLog } from './embedded-log.js';
import { StateError } from './errors.js';
import { NatShardFollower } from './nat-shard-follower.js';

const SNAPSHOT_RETRY_DELAY_MS = 10_000;

export interface EmbeddedNatStoreOptions {
  /** The state directory (stateDir). */
  directory: string;
  /** The engine's validated configuration (the snapshot fingerprint is checked against it). */
  config: NatEngineConfig;
  /** Hash seed of the state's tables (random per start). */
  hashSeed: number;
  shard?: number;
  flushIntervalMs: number;
  /** Events per batch at most. Default 4096. */
  batchEventsMax?: number;
  /** Appends outstanding at once. Default 4. */
  inFlightBatchesMax?: number;
  /** Events held while the disk does not take them; past it events are refused (and a snapshot taken). Default 262144. */
  bufferEventsMax?: number;
  /** A snapshot is taken when the log tail since the last one exceeds max(this, the last snapshot's size). Default 8 MiB. */
  tailBytesMin?: number;
}

export interface RecoveryReport {
  /** Sequence the snapshot covered (0 without one) and its session count. */
  snapshotSequence: number;
  snapshotSessions: number;
  snapshotTimeMs: number | null;
  replayedBatches: number;
  replayedEvents: number;
  /** Records cut off the log's end (a crash mid-write). */
  tornRecords: number;
  sessions: number;
  mappings: number;
  /** Time spent restoring (snapshot + tail). */
  recoveryMs: number;
}

export interface EmbeddedStoreStatus {
  batcher: BatcherStatus;
  snapshots: number;
  snapshotFailures: number;
  lastSnapshotBytes: number;
  lastSnapshotSequence: number;
  tailBytes: number;
  log: EmbeddedEventLog['counters'];
}

export class EmbeddedNatStore {
  /** Hand this to the engine as its `sink`: events go to the batcher (never throws, counts refusals). */
  readonly sink: EventSink;
  private readonly batcher: EventBatcher<NatEvent>;
  private snapshotting = false;
  /** After a failed snapshot (disk full ...), the next attempt waits this long: each one copies the whole state. */
  private snapshotRetryAtMs = 0;
  private readonly counters = { snapshots: 0, snapshotFailures: 0 };
  private lastSnapshotBytes = 0;
  private lastSnapshotSequence: number;
  private tailBytesAtSnapshot = 0;
  private readonly tailBytesMin: number;

  private constructor(
    readonly log: EmbeddedEventLog,
    readonly state: NatState,
    readonly recovery: RecoveryReport,
    private readonly options: EmbeddedNatStoreOptions,
    lastSequence: number,
    epoch: number,
    nowMs: number,
  ) {
    const shard = options.shard ?? 0;
    this.batcher = new EventBatcher<NatEvent>(
      log,
      { encode: (events) => encodeNatEventBatch(events) },
      {
        shard,
        epoch,
        lastSequence,
        flushIntervalMs: options.flushIntervalMs,
        batchEventsMax: options.batchEventsMax ?? 4096,
        inFlightBatchesMax: options.inFlightBatchesMax ?? 4,
        bufferEventsMax: options.bufferEventsMax ?? 262_144,
        retryDelayMs: Math.max(100, options.flushIntervalMs),
      },
      nowMs,
    );
    const batcher = this.batcher;
    this.sink = { push: (event) => void batcher.add(event) };
    this.lastSnapshotSequence = recovery.snapshotSequence;
    this.tailBytesMin = options.tailBytesMin ?? 8 * 1024 * 1024;
  }

  /**
   * Opens the directory and restores the shard: snapshot + tail. Throws StateError when it cannot be used
   * as it is (a snapshot of another configuration, a log written by a newer build, damage), naming the fix.
   */
  static open(options: EmbeddedNatStoreOptions, nowMs: number): Promise<EmbeddedNatStore> {
    const shard = options.shard ?? 0;
    return traced(
      controlPlaneTracer(),
      'state.recover',
      { 'xlat64.shard': shard, 'xlat64.state.directory': options.directory },
      () => EmbeddedNatStore.recover(options, shard, nowMs),
    );
  }

  private static async recover(
    options: EmbeddedNatStoreOptions,
    shard: number,
    nowMs: number,
  ): Promise<EmbeddedNatStore> {
    const started = performance.now();
    const tracer = controlPlaneTracer();
    const log = await EmbeddedEventLog.open(options.directory);
    try {
      const snapshot = await log.latest(shard);
      let state: NatState;
      if (snapshot === null) {
        state = createReplayState(options.config, nowMs, options.hashSeed);
        state.sessionVisitLeadMs = options.config.refreshLeadMs;
      } else {
        state = await traced(
          tracer,
          'state.snapshot.load',
          {
            'xlat64.shard': shard,
            'xlat64.snapshot.sequence': snapshot.sequence,
            'xlat64.snapshot.bytes': snapshot.payload.byteLength,
          },
          () => {
            const restored = restoreNatState(options.config, snapshot.payload, 0, snapshot.payload.length, {
              hashSeed: options.hashSeed,
              startMs: nowMs,
            });
            if (!restored.ok) {
              throw new StateError(
                'XLAT64_ERR_SNAPSHOT_MISMATCH',
                `${options.directory}: the snapshot of shard ${shard} cannot be restored: ${restored.message}`,
              );
            }
            annotateSpan({ 'xlat64.sessions': restored.state.sessionCount });
            return restored.state;
          },
        );
      }
      const from = { sequence: snapshot?.sequence ?? 0, epoch: snapshot?.epoch ?? 0 };
      const snapshotSessions = state.sessionCount;
      const follower = new NatShardFollower(state, shard, from);
      await traced(
        tracer,
        'state.log.replay',
        { 'xlat64.shard': shard, 'xlat64.log.after_sequence': from.sequence },
        async () => {
          for await (const batch of log.read(shard, from.sequence)) {
            const outcome = follower.apply(batch);
            if (outcome !== 'applied') {
              throw new StateError(
                outcome === 'newer-version' ? 'XLAT64_ERR_SNAPSHOT_MISMATCH' : 'XLAT64_ERR_LOG_CORRUPT',
                `${options.directory}: cannot replay the log (${outcome}): ${follower.lastRefusal} — ` +
                  (outcome === 'newer-version'
                    ? 'run the xlat64 version that wrote it'
                    : 'move the state directory away to start empty'),
              );
            }
          }
          annotateSpan({
            'xlat64.log.batches': follower.counters.appliedBatches,
            'xlat64.log.events': follower.counters.appliedEvents,
            'xlat64.log.torn_records': log.openReport.tornRecords,
          });
        },
      );
      const recovery: RecoveryReport = {
        snapshotSequence: from.sequence,
        snapshotSessions,
        snapshotTimeMs: snapshot?.timeMs ?? null,
        replayedBatches: follower.counters.appliedBatches,
        replayedEvents: follower.counters.appliedEvents,
        tornRecords: log.openReport.tornRecords,
        sessions: state.sessionCount,
        mappings: state.mappingCount,
        recoveryMs: performance.now() - started,
      };
      const lastSequence = await log.lastSequence(shard);
      assert.equal(lastSequence, follower.sequence, 'the replay reached the end of the log');
      annotateSpan({ 'xlat64.sessions': recovery.sessions, 'xlat64.mappings': recovery.mappings });
      return new EmbeddedNatStore(log, state, recovery, options, lastSequence, follower.epoch, nowMs);
    } catch (error) {
      await log.stop().catch(() => {});
      throw error;
    }
  }

  /** Seals and writes due batches; starts a snapshot when the tail outgrew the last one or events were refused. */
  tick(nowMs: number): void {
    this.batcher.tick(nowMs);
    if (this.snapshotting || nowMs < this.snapshotRetryAtMs) return;
    const status = this.batcher.status();
    if (
      status.state === 'unreplicated' ||
      this.tailBytes() >= Math.max(this.tailBytesMin, this.lastSnapshotBytes)
    ) {
      void this.snapshot(nowMs);
    }
  }

  /** Takes a snapshot now (at a batch cut) and stores it; the log then drops what it covers. */
  async snapshot(nowMs: number): Promise<void> {
    if (this.snapshotting) return;
    this.snapshotting = true;
    const shard = this.options.shard ?? 0;
    await traced(controlPlaneTracer(), 'state.snapshot.write', { 'xlat64.shard': shard }, () =>
      this.writeSnapshot(nowMs),
    );
  }

  private async writeSnapshot(nowMs: number): Promise<void> {
    try {
      // Same synchronous turn: no event can slip between the cut and the image.
      const sequence = this.batcher.cut();
      const payload = snapshotNatState(this.state, nowMs);
      annotateSpan({ 'xlat64.snapshot.sequence': sequence, 'xlat64.snapshot.bytes': payload.byteLength });
      const tailAtCut = this.log.counters.writtenBytes;
      await this.log.put({
        shard: this.options.shard ?? 0,
        epoch: this.batcher.status().epoch,
        sequence,
        timeMs: nowMs,
        payload,
      });
      this.batcher.resynchronized(sequence);
      this.counters.snapshots++;
      this.lastSnapshotBytes = payload.byteLength;
      this.lastSnapshotSequence = sequence;
      this.tailBytesAtSnapshot = tailAtCut;
    } catch (error) {
      annotateSpan({ 'xlat64.snapshot.failed': (error as Error)?.message ?? String(error) });
      this.counters.snapshotFailures++;
      this.snapshotRetryAtMs = nowMs + SNAPSHOT_RETRY_DELAY_MS;
    } finally {
      this.snapshotting = false;
    }
  }

  /** Log bytes written since the last snapshot's cut. */
  tailBytes(): number {
    return this.log.counters.writtenBytes - this.tailBytesAtSnapshot;
  }

  status(): EmbeddedStoreStatus {
    return {
      batcher: this.batcher.status(),
      ...this.counters,
      lastSnapshotBytes: this.lastSnapshotBytes,
      lastSnapshotSequence: this.lastSnapshotSequence,
      tailBytes: this.tailBytes(),
      log: { ...this.log.counters },
    };
  }

  /**
   * Writes every event added so far (waiting at most `drainTimeoutMs` for a failing disk), takes a final
   * snapshot (a fast next start), and closes the log.
   */
  async stop(nowMs: number, drainTimeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.batcher.drain(nowMs),
      new Promise((resolve) => {
        timer = setTimeout(resolve, drainTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    while (this.snapshotting) await new Promise((resolve) => setImmediate(resolve));
    await this.snapshot(nowMs);
    this.batcher.stop();
    await this.log.stop();
  }
}
