// Cluster mode of one shard (`xlat64 plat --state nats://…,redis://…`, DESIGN.md "Event sourcing",
// "Sharding"): the shard's events go to its JetStream subject, its ownership and fencing epoch live in
// NATS KV, its port blocks are leased from Redis. A node starts as the shard's hot standby (the last
// snapshot from the Object Store + a tail of the subject folded into a replica) and takes the shard over
// when the owner's record stops moving for `detectionMs` (the owner renews it every `renewIntervalMs`)
// or is released: compare-and-set to epoch + 1 (of several contenders exactly one wins), fold the rest of
// the subject, append an epoch-start batch (if the old owner appended in between, fold that too and
// retry: the epoch batch lands only on the true tail, after which the old owner's appends are refused),
// then serve from the replica. A holder that finds its record replaced, or its append fenced, stops.
// An owner that could not renew its record for `leaseMs` (less than detectionMs, counted from the moment
// it sent the last write that went through) has lapsed: from then on it makes no new mapping (its flows
// go on), before any standby may take over, whose clock starts only when it saw that write. Cut off from
// NATS alone, it serves its flows with the mappings a successor has too, and stops (fenced) when it
// reaches NATS again and finds the newer epoch; with NATS down for every node (nobody can take over) it
// carries its flows through and takes new ones again once a renewal goes through. Never do two nodes make
// mappings for one shard.
import assert from 'node:assert/strict';
import { context } from '@opentelemetry/api';
import {
  annotateSpan,
  controlPlaneTracer,
  extractTraceContext,
  traced,
} from '../../../libs/telemetry/src/index.js';
import {
  createReplayState,
  type EventSink,
  encodeNatEventBatch,
  leasedBlockEvents,
  type NatEngineConfig,
  type NatEvent,
  type NatState,
  restoreNatState,
} from '../../nat-engine/src/index.js';
import { type BatcherStatus, EventBatcher } from './batcher.js';
import { isStateError, StateError } from './errors.js';
import type { JetStreamEventLog } from './jetstream-log.js';
import type { ReplicationMetricsSink } from './metrics-hooks.js';
import type { NatShardFollower } from './nat-shard-follower.js';
import type { ShardLease, ShardOwnership } from './ownership.js';
import { SnapshotThread } from './snapshot-thread.js';
import { ShardStandby } from './standby.js';

/** Times an epoch-start append may lose to a still-appending former owner before the takeover gives up. */
const TAKEOVER_ATTEMPTS_MAX = 20;

export type ClusterShardRole = 'standby' | 'taking-over' | 'owner' | 'fenced' | 'stopped';

export interface ClusterNatStoreOptions {
  log: JetStreamEventLog;
  ownership: ShardOwnership;
  /** The engine's validated configuration (snapshots are checked against its fingerprint). */
  config: NatEngineConfig;
  hashSeed: number;
  shard: number;
  flushIntervalMs: number;
  /** The owner's record unchanged this long (standby's own clock) = the owner is gone. Default 1000. */
  detectionMs?: number;
  /** How often the owner renews its record and a standby reads it. Default detectionMs / 4. */
  renewIntervalMs?: number;
  /**
   * An owner whose last successful write of its record was sent longer ago than this has lapsed: it
   * makes no new mapping until a renewal goes through (onLeaseLapsed), so it stops before a standby can
   * decide it is gone (detectionMs after seeing that write). Between renewIntervalMs and detectionMs;
   * default detectionMs / 2.
   */
  leaseMs?: number;
  /** The owner's lease lapsed (true: make no new mapping) or was renewed again (false). */
  onLeaseLapsed?: (lapsed: boolean) => void;
  batchEventsMax?: number;
  inFlightBatchesMax?: number;
  bufferEventsMax?: number;
  /** A snapshot is taken when the bytes appended since the last one exceed max(this, its size). Default 8 MiB. */
  tailBytesMin?: number;
  /** Called once the shard is this node's (the replica is the state to serve, `epoch` the new epoch). */
  onOwner?: (state: NatState, epoch: number) => Promise<void> | void;
  /** Called when this node stopped owning the shard (fenced): stop serving it. */
  onFenced?: (reason: string) => void;
  /**
   * Asked before a standby takes a free or lapsed shard: false waits (a cluster node takes only the shards
   * its ownership table names it the owner of). Absent: any standby may take it.
   */
  mayTakeOver?: () => boolean;
  logLine?: (line: string) => void;
  /** Told the standby's apply lag per batch (the log's own hook, `JetStreamLogOptions.metrics`, tells appends). */
  metrics?: ReplicationMetricsSink;
  /**
   * Told the replica's port blocks while this node is the shard's standby: first those of the restored
   * snapshot (as BlockLeased), then every event the standby folds, in log order. A cluster node routes
   * the IPv4 return traffic of shards other nodes own by them (the ingress block table).
   */
  onReplicaEvent?: (event: NatEvent) => void;
}

export interface ClusterStoreStatus {
  role: ClusterShardRole;
  epoch: number;
  /** Last sequence folded into the replica (standby) or sealed (owner). */
  sequence: number;
  batcher: BatcherStatus | null;
  takeovers: number;
  /** Takeovers lost to another node's compare-and-set. */
  takeoverConflicts: number;
  /** Epoch-start appends refused because the former owner appended after the catch-up (then retried). */
  takeoverRaces: number;
  /** Batches of an older epoch the standby dropped. */
  staleEpochBatches: number;
  renewFailures: number;
  /** Times the owner's lease lapsed (no renewal within leaseMs): it made no new mapping until renewed. */
  leaseExpiries: number;
  /** True while the owner's lease has lapsed. */
  leaseLapsed: boolean;
  snapshots: number;
  snapshotFailures: number;
  lastSnapshotBytes: number;
  /** Time of the last takeover, from the decision to serving (ms). */
  lastTakeoverMs: number;
  lastError: string | null;
}

export class ClusterNatStore {
  /** Hand this to the engine as its `sink` once the node owns the shard. */
  readonly sink: EventSink;
  private roleValue: ClusterShardRole = 'standby';
  private batcher: EventBatcher<NatEvent> | null = null;
  private lease: ShardLease | null = null;
  private standby: ShardStandby;
  private busy = false;
  private lastPollMs = Number.NEGATIVE_INFINITY;
  /** The record as last seen by the standby, and when (its clock) its revision last changed. */
  private seenRevision = -1;
  private seenSinceMs = 0;
  private readonly detectionMs: number;
  private readonly renewIntervalMs: number;
  private readonly leaseMs: number;
  private leaseLapsed = false;
  private readonly snapshotThread = new SnapshotThread();
  private snapshotting = false;
  private appendedBytesAtSnapshot = 0;
  private readonly counters = {
    takeovers: 0,
    takeoverConflicts: 0,
    takeoverRaces: 0,
    renewFailures: 0,
    leaseExpiries: 0,
    snapshots: 0,
    snapshotFailures: 0,
    lastSnapshotBytes: 0,
    lastTakeoverMs: 0,
  };
  private lastError: string | null = null;

  private constructor(
    private readonly options: ClusterNatStoreOptions,
    readonly state: NatState,
    from: { sequence: number; epoch: number },
  ) {
    this.detectionMs = options.detectionMs ?? 1000;
    this.renewIntervalMs = options.renewIntervalMs ?? Math.max(10, Math.floor(this.detectionMs / 4));
    assert.ok(
      this.renewIntervalMs < this.detectionMs,
      'the owner renews more often than standbys give up on it',
    );
    this.leaseMs = options.leaseMs ?? Math.floor(this.detectionMs / 2);
    assert.ok(
      this.leaseMs > this.renewIntervalMs && this.leaseMs < this.detectionMs,
      'the lease outlasts a renewal interval and ends before standbys give up on the owner',
    );
    this.standby = new ShardStandby(options.log, options.shard, state, from, {
      metrics: options.metrics,
      onEvent: options.onReplicaEvent,
    });
    this.sink = {
      push: (event) => {
        // Only an owner has a batcher; the engine exists only then.
        void this.batcher?.add(event);
      },
    };
  }

  /** Restores the shard's last snapshot (Object Store) and starts following its subject as a standby. */
  static async open(options: ClusterNatStoreOptions, nowMs: number): Promise<ClusterNatStore> {
    const snapshot = await options.log.latest(options.shard);
    let state: NatState;
    if (snapshot === null) {
      state = createReplayState(options.config, nowMs, options.hashSeed);
      state.sessionVisitLeadMs = options.config.refreshLeadMs;
    } else {
      const restored = restoreNatState(options.config, snapshot.payload, 0, snapshot.payload.length, {
        hashSeed: options.hashSeed,
        startMs: nowMs,
      });
      if (!restored.ok)
        throw new StateError(
          'XLAT64_ERR_SNAPSHOT_MISMATCH',
          `shard ${options.shard}: the cluster snapshot cannot be restored: ${restored.message}`,
        );
      state = restored.state;
    }
    const store = new ClusterNatStore(options, state, {
      sequence: snapshot?.sequence ?? 0,
      epoch: snapshot?.epoch ?? 0,
    });
    if (options.onReplicaEvent !== undefined)
      for (const event of leasedBlockEvents(state, options.shard, snapshot?.epoch ?? 0))
        options.onReplicaEvent(event);
    await store.standby.start();
    return store;
  }

  get role(): ClusterShardRole {
    return this.roleValue;
  }

  get epoch(): number {
    return this.lease?.record.epoch ?? this.standby.appliedEpoch;
  }

  /** The replica's follower (standby: what was folded so far). */
  get follower(): NatShardFollower {
    return this.standby.follower;
  }

  /**
   * Driven by the worker's maintenance timer: a standby watches the owner record (and takes over when it
   * stopped moving); an owner seals and appends batches, renews its record, snapshots. Never waits.
   */
  tick(nowMs: number): void {
    if (this.roleValue === 'owner') {
      // The lease runs from when the last write of the record that went through was sent (its stamp).
      const record = this.lease!.record;
      const writtenMs = record.renewedMs ?? record.sinceMs;
      const lapsed = nowMs - writtenMs > this.leaseMs;
      if (lapsed !== this.leaseLapsed) {
        this.leaseLapsed = lapsed;
        if (lapsed) this.counters.leaseExpiries++;
        this.options.logLine?.(
          lapsed
            ? `shard ${this.options.shard}: lease lapsed: ownership record last renewed ${nowMs - writtenMs} ms ago (lease ${this.leaseMs} ms; is NATS reachable?); serving existing mappings only, before a standby may take the shard over (${this.detectionMs} ms)`
            : `shard ${this.options.shard}: lease renewed again at epoch ${record.epoch}: new mappings admitted`,
        );
        this.options.onLeaseLapsed?.(lapsed);
      }
      const batcher = this.batcher!;
      batcher.tick(nowMs);
      if (batcher.isFenced) {
        this.fence(`an append was refused: ${batcher.status().lastErrorCode ?? 'fenced'}`);
        return;
      }
      if (!this.snapshotting) {
        const appended = batcher.status().appendedBytes - this.appendedBytesAtSnapshot;
        const due = Math.max(this.options.tailBytesMin ?? 8 * 1024 * 1024, this.counters.lastSnapshotBytes);
        if (appended >= due || batcher.status().state === 'unreplicated') void this.snapshot(nowMs);
      }
    }
    if (this.busy || nowMs - this.lastPollMs < this.renewIntervalMs) return;
    if (this.roleValue !== 'owner' && this.roleValue !== 'standby') return;
    this.lastPollMs = nowMs;
    this.busy = true;
    const work = this.roleValue === 'owner' ? this.renew(nowMs) : this.watch(nowMs);
    void work.finally(() => {
      this.busy = false;
    });
  }

  /** Takes the shard now if its record allows (released, never owned, or not renewed for detectionMs). */
  private async watch(nowMs: number): Promise<void> {
    try {
      const seen = await this.options.ownership.find(this.options.shard);
      if (seen !== null && seen.revision !== this.seenRevision) {
        this.seenRevision = seen.revision;
        this.seenSinceMs = nowMs;
      }
      const free = seen === null || seen.record.owner === '';
      if (!free && nowMs - this.seenSinceMs < this.detectionMs) return;
      if (this.options.mayTakeOver?.() === false) return;
      await this.takeOver(seen, nowMs);
    } catch (error) {
      this.lastError = (error as Error).message;
    }
  }

  /**
   * The takeover sequence (see the header), one `state.takeover` span from the decision to serving, with
   * the steps as children: `state.ownership.acquire` (epoch + 1), `state.takeover.catchup` (the subject
   * folded to its end), `state.takeover.epoch` (epoch-start batch on the true tail, ownership confirmed)
   * and `state.takeover.serve` (onOwner: the Redis claim of the shard's blocks, the engine). Public for
   * tests and the graceful handover of issue 10.
   */
  takeOver(seen: ShardLease | null, nowMs: number): Promise<boolean> {
    assert.equal(this.roleValue, 'standby', 'only a standby takes a shard over');
    const attributes = {
      'xlat64.shard': this.options.shard,
      'xlat64.epoch.seen': seen?.record.epoch ?? 0,
      'xlat64.owner.former': seen?.record.owner ?? '',
    };
    // A shard its owner released (a graceful handover) carries the release's trace context in the
    // record: the takeover continues that trace, so the handover is one trace across the two nodes.
    const released = seen !== null && seen.record.owner === '' ? seen.record.traceparent : undefined;
    const parent =
      released === undefined
        ? context.active()
        : extractTraceContext({ get: (k) => (k === 'traceparent' ? released : undefined), set: () => {} });
    return traced(
      controlPlaneTracer(),
      'state.takeover',
      attributes,
      async () => {
        const taken = await this.takeOverSteps(seen, nowMs);
        const c = this.counters;
        annotateSpan({
          'xlat64.takeover.outcome': taken ? 'serving' : this.roleValue === 'fenced' ? 'fenced' : 'conflict',
          'xlat64.epoch': this.epoch,
          'xlat64.sessions': this.state.sessionCount,
          'xlat64.takeover.races': c.takeoverRaces,
          'xlat64.takeover.ms': taken ? c.lastTakeoverMs : 0,
        });
        return taken;
      },
      parent,
    );
  }

  private async takeOverSteps(seen: ShardLease | null, nowMs: number): Promise<boolean> {
    const started = performance.now();
    const { log, ownership, shard } = this.options;
    const tracer = controlPlaneTracer();
    let lease: ShardLease;
    try {
      lease = await ownership.acquire(shard, seen, nowMs);
    } catch (error) {
      if (!isStateError(error, 'XLAT64_ERR_OWNERSHIP_CONFLICT')) throw error;
      this.counters.takeoverConflicts++;
      this.seenRevision = -1; // read it again and wait a full detection time
      return false;
    }
    this.roleValue = 'taking-over';
    this.lease = lease;
    const epoch = lease.record.epoch;
    try {
      const follower = this.standby.follower;
      // Fold what the subject holds now, then stop tailing; the rest is read below.
      const acquiredAt = performance.now();
      await traced(tracer, 'state.takeover.catchup', { 'xlat64.shard': shard }, async () => {
        const from = follower.sequence;
        log.forget(shard);
        const last = await log.lastSequence(shard);
        await this.standby.caughtUp(last);
        await this.standby.stop();
        annotateSpan({ 'xlat64.log.sequence': last, 'xlat64.log.batches': follower.sequence - from });
      });
      const caughtUpAt = performance.now();
      await traced(
        tracer,
        'state.takeover.epoch',
        { 'xlat64.shard': shard, 'xlat64.epoch': epoch },
        async () => {
          for (let attempt = 0; ; attempt++) {
            if (attempt === TAKEOVER_ATTEMPTS_MAX)
              throw new StateError(
                'XLAT64_ERR_FENCED',
                `shard ${shard}: the former owner kept appending through ${attempt} epoch-start attempts`,
              );
            for await (const batch of log.read(shard, follower.sequence)) {
              const outcome = follower.apply(batch);
              if (outcome !== 'applied' && outcome !== 'duplicate' && outcome !== 'stale-epoch')
                throw new StateError('XLAT64_ERR_LOG_CORRUPT', `shard ${shard}: ${follower.lastRefusal}`);
            }
            const identity = { shard, epoch, sequence: follower.sequence + 1 };
            const payload = new Uint8Array(0); // an epoch start: no events (nat-shard-follower.ts)
            try {
              await log.append({ ...identity, eventCount: 0, payload });
            } catch (error) {
              if (!isStateError(error, 'XLAT64_ERR_FENCED')) throw error;
              // The former owner appended after our read (the takeover race): fold it and try again.
              this.counters.takeoverRaces++;
              continue;
            }
            follower.apply({ ...identity, eventCount: 0, payload });
            annotateSpan({
              'xlat64.batch.sequence': identity.sequence,
              'xlat64.takeover.attempts': attempt + 1,
            });
            break;
          }
          // Whoever replaced our record meanwhile wins; serving now would make two owners.
          await ownership.confirm(lease);
        },
      );
      const epochAt = performance.now();
      this.batcher = new EventBatcher<NatEvent>(
        log,
        { encode: (events) => encodeNatEventBatch(events) },
        {
          shard,
          epoch,
          lastSequence: follower.sequence,
          flushIntervalMs: this.options.flushIntervalMs,
          batchEventsMax: this.options.batchEventsMax ?? 4096,
          inFlightBatchesMax: this.options.inFlightBatchesMax ?? 4,
          bufferEventsMax: this.options.bufferEventsMax ?? 262_144,
          retryDelayMs: Math.max(100, this.options.flushIntervalMs),
        },
        nowMs,
      );
      await traced(
        tracer,
        'state.takeover.serve',
        { 'xlat64.shard': shard, 'xlat64.sessions': this.state.sessionCount },
        async () => this.options.onOwner?.(this.state, epoch),
      );
      // Serving from here on: the lease restarts now (the acquire's may be spent by a long catch-up or a
      // slow Redis); a record replaced meanwhile fences this node instead.
      this.lease = await ownership.renew(this.lease, nowMs + (performance.now() - started));
      const servedAt = performance.now();
      this.roleValue = 'owner';
      this.counters.takeovers++;
      this.counters.lastTakeoverMs = performance.now() - started;
      this.options.logLine?.(
        `shard ${shard}: taken over at epoch ${epoch} after batch ${follower.sequence - 1} (${this.state.sessionCount} sessions, ${this.counters.lastTakeoverMs.toFixed(0)} ms: ownership ${(acquiredAt - started).toFixed(0)}, catch-up ${(caughtUpAt - acquiredAt).toFixed(0)}, epoch start ${(epochAt - caughtUpAt).toFixed(0)}, serve ${(servedAt - epochAt).toFixed(0)})`,
      );
      return true;
    } catch (error) {
      this.fence(`takeover failed: ${(error as Error).message}`);
      return false;
    }
  }

  private async renew(nowMs: number): Promise<void> {
    const lease = this.lease!;
    try {
      this.lease = await this.options.ownership.renew(lease, nowMs);
    } catch (error) {
      this.counters.renewFailures++;
      this.lastError = (error as Error).message;
      if (isStateError(error, 'XLAT64_ERR_FENCED')) this.fence((error as Error).message);
    }
  }

  /** Stops serving: no more appends from this node for this shard (the loser of a race, an old owner). */
  private fence(reason: string): void {
    if (this.roleValue === 'fenced' || this.roleValue === 'stopped') return;
    this.roleValue = 'fenced';
    this.lastError = reason;
    this.batcher?.stop();
    this.options.logLine?.(`shard ${this.options.shard}: not serving it any more: ${reason}`);
    this.options.onFenced?.(reason);
  }

  /** Snapshot at a batch cut into the Object Store (which purges the batches it covers). */
  async snapshot(nowMs: number): Promise<void> {
    if (this.snapshotting || this.batcher === null || this.roleValue !== 'owner') return;
    this.snapshotting = true;
    const batcher = this.batcher;
    try {
      // Same synchronous turn: the cut and the table copy (the encoding runs on the snapshot thread).
      const sequence = batcher.cut();
      const appendedAtCut = batcher.status().appendedBytes;
      const pending = this.snapshotThread.take(this.state, nowMs);
      const payload = await pending;
      // The batches up to the cut must be in the stream before the snapshot may purge them.
      while (batcher.status().ackedSequence < sequence && !batcher.isFenced)
        await new Promise((r) => setTimeout(r, this.options.flushIntervalMs));
      if (batcher.isFenced) return;
      await this.options.log.put({
        shard: this.options.shard,
        epoch: this.epoch,
        sequence,
        timeMs: nowMs,
        payload,
      });
      batcher.resynchronized(sequence);
      this.counters.snapshots++;
      this.counters.lastSnapshotBytes = payload.byteLength;
      this.appendedBytesAtSnapshot = appendedAtCut;
    } catch (error) {
      this.counters.snapshotFailures++;
      this.lastError = (error as Error).message;
    } finally {
      this.snapshotting = false;
    }
  }

  status(): ClusterStoreStatus {
    return {
      role: this.roleValue,
      epoch: this.epoch,
      sequence: this.batcher?.status().sealedSequence ?? this.standby.appliedSequence,
      batcher: this.batcher?.status() ?? null,
      ...this.counters,
      leaseLapsed: this.leaseLapsed,
      staleEpochBatches: this.standby.follower.counters.staleEpochBatches,
      lastError: this.lastError,
    };
  }

  /**
   * Stops: an owner drains its batches (at most `drainTimeoutMs`), takes a final snapshot and releases
   * the record, so a standby takes the shard at once (a graceful handover); a standby stops tailing.
   */
  async stop(nowMs: number, drainTimeoutMs = 5000): Promise<void> {
    if (this.roleValue !== 'owner') return this.stopSteps(nowMs, drainTimeoutMs);
    // The owner's side of a graceful handover, one span: drain, final snapshot, release (whose record
    // keeps this trace's context for the node that takes the shard).
    const attributes = { 'xlat64.shard': this.options.shard, 'xlat64.epoch': this.epoch };
    return traced(controlPlaneTracer(), 'state.handover', attributes, () =>
      this.stopSteps(nowMs, drainTimeoutMs),
    );
  }

  private async stopSteps(nowMs: number, drainTimeoutMs: number): Promise<void> {
    const wasOwner = this.roleValue === 'owner';
    if (wasOwner) {
      const batcher = this.batcher!;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        batcher.drain(nowMs),
        new Promise((resolve) => {
          timer = setTimeout(resolve, drainTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      while (this.snapshotting) await new Promise((r) => setTimeout(r, 5));
      await this.snapshot(nowMs);
    }
    this.roleValue = 'stopped';
    this.batcher?.stop();
    await this.standby.stop();
    while (this.busy) await new Promise((r) => setTimeout(r, 5));
    if (wasOwner && this.lease !== null)
      await this.options.ownership.transfer(this.lease, '', nowMs).catch(() => {});
    await this.snapshotThread.stop();
  }
}
