// The snapshot's wire form byte by byte, built by hand from the layout in codec/nat-state-snapshot.ts
// (header: magic "X64N", format, configuration fingerprint, time, four counts; then per subscriber its
// prefix, address, blocks per protocol with their RFC 6888 port holds, and its BIB entries each with its
// sessions), and every refusal of restore named by its message: damage is refused as a value naming what
// is wrong, never thrown and never half restored.
import { describe, expect, it } from 'vitest';
import {
  checkInvariants,
  dumpState,
  NAT_SNAPSHOT_FORMAT_VERSION,
  NatState,
  natConfigFingerprint,
  natStateSnapshotBytesMax,
  restoreNatState,
  snapshotNatState,
  validateConfig,
  writeNatStateSnapshot,
} from '../src/internal.js';

// 203.0.113.8-9; every protocol's dynamic range 1024-1151 in two blocks of 64 ports per address. Block rows
// run tcp (address 0: 0-1, address 1: 2-3), udp (4-7), icmp (8-11).
const CONFIG_INPUT = {
  pool: ['203.0.113.8/31'],
  blockSizePorts: 64,
  ports: { tcp: [1024, 1151], udp: [1024, 1151], icmp: [1024, 1151] },
  subscriberPrefixLength: 56,
  subscribersMax: 8,
  mappingsMax: 16,
  sessionsMax: 16,
  leasedBlocksMax: 8,
} as const;
const CONFIG = validateConfig(CONFIG_INPUT);
const POOL_9 = 0xcb007109;
const SUBSCRIBER = [0x20010db8, 0x00000100, 0, 0]; // 2001:db8:0:100::/56
const TCP_BLOCK = 2; // tcp, 203.0.113.9, ports 1024-1087
const UDP_BLOCK = 7; // udp, 203.0.113.9, ports 1088-1151
const SNAPSHOT_MS = 2000;

/**
 * One subscriber on 203.0.113.9: an idle TCP block whose port 1030 was freed at 1.5 s (held), a UDP block
 * with the mapping [2001:db8:0:100::5]:5000 -> :1090 and two sessions (the first refreshed in place past its
 * logged expiry), and a static ICMP entry [2001:db8:0:100::7] id 7 -> :7 without sessions.
 */
function buildState(): NatState {
  const state = new NatState(CONFIG, 99, 0);
  const s = state.addSubscriber(SUBSCRIBER[0], SUBSCRIBER[1], SUBSCRIBER[2], SUBSCRIBER[3]);
  state.subscriberAddress[s] = 1;
  state.leaseBlock(TCP_BLOCK, s, 700);
  const held = state.addMapping(0, [0x20010db8, 0x100, 0, 9], 9000, POOL_9, 1030, s, TCP_BLOCK, 800);
  state.removeMapping(held, 1500);
  state.leaseBlock(UDP_BLOCK, s, 500);
  const udp = state.addMapping(1, [0x20010db8, 0x100, 0, 5], 5000, POOL_9, 1090, s, UDP_BLOCK, 1000);
  const first = state.addSession(udp, 0xc6336401, 53, 0, 301_000, 1000);
  state.addSession(udp, 0xc6336402, 53, 0, 60_000, 1200);
  state.setSessionExpiresAt(first, 400_000);
  state.addMapping(2, [0x20010db8, 0x100, 0, 7], 7, POOL_9, 7, s, -1, 1300);
  return state;
}

const f64 = (value: number): number[] => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value);
  return Array.from(bytes);
};

interface Parts {
  header: number[];
  subscriber: number[];
  tcpBlocks: number[];
  udpBlocks: number[];
  icmpBlocks: number[];
  mappingCount: number[];
  udpMapping: number[];
  session1: number[];
  session2: number[];
  icmpMapping: number[];
}

/** The snapshot of buildState() at 2 s, section by section, from the documented layout. */
function parts(): Parts {
  return {
    // "X64N", format 1, fingerprint, time 2000 as a float64, 1 subscriber, 2 blocks, 2 mappings, 2 sessions.
    header: [
      ...[0x58, 0x36, 0x34, 0x4e],
      NAT_SNAPSHOT_FORMAT_VERSION,
      ...natConfigFingerprint(CONFIG),
      ...[0x40, 0x9f, 0x40, 0, 0, 0, 0, 0],
      ...[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2],
    ],
    // Prefix 2001:db8:0:100:: trimmed to 7 bytes; address index 1 as zigzag 2.
    subscriber: [0x07, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x02],
    // One TCP block: row 2, idle since 1500 ms, one held port: offset 6 freed in second 1 (stored + 1 = 2).
    tcpBlocks: [0x01, 0x02, ...[0x40, 0x97, 0x70, 0, 0, 0, 0, 0], 0x01, 0x06, 0, 0, 0, 2],
    // One UDP block: row 7, in use (idle since -1), no held port.
    udpBlocks: [0x01, 0x07, ...[0xbf, 0xf0, 0, 0, 0, 0, 0, 0], 0x00],
    icmpBlocks: [0x00],
    mappingCount: [0x02],
    // udp, dynamic; the address after the /56's 7 bytes; port 5000; pool port 1090; two sessions.
    udpMapping: [0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x05, 0x13, 0x88, 0x04, 0x42, 0x02],
    // The older session first: 198.51.100.1:53, live 400000 - 2000 = 398000 (zigzag 796000 = e0 ca 30),
    // live - logged = 400000 - 301000 = 99000 (zigzag 198000 = f0 8a 0c).
    session1: [0xc6, 0x33, 0x64, 0x01, 0x00, 0x35, 0xe0, 0xca, 0x30, 0xf0, 0x8a, 0x0c],
    // 198.51.100.2:53, live 60000 - 2000 = 58000 (zigzag 116000 = a0 8a 07), logged = live.
    session2: [0xc6, 0x33, 0x64, 0x02, 0x00, 0x35, 0xa0, 0x8a, 0x07, 0x00],
    // icmp (2) | static (16); ::7; id 7; pool port 7; no sessions.
    icmpMapping: [0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, 0x00, 0x07, 0x00, 0x07, 0x00],
  };
}

function join(p: Parts): Uint8Array {
  return Uint8Array.from([
    ...p.header,
    ...p.subscriber,
    ...p.tcpBlocks,
    ...p.udpBlocks,
    ...p.icmpBlocks,
    ...p.mappingCount,
    ...p.udpMapping,
    ...p.session1,
    ...p.session2,
    ...p.icmpMapping,
  ]);
}

function restore(bytes: Uint8Array, config = CONFIG) {
  return restoreNatState(config, bytes, 0, bytes.length, { hashSeed: 7, startMs: SNAPSHOT_MS });
}

/** The refusal of the snapshot `change` makes of the reference one. */
function refusalOf(change: (p: Parts) => void): string {
  const p = parts();
  change(p);
  const result = restore(join(p));
  expect(result.ok).toBe(false);
  return result.ok ? '' : `${result.refusal}: ${result.message}`;
}

describe('snapshot wire form', () => {
  it('proves a snapshot is written exactly as the documented layout, alone and at an offset', () => {
    const state = buildState();
    expect(checkInvariants(state)).toEqual([]);
    const expected = join(parts());
    expect(Array.from(snapshotNatState(state, SNAPSHOT_MS))).toEqual(Array.from(expected));
    const out = new Uint8Array(natStateSnapshotBytesMax(state) + 10).fill(0xee);
    const end = writeNatStateSnapshot(state, SNAPSHOT_MS, out, 10);
    expect(end).toBe(10 + expected.length);
    expect(Array.from(out.subarray(10, end))).toEqual(Array.from(expected));
    expect(Array.from(out.subarray(0, 10))).toEqual(new Array(10).fill(0xee));
  });

  it('proves the documented layout restores every entry: blocks, holds, idle times, BIB, both lifetimes', () => {
    const result = restore(join(parts()));
    if (!result.ok) throw new Error(result.message);
    expect(result.timeMs).toBe(SNAPSHOT_MS);
    const state = result.state;
    expect(checkInvariants(state)).toEqual([]);
    expect(dumpState(state)).toEqual(dumpState(buildState()));
    expect(dumpState(state, { expiry: 'logged' })).toEqual(dumpState(buildState(), { expiry: 'logged' }));
    expect(dumpState(state)).toEqual({
      subscribers: ['2001:db8:0:100:0:0:0:0/56 address#1 blocks 1/1/0 mappings 2 sessions 2'],
      blocks: [
        'tcp 203.0.113.9:1024+64 owner 2001:db8:0:100:0:0:0:0/56 inUse 0 idleSince 1500 freed [1030@2]',
        'udp 203.0.113.9:1088+64 owner 2001:db8:0:100:0:0:0:0/56 inUse 1 idleSince -1 freed []',
      ],
      mappings: [
        'icmp [2001:db8:0:100:0:0:0:7]:7 203.0.113.9:7 static sessions 0',
        'udp [2001:db8:0:100:0:0:0:5]:5000 203.0.113.9:1090 sessions 2',
      ],
      sessions: [
        'udp 203.0.113.9:1090 -> 198.51.100.1:53 expires 400000',
        'udp 203.0.113.9:1090 -> 198.51.100.2:53 expires 60000',
      ],
    });
    expect(dumpState(state, { expiry: 'logged' }).sessions).toEqual([
      'udp 203.0.113.9:1090 -> 198.51.100.1:53 expires 301000',
      'udp 203.0.113.9:1090 -> 198.51.100.2:53 expires 60000',
    ]);
    // The session list keeps its order (newest at the head), and the restored state finds by both keys.
    const m = state.findMapping4(1, POOL_9, 1090);
    expect(state.mappingFirstSession[m]).toBe(state.findSession(m, 0xc6336402, 53));
    expect(state.findMapping6(2, Uint32Array.from([0x20010db8, 0x100, 0, 7]), 0, 7)).not.toBe(-1);
    // The session wheel of a restored state visits refreshLeadMs before the logged expiry.
    expect(state.sessionVisitLeadMs).toBe(CONFIG.refreshLeadMs);
  });

  it('proves a restored state keeps the port hold: the held port is taken until 120 s after it was freed', () => {
    const result = restore(join(parts()));
    if (!result.ok) throw new Error(result.message);
    // Freed in second 1 (stored as 2): taken before 2 s + portReuseHoldMs, free from then on.
    expect(result.state.isPortTaken(TCP_BLOCK, 1030, 2000 + CONFIG.portReuseHoldMs - 1)).toBe(true);
    expect(result.state.isPortTaken(TCP_BLOCK, 1030, 2000 + CONFIG.portReuseHoldMs)).toBe(false);
    expect(result.state.isPortTaken(TCP_BLOCK, 1031, 0)).toBe(false);
  });

  it('proves the byte bound is every varint at its widest and every port held, per documented field', () => {
    const state = buildState();
    const header = 4 + 1 + 32 + 8 + 4 * 4;
    const perSubscriber = 17 + 5 + 3 * 5 + 5;
    const perBlock = 5 + 8 + 5 + 64 * (5 + 4);
    const perMapping = 1 + 16 + 2 + 2 + 5;
    const perSession = 4 + 2 + 1 + 10 + 10;
    expect(natStateSnapshotBytesMax(state)).toBe(
      header + perSubscriber + 2 * perBlock + 2 * perMapping + 2 * perSession,
    );
    expect(natStateSnapshotBytesMax(new NatState(CONFIG, 1, 0))).toBe(header);
  });
});

describe('snapshot fingerprint', () => {
  it('proves the fingerprint covers pool, port ranges, block size, subscriber length and deterministic prefix, not timeouts or bounds', () => {
    const hex = (input: object) =>
      Buffer.from(natConfigFingerprint(validateConfig({ ...CONFIG_INPUT, ...input }))).toString('hex');
    const base = hex({});
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    const changed = [
      { pool: ['203.0.113.10/31'] },
      { ports: { ...CONFIG_INPUT.ports, udp: [1088, 1215] } },
      { ports: { ...CONFIG_INPUT.ports, tcp: [1024, 1215] } },
      { blockSizePorts: 32 },
      { subscriberPrefixLength: 60 },
      { deterministic: { ipv6Prefix: '2001:db8::/32' } },
      { deterministic: { ipv6Prefix: '2001:db9::/32' } },
      { deterministic: { ipv6Prefix: '2001:db8::/30' } },
    ].map(hex);
    expect(new Set([base, ...changed]).size).toBe(1 + changed.length);
    expect(
      hex({ timeouts: { udpMs: 600_000 }, sessionsMax: 64, subscribersMax: 9, refreshLeadMs: 1000 }),
    ).toBe(base);
  });

  it('proves a fingerprint differing in one byte only is refused', () => {
    for (const at of [5, 36]) {
      const p = parts();
      p.header[at] ^= 0x01;
      const result = restore(join(p));
      expect(result).toMatchObject({ ok: false, refusal: 'config-mismatch' });
    }
  });
});

describe('snapshot edges', () => {
  it('proves the last subscriber row is written with its entries', () => {
    // Fill all 8 subscriber rows; the last one holds the only BIB entry.
    const state = new NatState(CONFIG, 99, 0);
    const rows = Array.from({ length: 8 }, (_, n) => state.addSubscriber(0x20010db8, (n + 1) << 8, 0, 0));
    const last = rows[7];
    expect(last).toBe(7);
    state.subscriberAddress[last] = 0;
    state.addMapping(2, [0x20010db8, 0x800, 0, 1], 7, 0xcb007108, 7, last, -1, 0);
    const bytes = snapshotNatState(state, 0);
    const result = restore(bytes);
    if (!result.ok) throw new Error(result.message);
    expect(dumpState(result.state)).toEqual(dumpState(state));
    expect(result.state.mappingCount).toBe(1);
  });

  it('proves a block may hold every one of its ports, and no more', () => {
    const all = parts();
    const holds: number[] = [];
    for (let port = 0; port < 64; port++) holds.push(port, 0, 0, 0, 2);
    all.tcpBlocks = [0x01, 0x02, ...f64(1500), 64, ...holds];
    const result = restore(join(all));
    if (!result.ok) throw new Error(result.message);
    expect(dumpState(result.state).blocks[0]).toContain('freed [1024@2 1025@2');
    expect(dumpState(result.state).blocks[0]).toContain('1087@2]');
    const over = parts();
    over.tcpBlocks = [0x01, 0x02, ...f64(1500), 65, ...holds, 0, 0, 0, 0, 2];
    expect(restore(join(over))).toMatchObject({ message: 'a block of subscriber 0 is damaged' });
  });

  it('proves the row past the last block is damage, not another address', () => {
    // 12 blocks (rows 0-11): row 12 would read as ICMP on a third address.
    expect(CONFIG.totalBlocks).toBe(12);
    const p = parts();
    p.header.splice(49, 4, 0, 0, 0, 3);
    p.icmpBlocks = [0x01, 12, ...f64(100), 0x00];
    expect(restore(join(p))).toMatchObject({ message: 'a block of subscriber 0 is damaged' });
    const ok = parts();
    ok.header.splice(49, 4, 0, 0, 0, 3);
    ok.icmpBlocks = [0x01, 11, ...f64(100), 0x00];
    const restored = restore(join(ok));
    expect(restored.ok).toBe(true);
  });

  it('proves a block idle since time 0 keeps that time, and one in use with no entry is idle from the snapshot time', () => {
    const zero = parts();
    zero.tcpBlocks.splice(2, 8, ...f64(0));
    const restored = restore(join(zero));
    if (!restored.ok) throw new Error(restored.message);
    expect(dumpState(restored.state).blocks[0]).toContain('inUse 0 idleSince 0 freed');
    // Said to be in use (-1) but without a BIB entry: leased as idle at the snapshot's time.
    const unused = parts();
    unused.tcpBlocks.splice(2, 8, ...f64(-1));
    const idle = restore(join(unused));
    if (!idle.ok) throw new Error(idle.message);
    expect(dumpState(idle.state).blocks[0]).toContain(`inUse 0 idleSince ${SNAPSHOT_MS} freed`);
    // Idle since 0 while its entry uses a port: refused.
    expect(refusalOf((p) => p.udpBlocks.splice(2, 8, ...f64(0)))).toBe(
      'malformed: block 7 is idle and in use',
    );
  });
});

describe('snapshot refusals', () => {
  it('proves the header is checked: magic, format, fingerprint, bounds, and a cut header', () => {
    expect(refusalOf((p) => (p.header[3] = 0x4f))).toBe('not-a-snapshot: not a NAT state snapshot');
    expect(restore(new Uint8Array([0x58, 0x36, 0x34]))).toMatchObject({ refusal: 'not-a-snapshot' });
    expect(refusalOf((p) => (p.header[4] = NAT_SNAPSHOT_FORMAT_VERSION + 1))).toBe(
      `newer-format: snapshot format ${NAT_SNAPSHOT_FORMAT_VERSION + 1} is not this build's ${NAT_SNAPSHOT_FORMAT_VERSION}`,
    );
    expect(refusalOf((p) => (p.header[4] = 0))).toBe(
      `malformed: snapshot format 0 is not this build's ${NAT_SNAPSHOT_FORMAT_VERSION}`,
    );
    const whole = join(parts());
    expect(restoreNatState(CONFIG, whole, 0, 5 + 31, { hashSeed: 1, startMs: 0 })).toEqual({
      ok: false,
      refusal: 'malformed',
      message: 'the header is cut short',
    });
    expect(restoreNatState(CONFIG, whole, 0, 61 - 1, { hashSeed: 1, startMs: 0 })).toEqual({
      ok: false,
      refusal: 'malformed',
      message: 'the header is cut short',
    });
    // The fingerprint: the message shows the first 6 bytes of both, in hex.
    const other = validateConfig({ ...CONFIG_INPUT, blockSizePorts: 32 });
    const theirs = Buffer.from(natConfigFingerprint(CONFIG).subarray(0, 6)).toString('hex');
    const ours = Buffer.from(natConfigFingerprint(other).subarray(0, 6)).toString('hex');
    const mismatch = restore(whole, other);
    expect(mismatch).toMatchObject({ ok: false, refusal: 'config-mismatch' });
    expect(mismatch.ok ? '' : mismatch.message).toContain(
      `(fingerprint ${theirs}, this configuration ${ours})`,
    );
    // Every bound is named with its field, and a count equal to its bound is accepted.
    for (const [index, field] of [
      'subscribersMax',
      'leasedBlocksMax',
      'mappingsMax',
      'sessionsMax',
    ].entries()) {
      const small = validateConfig({ ...CONFIG_INPUT, [field]: index === 0 ? 1 : 2 });
      expect(restore(whole, small).ok).toBe(true);
      const smaller = validateConfig({ ...CONFIG_INPUT, [field]: 1 });
      if (index === 0) continue;
      expect(restore(whole, smaller)).toEqual({
        ok: false,
        refusal: 'too-large',
        message: `the snapshot holds 2 entries, more than ${field} 1 — raise ${field}`,
      });
    }
    const noSubscribers = parts();
    noSubscribers.header.splice(45, 4, 0, 0, 0, 2);
    expect(restore(join(noSubscribers), validateConfig({ ...CONFIG_INPUT, subscribersMax: 1 }))).toEqual({
      ok: false,
      refusal: 'too-large',
      message: 'the snapshot holds 2 entries, more than subscribersMax 1 — raise subscribersMax',
    });
  });

  it('proves a damaged subscriber is refused: cut, an address outside the pool, twice', () => {
    const header = parts().header;
    expect(restore(Uint8Array.from([...header, 0x07, 0x20]))).toMatchObject({
      message: 'subscriber 0 is cut short',
    });
    expect(restore(Uint8Array.from([...header, ...parts().subscriber.slice(0, 8)]))).toMatchObject({
      message: 'subscriber 0 is cut short',
    });
    expect(refusalOf((p) => (p.subscriber[8] = 4))).toBe('malformed: subscriber 0 has address index 2');
    expect(refusalOf((p) => (p.subscriber[8] = 3))).toBe('malformed: subscriber 0 has address index -2');
    // A second subscriber with the same prefix.
    const twice = parts();
    twice.header.splice(45, 4, 0, 0, 0, 2);
    const second = [...twice.subscriber.slice(0, 8), 0x01, 0x00, 0x00, 0x00, 0x00];
    expect(restore(Uint8Array.from([...join(twice), ...second]))).toMatchObject({
      refusal: 'malformed',
      message: 'subscriber 1 twice',
    });
    // With another prefix and no address, no blocks and no mappings it is a valid second subscriber.
    const other = [0x07, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00];
    const two = restore(Uint8Array.from([...join(twice), ...other]));
    expect(two.ok).toBe(true);
  });

  it('proves a damaged block is refused: a row outside the pool or of another protocol, too many holds', () => {
    expect(refusalOf((p) => (p.tcpBlocks[1] = 12))).toBe('malformed: a block of subscriber 0 is damaged');
    expect(refusalOf((p) => (p.tcpBlocks[1] = 6))).toBe('malformed: a block of subscriber 0 is damaged');
    expect(refusalOf((p) => (p.udpBlocks[1] = 3))).toBe('malformed: a block of subscriber 0 is damaged');
    expect(refusalOf((p) => (p.tcpBlocks[10] = 65))).toBe('malformed: a block of subscriber 0 is damaged');
    const p = parts();
    expect(restore(Uint8Array.from([...p.header, ...p.subscriber, 0x01, 0x02, 0x40]))).toMatchObject({
      message: 'a block of subscriber 0 is damaged',
    });
    // Row 0 is a TCP block of the other address (203.0.113.8).
    expect(refusalOf((p) => (p.tcpBlocks[1] = 0))).toBe(
      'malformed: block 0 of subscriber 0 is on another address or leased twice',
    );
    // The same row twice.
    expect(
      refusalOf((p) => {
        p.header.splice(49, 4, 0, 0, 0, 3);
        p.tcpBlocks = [0x02, ...p.tcpBlocks.slice(1), ...p.tcpBlocks.slice(1)];
      }),
    ).toBe('malformed: block 2 of subscriber 0 is on another address or leased twice');
    // More blocks than the header announces.
    expect(
      refusalOf((p) => {
        p.tcpBlocks = [0x02, ...p.tcpBlocks.slice(1), 0x03, ...f64(100), 0x00];
      }),
    ).toBe('malformed: more blocks than the header says');
    // A hold of port 64 of a 64-port block, and a cut hold.
    expect(refusalOf((p) => (p.tcpBlocks[11] = 64))).toBe('malformed: a port hold of block 2 is damaged');
    expect(
      restore(Uint8Array.from([...p.header, ...p.subscriber, ...p.tcpBlocks.slice(0, 14)])),
    ).toMatchObject({
      message: 'a port hold of block 2 is damaged',
    });
    // The last port of the block may be held.
    const last = parts();
    last.tcpBlocks[11] = 63;
    const restored = restore(join(last));
    expect(restored.ok && dumpState(restored.state).blocks[0]).toContain('freed [1087@2]');
    // A UDP port held (freed in second 4) under the UDP entry's own port 1090.
    expect(refusalOf((p) => p.udpBlocks.splice(10, 1, 0x01, 0x02, 0, 0, 0, 5))).toBe(
      'malformed: mapping 0 takes a port in use',
    );
  });

  it('proves damaged BIB entries are refused: counts, kind, duplicates, ports outside the blocks', () => {
    expect(refusalOf((p) => (p.mappingCount = [0x03]))).toBe(
      'malformed: the mappings of subscriber 0 are damaged',
    );
    expect(refusalOf((p) => (p.mappingCount = [0x80]))).toBe(
      'malformed: the mappings of subscriber 0 are damaged',
    );
    expect(refusalOf((p) => (p.udpMapping[0] = 0x03))).toBe('malformed: mapping 0 is damaged');
    expect(refusalOf((p) => (p.udpMapping[0] = 0x21))).toBe('malformed: mapping 0 is damaged');
    expect(refusalOf((p) => (p.icmpMapping[0] = 0x02))).toBe('malformed: mapping 1 is outside its blocks');
    // The UDP entry's pool port in the TCP block's range but as UDP: the UDP row of that port is not leased.
    expect(refusalOf((p) => p.udpMapping.splice(12, 2, 0x04, 0x06))).toBe(
      'malformed: mapping 0 is outside its blocks',
    );
    // A pool port below the dynamic range (1023) is not in any block.
    expect(refusalOf((p) => p.udpMapping.splice(12, 2, 0x03, 0xff))).toBe(
      'malformed: mapping 0 is outside its blocks',
    );
    // A dynamic entry without sessions.
    expect(
      refusalOf((p) => {
        p.header.splice(57, 4, 0, 0, 0, 0);
        p.udpMapping[14] = 0;
        p.session1 = [];
        p.session2 = [];
      }),
    ).toBe('malformed: dynamic mapping 0 has no session');
    // The same IPv4 transport address twice, and the same IPv6 one twice.
    const dup4 = parts();
    dup4.icmpMapping = [0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x07, 0x00, 0x07, 0x00];
    dup4.mappingCount = [0x03];
    dup4.header.splice(53, 4, 0, 0, 0, 3);
    const icmp = parts().icmpMapping;
    expect(restore(Uint8Array.from([...join(dup4), ...icmp]))).toMatchObject({ message: 'mapping 2 twice' });
    const dup6 = parts();
    dup6.icmpMapping = [0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, 0x00, 0x07, 0x00, 0x08, 0x00];
    dup6.mappingCount = [0x03];
    dup6.header.splice(53, 4, 0, 0, 0, 3);
    expect(restore(Uint8Array.from([...join(dup6), ...icmp]))).toMatchObject({ message: 'mapping 2 twice' });
    // Mappings but no address.
    expect(
      refusalOf((p) => {
        p.header.splice(49, 4, 0, 0, 0, 0);
        p.subscriber[8] = 1;
        p.tcpBlocks = [0x00];
        p.udpBlocks = [0x00];
      }),
    ).toBe('malformed: subscriber 0 has mappings but no address');
  });

  it('proves damaged sessions and wrong totals are refused', () => {
    const cut = parts();
    const bytes = join(cut);
    expect(restore(bytes.subarray(0, bytes.length - 15 - 1))).toMatchObject({
      message: 'session 1 is cut short',
    });
    expect(refusalOf((p) => (p.session2 = [...p.session1]))).toBe('malformed: session 1 twice');
    expect(refusalOf((p) => p.header.splice(57, 4, 0, 0, 0, 1))).toBe(
      'malformed: more sessions than the header says',
    );
    expect(
      refusalOf((p) => {
        p.header.splice(57, 4, 0, 0, 0, 3);
      }),
    ).toBe('malformed: fewer entries than the header says');
    expect(refusalOf((p) => p.header.splice(49, 4, 0, 0, 0, 3))).toBe(
      'malformed: fewer entries than the header says',
    );
    expect(refusalOf((p) => p.header.splice(53, 4, 0, 0, 0, 3))).toBe(
      'malformed: fewer entries than the header says',
    );
    expect(refusalOf((p) => p.icmpMapping.push(0xaa, 0xbb))).toBe(
      'malformed: 2 bytes after the last subscriber',
    );
    // A UDP block said to be idle while its entry uses a port.
    expect(refusalOf((p) => p.udpBlocks.splice(2, 8, ...f64(10)))).toBe(
      'malformed: block 7 is idle and in use',
    );
  });
});
