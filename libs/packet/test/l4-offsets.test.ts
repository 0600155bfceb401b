// Proves the L4 view reads TCP, UDP and ICMP headers, reports truncation and bad lengths as
// statuses, and that every view parses a packet placed at an offset inside a larger buffer exactly
// as it parses the packet alone (CONVENTIONS.md 16: round-trips at an offset).
import { describe, expect, it } from 'vitest';
import { extensionHeader, icmp, ipv4, ipv6, tcp, udp } from '../../xlat/test/packets.js';
import { Ipv4View, Ipv6View, L4View, ParseStatus, parseIpv4, parseIpv6, parseL4 } from '../src/index.js';

describe('parseL4', () => {
  const view = new L4View();

  it('reads TCP ports, flags, checksum and data offset', () => {
    const t = tcp(443, 40000, 0x12, 10);
    t[12] = 0x60; // 24-byte header
    expect(parseL4(t, 0, t.length, 6, view)).toBe(ParseStatus.Ok);
    expect([view.srcPort, view.dstPort, view.tcpFlags, view.headerLength]).toEqual([443, 40000, 0x12, 24]);
    expect(parseL4(t, 0, 23, 6, view)).toBe(ParseStatus.Truncated);
    t[12] = 0x40;
    expect(parseL4(t, 0, t.length, 6, view)).toBe(ParseStatus.Malformed);
  });

  it('reads UDP and rejects a length below 8', () => {
    const u = udp(53, 5353, 4);
    expect(parseL4(u, 0, u.length, 17, view)).toBe(ParseStatus.Ok);
    expect([view.srcPort, view.dstPort, view.headerLength]).toEqual([53, 5353, 8]);
    u[5] = 7;
    expect(parseL4(u, 0, u.length, 17, view)).toBe(ParseStatus.Malformed);
    expect(parseL4(u, 0, 7, 17, view)).toBe(ParseStatus.Truncated);
  });

  it('reads ICMP type, code and the echo identifier of either family', () => {
    const e = icmp(8, 0, 0xbeef0001);
    expect(parseL4(e, 0, e.length, 1, view)).toBe(ParseStatus.Ok);
    expect([view.icmpType, view.icmpCode, view.srcPort, view.dstPort]).toEqual([8, 0, 0xbeef, 0xbeef]);
    const err = icmp(1, 4, 0);
    expect(parseL4(err, 0, err.length, 58, view)).toBe(ParseStatus.Ok);
    expect([view.icmpType, view.icmpCode, view.srcPort]).toEqual([1, 4, 0]);
    expect(parseL4(err, 0, 7, 58, view)).toBe(ParseStatus.Truncated);
  });
});

describe('views at an offset in a larger buffer', () => {
  function embed(packet: Uint8Array, at: number): Uint8Array {
    const big = new Uint8Array(at + packet.length + 37).fill(0xa5);
    big.set(packet, at);
    return big;
  }

  it('IPv4 parses identically at offset 0 and at offset 13', () => {
    const p = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(1, 2, 9),
      options: [1, 1, 1, 1],
    });
    const a = new Ipv4View();
    const b = new Ipv4View();
    expect(parseIpv4(p, 0, p.length, a, true)).toBe(ParseStatus.Ok);
    expect(parseIpv4(embed(p, 13), 13, p.length, b, true)).toBe(ParseStatus.Ok);
    expect({ ...b, start: 0, payloadOffset: b.payloadOffset - 13 }).toEqual({ ...a });
  });

  it('IPv6 with extension headers parses identically at offset 0 and at offset 29', () => {
    const p = ipv6({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      nextHeader: 0,
      extensions: extensionHeader(17, 1),
      payload: udp(1, 2, 9),
      protocol: 17,
    });
    const a = new Ipv6View();
    const b = new Ipv6View();
    expect(parseIpv6(p, 0, p.length, a, true)).toBe(ParseStatus.Ok);
    expect(parseIpv6(embed(p, 29), 29, p.length, b, true)).toBe(ParseStatus.Ok);
    expect({ ...b, start: 0, payloadOffset: b.payloadOffset - 29 }).toEqual({ ...a });
  });
});
