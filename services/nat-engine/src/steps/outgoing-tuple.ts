// RFC 6146 sec. 3.6: computation of the outgoing tuple. IPv6->IPv4: source = the BIB entry's IPv4
// transport address, destination = the IPv4 address the caller extracted and the original port.
// IPv4->IPv6: destination = the BIB entry's IPv6 transport address, source = the IPv4 source (the
// caller embeds it with RFC 6052). ICMP queries carry the mapped identifier in both port fields.

import { ProtocolSlot } from '../flow-key.js';
import type { NatState } from '../tables/nat-state.js';
import { type EngineResult, EngineVerdict } from '../verdict.js';

export function fillOutgoing6to4(
  result: EngineResult,
  state: NatState,
  m: number,
  dst4: number,
  dstPort: number,
): void {
  const port = state.mappingV4PortOf(m);
  result.verdict = EngineVerdict.Translate;
  result.reason = 0;
  result.v4Src = state.mappingRecord[m * 8 + 5];
  result.v4SrcPort = port;
  result.v4Dst = dst4 >>> 0;
  result.v4DstPort = state.mappingProtocolOf(m) === ProtocolSlot.Icmp ? port : dstPort;
}

export function fillOutgoing4to6(
  result: EngineResult,
  state: NatState,
  m: number,
  src4: number,
  srcPort: number,
  dst4: number,
  dstPort: number,
): void {
  const v6Port = state.mappingV6PortOf(m);
  const o = m * 8;
  result.verdict = EngineVerdict.Translate;
  result.reason = 0;
  result.v6[0] = state.mappingRecord[o];
  result.v6[1] = state.mappingRecord[o + 1];
  result.v6[2] = state.mappingRecord[o + 2];
  result.v6[3] = state.mappingRecord[o + 3];
  result.v6Port = v6Port;
  result.v4Src = src4 >>> 0;
  result.v4SrcPort = state.mappingProtocolOf(m) === ProtocolSlot.Icmp ? v6Port : srcPort;
  result.v4Dst = dst4 >>> 0;
  result.v4DstPort = dstPort;
}
