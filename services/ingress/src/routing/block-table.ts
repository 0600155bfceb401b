// IPv4 -> virtual shard by (pool address, port block) (DESIGN.md "Sharding"): return traffic carries no
// subscriber, only the pool address and port the subscriber's shard chose, so every ingress keeps a table
// of which shard holds each block, current from the engines' BlockLeased / BlockReleased events. A leased
// block's shard is its subscriber's (the event names the subscriber), so it needs no field of its own.

import assert from 'node:assert/strict';
import { type NatEngineConfig, type NatEvent, NatEventType } from '../../../nat-engine/src/index.js';
import type { SubscriberShardHash } from './subscriber-shard.js';

/** `shardOf` when no shard holds the block (never leased, or released), or the port is in no block. */
export const NO_SHARD = -1;
/** Most static BIB entries the table routes (they lie outside the block ranges). */
export const STATIC_ROUTES_MAX = 1 << 16;

/** Shared memory for the block tables of a node's workers (one word per block of the pool). */
export function createBlockTableStorage(config: NatEngineConfig): SharedArrayBuffer {
  return new SharedArrayBuffer(config.totalBlocks * 4);
}

export class BlockTable {
  private readonly rangeFirst: Uint32Array;
  private readonly rangeLast: Uint32Array;
  private readonly rangeBase: Uint32Array;
  private readonly portFirst = new Int32Array(3);
  private readonly portLast = new Int32Array(3);
  private readonly blocksPerAddress = new Int32Array(3);
  private readonly blockBase = new Int32Array(3);
  private readonly blockSizePorts: number;
  /** shard + 1 of each block, 0 = none (so a fresh table is all "none" without a fill). */
  private readonly blockShard: Int32Array;
  private readonly hash: SubscriberShardHash;
  // Static BIB entries: open addressing over (slot, address index, port) -> shard + 1.
  private readonly staticKey: Int32Array;
  private readonly staticPort: Int32Array;
  private readonly staticShard: Int32Array;
  private staticCount = 0;
  /** Events applied (BlockLeased + BlockReleased); the status shows it next to the engines' counts. */
  blockEvents = 0;
  /**
   * Told of every block whose shard changes (protocol slot, pool address, block number inside the
   * address's range, the shard or NO_SHARD): a TUN steering program's block map (ShardRouter.steer).
   */
  onBlockChange: ((slot: number, address: number, blockNumber: number, shard: number) => void) | null = null;

  /**
   * `storage` (from `createBlockTableStorage`): the shard words in shared memory, so every worker of a node
   * reads the blocks every other worker's engine leased, the moment its event is applied. A block's word is
   * written only by the events of the shard holding it.
   */
  constructor(config: NatEngineConfig, hash: SubscriberShardHash, storage?: SharedArrayBuffer) {
    this.rangeFirst = config.rangeFirst;
    this.rangeLast = config.rangeLast;
    this.rangeBase = config.rangeBase;
    this.blockSizePorts = config.blockSizePorts;
    let base = 0;
    for (let slot = 0; slot < 3; slot++) {
      const p = config.protocols[slot];
      this.portFirst[slot] = p.portFirst;
      this.portLast[slot] = p.portLast;
      this.blocksPerAddress[slot] = p.blocksPerAddress;
      this.blockBase[slot] = base;
      base += p.blocksPerAddress * config.poolAddressCount;
    }
    assert.ok(base === config.totalBlocks, 'the block numbering is the same as the engine state');
    if (storage !== undefined)
      assert.ok(storage.byteLength === base * 4, 'shared block words were made for this pool');
    this.blockShard = storage === undefined ? new Int32Array(base) : new Int32Array(storage);
    this.hash = hash;
    const staticSlots = 1 << Math.max(4, 32 - Math.clz32(config.staticBib.length * 2));
    this.staticKey = new Int32Array(staticSlots);
    this.staticPort = new Int32Array(staticSlots);
    this.staticShard = new Int32Array(staticSlots);
    for (const entry of config.staticBib) {
      this.addStatic(entry.protocolSlot, entry.ipv4, entry.ipv4Port, hash.shardOfWords(entry.ipv6));
    }
  }

  /** Keeps the table current: BlockLeased gives the block to its subscriber's shard, BlockReleased frees it. */
  applyEvent(event: NatEvent): void {
    if (event.type === NatEventType.BlockLeased) {
      const block = this.blockOf(event.protocol, event.address, event.firstPort);
      assert.ok(block >= 0, 'a leased block is in the pool and the dynamic port range');
      this.blockShard[block] = this.hash.shardOfWords(event.subscriber) + 1;
      this.blockEvents++;
      this.onBlockChange?.(
        event.protocol,
        event.address,
        (event.firstPort - this.portFirst[event.protocol]) / this.blockSizePorts,
        this.blockShard[block] - 1,
      );
    } else if (event.type === NatEventType.BlockReleased) {
      const block = this.blockOf(event.protocol, event.address, event.firstPort);
      assert.ok(block >= 0, 'a released block is in the pool and the dynamic port range');
      this.blockShard[block] = 0;
      this.blockEvents++;
      this.onBlockChange?.(
        event.protocol,
        event.address,
        (event.firstPort - this.portFirst[event.protocol]) / this.blockSizePorts,
        NO_SHARD,
      );
    }
  }

  /**
   * The same for an event of table shard `holder` (of `holders`; virtual shard s belongs to s mod holders)
   * that this node folds as that shard's standby, while another node owns it: so IPv4 return traffic that
   * arrives here is routed to the owner. Replicas of different shards fold at their own pace, so a block's
   * next holder's lease may come before its former holder's release: a release clears the block only while
   * it still names one of `holder`'s virtual shards. (The pool's hold-down, `portReuseHoldMs`, keeps a
   * released block unleased far longer than a standby lags.)
   */
  applyReplicaEvent(event: NatEvent, holder: number, holders: number): void {
    if (event.type === NatEventType.BlockReleased) {
      const block = this.blockOf(event.protocol, event.address, event.firstPort);
      assert.ok(block >= 0, 'a released block is in the pool and the dynamic port range');
      const word = this.blockShard[block];
      if (word !== 0 && (word - 1) % holders === holder) {
        this.blockShard[block] = 0;
        this.onBlockChange?.(
          event.protocol,
          event.address,
          (event.firstPort - this.portFirst[event.protocol]) / this.blockSizePorts,
          NO_SHARD,
        );
      }
      this.blockEvents++;
    } else this.applyEvent(event);
  }

  /**
   * Shard holding (protocol slot, pool address, port) — the destination of an IPv4 packet, the identifier
   * for ICMP queries — or NO_SHARD. No allocation: a binary search over the pool's ranges and an array read.
   */
  shardOf(slot: number, address: number, port: number): number {
    const addressIndex = this.addressIndexOf(address >>> 0);
    if (addressIndex < 0) return NO_SHARD;
    if (port >= this.portFirst[slot] && port <= this.portLast[slot]) {
      const block =
        this.blockBase[slot] +
        addressIndex * this.blocksPerAddress[slot] +
        (((port - this.portFirst[slot]) / this.blockSizePorts) | 0);
      return this.blockShard[block] - 1;
    }
    return this.staticCount === 0 ? NO_SHARD : this.findStatic(slot, addressIndex, port);
  }

  /** Calls `visit` for every leased block (slot, pool address, block number, shard). Control plane. */
  forEachLeased(visit: (slot: number, address: number, blockNumber: number, shard: number) => void): void {
    for (let r = 0; r < this.rangeFirst.length; r++) {
      for (let address = this.rangeFirst[r]; address <= this.rangeLast[r]; address++) {
        const addressIndex = this.rangeBase[r] + (address - this.rangeFirst[r]);
        for (let slot = 0; slot < 3; slot++) {
          const first = this.blockBase[slot] + addressIndex * this.blocksPerAddress[slot];
          for (let b = 0; b < this.blocksPerAddress[slot]; b++) {
            const word = this.blockShard[first + b];
            if (word !== 0) visit(slot, address >>> 0, b, word - 1);
          }
        }
      }
    }
  }

  /** The dynamic port range of each protocol slot and the block size (what a steering program needs). */
  get geometry(): { portFirst: Int32Array; portLast: Int32Array; blockSizePorts: number } {
    return { portFirst: this.portFirst, portLast: this.portLast, blockSizePorts: this.blockSizePorts };
  }

  /** True when (protocol slot, address, port) lies in a dynamic block of the pool (leased or not). */
  inBlock(slot: number, address: number, port: number): boolean {
    return (
      this.addressIndexOf(address >>> 0) >= 0 && port >= this.portFirst[slot] && port <= this.portLast[slot]
    );
  }

  /** Routes a static BIB entry (outside the dynamic port range) to `shard`. Control plane. */
  addStatic(slot: number, address: number, port: number, shard: number): void {
    const addressIndex = this.addressIndexOf(address >>> 0);
    assert.ok(addressIndex >= 0, 'a static entry is on a pool address');
    assert.ok(
      this.staticCount < STATIC_ROUTES_MAX && this.staticCount * 2 < this.staticKey.length,
      'room for a static route',
    );
    const mask = this.staticKey.length - 1;
    const key = addressIndex * 4 + slot + 1;
    let i = (Math.imul(key ^ (port << 16), 0x9e3779b1) >>> 8) & mask;
    while (this.staticKey[i] !== 0 && !(this.staticKey[i] === key && this.staticPort[i] === port))
      i = (i + 1) & mask;
    if (this.staticKey[i] === 0) this.staticCount++;
    this.staticKey[i] = key;
    this.staticPort[i] = port;
    this.staticShard[i] = shard + 1;
  }

  private findStatic(slot: number, addressIndex: number, port: number): number {
    const mask = this.staticKey.length - 1;
    const key = addressIndex * 4 + slot + 1;
    let i = (Math.imul(key ^ (port << 16), 0x9e3779b1) >>> 8) & mask;
    for (;;) {
      const k = this.staticKey[i];
      if (k === 0) return NO_SHARD;
      if (k === key && this.staticPort[i] === port) return this.staticShard[i] - 1;
      i = (i + 1) & mask;
    }
  }

  /** Block index of a block-aligned (slot, address, firstPort), or -1. */
  private blockOf(slot: number, address: number, firstPort: number): number {
    const addressIndex = this.addressIndexOf(address >>> 0);
    if (addressIndex < 0 || firstPort < this.portFirst[slot] || firstPort > this.portLast[slot]) return -1;
    if ((firstPort - this.portFirst[slot]) % this.blockSizePorts !== 0) return -1;
    return (
      this.blockBase[slot] +
      addressIndex * this.blocksPerAddress[slot] +
      (firstPort - this.portFirst[slot]) / this.blockSizePorts
    );
  }

  /** Index of a pool address, or -1: binary search over the sorted ranges (pools are a few ranges). */
  private addressIndexOf(address: number): number {
    const first = this.rangeFirst;
    const last = this.rangeLast;
    let lo = 0;
    let hi = first.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (address < first[mid]) hi = mid - 1;
      else if (address > last[mid]) lo = mid + 1;
      else return this.rangeBase[mid] + (address - first[mid]);
    }
    return -1;
  }
}
