// NatState's tables driven directly through the reducer's add/remove functions: the pool geometry (block
// rows per protocol and address, RFC 6888 paired pooling), block lists and their counts, the RFC 6888 port
// hold-down, BIB entries and session lists (head, middle and tail removal), the subscriber free list, the
// per-subscriber session callback, the hairpin bit (RFC 6146 sec. 3.8) and when the session wheel visits.
import { describe, expect, it } from 'vitest';
import { NatState, validateConfig } from '../src/internal.js';
import { PORT_IN_USE, SESSION_DIRTY, SESSION_WORDS } from '../src/tables/nat-state.js';

// 203.0.113.8-9 with 64-port blocks: tcp 1024-1151 (2 blocks an address), udp 1024-1279 (4), icmp
// 1024-1087 (1). Rows: tcp 0-1 (.8) 2-3 (.9); udp 4-7 (.8) 8-11 (.9); icmp 12 (.8) 13 (.9).
const CONFIG_INPUT = {
  pool: ['203.0.113.8/31'],
  blockSizePorts: 64,
  ports: { tcp: [1024, 1151], udp: [1024, 1279], icmp: [1024, 1087] },
  subscribersMax: 4,
  mappingsMax: 8,
  sessionsMax: 8,
  leasedBlocksMax: 6,
  refreshLeadMs: 20_000,
} as const;
const CONFIG = validateConfig(CONFIG_INPUT);
const POOL_8 = 0xcb007108;
const POOL_9 = 0xcb007109;
const REMOTE = 0xc6336401;
const V6 = [0x20010db8, 0x100, 0, 5];

function fresh(config = CONFIG): NatState {
  const state = new NatState(config, 5, 0);
  state.sessionVisitLeadMs = config.refreshLeadMs;
  return state;
}

/** A subscriber 2001:db8:0:N00::/56 on pool address `address`. */
function subscriber(state: NatState, n: number, address: number): number {
  const s = state.addSubscriber(0x20010db8, n << 8, 0, 0);
  state.subscriberAddress[s] = address;
  return s;
}

function blockList(state: NatState, s: number, slot: number): number[] {
  const list: number[] = [];
  for (let b = state.subscriberBlockHead[s * 3 + slot]; b !== -1; b = state.blockNext[b]) list.push(b);
  return list;
}

function sessionList(state: NatState, m: number): number[] {
  const list: number[] = [];
  for (let x = state.mappingFirstSession[m]; x !== -1; x = state.sessionNextOf(x)) list.push(x);
  return list;
}

describe('pool geometry', () => {
  it('proves block rows run per protocol, then per pool address, then per block of the dynamic range', () => {
    const state = fresh();
    expect(CONFIG.totalBlocks).toBe(14);
    const rows: [number, number, number, number][] = [];
    for (let b = 0; b < CONFIG.totalBlocks; b++)
      rows.push([
        state.blockSlotOf(b),
        state.blockAddressIndexOf(b),
        state.blockFirstPortOf(b),
        state.blockAddressOf(b),
      ]);
    expect(rows).toEqual([
      [0, 0, 1024, POOL_8],
      [0, 0, 1088, POOL_8],
      [0, 1, 1024, POOL_9],
      [0, 1, 1088, POOL_9],
      [1, 0, 1024, POOL_8],
      [1, 0, 1088, POOL_8],
      [1, 0, 1152, POOL_8],
      [1, 0, 1216, POOL_8],
      [1, 1, 1024, POOL_9],
      [1, 1, 1088, POOL_9],
      [1, 1, 1152, POOL_9],
      [1, 1, 1216, POOL_9],
      [2, 0, 1024, POOL_8],
      [2, 1, 1024, POOL_9],
    ]);
    expect(state.blockIndexOf(1, 1, 2)).toBe(10);
    expect(state.blockIndexOf(2, 1, 0)).toBe(13);
    expect(state.blockIndexOf(0, 0, 1)).toBe(1);
  });

  it('proves a port maps to its block only inside the dynamic range, both ends included', () => {
    const state = fresh();
    expect(state.blockOfPort(1, 1, 1023)).toBe(-1);
    expect(state.blockOfPort(1, 1, 1024)).toBe(8);
    expect(state.blockOfPort(1, 1, 1087)).toBe(8);
    expect(state.blockOfPort(1, 1, 1088)).toBe(9);
    expect(state.blockOfPort(1, 1, 1279)).toBe(11);
    expect(state.blockOfPort(1, 1, 1280)).toBe(-1);
    expect(state.blockOfPort(0, 0, 1151)).toBe(1);
    expect(state.blockOfPort(0, 0, 1152)).toBe(-1);
    expect(state.blockOfPort(2, 0, 1087)).toBe(12);
    expect(state.blockOfPort(2, 0, 1088)).toBe(-1);
    expect(state.addressIndexOf(POOL_9)).toBe(1);
    expect(state.addressIndexOf(0xcb00710a)).toBe(-1);
  });

  it('proves a fresh state has every block free and counted per address and protocol', () => {
    const state = fresh();
    expect(Array.from(state.freeBlocksPerAddress)).toEqual([2, 4, 1, 2, 4, 1]);
    expect(Array.from(state.blockOwner)).toEqual(new Array(14).fill(-1));
    expect(Array.from(state.blockIdleSinceMs)).toEqual(new Array(14).fill(-1));
    expect(Array.from(state.blockNext)).toEqual(new Array(14).fill(-1));
    expect(Array.from(state.subscriberAddress)).toEqual([-1, -1, -1, -1]);
    expect(Array.from(state.subscriberBlockHead)).toEqual(new Array(12).fill(-1));
    expect(Array.from(state.mappingFirstSession)).toEqual(new Array(8).fill(-1));
    expect(state.hasSlabRoom()).toBe(true);
    expect(state.hasMappingRoom()).toBe(true);
    expect(state.hasSessionRoom()).toBe(true);
    expect(state.hasSubscriberRoom()).toBe(true);
    for (let m = 0; m < 8; m++) expect(state.isMappingUsed(m)).toBe(false);
    for (let x = 0; x < 8; x++) expect(state.isSessionUsed(x)).toBe(false);
  });
});

describe('subscribers', () => {
  it('proves subscribersMax rows are handed out, refused past the bound, and reused after removal', () => {
    const state = fresh();
    const rows = [0, 1, 2, 3].map((n) => state.addSubscriber(0x20010db8, n << 8, 0, 0));
    expect(new Set(rows).size).toBe(4);
    expect(state.subscriberCount).toBe(4);
    expect(state.hasSubscriberRoom()).toBe(false);
    expect(() => state.addSubscriber(0x20010db8, 9 << 8, 0, 0)).toThrow('subscriber table has room');
    for (let n = 0; n < 4; n++) expect(state.findSubscriber(0x20010db8, n << 8, 0, 0)).toBe(rows[n]);
    state.removeSubscriberIfUnused(rows[2]);
    expect(state.subscriberCount).toBe(3);
    expect(state.subscriberUsed[rows[2]]).toBe(0);
    expect(state.findSubscriber(0x20010db8, 2 << 8, 0, 0)).toBe(-1);
    expect(state.hasSubscriberRoom()).toBe(true);
    // The freed row is the next one handed out, with its counters and lists reset.
    const again = state.addSubscriber(0x20010db8, 7 << 8, 0, 0);
    expect(again).toBe(rows[2]);
    expect(state.subscriberAddress[again]).toBe(-1);
    expect(Array.from(state.subscriberPrefix.subarray(again * 4, again * 4 + 4))).toEqual([
      0x20010db8,
      7 << 8,
      0,
      0,
    ]);
    for (const n of [0, 1, 3]) expect(state.findSubscriber(0x20010db8, n << 8, 0, 0)).toBe(rows[n]);
  });

  it('proves a subscriber is kept while it holds a block of any protocol or a BIB entry', () => {
    for (const slot of [0, 1, 2]) {
      const state = fresh();
      const s = subscriber(state, 1, 1);
      state.leaseBlock(state.blockIndexOf(slot, 1, 0), s, 0);
      state.removeSubscriberIfUnused(s);
      expect(state.subscriberUsed[s]).toBe(1);
      expect(state.subscriberAddress[s]).toBe(1);
      expect(state.findSubscriber(0x20010db8, 1 << 8, 0, 0)).toBe(s);
    }
    const state = fresh();
    const s = subscriber(state, 1, 1);
    state.addMapping(1, V6, 5000, POOL_9, 80, s, -1, 0);
    state.removeSubscriberIfUnused(s);
    expect(state.subscriberUsed[s]).toBe(1);
  });
});

describe('blocks', () => {
  it('proves leasing puts a block at the head of its subscriber list, counted, idle since the lease', () => {
    const state = fresh();
    const s = subscriber(state, 1, 1);
    state.leaseBlock(8, s, 1000);
    state.leaseBlock(10, s, 2000);
    state.leaseBlock(9, s, 3000);
    state.leaseBlock(2, s, 4000);
    expect(blockList(state, s, 1)).toEqual([9, 10, 8]);
    expect(blockList(state, s, 0)).toEqual([2]);
    expect(Array.from(state.subscriberBlockCount.subarray(s * 3, s * 3 + 3))).toEqual([1, 3, 0]);
    expect(state.leasedBlockCount).toBe(4);
    expect(Array.from(state.freeBlocksPerAddress)).toEqual([2, 4, 1, 1, 1, 1]);
    expect([8, 10, 9, 2].map((b) => state.blockIdleSinceMs[b])).toEqual([1000, 2000, 3000, 4000]);
    expect([8, 10, 9, 2].map((b) => state.blockOwner[b])).toEqual([s, s, s, s]);
    // Each block has a slab of its own.
    expect(new Set([8, 10, 9, 2].map((b) => state.blockSlab[b])).size).toBe(4);
    // An idle block is due for release blockIdleTimeoutMs after it went idle.
    // (visited at the wheel's first one-second tick after the due time).
    const due: number[] = [];
    state.blockWheel.advance(1000 + CONFIG.blockIdleTimeoutMs + 999, (b) => due.push(b));
    expect(due).toEqual([]);
    state.blockWheel.advance(1000 + CONFIG.blockIdleTimeoutMs + 1000, (b) => due.push(b));
    expect(due).toEqual([8]);
  });

  it('proves releasing from the middle, the head and the tail keeps the rest of the list, and frees the subscriber last', () => {
    const state = fresh();
    const s = subscriber(state, 1, 1);
    for (const b of [8, 9, 10, 11]) state.leaseBlock(b, s, 0);
    expect(blockList(state, s, 1)).toEqual([11, 10, 9, 8]);
    state.releaseBlock(10);
    expect(blockList(state, s, 1)).toEqual([11, 9, 8]);
    expect(state.blockNext[10]).toBe(-1);
    expect(state.blockOwner[10]).toBe(-1);
    expect(state.blockSlab[10]).toBe(-1);
    expect(state.blockIdleSinceMs[10]).toBe(-1);
    expect(state.blockWheel.isScheduled(10)).toBe(false);
    state.releaseBlock(11);
    expect(blockList(state, s, 1)).toEqual([9, 8]);
    state.releaseBlock(8);
    expect(blockList(state, s, 1)).toEqual([9]);
    expect(state.subscriberBlockCount[s * 3 + 1]).toBe(1);
    expect(state.leasedBlockCount).toBe(1);
    expect(state.freeBlocksPerAddress[1 * 3 + 1]).toBe(3);
    expect(state.subscriberUsed[s]).toBe(1);
    state.releaseBlock(9);
    expect(state.subscriberUsed[s]).toBe(0);
    expect(state.subscriberCount).toBe(0);
    expect(state.findSubscriber(0x20010db8, 1 << 8, 0, 0)).toBe(-1);
    expect(() => state.releaseBlock(9)).toThrow('a released block is leased');
  });

  it('proves leasedBlocksMax slabs bound the leases, and a released slab comes back cleared of old holds', () => {
    const state = fresh();
    const s = subscriber(state, 1, 1);
    for (const b of [2, 3, 8, 9, 10, 11]) state.leaseBlock(b, s, 0);
    expect(state.hasSlabRoom()).toBe(false);
    expect(() => state.leaseBlock(13, s, 0)).toThrow('a slab is free for the block');
    expect(() => state.leaseBlock(8, s, 0)).toThrow('a leased block is free');
    // A hold on block 8's first port, then the block goes back and another takes its slab.
    const m = state.addMapping(1, V6, 5000, POOL_9, 1024, s, 8, 0);
    expect(() => state.releaseBlock(8)).toThrow('a released block has no mapping');
    state.removeMapping(m, 5000);
    const slab = state.blockSlab[8];
    expect(state.slabFreedAtS[slab * 64]).toBe(6);
    state.releaseBlock(8);
    expect(state.hasSlabRoom()).toBe(true);
    state.leaseBlock(13, s, 0);
    expect(state.blockSlab[13]).toBe(slab);
    expect(Array.from(state.slabFreedAtS.subarray(slab * 64, slab * 64 + 64))).toEqual(new Array(64).fill(0));
  });

  it('proves the slabs are min(leasedBlocksMax, all blocks)', () => {
    const state = fresh(validateConfig({ ...CONFIG_INPUT, leasedBlocksMax: 100 }));
    const s = subscriber(state, 1, 0);
    for (let b = 0; b < 14; b++) if (state.blockAddressIndexOf(b) === 0) state.leaseBlock(b, s, 0);
    const t = subscriber(state, 2, 1);
    for (let b = 0; b < 14; b++) if (state.blockAddressIndexOf(b) === 1) state.leaseBlock(b, t, 0);
    expect(state.leasedBlockCount).toBe(14);
    expect(state.hasSlabRoom()).toBe(false);
    expect(new Set(Array.from(state.blockSlab)).size).toBe(14);
    expect(Math.max(...state.blockSlab)).toBe(13);
  });
});

describe('BIB entries and the port hold-down', () => {
  it('proves a dynamic entry takes its port, idles its block when the last entry goes, and holds the port', () => {
    const state = fresh();
    const s = subscriber(state, 1, 1);
    state.leaseBlock(9, s, 100);
    const a = state.addMapping(1, V6, 5000, POOL_9, 1090, s, 9, 200);
    const b = state.addMapping(1, [0x20010db8, 0x100, 0, 6], 5000, POOL_9, 1151, s, 9, 300);
    expect(state.blockInUse[9]).toBe(2);
    expect(state.blockIdleSinceMs[9]).toBe(-1);
    expect(state.blockWheel.isScheduled(9)).toBe(false);
    expect(state.mappingBlockOf(a)).toBe(9);
    expect(state.mappingStaticOf(a)).toBe(0);
    expect(state.mappingSubscriberOf(b)).toBe(s);
    const slab = state.blockSlab[9] * 64;
    expect(state.slabFreedAtS[slab + 2]).toBe(PORT_IN_USE);
    expect(state.slabFreedAtS[slab + 63]).toBe(PORT_IN_USE);
    expect(state.isPortTaken(9, 1090, 0)).toBe(true);
    expect(state.isPortTaken(9, 1091, 0)).toBe(false);
    state.removeMapping(a, 61_999);
    // Freed in second 61: stored as 62 (0 means never used), held until 62 s + portReuseHoldMs.
    expect(state.slabFreedAtS[slab + 2]).toBe(62);
    expect(state.blockInUse[9]).toBe(1);
    expect(state.blockIdleSinceMs[9]).toBe(-1);
    const hold = CONFIG.portReuseHoldMs;
    expect(state.isPortTaken(9, 1090, 62_000 + hold - 1)).toBe(true);
    expect(state.isPortTaken(9, 1090, 62_000 + hold)).toBe(false);
    state.removeMapping(b, 70_000);
    expect(state.blockInUse[9]).toBe(0);
    expect(state.blockIdleSinceMs[9]).toBe(70_000);
    expect(state.blockWheel.isScheduled(9)).toBe(true);
    expect(state.mappingCount).toBe(0);
    expect(state.subscriberMappingCount[s]).toBe(0);
    // The subscriber stays: it still holds the block.
    expect(state.subscriberUsed[s]).toBe(1);
  });

  it('proves a second entry on a port in use is a programmer error', () => {
    const state = fresh();
    const s = subscriber(state, 1, 1);
    state.leaseBlock(9, s, 100);
    state.addMapping(1, V6, 5000, POOL_9, 1090, s, 9, 200);
    expect(() => state.addMapping(1, [1, 2, 3, 4], 1, POOL_9, 1090, s, 9, 0)).toThrow(
      'a new mapping takes a free port',
    );
    const other = subscriber(state, 2, 1);
    expect(() => state.addMapping(1, [1, 2, 3, 4], 1, POOL_9, 1091, other, 9, 0)).toThrow(
      "a dynamic mapping's port is in a block of its subscriber",
    );
  });

  it('proves a static entry has no block, holds no port, and its removal frees the subscriber', () => {
    const state = fresh();
    const s = subscriber(state, 1, 1);
    const m = state.addMapping(0, V6, 22, POOL_9, 2222, s, -1, 0);
    expect(state.mappingStaticOf(m)).toBe(1);
    expect(state.mappingBlockOf(m)).toBe(-1);
    expect(state.mappingProtocolOf(m)).toBe(0);
    expect(state.mappingV6PortOf(m)).toBe(22);
    expect(state.mappingV4Of(m)).toBe(POOL_9);
    expect(state.mappingV4PortOf(m)).toBe(2222);
    expect(state.findMapping4(0, POOL_9, 2222)).toBe(m);
    expect(state.findMapping6(0, Uint32Array.from(V6), 0, 22)).toBe(m);
    state.removeMapping(m, 1000);
    expect(state.isMappingUsed(m)).toBe(false);
    expect(state.findMapping4(0, POOL_9, 2222)).toBe(-1);
    expect(state.findMapping6(0, Uint32Array.from(V6), 0, 22)).toBe(-1);
    expect(state.subscriberUsed[s]).toBe(0);
  });

  it('proves mappingsMax rows are handed out, refused past the bound, and a removed row is reused', () => {
    const state = fresh();
    const s = subscriber(state, 1, 1);
    const rows: number[] = [];
    for (let i = 0; i < 8; i++)
      rows.push(state.addMapping(2, [0x20010db8, 0x100, 0, i], 7, POOL_9, 10 + i, s, -1, 0));
    expect(new Set(rows).size).toBe(8);
    expect(state.hasMappingRoom()).toBe(false);
    expect(() => state.addMapping(2, V6, 9, POOL_9, 99, s, -1, 0)).toThrow('BIB has room');
    state.removeMapping(rows[5], 0);
    expect(state.hasMappingRoom()).toBe(true);
    expect(state.addMapping(2, V6, 9, POOL_9, 99, s, -1, 0)).toBe(rows[5]);
    for (let i = 0; i < 8; i++) if (i !== 5) expect(state.findMapping4(2, POOL_9, 10 + i)).toBe(rows[i]);
  });
});

describe('sessions', () => {
  function withMapping() {
    const state = fresh();
    const s = subscriber(state, 1, 1);
    state.leaseBlock(9, s, 0);
    const m = state.addMapping(1, V6, 5000, POOL_9, 1090, s, 9, 0);
    return { state, s, m };
  }

  it('proves sessions join their mapping list at the head and leave it from the middle, tail and head', () => {
    const { state, s, m } = withMapping();
    const x = [0, 1, 2, 3].map((i) => state.addSession(m, REMOTE + i, 53, 0, 100_000, 0));
    expect(sessionList(state, m)).toEqual([x[3], x[2], x[1], x[0]]);
    expect(state.mappingSessionCount[m]).toBe(4);
    expect(state.subscriberSessionCount[s]).toBe(4);
    expect(state.sessionCount).toBe(4);
    state.removeSession(x[2]);
    expect(sessionList(state, m)).toEqual([x[3], x[1], x[0]]);
    state.removeSession(x[0]);
    expect(sessionList(state, m)).toEqual([x[3], x[1]]);
    state.removeSession(x[3]);
    expect(sessionList(state, m)).toEqual([x[1]]);
    expect(state.mappingSessionCount[m]).toBe(1);
    expect(state.subscriberSessionCount[s]).toBe(1);
    expect(state.sessionCount).toBe(1);
    for (const i of [0, 2, 3]) {
      expect(state.findSession(m, REMOTE + i, 53)).toBe(-1);
      expect(state.isSessionUsed(x[i])).toBe(false);
      expect(state.sessionWheel.isScheduled(x[i])).toBe(false);
    }
    expect(state.findSession(m, REMOTE + 1, 53)).toBe(x[1]);
    expect(state.findSession6(1, Uint32Array.from(V6), 0, 5000, REMOTE + 1, 53)).toBe(x[1]);
    expect(state.mappingHasRemote(m, REMOTE + 1)).toBe(true);
    expect(state.mappingHasRemote(m, REMOTE)).toBe(false);
    expect(() => state.removeMapping(m, 0)).toThrow('a removed mapping has no session');
    state.removeSession(x[1]);
    expect(state.mappingFirstSession[m]).toBe(-1);
    expect(state.mappingHasRemote(m, REMOTE + 1)).toBe(false);
  });

  it('proves mappingHasRemote looks at every session of the mapping, not only the first', () => {
    const { state, m } = withMapping();
    state.addSession(m, REMOTE, 53, 0, 100_000, 0);
    state.addSession(m, REMOTE + 1, 53, 0, 100_000, 0);
    state.addSession(m, REMOTE + 2, 53, 0, 100_000, 0);
    expect(state.mappingHasRemote(m, REMOTE)).toBe(true);
    expect(state.mappingHasRemote(m, REMOTE + 1)).toBe(true);
    expect(state.mappingHasRemote(m, REMOTE + 3)).toBe(false);
    // A remote with the top bit set (an int32 word below zero) is compared as the same address.
    state.addSession(m, 0xc0000201, 53, 0, 100_000, 0);
    expect(state.mappingHasRemote(m, 0xc0000201)).toBe(true);
  });

  it('proves the subscriber callback hears +1 for each session added and -1 for each removed', () => {
    const { state, s, m } = withMapping();
    const heard: [number, number][] = [];
    state.onSubscriberSessions = (sub, delta) => heard.push([sub, delta]);
    const a = state.addSession(m, REMOTE, 53, 0, 100_000, 0);
    state.addSession(m, REMOTE + 1, 53, 0, 100_000, 0);
    state.removeSession(a);
    expect(heard).toEqual([
      [s, 1],
      [s, 1],
      [s, -1],
    ]);
  });

  it('proves a session record holds its fields, the hairpin bit marks a pool remote, and the dirty bit survives reuse', () => {
    const { state, m } = withMapping();
    const outside = state.addSession(m, REMOTE, 443, 4, 100_000, 0);
    const hairpin = state.addSession(m, POOL_8, 1100, 0, 100_000, 0);
    expect(state.sessionMappingOf(outside)).toBe(m);
    expect(state.sessionRemoteOf(outside)).toBe(REMOTE);
    expect(state.sessionRemotePortOf(outside)).toBe(443);
    expect(state.sessionStateOf(outside)).toBe(4);
    expect(state.sessionHairpinOf(outside)).toBe(0);
    expect(state.sessionHairpinOf(hairpin)).toBe(1);
    // The engine marks a session dirty; removal and reuse of the row keep the bit (the engine's list owns it).
    state.sessionRecord[outside * SESSION_WORDS + 2] |= SESSION_DIRTY;
    state.removeSession(outside);
    expect(state.sessionRecord[outside * SESSION_WORDS + 2] & SESSION_DIRTY).toBe(SESSION_DIRTY);
    const reused = state.addSession(m, REMOTE + 9, 80, 2, 50_000, 0);
    expect(reused).toBe(outside);
    expect(state.sessionRecord[reused * SESSION_WORDS + 2] & SESSION_DIRTY).toBe(SESSION_DIRTY);
    expect(state.sessionStateOf(reused)).toBe(2);
    expect(state.sessionRemotePortOf(reused)).toBe(80);
    // The same for a row other than the first.
    state.sessionRecord[hairpin * SESSION_WORDS + 2] |= SESSION_DIRTY;
    const third = state.addSession(m, REMOTE + 3, 81, 0, 50_000, 0);
    expect(third).not.toBe(0);
    state.sessionRecord[third * SESSION_WORDS + 2] |= SESSION_DIRTY;
    state.removeSession(third);
    expect(state.sessionRecord[third * SESSION_WORDS + 2] & SESSION_DIRTY).toBe(SESSION_DIRTY);
    // A state change keeps the port, the hairpin bit and the dirty bit and sets both expiries.
    state.sessionRecord[hairpin * SESSION_WORDS + 2] |= SESSION_DIRTY;
    state.changeSession(hairpin, 7, 90_000, 1000);
    expect(state.sessionRecord[hairpin * SESSION_WORDS + 2] & SESSION_DIRTY).toBe(SESSION_DIRTY);
    expect(state.sessionStateOf(hairpin)).toBe(7);
    expect(state.sessionRemotePortOf(hairpin)).toBe(1100);
    expect(state.sessionHairpinOf(hairpin)).toBe(1);
    expect(state.sessionExpiresAtOf(hairpin)).toBe(90_000);
    expect(state.sessionLoggedExpiresAtOf(hairpin)).toBe(90_000);
    state.setSessionExpiresAt(hairpin, 95_000);
    expect(state.sessionExpiresAtOf(hairpin)).toBe(95_000);
    expect(state.sessionLoggedExpiresAtOf(hairpin)).toBe(90_000);
  });

  it('proves sessionsMax rows are handed out, refused past the bound, and reused after removal', () => {
    const { state, m } = withMapping();
    const rows = Array.from({ length: 8 }, (_, i) => state.addSession(m, REMOTE + i, 53, 0, 100_000, 0));
    expect(new Set(rows).size).toBe(8);
    expect(state.hasSessionRoom()).toBe(false);
    expect(() => state.addSession(m, REMOTE + 8, 53, 0, 100_000, 0)).toThrow('session table has room');
    state.removeSession(rows[3]);
    expect(state.hasSessionRoom()).toBe(true);
    expect(state.addSession(m, REMOTE + 8, 53, 0, 100_000, 0)).toBe(rows[3]);
  });

  it('proves the session wheel visits refreshLeadMs before the logged expiry, never before the event time', () => {
    const { state, m } = withMapping();
    const visitsAt = (nowMs: number) => {
      const seen: number[] = [];
      state.sessionWheel.advance(nowMs, (x) => seen.push(x));
      return seen;
    };
    const a = state.addSession(m, REMOTE, 53, 0, 100_000, 0); // visit due at 80 s
    const b = state.addSession(m, REMOTE + 1, 53, 0, 30_000, 15_000); // 10 s < event time 15 s: due at 15 s
    expect(visitsAt(14_999)).toEqual([]);
    expect(visitsAt(16_000)).toEqual([b]);
    expect(visitsAt(80_999)).toEqual([]);
    expect(visitsAt(81_000)).toEqual([a]);
    // A change reschedules the same way: new logged expiry 200 s, due at 180 s.
    state.changeSession(a, 0, 200_000, 81_000);
    expect(visitsAt(180_999)).toEqual([]);
    expect(visitsAt(181_000)).toEqual([a]);
    // A replica (lead 0) visits at the expiry itself.
    const replica = fresh();
    const s = subscriber(replica, 1, 1);
    const mm = replica.addMapping(1, V6, 5000, POOL_9, 80, s, -1, 0);
    const x = replica.addSession(mm, REMOTE, 53, 0, 100_000, 0);
    replica.sessionVisitLeadMs = 0;
    replica.changeSession(x, 0, 100_000, 0);
    const seen: number[] = [];
    replica.sessionWheel.advance(100_999, (e) => seen.push(e));
    expect(seen).toEqual([]);
    replica.sessionWheel.advance(101_000, (e) => seen.push(e));
    expect(seen).toEqual([x]);
  });
});
