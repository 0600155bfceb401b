// Tenant classification per packet: IPv6 source -> tenant by longest-prefix match over 10,000 tenant
// prefixes (/48, /52, /56, /64; half the sources a tenant's, half nobody's), next to the subscriber-key
// hash alone (SubscriberShardHash over the same sources) in the same run, and to a table of one prefix;
// and the subscriber-key hash when tenants delegate their own subscriber lengths (the routing then looks
// the source's tenant up first). Reports ns per lookup, the ratio to the hash and garbage collections
// (target: none).
// `npm run bench -- tenants`.
import { bestOf } from '../../../test/support/collections.js';
import { SubscriberLengths } from '../../nat-engine/src/index.js';
import { SubscriberShardHash } from '../src/routing/index.js';
import { NO_TENANT, TenantPrefixTable } from '../src/tenants/tenant-lpm.js';
import { tenantPrefixes } from '../test/fixtures/tenant-prefixes.js';

const LOOKUPS = 4_000_000;
const SOURCES = 4096;

export default async function bench(): Promise<void> {
  const big = new TenantPrefixTable(tenantPrefixes(10_000, 100));
  const one = new TenantPrefixTable(tenantPrefixes(1, 1));
  const hash = new SubscriberShardHash({ prefixLength: 56 });
  // 100 tenants (the fixture's), every one delegating /64s on a /56 node.
  const lengths = new SubscriberLengths();
  lengths.set(big, new Uint8Array(100).fill(64));
  const hashWithLengths = new SubscriberShardHash({ prefixLength: 56, lengths });
  // IPv6 packets 64 bytes apart in one buffer (as a TUN batch leaves them).
  const packets = new Uint8Array(64 * SOURCES);
  for (let s = 0; s < SOURCES; s++) {
    const o = s * 64 + 8;
    const k = s % 2 === 0 ? (s * 7) % 10_000 : 20_000 + s;
    packets.set([0x20, 0x01, 0x0d, 0xb8, k >> 8, k & 255, 0, 0], o);
    packets[o + 15] = 1;
  }
  const shardHashOf = (h: SubscriberShardHash) => () => {
    let sum = 0;
    for (let i = 0; i < LOOKUPS; i++) sum += h.shardOfAddress(packets, (i & (SOURCES - 1)) * 64 + 8);
    return sum >= 0 ? LOOKUPS : 0;
  };
  const shardHash = shardHashOf(hash);
  const classify = (table: TenantPrefixTable) => () => {
    let hits = 0;
    for (let i = 0; i < LOOKUPS; i++)
      if (table.lookup(packets, (i & (SOURCES - 1)) * 64 + 8) !== NO_TENANT) hits++;
    return hits >= 0 ? LOOKUPS : 0;
  };
  const base = await bestOf(3, shardHash, LOOKUPS);
  const lpmOne = await bestOf(3, classify(one), LOOKUPS);
  const lpmBig = await bestOf(3, classify(big), LOOKUPS);
  const hashLengths = await bestOf(3, shardHashOf(hashWithLengths), LOOKUPS);
  const row = (name: string, t: { ns: number; gcs: number }) =>
    `| ${name.padEnd(58)} | ${t.ns.toFixed(1).padStart(7)} ns | ${(t.ns / base.ns).toFixed(2).padStart(6)}x | ${String(t.gcs).padStart(3)} |`;
  process.stdout.write(
    [
      `| ${'per IPv6 source (4096 sources, half of no tenant)'.padEnd(58)} | per lookup | vs hash | GCs |`,
      `|${'-'.repeat(60)}|-----------:|--------:|----:|`,
      row('subscriber-key hash alone (baseline)', base),
      row('tenant LPM, 1 prefix', lpmOne),
      row('tenant LPM, 10,000 prefixes (4 lengths)', lpmBig),
      row('subscriber-key hash, per-tenant lengths (10,000 prefixes)', hashLengths),
      '\nbest of 3 runs of 4M lookups each; the LPM probes one hash table per distinct prefix length, longest first.',
    ].join('\n') + '\n',
  );
}
