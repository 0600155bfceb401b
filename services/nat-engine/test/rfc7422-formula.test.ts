// Proves the RFC 7422 deterministic formula (pool4/rfc7422.ts) on numbers worked out by hand: the
// subscriber ordinal is the prefix bits between the deterministic prefix and the subscriber length (also
// across a 32-bit word), a prefix differing in any deterministic bit has none, subscriber n gets pool
// address floor(n / K) and block n mod K with K the smallest blocks-per-address of the protocols, the
// ordinals past the pool get nothing, and the allocator leases exactly that block or refuses.
import { describe, expect, it } from 'vitest';
import {
  DeterministicPoolAllocator,
  deterministicMapping,
  formatIpv4,
  NatState,
  ProtocolSlot,
  parseIpv6,
  validateConfig,
} from '../src/internal.js';
import { deterministicBlocksPerAddress, deterministicOrdinal } from '../src/pool4/rfc7422.js';

function words(text: string): Uint32Array {
  const out = new Uint32Array(4);
  if (!parseIpv6(text, out)) throw new Error(`bad IPv6 ${text}`);
  return out;
}

describe('RFC 7422 deterministic formula', () => {
  it('reads the ordinal from the bits below the deterministic prefix, across a word boundary', () => {
    // /48 deterministic, /72 subscribers: 24 bits, bits 48-63 of word 1 and 64-71 of word 2.
    const c = validateConfig({
      pool: ['203.0.113.0/30'],
      subscriberPrefixLength: 72,
      deterministic: { ipv6Prefix: '2001:db8:100::/48' },
    });
    expect(deterministicOrdinal(c, words('2001:db8:100::'))).toBe(0);
    expect(deterministicOrdinal(c, words('2001:db8:100:1:ab00::'))).toBe(0x01ab);
    expect(deterministicOrdinal(c, words('2001:db8:100:8000::'))).toBe(0x800000);
    expect(deterministicOrdinal(c, words('2001:db8:100:ffff:ff00::'))).toBe(0xffffff);
    // A difference in the first (bit 0) or the last (bit 47) deterministic bit: outside.
    expect(deterministicOrdinal(c, words('a001:db8:100::'))).toBe(-1);
    expect(deterministicOrdinal(c, words('2001:db8:101::'))).toBe(-1);
    expect(deterministicOrdinal(validateConfig({ pool: ['203.0.113.0/30'] }), words('2001:db8:100::'))).toBe(
      -1,
    );
  });

  it('gives subscriber n address floor(n / K) and block n mod K, K the smallest protocol, none past the pool', () => {
    // K = min(126 TCP, 2 UDP (1024-2047), 126 ICMP) = 2 blocks of 512; 4 addresses serve n = 0..7.
    const c = validateConfig({
      pool: ['203.0.113.0/30'],
      ports: { udp: [1024, 2047] },
      deterministic: { ipv6Prefix: '2001:db8:100::/48' },
    });
    expect(deterministicBlocksPerAddress(c)).toBe(2);
    const at = (n: number, slot: number) => {
      const m = deterministicMapping(c, words(`2001:db8:100:${n.toString(16)}00::`), slot);
      return m === null ? null : [formatIpv4(m.address), m.portFirst, m.portLast];
    };
    expect(at(0, ProtocolSlot.Tcp)).toEqual(['203.0.113.0', 1024, 1535]);
    expect(at(5, ProtocolSlot.Tcp)).toEqual(['203.0.113.2', 1536, 2047]);
    expect(at(5, ProtocolSlot.Udp)).toEqual(['203.0.113.2', 1536, 2047]);
    expect(at(7, ProtocolSlot.Icmp)).toEqual(['203.0.113.3', 1536, 2047]);
    expect(at(8, ProtocolSlot.Tcp)).toBeNull();
    expect(deterministicMapping(c, words('2001:db8:200::'), ProtocolSlot.Tcp)).toBeNull();
  });

  it("leases a subscriber exactly its formula's block, and nothing else", () => {
    const c = validateConfig({
      pool: ['203.0.113.0/30'],
      ports: { udp: [1024, 2047] },
      deterministic: { ipv6Prefix: '2001:db8:100::/48' },
      leasedBlocksMax: 2,
    });
    const state = new NatState(c, 1, 0);
    const allocator = new DeterministicPoolAllocator(state);
    const n5 = words('2001:db8:100:500::');
    const block = allocator.tryLease(n5, ProtocolSlot.Udp, -1, 0);
    expect(block).toBe(state.blockIndexOf(ProtocolSlot.Udp, 2, 1));
    // Paired pooling: address index 2 is its address; any other preferred address is refused.
    expect(allocator.tryLease(n5, ProtocolSlot.Udp, 2, 0)).toBe(block);
    expect(allocator.tryLease(n5, ProtocolSlot.Udp, 1, 0)).toBe(-1);
    expect(allocator.tryLease(n5, ProtocolSlot.Udp, 0, 0)).toBe(-1);
    // Subscriber 0 (the deterministic prefix itself) gets block 0 of address 0.
    expect(allocator.tryLease(words('2001:db8:100::'), ProtocolSlot.Udp, -1, 0)).toBe(
      state.blockIndexOf(ProtocolSlot.Udp, 0, 0),
    );
    expect(allocator.tryLease(words('2001:db8:100:800::'), ProtocolSlot.Udp, -1, 0)).toBe(-1);
    expect(allocator.tryLease(words('2001:db8:200::'), ProtocolSlot.Udp, -1, 0)).toBe(-1);
    // A leased block is not handed out twice.
    const sub = state.addSubscriber(n5[0], n5[1], n5[2], n5[3]);
    state.leaseBlock(block, sub, 0);
    expect(allocator.tryLease(n5, ProtocolSlot.Udp, -1, 0)).toBe(-1);
    expect(allocator.tryLease(n5, ProtocolSlot.Tcp, -1, 0)).toBe(state.blockIndexOf(ProtocolSlot.Tcp, 2, 1));
    // leasedBlocksMax (2) reached: no slab, no lease.
    state.leaseBlock(state.blockIndexOf(ProtocolSlot.Tcp, 2, 1), sub, 0);
    expect(allocator.tryLease(n5, ProtocolSlot.Icmp, -1, 0)).toBe(-1);
  });
});
