// The cluster view the main thread hands its workers: the latest ownership table (table shard = worker
// shard of every node) and the members' fabric addresses, as shared JSON (../shared-json.ts); each worker
// polls it in its maintenance tick and, when it moved, installs the routing table derived from it
// (`routingTableOf`) and the fabric's view.
import assert from 'node:assert/strict';
import {
  decodeTable,
  encodeTable,
  type FabricPeer,
  type OwnershipTable,
} from '../../../cluster/src/index.js';
import { ShardTable } from '../routing/index.js';
import { createSharedJsonMemory, publishSharedJson, SharedJsonReader } from '../shared-json.js';

/** Room for the JSON of a table of 16 shards and a few hundred members. */
export const CLUSTER_VIEW_BYTES = 1 << 20;

export interface ClusterView {
  table: OwnershipTable;
  /** Every member of the table with its fabric address (this node included). */
  peers: FabricPeer[];
}

/** The view as it travels: the table in its encoded form. */
interface PublishedView {
  table: string;
  peers: FabricPeer[];
}

export function createClusterViewMemory(): SharedArrayBuffer {
  return createSharedJsonMemory(CLUSTER_VIEW_BYTES);
}

/** Writes `view` for the workers (main thread; one writer). */
export function publishClusterView(memory: SharedArrayBuffer, view: ClusterView): void {
  const published: PublishedView = { table: encodeTable(view.table), peers: view.peers };
  assert.ok(publishSharedJson(memory, published), 'the cluster view fits its shared memory');
}

/** A worker's reader of the published view. */
export class ClusterViewReader {
  private readonly reader: SharedJsonReader<PublishedView>;

  constructor(memory: SharedArrayBuffer) {
    this.reader = new SharedJsonReader(memory);
  }

  /** The view published since the last call; undefined when nothing was (or a write is under way). */
  poll(): ClusterView | undefined {
    const parsed = this.reader.poll();
    return parsed === undefined ? undefined : { table: decodeTable(parsed.table), peers: parsed.peers };
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
