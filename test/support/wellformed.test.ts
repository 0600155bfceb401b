// Proves the oracle's two halves agree and can fail: the checker accepts everything the builder
// makes, and reports each kind of corruption (lengths, IPv4 header checksum, TCP/UDP/ICMP checksums
// with their pseudo-headers, ICMP error inner headers, RFC 4884 lengths) by name.
import { describe, expect, it } from 'vitest';
import {
  embed6052,
  filler,
  fixIpv4Checksum,
  fragment4,
  fragment6,
  icmp,
  icmpEcho,
  icmpExtension,
  ipv4,
  ipv6,
  padTo,
  parseIpv6,
  raw,
  tcp,
  udp,
  withByte,
  withU16,
} from './build.js';
import { checkPacket } from './wellformed.js';

const S4 = '192.0.2.1';
const D4 = '198.51.100.2';
const S6 = '2001:db8:64::c000:201';
const D6 = '2001:db8:64::c633:6402';

function good(): Record<string, Buffer> {
  const inner4 = ipv4({ src: D4, dst: S4, ttl: 1, payload: udp({ payload: filler(20) }) });
  const inner6 = ipv6({ src: D6, dst: S6, hopLimit: 1, payload: udp({ payload: filler(20) }) });
  return {
    tcp4: ipv4({
      src: S4,
      dst: D4,
      payload: tcp({ payload: filler(33), options: Buffer.from([2, 4, 5, 0xb4]) }),
    }),
    udp4: ipv4({ src: S4, dst: D4, payload: udp({ payload: filler(11) }) }),
    udp4zero: ipv4({ src: S4, dst: D4, payload: udp({ payload: filler(11), checksum: 0 }) }),
    echo4: ipv4({ src: S4, dst: D4, payload: icmpEcho(8, 1, 2, filler(56)) }),
    opts4: ipv4({ src: S4, dst: D4, options: Buffer.from([7, 7, 4, 0, 0, 0, 0]), payload: udp({}) }),
    err4: ipv4({ src: S4, dst: D4, payload: icmp({ type: 11, code: 0, body: inner4 }) }),
    err4trunc: ipv4({ src: S4, dst: D4, payload: icmp({ type: 3, code: 3, body: inner4.subarray(0, 28) }) }),
    err4ext: ipv4({
      src: S4,
      dst: D4,
      payload: icmp({
        type: 3,
        code: 1,
        rest: 32 << 16,
        body: Buffer.concat([
          padTo(inner4, 128),
          icmpExtension([{ classNum: 1, cType: 1, payload: filler(4) }]),
        ]),
      }),
    }),
    tcp6: ipv6({ src: S6, dst: D6, payload: tcp({ payload: filler(33) }) }),
    udp6: ipv6({ src: S6, dst: D6, payload: udp({ payload: filler(11) }) }),
    echo6: ipv6({ src: S6, dst: D6, payload: icmpEcho(128, 1, 2, filler(56)) }),
    ext6: ipv6({
      src: S6,
      dst: D6,
      ext: [
        { type: 'hopByHop' },
        { type: 'routing', segmentsLeft: 0 },
        { type: 'destination', options: filler(9) },
      ],
      payload: udp({ payload: filler(5) }),
    }),
    err6: ipv6({ src: S6, dst: D6, payload: icmp({ type: 3, code: 0, body: inner6 }) }),
    err6ext: ipv6({
      src: S6,
      dst: D6,
      payload: icmp({
        type: 1,
        code: 4,
        rest: 16 << 24,
        body: Buffer.concat([
          padTo(inner6, 128),
          icmpExtension([{ classNum: 1, cType: 1, payload: filler(4) }]),
        ]),
      }),
    }),
    raw6: ipv6({ src: S6, dst: D6, payload: raw(33, filler(16)) }),
  };
}

describe('builder output is well-formed', () => {
  it('every kind of packet the builder makes passes the checker', () => {
    for (const [name, p] of Object.entries(good())) expect([name, checkPacket(p)]).toEqual([name, []]);
  });

  it('writes every IPv4 and IPv6 header field where RFC 791 and RFC 8200 put it (a regression: addresses once stayed zero)', () => {
    const p4 = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      tos: 0xb8,
      id: 0x1234,
      df: true,
      ttl: 7,
      payload: udp({}),
    });
    expect(p4.subarray(0, 20).toString('hex')).toBe(
      `45b8001c123440000711${p4.subarray(10, 12).toString('hex')}c0000201c6336402`,
    );
    const p6 = ipv6({
      src: '2001:db8::1',
      dst: '64:ff9b::192.0.2.1',
      trafficClass: 0xb8,
      flowLabel: 0x12345,
      hopLimit: 9,
      payload: udp({}),
    });
    expect(p6.subarray(0, 40).toString('hex')).toBe(
      '6b812345000811092001' + '0db8000000000000000000000001' + '0064ff9b0000000000000000c0000201',
    );
  });

  it('fragments of TCP and ICMP-free packets pass, their L4 checksum being skipped', () => {
    const whole4 = ipv4({ src: S4, dst: D4, id: 7, payload: udp({ payload: filler(100) }) });
    for (const f of fragment4(whole4, [48, 48])) expect(checkPacket(f)).toEqual([]);
    const whole6 = ipv6({ src: S6, dst: D6, payload: tcp({ payload: filler(100) }) });
    for (const f of fragment6(whole6, [64], 0x01020304)) expect(checkPacket(f)).toEqual([]);
  });

  it('fragmenting a whole IPv4 packet keeps the payload bytes and sets MF/offset', () => {
    const whole = ipv4({ src: S4, dst: D4, id: 7, payload: udp({ payload: filler(100) }) });
    const [a, b, c] = fragment4(whole, [48, 48]);
    expect(a.readUInt16BE(6)).toBe(0x2000);
    expect(b.readUInt16BE(6)).toBe(0x2000 | 6);
    expect(c.readUInt16BE(6)).toBe(12);
    expect(Buffer.concat([a.subarray(20), b.subarray(20), c.subarray(20)])).toEqual(whole.subarray(20));
  });

  it('RFC 6052 sec. 2.4 table: embedding 192.0.2.33 gives the RFC example addresses', () => {
    const table: [string, number, string][] = [
      ['2001:db8::', 32, '2001:db8:c000:221::'],
      ['2001:db8:100::', 40, '2001:db8:1c0:2:21::'],
      ['2001:db8:122::', 48, '2001:db8:122:c000:2:2100::'],
      ['2001:db8:122:300::', 56, '2001:db8:122:3c0:0:221::'],
      ['2001:db8:122:344::', 64, '2001:db8:122:344:c0:2:2100:0'],
      ['2001:db8:122:344::', 96, '2001:db8:122:344::192.0.2.33'],
    ];
    for (const [prefix, len, expected] of table) {
      expect(parseIpv6(embed6052(prefix, len, '192.0.2.33'))).toEqual(parseIpv6(expected));
    }
  });
});

describe('the checker catches each kind of corruption', () => {
  const g = good();
  const cases: [string, Buffer, RegExp][] = [
    ['IPv4 total length too long', withU16(g.udp4, 2, g.udp4.length + 1), /total length/],
    ['IPv4 total length too short', fixIpv4Checksum(withU16(g.udp4, 2, g.udp4.length - 1)), /total length/],
    ['IPv4 header checksum', withU16(g.udp4, 10, g.udp4.readUInt16BE(10) ^ 1), /header checksum/],
    ['IPv4 IHL below 5', fixIpv4Checksum(withByte(g.udp4, 0, 0x44)), /IHL/],
    ['IPv4 IHL past the end', withByte(Buffer.from(g.udp4.subarray(0, 20)), 0, 0x4f), /IHL/],
    ['IPv4 bad option length', fixIpv4Checksum(withByte(g.opts4, 21, 40)), /option/],
    ['IPv4 TTL 0', fixIpv4Checksum(withByte(g.udp4, 8, 0)), /TTL 0/],
    ['TCP checksum (IPv4)', withByte(g.tcp4, 40, g.tcp4[40] ^ 0x80), /TCP: checksum/],
    [
      'TCP checksum pseudo-header (IPv4 address changed)',
      fixIpv4Checksum(withByte(g.tcp4, 15, 9)),
      /TCP: checksum/,
    ],
    ['TCP data offset', withByte(g.tcp4, 32, 0x30), /data offset/],
    ['UDP checksum (IPv4)', withByte(g.udp4, 30, g.udp4[30] ^ 1), /UDP: checksum/],
    ['UDP length field', withU16(g.udp4zero, 24, 9), /UDP: length/],
    ['ICMPv4 checksum', withByte(g.echo4, 30, g.echo4[30] ^ 1), /ICMPv4: checksum/],
    ['ICMPv4 error inner version', fixIcmp4(withByte(g.err4, 28, 0x65)), /inner version/],
    ['ICMPv4 error inner header checksum', fixIcmp4(withByte(g.err4, 28 + 8, 9)), /inner header checksum/],
    [
      'ICMPv4 error inner too short',
      fixIcmp4(ipv4({ src: S4, dst: D4, payload: icmp({ type: 3, body: filler(12) }) })),
      /inner packet/,
    ],
    ['ICMPv4 RFC 4884 length past the end', fixIcmp4(withByte(g.err4ext, 25, 200)), /RFC 4884/],
    [
      'ICMPv4 RFC 4884 extension checksum',
      fixIcmp4(withByte(g.err4ext, 28 + 128 + 5, 0x55)),
      /extension checksum/,
    ],
    ['IPv6 payload length', withU16(g.udp6, 4, g.udp6.length), /payload length/],
    ['IPv6 version', withByte(g.udp6, 0, 0x70), /version/],
    ['IPv6 hop limit 0', withByte(g.udp6, 7, 0), /hop limit 0/],
    ['TCP checksum (IPv6)', withByte(g.tcp6, 70, g.tcp6[70] ^ 4), /TCP: checksum/],
    ['TCP checksum pseudo-header (IPv6 address changed)', withByte(g.tcp6, 9, 0x55), /TCP: checksum/],
    ['UDP checksum (IPv6)', withByte(g.udp6, 50, g.udp6[50] ^ 1), /UDP: checksum/],
    ['UDP zero checksum over IPv6', withU16(g.udp6, 46, 0), /zero checksum/],
    ['ICMPv6 checksum', withByte(g.echo6, 50, g.echo6[50] ^ 1), /ICMPv6: checksum/],
    ['ICMPv6 error inner version', fixIcmp6(withByte(g.err6, 48, 0x45)), /inner version/],
    ['ICMPv6 RFC 4884 length past the end', fixIcmp6(withByte(g.err6ext, 44, 100)), /RFC 4884/],
    ['IPv6 extension header runs past the end', withByte(g.ext6, 41, 30), /extension header|payload length/],
    ['IPv6 hop-by-hop not first', withByte(g.ext6, 40, 0), /hop-by-hop not first/],
    [
      'IPv6 next header 44 whose Fragment Header is cut short',
      withU16(withByte(g.raw6, 6, 44), 4, 4),
      /extension header 44/,
    ],
  ];
  for (const [name, packet, re] of cases) {
    it(`reports: ${name}`, () => {
      const problems = checkPacket(packet);
      expect(problems.join('; ')).toMatch(re);
    });
  }

  it('reports a buffer that is no IP packet at all', () => {
    expect(checkPacket(Buffer.from([0x50, 0, 0]))).toEqual(['version nibble 5 is neither 4 nor 6']);
    expect(checkPacket(Buffer.alloc(0))).toEqual(['empty packet']);
  });
});

/** Recomputes the ICMPv4 checksum of an IPv4 packet without options after an edit. */
function fixIcmp4(p: Buffer): Buffer {
  p.writeUInt16BE(0, 22);
  let s = 0;
  for (let i = 20; i + 1 < p.length; i += 2) s += p.readUInt16BE(i);
  if ((p.length - 20) % 2) s += p[p.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  p.writeUInt16BE(~s & 0xffff, 22);
  return p;
}

/** Recomputes the ICMPv6 checksum of an IPv6 packet without extension headers after an edit. */
function fixIcmp6(p: Buffer): Buffer {
  p.writeUInt16BE(0, 42);
  let s = p.length - 40 + 58;
  for (let i = 8; i < 40; i += 2) s += p.readUInt16BE(i);
  for (let i = 40; i + 1 < p.length; i += 2) s += p.readUInt16BE(i);
  if ((p.length - 40) % 2) s += p[p.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  p.writeUInt16BE(~s & 0xffff, 42);
  return p;
}
