// Proves the IPv4 and IPv6 views parse valid headers field by field and turn every truncation or
// inconsistency into a ParseStatus without reading past the bytes they were given.
import { describe, expect, it } from 'vitest';
import { extensionHeader, fragmentHeader, ipv4, ipv6, udp } from '../../xlat/test/packets.js';
import {
  findUnexpiredSourceRoute,
  Ipv4View,
  Ipv6View,
  ParseStatus,
  parseIpv4,
  parseIpv6,
} from '../src/index.js';

describe('parseIpv4', () => {
  const view = new Ipv4View();

  it('reads every field of a fragment with options', () => {
    const p = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(1, 2, 16),
      ttl: 9,
      tos: 0xb8,
      id: 0xbeef,
      mf: true,
      fragmentOffset: 3,
      options: [1, 1, 1, 0],
    });
    expect(parseIpv4(p, 0, p.length, view, true)).toBe(ParseStatus.Ok);
    expect(view.headerLength).toBe(24);
    expect(view.totalLength).toBe(p.length);
    expect(view.ttl).toBe(9);
    expect(view.tos).toBe(0xb8);
    expect(view.identification).toBe(0xbeef);
    expect(view.moreFragments).toBe(true);
    expect(view.fragmentOffset).toBe(3);
    expect(view.isFragment).toBe(true);
    // Addresses are signed 32-bit so V8 keeps them as small integers.
    expect(view.src >>> 0).toBe(0xc0000201);
    expect(view.dst >>> 0).toBe(0xc6336402);
    expect(view.src).toBe(0xc0000201 | 0);
    expect(view.payloadOffset).toBe(24);
  });

  it('classifies broken headers', () => {
    const good = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: 17, payload: udp(1, 2) });
    expect(parseIpv4(good, 0, 19, view, true)).toBe(ParseStatus.Truncated);
    expect(parseIpv4(good, 0, good.length - 1, view, true)).toBe(ParseStatus.Truncated);
    const badVersion = good.slice();
    badVersion[0] = 0x65;
    expect(parseIpv4(badVersion, 0, good.length, view, true)).toBe(ParseStatus.Malformed);
    const badIhl = good.slice();
    badIhl[0] = 0x44;
    expect(parseIpv4(badIhl, 0, good.length, view, true)).toBe(ParseStatus.Malformed);
    const longIhl = good.slice(0, 24);
    longIhl[0] = 0x4f;
    expect(parseIpv4(longIhl, 0, 24, view, true)).toBe(ParseStatus.Truncated);
    const shortTotal = good.slice();
    shortTotal[3] = 10;
    expect(parseIpv4(shortTotal, 0, good.length, view, true)).toBe(ParseStatus.Malformed);
    const badSum = good.slice();
    badSum[8] ^= 1;
    expect(parseIpv4(badSum, 0, good.length, view, true)).toBe(ParseStatus.BadChecksum);
    // A quoted packet may be cut short and keeps its claimed length.
    expect(parseIpv4(good, 0, 24, view, false)).toBe(ParseStatus.Ok);
    expect(view.available).toBe(24);
    expect(view.totalLength).toBe(good.length);
  });

  it('never reads past the stated buffer even when the length field lies', () => {
    const p = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: 17, payload: udp(1, 2) });
    expect(parseIpv4(p, 4, p.length, view, true)).toBe(ParseStatus.Truncated);
  });

  it('finds an unexpired source route but not an expired one', () => {
    // LSRR, length 7, pointer 4 (one address left to visit).
    const route = [131, 7, 4, 192, 0, 2, 9, 0];
    const p = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: 17, payload: udp(1, 2), options: route });
    parseIpv4(p, 0, p.length, view, true);
    expect(findUnexpiredSourceRoute(p, view)).toBe(20);
    const expired = ipv4({
      src: '192.0.2.1',
      dst: '192.0.2.2',
      protocol: 17,
      payload: udp(1, 2),
      options: [1, 137, 7, 8, 192, 0, 2, 9],
    });
    parseIpv4(expired, 0, expired.length, view, true);
    expect(findUnexpiredSourceRoute(expired, view)).toBe(-1);
    const garbage = ipv4({
      src: '192.0.2.1',
      dst: '192.0.2.2',
      protocol: 17,
      payload: udp(1, 2),
      options: [7, 40, 0, 0],
    });
    parseIpv4(garbage, 0, garbage.length, view, true);
    expect(findUnexpiredSourceRoute(garbage, view)).toBe(-1);
  });
});

describe('parseIpv6', () => {
  const view = new Ipv6View();

  it('walks hop-by-hop, destination options, routing and fragment headers', () => {
    const ext = new Uint8Array([
      ...extensionHeader(60),
      ...extensionHeader(43),
      ...extensionHeader(43, 0, (b) => {
        b[0] = 44;
        b[1] = 0;
        b[2] = 0;
        b[3] = 2; // segments left
      }),
      ...fragmentHeader(17, 0, true, 0xdeadbeef),
    ]);
    const p = ipv6({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      nextHeader: 0,
      extensions: ext,
      protocol: 17,
      payload: udp(5, 6, 24),
      trafficClass: 0xa5,
      hopLimit: 7,
    });
    expect(parseIpv6(p, 0, p.length, view, true)).toBe(ParseStatus.Ok);
    expect(view.protocol).toBe(17);
    expect(view.payloadOffset).toBe(40 + 32);
    expect(view.extensionLength).toBe(32);
    expect(view.trafficClass).toBe(0xa5);
    expect(view.hopLimit).toBe(7);
    expect(view.segmentsLeftOffset).toBe(40 + 16 + 3);
    expect(view.fragmentHeaderOffset).toBe(64);
    expect(view.identification).toBe(0xdeadbeef);
    expect(view.moreFragments).toBe(true);
    expect(view.isFragment).toBe(true);
  });

  it('stops at a non-first fragment and rejects bad chains', () => {
    const later = ipv6({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      nextHeader: 44,
      extensions: fragmentHeader(6, 100, false, 1),
      payload: new Uint8Array(16),
      rawL4: true,
    });
    expect(parseIpv6(later, 0, later.length, view, true)).toBe(ParseStatus.Ok);
    expect(view.protocol).toBe(6);
    expect(view.fragmentOffset).toBe(100);

    const hopLater = ipv6({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      nextHeader: 60,
      extensions: new Uint8Array([...extensionHeader(0), ...extensionHeader(17)]),
      payload: udp(1, 2),
      protocol: 17,
    });
    expect(parseIpv6(hopLater, 0, hopLater.length, view, true)).toBe(ParseStatus.Malformed);

    const overrun = ipv6({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      nextHeader: 60,
      extensions: extensionHeader(17, 4),
      payload: new Uint8Array(0),
      rawL4: true,
      payloadLength: 16,
    }).slice(0, 56);
    expect(parseIpv6(overrun, 0, overrun.length, view, true)).toBe(ParseStatus.Malformed);

    const jumbo = ipv6({
      src: '::1',
      dst: '::2',
      nextHeader: 0,
      extensions: extensionHeader(17),
      payload: udp(1, 2),
      protocol: 17,
      payloadLength: 0,
    });
    expect(parseIpv6(jumbo, 0, jumbo.length, view, true)).toBe(ParseStatus.Malformed);
    const empty = ipv6({ src: '::1', dst: '::2', nextHeader: 59, payload: new Uint8Array(0) });
    expect(parseIpv6(empty, 0, empty.length, view, true)).toBe(ParseStatus.Ok);
    expect([view.protocol, view.payloadOffset]).toEqual([59, 40]);
    const short = ipv6({ src: '::1', dst: '::2', nextHeader: 17, payload: udp(1, 2) });
    expect(parseIpv6(short, 0, short.length - 1, view, true)).toBe(ParseStatus.Truncated);
    expect(parseIpv6(short, 0, 39, view, false)).toBe(ParseStatus.Truncated);
  });
});
