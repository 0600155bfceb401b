// Port-block allocation from the shared IPv4 pool (RFC 6888 REQ-2 paired pooling, REQ-4 port limits).
// The packet path never awaits, so a lease is decided synchronously: `tryLease` answers from what the
// allocator holds now. A Redis-backed allocator (cluster-state issue) keeps a locally pre-leased reserve,
// refilled in the background, behind the same interface. The allocator never changes engine state: the
// engine emits BlockLeased / BlockReleased and the reducer applies them.

import { PROTOCOL_SLOT_COUNT } from '../flow-key.js';
import type { RandomSource } from '../random.js';
import type { NatState } from '../tables/nat-state.js';

/** `tryLease`'s answer when a policy (the subscriber's tenant share or quota) refuses the lease. */
export const POOL_REFUSED = -2;
/**
 * `tryLease`'s answer when the allocator holds no block for the request now but is fetching one (a Redis
 * reserve being refilled): the packet is dropped without an ICMP error, and the sender's retransmission
 * (a TCP SYN's, after a second) finds the block. An ICMP error would end a TCP connect at once.
 */
export const POOL_PENDING = -3;

export interface PoolAllocator {
  /**
   * A free block for `subscriber` (masked prefix, four words) and protocol slot, on `preferredAddressIndex`
   * when it is >= 0 (paired pooling: then only that address will do). Returns the block index, -1 (no
   * free block: pool exhausted), POOL_REFUSED (a policy, the subscriber's tenant quota, refuses it) or
   * POOL_PENDING (none here yet, one is being fetched).
   */
  tryLease(
    subscriber: Uint32Array,
    protocolSlot: number,
    preferredAddressIndex: number,
    nowMs: number,
  ): number;
  /** Told after a BlockReleased event was applied, so a reserve can be returned or reused. */
  released(block: number, nowMs: number): void;
}

/** One-node allocator over the engine's own block table: the whole pool belongs to this engine. */
export class InProcessPoolAllocator implements PoolAllocator {
  private readonly state: NatState;
  private readonly random: RandomSource;

  constructor(state: NatState, random: RandomSource) {
    this.state = state;
    this.random = random;
  }

  tryLease(
    _subscriber: Uint32Array,
    protocolSlot: number,
    preferredAddressIndex: number,
    _nowMs: number,
  ): number {
    const state = this.state;
    if (!state.hasSlabRoom()) return -1;
    const addresses = state.config.poolAddressCount;
    let addressIndex = preferredAddressIndex;
    if (addressIndex < 0) {
      // A new subscriber: a random address with a free block in this protocol, so subscribers spread
      // over the pool and an address's blocks are not handed out in a guessable order.
      const start = this.random.nextUint32() % addresses;
      addressIndex = -1;
      for (let i = 0; i < addresses; i++) {
        const a = (start + i) % addresses;
        if (state.freeBlocksPerAddress[a * PROTOCOL_SLOT_COUNT + protocolSlot] > 0) {
          addressIndex = a;
          break;
        }
      }
      if (addressIndex < 0) return -1;
    } else if (state.freeBlocksPerAddress[addressIndex * PROTOCOL_SLOT_COUNT + protocolSlot] === 0) {
      return -1;
    }
    const perAddress = state.config.protocols[protocolSlot].blocksPerAddress;
    const first = state.blockIndexOf(protocolSlot, addressIndex, 0);
    const start = this.random.nextUint32() % perAddress;
    for (let i = 0; i < perAddress; i++) {
      const block = first + ((start + i) % perAddress);
      if (state.blockOwner[block] === -1) return block;
    }
    return -1;
  }

  released(_block: number, _nowMs: number): void {}
}
