// Compliance records derived from the real NAT engine's events (no Kafka needed here), and the
// lookup's matching over them.
import { afterEach, describe, expect, it } from 'vitest';
import {
  ComplianceDeriver,
  type ComplianceRecord,
  type DeriverOptions,
  defaultDeriverOptions,
  formatPrefix,
  LookupScan,
} from '../../services/state/src/index.js';
import { EngineDriver, temporaryDir } from './support.js';

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR);

/** Derives the records of everything the driver appended, read back from its event log. */
async function derive(
  driver: EngineDriver,
  options: Partial<DeriverOptions> = {},
): Promise<ComplianceRecord[]> {
  const deriver = new ComplianceDeriver({ ...defaultDeriverOptions, ...options });
  const out: ComplianceRecord[] = [];
  for (const batch of await driver.batches()) deriver.derive(0, batch.sequence, batch.events, out);
  return out;
}

describe('compliance records', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  async function driver(): Promise<EngineDriver> {
    const dir = temporaryDir();
    const d = await EngineDriver.open(`${dir.path}/events`, T0);
    cleanups.push(async () => {
      await d.stop();
      dir.remove();
    });
    return d;
  }

  it('names subscriber /56, CLAT /64, address, block and start for a lease, and its end for the release', async () => {
    // Proves a lease record carries what RFC 6888 §4 asks (subscriber, external address and ports,
    // protocol, time) and that the idle block's release closes the same interval.
    const d = await driver();
    const mapped = d.flow('2001:db8:1:5::10', 40000);
    d.advance(10 * 60_000); // UDP 5 min + block idle 2 min: the block goes back to the pool
    const records = await derive(d, { heldIntervalMs: 0 });
    expect(records.map((r) => r.kind)).toEqual(['block-lease', 'block-release']);
    const [lease, release] = records;
    expect(lease).toMatchObject({
      subscriber: '2001:db8:1::/56',
      clatPrefix64: '2001:db8:1:5::/64',
      address: mapped.address,
      protocol: 'udp',
      startMs: T0,
      endMs: null,
      shard: 0,
      epoch: 0,
      sequence: 1,
    });
    expect(lease.portFirst % 512).toBe(0);
    expect(mapped.port).toBeGreaterThanOrEqual(lease.portFirst);
    expect(mapped.port).toBeLessThanOrEqual(lease.portLast);
    expect(lease.portLast - lease.portFirst).toBe(511);
    expect(release.leaseId).toBe(lease.id);
    expect(release.startMs).toBe(T0);
    expect(release.endMs).toBeGreaterThan(T0 + 5 * 60_000);
    expect(release.endMs).toBe(release.atMs);
  });

  it('gives the same ids when the same log is derived again, and distinct ids within it', async () => {
    // Proves record ids are a function of (shard, epoch, sequence, index): the outbox's de-duplication rests on it.
    const d = await driver();
    for (let i = 0; i < 20; i++) {
      d.flow(`2001:db8:${i}::1`, 1000 + i);
      d.advance(30_000);
    }
    d.advance(20 * 60_000);
    const first = (await derive(d)).map((r) => r.id);
    const second = (await derive(d)).map((r) => r.id);
    expect(second).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
    expect(first.length).toBeGreaterThanOrEqual(40);
  });

  it('restates every open lease at each held-interval boundary, from event time only', async () => {
    // Proves the block-held records the lookup's bounded scan relies on: one per open block per
    // boundary crossed, stamped with the boundary, none for a released block.
    const d = await driver();
    d.flow('2001:db8:1::1', 1000); // leased at T0, kept alive below
    d.flow('2001:db8:2::1', 1000); // idle: released after ~7 min
    for (let i = 0; i < 70; i++) {
      d.advance(2 * 60_000); // within the UDP timeout: the first block stays leased
      d.flow('2001:db8:1::1', 1000);
    }
    const records = await derive(d, { heldIntervalMs: HOUR });
    const held = records.filter((r) => r.kind === 'block-held');
    expect(held.map((r) => r.atMs)).toEqual([T0 + HOUR, T0 + 2 * HOUR]);
    expect(held.every((r) => r.subscriber === '2001:db8:1::/56' && r.startMs === T0)).toBe(true);
    expect(new Set(held.map((r) => r.id)).size).toBe(2);
  });

  it('logs mappings in per-session mode, destinations only when configured (RFC 6888 REQ-12)', async () => {
    // Proves the per-session mode adds a record per mapping with the exact IPv6 source, and that no
    // record carries a destination unless logDestinations is on.
    const d = await driver();
    const mapped = d.flow('2001:db8:3:7::99', 5555, 'udp', '198.51.100.7', 123);
    d.advance(10 * 60_000);
    const block = await derive(d);
    expect(block.some((r) => r.kind.startsWith('mapping') || r.kind.startsWith('session'))).toBe(false);
    const session = await derive(d, { mode: 'session' });
    const create = session.find((r) => r.kind === 'mapping-create');
    expect(create).toMatchObject({
      ipv6Source: '2001:db8:3:7::99',
      ipv6Port: 5555,
      portFirst: mapped.port,
      portLast: mapped.port,
      clatPrefix64: '2001:db8:3:7::/64',
    });
    expect(session.some((r) => r.kind === 'mapping-remove' && r.leaseId === create?.id)).toBe(true);
    expect(session.some((r) => r.destination !== undefined)).toBe(false);
    const withDestinations = await derive(d, { mode: 'session', logDestinations: true });
    const sessionRecord = withDestinations.find((r) => r.kind === 'session-create');
    expect(sessionRecord).toMatchObject({ destination: '198.51.100.7', destinationPort: 123 });
  });

  it('formats prefixes as RFC 5952 text', () => {
    // Proves the subscriber text an operator reads: masked to the length, longest zero run compressed.
    expect(formatPrefix([0x20010db8, 0x00010005, 0, 0x10], 56)).toBe('2001:db8:1::/56');
    expect(formatPrefix([0x20010db8, 0x00010005, 0, 0x10], 64)).toBe('2001:db8:1:5::/64');
    expect(formatPrefix([0x20010db8, 0, 1, 0], 128)).toBe('2001:db8::1:0:0/128');
  });
});

describe('compliance records across a shard takeover', () => {
  it('gives each block still leased when the owner epoch rises one block-takeover record, and lookup shows the new owner', async () => {
    // Proves takeover records are derived where the ownership change shows in the log (the first event
    // of a newer epoch): one per open block (not for a block released before), with the lease's id,
    // subscriber and start, the new epoch and time; later records of the lease carry the new epoch;
    // re-deriving gives the same ids; the lookup's holder carries the new epoch with the takeover as evidence.
    const dir = temporaryDir();
    const d = await EngineDriver.open(`${dir.path}/events`, T0);
    try {
      d.flow('2001:db8:1::10', 40000);
      d.advance(10 * 60_000); // the first subscriber's block is released before the takeover
      const second = d.flow('2001:db8:2::10', 40000);
      const before = (await d.batches()).at(-1)?.sequence ?? 0;
      d.advance(60_000);
      d.flow('2001:db8:3::10', 40000);
      d.advance(10 * 60_000);
      // The batches after `before` written by the new owner: same shard, epoch 2.
      const batches = (await d.batches()).map((b) =>
        b.sequence > before ? { ...b, events: b.events.map((e) => ({ ...e, epoch: 2 })) } : b,
      );
      const takeoverMs = batches.find((b) => b.sequence > before && b.events.length > 0)?.events[0].timeMs;
      const derive = () => {
        const deriver = new ComplianceDeriver({ ...defaultDeriverOptions, heldIntervalMs: 0 });
        const out: ComplianceRecord[] = [];
        for (const b of batches) deriver.derive(0, b.sequence, b.events, out);
        return out;
      };
      const records = derive();
      const lease = (subscriber: string) =>
        records.find((r) => r.kind === 'block-lease' && r.subscriber === subscriber) as ComplianceRecord;
      const lease2 = lease('2001:db8:2::/56');
      const takeovers = records.filter((r) => r.kind === 'block-takeover');
      expect(takeovers).toEqual([
        expect.objectContaining({
          id: `t:${lease2.id}:2`,
          leaseId: lease2.id,
          subscriber: '2001:db8:2::/56',
          address: second.address,
          portFirst: lease2.portFirst,
          startMs: lease2.startMs,
          atMs: takeoverMs,
          epoch: 2,
        }),
      ]);
      const release2 = records.find((r) => r.kind === 'block-release' && r.leaseId === lease2.id);
      expect(release2?.epoch).toBe(2);
      expect(lease('2001:db8:3::/56').epoch).toBe(2);
      expect(
        records.find((r) => r.kind === 'block-release' && r.subscriber === '2001:db8:1::/56')?.epoch,
      ).toBe(0);
      expect(derive().map((r) => r.id)).toEqual(records.map((r) => r.id));
      const scan = new LookupScan({
        address: second.address,
        port: second.port,
        protocol: 'udp',
        atMs: (takeoverMs as number) + 1000,
        skewMs: 0,
      });
      for (const r of records) scan.visit(r);
      const holders = scan.holders();
      expect(holders.map((h) => [h.subscriber, h.epoch])).toEqual([['2001:db8:2::/56', 2]]);
      expect(holders[0].evidence.map((e) => e.kind)).toEqual([
        'block-lease',
        'block-takeover',
        'block-release',
      ]);
    } finally {
      await d.stop();
      dir.remove();
    }
  });
});

describe('LookupScan', () => {
  it('names the holder before and after a block is released and leased again, and both within the skew', async () => {
    // Proves the interval logic: a port's block held by A, released, then leased by B; lookups before,
    // after and across the handover (within the skew) name A, B, and both.
    const dir = temporaryDir();
    const d = await EngineDriver.open(`${dir.path}/events`, T0, {
      pool: ['203.0.113.1/32'],
      blockSizePorts: 64512,
    });
    try {
      const a = d.flow('2001:db8:a::1', 1000);
      d.advance(10 * 60_000);
      const releaseMs = d.events.find((e) => e.type === 2)?.timeMs ?? 0;
      d.advance(60_000);
      const leaseBMs = d.nowMs;
      const b = d.flow('2001:db8:b::1', 2000);
      expect(b.address).toBe(a.address);
      const records = await derive(d, { blockSizePorts: 64512 });
      const holders = (atMs: number, skewMs = 0) => {
        const scan = new LookupScan({ address: a.address, port: a.port, protocol: 'udp', atMs, skewMs });
        for (const r of records) scan.visit(r);
        return scan.holders().map((h) => h.subscriber);
      };
      expect(holders(T0 + 60_000)).toEqual(['2001:db8:a::/56']);
      expect(holders(leaseBMs + 1000)).toEqual(['2001:db8:b::/56']);
      const gapMiddleMs = (releaseMs + leaseBMs) / 2;
      const halfGapMs = (leaseBMs - releaseMs) / 2;
      expect(holders(gapMiddleMs)).toEqual([]);
      expect(holders(gapMiddleMs, halfGapMs - 1)).toEqual([]);
      expect(holders(gapMiddleMs, halfGapMs)).toEqual(['2001:db8:a::/56', '2001:db8:b::/56']);
      expect(holders(leaseBMs, 0)).toEqual(['2001:db8:b::/56']);
      const scan = new LookupScan({ address: a.address, port: a.port, atMs: T0 + 1, skewMs: 0 });
      for (const r of records) scan.visit(r);
      expect(scan.holders()[0].evidence.map((e) => e.kind)).toEqual(['block-lease', 'block-release']);
    } finally {
      await d.stop();
      dir.remove();
    }
  });
});
