// Proves the one-node block allocator (pool4/allocator.ts) block by block: a new subscriber starts at a
// random pool address and moves on (wrapping) to the first with a free block of the protocol; a known
// subscriber gets its own address or nothing (RFC 6888 REQ-2 paired pooling); inside the address the
// search starts at a random block and wraps; a full pool or leasedBlocksMax reached answers -1.
import { describe, expect, it } from 'vitest';
import {
  InProcessPoolAllocator,
  NatState,
  ProtocolSlot,
  type RandomSource,
  validateConfig,
} from '../src/internal.js';

function fixed(...values: number[]): RandomSource {
  let i = 0;
  return { nextUint32: () => values[i++ % values.length] };
}

const SUB = new Uint32Array([0x20010db8, 0x100, 0, 0]);
const UDP = ProtocolSlot.Udp;

/** 4 addresses, 2 blocks of 32,256 ports per address and protocol. */
function pool(leasedBlocksMax?: number) {
  const config = validateConfig({ pool: ['203.0.113.0/30'], blockSizePorts: 32_256, leasedBlocksMax });
  const state = new NatState(config, 1, 0);
  const subscriber = state.addSubscriber(SUB[0], SUB[1], SUB[2], SUB[3]);
  const lease = (address: number, block: number) =>
    state.leaseBlock(state.blockIndexOf(UDP, address, block), subscriber, 0);
  return { state, lease };
}

describe('in-process block allocator', () => {
  it('starts a new subscriber at the random address and block, modulo the pool', () => {
    const { state } = pool();
    const lease = (...random: number[]) =>
      new InProcessPoolAllocator(state, fixed(...random)).tryLease(SUB, UDP, -1, 0);
    expect(lease(1, 1)).toBe(state.blockIndexOf(UDP, 1, 1));
    expect(lease(6, 0)).toBe(state.blockIndexOf(UDP, 2, 0));
    expect(lease(7, 5)).toBe(state.blockIndexOf(UDP, 3, 1));
  });

  it('moves on, wrapping, to the next address with a free block of the protocol, and -1 when none has one', () => {
    const { state, lease } = pool();
    lease(3, 0);
    lease(3, 1);
    // TCP blocks of address 3 do not count for UDP.
    const allocator = (...random: number[]) => new InProcessPoolAllocator(state, fixed(...random));
    expect(allocator(3, 0).tryLease(SUB, UDP, -1, 0)).toBe(state.blockIndexOf(UDP, 0, 0));
    expect(allocator(3, 0).tryLease(SUB, ProtocolSlot.Tcp, -1, 0)).toBe(
      state.blockIndexOf(ProtocolSlot.Tcp, 3, 0),
    );
    lease(0, 0);
    lease(0, 1);
    expect(allocator(3, 1).tryLease(SUB, UDP, -1, 0)).toBe(state.blockIndexOf(UDP, 1, 1));
    for (const a of [1, 2]) for (const b of [0, 1]) lease(a, b);
    for (const start of [0, 1, 2, 3]) expect(allocator(start, 0).tryLease(SUB, UDP, -1, 0)).toBe(-1);
  });

  it('gives a known subscriber a block of its own address only, from a random block on, wrapping', () => {
    const { state, lease } = pool();
    const allocator = (...random: number[]) => new InProcessPoolAllocator(state, fixed(...random));
    expect(allocator(1).tryLease(SUB, UDP, 2, 0)).toBe(state.blockIndexOf(UDP, 2, 1));
    lease(2, 1);
    expect(allocator(1).tryLease(SUB, UDP, 2, 0)).toBe(state.blockIndexOf(UDP, 2, 0));
    lease(2, 0);
    expect(allocator(0).tryLease(SUB, UDP, 2, 0)).toBe(-1);
    expect(allocator(0).tryLease(SUB, UDP, 1, 0)).toBe(state.blockIndexOf(UDP, 1, 0));
  });

  it('answers -1 once leasedBlocksMax blocks are leased, though the pool has free blocks', () => {
    const { state, lease } = pool(1);
    lease(0, 0);
    expect(new InProcessPoolAllocator(state, fixed(1, 0)).tryLease(SUB, UDP, -1, 0)).toBe(-1);
    expect(new InProcessPoolAllocator(state, fixed(1)).tryLease(SUB, UDP, 0, 0)).toBe(-1);
  });

  it("reads the preferred address's free blocks of the asked protocol, not another address's or protocol's", () => {
    const { state } = pool();
    const sub = state.findSubscriber(SUB[0], SUB[1], SUB[2], SUB[3]);
    // Address 0's TCP and ICMP blocks and address 1's ICMP blocks all leased: UDP is free everywhere.
    for (const b of [0, 1]) {
      state.leaseBlock(state.blockIndexOf(ProtocolSlot.Tcp, 0, b), sub, 0);
      state.leaseBlock(state.blockIndexOf(ProtocolSlot.Icmp, 1, b), sub, 0);
      state.leaseBlock(state.blockIndexOf(ProtocolSlot.Icmp, 0, b), sub, 0);
    }
    // Address 3's UDP count, not address 0's ICMP one (a wrong row index, address / 3, would read that).
    expect(new InProcessPoolAllocator(state, fixed(0)).tryLease(SUB, UDP, 3, 0)).toBe(
      state.blockIndexOf(UDP, 3, 0),
    );
    expect(new InProcessPoolAllocator(state, fixed(0)).tryLease(SUB, UDP, 0, 0)).toBe(
      state.blockIndexOf(UDP, 0, 0),
    );
    expect(new InProcessPoolAllocator(state, fixed(0)).tryLease(SUB, UDP, 2, 0)).toBe(
      state.blockIndexOf(UDP, 2, 0),
    );
    expect(new InProcessPoolAllocator(state, fixed(0)).tryLease(SUB, ProtocolSlot.Tcp, 0, 0)).toBe(-1);
  });
});
