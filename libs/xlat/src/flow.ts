// Flow-key extraction for the NAT64 engine (RFC 6146 sec. 3.4, "determining the incoming tuple"):
// protocol, addresses, ports or ICMP identifier, TCP flags, fragment facts and, for an ICMP error,
// the quoted packet's key. Fills a preallocated FlowKey; returns 0 or a drop reason, never throws.
import {
  Ipv4View,
  Ipv6View,
  ParseStatus,
  parseIpv4,
  parseIpv6,
  read16,
  writeAddress4,
} from '../../packet/src/index.js';
import { DropReason } from './verdict.js';

const R = DropReason;

/** The key of the packet quoted in an ICMP error. */
export class InnerFlowKey {
  protocol = 0;
  readonly src = new Uint8Array(16);
  readonly dst = new Uint8Array(16);
  /** IPv4 addresses as signed 32-bit integers (`>>> 0` for unsigned; IPv4 family only). */
  src4 = 0;
  dst4 = 0;
  /** Ports, or for an ICMP query the identifier in both. */
  srcPort = 0;
  dstPort = 0;
  /** False when the quote is cut before the ports or is a non-first fragment. */
  hasPorts = false;
}

export class FlowKey {
  /** 4 or 6. */
  family = 0;
  /** Upper-layer protocol as carried (1 = ICMPv4, 58 = ICMPv6, 6, 17, ...). */
  protocol = 0;
  /** Addresses: 16 bytes for IPv6; for IPv4 the first 4 bytes (and `src4`/`dst4`, signed 32-bit). */
  readonly src = new Uint8Array(16);
  readonly dst = new Uint8Array(16);
  src4 = 0;
  dst4 = 0;
  /** TCP/UDP ports; for an ICMP query the identifier in both. */
  srcPort = 0;
  dstPort = 0;
  /** False for non-first fragments and protocols without ports. */
  hasPorts = false;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10); 0 otherwise. */
  tcpFlags = 0;
  /** ICMP type and code, -1 when not ICMP. */
  icmpType = -1;
  icmpCode = -1;
  /** True for an ICMP error: `inner` holds the quoted packet's key. */
  icmpError = false;
  /** Fragment facts: `isFragment` = MF set or offset != 0; offset in 8-byte units. */
  isFragment = false;
  fragmentOffset = 0;
  moreFragments = false;
  fragmentId = 0;
  readonly inner = new InnerFlowKey();
}

const v4 = new Ipv4View();
const v4Inner = new Ipv4View();
const v6 = new Ipv6View();
const v6Inner = new Ipv6View();

/**
 * Extracts the flow key of the whole IPv4 packet `packet[start, start + length)` (by default all of
 * `packet`; nothing outside the range is read); 0 or a *46 drop reason.
 */
export function extractFlowKey4(
  packet: Uint8Array,
  key: FlowKey,
  start = 0,
  length = packet.length - start,
): number {
  const status = parseIpv4(packet, start, length, v4, true);
  if (status !== ParseStatus.Ok) {
    return status === ParseStatus.Truncated
      ? R.truncated46
      : status === ParseStatus.BadChecksum
        ? R.checksum46
        : R.header46;
  }
  key.family = 4;
  key.protocol = v4.protocol;
  key.src4 = v4.src;
  key.dst4 = v4.dst;
  writeAddress4(key.src, 0, v4.src);
  writeAddress4(key.dst, 0, v4.dst);
  key.isFragment = v4.isFragment;
  key.fragmentOffset = v4.fragmentOffset;
  key.moreFragments = v4.moreFragments;
  key.fragmentId = v4.identification;
  return extractL4(packet, key, v4.payloadOffset, start + v4.totalLength, v4.fragmentOffset === 0, 4);
}

/** Extracts the flow key of the whole IPv6 packet `packet[start, start + length)`, like extractFlowKey4. */
export function extractFlowKey6(
  packet: Uint8Array,
  key: FlowKey,
  start = 0,
  length = packet.length - start,
): number {
  const status = parseIpv6(packet, start, length, v6, true);
  if (status !== ParseStatus.Ok) return status === ParseStatus.Truncated ? R.truncated64 : R.header64;
  key.family = 6;
  key.protocol = v6.protocol;
  key.src4 = 0;
  key.dst4 = 0;
  for (let i = 0; i < 16; i++) {
    key.src[i] = packet[start + 8 + i];
    key.dst[i] = packet[start + 24 + i];
  }
  key.isFragment = v6.isFragment;
  key.fragmentOffset = v6.fragmentOffset;
  key.moreFragments = v6.moreFragments;
  key.fragmentId = v6.identification;
  return extractL4(packet, key, v6.payloadOffset, start + 40 + v6.payloadLength, v6.fragmentOffset === 0, 6);
}

function extractL4(
  packet: Uint8Array,
  key: FlowKey,
  l4: number,
  end: number,
  first: boolean,
  family: 4 | 6,
): number {
  const protocol = key.protocol;
  const length = end - l4;
  const truncated = family === 4 ? R.truncated46 : R.truncated64;
  key.srcPort = 0;
  key.dstPort = 0;
  key.hasPorts = false;
  key.tcpFlags = 0;
  key.icmpType = -1;
  key.icmpCode = -1;
  key.icmpError = false;
  if (!first) return 0;
  if (protocol === 6 || protocol === 17) {
    if (length < (protocol === 6 ? 20 : 8)) return truncated;
    key.srcPort = read16(packet, l4);
    key.dstPort = read16(packet, l4 + 2);
    key.hasPorts = true;
    if (protocol === 6) key.tcpFlags = packet[l4 + 13];
    return 0;
  }
  const icmp = family === 4 ? 1 : 58;
  if (protocol !== icmp) return 0;
  if (length < 8) return truncated;
  const type = packet[l4];
  key.icmpType = type;
  key.icmpCode = packet[l4 + 1];
  const query = family === 4 ? type === 0 || type === 8 : type === 128 || type === 129;
  if (query) {
    key.srcPort = read16(packet, l4 + 4);
    key.dstPort = key.srcPort;
    key.hasPorts = true;
    return 0;
  }
  const error = family === 4 ? type === 3 || type === 11 || type === 12 : type >= 1 && type <= 4;
  if (!error) return 0;
  key.icmpError = true;
  return family === 4
    ? extractInner4(packet, key.inner, l4 + 8, end)
    : extractInner6(packet, key.inner, l4 + 8, end);
}

function extractInner4(packet: Uint8Array, inner: InnerFlowKey, start: number, end: number): number {
  if (parseIpv4(packet, start, end - start, v4Inner, false) !== ParseStatus.Ok) return R.icmpinner46;
  inner.protocol = v4Inner.protocol;
  inner.src4 = v4Inner.src;
  inner.dst4 = v4Inner.dst;
  writeAddress4(inner.src, 0, v4Inner.src);
  writeAddress4(inner.dst, 0, v4Inner.dst);
  const l4 = v4Inner.payloadOffset;
  return innerPorts(
    packet,
    inner,
    l4,
    v4Inner.start + v4Inner.available - l4,
    v4Inner.fragmentOffset === 0,
    1,
    0,
    8,
  );
}

function extractInner6(packet: Uint8Array, inner: InnerFlowKey, start: number, end: number): number {
  if (parseIpv6(packet, start, end - start, v6Inner, false) !== ParseStatus.Ok) return R.icmpinner64;
  inner.protocol = v6Inner.protocol;
  inner.src4 = 0;
  inner.dst4 = 0;
  for (let i = 0; i < 16; i++) {
    inner.src[i] = packet[start + 8 + i];
    inner.dst[i] = packet[start + 24 + i];
  }
  const l4 = v6Inner.payloadOffset;
  return innerPorts(
    packet,
    inner,
    l4,
    v6Inner.start + v6Inner.available - l4,
    v6Inner.fragmentOffset === 0,
    58,
    129,
    128,
  );
}

function innerPorts(
  packet: Uint8Array,
  inner: InnerFlowKey,
  l4: number,
  present: number,
  first: boolean,
  icmp: number,
  reply: number,
  request: number,
): number {
  inner.srcPort = 0;
  inner.dstPort = 0;
  inner.hasPorts = false;
  if (!first) return 0;
  const protocol = inner.protocol;
  if ((protocol === 6 || protocol === 17) && present >= 4) {
    inner.srcPort = read16(packet, l4);
    inner.dstPort = read16(packet, l4 + 2);
    inner.hasPorts = true;
  } else if (protocol === icmp && present >= 6) {
    const type = packet[l4];
    if (type === reply || type === request) {
      inner.srcPort = read16(packet, l4 + 4);
      inner.dstPort = inner.srcPort;
      inner.hasPorts = true;
    }
  }
  return 0;
}
