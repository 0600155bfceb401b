// Software GSO: what the kernel's segmentation (tcp_gso_segment, __udp_gso_segment) does to a super-packet
// read behind a virtio header, for a path that cannot carry it whole (the cluster fabric seals one packet
// per frame). TCP (IPv4 or IPv6) is cut into segments of gso_size payload bytes with their own sequence
// numbers, CWR on the first only and FIN/PSH on the last only (RFC 9293 sec. 3.1 flags; RFC 3168 sec. 6.1.2
// for CWR); UDP (USO) into datagrams with their own length. Each segment gets its IP length (and an IPv4 id
// one higher than the previous and a fresh header checksum) and a finished L4 checksum (RFC 1071 over the
// pseudo-header of RFC 9293 / RFC 8200 sec. 8.1). Segments are written one at a time into one scratch
// buffer and handed to the caller, which copies them before the next (two typed-array views per segment
// for the copies, nothing else).

import { VnetFlag, VnetGso } from './vnet.js';

/** Why a super-packet was not segmented (the caller counts and drops it). */
export const GsoRefusal = {
  /** Legacy UFO, an unknown GSO type, or a TCP type that does not match the IP version. */
  unsupported: -1,
  /** No NEEDS_CSUM (the L4 header's place is then unknown), or headers that do not fit the packet. */
  malformed: -2,
} as const;

/** Receives each segment: a whole IP packet at packet[offset .. offset + length), valid until the next call. */
export type SegmentSink = (packet: Uint8Array, offset: number, length: number) => void;

/** Largest IP packet a segment can be (an IP packet's own limit). */
const SEGMENT_BYTES_MAX = 65_535;

export class GsoSegmenter {
  private readonly out = new Uint8Array(SEGMENT_BYTES_MAX);

  /**
   * Cuts the super-packet at buffer[start .. start + length) — a virtio header of `vnetBytes` first — into
   * segments for `sink`. Returns how many segments were emitted, or a GsoRefusal (nothing emitted).
   */
  segment(buffer: Uint8Array, start: number, length: number, vnetBytes: number, sink: SegmentSink): number {
    const gsoRaw = buffer[start + 1];
    const gsoType = gsoRaw & ~VnetGso.ecn;
    const gsoSize = buffer[start + 4] | (buffer[start + 5] << 8);
    const csumStart = buffer[start + 6] | (buffer[start + 7] << 8);
    const ip = start + vnetBytes;
    const ipLength = length - vnetBytes;
    if (ipLength < 20) return GsoRefusal.malformed;
    const version = buffer[ip] >>> 4;
    const tcp = gsoType === VnetGso.tcpv4 || gsoType === VnetGso.tcpv6;
    if (tcp && (gsoType === VnetGso.tcpv4 ? 4 : 6) !== version) return GsoRefusal.unsupported;
    if (!tcp && gsoType !== VnetGso.udpL4) return GsoRefusal.unsupported;
    if ((buffer[start] & VnetFlag.needsCsum) === 0 || gsoSize === 0) return GsoRefusal.malformed;
    const l4 = csumStart; // from the IP header's first byte
    const minL3 = version === 4 ? 20 : 40;
    if (l4 < minL3 || l4 + 8 > ipLength) return GsoRefusal.malformed;
    const l4HeaderBytes = tcp ? (buffer[ip + l4 + 12] >>> 4) * 4 : 8;
    const headerBytes = l4 + l4HeaderBytes;
    if ((tcp && l4HeaderBytes < 20) || headerBytes > ipLength) return GsoRefusal.malformed;
    const payloadBytes = ipLength - headerBytes;
    if (payloadBytes === 0 || headerBytes + Math.min(gsoSize, payloadBytes) > SEGMENT_BYTES_MAX)
      return GsoRefusal.malformed;
    const out = this.out;
    const ipId = version === 4 ? (buffer[ip + 4] << 8) | buffer[ip + 5] : 0;
    const seq = tcp
      ? ((buffer[ip + l4 + 4] << 24) |
          (buffer[ip + l4 + 5] << 16) |
          (buffer[ip + l4 + 6] << 8) |
          buffer[ip + l4 + 7]) >>>
        0
      : 0;
    const flags = tcp ? buffer[ip + l4 + 13] : 0;
    let count = 0;
    for (let at = 0; at < payloadBytes; at += gsoSize) {
      const bytes = Math.min(gsoSize, payloadBytes - at);
      const last = at + gsoSize >= payloadBytes;
      out.set(buffer.subarray(ip, ip + headerBytes), 0);
      out.set(buffer.subarray(ip + headerBytes + at, ip + headerBytes + at + bytes), headerBytes);
      const total = headerBytes + bytes;
      if (version === 4) {
        out[2] = total >>> 8;
        out[3] = total & 0xff;
        const id = (ipId + count) & 0xffff;
        out[4] = id >>> 8;
        out[5] = id & 0xff;
        writeIpv4HeaderChecksum(out, (out[0] & 0x0f) * 4);
      } else {
        out[4] = (total - 40) >>> 8;
        out[5] = (total - 40) & 0xff;
      }
      if (tcp) {
        const s = (seq + at) >>> 0;
        out[l4 + 4] = s >>> 24;
        out[l4 + 5] = (s >>> 16) & 0xff;
        out[l4 + 6] = (s >>> 8) & 0xff;
        out[l4 + 7] = s & 0xff;
        // CWR (0x80) on the first segment only; FIN (0x01) and PSH (0x08) on the last only.
        let f = flags;
        if (count > 0) f &= ~0x80;
        if (!last) f &= ~0x09;
        out[l4 + 13] = f;
      } else {
        out[l4 + 4] = (total - l4) >>> 8;
        out[l4 + 5] = (total - l4) & 0xff;
      }
      writeL4Checksum(out, version, l4, total, tcp ? 6 : 17, tcp ? 16 : 6);
      sink(out, 0, total);
      count++;
    }
    return count;
  }
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function sumRange(b: Uint8Array, from: number, to: number, sum: number): number {
  let i = from;
  for (; i + 1 < to; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < to) sum += b[i] << 8;
  return fold(sum);
}

function writeIpv4HeaderChecksum(packet: Uint8Array, headerBytes: number): void {
  packet[10] = 0;
  packet[11] = 0;
  const check = ~sumRange(packet, 0, headerBytes, 0) & 0xffff;
  packet[10] = check >>> 8;
  packet[11] = check & 0xff;
}

/** The L4 checksum over the pseudo-header (addresses, protocol, L4 length) and the L4 header and data. */
function writeL4Checksum(
  packet: Uint8Array,
  version: number,
  l4: number,
  total: number,
  protocol: number,
  fieldOffset: number,
): void {
  packet[l4 + fieldOffset] = 0;
  packet[l4 + fieldOffset + 1] = 0;
  const l4Length = total - l4;
  let sum = protocol + l4Length;
  sum = version === 4 ? sumRange(packet, 12, 20, sum) : sumRange(packet, 8, 40, sum);
  sum = sumRange(packet, l4, total, sum);
  let check = ~sum & 0xffff;
  if (check === 0 && protocol === 17) check = 0xffff; // RFC 768: a computed 0 is sent as all ones
  packet[l4 + fieldOffset] = check >>> 8;
  packet[l4 + fieldOffset + 1] = check & 0xff;
}
