// The engine's number forms of addresses (address.ts): dotted-quad IPv4 to one uint32 and back, IPv6
// text to four big-endian uint32 words written at an offset (RFC 4291 sec. 2.2 text forms, parsed by the
// one parser in libs/xlat) and back in the uncompressed form, and IPv6 prefix masks of every length.
import { describe, expect, it } from 'vitest';
import { ipv6Mask } from '../src/address.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../src/index.js';

describe('IPv4 number form', () => {
  it('proves dotted quads read as one big-endian uint32 and malformed text as -1', () => {
    expect(parseIpv4('203.0.113.1')).toBe(0xcb007101);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('203.0.113')).toBe(-1);
    expect(parseIpv4('203.0.113.256')).toBe(-1);
    expect(parseIpv4('')).toBe(-1);
    expect(formatIpv4(0xc6336401)).toBe('198.51.100.1');
    expect(formatIpv4(0)).toBe('0.0.0.0');
  });
});

describe('IPv6 words', () => {
  it('proves text reads into four big-endian words at the offset, leaving the rest of the array alone', () => {
    const out = new Uint32Array(7).fill(7);
    expect(parseIpv6('2001:db8:aaaa:bbbb:cccc:dddd:eeee:ff01', out, 2)).toBe(true);
    expect(Array.from(out)).toEqual([7, 7, 0x20010db8, 0xaaaabbbb, 0xccccdddd, 0xeeeeff01, 7]);
    const zero = new Uint32Array(4).fill(1);
    expect(parseIpv6('::', zero)).toBe(true);
    expect(Array.from(zero)).toEqual([0, 0, 0, 0]);
    const high = new Uint32Array(4);
    expect(parseIpv6('ffff:ffff:8000::1', high)).toBe(true);
    expect(Array.from(high)).toEqual([0xffffffff, 0x80000000, 0, 1]);
  });

  it('proves malformed text is refused without writing', () => {
    const out = new Uint32Array(4).fill(9);
    for (const bad of ['2001:db8::g', '1:2:3:4:5:6:7:8:9', '', '203.0.113.1']) {
      expect(parseIpv6(bad, out)).toBe(false);
      expect(Array.from(out)).toEqual([9, 9, 9, 9]);
    }
  });

  it('proves words format as eight lower-case hex groups without zero compression, from the offset', () => {
    expect(formatIpv6([0x20010db8, 0, 0, 1])).toBe('2001:db8:0:0:0:0:0:1');
    expect(formatIpv6([9, 0xfe800000, 0x0000abcd, 0xffffffff, 0x00010002], 1)).toBe(
      'fe80:0:0:abcd:ffff:ffff:1:2',
    );
    // Words given as int32 (negative) format as their unsigned value.
    expect(formatIpv6([-1, 0, 0, 0])).toBe('ffff:ffff:0:0:0:0:0:0');
  });
});

describe('IPv6 masks', () => {
  it('proves a prefix length sets that many leading one bits over the four words', () => {
    const mask = (length: number) => {
      const out = new Uint32Array(4).fill(0x12345678);
      ipv6Mask(length, out);
      return Array.from(out);
    };
    expect(mask(0)).toEqual([0, 0, 0, 0]);
    expect(mask(1)).toEqual([0x80000000, 0, 0, 0]);
    expect(mask(31)).toEqual([0xfffffffe, 0, 0, 0]);
    expect(mask(32)).toEqual([0xffffffff, 0, 0, 0]);
    expect(mask(33)).toEqual([0xffffffff, 0x80000000, 0, 0]);
    expect(mask(56)).toEqual([0xffffffff, 0xffffff00, 0, 0]);
    expect(mask(64)).toEqual([0xffffffff, 0xffffffff, 0, 0]);
    expect(mask(96)).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0]);
    expect(mask(127)).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe]);
    expect(mask(128)).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  });
});
