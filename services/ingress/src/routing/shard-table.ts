// The virtual-shard table (DESIGN.md "Sharding"): a fixed number of virtual shards (1024 by default), each
// with an owner and a standby member. It is data with a version: every ingress routes from the table it
// holds, a new owner assignment is a new version, and the packet path only reads typed arrays. Members
// are the node's workers for now; the cluster replaces them with nodes without touching the packet path.

import assert from 'node:assert/strict';
import { DataplaneError } from '../../../../libs/dataplane/src/index.js';

/** Default number of virtual shards. */
export const VIRTUAL_SHARDS_DEFAULT = 1024;
/** Largest number of virtual shards (a shard number fits 16 bits in ring tags and events). */
export const VIRTUAL_SHARDS_MAX = 1 << 16;
/** Largest number of members a table names. */
export const SHARD_MEMBERS_MAX = 1 << 12;
/** `standby[shard]` when the shard has no standby. */
export const NO_MEMBER = -1;

export class ShardTable {
  /** Increases with every new assignment; a holder never goes back to an older one. */
  readonly version: number;
  readonly shardCount: number;
  /** shardCount - 1: shard = hash & shardMask (the count is a power of two). */
  readonly shardMask: number;
  readonly memberCount: number;
  /** owner[shard]: member index (a worker of this node for now). */
  readonly owner: Int32Array;
  /** standby[shard]: member index, or NO_MEMBER. */
  readonly standby: Int32Array;

  constructor(version: number, memberCount: number, owner: Int32Array, standby: Int32Array) {
    assert.ok(Number.isInteger(version) && version >= 1, 'a shard table version is a positive integer');
    assert.ok(owner.length === standby.length, 'owner and standby cover the same shards');
    assert.ok(
      (owner.length & (owner.length - 1)) === 0 && owner.length > 0,
      'the shard count is a power of two',
    );
    for (let s = 0; s < owner.length; s++) {
      assert.ok(owner[s] >= 0 && owner[s] < memberCount, 'every shard has an owner among the members');
      assert.ok(
        standby[s] === NO_MEMBER || (standby[s] >= 0 && standby[s] < memberCount),
        'a standby is a member',
      );
      assert.ok(standby[s] !== owner[s], 'a shard is not its own standby');
    }
    this.version = version;
    this.shardCount = owner.length;
    this.shardMask = owner.length - 1;
    this.memberCount = memberCount;
    this.owner = owner;
    this.standby = standby;
  }

  /** The member owning `shard`. */
  ownerOf(shard: number): number {
    return this.owner[shard];
  }

  /** Shards owned by `member`, ascending. Control plane. */
  shardsOf(member: number): number[] {
    const shards: number[] = [];
    for (let s = 0; s < this.shardCount; s++) if (this.owner[s] === member) shards.push(s);
    return shards;
  }

  /** The next version with `shard` moved to `owner` (an explicit handover); the standby is kept unless it is the new owner. */
  withOwner(shard: number, owner: number): ShardTable {
    assert.ok(shard >= 0 && shard < this.shardCount, 'the moved shard exists');
    const owners = this.owner.slice();
    const standby = this.standby.slice();
    owners[shard] = owner;
    if (standby[shard] === owner) standby[shard] = NO_MEMBER;
    return new ShardTable(this.version + 1, this.memberCount, owners, standby);
  }

  /** Plain data for postMessage / a KV value (typed arrays survive structured clone). */
  toData(): ShardTableData {
    return { version: this.version, memberCount: this.memberCount, owner: this.owner, standby: this.standby };
  }

  static fromData(data: ShardTableData): ShardTable {
    return new ShardTable(
      data.version,
      data.memberCount,
      Int32Array.from(data.owner),
      Int32Array.from(data.standby),
    );
  }
}

export interface ShardTableData {
  version: number;
  memberCount: number;
  owner: Int32Array;
  standby: Int32Array;
}

/** Refuses a virtual-shard count that is not a power of two in [1, VIRTUAL_SHARDS_MAX], naming `field`. */
export function checkShardCount(shardCount: number, field: string): void {
  if (
    !Number.isInteger(shardCount) ||
    shardCount < 1 ||
    shardCount > VIRTUAL_SHARDS_MAX ||
    (shardCount & (shardCount - 1)) !== 0
  ) {
    throw new DataplaneError(
      'XLAT64_ERR_CONFIG',
      `${field}: ${shardCount} virtual shards: must be a power of two from 1 to ${VIRTUAL_SHARDS_MAX} ` +
        `(a shard is picked by masking a hash); use ${VIRTUAL_SHARDS_DEFAULT}`,
      { field },
    );
  }
}

/**
 * The first table of a node: shard s owned by member s mod memberCount, its standby the next member (none
 * with one member). Deterministic, so every holder computing it from the same inputs gets the same table;
 * every member owns shardCount / memberCount shards, give or take one.
 */
export function createShardTable(options: {
  memberCount: number;
  shardCount?: number;
  version?: number;
  field?: string;
}): ShardTable {
  const shardCount = options.shardCount ?? VIRTUAL_SHARDS_DEFAULT;
  checkShardCount(shardCount, options.field ?? 'shards');
  const members = options.memberCount;
  assert.ok(
    Number.isInteger(members) && members >= 1 && members <= SHARD_MEMBERS_MAX,
    'a table has 1..4096 members',
  );
  const owner = new Int32Array(shardCount);
  const standby = new Int32Array(shardCount);
  for (let s = 0; s < shardCount; s++) {
    owner[s] = s % members;
    standby[s] = members > 1 ? (s + 1) % members : NO_MEMBER;
  }
  return new ShardTable(options.version ?? 1, members, owner, standby);
}
