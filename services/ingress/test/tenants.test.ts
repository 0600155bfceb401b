// ISPs as tenants: the `tenants:` configuration and its refusals, source classification by
// longest-prefix match (against a naive reference, over 10,000 prefixes, without garbage collections),
// and the PLAT step with real packets: a source of no tenant is dropped and counted as drop.notenant64,
// a tenant's subscribers are translated and counted per tenant in both directions.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DataplaneError, roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { metricTarget } from '../../../libs/telemetry/src/index.js';
import { parseRfc6052Prefix, Verdict } from '../../../libs/xlat/src/index.js';
import { formatIpv4, formatIpv6, ipv4, ipv6, parseIpv6, udp } from '../../../test/support/build.js';
import {
  ArrayEventSink,
  createNatEngine,
  createSeededRandom,
  createSharedPoolMemory,
  SharedPoolAllocator,
  subscriberPrefixOf,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { parsePlatConfig } from '../src/plat-config.js';
import { platCounterLayout } from '../src/plat-queue-handler.js';
import { createPlatStep, platDropNames } from '../src/plat-step.js';
import { SubscriberShardHash } from '../src/routing/subscriber-shard.js';
import {
  refuseSubscriberLengthChanges,
  type TenantConfig,
  tenantPrefixTable,
  tenantSubscriberLengths,
} from '../src/tenants/tenant-config.js';
import { NO_TENANT, type TenantPrefixEntry, TenantPrefixTable } from '../src/tenants/tenant-lpm.js';
import { createTenantBlockCounts, tenantPoolShares } from '../src/tenants/tenant-pool.js';
import {
  createTenantConfigMemory,
  publishTenants,
  TenantConfigReader,
  TenantSlots,
} from '../src/tenants/tenant-publish.js';
import {
  createTenantStatsMemory,
  TENANT_STAT_ENTRIES,
  TenantStat,
  tenantSessionShares,
  tenantStatusCounters,
  tenantUsage,
} from '../src/tenants/tenant-stats.js';
import { type TenantUsageRecord, UsageRecorder } from '../src/tenants/tenant-usage.js';
import { tenantPrefixes } from './fixtures/tenant-prefixes.js';

const base = { pool4: ['203.0.113.0/24'], stateDir: '/tmp/x64t-config' };
const two = [
  { name: 'isp-a', prefixes: ['2001:db8:a::/48', '2001:db8:aa00::/40'] },
  { name: 'isp-b', prefixes: ['2001:db8:b::/48'] },
];

/** What a tenant that sets no share or quota gets: the undedicated addresses, no quota. */
const noShare = { pool4: [], blocksMax: 0, subscriberBlocksMax: 0, subscriberSessionsMax: 0, sessionsMax: 0 };

function refusal(raw: Record<string, unknown>): DataplaneError {
  try {
    parsePlatConfig({ ...base, ...raw });
  } catch (error) {
    expect(error).toBeInstanceOf(DataplaneError);
    return error as DataplaneError;
  }
  throw new Error('accepted');
}

describe('tenants configuration', () => {
  it('keeps today behaviour without tenants and fills a tenant defaults from the node', () => {
    // Proves a config without `tenants` has none (any source) and a tenant gets the node's subscriber length.
    expect(parsePlatConfig({ ...base }).tenants).toBeUndefined();
    const config = parsePlatConfig({ ...base, nat: { subscriberPrefixLength: 64 }, tenants: two });
    expect(config.tenants).toEqual([
      { name: 'isp-a', prefixes: two[0].prefixes, subscriberPrefixLength: 64, ...noShare },
      { name: 'isp-b', prefixes: two[1].prefixes, subscriberPrefixLength: 64, ...noShare },
    ]);
  });

  it('refuses bad tenants naming the field and the fix', () => {
    // Proves each mistake is refused at start with the exact field named.
    expect(refusal({ tenants: [] }).field).toBe('tenants');
    expect(refusal({ tenants: [{ prefixes: ['2001:db8::/48'] }] }).field).toBe('tenants[0].name');
    const dup = refusal({ tenants: [two[0], { ...two[1], name: 'isp-a' }] });
    expect(dup.field).toBe('tenants[1].name');
    expect(dup.message).toMatch(/two tenants/);
    expect(refusal({ tenants: [{ name: 'x' }] }).field).toBe('tenants[0].prefixes');
    expect(refusal({ tenants: [{ name: 'x', prefixes: ['192.0.2.0/24'] }] }).field).toBe(
      'tenants[0].prefixes[0]',
    );
    const hostBits = refusal({ tenants: [{ name: 'x', prefixes: ['2001:db8::1/48'] }] });
    expect(hostBits.field).toBe('tenants[0].prefixes[0]');
    expect(hostBits.message).toMatch(/first address/);
    const tooLong = refusal({ tenants: [{ name: 'x', prefixes: ['2001:db8::/60'] }] });
    expect(tooLong.message).toMatch(/longer than the subscriber prefix length \/56/);
    expect(refusal({ tenants: [{ name: 'x', prefixes: ['2001:db8::/48'], quota: 3 }] }).field).toBe(
      'tenants[0].quota',
    );
    const length = refusal({
      tenants: [{ name: 'x', prefixes: ['2001:db8::/48'], subscriberPrefixLength: 48 }],
    });
    expect(length.field).toBe('tenants[0].subscriberPrefixLength');
    expect(length.message).toMatch(/nat\.subscriberPrefixLength/);
  });

  it('refuses a tenant share outside the pool, dedicated twice, or leaving a tenant without addresses', () => {
    // Proves pool4 shares are checked at start against the node's pool4, naming the field and the fix.
    const a = { name: 'isp-a', prefixes: ['2001:db8:a::/48'] };
    const b = { name: 'isp-b', prefixes: ['2001:db8:b::/48'] };
    const outside = refusal({ tenants: [{ ...a, pool4: ['192.0.2.0/30'] }] });
    expect(outside.field).toBe('tenants[0].pool4[0]');
    expect(outside.message).toMatch(/192\.0\.2\.0 is not in the node's pool4/);
    const twice = refusal({
      tenants: [
        { ...a, pool4: ['203.0.113.0/30'] },
        { ...b, pool4: ['203.0.113.2-203.0.113.9'] },
      ],
    });
    expect(twice.field).toBe('tenants[1].pool4[0]');
    expect(twice.message).toMatch(/203\.0\.113\.2 is already dedicated to isp-a/);
    const none = refusal({ tenants: [{ ...a, pool4: ['203.0.113.0/24'] }, b] });
    expect(none.field).toBe('tenants[1].pool4');
    expect(none.message).toMatch(/every pool4 address is dedicated/);
    expect(refusal({ tenants: [{ ...a, pool4: 'x' }] }).field).toBe('tenants[0].pool4');
    expect(refusal({ tenants: [{ ...a, pool4: ['203.0.113.0/33'] }] }).field).toBe('tenants[0].pool4[0]');
    expect(refusal({ tenants: [{ ...a, blocksMax: 0 }] }).field).toBe('tenants[0].blocksMax');
    const perSubscriber = refusal({
      nat: { subscriberBlocksMax: 4 },
      tenants: [{ ...a, subscriberBlocksMax: 5 }],
    });
    expect(perSubscriber.field).toBe('tenants[0].subscriberBlocksMax');
    const ok = parsePlatConfig({
      ...base,
      tenants: [{ ...a, pool4: ['203.0.113.0/30'], blocksMax: 10, subscriberBlocksMax: 2 }, b],
    });
    expect(ok.tenants?.[0]).toMatchObject({
      pool4: ['203.0.113.0/30'],
      blocksMax: 10,
      subscriberBlocksMax: 2,
    });
    expect(ok.tenants?.[1]).toMatchObject(noShare);
  });

  it('refuses overlapping prefixes naming both, across tenants and within one', () => {
    // Proves a source can never belong to two tenants: a prefix inside another is refused, in either order.
    const across = refusal({
      tenants: [two[0], { name: 'isp-b', prefixes: ['2001:db8:b::/48', '2001:db8:a:100::/56'] }],
    });
    expect(across.field).toBe('tenants[1].prefixes[1]');
    expect(across.message).toMatch(
      /isp-b.*overlaps tenants\[0\]\.prefixes\[0\] '2001:db8:a::\/48' \(isp-a\)/,
    );
    const shorterLater = refusal({
      tenants: [
        { name: 'x', prefixes: ['2001:db8:a:100::/56'] },
        { name: 'y', prefixes: ['2001:db8::/32'] },
      ],
    });
    expect(shorterLater.message).toMatch(/2001:db8:a:100::\/56.*overlaps.*2001:db8::\/32/);
    expect(
      refusal({ tenants: [{ name: 'x', prefixes: ['2001:db8:a::/48', '2001:db8:a::/48'] }] }).field,
    ).toBe('tenants[0].prefixes[1]');
  });
});

/** The naive answer: the tenant of the longest prefix holding the address. */
function reference(entries: TenantPrefixEntry[], w0: number, w1: number): number {
  let best = -1;
  let tenant = NO_TENANT;
  for (const e of entries) {
    const m0 = e.length >= 32 ? -1 : e.length === 0 ? 0 : (-1 << (32 - e.length)) | 0;
    const m1 = e.length <= 32 ? 0 : e.length >= 64 ? -1 : (-1 << (64 - e.length)) | 0;
    if ((w0 & m0) === (e.hi & m0) && (w1 & m1) === (e.lo & m1) && e.length > best) {
      best = e.length;
      tenant = e.tenant;
    }
  }
  return tenant;
}

describe('tenant classification (longest-prefix match)', () => {
  it('agrees with a naive longest match over nested prefixes of many lengths', () => {
    // Proves the longest prefix wins whatever the lengths, and an address outside every prefix has no tenant.
    const entries: TenantPrefixEntry[] = [];
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      return seed;
    };
    // Nested on purpose (the table itself takes overlaps; the configuration refuses them).
    for (let i = 0; i < 3000; i++) {
      const length = 16 + (Math.abs(rnd()) % 49);
      const hi = 0x20010000 | (rnd() & 0x3) | 0; // few distinct top words: prefixes nest often
      const lo = rnd() & 0xf0f00000;
      const m0 = length >= 32 ? -1 : (-1 << (32 - length)) | 0;
      const m1 = length <= 32 ? 0 : length >= 64 ? -1 : (-1 << (64 - length)) | 0;
      const e = { hi: hi & m0, lo: lo & m1, length, tenant: i };
      if (!entries.some((o) => o.hi === e.hi && o.lo === e.lo && o.length === e.length)) entries.push(e);
    }
    const table = new TenantPrefixTable(entries);
    let found = 0;
    for (let i = 0; i < 20_000; i++) {
      const w0 = i % 3 === 0 ? rnd() : 0x20010000 | (rnd() & 0x3) | 0;
      const w1 = rnd() & 0xf0f0ffff;
      const want = reference(entries, w0, w1);
      expect(table.lookupWords(w0, w1)).toBe(want);
      if (want !== NO_TENANT) found++;
    }
    expect(found).toBeGreaterThan(1000);
  });

  it('classifies by the bytes of a packet source', () => {
    // Proves lookup reads the address at its offset, as a packet holds it, through the configuration table.
    const table = tenantPrefixTable([
      {
        name: 'isp-a',
        prefixes: ['2001:db8:a::/48', '2001:db8:aa00::/40'],
        subscriberPrefixLength: 56,
        ...noShare,
      },
      {
        name: 'isp-b',
        prefixes: ['2001:db8:b::/48'],
        subscriberPrefixLength: 56,
        ...noShare,
      },
    ]);
    const at = (text: string) => {
      const bytes = Buffer.alloc(40);
      Buffer.from(parseIpv6(text)).copy(bytes, 8);
      return table.lookup(bytes, 8);
    };
    expect(at('2001:db8:a:ff::1')).toBe(0);
    expect(at('2001:db8:aaff:1::1')).toBe(0);
    expect(at('2001:db8:b::2')).toBe(1);
    expect(at('2001:db8:c::2')).toBe(NO_TENANT);
  });

  it('classifies millions of sources among 10,000 prefixes without a garbage collection', async () => {
    // Proves the lookup allocates nothing (0 or 1 collection per round of 2M lookups, the least of 3).
    const fixture = fileURLToPath(new URL('./fixtures/tenant-lpm-allocation.ts', import.meta.url));
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, '2000000'], {
      cwd: root,
    });
    const result = JSON.parse(stdout) as { lookups: number; hits: number; collections: number[] };
    expect(result.lookups).toBe(6_000_000);
    expect(result.hits).toBe(3_000_000); // every even source is a tenant's, every odd one nobody's
    expect(Math.min(...result.collections)).toBeLessThanOrEqual(1);
  }, 60_000);

  it('finds each of 10,000 configured prefixes and nothing between them', () => {
    // Proves a large table answers every member and no neighbour.
    const entries = tenantPrefixes(10_000, 100);
    const table = new TenantPrefixTable(entries);
    for (const e of entries) {
      expect(table.lookupWords(e.hi, e.lo | (e.length < 64 ? 0xff : 0))).toBe(e.tenant);
      expect(table.lookupWords(e.hi, (e.lo + (20_000 << 16)) | 0)).toBe(NO_TENANT);
    }
  });
});

const twoTenants: TenantConfig[] = [
  { name: 'isp-a', prefixes: ['2001:db8:a::/48'], subscriberPrefixLength: 56, ...noShare },
  { name: 'isp-b', prefixes: ['2001:db8:b::/48'], subscriberPrefixLength: 56, ...noShare },
];

/**
 * A PLAT step over a real engine whose pool (203.0.113.0/28, 64-port blocks) is the node's shared pool
 * divided between `tenants` (tenantPoolShares), as a worker of `xlat64 plat` builds it.
 */
function newTenantPlat(tenants: TenantConfig[] = twoTenants, icmpErrorsBurst?: number) {
  const input = {
    pool: ['203.0.113.0/28'],
    blockSizePorts: 64,
    ports: { udp: [1024, 65535] as [number, number], tcp: [1024, 65535] as [number, number] },
  };
  const config = validateConfig(input);
  const table = tenantPrefixTable(tenants);
  const tenantBlocks = createTenantBlockCounts();
  // Two workers' rows: this engine writes row 0, row 1 stands for another worker of the node.
  const tenantStats = [createTenantStatsMemory(), createTenantStatsMemory()];
  let allocator: SharedPoolAllocator | undefined;
  const engine = createNatEngine(input, {
    sink: new ArrayEventSink(),
    random: createSeededRandom(7),
    startMs: 0,
    sessionShares: tenantSessionShares(tenants, table, tenantStats, 0),
    allocator: (state, random) => {
      allocator = new SharedPoolAllocator(
        createSharedPoolMemory(config),
        0,
        state,
        random,
        tenantPoolShares(tenants, config, table, tenantBlocks),
      );
      return allocator;
    },
  });
  engine.start(0);
  const layout = roleCounterLayout(platDropNames);
  const step = createPlatStep(
    engine,
    {
      translator: { prefix: '64:ff9b::/96', allowNonGlobalIpv4: true },
      icmpSource4: 0xcb007100,
      icmpErrorsBurst,
      icmpErrorsPerSecond: 1,
    },
    layout,
    parseRfc6052Prefix('64:ff9b::/96'),
    { table, stats: tenantStats[0] },
  );
  const run = (packet: Uint8Array) => {
    step.setNow(1000);
    const out = Buffer.alloc(2000);
    const verdict = step.process(packet, 0, packet.length, out, 0, false);
    return {
      verdict,
      packet: verdict === Verdict.Drop ? null : Buffer.from(out.subarray(0, step.result.length)),
      dropped: verdict === Verdict.Translate ? null : layout.names[step.reasonCounter()],
    };
  };
  const counter = (tenant: number, name: keyof typeof TenantStat) =>
    step.tenantCounters[tenant * TENANT_STAT_ENTRIES + TenantStat[name]];
  const blocksOf = (tenant: number) => Atomics.load(new Int32Array(tenantBlocks), tenant);
  return {
    step,
    run,
    counter,
    engine,
    blocksOf,
    config,
    tenantBlocks,
    tenantStats,
    allocator: allocator as SharedPoolAllocator,
  };
}

const payload = Buffer.from('tenant traffic');
const out6 = (src: string, srcPort = 5000) =>
  ipv6({ src, dst: '64:ff9b::198.51.100.2', payload: udp({ srcPort, dstPort: 53, payload }) });

describe('PLAT step with tenants', () => {
  it('refuses a source of no tenant with ICMPv6 administratively prohibited, counted as drop.notenant64, under the ICMP rate limit', () => {
    // Proves the PLAT is not an open NAT64: a non-tenant source gets no mapping, is counted by its reason
    // and is told why (type 1 code 1, quoting its packet) while the ICMP error bucket has tokens.
    const { run, counter, engine, step } = newTenantPlat(twoTenants, 2);
    const packet = out6('2001:db8:c::2');
    const r = run(packet);
    expect(r.verdict).toBe(Verdict.ReplyIcmp);
    expect(r.dropped).toBe('drop.notenant64');
    const icmp = r.packet as Buffer;
    expect(icmp[6]).toBe(58);
    expect([icmp[40], icmp[41]]).toEqual([1, 1]);
    expect(formatIpv6(icmp, 24)).toBe(formatIpv6(parseIpv6('2001:db8:c::2')));
    expect(formatIpv6(icmp, 8)).toBe(formatIpv6(parseIpv6('64:ff9b::198.51.100.2')));
    expect(icmp.subarray(48, 48 + 40)).toEqual(packet.subarray(0, 40));
    // Burst of 2: the second refusal is answered, the third only dropped (and counted the same way).
    expect(run(packet).verdict).toBe(Verdict.ReplyIcmp);
    const third = run(packet);
    expect(third.verdict).toBe(Verdict.Drop);
    expect(third.dropped).toBe('drop.notenant64');
    expect(step.pipeline.icmpErrorsSuppressed).toBe(1);
    expect(engine.state.mappingCount).toBe(0);
    expect(counter(0, 'packets64') + counter(1, 'packets64')).toBe(0);
  });

  it('answers no ICMPv6 error about an ICMPv6 error from a source of no tenant', () => {
    // Proves RFC 4443 sec. 2.4 (e.1) holds for the refusal: an error message is dropped and counted silently.
    const { run } = newTenantPlat();
    const error = ipv6({
      src: '2001:db8:c::2',
      dst: '64:ff9b::198.51.100.2',
      nextHeader: 58,
      payload: Buffer.from([1, 4, 0, 0, 0, 0, 0, 0]),
    });
    const r = run(error);
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.dropped).toBe('drop.notenant64');
  });

  it("leases each tenant's blocks only from its own share of the pool: dedicated addresses or the undedicated rest", () => {
    // Proves pool isolation: isp-a's subscribers all leave from 203.0.113.0/30, isp-b's never do.
    const tenants: TenantConfig[] = [{ ...twoTenants[0], pool4: ['203.0.113.0/30'] }, { ...twoTenants[1] }];
    const { run, blocksOf } = newTenantPlat(tenants);
    const sources = (tenant: string) =>
      Array.from({ length: 12 }, (_, i) => `2001:db8:${tenant}:${i + 1}00::2`);
    const leftFrom = (src: string) => {
      const r = run(out6(src));
      expect(r.verdict, src).toBe(Verdict.Translate);
      return (r.packet as Buffer).readUInt32BE(12);
    };
    const a = sources('a').map(leftFrom);
    const b = sources('b').map(leftFrom);
    const pool = 0xcb007100;
    for (const address of a) expect(address - pool).toBeLessThan(4);
    for (const address of b) expect(address - pool).toBeGreaterThanOrEqual(4);
    expect(new Set(a).size).toBeGreaterThan(1);
    expect([blocksOf(0), blocksOf(1)]).toEqual([12, 12]);
  });

  it("refuses a tenant's subscriber past its blocksMax quota with ICMPv6 administratively prohibited, and the other tenant is not affected", () => {
    // Proves the quota is the tenant's alone: isp-b's third subscriber is refused as drop.nat.tenantquota64
    // (type 1 code 1) while isp-a keeps getting new mappings.
    const tenants: TenantConfig[] = [twoTenants[0], { ...twoTenants[1], blocksMax: 2 }];
    const { run, blocksOf } = newTenantPlat(tenants);
    expect(run(out6('2001:db8:b:100::2')).verdict).toBe(Verdict.Translate);
    expect(run(out6('2001:db8:b:200::2')).verdict).toBe(Verdict.Translate);
    const refused = run(out6('2001:db8:b:300::2'));
    expect(refused.verdict).toBe(Verdict.ReplyIcmp);
    expect(refused.dropped).toBe('drop.nat.tenantquota64');
    expect([(refused.packet as Buffer)[40], (refused.packet as Buffer)[41]]).toEqual([1, 1]);
    for (let i = 1; i <= 5; i++) expect(run(out6(`2001:db8:a:${i}00::2`)).verdict).toBe(Verdict.Translate);
    expect([blocksOf(0), blocksOf(1)]).toEqual([5, 2]);
  });

  it("bounds one subscriber's blocks per protocol by its tenant's subscriberBlocksMax", () => {
    // Proves the per-tenant limit: with subscriberBlocksMax 1 and 64-port blocks, the 65th UDP flow of one
    // subscriber is refused as drop.nat.tenantquota64, not given a second block.
    const tenants: TenantConfig[] = [{ ...twoTenants[0], subscriberBlocksMax: 1 }, twoTenants[1]];
    const { run, blocksOf } = newTenantPlat(tenants);
    for (let port = 0; port < 64; port++)
      expect(run(out6('2001:db8:a:100::2', 10_000 + port)).verdict).toBe(Verdict.Translate);
    const refused = run(out6('2001:db8:a:100::2', 20_000));
    expect(refused.dropped).toBe('drop.nat.tenantquota64');
    expect(blocksOf(0)).toBe(1);
  });

  it('translates each tenant subscribers and counts packets per tenant both ways', () => {
    // Proves classification lets tenants through and attributes outbound and return traffic to the right ISP.
    const { run, counter } = newTenantPlat();
    const a = run(out6('2001:db8:a:1::2'));
    expect(a.verdict).toBe(Verdict.Translate);
    const b1 = run(out6('2001:db8:b:1::2'));
    const b2 = run(out6('2001:db8:b:2::2', 6000));
    expect([b1.verdict, b2.verdict]).toEqual([Verdict.Translate, Verdict.Translate]);
    const p4 = b1.packet as Buffer;
    const back = run(
      ipv4({
        src: '198.51.100.2',
        dst: formatIpv4(p4, 12),
        payload: udp({ srcPort: 53, dstPort: p4.readUInt16BE(20), payload }),
      }),
    );
    expect(back.verdict).toBe(Verdict.Translate);
    expect(formatIpv6(back.packet as Buffer, 24)).toBe(formatIpv6(parseIpv6('2001:db8:b:1::2')));
    expect([counter(0, 'packets64'), counter(0, 'translated64'), counter(0, 'translated46')]).toEqual([
      1, 1, 0,
    ]);
    expect([counter(1, 'packets64'), counter(1, 'translated64'), counter(1, 'translated46')]).toEqual([
      2, 2, 1,
    ]);
  });
});

describe('per-tenant status and metrics', () => {
  it('keeps tenant figures out of the counter layout, and status counters name the running tenants', () => {
    // Proves the accounting names: the layout is the same with or without tenants (a tenant added while
    // running needs no new layout), and the status document's tenant.<name>.* entries come from the rows.
    expect(platCounterLayout(twoTenants).names).toEqual(platCounterLayout(undefined).names);
    expect(platCounterLayout(twoTenants).names.some((n) => n.startsWith('tenant.'))).toBe(false);
    const { run, tenantStats, tenantBlocks, config } = newTenantPlat();
    run(out6('2001:db8:b:1::2'));
    const usage = tenantUsage({
      slotOf: (name) => (name === 'isp-a' ? 0 : name === 'isp-b' ? 1 : undefined),
      names: () => ['isp-a', 'isp-b'],
      current: () => twoTenants,
      stats: tenantStats,
      blocks: tenantBlocks,
      engine: config,
    });
    const counters = tenantStatusCounters(usage);
    expect(counters).toMatchObject({
      'tenant.isp-b.packets64': 1,
      'tenant.isp-b.translated64': 1,
      'tenant.isp-b.blocks': 1,
      'tenant.isp-b.sessions': 1,
      'tenant.isp-a.packets64': 0,
    });
    expect(counters['tenant.isp-b.bytes64']).toBe(out6('2001:db8:b:1::2').length);
    expect(metricTarget('tenant.isp-b.translated46')).toMatchObject({
      metric: 'xlat64.tenant.translated',
      kind: 'counter',
      attributes: { tenant: 'isp-b', direction: '4to6' },
    });
  });
});

describe('per-tenant session limits', () => {
  it("refuses a subscriber past its tenant's subscriberSessionsMax as drop.nat.subscribersessions64, other tenants keep the node's", () => {
    // Proves the per-subscriber bound is the tenant's: isp-a's subscriber gets 3 sessions, the 4th is
    // refused with ICMPv6 destination unreachable, while isp-b's subscriber gets more than 3.
    const tenants: TenantConfig[] = [{ ...twoTenants[0], subscriberSessionsMax: 3 }, twoTenants[1]];
    const { run, counter } = newTenantPlat(tenants);
    for (let port = 0; port < 3; port++)
      expect(run(out6('2001:db8:a:100::2', 7000 + port)).verdict).toBe(Verdict.Translate);
    const refused = run(out6('2001:db8:a:100::2', 7003));
    expect(refused.verdict).toBe(Verdict.ReplyIcmp);
    expect(refused.dropped).toBe('drop.nat.subscribersessions64');
    expect((refused.packet as Buffer)[40]).toBe(1);
    expect(run(out6('2001:db8:a:200::2', 7003)).verdict, 'another subscriber of isp-a').toBe(
      Verdict.Translate,
    );
    for (let port = 0; port < 5; port++)
      expect(run(out6('2001:db8:b:100::2', 7000 + port)).verdict).toBe(Verdict.Translate);
    expect(counter(0, 'refused64')).toBe(1);
    expect(counter(0, 'sessions')).toBe(4);
    expect(counter(1, 'sessions')).toBe(5);
  });

  it("refuses a tenant past its sessionsMax node-wide as drop.nat.tenantsessions64 (administratively prohibited), counting every worker's sessions", () => {
    // Proves the tenant quota sums the node's workers: another worker's row already holds 2 of isp-b's
    // 4 sessions, so this worker gives 2 more and refuses the 3rd with type 1 code 1; isp-a is unaffected,
    // and a session that ends gives its place back.
    const tenants: TenantConfig[] = [twoTenants[0], { ...twoTenants[1], sessionsMax: 4 }];
    const { run, tenantStats, engine, counter } = newTenantPlat(tenants);
    new Float64Array(tenantStats[1])[1 * TENANT_STAT_ENTRIES + TenantStat.sessions] = 2;
    expect(run(out6('2001:db8:b:100::2', 7000)).verdict).toBe(Verdict.Translate);
    expect(run(out6('2001:db8:b:200::2', 7000)).verdict).toBe(Verdict.Translate);
    const refused = run(out6('2001:db8:b:300::2', 7000));
    expect(refused.verdict).toBe(Verdict.ReplyIcmp);
    expect(refused.dropped).toBe('drop.nat.tenantsessions64');
    expect([(refused.packet as Buffer)[40], (refused.packet as Buffer)[41]]).toEqual([1, 1]);
    for (let i = 1; i <= 6; i++) expect(run(out6(`2001:db8:a:${i}00::2`)).verdict).toBe(Verdict.Translate);
    expect(counter(1, 'sessions')).toBe(2);
    // UDP sessions end after 5 minutes: the quota has room again.
    engine.advance(1000 + 6 * 60_000);
    expect(counter(1, 'sessions')).toBe(0);
    expect(run(out6('2001:db8:b:300::2', 7000)).verdict).toBe(Verdict.Translate);
  });

  it('drops an inbound session past the tenant quota as drop.nat.tenantsessions46', () => {
    // Proves the quota also holds for sessions the IPv4 side would open on an existing mapping
    // (endpoint-independent filtering lets a new remote in): at the quota it is dropped and counted.
    const tenants: TenantConfig[] = [twoTenants[0], { ...twoTenants[1], sessionsMax: 1 }];
    const { run } = newTenantPlat(tenants);
    const first = run(out6('2001:db8:b:100::2', 7000)).packet as Buffer;
    const inbound = run(
      ipv4({
        src: '198.51.100.9',
        dst: formatIpv4(first, 12),
        payload: udp({ srcPort: 53, dstPort: first.readUInt16BE(20), payload }),
      }),
    );
    expect(inbound.verdict).toBe(Verdict.Drop);
    expect(inbound.dropped).toBe('drop.nat.tenantsessions46');
  });

  it('recounts sessions per tenant when the tenants change while running', () => {
    // Proves a live change moves the counts: sessions of a subscriber whose prefix joins a new tenant
    // count for it from the change on, and a removed tenant's row is emptied.
    const { run, engine, tenantStats, counter } = newTenantPlat();
    run(out6('2001:db8:b:100::2', 7000));
    run(out6('2001:db8:b:100::2', 7001));
    expect(counter(1, 'sessions')).toBe(2);
    const c: TenantConfig = { ...twoTenants[1], name: 'isp-c' };
    const table = tenantPrefixTable([twoTenants[0], c], [0, 2]);
    engine.setSessionShares(tenantSessionShares([twoTenants[0], c], table, tenantStats, 0, [0, 2]));
    expect([counter(1, 'sessions'), counter(2, 'sessions')]).toEqual([0, 2]);
  });

  it('refuses tenant shares and quotas held in one node together with cluster state, naming the field', () => {
    // Proves the combination that would not hold across a cluster is refused at start, and the per-subscriber
    // session bound (one subscriber is on one shard) is accepted with cluster state.
    const state = { nats: 'nats://127.0.0.1:4222', redis: 'redis://127.0.0.1:6379', nodeId: 'a' };
    const a = { name: 'isp-a', prefixes: ['2001:db8:a::/48'] };
    for (const [field, value] of [
      ['pool4', ['203.0.113.0/30']],
      ['blocksMax', 10],
      ['subscriberBlocksMax', 1],
      ['sessionsMax', 100],
    ] as const) {
      const error = refusal({ state, tenants: [{ ...a, [field]: value }] });
      expect(error.field).toBe(`tenants[0].${field}`);
      expect(error.message).toMatch(/cluster/);
    }
    const ok = parsePlatConfig({ ...base, state, tenants: [{ ...a, subscriberSessionsMax: 100 }] });
    expect(ok.tenants?.[0].subscriberSessionsMax).toBe(100);
    expect(refusal({ tenants: [{ ...a, sessionsMax: 0 }] }).field).toBe('tenants[0].sessionsMax');
    expect(
      refusal({ nat: { subscriberSessionsMax: 10 }, tenants: [{ ...a, subscriberSessionsMax: 11 }] }).field,
    ).toBe('tenants[0].subscriberSessionsMax');
  });
});

describe('live tenant changes', () => {
  it('keeps a tenant name on its slot across reloads and gives a new name the next one', () => {
    // Proves counters and quotas stay attached to the right tenant when the list is reordered or shrinks.
    const slots = new TenantSlots(twoTenants);
    const c = { ...twoTenants[0], name: 'isp-c', prefixes: ['2001:db8:c::/48'] };
    expect(slots.slotsOf([twoTenants[1], c])).toEqual([1, 2]);
    expect(slots.slotsOf([c, twoTenants[0]])).toEqual([2, 0]);
    expect(slots.slotsOf([twoTenants[1]])).toEqual([1]);
  });

  it('hands a published tenant list to a worker once, never a half-written one', () => {
    // Proves the sequence lock: a reader sees each publication once, and nothing while a write is under way.
    const memory = createTenantConfigMemory();
    const reader = new TenantConfigReader(memory);
    expect(reader.poll()).toBeUndefined();
    publishTenants(memory, { tenants: twoTenants, slots: [0, 1] });
    expect(reader.poll()).toEqual({ tenants: twoTenants, slots: [0, 1] });
    expect(reader.poll()).toBeUndefined();
    const header = new Int32Array(memory, 0, 2);
    Atomics.add(header, 0, 1); // a writer has begun
    expect(reader.poll()).toBeUndefined();
    Atomics.add(header, 0, 1);
    publishTenants(memory, { tenants: null, slots: [] });
    expect(reader.poll()).toEqual({ tenants: null, slots: [] });
  });

  it('classifies and leases by the new tenants after a change, and counts only the tenants it started with', () => {
    // Proves a running step and allocator take a new list: isp-c (slot 2, added) is translated from its
    // own pool4 share, isp-b (removed) is refused, and isp-a's counters keep their place.
    const { run, counter, step, blocksOf, config, tenantBlocks, allocator } = newTenantPlat();
    expect(run(out6('2001:db8:b:100::2')).verdict).toBe(Verdict.Translate);
    const c: TenantConfig = {
      ...twoTenants[0],
      name: 'isp-c',
      prefixes: ['2001:db8:c::/48'],
      pool4: ['203.0.113.8/29'],
    };
    const tenants = [twoTenants[0], c];
    const slots = [0, 2];
    const table = tenantPrefixTable(tenants, slots);
    step.setTenants(table);
    allocator.setShares(tenantPoolShares(tenants, config, table, tenantBlocks, slots));
    const fromC = run(out6('2001:db8:c:100::2'));
    expect(fromC.verdict).toBe(Verdict.Translate);
    expect((fromC.packet as Buffer).readUInt32BE(12) - 0xcb007100).toBeGreaterThanOrEqual(8);
    expect(run(out6('2001:db8:b:200::2')).dropped).toBe('drop.notenant64');
    expect(run(out6('2001:db8:a:100::2')).verdict).toBe(Verdict.Translate);
    expect(counter(0, 'packets64')).toBe(1);
    expect(blocksOf(2)).toBe(1);
  });
});

describe('usage records', () => {
  it('writes one record per tenant per interval on wall-clock boundaries, adding up to the traffic, and a last one at stop', () => {
    // Proves the billing file: intervals [500, 1000) and [1000, 1700) follow each other, each holds the
    // packets and bytes translated in it (not since the start), gauges at its end and their peak.
    const dir = mkdtempSync(join(tmpdir(), `x64t-usage-${process.pid}-`));
    try {
      const { run, tenantStats, tenantBlocks, config } = newTenantPlat();
      const usage = () =>
        tenantUsage({
          slotOf: (name) => (name === 'isp-a' ? 0 : 1),
          names: () => ['isp-a', 'isp-b'],
          current: () => twoTenants,
          stats: tenantStats,
          blocks: tenantBlocks,
          engine: config,
        });
      const file = join(dir, 'usage.jsonl');
      const recorder = new UsageRecorder({ file, intervalMs: 1000, node: undefined }, usage, 'n1', 500);
      const first = out6('2001:db8:a:100::2', 7000);
      run(first);
      run(out6('2001:db8:a:100::2', 7001));
      recorder.sample(900);
      recorder.sample(1000); // the boundary: [500, 1000) is written
      run(out6('2001:db8:b:100::2', 7000));
      recorder.sample(1500);
      recorder.stop(1700);
      const records = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as TenantUsageRecord);
      expect(records.map((r) => [r.tenant, r.fromMs, r.toMs, r.packets64])).toEqual([
        ['isp-a', 500, 1000, 2],
        ['isp-b', 500, 1000, 0],
        ['isp-a', 1000, 1700, 0],
        ['isp-b', 1000, 1700, 1],
      ]);
      expect(records[0]).toMatchObject({
        type: 'xlat64.tenant.usage',
        node: 'n1',
        bytes64: 2 * first.length,
        sessions: 2,
        sessionsPeak: 2,
        blocks: 1,
        from: new Date(500).toISOString(),
      });
      expect(records[3]).toMatchObject({ sessions: 1, blocks: 1 });
      expect(recorder.written).toBe(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a usage configuration naming the field', () => {
    // Proves usage is checked at start: a relative file, a too short interval, and usage without tenants.
    const tenants = [{ name: 'isp-a', prefixes: ['2001:db8:a::/48'] }];
    expect(refusal({ tenants, usage: 'usage.jsonl' }).field).toBe('usage.file');
    expect(refusal({ tenants, usage: { file: '/tmp/u.jsonl', intervalMs: 10 } }).field).toBe(
      'usage.intervalMs',
    );
    expect(refusal({ tenants, usage: { file: '/tmp/u.jsonl', every: 10 } }).field).toBe('usage.every');
    expect(refusal({ usage: '/tmp/u.jsonl' }).field).toBe('usage');
    expect(parsePlatConfig({ ...base, tenants, usage: '/tmp/u.jsonl' }).usage).toEqual({
      file: '/tmp/u.jsonl',
      intervalMs: 3_600_000,
      node: undefined,
    });
  });
});

describe('per-tenant subscriber prefix length', () => {
  const tenants: TenantConfig[] = [
    { ...twoTenants[0], subscriberPrefixLength: 64 },
    { ...twoTenants[1] }, // the node's /56
  ];

  it("keys subscribers by their tenant's length in the engine and in the shard routing", () => {
    // Proves isp-a's /64s are subscribers each (two /64s of one /56 are two subscribers, each on its own
    // block) while isp-b's /56 holds both its /64s; and the router hashes a packet's source to the shard
    // of the key the engine made, for both lengths.
    const { run, engine, config } = newTenantPlat(tenants);
    const table = tenantPrefixTable(tenants);
    const lengths = tenantSubscriberLengths(tenants, config);
    expect(lengths?.[0]).toBe(64);
    expect(lengths?.[1]).toBe(0);
    engine.state.config.subscriberLengths.set(table, lengths as Uint8Array);
    const sources = ['2001:db8:a:100::2', '2001:db8:a:101::2', '2001:db8:b:100::2', '2001:db8:b:101::2'];
    for (const source of sources) expect(run(out6(source)).verdict, source).toBe(Verdict.Translate);
    expect(engine.state.subscriberCount).toBe(3);
    expect(engine.state.leasedBlockCount).toBe(3);
    const hash = new SubscriberShardHash({
      prefixLength: 56,
      lengths: engine.state.config.subscriberLengths,
    });
    const hex = (words: ArrayLike<number>) =>
      Array.from(words, (w) => (w >>> 0).toString(16).padStart(8, '0')).join(':');
    const key = new Uint32Array(4);
    const keys = new Set<string>();
    for (const source of sources) {
      const address = parseIpv6(source);
      const words = [0, 1, 2, 3].map((i) => Buffer.from(address).readUInt32BE(i * 4));
      subscriberPrefixOf(engine.state.config, words, key);
      expect(engine.state.findSubscriber(key[0], key[1], key[2], key[3]), source).not.toBe(-1);
      expect(hash.shardOfAddress(address, 0), source).toBe(hash.shardOfWords(key));
      keys.add(hex(key));
    }
    expect([...keys].sort()).toEqual([
      '20010db8:000a0100:00000000:00000000',
      '20010db8:000a0101:00000000:00000000',
      '20010db8:000b0100:00000000:00000000',
    ]);
  });

  it("accepts a tenant length longer than the node's, refuses a shorter one, and refuses changing lengths on a reload", () => {
    // Proves the configuration and the live-change rule: a /64 tenant on a /56 node is fine, a /48 one asks
    // for nat.subscriberPrefixLength 48; a reload may add a tenant of any length but not change the length
    // of addresses the running tenants cover.
    const ok = parsePlatConfig({
      ...base,
      tenants: [{ name: 'isp-a', prefixes: ['2001:db8:a::/48'], subscriberPrefixLength: 64 }],
    });
    expect(ok.tenants?.[0].subscriberPrefixLength).toBe(64);
    const shorter = refusal({
      tenants: [{ name: 'isp-a', prefixes: ['2001:db8:a::/44'], subscriberPrefixLength: 48 }],
    });
    expect(shorter.field).toBe('tenants[0].subscriberPrefixLength');
    expect(shorter.message).toMatch(/set nat\.subscriberPrefixLength to the shortest/);
    const c: TenantConfig = {
      ...twoTenants[0],
      name: 'isp-c',
      prefixes: ['2001:db8:c::/48'],
      subscriberPrefixLength: 48,
    };
    expect(() => refuseSubscriberLengthChanges(tenants, [...tenants, c])).not.toThrow();
    const changed = () =>
      refuseSubscriberLengthChanges(tenants, [{ ...tenants[0], subscriberPrefixLength: 60 }]);
    expect(changed).toThrow(/tenants\[0\]\.subscriberPrefixLength/);
    const moved = () =>
      refuseSubscriberLengthChanges(tenants, [tenants[1], { ...c, prefixes: ['2001:db8:a:100::/56'] }]);
    expect(moved).toThrow(/tenants\[1\]\.prefixes\[0\].*\/64 to \/48/);
    const wider = () => refuseSubscriberLengthChanges(tenants, [{ ...c, prefixes: ['2001:db8:8::/45'] }]);
    expect(wider).toThrow(/isp-c's subscribers would change/);
  });
});
