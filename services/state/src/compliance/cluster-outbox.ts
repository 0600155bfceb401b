// The compliance outbox in cluster mode (`xlat64 plat --state nats://…,redis://… --compliance kafka://…`):
// the source is each shard's JetStream subject (the event log the cluster state writes), and a shard's
// records are produced by its current owner (NATS KV `xlat64-shard-owners`), after it has owned the
// shard for a grace period. Ids are cluster-wide (`<idPrefix>shard:epoch:sequence:index`, the same on
// every node) and the committed position is kept per shard in NATS KV, so the node that takes a shard
// over resumes where the previous owner's outbox committed, and reads the topic back from there (the
// same read-back the embedded outbox does after a restart) before it sends anything.
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatEngineConfig, NatEngineConfigInput } from '../../../nat-engine/src/index.js';
import { JetStreamEventLog } from '../jetstream-log.js';
import { OWNERSHIP_BUCKET, ShardOwnership } from '../ownership.js';
import type { ComplianceConfig } from './node-outbox.js';
import {
  type Checkpoint,
  type CheckpointStore,
  ComplianceOutbox,
  defaultOutboxOptions,
  type OutboxStatus,
} from './outbox.js';
import type { TenantOf } from './records.js';
import { type ComplianceEventSource, eventLogSource } from './source.js';

/** NATS KV bucket of the committed positions: key `<topic>.<shard>`. */
export const COMPLIANCE_CHECKPOINT_BUCKET = 'xlat64-compliance';

/** What one shard's key holds: its committed sequence and the partition ends when it was committed. */
interface ShardCheckpoint {
  position: number;
  partitionEnds: number[];
}

/**
 * The checkpoint of a set of shards in NATS KV, one key per shard (only the shard's owner writes it).
 * Read: each shard's position, and per partition the smallest end of the shards' entries — every
 * record of a shard past its committed position was written after that commit, so at an offset at or
 * after that end; the read-back from there sees all of them. A shard with no entry (never committed)
 * makes the read-back start at offset 0.
 */
export class KvCheckpointStore implements CheckpointStore {
  constructor(
    private readonly kv: KV,
    private readonly shards: readonly number[],
  ) {}

  static async open(nc: NatsConnection, shards: readonly number[], bucket = COMPLIANCE_CHECKPOINT_BUCKET) {
    return new KvCheckpointStore(await new Kvm(jetstream(nc)).create(bucket, { history: 1 }), shards);
  }

  async read(topic: string): Promise<Checkpoint> {
    const positions: Record<string, number> = {};
    const entries: ShardCheckpoint[] = [];
    let missing = false;
    for (const shard of this.shards) {
      const entry = await this.kv.get(keyOf(topic, shard));
      if (entry === null || entry.operation !== 'PUT') {
        missing = true;
        continue;
      }
      const value = entry.json<ShardCheckpoint>();
      positions[shard] = value.position;
      entries.push(value);
    }
    const partitionEnds: number[] = [];
    if (!missing && entries.length > 0) {
      const count = Math.max(...entries.map((e) => e.partitionEnds.length));
      for (let p = 0; p < count; p++)
        partitionEnds.push(Math.min(...entries.map((e) => e.partitionEnds[p] ?? 0)));
    }
    return { version: 1, topic, positions, partitionEnds };
  }

  async write(checkpoint: Checkpoint): Promise<void> {
    for (const shard of this.shards) {
      const value: ShardCheckpoint = {
        position: checkpoint.positions[shard] ?? 0,
        partitionEnds: checkpoint.partitionEnds,
      };
      await this.kv.put(keyOf(checkpoint.topic, shard), JSON.stringify(value));
    }
  }
}

function keyOf(topic: string, shard: number): string {
  return `${topic}.${shard}`;
}

/**
 * The outbox's source over the JetStream log: the tail and the first retained batch are read from the
 * server on every call (another instance, the shard's owner, writes the log).
 */
export function jetStreamSource(log: JetStreamEventLog, shards: readonly number[]): ComplianceEventSource {
  const source = eventLogSource(log, shards, null);
  return {
    ...source,
    lastSequence: (shard) => log.tailSequence(shard),
    firstSequence: (shard) => log.firstRetainedSequence(shard),
  };
}

export interface ClusterComplianceOptions {
  config: ComplianceConfig;
  nc: NatsConnection;
  /** This node's id in the ownership records (`state.nodeId`). */
  nodeId: string;
  /** The shards this node's workers serve or stand by for. */
  shards: readonly number[];
  /** Put before every id; the same on every node of the cluster (plat: `c-<state.pool>/`). */
  idPrefix: string;
  engine: NatEngineConfig;
  natConfiguration: NatEngineConfigInput;
  /** Stream, subject prefix, buckets (tests use their own; defaults as the cluster state's). */
  names?: {
    stream?: string;
    subjectPrefix?: string;
    snapshotBucket?: string;
    ownershipBucket?: string;
    checkpointBucket?: string;
  };
  /** The subscriber's tenant when a lease's record is derived (the node's running tenants); none without. */
  tenantOf?: TenantOf;
  /** How often the ownership records are read (default 1000 ms). */
  ownershipPollMs?: number;
  /**
   * How long a shard must have been this node's before its outbox produces it (default 3 polls): the
   * previous owner's outbox stops within one poll of losing the shard, so both never send at once.
   */
  handoverGraceMs?: number;
  tuning?: { pollIntervalMs?: number; retryIntervalMs?: number; connectionTimeoutMs?: number };
  log?: (line: string) => void;
}

export interface ClusterComplianceStatus extends OutboxStatus {
  topic: string;
  brokers: string[];
  /** Shards whose records this node produces now. */
  producingShards: number[];
}

/** Follows this node's ownership and runs one ComplianceOutbox over the shards it owns. */
export class ClusterCompliance {
  private outbox: ComplianceOutbox | null = null;
  private producing: number[] = [];
  private readonly ownedSince = new Map<number, number>();
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private lastError: string | null = null;
  /** Counters of outboxes already stopped (an ownership change restarts the outbox). */
  private readonly totals = { producedRecords: 0, duplicatesSkipped: 0, lostBatches: 0 };
  private readonly pollMs: number;
  private readonly graceMs: number;

  private constructor(
    private readonly options: ClusterComplianceOptions,
    private readonly log: JetStreamEventLog,
    private readonly ownership: ShardOwnership,
  ) {
    this.pollMs = options.ownershipPollMs ?? 1000;
    this.graceMs = options.handoverGraceMs ?? 3 * this.pollMs;
  }

  static async start(options: ClusterComplianceOptions): Promise<ClusterCompliance> {
    const names = options.names ?? {};
    const log = await JetStreamEventLog.open(options.nc, {
      stream: names.stream,
      subjectPrefix: names.subjectPrefix,
      snapshotBucket: names.snapshotBucket,
    });
    const ownership = await ShardOwnership.open(
      options.nc,
      options.nodeId,
      names.ownershipBucket ?? OWNERSHIP_BUCKET,
    );
    const compliance = new ClusterCompliance(options, log, ownership);
    compliance.loopDone = compliance.follow();
    return compliance;
  }

  status(): ClusterComplianceStatus {
    const { config } = this.options;
    const current = this.outbox?.status();
    const base: OutboxStatus = current ?? {
      state: this.stopping ? 'stopped' : 'running',
      lagBatches: 0,
      pendingRecords: 0,
      oldestPendingAtMs: null,
      producedRecords: 0,
      duplicatesSkipped: 0,
      lostBatches: 0,
      lastError: null,
      source: null,
    };
    return {
      ...base,
      producedRecords: base.producedRecords + this.totals.producedRecords,
      duplicatesSkipped: base.duplicatesSkipped + this.totals.duplicatesSkipped,
      lostBatches: base.lostBatches + this.totals.lostBatches,
      lastError: base.lastError ?? this.lastError,
      topic: config.topic,
      brokers: config.brokers,
      producingShards: [...this.producing],
    };
  }

  /**
   * Sends what the owned shards' logs hold now, for up to `drainMs` (bounded by the handover grace less
   * one poll, so a new owner's outbox never starts while this one still sends), then stops.
   */
  async stop(drainMs: number): Promise<void> {
    const outbox = this.outbox;
    const bound = Math.min(drainMs, Math.max(0, this.graceMs - this.pollMs));
    if (outbox !== null && outbox.status().state === 'running' && bound > 0)
      await outbox.drain(bound).catch(() => undefined);
    this.stopping = true;
    this.wake?.();
    await this.loopDone;
    await this.switchTo([]);
    await this.log.stop();
  }

  /** Reads the ownership records every poll; restarts the outbox when the produced set changes. */
  private async follow(): Promise<void> {
    while (!this.stopping) {
      try {
        const now = Date.now();
        for (const shard of this.options.shards) {
          const lease = await this.ownership.find(shard);
          if (lease !== null && lease.record.owner === this.options.nodeId) {
            if (!this.ownedSince.has(shard)) this.ownedSince.set(shard, now);
          } else this.ownedSince.delete(shard);
        }
        const wanted = [...this.ownedSince]
          .filter(([, since]) => now - since >= this.graceMs)
          .map(([shard]) => shard)
          .sort((a, b) => a - b);
        if (!this.stopping && (wanted.join() !== this.producing.join() || this.outbox === null))
          if (wanted.length > 0 || this.producing.length > 0) await this.switchTo(wanted);
        this.lastError = null;
      } catch (error) {
        // NATS unreachable: the outbox keeps what it has (it cannot read the log either meanwhile).
        this.lastError = `compliance: ${(error as Error).message}`;
      }
      await this.pause(this.pollMs);
    }
  }

  private async switchTo(shards: number[]): Promise<void> {
    const old = this.outbox;
    this.outbox = null;
    this.producing = [];
    if (old !== null) {
      await old.stop();
      const s = old.status();
      this.totals.producedRecords += s.producedRecords;
      this.totals.duplicatesSkipped += s.duplicatesSkipped;
      this.totals.lostBatches += s.lostBatches;
    }
    if (shards.length === 0 || this.stopping) return;
    const { config, engine } = this.options;
    const outbox = new ComplianceOutbox(jetStreamSource(this.log, shards), {
      ...defaultOutboxOptions,
      kafka: {
        brokers: config.brokers,
        clientId: `xlat64-plat-${this.options.nodeId}`,
        connectionTimeoutMs: this.options.tuning?.connectionTimeoutMs ?? 3000,
      },
      topic: config.topic,
      format: config.format,
      compression: config.compression,
      checkpointPath: '',
      checkpointStore: await KvCheckpointStore.open(
        this.options.nc,
        shards,
        this.options.names?.checkpointBucket ?? COMPLIANCE_CHECKPOINT_BUCKET,
      ),
      deriver: {
        mode: config.mode,
        logDestinations: config.logDestinations,
        blockSizePorts: engine.blockSizePorts,
        subscriberPrefixLength: engine.subscriberPrefixLength,
        heldIntervalMs: config.heldIntervalMs,
        deterministic: engine.deterministic,
        idPrefix: this.options.idPrefix,
        tenantOf: this.options.tenantOf,
      },
      pollIntervalMs: this.options.tuning?.pollIntervalMs ?? defaultOutboxOptions.pollIntervalMs,
      retryIntervalMs: this.options.tuning?.retryIntervalMs ?? defaultOutboxOptions.retryIntervalMs,
      configuration: { nat: this.options.natConfiguration, fromMs: Date.now() },
    });
    await outbox.start();
    this.outbox = outbox;
    this.producing = shards;
    this.options.log?.(`compliance: producing the records of shard(s) ${shards.join(',')}`);
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
}
