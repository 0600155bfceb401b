// Transport and ICMP header layouts: TCP (RFC 9293 sec. 3.1), UDP (RFC 768), ICMPv4 (RFC 792),
// ICMPv6 (RFC 4443), with the RFC 4884 length attribute. Offsets are relative to the L4 header.

export const Protocol = { Icmp4: 1, Tcp: 6, Udp: 17, Icmp6: 58 } as const;

export const TCP_HEADER_MIN = 20;
export const TCP_OFFSET_CHECKSUM = 16;
export const TCP_OFFSET_FLAGS = 13;
export const UDP_HEADER_LENGTH = 8;
export const UDP_OFFSET_LENGTH = 4;
export const UDP_OFFSET_CHECKSUM = 6;
export const ICMP_HEADER_LENGTH = 8;
export const ICMP_OFFSET_CHECKSUM = 2;
/** Identifier of echo request/reply, or the MTU / pointer word of an error. */
export const ICMP_OFFSET_REST = 4;
/** RFC 4884 length of the original datagram field: ICMPv4 byte 5 (32-bit words). */
export const ICMP4_OFFSET_LENGTH = 5;
/** RFC 4884 length for ICMPv6: byte 4 (64-bit words). */
export const ICMP6_OFFSET_LENGTH = 4;

export const Icmp4Type = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  SourceQuench: 4,
  Redirect: 5,
  EchoRequest: 8,
  TimeExceeded: 11,
  ParameterProblem: 12,
} as const;

export const Icmp4Code = {
  NetUnreachable: 0,
  HostUnreachable: 1,
  ProtocolUnreachable: 2,
  PortUnreachable: 3,
  FragmentationNeeded: 4,
  SourceRouteFailed: 5,
} as const;

export const Icmp6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  /** RFC 4861 sec. 4.1; the kernel sends these into every new interface. */
  RouterSolicitation: 133,
} as const;

/** A parsed transport or ICMP header (the fields the translator and NAT engine read). */
export class L4View {
  protocol = 0;
  /** Offset of the header in the buffer. */
  offset = 0;
  /** TCP data offset in bytes, 8 for UDP and ICMP. */
  headerLength = 0;
  /** TCP/UDP ports; for ICMP echo the identifier in both. */
  srcPort = 0;
  dstPort = 0;
  checksum = 0;
  /** TCP flags byte; 0 otherwise. */
  tcpFlags = 0;
  /** ICMP type and code; -1 otherwise. */
  icmpType = -1;
  icmpCode = -1;
}

/**
 * Parses the L4 header of `protocol` at `buf[offset]` with `available` bytes. TCP needs its whole
 * data-offset header, UDP and ICMP 8 bytes. Other protocols are accepted with no fields. `Ok`,
 * `Truncated` or `Malformed` (a TCP data offset below 5, a UDP length below 8); never throws.
 */
export function parseL4(
  buf: Uint8Array,
  offset: number,
  available: number,
  protocol: number,
  view: L4View,
): number {
  view.protocol = protocol;
  view.offset = offset;
  view.headerLength = 0;
  view.srcPort = 0;
  view.dstPort = 0;
  view.checksum = 0;
  view.tcpFlags = 0;
  view.icmpType = -1;
  view.icmpCode = -1;
  if (offset + available > buf.length) return 1;
  if (protocol === Protocol.Tcp) {
    if (available < TCP_HEADER_MIN) return 1;
    const headerLength = (buf[offset + 12] >> 4) << 2;
    if (headerLength < TCP_HEADER_MIN) return 2;
    if (headerLength > available) return 1;
    view.headerLength = headerLength;
    view.srcPort = (buf[offset] << 8) | buf[offset + 1];
    view.dstPort = (buf[offset + 2] << 8) | buf[offset + 3];
    view.checksum = (buf[offset + 16] << 8) | buf[offset + 17];
    view.tcpFlags = buf[offset + TCP_OFFSET_FLAGS];
    return 0;
  }
  if (protocol === Protocol.Udp) {
    if (available < UDP_HEADER_LENGTH) return 1;
    if (((buf[offset + 4] << 8) | buf[offset + 5]) < UDP_HEADER_LENGTH) return 2;
    view.headerLength = UDP_HEADER_LENGTH;
    view.srcPort = (buf[offset] << 8) | buf[offset + 1];
    view.dstPort = (buf[offset + 2] << 8) | buf[offset + 3];
    view.checksum = (buf[offset + 6] << 8) | buf[offset + 7];
    return 0;
  }
  if (protocol === Protocol.Icmp4 || protocol === Protocol.Icmp6) {
    if (available < ICMP_HEADER_LENGTH) return 1;
    view.headerLength = ICMP_HEADER_LENGTH;
    view.icmpType = buf[offset];
    view.icmpCode = buf[offset + 1];
    view.checksum = (buf[offset + 2] << 8) | buf[offset + 3];
    const query =
      protocol === Protocol.Icmp4 ? view.icmpType === 0 || view.icmpType === 8 : view.icmpType >= 128;
    if (query) {
      view.srcPort = (buf[offset + 4] << 8) | buf[offset + 5];
      view.dstPort = view.srcPort;
    }
    return 0;
  }
  return 0;
}
