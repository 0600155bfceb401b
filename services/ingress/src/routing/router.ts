// Shard routing of one ingress: which virtual shard a packet belongs to, and which member owns it now.
// IPv6 (subscriber side): by the source's subscriber key. IPv4 (Internet side): by the (pool address,
// port block) of its destination, through the block table; IPv4 fragments without ports are resolved by
// the fragment table before they get here. The owner comes from the versioned shard table, which the
// control plane swaps for a newer version; the packet path reads two typed arrays and allocates nothing.

import assert from 'node:assert/strict';
import type { SteeringConfig } from '../../../../libs/tun/src/index.js';
import type { NatEngineConfig, NatEvent } from '../../../nat-engine/src/index.js';
import { BlockTable, NO_SHARD } from './block-table.js';
import type { ShardTable } from './shard-table.js';
import { SubscriberShardHash } from './subscriber-shard.js';

/** IPv6 header offset of the source address (RFC 8200 sec. 3). */
const IPV6_SOURCE_OFFSET = 8;

/** What the router keeps current in a TUN steering program (libs/tun TunSteering). */
export interface SteeringMaps {
  configure(config: SteeringConfig): void;
  setShardQueue(shard: number, queue: number): void;
  setBlock(address: number, slot: number, blockNumber: number, shard: number): boolean;
}

export class ShardRouter {
  readonly subscribers: SubscriberShardHash;
  readonly blocks: BlockTable;
  private tableNow: ShardTable;
  private steering: SteeringMaps | null = null;
  private steeringWorkers = 0;
  /** Block leases the steering program's map had no room for (those blocks are routed in JavaScript). */
  steeringBlocksRefused = 0;

  constructor(
    table: ShardTable,
    config: NatEngineConfig,
    options: { seed?: number; blockStorage?: SharedArrayBuffer } = {},
  ) {
    this.tableNow = table;
    this.subscribers = new SubscriberShardHash({
      prefixLength: config.subscriberPrefixLength,
      lengths: config.subscriberLengths,
      shardCount: table.shardCount,
      seed: options.seed,
    });
    this.blocks = new BlockTable(config, this.subscribers, options.blockStorage);
  }

  get table(): ShardTable {
    return this.tableNow;
  }

  /** Installs a newer table (an explicit handover, a member change). An older or equal version is refused. */
  setTable(table: ShardTable): void {
    assert.ok(table.version > this.tableNow.version, 'a shard table is replaced only by a newer version');
    assert.ok(table.shardCount === this.tableNow.shardCount, 'the number of virtual shards never changes');
    this.tableNow = table;
    if (this.steering !== null) this.steerShards();
  }

  /**
   * Keeps a TUN steering program current with this router, for a node of `workers` queue workers: its
   * configuration (the subscriber hash, the pool's block geometry), every shard's queue (its owner; a
   * shard another node owns goes to worker 0, the fabric's), and every block lease from now on, after
   * pushing the blocks leased so far. Each worker's router pushes what its own engine leases.
   */
  steer(steering: SteeringMaps, workers: number): void {
    this.steering = steering;
    this.steeringWorkers = workers;
    this.refreshSteering();
    this.steerShards();
    const push = (slot: number, address: number, blockNumber: number, shard: number) => {
      if (!steering.setBlock(address, slot, blockNumber, shard)) this.steeringBlocksRefused++;
    };
    this.blocks.onBlockChange = push;
    this.blocks.forEachLeased(push);
  }

  /** Sends the steering program the current configuration (again after tenants change subscriber lengths). */
  refreshSteering(): void {
    if (this.steering === null) return;
    const geometry = this.blocks.geometry;
    this.steering.configure({
      shardCount: this.tableNow.shardCount,
      ipv6: this.subscribers.steeringWords(),
      ipv4: geometry,
    });
  }

  private steerShards(): void {
    const owner = this.tableNow.owner;
    for (let shard = 0; shard < owner.length; shard++) {
      const o = owner[shard];
      this.steering!.setShardQueue(shard, o < 0 ? -1 : o >= this.steeringWorkers ? 0 : o);
    }
  }

  /** Virtual shard of an IPv6 packet starting at `ipOffset` (its source's subscriber). */
  shardOf6(packet: Uint8Array, ipOffset: number): number {
    return this.subscribers.shardOfAddress(packet, ipOffset + IPV6_SOURCE_OFFSET);
  }

  /** Virtual shard of an IPv4 packet's destination (protocol slot, pool address, port), or NO_SHARD. */
  shardOf4(slot: number, address: number, port: number): number {
    return this.blocks.shardOf(slot, address, port);
  }

  /** Owner of a virtual shard (NO_SHARD in, -1 out). */
  ownerOf(shard: number): number {
    return shard === NO_SHARD ? -1 : this.tableNow.owner[shard];
  }

  /** Feeds an engine event to the block table (BlockLeased / BlockReleased; others are ignored). */
  applyEvent(event: NatEvent): void {
    this.blocks.applyEvent(event);
  }

  /** Feeds an event a standby folded for table shard `holder` of `holders` (BlockTable.applyReplicaEvent). */
  applyReplicaEvent(event: NatEvent, holder: number, holders: number): void {
    this.blocks.applyReplicaEvent(event, holder, holders);
  }
}
