// Proves the address text helpers accept the RFC 4291 forms, print RFC 5952 canonical text and
// reject malformed input with null instead of throwing.
import { describe, expect, it } from 'vitest';
import {
  formatIpv6Address,
  parseIpv4Address,
  parseIpv4Prefix,
  parseIpv6Address,
  parseIpv6Prefix,
} from '../src/index.js';

describe('IPv6 text', () => {
  const canonical: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['2001:DB8::A', '2001:db8::a'],
  ];
  for (const [input, output] of canonical) {
    it(`${input} -> ${output}`, () => expect(formatIpv6Address(parseIpv6Address(input)!)).toBe(output));
  }
  it('rejects malformed addresses', () => {
    for (const bad of [
      '',
      ':',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '12345::',
      'g::',
      '1:2:3:4:5:6:7',
      '::1.2.3',
    ]) {
      expect(parseIpv6Address(bad), bad).toBeNull();
    }
  });
});

describe('IPv4 text and prefixes', () => {
  it('parses dotted quads strictly', () => {
    expect(parseIpv4Address('192.0.2.1')).toBe(0xc0000201);
    for (const bad of ['192.0.2', '192.0.2.256', '01.2.3.4', '1.2.3.4.5', 'a.b.c.d'])
      expect(parseIpv4Address(bad)).toBeNull();
  });
  it('parses prefixes and explains host bits', () => {
    expect(parseIpv4Prefix('192.0.2.0/24')).toEqual({ address: 0xc0000200, length: 24 });
    expect(parseIpv4Prefix('192.0.2.1/24')).toEqual({
      error: expect.stringContaining("write '192.0.2.0/24'"),
    });
    expect(parseIpv6Prefix('2001:db8::1/64')).toEqual({
      error: expect.stringContaining("write '2001:db8::/64'"),
    });
    expect(parseIpv6Prefix('2001:db8::/129')).toEqual({ error: expect.stringContaining('0 to 128') });
  });
});
