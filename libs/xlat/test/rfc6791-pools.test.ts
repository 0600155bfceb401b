// Proves the RFC 6791 pools pick a stable address per untranslatable source, from its 16 bytes only,
// only from their own prefixes, and spread different sources over the whole pool (IPv4 pool and the
// IPv6 one that EAM hairpinning uses), and that EamTable.has4 answers exactly for the addresses
// inside an entry.
import { describe, expect, it } from 'vitest';
import { EamTable, formatIpv6Address, Pool6791, parseIpv6Address, parseIpv6Prefix } from '../src/index.js';
import { Pool6791v6 } from '../src/rfc6791.js';

function source(i: number): Uint8Array {
  const a = parseIpv6Address('2001:db8:ffff::')!;
  a[14] = i >> 8;
  a[15] = i & 255;
  return a;
}

describe('RFC 6791 pools', () => {
  it('Pool6791v6 over two prefixes (/126 and /127): every pick lies in one of them, the same source always gets the same address, 600 sources use all 6 addresses', () => {
    const p1 = parseIpv6Prefix('2001:db8:6791::/126') as { address: Uint8Array; length: number };
    const p2 = parseIpv6Prefix('2001:db8:6792::10/127') as { address: Uint8Array; length: number };
    const pool = new Pool6791v6([p1, p2]);
    expect(pool.size).toBe(6);
    const allowed = new Set([
      '2001:db8:6791::',
      '2001:db8:6791::1',
      '2001:db8:6791::2',
      '2001:db8:6791::3',
      '2001:db8:6792::10',
      '2001:db8:6792::11',
    ]);
    const out = new Uint8Array(20);
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      out.fill(0xee);
      pool.pick(source(i), 0, out, 2);
      expect(out[0]).toBe(0xee);
      expect(out[18]).toBe(0xee);
      const picked = formatIpv6Address(out, 2);
      expect(allowed.has(picked), picked).toBe(true);
      const again = new Uint8Array(16);
      pool.pick(source(i), 0, again, 0);
      expect(formatIpv6Address(again)).toBe(picked);
      seen.add(picked);
    }
    expect(seen).toEqual(allowed);
  });

  it('Pool6791 (IPv4) picks stably inside its prefix and spreads over it', () => {
    const pool = new Pool6791([{ address: 0xcb007100, length: 29 }]);
    expect(pool.size).toBe(8);
    const seen = new Set<number>();
    for (let i = 0; i < 400; i++) {
      const a = pool.pick(source(i), 0) >>> 0;
      expect(a >>> 3).toBe(0xcb007100 >>> 3);
      expect(pool.pick(source(i), 0) >>> 0).toBe(a);
      seen.add(a);
    }
    expect(seen.size).toBe(8);
  });
});

describe('RFC 6791 pools: what decides a pick', () => {
  it('only the 16 bytes of the source decide the pick, not the bytes after them', () => {
    const pool4 = new Pool6791([{ address: 0xcb007100, length: 26 }]);
    const pool6 = new Pool6791v6([
      parseIpv6Prefix('2001:db8:6791::/112') as { address: Uint8Array; length: number },
    ]);
    const out = new Uint8Array(16);
    for (let i = 0; i < 32; i++) {
      const buf = new Uint8Array(20);
      buf.set(source(i), 1);
      const picks4 = new Set<number>();
      const picks6 = new Set<string>();
      for (let after = 0; after < 8; after++) {
        buf[17] = after * 31;
        picks4.add(pool4.pick(buf, 1));
        pool6.pick(buf, 1, out, 0);
        picks6.add(formatIpv6Address(out));
      }
      expect(picks4.size, `source ${i}`).toBe(1);
      expect(picks6.size, `source ${i}`).toBe(1);
    }
  });

  it('a /112 IPv6 pool uses both bytes of the host part', () => {
    const pool = new Pool6791v6([
      parseIpv6Prefix('2001:db8:6791::/112') as { address: Uint8Array; length: number },
    ]);
    expect(pool.size).toBe(65536);
    const out = new Uint8Array(18);
    const high = new Set<number>();
    for (let i = 0; i < 64; i++) {
      pool.pick(source(i), 0, out, 2);
      expect(formatIpv6Address(out, 2).startsWith('2001:db8:6791::')).toBe(true);
      high.add(out[16]);
    }
    // 64 hashes all below 256 out of 65536 would be a broken spread; most land in distinct /120s.
    expect(high.size).toBeGreaterThan(32);
  });

  it('the IPv4 pool holds at most maxAddresses addresses', () => {
    expect(new Pool6791([{ address: 0xc6336400, length: 24 }], 10).size).toBe(10);
    const two = new Pool6791([
      { address: 0xc6120000, length: 16 },
      { address: 0xc6130000, length: 16 },
    ]);
    expect(two.size).toBe(65536);
    // A one-address pool always answers that address.
    const one = new Pool6791([{ address: 0xcb007105, length: 32 }]);
    for (let i = 0; i < 4; i++) expect(one.pick(source(i), 0) >>> 0).toBe(0xcb007105);
  });
});

describe('EamTable.has4 (RFC 7757 sec. 4 hairpinning test)', () => {
  it("is true exactly inside an entry's IPv4 prefix", () => {
    const t = new EamTable([
      { ipv4: 0xc6336400, ipv4Length: 24, ipv6: parseIpv6Address('2001:db8:aaaa::')!, ipv6Length: 120 },
      { ipv4: 0xc0000201, ipv4Length: 32, ipv6: parseIpv6Address('2001:db8:bbbb::1')!, ipv6Length: 128 },
    ]);
    expect(t.has4(0xc6336400 | 0)).toBe(true);
    expect(t.has4(0xc63364ff | 0)).toBe(true);
    expect(t.has4(0xc6336500 | 0)).toBe(false);
    expect(t.has4(0xc63363ff | 0)).toBe(false);
    expect(t.has4(0xc0000201 | 0)).toBe(true);
    expect(t.has4(0xc0000202 | 0)).toBe(false);
    expect(new EamTable([]).has4(0)).toBe(false);
  });
});
