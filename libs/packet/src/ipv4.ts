// IPv4 header view (RFC 791) with options (RFC 791 sec. 3.1): a bounds-checked parse that fills a
// preallocated object. A truncated or inconsistent header is a ParseStatus, never an exception and
// never a read past the bytes the caller said are available.
import { read16 } from './bytes.js';
import { checksum } from './checksum.js';

export const IPV4_HEADER_MIN = 20;
export const IPV4_OFFSET_TOS = 1;
export const IPV4_OFFSET_TOTAL_LENGTH = 2;
export const IPV4_OFFSET_ID = 4;
export const IPV4_OFFSET_FLAGS = 6;
export const IPV4_OFFSET_TTL = 8;
export const IPV4_OFFSET_PROTOCOL = 9;
export const IPV4_OFFSET_CHECKSUM = 10;
export const IPV4_OFFSET_SRC = 12;
export const IPV4_OFFSET_DST = 16;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_OFFSET_MASK = 0x1fff;

/** IPv4 option types (RFC 791 sec. 3.1). */
export const Ipv4Option = { End: 0, Nop: 1, Lsrr: 131, Ssrr: 137 } as const;

/** Outcome of a header parse. */
export const ParseStatus = {
  Ok: 0,
  /** Fewer bytes than the header (or the length it claims) needs. */
  Truncated: 1,
  /** Version, header length, length fields or the extension chain are inconsistent. */
  Malformed: 2,
  /** The IPv4 header checksum is wrong. */
  BadChecksum: 3,
} as const;
export type ParseStatus = (typeof ParseStatus)[keyof typeof ParseStatus];

/** A parsed IPv4 header. Offsets are absolute positions in the parsed buffer. */
export class Ipv4View {
  /** Offset of the header in the buffer. */
  start = 0;
  headerLength = 0;
  /** Total Length field. */
  totalLength = 0;
  /** Bytes of the packet actually present from `start` (≤ totalLength for a truncated inner packet). */
  available = 0;
  tos = 0;
  identification = 0;
  dontFragment = false;
  moreFragments = false;
  /** Fragment offset in 8-byte units. */
  fragmentOffset = 0;
  ttl = 0;
  protocol = 0;
  /**
   * Source and destination as signed 32-bit integers (`| 0`): V8 keeps them as small integers, so
   * they never allocate on the packet path. `>>> 0` gives the unsigned value.
   */
  src = 0;
  dst = 0;
  /** Offset of the first byte after the header (the L4 header of a first fragment). */
  payloadOffset = 0;

  /** True when the packet is a fragment (MF set or a non-zero offset). */
  get isFragment(): boolean {
    return this.moreFragments || this.fragmentOffset !== 0;
  }
}

/**
 * Parses the IPv4 header at `buf[start]`, where `available` bytes belong to the packet.
 * `strict` (an outer packet) requires the whole Total Length to be present and a good checksum;
 * a non-strict parse (the packet quoted in an ICMP error) accepts a truncated payload.
 */
export function parseIpv4(
  buf: Uint8Array,
  start: number,
  available: number,
  view: Ipv4View,
  strict: boolean,
): ParseStatus {
  if (available < IPV4_HEADER_MIN || start + available > buf.length) return ParseStatus.Truncated;
  const first = buf[start];
  if (first >> 4 !== 4) return ParseStatus.Malformed;
  const headerLength = (first & 0x0f) << 2;
  if (headerLength < IPV4_HEADER_MIN) return ParseStatus.Malformed;
  if (headerLength > available) return ParseStatus.Truncated;
  const totalLength = read16(buf, start + IPV4_OFFSET_TOTAL_LENGTH);
  if (totalLength < headerLength) return ParseStatus.Malformed;
  if (strict) {
    if (totalLength > available) return ParseStatus.Truncated;
    if (ipv4HeaderChecksum(buf, start, headerLength) !== 0) return ParseStatus.BadChecksum;
  }
  const flags = read16(buf, start + IPV4_OFFSET_FLAGS);
  view.start = start;
  view.headerLength = headerLength;
  view.totalLength = totalLength;
  view.available = Math.min(available, totalLength);
  view.tos = buf[start + IPV4_OFFSET_TOS];
  view.identification = read16(buf, start + IPV4_OFFSET_ID);
  view.dontFragment = (flags & IPV4_FLAG_DF) !== 0;
  view.moreFragments = (flags & IPV4_FLAG_MF) !== 0;
  view.fragmentOffset = flags & IPV4_OFFSET_MASK;
  view.ttl = buf[start + IPV4_OFFSET_TTL];
  view.protocol = buf[start + IPV4_OFFSET_PROTOCOL];
  view.src = readAddress4(buf, start + IPV4_OFFSET_SRC);
  view.dst = readAddress4(buf, start + IPV4_OFFSET_DST);
  view.payloadOffset = start + headerLength;
  return ParseStatus.Ok;
}

/** Checksum over an IPv4 header; the common 20-byte header is summed without a loop. */
export function ipv4HeaderChecksum(buf: Uint8Array, start: number, headerLength: number): number {
  if (headerLength !== 20) return checksum(buf, start, start + headerLength);
  let sum =
    ((buf[start] << 8) | buf[start + 1]) +
    ((buf[start + 2] << 8) | buf[start + 3]) +
    ((buf[start + 4] << 8) | buf[start + 5]) +
    ((buf[start + 6] << 8) | buf[start + 7]) +
    ((buf[start + 8] << 8) | buf[start + 9]) +
    ((buf[start + 10] << 8) | buf[start + 11]) +
    ((buf[start + 12] << 8) | buf[start + 13]) +
    ((buf[start + 14] << 8) | buf[start + 15]) +
    ((buf[start + 16] << 8) | buf[start + 17]) +
    ((buf[start + 18] << 8) | buf[start + 19]);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 address as a signed 32-bit integer (see Ipv4View.src). */
export function readAddress4(buf: Uint8Array, offset: number): number {
  return (buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3];
}

export function writeAddress4(buf: Uint8Array, offset: number, address: number): void {
  buf[offset] = address >>> 24;
  buf[offset + 1] = address >>> 16;
  buf[offset + 2] = address >>> 8;
  buf[offset + 3] = address;
}

/**
 * Finds an unexpired loose or strict source route option (RFC 791 sec. 3.1: the route is used up
 * when the pointer exceeds the option length). Returns the option's offset, or -1. A malformed
 * option list ends the scan (such options are not translated anyway, RFC 7915 sec. 4.1).
 */
export function findUnexpiredSourceRoute(buf: Uint8Array, view: Ipv4View): number {
  let i = view.start + IPV4_HEADER_MIN;
  const end = view.start + view.headerLength;
  while (i < end) {
    const type = buf[i];
    if (type === Ipv4Option.End) return -1;
    if (type === Ipv4Option.Nop) {
      i++;
      continue;
    }
    if (i + 1 >= end) return -1;
    const length = buf[i + 1];
    if (length < 2 || i + length > end) return -1;
    if ((type === Ipv4Option.Lsrr || type === Ipv4Option.Ssrr) && length >= 3 && buf[i + 2] <= length) {
      return i;
    }
    i += length;
  }
  return -1;
}
