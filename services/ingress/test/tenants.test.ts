// ISPs as tenants: the `tenants:` configuration and its refusals, source classification by
// longest-prefix match (against a naive reference, over 10,000 prefixes, without garbage collections),
// and the PLAT step with real packets: a source of no tenant is dropped and counted as drop.notenant64,
// a tenant's subscribers are translated and counted per tenant in both directions.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DataplaneError, roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { parseRfc6052Prefix, Verdict } from '../../../libs/xlat/src/index.js';
import { formatIpv4, formatIpv6, ipv4, ipv6, parseIpv6, udp } from '../../../test/support/build.js';
import { ArrayEventSink, createNatEngine, createSeededRandom } from '../../nat-engine/src/index.js';
import { parsePlatConfig } from '../src/plat-config.js';
import { createPlatStep, platDropNames, tenantCounterNames } from '../src/plat-step.js';
import { tenantPrefixTable } from '../src/tenants/tenant-config.js';
import { NO_TENANT, type TenantPrefixEntry, TenantPrefixTable } from '../src/tenants/tenant-lpm.js';
import { tenantPrefixes } from './fixtures/tenant-prefixes.js';

const base = { pool4: ['203.0.113.0/24'], stateDir: '/tmp/x64t-config' };
const two = [
  { name: 'isp-a', prefixes: ['2001:db8:a::/48', '2001:db8:aa00::/40'] },
  { name: 'isp-b', prefixes: ['2001:db8:b::/48'] },
];

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
      { name: 'isp-a', prefixes: two[0].prefixes, subscriberPrefixLength: 64 },
      { name: 'isp-b', prefixes: two[1].prefixes, subscriberPrefixLength: 64 },
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
      { name: 'isp-a', prefixes: ['2001:db8:a::/48', '2001:db8:aa00::/40'], subscriberPrefixLength: 56 },
      { name: 'isp-b', prefixes: ['2001:db8:b::/48'], subscriberPrefixLength: 56 },
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

function newTenantPlat() {
  const engine = createNatEngine(
    { pool: ['203.0.113.0/28'], blockSizePorts: 64, ports: { udp: [1024, 65535], tcp: [1024, 65535] } },
    { sink: new ArrayEventSink(), random: createSeededRandom(7), startMs: 0 },
  );
  engine.start(0);
  const layout = roleCounterLayout(platDropNames);
  const tenants = [
    { name: 'isp-a', prefixes: ['2001:db8:a::/48'], subscriberPrefixLength: 56 },
    { name: 'isp-b', prefixes: ['2001:db8:b::/48'], subscriberPrefixLength: 56 },
  ];
  const step = createPlatStep(
    engine,
    { translator: { prefix: '64:ff9b::/96', allowNonGlobalIpv4: true }, icmpSource4: 0xcb007100 },
    layout,
    parseRfc6052Prefix('64:ff9b::/96'),
    { table: tenantPrefixTable(tenants), count: tenants.length },
  );
  const run = (packet: Uint8Array) => {
    step.setNow(1000);
    const out = Buffer.alloc(2000);
    const verdict = step.process(packet, 0, packet.length, out, 0, false);
    return {
      verdict,
      packet: verdict === Verdict.Drop ? null : Buffer.from(out.subarray(0, step.result.length)),
      dropped: verdict === Verdict.Drop ? layout.names[step.reasonCounter()] : null,
    };
  };
  const counter = (tenant: number, name: (typeof tenantCounterNames)[number]) =>
    step.tenantCounters[tenant * tenantCounterNames.length + tenantCounterNames.indexOf(name)];
  return { step, run, counter, engine };
}

const payload = Buffer.from('tenant traffic');
const out6 = (src: string, srcPort = 5000) =>
  ipv6({ src, dst: '64:ff9b::198.51.100.2', payload: udp({ srcPort, dstPort: 53, payload }) });

describe('PLAT step with tenants', () => {
  it('drops a source of no tenant as drop.notenant64 and creates no mapping for it', () => {
    // Proves the PLAT is not an open NAT64: a non-tenant source is not translated and is counted by its reason.
    const { run, counter, engine } = newTenantPlat();
    const r = run(out6('2001:db8:c::2'));
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.dropped).toBe('drop.notenant64');
    expect(engine.state.mappingCount).toBe(0);
    expect(counter(0, 'packets64') + counter(1, 'packets64')).toBe(0);
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
