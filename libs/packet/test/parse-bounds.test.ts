// Exact boundaries of the parsers and every field read at a non-zero offset, the places the mutation run
// (`npm run mutate`, libs/packet) found untested: one byte short of each header is Truncated and exactly
// enough is Ok; a length field one below its minimum is Malformed; each field comes from its own bytes
// when the packet sits inside a larger buffer (so `offset - n` instead of `offset + n` reads the wrong
// bytes); the view is reset between parses; the IPv4 option walk stops exactly at the header's end.
import { describe, expect, it } from 'vitest';
import {
  checksum,
  copyBytes,
  findUnexpiredSourceRoute,
  IcmpErrorBucket,
  Ipv4View,
  Ipv6View,
  L4View,
  ParseStatus,
  parseIpv4,
  parseIpv6,
  parseL4,
  writeIcmp4ErrorMessage,
  writeIcmp6ErrorMessage,
} from '../src/index.js';

/** `bytes` placed at `at` in a buffer with `after` spare bytes, the rest filled with 0xee. */
function placed(bytes: readonly number[], at: number, after = 0): Uint8Array {
  const buf = new Uint8Array(at + bytes.length + after).fill(0xee);
  buf.set(bytes, at);
  return buf;
}

const AT = 24;

describe('parseL4 bounds and offsets', () => {
  const view = new L4View();

  it('TCP: 19 bytes Truncated, 20 Ok; data offset 4 Malformed; a 24-byte header needs 24 bytes; every field from its bytes', () => {
    const tcp = [0x01, 0xbb, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 0xff, 0xff, 0xab, 0xcd, 0, 0];
    const buf = placed(tcp, AT, 8);
    expect(parseL4(buf, AT, 19, 6, view)).toBe(ParseStatus.Truncated);
    expect(parseL4(buf, AT, 20, 6, view)).toBe(ParseStatus.Ok);
    expect([
      view.srcPort,
      view.dstPort,
      view.checksum,
      view.tcpFlags,
      view.headerLength,
      view.offset,
    ]).toEqual([443, 40000, 0xabcd, 0x12, 20, AT]);
    buf[AT + 12] = 0x40;
    expect(parseL4(buf, AT, 20, 6, view)).toBe(ParseStatus.Malformed);
    buf[AT + 12] = 0x60;
    expect(parseL4(buf, AT, 23, 6, view)).toBe(ParseStatus.Truncated);
    expect(parseL4(buf, AT, 24, 6, view)).toBe(ParseStatus.Ok);
    expect(view.headerLength).toBe(24);
    // The buffer must hold offset + available.
    expect(parseL4(buf, AT, buf.length - AT + 1, 6, view)).toBe(ParseStatus.Truncated);
    expect(parseL4(buf, AT, buf.length - AT, 6, view)).toBe(ParseStatus.Ok);
  });

  it('UDP: 7 bytes Truncated, 8 Ok; length 7 Malformed, 8 Ok; ports and checksum from their bytes', () => {
    const buf = placed([0x00, 0x35, 0x14, 0xe9, 0x00, 0x08, 0x12, 0x34], AT, 4);
    expect(parseL4(buf, AT, 7, 17, view)).toBe(ParseStatus.Truncated);
    expect(parseL4(buf, AT, 8, 17, view)).toBe(ParseStatus.Ok);
    expect([view.srcPort, view.dstPort, view.checksum, view.headerLength]).toEqual([53, 5353, 0x1234, 8]);
    buf[AT + 5] = 7;
    expect(parseL4(buf, AT, 8, 17, view)).toBe(ParseStatus.Malformed);
    buf[AT + 4] = 1; // 263: the high byte counts
    expect(parseL4(buf, AT, 8, 17, view)).toBe(ParseStatus.Ok);
  });

  it('ICMP: 7 bytes Truncated, 8 Ok; the identifier only for queries (IPv4 0 and 8, IPv6 from 128 on)', () => {
    const cases: [number, number, boolean][] = [
      [1, 0, true],
      [1, 8, true],
      [1, 3, false],
      [1, 11, false],
      [58, 127, false],
      [58, 128, true],
      [58, 129, true],
      [58, 1, false],
    ];
    for (const [protocol, type, query] of cases) {
      const buf = placed([type, 4, 0x56, 0x78, 0xbe, 0xef, 0, 1], AT, 2);
      expect(parseL4(buf, AT, 7, protocol, view)).toBe(ParseStatus.Truncated);
      expect(parseL4(buf, AT, 8, protocol, view), `${protocol}/${type}`).toBe(ParseStatus.Ok);
      expect([view.icmpType, view.icmpCode, view.checksum, view.headerLength]).toEqual([type, 4, 0x5678, 8]);
      expect([view.srcPort, view.dstPort], `${protocol}/${type}`).toEqual(query ? [0xbeef, 0xbeef] : [0, 0]);
    }
  });

  it('resets every field between parses (a UDP parse after ICMP and TCP leaves no type, code or flags)', () => {
    const icmp = placed([8, 0, 0, 0, 1, 2, 0, 0], 0);
    expect(parseL4(icmp, 0, 8, 1, view)).toBe(ParseStatus.Ok);
    const tcp = placed([0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0, 0, 0, 0, 0, 0], 0);
    expect(parseL4(tcp, 0, 20, 6, view)).toBe(ParseStatus.Ok);
    const udp = placed([0, 3, 0, 4, 0, 8, 0, 0], 0);
    expect(parseL4(udp, 0, 8, 17, view)).toBe(ParseStatus.Ok);
    expect([view.icmpType, view.icmpCode, view.tcpFlags]).toEqual([-1, -1, 0]);
    // A protocol without ports: accepted with nothing read.
    expect(parseL4(udp, 0, 8, 47, view)).toBe(ParseStatus.Ok);
    expect([view.srcPort, view.dstPort, view.headerLength, view.protocol]).toEqual([0, 0, 0, 47]);
  });
});

/** An IPv6 header (payload length, next header) followed by `payload`. */
function ipv6(nextHeader: number, payload: readonly number[], payloadLength = payload.length): number[] {
  const header = new Array(40).fill(0);
  header[0] = 0x6a; // version 6, traffic class 0xa5
  header[1] = 0x5b; // flow label 0xb1234
  header[2] = 0x12;
  header[3] = 0x34;
  header[4] = payloadLength >> 8;
  header[5] = payloadLength & 0xff;
  header[6] = nextHeader;
  header[7] = 33;
  for (let i = 8; i < 40; i++) header[i] = i;
  return [...header, ...payload];
}

describe('parseIpv6 bounds and offsets', () => {
  const view = new Ipv6View();

  it('reads the fixed header at an offset and needs 40 bytes, and the buffer must hold them', () => {
    const bytes = ipv6(59, []);
    const buf = placed(bytes, AT);
    expect(parseIpv6(buf, AT, 39, view, false)).toBe(ParseStatus.Truncated);
    expect(parseIpv6(buf, AT, 40, view, true)).toBe(ParseStatus.Ok);
    expect([view.trafficClass, view.flowLabel, view.hopLimit, view.protocol, view.payloadOffset]).toEqual([
      0xa5,
      0xb1234,
      33,
      59,
      AT + 40,
    ]);
    expect(view.hasFragmentHeader).toBe(false);
    expect(view.isFragment).toBe(false);
    expect(parseIpv6(placed(bytes, AT).subarray(0, AT + 39), AT, 40, view, false)).toBe(
      ParseStatus.Truncated,
    );
  });

  it('an extension header one byte short of its 8 is Malformed against the payload length, Truncated against the bytes present', () => {
    const dest = [17, 0, 0, 0, 0, 0, 0, 0]; // destination options, 8 bytes, then UDP
    const udp = [0, 1, 0, 2, 0, 8, 0, 0];
    const whole = ipv6(60, [...dest, ...udp]);
    expect(parseIpv6(placed(whole, AT), AT, whole.length, view, true)).toBe(ParseStatus.Ok);
    expect([view.protocol, view.extensionLength, view.payloadOffset]).toEqual([17, 8, AT + 48]);
    // The payload length says 7: the header does not fit in the packet.
    const short = ipv6(60, dest.slice(0, 7), 7);
    expect(parseIpv6(placed(short, AT), AT, short.length, view, true)).toBe(ParseStatus.Malformed);
    // The payload length says 16 but only 7 bytes of it are here (inside an ICMPv6 error: not strict).
    const cut = ipv6(60, dest.slice(0, 7), 16);
    expect(parseIpv6(placed(cut, AT), AT, cut.length, view, false)).toBe(ParseStatus.Truncated);
    // A 16-byte header (length 1) whose second half is missing.
    const long = [17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(parseIpv6(placed(ipv6(60, long, 12), AT), AT, 52, view, true)).toBe(ParseStatus.Malformed);
    expect(parseIpv6(placed(ipv6(60, long, 24), AT), AT, 52, view, false)).toBe(ParseStatus.Truncated);
    // Exactly 16 bytes: Ok.
    const exact = ipv6(60, [...long, 0, 0, 0, 0]);
    expect(parseIpv6(placed(exact, AT), AT, exact.length, view, true)).toBe(ParseStatus.Ok);
    expect(view.extensionLength).toBe(16);
  });

  it('records the first routing header with segments left, at its own offset', () => {
    const routing0 = [59, 0, 0, 0, 0, 0, 0, 0]; // segments left 0
    const p = ipv6(43, routing0);
    expect(parseIpv6(placed(p, AT), AT, p.length, view, true)).toBe(ParseStatus.Ok);
    expect(view.segmentsLeftOffset).toBe(-1);
    // Two routing headers, both with segments left: the first one's field is recorded.
    const q = ipv6(43, [43, 0, 0, 2, 0, 0, 0, 0, 59, 0, 0, 1, 0, 0, 0, 0]);
    expect(parseIpv6(placed(q, AT), AT, q.length, view, true)).toBe(ParseStatus.Ok);
    expect(view.segmentsLeftOffset).toBe(AT + 40 + 3);
  });

  it('a fragment header needs its 8 bytes; offset, M flag and identification from its own bytes', () => {
    const frag = (offset8: number, more: boolean) => [
      17,
      0,
      (offset8 << 3) >> 8,
      ((offset8 << 3) & 0xff) | (more ? 1 : 0),
      0xde,
      0xad,
      0xbe,
      0xef,
    ];
    const first = ipv6(44, [...frag(0, true), 0, 1, 0, 2, 0, 8, 0, 0]);
    expect(parseIpv6(placed(first, AT), AT, first.length, view, true)).toBe(ParseStatus.Ok);
    expect([view.fragmentHeaderOffset, view.fragmentOffset, view.moreFragments, view.identification]).toEqual(
      [AT + 40, 0, true, 0xdeadbeef],
    );
    expect([view.hasFragmentHeader, view.isFragment, view.protocol]).toEqual([true, true, 17]);
    // An atomic fragment (offset 0, M clear): a fragment header, not a fragment.
    const atomic = ipv6(44, [...frag(0, false), 0, 1, 0, 2, 0, 8, 0, 0]);
    expect(parseIpv6(placed(atomic, AT), AT, atomic.length, view, true)).toBe(ParseStatus.Ok);
    expect([view.hasFragmentHeader, view.isFragment]).toEqual([true, false]);
    // A later fragment (offset 2, M clear) is a fragment; the chain stops there.
    const later = ipv6(44, [...frag(2, false), 1, 2, 3, 4]);
    expect(parseIpv6(placed(later, AT), AT, later.length, view, true)).toBe(ParseStatus.Ok);
    expect([view.isFragment, view.fragmentOffset, view.payloadOffset]).toEqual([true, 2, AT + 48]);
    // Seven bytes of fragment header.
    expect(parseIpv6(placed(ipv6(44, frag(0, true).slice(0, 7)), AT), AT, 47, view, true)).toBe(
      ParseStatus.Malformed,
    );
    expect(parseIpv6(placed(ipv6(44, frag(0, true).slice(0, 7), 16), AT), AT, 47, view, false)).toBe(
      ParseStatus.Truncated,
    );
  });
});

describe('IPv4 option walk', () => {
  const view = new Ipv4View();
  /** A 20-byte header plus options (header length from their size, checksum not checked: non-strict). */
  function withOptions(options: number[]): Uint8Array {
    const ihl = 5 + options.length / 4;
    const header = [
      0x40 | ihl,
      0,
      0,
      20 + options.length,
      0,
      0,
      0,
      0,
      64,
      17,
      0,
      0,
      192,
      0,
      2,
      1,
      198,
      51,
      100,
      2,
    ];
    const buf = placed([...header, ...options], AT, 8);
    expect(parseIpv4(buf, AT, header.length + options.length, view, false)).toBe(ParseStatus.Ok);
    return buf;
  }

  it('finds an unexpired source route after NOPs, at its offset; an expired one, a bad length or an End is no route', () => {
    expect(findUnexpiredSourceRoute(withOptions([1, 1, 1, 0x83, 3, 3, 0, 0]), view)).toBe(AT + 23);
    expect(findUnexpiredSourceRoute(withOptions([0x89, 7, 4, 1, 2, 3, 4, 0]), view)).toBe(AT + 20);
    // Pointer past the length: used up.
    expect(findUnexpiredSourceRoute(withOptions([0x83, 3, 4, 0]), view)).toBe(-1);
    // Length 1, or running past the header: the scan ends.
    expect(findUnexpiredSourceRoute(withOptions([0x83, 1, 4, 0]), view)).toBe(-1);
    expect(findUnexpiredSourceRoute(withOptions([1, 1, 0x83, 3]), view)).toBe(-1);
    expect(findUnexpiredSourceRoute(withOptions([1, 1, 1, 0x83]), view)).toBe(-1);
    // End of options before the route.
    expect(findUnexpiredSourceRoute(withOptions([0, 0x83, 3, 3]), view)).toBe(-1);
    // A route that ends exactly at the header's end is found.
    expect(findUnexpiredSourceRoute(withOptions([0x83, 4, 4, 0]), view)).toBe(AT + 20);
    // Another option (timestamp) is skipped by its length.
    expect(findUnexpiredSourceRoute(withOptions([0x44, 4, 5, 0, 0x83, 3, 3, 0]), view)).toBe(AT + 24);
  });

  it('a total length one below the header length is Malformed, equal is Ok', () => {
    const header = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2];
    expect(parseIpv4(placed(header, AT), AT, 20, view, false)).toBe(ParseStatus.Ok);
    header[3] = 19;
    expect(parseIpv4(placed(header, AT), AT, 20, view, false)).toBe(ParseStatus.Malformed);
  });
});

describe('copyBytes', () => {
  it('copies every length from 0 to 80 at odd offsets, and nothing outside the range', () => {
    for (let length = 0; length <= 80; length++) {
      const src = Uint8Array.from({ length: length + 10 }, (_, i) => (i * 7 + 1) & 0xff);
      const dst = new Uint8Array(length + 10).fill(0xaa);
      copyBytes(src, 3, dst, 5, length);
      expect(Array.from(dst.subarray(5, 5 + length)), `length ${length}`).toEqual(
        Array.from(src.subarray(3, 3 + length)),
      );
      expect(dst.subarray(0, 5).every((b) => b === 0xaa)).toBe(true);
      expect(dst.subarray(5 + length).every((b) => b === 0xaa)).toBe(true);
    }
  });
});

describe('IcmpErrorBucket construction and clock', () => {
  it('refuses a burst that is not a positive integer, and a clock that goes back mints nothing', () => {
    expect(() => new IcmpErrorBucket(10, 0, 0)).toThrow(/burst/);
    expect(() => new IcmpErrorBucket(10, 1.5, 0)).toThrow(/burst/);
    const limiter = new IcmpErrorBucket(1000, 1, 1000);
    expect(limiter.take(1000)).toBe(true);
    expect(limiter.take(999)).toBe(false); // back in time: no token
    expect(limiter.take(1000)).toBe(false); // same ms: none either
    expect(limiter.take(1001)).toBe(true); // 1 ms at 1000/s: one token
  });
});

describe('ICMP error messages written at an offset into a used buffer', () => {
  it('IPv4: every header byte written, nothing before the offset touched, both checksums verify', () => {
    const quoted = Uint8Array.from({ length: 28 }, (_, i) => i + 1);
    const out = new Uint8Array(AT + 28 + 28 + 4).fill(0xee);
    const n = writeIcmp4ErrorMessage(
      out,
      AT,
      0xc0000201,
      0xc6336402,
      0x1234,
      3,
      4,
      0x000005dc,
      quoted,
      0,
      28,
    );
    expect(n).toBe(56);
    expect(out.subarray(0, AT).every((b) => b === 0xee)).toBe(true);
    expect(out.subarray(AT + n).every((b) => b === 0xee)).toBe(true);
    const h = Array.from(out.subarray(AT, AT + 28));
    expect(h.slice(0, 10)).toEqual([0x45, 0, 0, 56, 0x12, 0x34, 0, 0, 64, 1]);
    expect(h.slice(12, 20)).toEqual([192, 0, 2, 1, 198, 51, 100, 2]);
    expect(h.slice(20, 22)).toEqual([3, 4]);
    expect(h.slice(24, 28)).toEqual([0, 0, 5, 0xdc]);
    expect(Array.from(out.subarray(AT + 28, AT + 56))).toEqual(Array.from(quoted));
    expect(checksum(out, AT, AT + 20)).toBe(0);
    expect(checksum(out, AT + 20, AT + 56)).toBe(0);
  });

  it('IPv6: every header byte written, nothing before the offset touched, the ICMPv6 checksum verifies', () => {
    const src = Uint8Array.from({ length: 20 }, (_, i) => 0x20 + i);
    const dst = Uint8Array.from({ length: 20 }, (_, i) => 0x40 + i);
    const quoted = Uint8Array.from({ length: 12 }, (_, i) => 0x90 + i);
    const out = new Uint8Array(AT + 48 + 12 + 4).fill(0xee);
    const n = writeIcmp6ErrorMessage(out, AT, src, 2, dst, 3, 1, 4, 0, quoted, 0, 12);
    expect(n).toBe(60);
    expect(out.subarray(0, AT).every((b) => b === 0xee)).toBe(true);
    expect(out.subarray(AT + n).every((b) => b === 0xee)).toBe(true);
    expect(Array.from(out.subarray(AT, AT + 8))).toEqual([0x60, 0, 0, 0, 0, 20, 58, 64]);
    expect(Array.from(out.subarray(AT + 8, AT + 24))).toEqual(Array.from(src.subarray(2, 18)));
    expect(Array.from(out.subarray(AT + 24, AT + 40))).toEqual(Array.from(dst.subarray(3, 19)));
    expect(Array.from(out.subarray(AT + 40, AT + 42))).toEqual([1, 4]);
    expect(Array.from(out.subarray(AT + 44, AT + 48))).toEqual([0, 0, 0, 0]);
    expect(Array.from(out.subarray(AT + 48, AT + 60))).toEqual(Array.from(quoted));
    // Pseudo-header (source, destination, length, next header) + message sums to 0xffff.
    let sum = 0;
    for (let i = AT + 8; i < AT + 60; i += 2) sum += (out[i] << 8) | out[i + 1];
    sum += 20 + 58;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff);
  });
});
