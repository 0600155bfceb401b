// Proves the address text parsers follow RFC 791 / RFC 4291 sec. 2.2 at the edges: the largest
// octet and the longest text form are accepted, a dotted quad only as the low-order 32 bits, '::'
// only for at least one zero group, prefix lengths only as plain decimal in range, and that the
// masks and refusals for prefixes are exact. Expected bytes are worked out by hand.
import { describe, expect, it } from 'vitest';
import {
  formatIpv4Address,
  formatIpv6Address,
  ipv4Mask,
  maskIpv6,
  parseIpv4Address,
  parseIpv4Prefix,
  parseIpv6Address,
  parseIpv6Prefix,
} from '../src/index.js';

describe('IPv4 dotted quads (RFC 791)', () => {
  it('accepts 0 and 255 in every position', () => {
    expect(parseIpv4Address('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4Address('0.0.0.0')).toBe(0);
    expect(parseIpv4Address('255.0.255.0')).toBe(0xff00ff00);
    expect(formatIpv4Address(0xff00ff00)).toBe('255.0.255.0');
  });
});

describe('IPv6 text forms (RFC 4291 sec. 2.2)', () => {
  const accepted: [string, string][] = [
    // The longest legal text: 45 characters.
    ['ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'], // form 3 without '::'
    ['::1.2.3.4', '::102:304'],
    ['1::1.2.3.4', '1::102:304'],
    ['1:2:3:4:5:6::7', '1:2:3:4:5:6:0:7'], // '::' standing for exactly one zero group
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
  ];
  for (const [text, canonical] of accepted) {
    it(`accepts ${text}`, () => expect(formatIpv6Address(parseIpv6Address(text)!)).toBe(canonical));
  }

  it('refuses a dotted quad anywhere but the low-order 32 bits, and more than 8 groups', () => {
    for (const bad of [
      '1.2.3.4::', // the '::' after it would stand for zero groups below the dotted quad
      '1.2.3.4::1',
      '1:2:3:4:5:6:1.2.3.4::',
      '1:2:3:4:1.2.3.4:5:6',
      '1:2:3:4:5:6:7:1.2.3.4',
      '1:2:3:4:5:6:7::8', // 8 groups leave nothing for '::'
      '::1:2:3:4:5:6:7:8',
      'fe80::1%eth0', // zone identifiers are not addresses (RFC 4007 sec. 11)
      '0000:0000:0000:0000:0000:0000:255.255.255.255:0',
    ])
      expect(parseIpv6Address(bad), bad).toBeNull();
  });
});

describe('prefixes', () => {
  it('IPv4: the length is decimal 0 to 32, and /0 masks everything', () => {
    expect(parseIpv4Prefix('0.0.0.0/0')).toEqual({ address: 0, length: 0 });
    expect(parseIpv4Prefix('192.0.2.0/32')).toEqual({ address: 0xc0000200, length: 32 });
    expect(parseIpv4Prefix('192.0.2.7')).toEqual({ address: 0xc0000207, length: 32 });
    expect(parseIpv4Prefix('192.0.2.0/0')).toEqual({
      error: "'192.0.2.0/0' has bits set after /0; write '0.0.0.0/0'",
    });
    for (const length of ['33', '24x', 'x24', '008', ''])
      expect(parseIpv4Prefix(`192.0.2.0/${length}`)).toEqual({
        error: `'192.0.2.0/${length}' has prefix length '${length}'; an IPv4 prefix length is 0 to 32`,
      });
    expect(parseIpv4Prefix('192.0.2/24')).toEqual({
      error: "'192.0.2/24' is not an IPv4 address or prefix (write e.g. '192.0.2.0/24')",
    });
    expect([ipv4Mask(0), ipv4Mask(1), ipv4Mask(24), ipv4Mask(32)]).toEqual([
      0, 0x80000000, 0xffffff00, 0xffffffff,
    ]);
  });

  it('IPv6: the length is decimal 0 to 128', () => {
    expect(parseIpv6Prefix('::/0')).toEqual({ address: new Uint8Array(16), length: 0 });
    for (const length of ['129', '64x', 'x64', '0064'])
      expect(parseIpv6Prefix(`2001:db8::/${length}`)).toEqual({
        error: `'2001:db8::/${length}' has prefix length '${length}'; an IPv6 prefix length is 0 to 128`,
      });
    expect(parseIpv6Prefix('2001:db8::g/64')).toEqual({
      error: "'2001:db8::g/64' is not an IPv6 address or prefix (write e.g. '64:ff9b::/96')",
    });
    // /61 keeps 5 bits of byte 7: 0xff -> 0xf8.
    expect(parseIpv6Prefix('2001:db8:0:ff::/61')).toEqual({
      error: "'2001:db8:0:ff::/61' has bits set after /61; write '2001:db8:0:f8::/61'",
    });
  });

  it('maskIpv6 clears exactly the bits after the length', () => {
    const cases: [number, string][] = [
      [0, '::'],
      [7, 'fe00::'],
      [8, 'ff00::'],
      [61, 'ffff:ffff:ffff:fff8::'],
      [127, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe'],
      [128, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ];
    for (const [length, expected] of cases) {
      const a = new Uint8Array(16).fill(0xff);
      maskIpv6(a, length);
      expect(formatIpv6Address(a), `/${length}`).toBe(expected);
    }
  });
});
