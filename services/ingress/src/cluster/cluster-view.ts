// The cluster view the main thread hands its workers: the latest ownership table (table shard = worker
// shard of every node) and the members' fabric addresses. Written as JSON into a SharedArrayBuffer under a
// sequence lock (as tenants/tenant-publish.ts); each worker looks at the sequence in its maintenance tick
// and, when it moved, installs the routing table derived from it (`routingTableOf`) and the fabric's view.
import assert from 'node:assert/strict';
import {
  decodeTable,
  encodeTable,
  type FabricPeer,
  type OwnershipTable,
} from '../../../cluster/src/index.js';
import { ShardTable } from '../routing/index.js';

const HEADER_WORDS = 2;
/** Room for the JSON of a table of 16 shards and a few hundred members. */
export const CLUSTER_VIEW_BYTES = 1 << 20;

export interface ClusterView {
  table: OwnershipTable;
  /** Every member of the table with its fabric address (this node included). */
  peers: FabricPeer[];
}

export function createClusterViewMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_WORDS * 4 + CLUSTER_VIEW_BYTES);
}

/** Writes `view` for the workers (main thread; one writer). */
export function publishClusterView(memory: SharedArrayBuffer, view: ClusterView): void {
  const bytes = new TextEncoder().encode(
    JSON.stringify({ table: encodeTable(view.table), peers: view.peers }),
  );
  assert.ok(bytes.length <= CLUSTER_VIEW_BYTES, 'the cluster view fits its shared memory');
  const header = new Int32Array(memory, 0, HEADER_WORDS);
  Atomics.add(header, 0, 1); // odd: a write is under way
  new Uint8Array(memory, HEADER_WORDS * 4, bytes.length).set(bytes);
  Atomics.store(header, 1, bytes.length);
  Atomics.add(header, 0, 1); // even: complete
}

/** A worker's reader of the published view. */
export class ClusterViewReader {
  private seen = 0;
  private readonly header: Int32Array;

  constructor(private readonly memory: SharedArrayBuffer) {
    this.header = new Int32Array(memory, 0, HEADER_WORDS);
  }

  /** The view published since the last call; undefined when nothing was (or a write is under way). */
  poll(): ClusterView | undefined {
    const before = Atomics.load(this.header, 0);
    if (before === this.seen || (before & 1) === 1) return undefined;
    const length = Atomics.load(this.header, 1);
    const copy = new Uint8Array(length);
    copy.set(new Uint8Array(this.memory, HEADER_WORDS * 4, length));
    if (Atomics.load(this.header, 0) !== before) return undefined; // rewritten meanwhile: next tick
    this.seen = before;
    const parsed = JSON.parse(new TextDecoder().decode(copy)) as { table: string; peers: FabricPeer[] };
    return { table: decodeTable(parsed.table), peers: parsed.peers };
  }
}

/**
 * The routing table a node's workers use for a cluster table: virtual shard s belongs to table shard
 * s mod workers (the worker shard, as createShardTable assigns them on every node); it is routed to this
 * node's worker of that number when the table names this node its owner, else to the member `workers`
 * ("remote": forwarded over the fabric to the owner). The version is the cluster table's.
 */
export function routingTableOf(
  table: OwnershipTable,
  nodeId: string,
  workers: number,
  virtualShards: number,
): ShardTable {
  assert.equal(table.shardCount, workers, 'a table shard is a worker shard of every node');
  const owner = new Int32Array(virtualShards);
  const standby = new Int32Array(virtualShards).fill(-1);
  for (let s = 0; s < virtualShards; s++) {
    const shard = s % workers;
    owner[s] = table.members[table.owner[shard]] === nodeId ? shard : workers;
  }
  return new ShardTable(table.version + 1, workers + 1, owner, standby);
}
