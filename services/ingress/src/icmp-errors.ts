// ICMP errors the PLAT originates on the NAT engine's request (RFC 6146 sec. 3.5: no mapping could
// be made, an unsolicited SYN timed out, filtering): ICMPv4 (RFC 792) quoting at most 576 bytes in
// all (RFC 1812 sec. 4.3.2.3), ICMPv6 (RFC 4443) quoting at most 1280 bytes in all (sec. 2.4 (c)).
import { checksum, checksumFinish, copyBytes, sumWords, write16 } from '../../../libs/packet/src/index.js';

const ICMP4_ERROR_BYTES_MAX = 576;
const ICMP6_ERROR_BYTES_MAX = 1280;
const REPLY_HOP_LIMIT = 64;

/**
 * Writes an ICMPv4 error from `source4` about the IPv4 packet `input[start, start + length)` into
 * `output` from `o` on; returns its length.
 */
export function writeIcmp4Error(
  input: Uint8Array,
  start: number,
  length: number,
  output: Uint8Array,
  o: number,
  type: number,
  code: number,
  source4: number,
): number {
  const quoted = Math.min(length, ICMP4_ERROR_BYTES_MAX - 28);
  const total = 28 + quoted;
  output[o] = 0x45;
  output[o + 1] = 0;
  write16(output, o + 2, total);
  write16(output, o + 4, 0);
  write16(output, o + 6, 0);
  output[o + 8] = REPLY_HOP_LIMIT;
  output[o + 9] = 1;
  write16(output, o + 10, 0);
  output[o + 12] = source4 >>> 24;
  output[o + 13] = source4 >>> 16;
  output[o + 14] = source4 >>> 8;
  output[o + 15] = source4;
  copyBytes(input, start + 12, output, o + 16, 4);
  write16(output, o + 10, checksum(output, o, o + 20));
  output[o + 20] = type;
  output[o + 21] = code;
  write16(output, o + 22, 0);
  write16(output, o + 24, 0);
  write16(output, o + 26, 0);
  copyBytes(input, start, output, o + 28, quoted);
  write16(output, o + 22, checksum(output, o + 20, o + total));
  return total;
}

/**
 * Writes an ICMPv6 error about the IPv6 packet `input[start, start + length)` into `output` from `o`
 * on, sent from the packet's own destination (an address inside the PREF64, standing for the IPv4
 * side), back to its source; returns its length.
 */
export function writeIcmp6Error(
  input: Uint8Array,
  start: number,
  length: number,
  output: Uint8Array,
  o: number,
  type: number,
  code: number,
): number {
  const quoted = Math.min(length, ICMP6_ERROR_BYTES_MAX - 48);
  const total = 48 + quoted;
  output[o] = 0x60;
  output[o + 1] = 0;
  output[o + 2] = 0;
  output[o + 3] = 0;
  write16(output, o + 4, total - 40);
  output[o + 6] = 58;
  output[o + 7] = REPLY_HOP_LIMIT;
  copyBytes(input, start + 24, output, o + 8, 16);
  copyBytes(input, start + 8, output, o + 24, 16);
  output[o + 40] = type;
  output[o + 41] = code;
  write16(output, o + 42, 0);
  write16(output, o + 44, 0);
  write16(output, o + 46, 0);
  copyBytes(input, start, output, o + 48, quoted);
  let sum = sumWords(output, o + 8, o + 40, 0) + (total - 40) + 58;
  sum = sumWords(output, o + 40, o + total, sum);
  write16(output, o + 42, checksumFinish(sum));
  return total;
}
