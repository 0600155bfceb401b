// ICMP errors the PLAT originates on the NAT engine's request (RFC 6146 sec. 3.5: no mapping could
// be made, an unsolicited SYN timed out, filtering): ICMPv4 (RFC 792) quoting at most 576 bytes in
// all (RFC 1812 sec. 4.3.2.3), ICMPv6 (RFC 4443) quoting at most 1280 bytes in all (sec. 2.4 (c)).
import { checksum, checksumFinish, sumWords, write16 } from '../../../libs/packet/src/index.js';

const ICMP4_ERROR_BYTES_MAX = 576;
const ICMP6_ERROR_BYTES_MAX = 1280;
const REPLY_HOP_LIMIT = 64;

/** Writes an ICMPv4 error from `source4` about the IPv4 packet `input`; returns its length. */
export function writeIcmp4Error(
  input: Uint8Array,
  output: Uint8Array,
  type: number,
  code: number,
  source4: number,
): number {
  const quoted = Math.min(input.length, ICMP4_ERROR_BYTES_MAX - 28);
  const total = 28 + quoted;
  output[0] = 0x45;
  output[1] = 0;
  write16(output, 2, total);
  write16(output, 4, 0);
  write16(output, 6, 0);
  output[8] = REPLY_HOP_LIMIT;
  output[9] = 1;
  write16(output, 10, 0);
  output[12] = source4 >>> 24;
  output[13] = source4 >>> 16;
  output[14] = source4 >>> 8;
  output[15] = source4;
  output.set(input.subarray(12, 16), 16);
  write16(output, 10, checksum(output, 0, 20));
  output[20] = type;
  output[21] = code;
  write16(output, 22, 0);
  write16(output, 24, 0);
  write16(output, 26, 0);
  output.set(input.subarray(0, quoted), 28);
  write16(output, 22, checksum(output, 20, total));
  return total;
}

/**
 * Writes an ICMPv6 error about the IPv6 packet `input`, sent from the packet's own destination
 * (an address inside the PREF64, standing for the IPv4 side), back to its source; returns its length.
 */
export function writeIcmp6Error(input: Uint8Array, output: Uint8Array, type: number, code: number): number {
  const quoted = Math.min(input.length, ICMP6_ERROR_BYTES_MAX - 48);
  const total = 48 + quoted;
  output[0] = 0x60;
  output[1] = 0;
  output[2] = 0;
  output[3] = 0;
  write16(output, 4, total - 40);
  output[6] = 58;
  output[7] = REPLY_HOP_LIMIT;
  output.set(input.subarray(24, 40), 8);
  output.set(input.subarray(8, 24), 24);
  output[40] = type;
  output[41] = code;
  write16(output, 42, 0);
  write16(output, 44, 0);
  write16(output, 46, 0);
  output.set(input.subarray(0, quoted), 48);
  let sum = sumWords(output, 8, 40, 0) + (total - 40) + 58;
  sum = sumWords(output, 40, total, sum);
  write16(output, 42, checksumFinish(sum));
  return total;
}
