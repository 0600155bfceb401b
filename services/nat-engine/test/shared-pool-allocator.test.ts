// The node's shared pool words and one shard's allocator over them, driven directly (no engine): the
// memory layout (a lessee word per block, free counts per address and protocol), which block a lease
// takes and where it looks (RFC 6888 REQ-2: the subscriber's one address; a new subscriber anywhere with
// a free block), release and its ownership check, tenant shares (their addresses, quota and
// per-subscriber bound, REQ-4), and the status views (lessees, use per address, ports in use).
import { describe, expect, it } from 'vitest';
import {
  claimSharedPoolBlocks,
  createSharedPoolMemory,
  leasedBlockEvents,
  NAT_EVENT_SCHEMA_VERSION,
  NatEventType,
  NatState,
  POOL_REFUSED,
  type PoolShares,
  portsInUseByAddress,
  type RandomSource,
  SharedPoolAllocator,
  sharedPoolAllocator,
  sharedPoolLessees,
  sharedPoolUse,
  validateConfig,
} from '../src/internal.js';

// 203.0.113.8-10 (3 addresses), 64-port blocks: tcp 1024-1151 (2 an address), udp 1024-1279 (4), icmp
// 1024-1087 (1). Rows: tcp 0-5, udp 6-17 (address a: 6 + 4a ...), icmp 18-20.
const CONFIG = validateConfig({
  pool: ['203.0.113.8-203.0.113.10'],
  blockSizePorts: 64,
  ports: { tcp: [1024, 1151], udp: [1024, 1279], icmp: [1024, 1087] },
  subscribersMax: 8,
  leasedBlocksMax: 8,
});
const UDP = 1;
const SUB = Uint32Array.from([0x20010db8, 0x100, 0, 0]);

/** A random source that answers from a script (then zeros): which start the allocator's scans take. */
function scripted(...values: number[]): RandomSource {
  return { nextUint32: () => values.shift() ?? 0 };
}

function udpRow(address: number, block: number): number {
  return 6 + address * 4 + block;
}

function setup(random: RandomSource = scripted(), shard = 0, shares: PoolShares | null = null) {
  const memory = createSharedPoolMemory(CONFIG);
  const state = new NatState(CONFIG, 1, 0);
  const allocator = new SharedPoolAllocator(memory, shard, state, random, shares);
  return { memory, state, allocator };
}

function shares(input: {
  shareOf: (w0: number, w1: number) => number;
  addresses: number[][];
  blocksMax?: number[];
  subscriberBlocksMax?: number[];
}): PoolShares {
  const n = input.addresses.length;
  return {
    shareOf: input.shareOf,
    addresses: input.addresses.map((a) => Int32Array.from(a)),
    blocksMax: Int32Array.from(input.blocksMax ?? new Array(n).fill(0)),
    subscriberBlocksMax: Int32Array.from(input.subscriberBlocksMax ?? new Array(n).fill(0)),
    leased: new Int32Array(new SharedArrayBuffer(4 * n)),
  };
}

describe('shared pool memory', () => {
  it('proves the words are a lessee per block then a free count per (address, protocol), all blocks free', () => {
    const memory = createSharedPoolMemory(CONFIG);
    expect(CONFIG.totalBlocks).toBe(21);
    expect(memory.totalBlocks).toBe(21);
    expect(memory.poolAddressCount).toBe(3);
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(memory.buffer.byteLength).toBe((21 + 3 * 3) * 4);
    expect(Array.from(sharedPoolLessees(memory))).toEqual(new Array(21).fill(0));
    expect(Array.from(new Int32Array(memory.buffer, 21 * 4, 9))).toEqual([2, 4, 1, 2, 4, 1, 2, 4, 1]);
    expect(sharedPoolUse(memory, CONFIG)).toEqual([
      { address: 0xcb007108, leasedBlocks: 0, totalBlocks: 7 },
      { address: 0xcb007109, leasedBlocks: 0, totalBlocks: 7 },
      { address: 0xcb00710a, leasedBlocks: 0, totalBlocks: 7 },
    ]);
  });

  it('proves the lessees are a copy: writing it does not lease anything', () => {
    const memory = createSharedPoolMemory(CONFIG);
    sharedPoolLessees(memory).fill(5);
    expect(Array.from(sharedPoolLessees(memory))).toEqual(new Array(21).fill(0));
  });
});

describe('SharedPoolAllocator', () => {
  it('proves a lease on the subscriber address starts at a random block, skips leased ones and wraps around', () => {
    const { memory, allocator } = setup(scripted(2, 2, 2, 2, 2), 4);
    expect(allocator.tryLease(SUB, UDP, 1, 0)).toBe(udpRow(1, 2));
    expect(allocator.tryLease(SUB, UDP, 1, 0)).toBe(udpRow(1, 3));
    expect(allocator.tryLease(SUB, UDP, 1, 0)).toBe(udpRow(1, 0));
    expect(allocator.tryLease(SUB, UDP, 1, 0)).toBe(udpRow(1, 1));
    // The address has no UDP block left: paired pooling does not move to another address.
    expect(allocator.tryLease(SUB, UDP, 1, 0)).toBe(-1);
    const lessees = sharedPoolLessees(memory);
    for (let b = 0; b < 21; b++) expect(lessees[b]).toBe(b >= udpRow(1, 0) && b <= udpRow(1, 3) ? 5 : 0);
    expect(sharedPoolUse(memory, CONFIG).map((u) => u.leasedBlocks)).toEqual([0, 4, 0]);
    expect(allocator.racesLost).toBe(0);
  });

  it('proves a new subscriber gets a random address with a free block of the protocol, wrapping around', () => {
    const { allocator } = setup(scripted(0, 5, 0, 0, 0));
    expect(allocator.tryLease(SUB, 2, 2, 0)).toBe(20);
    // Start at address 2 (5 % 3): its one ICMP block is taken, so the scan wraps to address 0.
    expect(allocator.tryLease(SUB, 2, -1, 0)).toBe(18);
    // Start at address 0, taken: the only ICMP block left is on address 1.
    expect(allocator.tryLease(SUB, 2, -1, 0)).toBe(19);
    expect(allocator.tryLease(SUB, 2, -1, 0)).toBe(-1);
    expect(allocator.tryLease(SUB, 0, -1, 0)).toBeGreaterThanOrEqual(0);
  });

  it('proves the start address is the random draw modulo the address count', () => {
    for (const [draw, address] of [
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 0],
      [7, 1],
    ]) {
      const { allocator, state } = setup(scripted(draw, 0));
      const block = allocator.tryLease(SUB, UDP, -1, 0);
      expect(state.blockAddressIndexOf(block)).toBe(address);
      expect(block).toBe(udpRow(address, 0));
    }
  });

  it('proves no lease is made when the shard has no slab left (leasedBlocksMax)', () => {
    const { allocator, state, memory } = setup();
    const s = state.addSubscriber(1, 2, 3, 4);
    for (let b = 0; b < 8; b++) state.leaseBlock(udpRow(0, 0) + b, s, 0);
    expect(state.hasSlabRoom()).toBe(false);
    expect(allocator.tryLease(SUB, 0, -1, 0)).toBe(-1);
    expect(allocator.tryLease(SUB, 0, 2, 0)).toBe(-1);
    expect(Array.from(sharedPoolLessees(memory))).toEqual(new Array(21).fill(0));
  });

  it('proves release gives the word and the free count back, and only the leasing shard may release', () => {
    const memory = createSharedPoolMemory(CONFIG);
    const a = new SharedPoolAllocator(memory, 0, new NatState(CONFIG, 1, 0), scripted());
    const b = new SharedPoolAllocator(memory, 1, new NatState(CONFIG, 1, 0), scripted(0, 0));
    expect(a.tryLease(SUB, 2, 1, 0)).toBe(19);
    // Shard 1 cannot have it, nor release it.
    expect(b.tryLease(SUB, 2, 1, 0)).toBe(-1);
    expect(() => b.released(19, 0)).toThrow('a shard releases only a block it leased');
    expect(sharedPoolLessees(memory)[19]).toBe(1);
    a.released(19, 0);
    expect(sharedPoolLessees(memory)[19]).toBe(0);
    expect(sharedPoolUse(memory, CONFIG)[1].leasedBlocks).toBe(0);
    expect(b.tryLease(SUB, 2, 1, 0)).toBe(19);
    expect(sharedPoolLessees(memory)[19]).toBe(2);
    expect(() => a.released(19, 0)).toThrow('a shard releases only a block it leased');
  });

  it('proves the allocator refuses a pool of another configuration, a plain buffer and a bad shard number', () => {
    const state = new NatState(CONFIG, 1, 0);
    const memory = createSharedPoolMemory(CONFIG);
    const other = createSharedPoolMemory(validateConfig({ pool: ['203.0.113.8/31'], blockSizePorts: 64 }));
    expect(() => new SharedPoolAllocator(other, 0, state, scripted())).toThrow(
      'the shared pool was built from the same pool configuration as the engine',
    );
    const sameBlocks = { ...memory, poolAddressCount: 2 };
    expect(() => new SharedPoolAllocator(sameBlocks, 0, state, scripted())).toThrow(
      'the shared pool was built from the same pool configuration',
    );
    const plain = {
      ...memory,
      buffer: new ArrayBuffer(memory.buffer.byteLength) as unknown as SharedArrayBuffer,
    };
    expect(() => new SharedPoolAllocator(plain, 0, state, scripted())).toThrow(
      'the shared pool lives in a SharedArrayBuffer',
    );
    for (const shard of [-1, 1.5, 0x7fffffff]) {
      expect(() => new SharedPoolAllocator(memory, shard, state, scripted())).toThrow(
        'a shard number is a non-negative int32',
      );
    }
    expect(() => new SharedPoolAllocator(memory, 0x7ffffffe, state, scripted())).not.toThrow();
    // The factory builds the same allocator for an engine.
    const made = sharedPoolAllocator(memory, 3)(state, scripted(0, 0));
    expect(made.tryLease(SUB, 2, 0, 0)).toBe(18);
    expect(sharedPoolLessees(memory)[18]).toBe(4);
  });
});

describe('SharedPoolAllocator with tenant shares', () => {
  it('proves a subscriber of no share, of an unknown share or of a share without addresses is refused', () => {
    for (const share of [-1, 2, 1]) {
      const s = shares({ shareOf: () => share, addresses: [[0], []] });
      const { allocator, memory } = setup(scripted(), 0, s);
      expect(allocator.tryLease(SUB, UDP, -1, 0)).toBe(POOL_REFUSED);
      expect(allocator.tryLease(SUB, UDP, 0, 0)).toBe(POOL_REFUSED);
      expect(Array.from(sharedPoolLessees(memory))).toEqual(new Array(21).fill(0));
      expect(Array.from(s.leased)).toEqual([0, 0]);
    }
  });

  it('proves a share leases only on its own addresses, from a random one of them, and classifies by the top words', () => {
    const seen: [number, number][] = [];
    const s = shares({
      shareOf: (w0, w1) => {
        seen.push([w0, w1]);
        return 0;
      },
      addresses: [[2, 1]],
    });
    const { allocator, state } = setup(scripted(1, 0, 0, 0, 0, 0), 0, s);
    // Start at the share's second address (1 % 2): address 1.
    expect(state.blockAddressIndexOf(allocator.tryLease(SUB, 2, -1, 0))).toBe(1);
    // Start at address 2; then its ICMP block is gone and the scan moves on to address 1, also gone.
    expect(state.blockAddressIndexOf(allocator.tryLease(SUB, 2, -1, 0))).toBe(2);
    expect(allocator.tryLease(SUB, 2, -1, 0)).toBe(-1);
    // Address 0 still has its ICMP block, but it is not the share's.
    expect(Array.from(s.leased)).toEqual([2]);
    expect(seen[0]).toEqual([0x20010db8, 0x100]);
    // The top words are passed as int32.
    const high = Uint32Array.from([0xfe800000, 0x80000000, 0, 0]);
    allocator.tryLease(high, 0, -1, 0);
    expect(seen.at(-1)).toEqual([0xfe800000 | 0, 0x80000000 | 0]);
  });

  it('proves a quota counts leases node-wide, refuses past it, and a release or a failed lease gives it back', () => {
    const s = shares({ shareOf: () => 0, addresses: [[0, 1]], blocksMax: [2] });
    const { allocator } = setup(scripted(), 0, s);
    const first = allocator.tryLease(SUB, UDP, 0, 0);
    const second = allocator.tryLease(SUB, UDP, 0, 0);
    expect([first, second].every((b) => b >= 0)).toBe(true);
    expect(s.leased[0]).toBe(2);
    expect(allocator.tryLease(SUB, UDP, 0, 0)).toBe(POOL_REFUSED);
    expect(s.leased[0]).toBe(2);
    allocator.released(first, 0);
    expect(s.leased[0]).toBe(1);
    // Address 0 has no ICMP block left after one lease: the failed second lease takes no quota.
    expect(allocator.tryLease(SUB, 2, 0, 0)).toBe(18);
    expect(s.leased[0]).toBe(2);
    allocator.released(18, 0);
    expect(allocator.tryLease(SUB, 2, 2, 0)).toBe(20);
    expect(allocator.tryLease(SUB, 0, 2, 0)).toBe(POOL_REFUSED);
    allocator.released(20, 0);
    allocator.released(second, 0);
    expect(s.leased[0]).toBe(0);
  });

  it('proves a failed lease under a quota gives the taken quota back', () => {
    const s = shares({ shareOf: () => 0, addresses: [[1]], blocksMax: [5] });
    const { allocator } = setup(scripted(), 0, s);
    expect(allocator.tryLease(SUB, 2, 1, 0)).toBe(19);
    expect(s.leased[0]).toBe(1);
    expect(allocator.tryLease(SUB, 2, 1, 0)).toBe(-1);
    expect(allocator.tryLease(SUB, 2, -1, 0)).toBe(-1);
    expect(s.leased[0]).toBe(1);
  });

  it('proves a share without quota still counts its leases, and not its failed ones', () => {
    const s = shares({ shareOf: () => 0, addresses: [[1]] });
    const { allocator } = setup(scripted(), 0, s);
    expect(allocator.tryLease(SUB, 2, 1, 0)).toBe(19);
    expect(s.leased[0]).toBe(1);
    expect(allocator.tryLease(SUB, 2, -1, 0)).toBe(-1);
    expect(s.leased[0]).toBe(1);
    allocator.released(19, 0);
    expect(s.leased[0]).toBe(0);
  });

  it("proves a share's per-subscriber bound counts the subscriber's blocks of that protocol only", () => {
    const s = shares({ shareOf: () => 0, addresses: [[0]], subscriberBlocksMax: [1] });
    const { allocator, state } = setup(scripted(), 0, s);
    const sub = state.addSubscriber(SUB[0], SUB[1], SUB[2], SUB[3]);
    state.subscriberAddress[sub] = 0;
    const block = allocator.tryLease(SUB, UDP, 0, 0);
    expect(block).toBeGreaterThanOrEqual(0);
    state.leaseBlock(block, sub, 0);
    expect(allocator.tryLease(SUB, UDP, 0, 0)).toBe(POOL_REFUSED);
    // Another protocol, and another subscriber, are not bound by it.
    expect(allocator.tryLease(SUB, 0, 0, 0)).toBeGreaterThanOrEqual(0);
    expect(allocator.tryLease(Uint32Array.from([0x20010db8, 0x200, 0, 0]), UDP, 0, 0)).toBeGreaterThanOrEqual(
      0,
    );
    // Bound 0 means the node's: no share bound.
    const unbound = shares({ shareOf: () => 0, addresses: [[0]], subscriberBlocksMax: [0] });
    allocator.setShares(unbound);
    expect(allocator.tryLease(SUB, UDP, 0, 0)).toBeGreaterThanOrEqual(0);
    // A bound of 2 lets the second block through.
    const two = shares({ shareOf: () => 0, addresses: [[0]], subscriberBlocksMax: [2] });
    allocator.setShares(two);
    expect(allocator.tryLease(SUB, UDP, 0, 0)).toBeGreaterThanOrEqual(0);
  });

  it('proves blocks a restored state holds count against their subscriber share from the start', () => {
    const memory = createSharedPoolMemory(CONFIG);
    const state = new NatState(CONFIG, 1, 0);
    const a = state.addSubscriber(0x20010db8, 0x100, 0, 0);
    const b = state.addSubscriber(0x20010db8, 0x200, 0, 0);
    const c = state.addSubscriber(0x20010db8, 0x300, 0, 0);
    state.leaseBlock(udpRow(0, 0), a, 0);
    state.leaseBlock(udpRow(0, 1), a, 0);
    state.leaseBlock(udpRow(1, 0), b, 0);
    state.leaseBlock(udpRow(2, 0), c, 0);
    claimSharedPoolBlocks(memory, 0, state);
    const s = shares({
      shareOf: (_w0, w1) => (w1 === 0x100 ? 1 : w1 === 0x200 ? 0 : -1),
      addresses: [[1], [0]],
    });
    const allocator = new SharedPoolAllocator(memory, 0, state, scripted(), s);
    expect(Array.from(s.leased)).toEqual([1, 2]);
    allocator.released(udpRow(0, 1), 0);
    expect(Array.from(s.leased)).toEqual([1, 1]);
    // A block of no share is released without touching any count.
    allocator.released(udpRow(2, 0), 0);
    expect(Array.from(s.leased)).toEqual([1, 1]);
    expect(sharedPoolLessees(memory)[udpRow(2, 0)]).toBe(0);
  });
});

describe('shared pool status views', () => {
  it('proves claims mark exactly the restored blocks and count them out of the free words', () => {
    const memory = createSharedPoolMemory(CONFIG);
    const state = new NatState(CONFIG, 1, 0);
    const s = state.addSubscriber(1, 2, 3, 4);
    state.leaseBlock(udpRow(2, 3), s, 0);
    state.leaseBlock(20, s, 0);
    expect(claimSharedPoolBlocks(memory, 6, state)).toBe(2);
    const lessees = sharedPoolLessees(memory);
    expect(lessees[udpRow(2, 3)]).toBe(7);
    expect(lessees[20]).toBe(7);
    expect(sharedPoolUse(memory, CONFIG).map((u) => u.leasedBlocks)).toEqual([0, 0, 2]);
    expect(Array.from(new Int32Array(memory.buffer, 21 * 4, 9))).toEqual([2, 4, 1, 2, 4, 1, 2, 3, 0]);
  });

  it("proves ports in use are summed per pool address from the blocks' mapping counts, zeroing the output first", () => {
    const state = new NatState(CONFIG, 1, 0);
    const s = state.addSubscriber(1, 2, 3, 4);
    state.subscriberAddress[s] = 1;
    state.leaseBlock(udpRow(1, 0), s, 0);
    state.leaseBlock(udpRow(1, 2), s, 0);
    state.leaseBlock(2, s, 0); // tcp, address 1, no mapping
    state.addMapping(1, [1, 2, 3, 4], 1, 0xcb007109, 1024, s, udpRow(1, 0), 0);
    state.addMapping(1, [1, 2, 3, 5], 1, 0xcb007109, 1025, s, udpRow(1, 0), 0);
    state.addMapping(1, [1, 2, 3, 6], 1, 0xcb007109, 1153, s, udpRow(1, 2), 0);
    const t = state.addSubscriber(5, 6, 7, 8);
    state.subscriberAddress[t] = 2;
    state.leaseBlock(20, t, 0);
    state.addMapping(2, [5, 6, 7, 8], 1, 0xcb00710a, 1030, t, 20, 0);
    const out = Int32Array.from([9, 9, 9, 9]);
    portsInUseByAddress(state, out);
    expect(Array.from(out)).toEqual([0, 3, 1, 0]);
    expect(() => portsInUseByAddress(state, new Int32Array(2))).toThrow('one slot per pool address');
  });

  it('proves a restored state restates each leased block as a BlockLeased event: slot, address, first port, subscriber', () => {
    const state = new NatState(CONFIG, 1, 0);
    const s = state.addSubscriber(0x20010db8, 0x100, 0, 0);
    const t = state.addSubscriber(0x20010db8, 0x200, 0, 0);
    state.leaseBlock(udpRow(2, 3), s, 0);
    state.leaseBlock(19, t, 0);
    const head = { type: NatEventType.BlockLeased, version: NAT_EVENT_SCHEMA_VERSION, timeMs: 0 };
    expect(leasedBlockEvents(state, 4, 9)).toEqual([
      {
        ...head,
        shard: 4,
        epoch: 9,
        protocol: 1,
        address: 0xcb00710a,
        firstPort: 1216,
        subscriber: [0x20010db8, 0x100, 0, 0],
      },
      {
        ...head,
        shard: 4,
        epoch: 9,
        protocol: 2,
        address: 0xcb007109,
        firstPort: 1024,
        subscriber: [0x20010db8, 0x200, 0, 0],
      },
    ]);
    expect(leasedBlockEvents(state).map((e) => [e.shard, e.epoch])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(leasedBlockEvents(new NatState(CONFIG, 1, 0))).toEqual([]);
  });
});

describe('SharedPoolAllocator edges', () => {
  it('proves a preferred address 0 is kept whatever the random start, with or without shares', () => {
    const { allocator, state } = setup(scripted(2, 1, 2, 1));
    expect(state.blockAddressIndexOf(allocator.tryLease(SUB, UDP, 0, 0))).toBe(0);
    const s = shares({ shareOf: () => 0, addresses: [[1, 0]] });
    const shared = setup(scripted(0, 1, 0, 1), 0, s);
    expect(shared.state.blockAddressIndexOf(shared.allocator.tryLease(SUB, UDP, 0, 0))).toBe(0);
  });

  it('proves an address without a free block of the protocol is passed over without a draw', () => {
    // Address 2's four UDP blocks go first; then a new subscriber starting at address 2 (draw 2) takes
    // address 0's block at the next draw (1): block 1 of address 0.
    const { allocator } = setup(scripted(0, 0, 0, 0, 2, 1, 2, 3));
    for (let i = 0; i < 4; i++) expect(allocator.tryLease(SUB, UDP, 2, 0)).toBeGreaterThanOrEqual(0);
    expect(allocator.tryLease(SUB, UDP, -1, 0)).toBe(udpRow(0, 1));
    const s = shares({ shareOf: () => 0, addresses: [[2, 0]] });
    const shared = setup(scripted(0, 0, 0, 0, 0, 1, 2), 0, s);
    for (let i = 0; i < 4; i++) expect(shared.allocator.tryLease(SUB, UDP, 2, 0)).toBeGreaterThanOrEqual(0);
    // Start at the share's first address (2, full): address 0 with the next draw, 1.
    expect(shared.allocator.tryLease(SUB, UDP, -1, 0)).toBe(udpRow(0, 1));
  });

  it('proves a new subscriber takes one block, block 0 included, with or without shares', () => {
    const { allocator, memory } = setup(scripted(0, 0));
    expect(allocator.tryLease(SUB, 0, -1, 0)).toBe(0);
    expect(Array.from(sharedPoolLessees(memory)).filter((w) => w !== 0).length).toBe(1);
    const s = shares({ shareOf: () => 0, addresses: [[0, 1]] });
    const shared = setup(scripted(0, 0), 0, s);
    expect(shared.allocator.tryLease(SUB, 0, -1, 0)).toBe(0);
    expect(Array.from(sharedPoolLessees(shared.memory)).filter((w) => w !== 0).length).toBe(1);
    expect(s.leased[0]).toBe(1);
  });

  it("proves a share's scan reads each address's own free count", () => {
    for (const address of [0, 1, 2]) {
      const s = shares({ shareOf: () => 0, addresses: [[address]] });
      const { allocator, state } = setup(scripted(), 0, s);
      for (const slot of [0, 1, 2]) {
        const block = allocator.tryLease(SUB, slot, -1, 0);
        expect(block).toBeGreaterThanOrEqual(0);
        expect(state.blockAddressIndexOf(block)).toBe(address);
        expect(state.blockSlotOf(block)).toBe(slot);
      }
    }
  });

  it('proves the per-subscriber bound finds the subscriber in any row', () => {
    const s = shares({ shareOf: () => 0, addresses: [[0]], subscriberBlocksMax: [1] });
    const { allocator, state } = setup(scripted(), 0, s);
    state.addSubscriber(1, 2, 3, 4);
    const sub = state.addSubscriber(SUB[0], SUB[1], SUB[2], SUB[3]);
    expect(sub).toBe(1);
    state.subscriberAddress[sub] = 0;
    state.leaseBlock(allocator.tryLease(SUB, UDP, 0, 0), sub, 0);
    expect(allocator.tryLease(SUB, UDP, 0, 0)).toBe(POOL_REFUSED);
  });

  it('proves shares set after construction count leases and their releases', () => {
    const { allocator } = setup();
    const s = shares({ shareOf: () => 0, addresses: [[0]] });
    allocator.setShares(s);
    const block = allocator.tryLease(SUB, UDP, 0, 0);
    expect(s.leased[0]).toBe(1);
    allocator.released(block, 0);
    expect(s.leased[0]).toBe(0);
  });

  it('proves a restored state with leased blocks takes no shares when none are given, and classifies by both top words', () => {
    const memory = createSharedPoolMemory(CONFIG);
    const state = new NatState(CONFIG, 1, 0);
    const a = state.addSubscriber(0x20010db8, 0x100, 0, 0);
    const b = state.addSubscriber(0x20010db9, 0x100, 0, 0);
    state.leaseBlock(udpRow(0, 0), a, 0);
    state.leaseBlock(udpRow(1, 0), b, 0);
    expect(() => new SharedPoolAllocator(memory, 0, state, scripted())).not.toThrow();
    const s = shares({ shareOf: (w0) => (w0 === 0x20010db9 ? 1 : 0), addresses: [[0], [1]] });
    new SharedPoolAllocator(memory, 0, state, scripted(), s);
    expect(Array.from(s.leased)).toEqual([1, 1]);
  });

  it('proves the allocator refuses a pool with another block count on the same addresses', () => {
    const state = new NatState(CONFIG, 1, 0);
    const other = createSharedPoolMemory(
      validateConfig({
        pool: ['203.0.113.8-203.0.113.10'],
        blockSizePorts: 32,
        ports: { tcp: [1024, 1151] },
      }),
    );
    expect(other.poolAddressCount).toBe(3);
    expect(() => new SharedPoolAllocator(other, 0, state, scripted())).toThrow(
      'the shared pool was built from the same pool configuration as the engine',
    );
  });

  it('proves a second claim of a restored block names the rule, and the ports view takes an exact-size output', () => {
    const memory = createSharedPoolMemory(CONFIG);
    const state = new NatState(CONFIG, 1, 0);
    const s = state.addSubscriber(1, 2, 3, 4);
    state.leaseBlock(udpRow(1, 1), s, 0);
    claimSharedPoolBlocks(memory, 0, state);
    expect(() => claimSharedPoolBlocks(memory, 1, state)).toThrow(
      'a restored block is free in the node pool (no other shard restored it)',
    );
    const out = new Int32Array(3).fill(4);
    portsInUseByAddress(state, out);
    expect(Array.from(out)).toEqual([0, 0, 0]);
  });
});
