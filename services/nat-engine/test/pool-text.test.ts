// The one pool4 parser reads prefixes, ranges and single addresses into ranges, refuses malformed
// entries naming the entry, and covers a range with exactly the CIDR blocks the PLAT routes.
import { describe, expect, it } from 'vitest';
import { formatIpv4, NatConfigError, parsePool4, parsePool4Entry, pool4Cidrs } from '../src/index.js';

const text = (r: { first: number; last: number }) => `${formatIpv4(r.first)}-${formatIpv4(r.last)}`;

describe('pool4 text', () => {
  it('reads a prefix, a range and an address into inclusive ranges, in entry order', () => {
    const ranges = parsePool4(['203.0.113.0/24', '198.51.100.10 - 198.51.100.20', '192.0.2.7']);
    expect(ranges.map(text)).toEqual([
      '203.0.113.0-203.0.113.255',
      '198.51.100.10-198.51.100.20',
      '192.0.2.7-192.0.2.7',
    ]);
  });

  it('refuses a malformed entry naming its index, whatever its form', () => {
    for (const [entry, message] of [
      ['203.0.113.0/33', 'is not an IPv4 prefix'],
      ['203.0.113.1/24', 'has host bits set'],
      ['198.51.100.20-198.51.100.10', 'ends before it starts'],
      ['198.51.100.1-x', 'is not an IPv4 range'],
      ['203.0.113.01', 'is not an IPv4 address'],
    ]) {
      let error: unknown;
      try {
        parsePool4(['192.0.2.0/24', entry]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(NatConfigError);
      expect((error as NatConfigError).field).toBe('pool[1]');
      expect((error as Error).message).toContain(message);
    }
  });

  it('covers a range with the fewest aligned CIDR blocks, and a prefix or address with itself', () => {
    expect(pool4Cidrs(parsePool4Entry('p', '198.51.100.10-198.51.100.20'))).toEqual([
      '198.51.100.10/31',
      '198.51.100.12/30',
      '198.51.100.16/30',
      '198.51.100.20/32',
    ]);
    expect(pool4Cidrs(parsePool4Entry('p', '203.0.113.0/24'))).toEqual(['203.0.113.0/24']);
    expect(pool4Cidrs(parsePool4Entry('p', '192.0.2.7'))).toEqual(['192.0.2.7/32']);
    expect(pool4Cidrs(parsePool4Entry('p', '0.0.0.0/0'))).toEqual(['0.0.0.0/0']);
  });
});
