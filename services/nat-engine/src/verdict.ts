// Verdicts of the NAT engine and its enumerated drop reasons, split by direction (64 = IPv6->IPv4,
// 46 = IPv4->IPv6), after Jool's JSTAT64_*/JSTAT46_* (CONVENTIONS.md 7). Each reason is a counter index.
// Append new reasons; never renumber.

export const EngineVerdict = {
  /** Rewrite with the tuple in the result (RFC 6146 sec. 3.6) and forward. */
  Translate: 0,
  /** Discard; `result.reason` says why. */
  Drop: 1,
  /** Unsolicited IPv4 SYN (RFC 6146 sec. 3.5.2.2): keep the packet under `result.holdId`; it comes back in `expiredHoldIds` after advance() or as `result.releasedHoldId`. */
  Hold: 2,
  /** Discard and send `result.icmpType`/`icmpCode` back to the packet's source (in the packet's own family). */
  ReplyIcmp: 3,
} as const;
export type EngineVerdict = (typeof EngineVerdict)[keyof typeof EngineVerdict];

export const engineDropReasonNames = [
  'none',
  // IPv6 -> IPv4
  'protocol64', // not TCP, UDP or an ICMP query/error
  'poolexhausted64', // no block with a free port on the subscriber's address (ICMPv6 unreachable sent)
  'subscriberblocks64', // the subscriber holds subscriberBlocksMax blocks, all full (ICMPv6 unreachable sent)
  'subscribersessions64', // the subscriber holds subscriberSessionsMax sessions (ICMPv6 unreachable sent)
  'mappingsfull64', // the BIB holds mappingsMax entries (ICMPv6 unreachable sent)
  'sessionsfull64', // the session table holds sessionsMax entries (ICMPv6 unreachable sent)
  'subscribersfull64', // the subscriber table holds subscribersMax entries (ICMPv6 unreachable sent)
  'nosession64', // TCP non-SYN or ICMP error with no state to match (RFC 6146 sec. 3.5.2.2, 3.5.4)
  // IPv4 -> IPv6
  'protocol46',
  'nomapping46', // no BIB entry for the destination (ICMP port unreachable sent for UDP)
  'filtered46', // address-dependent filtering: no session towards that source (ICMP admin prohibited sent)
  'externaltcp46', // externally initiated TCP refused by policy
  'heldfull46', // unsolicited SYN, but heldSynsMax SYNs are already held
  'synalreadyheld46', // a retransmission of a SYN that is already held
  'nosession46', // TCP non-SYN or ICMP error with no state to match
  'sessionsfull46', // a session would be needed but the session table holds sessionsMax entries
  // Appended (never renumber):
  'leasedblocksfull64', // leasedBlocksMax blocks are leased at once (the pool may still have free blocks) (ICMPv6 unreachable sent)
  'subscribersessions46', // an inbound session would exceed the subscriber's subscriberSessionsMax
  'tenantquota64', // the subscriber's tenant may lease no more blocks (its blocksMax or subscriberBlocksMax) (ICMPv6 administratively prohibited sent)
  'tenantsessions64', // the subscriber's tenant holds its sessionsMax sessions (ICMPv6 administratively prohibited sent)
  'tenantsessions46', // an inbound session would exceed the tenant's sessionsMax (dropped)
  'poolpending64', // no block here yet, one is being fetched (a cluster node's Redis reserve refills): dropped, no ICMP error
  'leaselapsed64', // a new mapping while the cluster owner's lease has lapsed (cut off from NATS): dropped, no ICMP error
] as const;
export type EngineDropReasonName = (typeof engineDropReasonNames)[number];

export const EngineDropReason = Object.freeze(
  Object.fromEntries(engineDropReasonNames.map((name, index) => [name, index])) as {
    [K in EngineDropReasonName]: number;
  },
);

/** ICMP codes the engine asks for (the packet path builds the bytes). */
export const IcmpReply = {
  /** ICMPv6 Destination Unreachable type. */
  V6DestinationUnreachable: 1,
  /** RFC 6146 sec. 3.5.1.1: no IPv4 transport address could be allocated -> code 3 (address unreachable). */
  V6AddressUnreachable: 3,
  /** ICMPv6 communication with destination administratively prohibited code (a policy refuses the source). */
  V6AdminProhibited: 1,
  /** ICMPv4 Destination Unreachable type. */
  V4DestinationUnreachable: 3,
  /** ICMPv4 port unreachable code. */
  V4PortUnreachable: 3,
  /** ICMPv4 communication administratively prohibited code. */
  V4AdminProhibited: 13,
} as const;

/**
 * Filled by every engine call; one object per engine, reused. For IPv6->IPv4: source = v4Src:v4SrcPort
 * (pool), destination = v4Dst:v4DstPort. For IPv4->IPv6: destination = v6:v6Port (subscriber), source =
 * v4Src:v4SrcPort (the remote, to be embedded with RFC 6052). Hairpin (`hairpin` true, IPv6->IPv6):
 * source = RFC 6052 embedding of v4Src:v4SrcPort (the sender's mapping), destination = v6:v6Port.
 */
export interface EngineResult {
  verdict: EngineVerdict;
  reason: number;
  hairpin: boolean;
  v4Src: number;
  v4SrcPort: number;
  v4Dst: number;
  v4DstPort: number;
  readonly v6: Uint32Array;
  v6Port: number;
  icmpType: number;
  icmpCode: number;
  holdId: number;
  /**
   * Set by outbound6 (else -1): the hold id of an inbound SYN this outbound SYN released (simultaneous
   * open, RFC 6146 sec. 3.5.2.2); the owner forgets that held packet without an ICMP error.
   */
  releasedHoldId: number;
}

export function createEngineResult(): EngineResult {
  return {
    verdict: EngineVerdict.Drop,
    reason: 0,
    hairpin: false,
    v4Src: 0,
    v4SrcPort: 0,
    v4Dst: 0,
    v4DstPort: 0,
    v6: new Uint32Array(4),
    v6Port: 0,
    icmpType: 0,
    icmpCode: 0,
    holdId: -1,
    releasedHoldId: -1,
  };
}
