// Cluster membership by heartbeats in NATS KV (DESIGN.md "Cluster plane"): every node puts its record
// under `node.<id>` every heartbeat interval; every node watches the bucket and holds a member live while
// its heartbeats keep arriving. Freshness is judged by the observer's own clock at receipt (never by
// the sender's timestamp), so clock skew between nodes cannot keep a dead node alive or drop a live one.
import assert from 'node:assert/strict';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ClusterError, configError } from './errors.js';

export const MEMBERS_BUCKET = 'xlat64-members';
/** Default detection time: a member whose heartbeats stop is dropped within this (DESIGN.md: target ≤ 1 s). */
export const DETECTION_MS_DEFAULT = 1000;
/** Keys of members gone without a goodbye are removed by the bucket's TTL after this long. */
const MEMBER_KEY_TTL_MS = 60_000;
const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** What a node announces in its heartbeat (JSON in the KV). */
export interface MemberRecord {
  nodeId: string;
  /** Where the node receives fabric packets: `host:port` (IPv6 in brackets). */
  fabricAddress: string;
  /** The node's clock at its start and at this heartbeat (informative: liveness uses receipt time). */
  startedMs: number;
  heartbeatMs: number;
}

export interface MembershipChange {
  joined: string[];
  left: string[];
  /** Live members after the change, sorted by node id. */
  members: readonly MemberRecord[];
}

export interface MembershipOptions {
  nodeId: string;
  fabricAddress: string;
  /** A member is dropped when no heartbeat arrived for this long (default 1000 ms). */
  detectionMs?: number;
  /** Heartbeat period (default detectionMs / 4: three lost heartbeats in a row are tolerated). */
  heartbeatIntervalMs?: number;
  bucket?: string;
  /** Monotonic clock in ms (injectable for tests; default performance.now). */
  now?: () => number;
}

/** Refuses a node id that cannot be a KV key token, naming the field and the fix. */
export function checkNodeId(nodeId: string, field = 'nodeId'): void {
  if (!NODE_ID_PATTERN.test(nodeId)) {
    throw configError(field, `"${nodeId}" is not a node id`, 'use 1-64 letters, digits, "-" or "_"');
  }
}

export class Membership {
  readonly nodeId: string;
  readonly detectionMs: number;
  readonly heartbeatIntervalMs: number;
  private readonly now: () => number;
  private readonly record: MemberRecord;
  /** Live members by id, with the observer's receipt time of their latest heartbeat. */
  private readonly live = new Map<string, { record: MemberRecord; seenMs: number }>();
  /** Nodes seen once (revision of that heartbeat), not yet live. */
  private readonly sighted = new Map<string, { revision: number; seenMs: number }>();
  private readonly listeners: Array<(change: MembershipChange) => void> = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private watcher: { stop(): void } | undefined;
  private stopped = false;
  heartbeatFailures = 0;

  private constructor(
    private readonly kv: KV,
    options: MembershipOptions,
  ) {
    this.nodeId = options.nodeId;
    this.detectionMs = options.detectionMs ?? DETECTION_MS_DEFAULT;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.max(1, Math.floor(this.detectionMs / 4));
    this.now = options.now ?? (() => performance.now());
    const wall = Date.now();
    this.record = {
      nodeId: options.nodeId,
      fabricAddress: options.fabricAddress,
      startedMs: wall,
      heartbeatMs: wall,
    };
  }

  /** Joins: opens the bucket, starts watching it and heartbeating. Bad options are refused by field. */
  static async start(nc: NatsConnection, options: MembershipOptions): Promise<Membership> {
    checkNodeId(options.nodeId);
    const detectionMs = options.detectionMs ?? DETECTION_MS_DEFAULT;
    if (!Number.isInteger(detectionMs) || detectionMs < 50 || detectionMs > 60_000) {
      throw configError(
        'detectionMs',
        `${detectionMs} ms`,
        'give an integer from 50 to 60000 (default 1000)',
      );
    }
    const interval = options.heartbeatIntervalMs;
    if (interval !== undefined && (!Number.isInteger(interval) || interval < 1 || interval >= detectionMs)) {
      throw configError(
        'heartbeatIntervalMs',
        `${interval} ms with detectionMs ${detectionMs}`,
        'give an integer below detectionMs (default detectionMs / 4)',
      );
    }
    let kv: KV;
    try {
      kv = await new Kvm(jetstream(nc)).create(options.bucket ?? MEMBERS_BUCKET, {
        history: 1,
        ttl: MEMBER_KEY_TTL_MS,
      });
    } catch (error) {
      throw new ClusterError(
        'XLAT64_ERR_CLUSTER_UNAVAILABLE',
        `cannot open the membership bucket: ${(error as Error).message} — check that NATS runs with JetStream`,
        { cause: error },
      );
    }
    const membership = new Membership(kv, options);
    await membership.startWatching();
    await membership.heartbeat();
    membership.heartbeatTimer = setInterval(
      () => void membership.heartbeat(),
      membership.heartbeatIntervalMs,
    );
    const checkMs = Math.max(1, Math.floor(membership.detectionMs / 8));
    membership.expiryTimer = setInterval(() => membership.expire(), checkMs);
    return membership;
  }

  /** Live members, sorted by node id. */
  members(): MemberRecord[] {
    return [...this.live.values()].map((m) => m.record).sort(byNodeId);
  }

  /** Calls `listener` on every change of the live set (joins and leaves of one check come together). */
  onChange(listener: (change: MembershipChange) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Stops heartbeating. `graceful` (the default) deletes the node's key so the others drop it at once;
   * without it the node just goes silent, as a crashed one does, and is dropped after detectionMs.
   */
  async stop(graceful = true): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.expiryTimer);
    this.watcher?.stop();
    if (graceful) {
      try {
        await this.kv.delete(keyOf(this.nodeId));
      } catch {
        // NATS unreachable: the others drop this node by detection time instead.
      }
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    this.record.heartbeatMs = Date.now();
    try {
      await this.kv.put(keyOf(this.nodeId), JSON.stringify(this.record));
    } catch {
      // Counted; a node that cannot heartbeat is dropped by the others, which is what it should be.
      this.heartbeatFailures++;
    }
  }

  private async startWatching(): Promise<void> {
    const iterator = await this.kv.watch({ key: 'node.*' });
    this.watcher = iterator;
    void (async () => {
      for await (const entry of iterator) {
        if (this.stopped) break;
        const nodeId = entry.key.slice('node.'.length);
        if (entry.operation !== 'PUT') {
          this.sighted.delete(nodeId);
          this.leave([nodeId]);
          continue;
        }
        let record: MemberRecord;
        try {
          record = entry.json<MemberRecord>();
        } catch {
          continue;
        }
        if (record.nodeId !== nodeId) continue;
        const known = this.live.get(nodeId);
        if (known === undefined) {
          // A value already in the bucket when the watch starts may be a dead node's last heartbeat
          // (and nats.js flags the last such value as an update): a node becomes live at the second
          // heartbeat seen while watching, so joining costs one heartbeat interval.
          const first = this.sighted.get(nodeId);
          if (first === undefined || first.revision === entry.revision) {
            this.sighted.set(nodeId, { revision: entry.revision, seenMs: this.now() });
            continue;
          }
          this.sighted.delete(nodeId);
        }
        this.live.set(nodeId, { record, seenMs: this.now() });
        if (known === undefined) this.emit([nodeId], []);
      }
    })();
  }

  /** Drops every member whose latest heartbeat is older than detectionMs (by this observer's clock). */
  private expire(): void {
    const now = this.now();
    const gone: string[] = [];
    for (const [nodeId, member] of this.live) {
      if (now - member.seenMs > this.detectionMs) gone.push(nodeId);
    }
    if (gone.length > 0) this.leave(gone);
    // A node seen once and then silent (a dead node's last heartbeat) is forgotten, bounding the map.
    for (const [nodeId, first] of this.sighted) {
      if (now - first.seenMs > this.detectionMs) this.sighted.delete(nodeId);
    }
  }

  private leave(nodeIds: string[]): void {
    const left = nodeIds.filter((id) => this.live.delete(id));
    if (left.length > 0) this.emit([], left);
  }

  private emit(joined: string[], left: string[]): void {
    assert.ok(joined.length + left.length > 0, 'a membership change changes something');
    const change: MembershipChange = { joined, left, members: this.members() };
    for (const listener of this.listeners) listener(change);
  }
}

function keyOf(nodeId: string): string {
  return `node.${nodeId}`;
}

function byNodeId(a: MemberRecord, b: MemberRecord): number {
  return a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0;
}
