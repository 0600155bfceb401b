// Proves RFC 6052 embedding and extraction reproduce the sec. 2.4 example table for every prefix
// length, skip the u-octet, and that the sec. 3.1 non-global check covers the listed ranges.
import { describe, expect, it } from 'vitest';
import {
  embedIpv4,
  extractIpv4,
  formatIpv4Address,
  isGlobalIpv4,
  parseIpv4Address,
  parseRfc6052Prefix,
  XlatConfigError,
} from '../src/index.js';

describe('RFC 6052 sec. 2.4 examples (192.0.2.33)', () => {
  const table: [string, string][] = [
    ['2001:db8::/32', '2001:db8:c000:221::'],
    ['2001:db8:100::/40', '2001:db8:1c0:2:21::'],
    ['2001:db8:122::/48', '2001:db8:122:c000:2:2100::'],
    ['2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'],
    ['2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100:0'],
    ['2001:db8:122:344::/96', '2001:db8:122:344::c000:221'],
    ['64:ff9b::/96', '64:ff9b::c000:221'],
  ];
  for (const [prefix, expected] of table) {
    it(`${prefix} embeds to ${expected} and extracts back`, () => {
      expect(embedIpv4(prefix, '192.0.2.33')).toBe(expected);
      expect(extractIpv4(prefix, expected)).toBe('192.0.2.33');
    });
  }

  it('extracts nothing from an address outside the prefix', () => {
    expect(extractIpv4('2001:db8:122::/48', '2001:db8:123:c000:2:2100::')).toBeNull();
  });

  it('refuses prefix lengths RFC 6052 does not define, naming the field', () => {
    expect(() => parseRfc6052Prefix('64:ff9b::/95')).toThrow(XlatConfigError);
    expect(() => parseRfc6052Prefix('64:ff9b::/95')).toThrow(
      /length 95; RFC 6052 allows 32, 40, 48, 56, 64 or 96/,
    );
    expect(() => parseRfc6052Prefix('64:ff9b::1/96')).toThrow(/bits set after \/96/);
    expect(() => parseRfc6052Prefix('2001:db8:0:0:100::/96')).toThrow(/u" octet/);
  });
});

describe('RFC 6052 sec. 3.1 non-global IPv4', () => {
  const nonGlobal = [
    '0.1.2.3',
    '10.0.0.1',
    '100.64.0.1',
    '127.0.0.1',
    '169.254.1.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.1',
    '192.0.2.1',
    '192.88.99.1',
    '192.168.1.1',
    '198.18.0.1',
    '198.19.255.1',
    '198.51.100.1',
    '203.0.113.1',
    '224.0.0.1',
    '240.0.0.1',
    '255.255.255.255',
  ];
  const global = [
    '8.8.8.8',
    '100.128.0.1',
    '172.32.0.1',
    '192.0.0.9',
    '192.0.0.10',
    '198.20.0.1',
    '203.0.114.1',
  ];
  it('classifies the special-purpose ranges as non-global', () => {
    for (const a of nonGlobal) expect(isGlobalIpv4(parseIpv4Address(a)!), a).toBe(false);
  });
  it('classifies their neighbours as global', () => {
    for (const a of global) expect(isGlobalIpv4(parseIpv4Address(a)!), a).toBe(true);
  });
  it('formats addresses back', () => {
    expect(formatIpv4Address(parseIpv4Address('203.0.113.254')!)).toBe('203.0.113.254');
  });
});
