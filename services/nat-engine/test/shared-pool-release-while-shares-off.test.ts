// Regression: a block leased under a tenant share and released while shares are off (every tenant
// removed: setShares(null)) must still give its count back, or the share's quota stays short by one
// for good once the tenants are back (services/ingress turns shares off and on with the same counters).
import { describe, expect, it } from 'vitest';
import {
  createSharedPoolMemory,
  NatState,
  type PoolShares,
  SharedPoolAllocator,
  validateConfig,
} from '../src/internal.js';

const CONFIG = validateConfig({ pool: ['203.0.113.8/31'], blockSizePorts: 64, leasedBlocksMax: 8 });
const SUB = Uint32Array.from([0x20010db8, 0x100, 0, 0]);

describe('shares turned off while a block is leased', () => {
  it('proves the release gives the count back to the share the block was leased under', () => {
    const shares: PoolShares = {
      shareOf: () => 0,
      addresses: [Int32Array.from([0, 1])],
      blocksMax: Int32Array.from([1]),
      subscriberBlocksMax: Int32Array.from([0]),
      leased: new Int32Array(new SharedArrayBuffer(4)),
    };
    const allocator = new SharedPoolAllocator(
      createSharedPoolMemory(CONFIG),
      0,
      new NatState(CONFIG, 1, 0),
      { nextUint32: () => 0 },
      shares,
    );
    const block = allocator.tryLease(SUB, 1, 0, 0);
    expect(block).toBeGreaterThanOrEqual(0);
    expect(shares.leased[0]).toBe(1);
    allocator.setShares(null);
    allocator.released(block, 0);
    expect(shares.leased[0]).toBe(0);
    // Back on: the quota of one block is whole again.
    allocator.setShares(shares);
    expect(allocator.tryLease(SUB, 1, 0, 0)).toBeGreaterThanOrEqual(0);
    expect(shares.leased[0]).toBe(1);
  });
});
