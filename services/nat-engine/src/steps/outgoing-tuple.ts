// RFC 6146 sec. 3.6: computation of the outgoing tuple. IPv6->IPv4: source = the BIB entry's IPv4
// transport address, destination = the IPv4 address the caller extracted and the original port.
// IPv4->IPv6: destination = the BIB entry's IPv6 transport address, source = the IPv4 source (the
// caller embeds it with RFC 6052). ICMP queries carry the mapped identifier in both port fields.

import type { NatState } from '../tables/nat-state.js';
import { type EngineResult, EngineVerdict } from '../verdict.js';

export function fillOutgoing6to4(
  result: EngineResult,
  state: NatState,
  m: number,
  dst4: number,
  dstPort: number,
): void {
  const port = state.mappingV4Port[m];
  result.verdict = EngineVerdict.Translate;
  result.reason = 0;
  result.v4Src = state.mappingV4[m];
  result.v4SrcPort = port;
  result.v4Dst = dst4;
  result.v4DstPort = state.mappingProtocol[m] === 2 ? port : dstPort;
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
  const v6Port = state.mappingV6Port[m];
  const o = m * 4;
  result.verdict = EngineVerdict.Translate;
  result.reason = 0;
  result.v6[0] = state.mappingV6[o];
  result.v6[1] = state.mappingV6[o + 1];
  result.v6[2] = state.mappingV6[o + 2];
  result.v6[3] = state.mappingV6[o + 3];
  result.v6Port = v6Port;
  result.v4Src = src4;
  result.v4SrcPort = state.mappingProtocol[m] === 2 ? v6Port : srcPort;
  result.v4Dst = dst4;
  result.v4DstPort = dstPort;
}
