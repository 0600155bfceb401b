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
 * Writes an ICMPv4 error about the IPv4 packet in `input` (whose header `state.outer4` describes)
 * and returns ReplyIcmp with `reason`. `rest` is the 32-bit word after the checksum (MTU, pointer).
 * RFC 1812 sec. 4.3.2.7: no error about a non-initial fragment or to a non-unicast source; the
 * packet is then dropped with the same reason.
 */
export function replyIcmp4(
  state: XlatState,
  input: Uint8Array,
  output: Uint8Array,
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
  output[0] = 0x45;
  output[1] = 0;
  write16(output, 2, total);
  write16(output, 4, state.nextIdentification);
  state.nextIdentification = (state.nextIdentification + 1) & 0xffff;
  write16(output, 6, 0);
  output[8] = REPLY_TTL;
  output[9] = 1;
  write16(output, 10, 0);
  writeAddress4(output, 12, state.cfg.ipv4Address);
  writeAddress4(output, 16, src);
  write16(output, 10, checksum(output, 0, 20));
  output[20] = type;
  output[21] = code;
  write16(output, 22, 0);
  output[24] = rest >>> 24;
  output[25] = rest >>> 16;
  output[26] = rest >>> 8;
  output[27] = rest;
  copyQuote(input, output, 28, quoted);
  write16(output, 22, checksum(output, 20, total));
  return single(state.result, total, Verdict.ReplyIcmp, reason);
}

/**
 * Writes an ICMPv6 error about the IPv6 packet in `input` (`state.outer6`). Its source is the
 * configured `ipv6Address`, or else the offending packet's destination: that address stands for
 * the IPv4 side the translator fronts, so traceroute shows the hop as the destination's prefix.
 */
export function replyIcmp6(
  state: XlatState,
  input: Uint8Array,
  output: Uint8Array,
  type: number,
  code: number,
  rest: number,
  reason: number,
): Verdict {
  const v6 = state.outer6;
  // No error about a non-initial fragment, to multicast (ff00::/8) or the unspecified source.
  if (v6.fragmentOffset !== 0 || input[8] === 0xff || isUnspecified(input, 8))
    return drop(state.result, reason);
  const quoted = Math.min(40 + v6.payloadLength, ICMP6_ERROR_MAX - 48);
  const total = 48 + quoted;
  output[0] = 0x60;
  output[1] = 0;
  output[2] = 0;
  output[3] = 0;
  write16(output, 4, total - 40);
  output[6] = 58;
  output[7] = REPLY_TTL;
  const own = state.cfg.ipv6Address;
  if (own !== null) writeAddress6(output, 8, own);
  else copyBytes(input, 24, output, 8, 16);
  copyBytes(input, 8, output, 24, 16);
  output[40] = type;
  output[41] = code;
  write16(output, 42, 0);
  output[44] = rest >>> 24;
  output[45] = rest >>> 16;
  output[46] = rest >>> 8;
  output[47] = rest;
  copyQuote(input, output, 48, quoted);
  let sum = sumWords(output, 8, 40, 0) + (total - 40) + 58;
  sum = sumWords(output, 40, total, sum);
  write16(output, 42, checksumFinish(sum));
  return single(state.result, total, Verdict.ReplyIcmp, reason);
}

/** Copies the quoted start of `input`; a whole-array set needs no range view, so no allocation. */
function copyQuote(input: Uint8Array, output: Uint8Array, at: number, quoted: number): void {
  if (at + input.length <= output.length) output.set(input, at);
  else copyBytes(input, 0, output, at, quoted);
}

function isUnspecified(buf: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[offset + i] !== 0) return false;
  return true;
}
