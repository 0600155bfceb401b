// Verdicts and drop reasons of the translator (CONVENTIONS.md 7, after Jool's JSTAT46_*/JSTAT64_*).
// A translation step never throws on packet content: it returns a verdict, and every drop or ICMP
// reply carries one reason from this enumerated list, split by direction (46 = IPv4->IPv6,
// 64 = IPv6->IPv4). Each reason is also a counter index. Append new reasons; never renumber.

export const Verdict = {
  /** `result.count` translated packets were written back to back into the output buffer. */
  Translate: 0,
  /** Nothing was written; `result.reason` says why. */
  Drop: 1,
  /** An ICMP error in the *input's* family was written to the output, to be sent back to the input's source. */
  ReplyIcmp: 2,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** Names of the drop/reply reasons; the index in this list is the numeric reason. */
export const dropReasonNames = [
  'none',
  // IPv4 -> IPv6
  'truncated46', // buffer shorter than the headers or the IPv4 total length claim
  'header46', // bad IPv4 version, IHL or total length
  'checksum46', // IPv4 header checksum wrong
  'ttl46', // TTL would reach 0: ICMPv4 time exceeded sent back (ReplyIcmp)
  'srcaddr46', // IPv4 source cannot be mapped to IPv6 (RFC 6052 sec. 3.1, no EAM, illegal source ...); ReplyIcmp 3/13 if icmpErrorsForUntranslatable
  'dstaddr46', // IPv4 destination cannot be mapped to IPv6; ReplyIcmp 3/13 if icmpErrorsForUntranslatable
  'udpzerochecksum46', // UDP checksum 0 and policy 'drop', or a fragment that cannot be checksummed
  'icmptype46', // ICMPv4 type/code with no IPv6 equivalent (RFC 7915 sec. 4.2 "silently drop")
  'icmpinner46', // the packet inside an ICMPv4 error is malformed or untranslatable
  'icmpfragment46', // fragmented ICMPv4 message: the ICMPv6 checksum cannot be computed
  'sourceroute46', // unexpired LSRR/SSRR option: ICMPv4 "source route failed" sent back (ReplyIcmp)
  'fragneeded46', // DF set and too big for the IPv6 side: ICMPv4 fragmentation needed sent back (ReplyIcmp)
  'protocol46', // an IPv4 protocol that must not cross (ICMPv6 inside IPv4, IGMP, IPv6 extension header numbers)
  // IPv6 -> IPv4
  'truncated64', // buffer shorter than the headers or the IPv6 payload length claim
  'header64', // bad IPv6 version, payload length or extension header chain (incl. an extension header after the fragment header)
  'hoplimit64', // hop limit would reach 0: ICMPv6 time exceeded sent back (ReplyIcmp)
  'srcaddr64', // IPv6 source cannot be mapped to IPv4 (or is illegal); ReplyIcmp 1/1 if icmpErrorsForUntranslatable
  'dstaddr64', // IPv6 destination cannot be mapped to IPv4; ReplyIcmp 1/1 if icmpErrorsForUntranslatable
  'routingheader64', // routing header with segments left != 0: ICMPv6 parameter problem sent back (ReplyIcmp)
  'icmptype64', // ICMPv6 type/code with no IPv4 equivalent (RFC 7915 sec. 5.2 "silently drop")
  'icmpinner64', // the packet inside an ICMPv6 error is malformed or untranslatable
  'icmpfragment64', // fragmented ICMPv6 message: the ICMPv4 checksum cannot be computed
  'toobig64', // too big for the IPv4 side: ICMPv6 packet too big sent back (ReplyIcmp)
  'protocol64', // a next header that must not cross (e.g. ICMPv4 inside IPv6)
  'checksum64', // an L4 checksum that had to be verified (ICMPv6 error) is wrong
  // Appended after the first release of this list (never renumber):
  'icmpchecksum46', // ICMPv4 error checksum wrong: it is recomputed, so it is verified first
  'buffer46', // output buffer too small for the translated IPv6 packet or its fragments
  'buffer64', // output buffer too small for the translated IPv4 packet or its fragments
  'hairpin64', // an EAM-hairpinned packet (RFC 7757 sec. 4) that cannot come back as one IPv6 translation (it would be fragmented for the IPv4 side)
] as const;
export type DropReasonName = (typeof dropReasonNames)[number];

/** Numeric reason for a name: `DropReason.ttl46` etc. */
export const DropReason = Object.freeze(
  Object.fromEntries(dropReasonNames.map((name, index) => [name, index])) as {
    [K in DropReasonName]: number;
  },
);

export function dropReasonName(reason: number): DropReasonName {
  const name = dropReasonNames[reason];
  if (name === undefined) throw new RangeError(`unknown drop reason ${reason}`);
  return name;
}
