// RFC 7422 deterministic address mapping: a subscriber's IPv4 address and port block follow from its
// IPv6 prefix by formula, so "who had 203.0.113.7:40000 at 10:02?" is answered without a per-allocation
// log. Subscriber n (the bits of its prefix below the deterministic prefix) gets pool address
// floor(n / K) and block n mod K on it, K = the smallest blocks-per-address over the protocols, so its
// blocks of every protocol sit on one address (paired pooling). One block per protocol per subscriber.

import type { NatEngineConfig } from '../config.js';
import { addressAt } from '../config.js';
import type { NatState } from '../tables/nat-state.js';
import type { PoolAllocator } from './allocator.js';

/** Subscriber ordinal of a masked prefix inside the deterministic prefix, or -1 when outside it. */
export function deterministicOrdinal(config: NatEngineConfig, prefix: ArrayLike<number>): number {
  const det = config.deterministic;
  if (det === null) return -1;
  for (let bit = 0; bit < det.prefixLength; bit++) {
    const word = bit >>> 5;
    const mask = 1 << (31 - (bit & 31));
    if ((prefix[word] & mask) !== (det.prefix[word] & mask)) return -1;
  }
  let n = 0;
  for (let bit = det.prefixLength; bit < config.subscriberPrefixLength; bit++) {
    const word = bit >>> 5;
    n = n * 2 + ((prefix[word] >>> (31 - (bit & 31))) & 1);
  }
  return n;
}

/** Blocks per address usable in deterministic mode. */
export function deterministicBlocksPerAddress(config: NatEngineConfig): number {
  return Math.min(...config.protocols.map((p) => p.blocksPerAddress));
}

/** The deterministic (address, first port, last port) of a subscriber for a protocol slot, or null. */
export function deterministicMapping(
  config: NatEngineConfig,
  prefix: ArrayLike<number>,
  protocolSlot: number,
): { address: number; portFirst: number; portLast: number } | null {
  const n = deterministicOrdinal(config, prefix);
  if (n < 0) return null;
  const k = deterministicBlocksPerAddress(config);
  const addressIndex = Math.floor(n / k);
  if (addressIndex >= config.poolAddressCount) return null;
  const portFirst = config.protocols[protocolSlot].portFirst + (n % k) * config.blockSizePorts;
  return {
    address: addressAt(config, addressIndex),
    portFirst,
    portLast: portFirst + config.blockSizePorts - 1,
  };
}

export class DeterministicPoolAllocator implements PoolAllocator {
  private readonly state: NatState;

  constructor(state: NatState) {
    this.state = state;
  }

  tryLease(
    subscriber: Uint32Array,
    protocolSlot: number,
    preferredAddressIndex: number,
    _nowMs: number,
  ): number {
    const state = this.state;
    const n = deterministicOrdinal(state.config, subscriber);
    if (n < 0 || !state.hasSlabRoom()) return -1;
    const k = deterministicBlocksPerAddress(state.config);
    const addressIndex = Math.floor(n / k);
    if (addressIndex >= state.config.poolAddressCount) return -1;
    if (preferredAddressIndex >= 0 && preferredAddressIndex !== addressIndex) return -1;
    const block = state.blockIndexOf(protocolSlot, addressIndex, n % k);
    return state.blockOwner[block] === -1 ? block : -1;
  }

  released(_block: number, _nowMs: number): void {}
}
