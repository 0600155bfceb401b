// ICMP errors the translator itself originates (RFC 7915 sec. 4.4 and sec. 5.4): time exceeded,
// fragmentation needed / packet too big, source route failed, parameter problem. The error goes back
// to the offending packet's source in the offending packet's family, quoting as much of it as fits
// in 576 (ICMPv4, RFC 1812 sec. 4.3.2.3) or 1280 bytes (ICMPv6, RFC 4443 sec. 2.4 (c)).
import { writeIcmp4ErrorMessage, writeIcmp6ErrorMessage } from '../../../packet/src/index.js';
import { Verdict } from '../verdict.js';
import { drop, single, type XlatState } from './common.js';

const ICMP4_ERROR_MAX = 576;
const ICMP6_ERROR_MAX = 1280;

/**
 * Writes an ICMPv4 error about the IPv4 packet at `input[state.outer4.start]` (whose header
 * `state.outer4` describes) into `output` from `o` on and returns ReplyIcmp with `reason`. `rest` is
 * the 32-bit word after the checksum (MTU, pointer). RFC 1812 sec. 4.3.2.7: no error about a
 * non-initial fragment or to a non-unicast source; the packet is then dropped with the same reason.
 */
export function replyIcmp4(
  state: XlatState,
  input: Uint8Array,
  output: Uint8Array,
  o: number,
  type: number,
  code: number,
  rest: number,
  reason: number,
): Verdict {
  const v4 = state.outer4;
  const src = v4.src;
  const first = src >>> 24;
  if (v4.fragmentOffset !== 0 || first === 0 || first >= 224 || first === 127)
    return drop(state.result, reason);
  const identification = state.nextIdentification;
  state.nextIdentification = (identification + 1) & 0xffff;
  const quoted = Math.min(v4.totalLength, ICMP4_ERROR_MAX - 28);
  const total = writeIcmp4ErrorMessage(
    output,
    o,
    state.cfg.ipv4Address,
    src,
    identification,
    type,
    code,
    rest,
    input,
    v4.start,
    quoted,
  );
  return single(state.result, total, Verdict.ReplyIcmp, reason);
}

/**
 * Writes an ICMPv6 error about the IPv6 packet at `input[state.outer6.start]` into `output` from `o`
 * on. Its source is the configured `ipv6Address`, or else the offending packet's destination: that
 * address stands for the IPv4 side the translator fronts, so traceroute shows the hop as the
 * destination's prefix.
 */
export function replyIcmp6(
  state: XlatState,
  input: Uint8Array,
  output: Uint8Array,
  o: number,
  type: number,
  code: number,
  rest: number,
  reason: number,
): Verdict {
  const v6 = state.outer6;
  const at = v6.start;
  // No error about a non-initial fragment, to multicast (ff00::/8) or the unspecified source.
  if (v6.fragmentOffset !== 0 || input[at + 8] === 0xff || isUnspecified(input, at + 8))
    return drop(state.result, reason);
  const quoted = Math.min(40 + v6.payloadLength, ICMP6_ERROR_MAX - 48);
  const own = state.cfg.ipv6Address;
  const total = writeIcmp6ErrorMessage(
    output,
    o,
    own ?? input,
    own === null ? at + 24 : 0,
    input,
    at + 8,
    type,
    code,
    rest,
    input,
    at,
    quoted,
  );
  return single(state.result, total, Verdict.ReplyIcmp, reason);
}

function isUnspecified(buf: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[offset + i] !== 0) return false;
  return true;
}
