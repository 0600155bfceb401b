// The IPv4 pool as the operator writes it (DESIGN.md "Pool and ports": any list of prefixes, ranges and single
// addresses, not necessarily contiguous): the one parser of pool entries. The engine builds its
// address ranges from it; the PLAT routes the pool into its TUN as CIDR blocks from it and takes
// its ICMP source address from it. Control plane only.

import { formatIpv4, parseIpv4 } from '../address.js';
import { NatConfigError } from '../errors.js';

/** One pool entry as an inclusive range of IPv4 addresses (uint32). */
export interface Pool4Range {
  readonly first: number;
  readonly last: number;
}

const POOL_FIX = "write a prefix ('203.0.113.0/24'), a range ('198.51.100.10-198.51.100.20') or one address";

/** Parses one entry ('a.b.c.d/len', 'first-last' or 'a.b.c.d'); throws NatConfigError naming `field`. */
export function parsePool4Entry(field: string, text: unknown): Pool4Range {
  if (typeof text !== 'string') throw new NatConfigError(field, 'expected a string', POOL_FIX);
  const slash = text.indexOf('/');
  const dash = text.indexOf('-');
  if (slash >= 0) {
    const base = parseIpv4(text.slice(0, slash));
    const lengthText = text.slice(slash + 1);
    const length = /^\d{1,2}$/.test(lengthText) ? Number(lengthText) : -1;
    if (base < 0 || length < 0 || length > 32)
      throw new NatConfigError(field, `'${text}' is not an IPv4 prefix`, POOL_FIX);
    const size = 2 ** (32 - length);
    if (base % size !== 0) {
      throw new NatConfigError(
        field,
        `'${text}' has host bits set`,
        'write the prefix with its host bits zero',
      );
    }
    return { first: base, last: base + size - 1 };
  }
  if (dash >= 0) {
    const first = parseIpv4(text.slice(0, dash).trim());
    const last = parseIpv4(text.slice(dash + 1).trim());
    if (first < 0 || last < 0) throw new NatConfigError(field, `'${text}' is not an IPv4 range`, POOL_FIX);
    if (last < first) throw new NatConfigError(field, `'${text}' ends before it starts`, 'write first-last');
    return { first, last };
  }
  const address = parseIpv4(text);
  if (address < 0) throw new NatConfigError(field, `'${text}' is not an IPv4 address`, POOL_FIX);
  return { first: address, last: address };
}

/** Parses every entry of a pool list in order (fields `pool[i]`); overlaps are checked by validateConfig. */
export function parsePool4(entries: readonly unknown[]): Pool4Range[] {
  return entries.map((entry, i) => parsePool4Entry(`pool[${i}]`, entry));
}

/** A range as the fewest CIDR blocks that cover exactly it (for routes), e.g. '.10-.20' -> .10/31 .12/30 … */
export function pool4Cidrs(range: Pool4Range): string[] {
  const cidrs: string[] = [];
  let start = range.first;
  while (start <= range.last) {
    let length = 32;
    while (length > 0) {
      const block = 2 ** (32 - length + 1);
      if (start % block !== 0 || start + block - 1 > range.last) break;
      length--;
    }
    cidrs.push(`${formatIpv4(start)}/${length}`);
    start += 2 ** (32 - length);
  }
  return cidrs;
}
