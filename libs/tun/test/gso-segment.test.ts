// Software GSO (gso-segment.ts) against the rules it implements, checked with an RFC 1071 checksum written
// here: TCP super-packets of either family become segments of gso_size payload with consecutive sequence
// numbers (across the 2^32 wrap), CWR only on the first and FIN/PSH only on the last, options kept, IP
// lengths, IPv4 ids and header checksums of their own, and L4 checksums a receiver verifies; UDP (USO)
// datagrams get their own length and checksum; types the fabric cannot carry are refused, not emitted.
import { describe, expect, it } from 'vitest';
import { GsoRefusal, GsoSegmenter } from '../src/index.js';

const VNET = 10;
const NEEDS_CSUM = 1;

/** RFC 1071: ones' complement sum of 16-bit words, folded. */
function onesSum(bytes: Uint8Array, from: number, to: number, sum = 0): number {
  for (let i = from; i < to; i += 2) sum += (bytes[i] << 8) | (i + 1 < to ? bytes[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** True when a receiver accepts the segment's L4 checksum (pseudo-header + L4 sums to 0xffff). */
function l4ChecksumVerifies(p: Uint8Array, l4: number, protocol: number): boolean {
  const v6 = p[0] >>> 4 === 6;
  const length = p.length - l4;
  const pseudo = v6 ? onesSum(p, 8, 40) : onesSum(p, 12, 20);
  return onesSum(p, l4, p.length, pseudo + protocol + length) === 0xffff;
}

function u16(p: Uint8Array, at: number) {
  return (p[at] << 8) | p[at + 1];
}
function u32(p: Uint8Array, at: number) {
  return ((p[at] << 24) | (p[at + 1] << 16) | (p[at + 2] << 8) | p[at + 3]) >>> 0;
}

function vnetHeader(
  gsoType: number,
  gsoSize: number,
  csumStart: number,
  csumOffset: number,
  flags = NEEDS_CSUM,
) {
  const h = new Uint8Array(VNET);
  h[0] = flags;
  h[1] = gsoType;
  h[4] = gsoSize & 0xff;
  h[5] = gsoSize >>> 8;
  h[6] = csumStart & 0xff;
  h[7] = csumStart >>> 8;
  h[8] = csumOffset;
  return h;
}

const payloadOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

function ipv6Tcp(payload: Uint8Array, seq: number, flags: number): Uint8Array {
  const tcpBytes = 32; // 20 + NOP NOP timestamp option (12)
  const p = new Uint8Array(40 + tcpBytes + payload.length);
  p[0] = 0x60;
  p[6] = 6;
  p[7] = 64;
  p.set([0x20, 0x01, 0x0d, 0xb8, 0, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 8);
  p.set([0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 2, 2], 24);
  const t = 40;
  p.set([0x9c, 0x40, 0x00, 0x50], t); // ports 40000 -> 80
  p.set([seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255], t + 4);
  p.set([0, 0, 0, 1], t + 8); // ack 1
  p[t + 12] = (tcpBytes / 4) << 4;
  p[t + 13] = flags;
  p.set([0xff, 0xff], t + 14);
  p.set([1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7], t + 20); // NOP NOP TS val 9 ecr 7
  p.set([0xab, 0xcd], t + 16); // a partial pseudo-header sum, as the kernel leaves it
  p.set(payload, 40 + tcpBytes);
  return p;
}

function collect(segmenter: GsoSegmenter, vnet: Uint8Array, ip: Uint8Array) {
  const packet = new Uint8Array(vnet.length + ip.length);
  packet.set(vnet, 0);
  packet.set(ip, vnet.length);
  const segments: Uint8Array[] = [];
  const count = segmenter.segment(packet, 0, packet.length, VNET, (b, o, n) =>
    segments.push(b.slice(o, o + n)),
  );
  return { count, segments };
}

describe('software GSO', () => {
  it('cuts an IPv6 TCP super-packet into gso_size segments: sequence numbers, flags, options, lengths, checksums', () => {
    const payload = payloadOf(2500);
    const seq = 0xfffffc00; // wraps within the second segment
    // CWR | ACK | PSH | FIN
    const ip = ipv6Tcp(payload, seq, 0x99);
    const { count, segments } = collect(new GsoSegmenter(), vnetHeader(4 | 0x80, 1000, 40, 16), ip);
    expect(count).toBe(3);
    expect(segments.map((s) => s.length - 72)).toEqual([1000, 1000, 500]);
    expect(segments.map((s) => u16(s, 4))).toEqual([1032, 1032, 532]); // IPv6 payload length
    expect(segments.map((s) => u32(s, 44))).toEqual([
      0xfffffc00,
      (0xfffffc00 + 1000) % 2 ** 32,
      1000 + 1000 - 1024,
    ]);
    expect(segments.map((s) => s[53])).toEqual([0x90, 0x10, 0x19]); // CWR|ACK, ACK, ACK|PSH|FIN
    const joined = new Uint8Array(2500);
    let at = 0;
    for (const s of segments) {
      expect(s.subarray(0, 44)).toEqual(ip.subarray(0, 44).map((b, i) => (i === 4 || i === 5 ? s[i] : b)));
      expect(s.subarray(48, 52)).toEqual(ip.subarray(48, 52)); // ack
      expect(s.subarray(60, 72)).toEqual(ip.subarray(60, 72)); // options
      expect(l4ChecksumVerifies(s, 40, 6), 'TCP checksum').toBe(true);
      joined.set(s.subarray(72), at);
      at += s.length - 72;
    }
    expect(joined).toEqual(payload);
  });

  it('cuts an IPv4 TCP super-packet: total length, consecutive ids, header checksum, DF kept', () => {
    const payload = payloadOf(3000);
    const p = new Uint8Array(40 + payload.length);
    p.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 203, 0, 113, 5, 192, 0, 2, 2]);
    p.set([0x13, 0x88, 0x00, 0x50, 0, 0, 0, 100, 0, 0, 0, 1, 0x50, 0x18, 0x20, 0], 20); // ACK|PSH
    p.set(payload, 40);
    const { count, segments } = collect(new GsoSegmenter(), vnetHeader(1, 1448, 20, 16), p);
    expect(count).toBe(3);
    expect(segments.map((s) => u16(s, 2))).toEqual([1488, 1488, 144]);
    expect(segments.map((s) => u16(s, 4))).toEqual([0x1234, 0x1235, 0x1236]);
    expect(segments.map((s) => u32(s, 24))).toEqual([100, 1548, 2996]);
    expect(segments.map((s) => s[33])).toEqual([0x10, 0x10, 0x18]);
    for (const s of segments) {
      expect(s[6] & 0x40, 'DF').toBe(0x40);
      expect(onesSum(s, 0, 20), 'IPv4 header checksum').toBe(0xffff);
      expect(l4ChecksumVerifies(s, 20, 6), 'TCP checksum').toBe(true);
    }
  });

  it('cuts an IPv6 UDP (USO) super-packet into datagrams with their own length and checksum', () => {
    const payload = payloadOf(2000);
    const p = new Uint8Array(48 + payload.length);
    p.set(ipv6Tcp(new Uint8Array(0), 0, 0).subarray(0, 40));
    p[6] = 17;
    p.set([0x9c, 0x40, 0x01, 0xbb], 40);
    p.set(payload, 48);
    const { count, segments } = collect(new GsoSegmenter(), vnetHeader(5, 800, 40, 6), p);
    expect(count).toBe(3);
    expect(segments.map((s) => u16(s, 44))).toEqual([808, 808, 408]); // UDP length
    expect(segments.map((s) => u16(s, 4))).toEqual([808, 808, 408]);
    for (const s of segments) {
      expect(u16(s, 46), 'UDP checksum present').not.toBe(0);
      expect(l4ChecksumVerifies(s, 40, 17)).toBe(true);
    }
  });

  it('refuses what it cannot segment and emits nothing: UFO, a TCP type of the other family, no NEEDS_CSUM, a header past the end', () => {
    const ip = ipv6Tcp(payloadOf(1500), 1, 0x10);
    const g = new GsoSegmenter();
    expect(collect(g, vnetHeader(3, 1000, 40, 6), ip)).toEqual({
      count: GsoRefusal.unsupported,
      segments: [],
    });
    expect(collect(g, vnetHeader(1, 1000, 40, 16), ip)).toEqual({
      count: GsoRefusal.unsupported,
      segments: [],
    });
    expect(collect(g, vnetHeader(4, 1000, 40, 16, 0), ip)).toEqual({
      count: GsoRefusal.malformed,
      segments: [],
    });
    expect(collect(g, vnetHeader(4, 1000, ip.length - 4, 16), ip)).toEqual({
      count: GsoRefusal.malformed,
      segments: [],
    });
  });
});
