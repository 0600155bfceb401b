// RFC 6146 sec. 3.8: hairpinning. An IPv6 packet whose IPv4 destination is one of our pool addresses is
// processed as outgoing (mapping and session for the sender), then its outgoing tuple is processed as an
// incoming IPv4 packet (filtering, the receiver's session), and leaves as IPv6 towards the receiver.

import type { FlowKey4, FlowKey6 } from '../flow-key.js';
import type { EngineResult } from '../verdict.js';

/** Builds the IPv4 leg of a hairpinned packet from the first leg's outgoing tuple. */
export function hairpinKey(key: FlowKey6, firstLeg: EngineResult, out: FlowKey4): FlowKey4 {
  out.protocol = key.protocol;
  out.src4 = firstLeg.v4Src;
  out.srcPort = firstLeg.v4SrcPort;
  out.dst4 = firstLeg.v4Dst;
  out.dstPort = firstLeg.v4DstPort;
  out.tcpFlags = key.tcpFlags;
  out.icmpError = key.icmpError;
  return out;
}
