// The `tenants:` list of the PLAT configuration: the ISPs the exchange translates for, each with its
// IPv6 prefixes, its share of the pool (dedicated pool4 addresses, or the addresses no tenant dedicates)
// and its quotas. Without the list the node serves one implicit tenant (any source, today's behaviour).
// Refusals name the field (`tenants[1].prefixes[0]`) and the fix; overlapping prefixes name both.

import {
  checkPrefix,
  configError,
  type RawConfig,
  readInteger,
  refuseUnknownKeys,
} from '../../../../libs/dataplane/src/index.js';
import {
  addressIndexIn,
  formatIpv4,
  NatConfigError,
  type NatEngineConfig,
  parseIpv6,
  parsePool4Entry,
} from '../../../nat-engine/src/index.js';
import { TENANT_PREFIX_LENGTH_MAX, TenantPrefixTable } from './tenant-lpm.js';

export interface TenantConfig {
  name: string;
  /** The ISP's IPv6 prefixes (text as written). */
  prefixes: string[];
  /** The subscriber prefix length the ISP delegates (at least nat.subscriberPrefixLength, its default). */
  subscriberPrefixLength: number;
  /** pool4 entries dedicated to this tenant (inside the node's pool4); empty: the addresses no tenant dedicates. */
  pool4: string[];
  /** Most port blocks the tenant's subscribers hold at once, node-wide; 0: no quota. */
  blocksMax: number;
  /** Most blocks one subscriber of the tenant holds per protocol; 0: nat.subscriberBlocksMax. */
  subscriberBlocksMax: number;
  /** Most sessions one subscriber of the tenant holds; 0: nat.subscriberSessionsMax. */
  subscriberSessionsMax: number;
  /** Most sessions the tenant's subscribers hold at once, node-wide; 0: no quota. */
  sessionsMax: number;
}

export const tenantConfigKeys = [
  'name',
  'prefixes',
  'subscriberPrefixLength',
  'pool4',
  'blocksMax',
  'subscriberBlocksMax',
  'subscriberSessionsMax',
  'sessionsMax',
] as const;
/** Most tenants of one node. */
export const TENANTS_MAX = 4096;
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Parses `tenants` (undefined: no tenants, any source is translated) against the node's validated engine
 * configuration: a tenant that leaves out subscriberPrefixLength gets nat.subscriberPrefixLength (a
 * shorter one is refused: the node's is the shortest); its pool4 must lie inside the node's pool4 and be
 * no other tenant's.
 */
export function parseTenants(raw: unknown, engine: NatEngineConfig): TenantConfig[] | undefined {
  const subscriberPrefixLength = engine.subscriberPrefixLength;
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length === 0)
    throw configError(
      'tenants',
      'expected a list of tenants, e.g. [{ name: isp-a, prefixes: [2001:db8:a::/48] }]; remove the key to translate any source',
    );
  if (raw.length > TENANTS_MAX) throw configError('tenants', `at most ${TENANTS_MAX} tenants`);
  const names = new Set<string>();
  const tenants = raw.map((entry, i): TenantConfig => {
    const where = `tenants[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw configError(where, 'expected a mapping with name and prefixes');
    const t = entry as RawConfig;
    refuseUnknownKeys(t, tenantConfigKeys, `${where}.`);
    const name = t.name;
    if (typeof name !== 'string' || !NAME.test(name))
      throw configError(
        `${where}.name`,
        `${JSON.stringify(name)} is not a tenant name; use lower-case letters, digits, '-' or '_' (e.g. isp-a)`,
      );
    if (names.has(name))
      throw configError(`${where}.name`, `'${name}' names two tenants; give each its own name`);
    names.add(name);
    let length: number;
    try {
      length = readInteger(t, 'subscriberPrefixLength', subscriberPrefixLength, 1, 128);
    } catch (error) {
      throw configError(`${where}.subscriberPrefixLength`, (error as Error).message.replace(/^[^:]*: /, ''));
    }
    // The node's length is the shortest: the snapshot stores a mapping's address after the whole bytes
    // of the node's length, which a longer subscriber prefix holds too.
    if (length < subscriberPrefixLength)
      throw configError(
        `${where}.subscriberPrefixLength`,
        `/${length} is shorter than nat.subscriberPrefixLength /${subscriberPrefixLength}; set nat.subscriberPrefixLength to the shortest length a tenant delegates (e.g. ${length}) and give the others theirs`,
      );
    const prefixes = t.prefixes;
    if (!Array.isArray(prefixes) || prefixes.length === 0)
      throw configError(
        `${where}.prefixes`,
        "is required: a list of the ISP's IPv6 prefixes, e.g. [2001:db8:a::/48]",
      );
    prefixes.forEach((p, j) => {
      const field = `${where}.prefixes[${j}]`;
      if (typeof p !== 'string') throw configError(field, 'expected an IPv6 prefix, e.g. 2001:db8:a::/48');
      checkPrefix(field, p, 6);
      const bits = Number(p.split('/')[1]);
      if (bits > Math.min(TENANT_PREFIX_LENGTH_MAX, length))
        throw configError(
          field,
          `/${bits} is longer than the subscriber prefix length /${length}; a tenant prefix holds whole subscribers`,
        );
    });
    const blocksMax = readTenantInteger(t, where, 'blocksMax', 0, 1, engine.totalBlocks);
    const subscriberBlocksMax = readTenantInteger(
      t,
      where,
      'subscriberBlocksMax',
      0,
      1,
      engine.subscriberBlocksMax,
    );
    const subscriberSessionsMax = readTenantInteger(
      t,
      where,
      'subscriberSessionsMax',
      0,
      1,
      engine.subscriberSessionsMax,
    );
    const sessionsMax = readTenantInteger(t, where, 'sessionsMax', 0, 1, 0x7fffffff);
    const pool4 = t.pool4 ?? [];
    if (!Array.isArray(pool4) || (t.pool4 !== undefined && pool4.length === 0))
      throw configError(
        `${where}.pool4`,
        "expected a list of IPv4 prefixes or ranges inside the node's pool4, e.g. [203.0.113.0/26]; remove it to share the undedicated addresses",
      );
    return {
      name,
      prefixes: prefixes as string[],
      subscriberPrefixLength: length,
      pool4: pool4 as string[],
      blocksMax,
      subscriberBlocksMax,
      subscriberSessionsMax,
      sessionsMax,
    };
  });
  tenantPrefixTable(tenants); // refuses overlaps
  tenantPoolAddresses(tenants, engine); // refuses pool4 outside the pool, shared twice, or no share left
  return tenants;
}

function readTenantInteger(
  t: RawConfig,
  where: string,
  field: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (t[field] === undefined) return fallback;
  try {
    return readInteger(t, field, fallback, min, max);
  } catch (error) {
    throw configError(`${where}.${field}`, (error as Error).message.replace(/^[^:]*: /, ''));
  }
}

/**
 * Per tenant, the engine's pool address indices it leases on: its own pool4, or (without one) every
 * address no tenant dedicates. Refuses an entry outside the node's pool4, an address two tenants
 * dedicate, and a tenant without pool4 when every address is dedicated — naming the field.
 */
export function tenantPoolAddresses(tenants: readonly TenantConfig[], engine: NatEngineConfig): Int32Array[] {
  const dedicatedTo = new Int32Array(engine.poolAddressCount).fill(-1);
  const own: number[][] = tenants.map(() => []);
  for (const [i, tenant] of tenants.entries()) {
    for (const [j, text] of tenant.pool4.entries()) {
      const field = `tenants[${i}].pool4[${j}]`;
      let range: { first: number; last: number };
      try {
        range = parsePool4Entry(field, text);
      } catch (error) {
        if (error instanceof NatConfigError)
          throw configError(field, error.message.slice(error.field.length + 2));
        throw error;
      }
      for (let a = range.first; a <= range.last; a++) {
        const index = addressIndexIn(engine.rangeFirst, engine.rangeLast, engine.rangeBase, a);
        if (index < 0)
          throw configError(
            field,
            `${formatIpv4(a)} is not in the node's pool4; a tenant's pool4 is a part of the node's pool4`,
          );
        if (dedicatedTo[index] !== -1)
          throw configError(
            field,
            `${formatIpv4(a)} is already dedicated to ${tenants[dedicatedTo[index]].name}; an address belongs to one tenant`,
          );
        dedicatedTo[index] = i;
        own[i].push(index);
      }
    }
  }
  const shared: number[] = [];
  for (let index = 0; index < engine.poolAddressCount; index++)
    if (dedicatedTo[index] === -1) shared.push(index);
  return tenants.map((tenant, i) => {
    if (own[i].length > 0) return Int32Array.from(own[i]);
    if (shared.length === 0)
      throw configError(
        `tenants[${i}].pool4`,
        `${tenant.name} has no pool4 and every pool4 address is dedicated to another tenant; give it a pool4 or leave addresses undedicated`,
      );
    return Int32Array.from(shared);
  });
}

interface Parsed {
  hi: number;
  lo: number;
  length: number;
  /** The table's value: the tenant's slot. */
  tenant: number;
  /** The tenant's position in the list (for messages). */
  index: number;
  field: string;
  text: string;
}

const mask = (bits: number) => (bits <= 0 ? 0 : bits >= 32 ? -1 : (-1 << (32 - bits)) | 0);

/**
 * The classification table of `tenants` (tenant i classifies as `slots[i]`, default i). Refuses a prefix
 * with host bits set and two prefixes that overlap (one holds the other), naming both.
 */
export function tenantPrefixTable(
  tenants: readonly TenantConfig[],
  slots?: readonly number[],
): TenantPrefixTable {
  const words = new Uint32Array(4);
  const parsed: Parsed[] = [];
  for (const [i, tenant] of tenants.entries()) {
    for (const [j, text] of tenant.prefixes.entries()) {
      const field = `tenants[${i}].prefixes[${j}]`;
      const [address, bits] = text.split('/');
      if (!parseIpv6(address, words)) throw configError(field, `'${text}' is not an IPv6 prefix`);
      const length = Number(bits);
      const hi = words[0] | 0;
      const lo = words[1] | 0;
      if ((hi & mask(length)) !== hi || (lo & mask(length - 32)) !== lo || words[2] !== 0 || words[3] !== 0)
        throw configError(field, `'${text}' has bits set past /${length}; write the prefix's first address`);
      parsed.push({ hi, lo, length, tenant: slots?.[i] ?? i, index: i, field, text });
    }
  }
  // An overlap is a prefix holding another: look each prefix up, masked to every shorter-or-equal
  // length in use, among the prefixes already seen of that length (shortest first, so either order finds it).
  const seen = new Map<string, Parsed>();
  const lengths = [...new Set(parsed.map((p) => p.length))].sort((a, b) => a - b);
  const sorted = [...parsed].sort((a, b) => a.length - b.length);
  for (const p of sorted) {
    for (const l of lengths) {
      if (l > p.length) break;
      const other = seen.get(`${l}:${p.hi & mask(l)}:${p.lo & mask(l - 32)}`);
      if (other !== undefined)
        throw configError(
          p.field,
          `'${p.text}' (${tenants[p.index].name}) overlaps ${other.field} '${other.text}' (${tenants[other.index].name}); a source must belong to one tenant — remove or split one of them`,
        );
    }
    seen.set(`${p.length}:${p.hi}:${p.lo}`, p);
  }
  return new TenantPrefixTable(parsed);
}

/** The tenant settings held by counters in the node's shared memory, which a cluster's nodes do not share. */
const NODE_SHARE_FIELDS = ['pool4', 'blocksMax', 'subscriberBlocksMax', 'sessionsMax'] as const;

/**
 * Cluster mode (`state`) refuses what only one node's shared memory enforces: a tenant's pool4 share,
 * blocksMax, subscriberBlocksMax (the embedded allocator's) and sessionsMax. Redis leases blocks for the
 * whole cluster without tenant shares, and the counts live per node, so a cluster of N nodes would grant
 * a tenant N times its quota. Classification, drop.notenant64 and subscriberSessionsMax (one subscriber
 * is on one shard) hold in both modes.
 */
export function refuseNodeSharesInCluster(tenants: readonly TenantConfig[] | undefined): void {
  for (const [i, tenant] of (tenants ?? []).entries())
    for (const field of NODE_SHARE_FIELDS) {
      const value = tenant[field];
      if (Array.isArray(value) ? value.length > 0 : value !== 0)
        throw configError(
          `tenants[${i}].${field}`,
          `${tenant.name}'s ${field} is enforced by one node's shared memory and does not hold across a cluster (state); remove ${field}, or run the embedded state (remove state)`,
        );
    }
}

/**
 * The engine's subscriber length per tenant slot (tenant i at `slots[i]`; 0: the node's), or null when
 * every tenant delegates the node's length (the subscriber key then needs no lookup).
 */
export function tenantSubscriberLengths(
  tenants: readonly TenantConfig[],
  engine: NatEngineConfig,
  slots: readonly number[] = tenants.map((_, i) => i),
): Uint8Array | null {
  const lengths = new Uint8Array(TENANTS_MAX);
  let any = false;
  for (const [i, tenant] of tenants.entries()) {
    if (tenant.subscriberPrefixLength === engine.subscriberPrefixLength) continue;
    lengths[slots[i]] = tenant.subscriberPrefixLength;
    any = true;
  }
  return any ? lengths : null;
}

/**
 * A live change may not change the subscriber length of an address the running tenants cover: the
 * state of its subscribers is keyed by it. Refuses (naming the field) a tenant whose length changed and
 * a prefix that now belongs to a tenant of another length; the fix is a restart with drained sessions.
 */
export function refuseSubscriberLengthChanges(
  running: readonly TenantConfig[] | undefined,
  next: readonly TenantConfig[] | undefined,
): void {
  if (running === undefined || next === undefined) return;
  const lengthOf = (t: TenantConfig) => t.subscriberPrefixLength;
  const before = tenantPrefixTable(running);
  const after = tenantPrefixTable(next);
  const words = new Uint32Array(4);
  const firstWords = (text: string) => {
    parseIpv6(text.split('/')[0], words);
    return [words[0] | 0, words[1] | 0] as const;
  };
  const refuse = (field: string, name: string, from: number, to: number) => {
    throw configError(
      field,
      `${name}'s subscribers would change from /${from} to /${to} while running; their state is keyed by the length — restart the PLAT to change it (after its sessions drained, or with a fresh stateDir)`,
    );
  };
  for (const [i, tenant] of next.entries()) {
    const old = running.find((t) => t.name === tenant.name);
    if (old !== undefined && lengthOf(old) !== lengthOf(tenant))
      refuse(`tenants[${i}].subscriberPrefixLength`, tenant.name, lengthOf(old), lengthOf(tenant));
    for (const [j, text] of tenant.prefixes.entries()) {
      const was = before.lookupWords(...firstWords(text));
      if (was >= 0 && lengthOf(running[was]) !== lengthOf(tenant))
        refuse(`tenants[${i}].prefixes[${j}]`, tenant.name, lengthOf(running[was]), lengthOf(tenant));
    }
  }
  // A running prefix inside a new, longer-reaching prefix of another length.
  for (const tenant of running)
    for (const text of tenant.prefixes) {
      const now = after.lookupWords(...firstWords(text));
      if (now >= 0 && lengthOf(next[now]) !== lengthOf(tenant))
        refuse(`tenants[${now}].prefixes`, next[now].name, lengthOf(tenant), lengthOf(next[now]));
    }
}
