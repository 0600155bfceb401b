// Flow keys: what the packet path extracts from a packet and hands the engine (no bytes, no allocation).
// The IPv4 destination of an outbound packet is already extracted from its RFC 6052 address by the caller.
// ICMP queries (RFC 6146 sec. 3.5.3) use the identifier as both srcPort and dstPort.

/** IANA protocol numbers the engine accepts. ICMPv6 (58) is treated as ICMP (1) for query mappings. */
export const Protocol = { Icmp: 1, Tcp: 6, Udp: 17, Icmpv6: 58 } as const;

/** Table slots per protocol: every BIB, session and block is per protocol slot. */
export const PROTOCOL_SLOTS = ['tcp', 'udp', 'icmp'] as const;
export type ProtocolName = (typeof PROTOCOL_SLOTS)[number];
export const ProtocolSlot = { Tcp: 0, Udp: 1, Icmp: 2 } as const;

/** Protocol slot of an IANA protocol number, or -1. */
export function protocolSlotOf(protocol: number): number {
  if (protocol === 6) return 0;
  if (protocol === 17) return 1;
  if (protocol === 1 || protocol === 58) return 2;
  return -1;
}

/** IANA number (IPv4 side) of a protocol slot. */
export function protocolNumberOfSlot(slot: number): number {
  return slot === 0 ? 6 : slot === 1 ? 17 : 1;
}

/** TCP flag bits as in the TCP header's flags byte. */
export const TcpFlag = { Fin: 0x01, Syn: 0x02, Rst: 0x04, Ack: 0x10 } as const;

/**
 * An IPv6-side flow (IPv6 -> IPv4 direction). Reuse one object per packet loop.
 * For an ICMPv6 error, `icmpError` is true and the fields describe the packet *inside* it with source
 * and destination swapped, i.e. the flow as if it travelled in this direction.
 */
export interface FlowKey6 {
  protocol: number;
  /** IPv6 source as four big-endian uint32 words. */
  readonly src6: Uint32Array;
  srcPort: number;
  /** IPv4 destination extracted from the RFC 6052 destination address. */
  dst4: number;
  dstPort: number;
  tcpFlags: number;
  icmpError: boolean;
}

/** An IPv4-side flow (IPv4 -> IPv6 direction); same conventions as FlowKey6. */
export interface FlowKey4 {
  protocol: number;
  src4: number;
  srcPort: number;
  /** A pool address (the flow's mapping). */
  dst4: number;
  dstPort: number;
  tcpFlags: number;
  icmpError: boolean;
}

export function createFlowKey6(): FlowKey6 {
  return {
    protocol: 0,
    src6: new Uint32Array(4),
    srcPort: 0,
    dst4: 0,
    dstPort: 0,
    tcpFlags: 0,
    icmpError: false,
  };
}

export function createFlowKey4(): FlowKey4 {
  return { protocol: 0, src4: 0, srcPort: 0, dst4: 0, dstPort: 0, tcpFlags: 0, icmpError: false };
}
