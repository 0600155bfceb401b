// One node's IPv4 pool shared by the engines of all its shards (RFC 6888 REQ-2 paired pooling across
// shards, no shared transport address): a block-lessee array in a SharedArrayBuffer that every worker
// thread maps. A lease is one compare-and-swap on the block's word, so two shards never hold the same
// block, with no lock and no message; a subscriber lives on one shard, so its one address is that shard's
// business (paired pooling needs no coordination). Chosen over pre-partitioned pool ranges: a shard's
// share follows its subscribers' demand instead of a fixed 1/N of the pool, and moving a shard to another
// worker moves no pool range.

import { addressAt, type NatEngineConfig } from '../config.js';
import { assert } from '../errors.js';
import { type BlockLeasedEvent, NAT_EVENT_SCHEMA_VERSION, NatEventType } from '../events.js';
import type { RandomSource } from '../random.js';
import type { NatState } from '../tables/nat-state.js';
import { POOL_REFUSED, type PoolAllocator } from './allocator.js';

/**
 * Shares of the pool (tenants, services/ingress): each subscriber belongs to one share, which leases
 * only on its own addresses and at most `blocksMax` blocks at once node-wide (counted in `leased`, a
 * shared Int32Array every worker maps), and gives each subscriber at most `subscriberBlocksMax` blocks per
 * protocol. A subscriber of no share (-1) is refused. Control-plane built; read on every lease only.
 */
export interface PoolShares {
  /** Share of the subscriber whose masked prefix starts with the words (w0, w1); -1: none. */
  shareOf(w0: number, w1: number): number;
  /** Per share: the pool address indices (engine numbering) it leases on; never empty. */
  readonly addresses: readonly Int32Array[];
  /** Per share: most blocks leased at once by the node's shards together (0: no quota). */
  readonly blocksMax: Int32Array;
  /** Per share: most blocks of one subscriber per protocol (0: the node's subscriberBlocksMax). */
  readonly subscriberBlocksMax: Int32Array;
  /** Per share: blocks leased now, node-wide (an Int32Array over a SharedArrayBuffer). */
  readonly leased: Int32Array;
}

/** Share index of a leased block (-1: leased without shares). */
const NO_SHARE = -1;

/** `lessee[block]` of a free block; a leased block holds its shard + 1. */
const FREE = 0;

/** The shared words of a node's pool: pass `buffer` to every worker and attach there. */
export interface SharedPoolMemory {
  readonly buffer: SharedArrayBuffer;
  readonly totalBlocks: number;
  readonly poolAddressCount: number;
}

/** Lessee words (one per block, in the engine's block numbering) and free-block counts per (address, protocol). */
export function createSharedPoolMemory(config: NatEngineConfig): SharedPoolMemory {
  const words = config.totalBlocks + config.poolAddressCount * 3;
  const memory = {
    buffer: new SharedArrayBuffer(words * 4),
    totalBlocks: config.totalBlocks,
    poolAddressCount: config.poolAddressCount,
  };
  const free = new Int32Array(memory.buffer, config.totalBlocks * 4, config.poolAddressCount * 3);
  for (let a = 0; a < config.poolAddressCount; a++) {
    for (let slot = 0; slot < 3; slot++) free[a * 3 + slot] = config.protocols[slot].blocksPerAddress;
  }
  return memory;
}

/** Blocks leased per shard, read from the shared words (status, tests). */
export function sharedPoolLessees(memory: SharedPoolMemory): Int32Array {
  return new Int32Array(memory.buffer, 0, memory.totalBlocks).slice();
}

/**
 * The PoolAllocator of one shard's engine over the node's shared pool. `tryLease` claims a block by CAS
 * (a lost race moves on to the next block); `released` frees the word after the engine's BlockReleased.
 * A block is released only after blockIdleTimeoutMs >= portReuseHoldMs without a mapping, so every port
 * in it is past its RFC 6888 hold-down when another shard leases it.
 */
export class SharedPoolAllocator implements PoolAllocator {
  private readonly state: NatState;
  private readonly random: RandomSource;
  private readonly lessee: Int32Array;
  private readonly free: Int32Array;
  private readonly mark: number;
  /** Claims lost to another shard between reading a block free and the CAS. */
  racesLost = 0;
  private shares: PoolShares | null;
  /** The share each block this shard leased was counted against (NO_SHARE when free or without shares). */
  private readonly blockShare: Int32Array;
  /**
   * The node-wide counters those blocks were counted in (the last shares' `leased`): kept while shares are
   * off (setShares(null)), so a block released then still gives its count back.
   */
  private countedIn: Int32Array | null;

  constructor(
    memory: SharedPoolMemory,
    shard: number,
    state: NatState,
    random: RandomSource,
    shares: PoolShares | null = null,
  ) {
    const config = state.config;
    assert(memory.buffer instanceof SharedArrayBuffer, 'the shared pool lives in a SharedArrayBuffer');
    assert(
      memory.totalBlocks === config.totalBlocks && memory.poolAddressCount === config.poolAddressCount,
      'the shared pool was built from the same pool configuration as the engine',
    );
    assert(
      Number.isInteger(shard) && shard >= 0 && shard < 0x7fffffff,
      'a shard number is a non-negative int32',
    );
    this.state = state;
    this.random = random;
    this.lessee = new Int32Array(memory.buffer, 0, memory.totalBlocks);
    this.free = new Int32Array(memory.buffer, memory.totalBlocks * 4, memory.poolAddressCount * 3);
    this.mark = shard + 1;
    this.shares = shares;
    this.countedIn = shares === null ? null : shares.leased;
    this.blockShare = new Int32Array(memory.totalBlocks).fill(NO_SHARE);
    if (shares !== null) {
      // Blocks restored with the state (a restart) count against their subscriber's share.
      const p = state.subscriberPrefix;
      for (let block = 0; block < state.blockOwner.length; block++) {
        const owner = state.blockOwner[block];
        if (owner === -1) continue;
        const share = shares.shareOf(p[owner * 4] | 0, p[owner * 4 + 1] | 0);
        if (share < 0) continue;
        this.blockShare[block] = share;
        Atomics.add(shares.leased, share, 1);
      }
    }
  }

  tryLease(
    subscriber: Uint32Array,
    protocolSlot: number,
    preferredAddressIndex: number,
    _nowMs: number,
  ): number {
    const state = this.state;
    if (!state.hasSlabRoom()) return -1;
    if (this.shares !== null) return this.tryLeaseInShare(subscriber, protocolSlot, preferredAddressIndex);
    if (preferredAddressIndex >= 0) return this.leaseOn(preferredAddressIndex, protocolSlot);
    // A new subscriber: a random address with a free block in this protocol (spread over the pool).
    const addresses = state.config.poolAddressCount;
    const start = this.random.nextUint32() % addresses;
    for (let i = 0; i < addresses; i++) {
      const a = (start + i) % addresses;
      if (Atomics.load(this.free, a * 3 + protocolSlot) <= 0) continue;
      const block = this.leaseOn(a, protocolSlot);
      if (block >= 0) return block;
    }
    return -1;
  }

  /**
   * New shares (a live tenant change), from the next lease on. A block keeps counting against the share
   * it was leased under until it is released; share indices must keep their meaning across calls.
   */
  setShares(shares: PoolShares | null): void {
    this.shares = shares;
    if (shares !== null) this.countedIn = shares.leased;
  }

  /** tryLease with shares: the subscriber's share's addresses, quota and per-subscriber bound. */
  private tryLeaseInShare(subscriber: Uint32Array, slot: number, preferredAddressIndex: number): number {
    const shares = this.shares as PoolShares;
    const share = shares.shareOf(subscriber[0] | 0, subscriber[1] | 0);
    if (share < 0 || share >= shares.addresses.length || shares.addresses[share].length === 0)
      return POOL_REFUSED;
    const state = this.state;
    const perSubscriber = shares.subscriberBlocksMax[share];
    if (perSubscriber > 0 && preferredAddressIndex >= 0) {
      const sub = state.findSubscriber(subscriber[0], subscriber[1], subscriber[2], subscriber[3]);
      if (sub !== -1 && state.subscriberBlockCount[sub * 3 + slot] >= perSubscriber) return POOL_REFUSED;
    }
    // The quota is taken before the claim (and given back when no block is found), so racing shards
    // never hold more than blocksMax together.
    const quota = shares.blocksMax[share];
    if (quota > 0 && Atomics.add(shares.leased, share, 1) >= quota) {
      Atomics.sub(shares.leased, share, 1);
      return POOL_REFUSED;
    }
    let block = -1;
    if (preferredAddressIndex >= 0) {
      block = this.leaseOn(preferredAddressIndex, slot);
    } else {
      const addresses = shares.addresses[share];
      const start = this.random.nextUint32() % addresses.length;
      for (let i = 0; i < addresses.length && block < 0; i++) {
        const a = addresses[(start + i) % addresses.length];
        if (Atomics.load(this.free, a * 3 + slot) > 0) block = this.leaseOn(a, slot);
      }
    }
    if (block < 0) {
      if (quota > 0) Atomics.sub(shares.leased, share, 1);
      return -1;
    }
    if (quota <= 0) Atomics.add(shares.leased, share, 1);
    this.blockShare[block] = share;
    return block;
  }

  released(block: number, _nowMs: number): void {
    const previous = Atomics.compareExchange(this.lessee, block, this.mark, FREE);
    assert(previous === this.mark, 'a shard releases only a block it leased');
    if (this.countedIn !== null && this.blockShare[block] !== NO_SHARE) {
      Atomics.sub(this.countedIn, this.blockShare[block], 1);
      this.blockShare[block] = NO_SHARE;
    }
    Atomics.add(this.free, this.state.blockAddressIndexOf(block) * 3 + this.state.blockSlotOf(block), 1);
  }

  private leaseOn(addressIndex: number, slot: number): number {
    const state = this.state;
    const perAddress = state.config.protocols[slot].blocksPerAddress;
    const first = state.blockIndexOf(slot, addressIndex, 0);
    const start = this.random.nextUint32() % perAddress;
    for (let i = 0; i < perAddress; i++) {
      const block = first + ((start + i) % perAddress);
      if (Atomics.load(this.lessee, block) !== FREE) continue;
      if (Atomics.compareExchange(this.lessee, block, FREE, this.mark) === FREE) {
        Atomics.sub(this.free, addressIndex * 3 + slot, 1);
        return block;
      }
      this.racesLost++;
    }
    return -1;
  }
}

/** `NatEngineOptions.allocator` for the shard `shard` of a node sharing `memory`. */
export function sharedPoolAllocator(
  memory: SharedPoolMemory,
  shard: number,
  shares: PoolShares | null = null,
): (state: NatState, random: RandomSource) => PoolAllocator {
  return (state, random) => new SharedPoolAllocator(memory, shard, state, random, shares);
}

/**
 * Marks the blocks a restored state holds (a restart: snapshot + log tail) as `shard`'s in the node's
 * shared pool, before the shard's engine leases anything. Control plane, once per start. Asserts that
 * each block was free: two shards restoring the same block would break RFC 6888's one holder per port.
 */
export function claimSharedPoolBlocks(memory: SharedPoolMemory, shard: number, state: NatState): number {
  const lessee = new Int32Array(memory.buffer, 0, memory.totalBlocks);
  const free = new Int32Array(memory.buffer, memory.totalBlocks * 4, memory.poolAddressCount * 3);
  const mark = shard + 1;
  let claimed = 0;
  for (let block = 0; block < state.blockOwner.length; block++) {
    if (state.blockOwner[block] === -1) continue;
    const previous = Atomics.compareExchange(lessee, block, FREE, mark);
    assert(previous === FREE, 'a restored block is free in the node pool (no other shard restored it)');
    Atomics.sub(free, state.blockAddressIndexOf(block) * 3 + state.blockSlotOf(block), 1);
    claimed++;
  }
  return claimed;
}

/**
 * BlockLeased events restating the blocks a restored state holds, for consumers that keep their own view
 * from events (the ingress block table that routes IPv4 by block). Time is the state's own clock.
 */
export function leasedBlockEvents(state: NatState, shard = 0, epoch = 0): BlockLeasedEvent[] {
  const events: BlockLeasedEvent[] = [];
  for (let block = 0; block < state.blockOwner.length; block++) {
    const owner = state.blockOwner[block];
    if (owner === -1) continue;
    const p = state.subscriberPrefix;
    events.push({
      type: NatEventType.BlockLeased,
      version: NAT_EVENT_SCHEMA_VERSION,
      shard,
      epoch,
      timeMs: 0,
      protocol: state.blockSlotOf(block),
      address: state.blockAddressOf(block),
      firstPort: state.blockFirstPortOf(block),
      subscriber: [p[owner * 4], p[owner * 4 + 1], p[owner * 4 + 2], p[owner * 4 + 3]],
    });
  }
  return events;
}

/** One pool address's use (status `poolUse`, the `xlat64.pool.*` gauges). */
export interface PoolAddressUse {
  /** The address (uint32). */
  address: number;
  /** Blocks of this address leased to any shard, over all protocols. */
  leasedBlocks: number;
  /** Blocks this address has, over all protocols. */
  totalBlocks: number;
}

/**
 * Per pool address: blocks leased (by any shard of the node) over blocks it has, read from the shared
 * free-block counts. Control plane (a status or scrape request), never the packet path.
 */
export function sharedPoolUse(memory: SharedPoolMemory, config: NatEngineConfig): PoolAddressUse[] {
  const free = new Int32Array(memory.buffer, memory.totalBlocks * 4, memory.poolAddressCount * 3);
  const use: PoolAddressUse[] = [];
  for (let a = 0; a < memory.poolAddressCount; a++) {
    let total = 0;
    let freeBlocks = 0;
    for (let slot = 0; slot < 3; slot++) {
      total += config.protocols[slot].blocksPerAddress;
      freeBlocks += Atomics.load(free, a * 3 + slot);
    }
    use.push({ address: addressAt(config, a), leasedBlocks: total - freeBlocks, totalBlocks: total });
  }
  return use;
}

/**
 * Ports of dynamic mappings per pool address index in one shard's state, written into `out` (one slot
 * per address, zeroed first). A scan of the block table: the caller runs it on its maintenance tick
 * (once a second), not per packet.
 */
export function portsInUseByAddress(state: NatState, out: Int32Array): void {
  assert(out.length >= state.config.poolAddressCount, 'one slot per pool address');
  out.fill(0);
  const owner = state.blockOwner;
  const inUse = state.blockInUse;
  for (let block = 0; block < owner.length; block++) {
    if (owner[block] === -1 || inUse[block] === 0) continue;
    out[state.blockAddressIndexOf(block)] += inUse[block];
  }
}
