// The `tenants:` list of the PLAT configuration: the ISPs the exchange translates for, each with its
// IPv6 prefixes. Without the list the node serves one implicit tenant (any source, today's behaviour).
// Refusals name the field (`tenants[1].prefixes[0]`) and the fix; overlapping prefixes name both.

import {
  checkPrefix,
  configError,
  type RawConfig,
  readInteger,
  refuseUnknownKeys,
} from '../../../../libs/dataplane/src/index.js';
import { parseIpv6 } from '../../../nat-engine/src/index.js';
import { TENANT_PREFIX_LENGTH_MAX, TenantPrefixTable } from './tenant-lpm.js';

export interface TenantConfig {
  name: string;
  /** The ISP's IPv6 prefixes (text as written). */
  prefixes: string[];
  /** The subscriber prefix length the ISP delegates (today: the node's nat.subscriberPrefixLength). */
  subscriberPrefixLength: number;
}

export const tenantConfigKeys = ['name', 'prefixes', 'subscriberPrefixLength'] as const;
/** Most tenants of one node. */
export const TENANTS_MAX = 4096;
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Parses `tenants` (undefined: no tenants, any source is translated). `subscriberPrefixLength` is the
 * node's (nat.subscriberPrefixLength): a tenant that leaves it out gets it; a different one is refused
 * until the engine keys subscribers per tenant.
 */
export function parseTenants(raw: unknown, subscriberPrefixLength: number): TenantConfig[] | undefined {
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
    if (length !== subscriberPrefixLength)
      throw configError(
        `${where}.subscriberPrefixLength`,
        `/${length} differs from nat.subscriberPrefixLength /${subscriberPrefixLength}; every tenant uses the node's length for now (remove it, or set nat.subscriberPrefixLength)`,
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
    return { name, prefixes: prefixes as string[], subscriberPrefixLength: length };
  });
  tenantPrefixTable(tenants); // refuses overlaps
  return tenants;
}

interface Parsed {
  hi: number;
  lo: number;
  length: number;
  tenant: number;
  field: string;
  text: string;
}

const mask = (bits: number) => (bits <= 0 ? 0 : bits >= 32 ? -1 : (-1 << (32 - bits)) | 0);

/**
 * The classification table of `tenants` (tenant i = index i). Refuses a prefix with host bits set and
 * two prefixes that overlap (one holds the other), naming both.
 */
export function tenantPrefixTable(tenants: readonly TenantConfig[]): TenantPrefixTable {
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
      parsed.push({ hi, lo, length, tenant: i, field, text });
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
          `'${p.text}' (${tenants[p.tenant].name}) overlaps ${other.field} '${other.text}' (${tenants[other.tenant].name}); a source must belong to one tenant — remove or split one of them`,
        );
    }
    seen.set(`${p.length}:${p.hi}:${p.lo}`, p);
  }
  return new TenantPrefixTable(parsed);
}
