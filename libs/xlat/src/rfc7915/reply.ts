// ICMP errors the translator itself originates (RFC 7915 sec. 4.4 and sec. 5.4): time exceeded,
// fragmentation needed / packet too big, source route failed, parameter problem. The error goes back
// to the offending packet's source in the offending packet's family, quoting as much of it as fits
// in 576 (ICMPv4, RFC 1812 sec. 4.3.2.3) or 1280 bytes (ICMPv6, RFC 4443 sec. 2.4 (c)).
import {
  checksum,
  checksumFinish,
  copyBytes,
  sumWords,
  write16,
  writeAddress4,
} from '../../../packet/src/index.js';
import { Verdict } from '../verdict.js';
import { drop, single, writeAddress6, type XlatState } from './common.js';

const REPLY_TTL = 64;
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
  const quoted = Math.min(v4.totalLength, ICMP4_ERROR_MAX - 28);
  const total = 28 + quoted;
  output[o] = 0x45;
  output[o + 1] = 0;
  write16(output, o + 2, total);
  write16(output, o + 4, state.nextIdentification);
  state.nextIdentification = (state.nextIdentification + 1) & 0xffff;
  write16(output, o + 6, 0);
  output[o + 8] = REPLY_TTL;
  output[o + 9] = 1;
  write16(output, o + 10, 0);
  writeAddress4(output, o + 12, state.cfg.ipv4Address);
  writeAddress4(output, o + 16, src);
  write16(output, o + 10, checksum(output, o, o + 20));
  output[o + 20] = type;
  output[o + 21] = code;
  write16(output, o + 22, 0);
  output[o + 24] = rest >>> 24;
  output[o + 25] = rest >>> 16;
  output[o + 26] = rest >>> 8;
  output[o + 27] = rest;
  copyBytes(input, v4.start, output, o + 28, quoted);
  write16(output, o + 22, checksum(output, o + 20, o + total));
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
  const total = 48 + quoted;
  output[o] = 0x60;
  output[o + 1] = 0;
  output[o + 2] = 0;
  output[o + 3] = 0;
  write16(output, o + 4, total - 40);
  output[o + 6] = 58;
  output[o + 7] = REPLY_TTL;
  const own = state.cfg.ipv6Address;
  if (own !== null) writeAddress6(output, o + 8, own);
  else copyBytes(input, at + 24, output, o + 8, 16);
  copyBytes(input, at + 8, output, o + 24, 16);
  output[o + 40] = type;
  output[o + 41] = code;
  write16(output, o + 42, 0);
  output[o + 44] = rest >>> 24;
  output[o + 45] = rest >>> 16;
  output[o + 46] = rest >>> 8;
  output[o + 47] = rest;
  copyBytes(input, at, output, o + 48, quoted);
  let sum = sumWords(output, o + 8, o + 40, 0) + (total - 40) + 58;
  sum = sumWords(output, o + 40, o + total, sum);
  write16(output, o + 42, checksumFinish(sum));
  return single(state.result, total, Verdict.ReplyIcmp, reason);
}

function isUnspecified(buf: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[offset + i] !== 0) return false;
  return true;
}
