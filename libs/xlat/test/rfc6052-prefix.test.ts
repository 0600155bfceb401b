// Proves Rfc6052Prefix embeds and extracts at any offset exactly as the RFC 6052 sec. 2.4 table says
// (u-octet zero, no byte outside the 16 written), refuses lengths sec. 2.2 does not define, knows the
// Well-Known Prefix only as 64:ff9b::/96, and that the sec. 3.1 test draws each special-purpose
// range's border exactly: every address one step outside a range (in any one octet) is global.
import { describe, expect, it } from 'vitest';
import {
  embedIpv4,
  extractIpv4,
  formatIpv6Address,
  isGlobalIpv4,
  parseIpv4Address,
  parseIpv6Address,
  parseRfc6052Prefix,
  Rfc6052Prefix,
  XlatConfigError,
} from '../src/index.js';

// RFC 6052 sec. 2.4, 192.0.2.33 under each prefix length.
const table: [string, string][] = [
  ['2001:db8::/32', '2001:db8:c000:221::'],
  ['2001:db8:100::/40', '2001:db8:1c0:2:21::'],
  ['2001:db8:122::/48', '2001:db8:122:c000:2:2100::'],
  ['2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'],
  ['2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100:0'],
  ['2001:db8:122:344::/96', '2001:db8:122:344::c000:221'],
];
const A = 0xc0000221; // 192.0.2.33

describe('Rfc6052Prefix on bytes', () => {
  it('embeds at an offset, overwriting the u-octet and nothing around the 16 bytes', () => {
    for (const [prefix, expected] of table) {
      const p = parseRfc6052Prefix(prefix);
      const out = new Uint8Array(22).fill(0xee);
      p.embed(A | 0, out, 3);
      expect(formatIpv6Address(out, 3), prefix).toBe(expected);
      expect([out[2], out[19]], prefix).toEqual([0xee, 0xee]);
      // Unsigned input gives the same bytes.
      const again = new Uint8Array(16);
      p.embed(A, again, 0);
      expect(formatIpv6Address(again), prefix).toBe(expected);
    }
  });

  it('extracts at an offset as a signed 32-bit integer, ignoring the bytes around', () => {
    for (const [prefix, expected] of table) {
      const p = parseRfc6052Prefix(prefix);
      const buf = new Uint8Array(24).fill(0x5a);
      buf.set(parseIpv6Address(expected)!, 5);
      expect(p.matches(buf, 5), prefix).toBe(true);
      expect(p.extract(buf, 5), prefix).toBe(A | 0);
    }
  });

  it('matches only the prefix bytes: a difference inside the prefix fails, after it does not matter', () => {
    const p = parseRfc6052Prefix('2001:db8:100::/40');
    const a = parseIpv6Address('2001:db8:1c0:2:21::')!;
    const later = a.slice();
    later[15] = 0xff; // suffix bits (RFC 6052 sec. 2.2): not the prefix
    expect(p.matches(later, 0)).toBe(true);
    const inside = a.slice();
    inside[4] ^= 0x80; // bit 32, inside the /40
    expect(p.matches(inside, 0)).toBe(false);
    expect(extractIpv4(p, inside)).toBeNull();
  });

  it('refuses a length sec. 2.2 does not define, or an address that is not 16 bytes', () => {
    for (const length of [0, 33, 72, 128])
      expect(() => new Rfc6052Prefix(new Uint8Array(16), length)).toThrow(
        new RangeError(`RFC 6052 prefix length ${length} is not 32, 40, 48, 56, 64 or 96`),
      );
    expect(() => new Rfc6052Prefix(new Uint8Array(12), 96)).toThrow(RangeError);
  });

  it('is the Well-Known Prefix only for 64:ff9b::/96 (RFC 6052 sec. 2.1)', () => {
    expect(parseRfc6052Prefix('64:ff9b::/96').isWellKnown).toBe(true);
    expect(parseRfc6052Prefix('64:ff9b::/64').isWellKnown).toBe(false);
    expect(parseRfc6052Prefix('64:ff9b:1::/96').isWellKnown).toBe(false); // RFC 8215 local use
    expect(parseRfc6052Prefix('2001:db8::/96').isWellKnown).toBe(false);
  });

  it('text refusals name the field given, `prefix` by default', () => {
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as XlatConfigError;
      }
      throw new Error('accepted');
    };
    const e = refusal(() => parseRfc6052Prefix('64:ff9b::/95'));
    expect([e.field, e.code]).toEqual(['prefix', 'XLAT64_ERR_CONFIG']);
    expect(refusal(() => parseRfc6052Prefix('64:ff9b::/95', 'pref64')).message).toBe(
      "pref64: '64:ff9b::/95' has length 95; RFC 6052 allows 32, 40, 48, 56, 64 or 96 (e.g. '64:ff9b::/96')",
    );
    expect(refusal(() => parseRfc6052Prefix('64:ff9b::1/96', 'pref64')).message).toBe(
      "pref64: '64:ff9b::1/96' has bits set after /96; write '64:ff9b::/96'",
    );
    expect(refusal(() => parseRfc6052Prefix('2001:db8::ff00:0:0:0/96', 'pref64')).message).toBe(
      `pref64: '2001:db8::ff00:0:0:0/96' sets bits 64-71, the RFC 6052 "u" octet, which must be zero; clear them`,
    );
  });
});

describe('embedIpv4 / extractIpv4 argument forms', () => {
  it('take a parsed prefix or text, an IPv4 number or text, IPv6 bytes or text', () => {
    const p = parseRfc6052Prefix('2001:db8:100::/40');
    expect(embedIpv4(p, '192.0.2.33')).toBe('2001:db8:1c0:2:21::');
    expect(embedIpv4(p, A)).toBe('2001:db8:1c0:2:21::');
    expect(embedIpv4('2001:db8:100::/40', A | 0)).toBe('2001:db8:1c0:2:21::');
    expect(extractIpv4(p, '2001:db8:1c0:2:21::')).toBe('192.0.2.33');
    expect(extractIpv4(p, parseIpv6Address('2001:db8:1c0:2:21::')!)).toBe('192.0.2.33');
    expect(extractIpv4('2001:db8:100::/40', parseIpv6Address('2001:db8:1c0:2:21::')!)).toBe('192.0.2.33');
  });

  it('refuse an IPv4 text that is not an address, and find nothing in an IPv6 text that is not one', () => {
    expect(() => embedIpv4('64:ff9b::/96', '192.0.2')).toThrow(XlatConfigError);
    try {
      embedIpv4('64:ff9b::/96', '192.0.2');
    } catch (e) {
      expect((e as XlatConfigError).field).toBe('ipv4');
      expect((e as XlatConfigError).message).toBe(
        "ipv4: '192.0.2' is not an IPv4 address; write e.g. '192.0.2.1'",
      );
    }
    expect(extractIpv4('64:ff9b::/96', 'not an address')).toBeNull();
  });
});

describe('RFC 6052 sec. 3.1: the border of each non-global range', () => {
  // [inside, ...one octet outside]: RFC 5735 sec. 3 / RFC 6890 blocks and RFC 6598.
  const borders: [string, string[]][] = [
    ['100.64.0.0', ['100.63.255.255', '8.64.0.1', '101.64.0.1']],
    ['100.127.255.255', ['100.128.0.0']],
    ['169.254.0.1', ['169.253.0.1', '169.255.0.1', '8.254.0.1']],
    ['172.16.0.1', ['172.15.255.255', '8.16.0.1']],
    ['172.31.0.1', ['172.32.0.1']],
    ['192.168.0.1', ['192.167.0.1', '8.168.0.1']],
    ['192.0.0.1', ['192.0.1.0', '192.1.0.1', '8.0.0.1']],
    ['192.0.0.255', ['192.0.1.255']],
    ['192.0.2.1', ['192.0.3.1', '192.1.2.1', '192.0.1.1', '8.0.2.1']],
    ['192.88.99.1', ['192.88.98.1', '192.87.99.1', '8.88.99.1']],
    ['198.18.0.1', ['198.17.0.1', '198.20.0.1', '8.18.0.1', '8.19.0.1']],
    ['198.19.255.255', ['199.19.0.1']],
    ['198.51.100.1', ['198.51.101.1', '198.50.100.1', '8.51.100.1', '199.51.100.1']],
    ['203.0.113.1', ['203.0.112.1', '203.1.113.1', '8.0.113.1', '204.0.113.1']],
    ['224.0.0.0', ['223.255.255.255']],
  ];
  it('classifies each range as non-global and its neighbours as global', () => {
    const global = (a: string) => isGlobalIpv4(parseIpv4Address(a)!);
    for (const [inside, outside] of borders) {
      expect(global(inside), inside).toBe(false);
      for (const a of outside) expect(global(a), `${a} (next to ${inside})`).toBe(true);
    }
    // Signed 32-bit input (the packet path's form) is classified the same.
    expect(isGlobalIpv4(parseIpv4Address('224.0.0.1')! | 0)).toBe(false);
    expect(isGlobalIpv4(parseIpv4Address('203.0.113.1')! | 0)).toBe(false);
    expect(isGlobalIpv4(parseIpv4Address('192.0.0.9')! | 0)).toBe(true);
  });
});
