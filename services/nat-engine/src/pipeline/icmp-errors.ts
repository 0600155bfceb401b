// ICMP errors the PLAT originates on the NAT engine's request (RFC 6146 sec. 3.5: no mapping could
// be made, an unsolicited SYN timed out, filtering): ICMPv4 (RFC 792) quoting at most 576 bytes in
// all (RFC 1812 sec. 4.3.2.3), ICMPv6 (RFC 4443) quoting at most 1280 bytes in all (sec. 2.4 (c)).
import {
  readAddress4,
  writeIcmp4ErrorMessage,
  writeIcmp6ErrorMessage,
} from '../../../../libs/packet/src/index.js';

const ICMP4_ERROR_BYTES_MAX = 576;
const ICMP6_ERROR_BYTES_MAX = 1280;

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
  const destination4 = readAddress4(input, start + 12);
  return writeIcmp4ErrorMessage(output, o, source4, destination4, 0, type, code, 0, input, start, quoted);
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
  return writeIcmp6ErrorMessage(
    output,
    o,
    input,
    start + 24,
    input,
    start + 8,
    type,
    code,
    0,
    input,
    start,
    quoted,
  );
}
