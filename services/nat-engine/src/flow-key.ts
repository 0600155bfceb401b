// Flow keys: what the packet path extracts from a packet and hands the engine (no bytes, no allocation).
// The IPv4 destination of an outbound packet is already extracted from its RFC 6052 address by the caller.
// ICMP queries (RFC 6146 sec. 3.5.3) use the identifier as both srcPort and dstPort.

import { Protocol } from '../../../libs/packet/src/index.js';

/** IANA protocol numbers: the one enum, from libs/packet. ICMPv6 queries share ICMP's slot. */
export { Protocol };

/** Table slots per protocol: every BIB, session and block is per protocol slot. */
export const PROTOCOL_SLOTS = ['tcp', 'udp', 'icmp'] as const;
export type ProtocolName = (typeof PROTOCOL_SLOTS)[number];
export const ProtocolSlot = { Tcp: 0, Udp: 1, Icmp: 2 } as const;
/** Rows per subscriber or pool address in the per-slot tables (index = row * PROTOCOL_SLOT_COUNT + slot). */
export const PROTOCOL_SLOT_COUNT = 3;

/** Protocol slot of an IANA protocol number, or -1. */
export function protocolSlotOf(protocol: number): number {
  if (protocol === Protocol.Tcp) return ProtocolSlot.Tcp;
  if (protocol === Protocol.Udp) return ProtocolSlot.Udp;
  if (protocol === Protocol.Icmp4 || protocol === Protocol.Icmp6) return ProtocolSlot.Icmp;
  return -1;
}

/** IANA number (IPv4 side) of a protocol slot. */
export function protocolNumberOfSlot(slot: number): number {
  return slot === ProtocolSlot.Tcp ? Protocol.Tcp : slot === ProtocolSlot.Udp ? Protocol.Udp : Protocol.Icmp4;
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
