// Proves the RFC 7757 EAM table maps exactly as sec. 3.2 and 3.3 say, in both directions: the IPv4
// suffix goes into the bits right after the IPv6 prefix (the rest zero, ignored on the way back),
// the longest prefix wins whatever the entry order, and only the 16 bytes at the offset are touched.
// Every expected address below was worked out by hand from the RFC rules (bit positions noted).
import { describe, expect, it } from 'vitest';
import {
  type EamEntry,
  EamTable,
  formatIpv4Address,
  formatIpv6Address,
  type Ipv4Prefix,
  type Ipv6Prefix,
  parseIpv4Address,
  parseIpv4Prefix,
  parseIpv6Address,
  parseIpv6Prefix,
} from '../src/index.js';

function entry(ipv4: string, ipv6: string): EamEntry {
  const v4 = parseIpv4Prefix(ipv4) as Ipv4Prefix;
  const v6 = parseIpv6Prefix(ipv6) as Ipv6Prefix;
  return { ipv4: v4.address, ipv4Length: v4.length, ipv6: v6.address, ipv6Length: v6.length };
}

// The RFC 7757 appendix A table, plus entries for the cases it does not cover: an IPv6 prefix
// nested in another (/80 inside /64), a prefix whose bytes 12-15 are not zero, a prefix length
// that is not a multiple of 8 with a longer IPv6 suffix, and the issue's /24 = /72 example.
// Built inside each test (not at module load), so that mutation testing sees which test covers what.
const tableA = (): EamEntry[] => [
  entry('192.0.2.128/26', '2001:db8:dddd::/64'),
  entry('192.0.2.16/28', '2001:db8:cccc::/124'),
  entry('192.0.2.1', '2001:db8:aaaa::'),
  entry('192.0.2.2/32', '2001:db8:bbbb::b/128'),
  entry('192.0.2.192/31', '64:ff9b::/127'),
  entry('192.0.2.100/32', '2001:db8:dddd:0:ffff::/80'),
  entry('192.0.2.64/27', '2001:db8::ab:cd40/123'),
  entry('203.0.113.0/28', '2001:db8:eeee::/100'),
  entry('198.51.100.0/24', '2001:db8:1c6:3364::/72'),
];
// IPv4 longest-prefix match against a /0 entry (32 suffix bits, so all four suffix bytes are used).
const tableB = (): EamEntry[] => [
  entry('0.0.0.0/0', '2001:db8:ffff::/96'),
  entry('192.0.2.16/28', '2001:db8:cccc::/124'),
];
// All 32 IPv4 bits in the middle of the IPv6 address (bits 64-95), the rest zero.
const tableC = (): EamEntry[] => [entry('0.0.0.0/0', '2001:db8:ffff::/64')];

// [IPv4, IPv6] pairs both directions agree on.
const pairsA: [string, string][] = [
  ['192.0.2.1', '2001:db8:aaaa::'], // /32 = /128: no suffix
  ['192.0.2.2', '2001:db8:bbbb::b'],
  ['192.0.2.17', '2001:db8:cccc::1'], // 4 suffix bits = the last 4 bits
  ['192.0.2.31', '2001:db8:cccc::f'],
  // 6 suffix bits (130 - 128 = 000010) in bits 64-69: bit 68 set, byte 8 = 0x08.
  ['192.0.2.130', '2001:db8:dddd:0:800::'],
  ['192.0.2.191', '2001:db8:dddd:0:fc00::'], // 111111 -> byte 8 = 0xfc
  ['192.0.2.193', '64:ff9b::1'],
  ['192.0.2.192', '64:ff9b::'],
  ['192.0.2.100', '2001:db8:dddd:0:ffff::'], // /80 is longer than the /64 that also covers it
  // 5 suffix bits (77 - 64 = 01101) in bits 123-127 under a prefix ending in ...cd40.
  ['192.0.2.77', '2001:db8::ab:cd4d'],
  // 4 suffix bits (1001) in bits 100-103: byte 12 = 0x09.
  ['203.0.113.9', '2001:db8:eeee::900:0'],
  ['203.0.113.15', '2001:db8:eeee::f00:0'],
  // 8 suffix bits (5) in bits 72-79: byte 9 = 0x05 (RFC 7757 sec. 3.2, IPv6 suffix 56 bits long).
  ['198.51.100.5', '2001:db8:1c6:3364:5::'],
  ['198.51.100.255', '2001:db8:1c6:3364:ff::'],
];
const pairsB: [string, string][] = [
  ['192.0.2.17', '2001:db8:cccc::1'],
  ['203.0.113.200', '2001:db8:ffff::cb00:71c8'],
  ['198.51.100.1', '2001:db8:ffff::c633:6401'],
];
const pairsC: [string, string][] = [
  ['203.0.113.200', '2001:db8:ffff:0:cb00:71c8::'],
  ['0.0.0.1', '2001:db8:ffff::1:0:0'], // words 3-4 and 6-7 are zero: RFC 5952 shortens the first run,
];

function v4to6(table: EamTable, ipv4: string): string | null {
  // Written at offset 7 of a buffer full of 0xee: the bytes around the address must stay.
  const out = new Uint8Array(32).fill(0xee);
  if (!table.map4to6(parseIpv4Address(ipv4)! | 0, out, 7)) {
    expect(out.every((b) => b === 0xee)).toBe(true);
    return null;
  }
  expect(out[6], 'byte before the address').toBe(0xee);
  expect(out[23], 'byte after the address').toBe(0xee);
  return formatIpv6Address(out, 7);
}

function v6to4(table: EamTable, ipv6: string): string | null {
  // Read at offset 11 of a buffer full of other bytes, which must not leak into the result.
  const buf = new Uint8Array(40).fill(0xa5);
  buf.set(parseIpv6Address(ipv6)!, 11);
  return table.map6to4(buf, 11) ? formatIpv4Address(table.mapped >>> 0) : null;
}

describe('RFC 7757 EAM table', () => {
  for (const [name, entries, pairs] of [
    ['appendix A and extras', tableA, pairsA],
    ['a /0 entry', tableB, pairsB],
    ['a /0 entry with a longer IPv6 suffix', tableC, pairsC],
  ] as const) {
    // Both entry orders: the table sorts for the longest match itself (sec. 3.3).
    for (const order of ['as written', 'reversed']) {
      it(`${name}, ${order}: maps each IPv4 address to its IPv6 address and back`, () => {
        const table = new EamTable(order === 'reversed' ? entries().reverse() : entries());
        for (const [ipv4, ipv6] of pairs) {
          expect(v4to6(table, ipv4), ipv4).toBe(ipv6);
          expect(v6to4(table, ipv6), ipv6).toBe(ipv4);
        }
      });
    }
  }

  it('ignores the IPv6 bits after the IPv4 suffix on the way back (sec. 3.2)', () => {
    const table = new EamTable(tableA());
    expect(v6to4(table, '2001:db8:1c6:3364:5:ffff:ffff:ffff')).toBe('198.51.100.5');
    expect(v6to4(table, '2001:db8:dddd:0:83ff:ffff:ffff:ffff')).toBe('192.0.2.160'); // 100000 = 32
    expect(v6to4(table, '2001:db8:eeee::9ab:cdef')).toBe('203.0.113.9');
    expect(v6to4(new EamTable(tableC()), '2001:db8:ffff:0:cb00:71c8:ffff:ffff')).toBe('203.0.113.200');
  });

  it('matches nothing outside every prefix, including a prefix that ends inside a byte', () => {
    const table = new EamTable(tableA());
    for (const ipv4 of ['192.0.2.0', '192.0.2.3', '192.0.2.15', '192.0.2.32', '192.0.2.194', '203.0.113.16'])
      expect(v4to6(table, ipv4), ipv4).toBeNull();
    // 2001:db8:eeee::/100 needs bits 96-99 zero; ...::1900:0 sets bit 99.
    for (const ipv6 of [
      '2001:db8:eeee::1900:0',
      '2001:db8:eeef::900:0',
      '2001:db8:aaaa::1',
      '2001:db8:cccc::10',
      '2001:db8::ab:cd20',
      '64:ff9b::2',
      '2001:db8:1c6:3365::',
    ])
      expect(v6to4(table, ipv6), ipv6).toBeNull();
    expect(new EamTable([]).map4to6(0, new Uint8Array(16), 0)).toBe(false);
    expect(new EamTable([]).map6to4(new Uint8Array(16), 0)).toBe(false);
  });
});
