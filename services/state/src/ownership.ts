// Shard ownership and fencing epochs (DESIGN.md "Sharding", "Event sourcing"): the shard -> owner
// record lives in a NATS KV bucket (Raft-replicated, so a granted ownership survives a server
// failover) and changes only by compare-and-set on the key's revision. Taking a shard bumps its epoch;
// a holder whose revision is no longer current is refused (XLAT64_ERR_FENCED) and must stop serving.
// Every change is a span (`state.ownership.acquire` / `.transfer`); KV writes carry no headers, so the
// record itself keeps the W3C traceparent of the change, for the node that reads it to continue the trace.
import assert from 'node:assert/strict';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { controlPlaneTracer, injectTraceContext, traced } from '../../../libs/telemetry/src/index.js';
import { StateError } from './errors.js';

export const OWNERSHIP_BUCKET = 'xlat64-shard-owners';

/** What the KV holds per shard (JSON): who serves it, under which epoch, since when. */
export interface OwnershipRecord {
  shard: number;
  /** Node id of the owner; '' after a clean release (the epoch stays, so the next owner bumps it). */
  owner: string;
  /** Fencing epoch: starts at 1, +1 on every change of owner. Events carry it; older epochs are dropped. */
  epoch: number;
  sinceMs: number;
  /** W3C traceparent of the span that made this change, when traced. */
  traceparent?: string;
}

/** A held ownership: the record as this node wrote it, and the KV revision that write produced. */
export interface ShardLease {
  readonly record: OwnershipRecord;
  readonly revision: number;
}

export class ShardOwnership {
  private constructor(
    private readonly kv: KV,
    readonly nodeId: string,
  ) {}

  /** Opens (creating when missing) the ownership bucket; history keeps the last owners for audits. */
  static async open(nc: NatsConnection, nodeId: string, bucket = OWNERSHIP_BUCKET): Promise<ShardOwnership> {
    assert.ok(nodeId.length > 0, 'a node id is required');
    const kv = await new Kvm(jetstream(nc)).create(bucket, { history: 8 });
    return new ShardOwnership(kv, nodeId);
  }

  /** The current record and its revision, or null when the shard was never owned. */
  async find(shard: number): Promise<ShardLease | null> {
    const entry = await this.kv.get(keyOf(shard));
    if (entry === null || entry.operation !== 'PUT') return null;
    return { record: entry.json<OwnershipRecord>(), revision: entry.revision };
  }

  /**
   * Takes `shard` for this node with the next epoch, replacing the record the caller saw (`seen`,
   * from `find`; null for a shard never owned). Compare-and-set on that revision: of two nodes that
   * saw the same record and try at once exactly one wins; the other, or one whose view is out of
   * date, gets XLAT64_ERR_OWNERSHIP_CONFLICT. Whether taking over is right (the owner is dead, or it
   * handed over) is the caller's decision, made on the record it passes.
   */
  async acquire(shard: number, seen: ShardLease | null, nowMs: number): Promise<ShardLease> {
    assert.ok(seen === null || seen.record.shard === shard, 'the seen record is of another shard');
    const record: OwnershipRecord = {
      shard,
      owner: this.nodeId,
      epoch: (seen?.record.epoch ?? 0) + 1,
      sinceMs: nowMs,
    };
    return traced(controlPlaneTracer(), 'state.ownership.acquire', spanAttributes(record, seen), () =>
      this.write(record, seen),
    );
  }

  private async write(record: OwnershipRecord, seen: ShardLease | null): Promise<ShardLease> {
    const shard = record.shard;
    withTraceparent(record);
    try {
      const revision =
        seen === null
          ? await this.kv.create(keyOf(shard), JSON.stringify(record))
          : await this.kv.update(keyOf(shard), JSON.stringify(record), seen.revision);
      return { record, revision };
    } catch (error) {
      throw new StateError(
        'XLAT64_ERR_OWNERSHIP_CONFLICT',
        `shard ${shard}: the owner record changed since ${this.nodeId} read it (wanted epoch ${record.epoch}) — read it again with find() and decide again`,
        { cause: error },
      );
    }
  }

  /**
   * Confirms that `lease` is still the current record (nobody took the shard since). A holder calls
   * it before serving on after a pause; XLAT64_ERR_FENCED means stop serving the shard.
   */
  async confirm(lease: ShardLease): Promise<void> {
    const current = await this.find(lease.record.shard);
    if (current === null || current.revision !== lease.revision) {
      throw fenced(lease, current);
    }
  }

  /**
   * Hands the shard to `nodeId` (or releases it with ''): a compare-and-set on the holder's revision,
   * so a stale holder cannot give away what it no longer has (XLAT64_ERR_FENCED). The new owner
   * gets the next epoch.
   */
  async transfer(lease: ShardLease, nodeId: string, nowMs: number): Promise<ShardLease> {
    const record: OwnershipRecord = {
      shard: lease.record.shard,
      owner: nodeId,
      epoch: nodeId === '' ? lease.record.epoch : lease.record.epoch + 1,
      sinceMs: nowMs,
    };
    return traced(controlPlaneTracer(), 'state.ownership.transfer', spanAttributes(record, lease), () =>
      this.handOver(lease, record),
    );
  }

  private async handOver(lease: ShardLease, record: OwnershipRecord): Promise<ShardLease> {
    withTraceparent(record);
    try {
      const revision = await this.kv.update(keyOf(record.shard), JSON.stringify(record), lease.revision);
      return { record, revision };
    } catch (error) {
      throw fenced(lease, await this.find(record.shard), error);
    }
  }
}

function spanAttributes(record: OwnershipRecord, previous: ShardLease | null) {
  return {
    'xlat64.shard': record.shard,
    'xlat64.owner': record.owner,
    'xlat64.epoch': record.epoch,
    'xlat64.previous_owner': previous?.record.owner ?? '',
  };
}

/** Stores the active span's traceparent in the record (KV writes have no headers to carry it). */
function withTraceparent(record: OwnershipRecord): void {
  const carrier = new Map<string, string>();
  injectTraceContext({ get: (k) => carrier.get(k), set: (k, v) => void carrier.set(k, v) });
  const traceparent = carrier.get('traceparent');
  if (traceparent !== undefined) record.traceparent = traceparent;
}

function keyOf(shard: number): string {
  assert.ok(Number.isInteger(shard) && shard >= 0, 'shard must be a non-negative integer');
  return `shard.${shard}`;
}

function fenced(lease: ShardLease, current: ShardLease | null, cause?: unknown): StateError {
  const now =
    current === null ? 'no owner' : `${current.record.owner || 'no owner'} at epoch ${current.record.epoch}`;
  return new StateError(
    'XLAT64_ERR_FENCED',
    `shard ${lease.record.shard}: ${lease.record.owner} (epoch ${lease.record.epoch}) no longer owns it, ${now} does — stop serving the shard`,
    cause === undefined ? undefined : { cause },
  );
}
