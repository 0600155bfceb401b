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
} as const;

/** True for ICMPv4 error types that carry an invoking packet (RFC 792). */
export function isIcmp4Error(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** True for ICMPv6 error messages (RFC 4443 sec. 2.1: types 0–127). */
export function isIcmp6Error(type: number): boolean {
  return type < 128;
}

/** Minimum bytes of the L4 header needed to read ports, identifiers or the checksum; 0 for others. */
export function l4HeaderMinimum(protocol: number): number {
  switch (protocol) {
    case Protocol.Tcp:
      return TCP_HEADER_MIN;
    case Protocol.Udp:
      return UDP_HEADER_LENGTH;
    case Protocol.Icmp4:
    case Protocol.Icmp6:
      return ICMP_HEADER_LENGTH;
    default:
      return 0;
  }
}
