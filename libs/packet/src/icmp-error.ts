// ICMP error messages, the bytes both the translator (RFC 7915 sec. 4.4 / 5.4) and the PLAT (RFC 6146
// sec. 3.5, on the NAT engine's request) originate: an IPv4 header + ICMPv4 error (RFC 792) or an IPv6
// header + ICMPv6 error (RFC 4443), quoting the start of the offending packet. Callers decide whether
// an error may be sent at all and how much to quote (576 / 1280 bytes in all: RFC 1812 sec. 4.3.2.3,
// RFC 4443 sec. 2.4 (c)).
import { copyBytes, write16 } from './bytes.js';
import { checksum, finish, sumWords } from './checksum.js';
import { writeAddress4 } from './ipv4.js';

const ERROR_HOP_LIMIT = 64;

/**
 * Writes IPv4 (`source4` -> `destination4`, protocol 1) + ICMPv4 `type`/`code` with `rest` as the word
 * after the checksum, quoting `input[start, start + quoted)`, into `output` from `o` on; returns the
 * length (28 + quoted).
 */
export function writeIcmp4ErrorMessage(
  output: Uint8Array,
  o: number,
  source4: number,
  destination4: number,
  identification: number,
  type: number,
  code: number,
  rest: number,
  input: Uint8Array,
  start: number,
  quoted: number,
): number {
  const total = 28 + quoted;
  output[o] = 0x45;
  output[o + 1] = 0;
  write16(output, o + 2, total);
  write16(output, o + 4, identification);
  write16(output, o + 6, 0);
  output[o + 8] = ERROR_HOP_LIMIT;
  output[o + 9] = 1;
  write16(output, o + 10, 0);
  writeAddress4(output, o + 12, source4);
  writeAddress4(output, o + 16, destination4);
  write16(output, o + 10, checksum(output, o, o + 20));
  output[o + 20] = type;
  output[o + 21] = code;
  write16(output, o + 22, 0);
  writeAddress4(output, o + 24, rest);
  copyBytes(input, start, output, o + 28, quoted);
  write16(output, o + 22, checksum(output, o + 20, o + total));
  return total;
}

/**
 * Writes IPv6 (source = the 16 bytes at `source[sourceAt]`, destination = those at
 * `destination[destinationAt]`, next header 58) + ICMPv6 `type`/`code` with `rest` as the word after
 * the checksum, quoting `input[start, start + quoted)`, into `output` from `o` on; returns the length
 * (48 + quoted).
 */
export function writeIcmp6ErrorMessage(
  output: Uint8Array,
  o: number,
  source: Uint8Array,
  sourceAt: number,
  destination: Uint8Array,
  destinationAt: number,
  type: number,
  code: number,
  rest: number,
  input: Uint8Array,
  start: number,
  quoted: number,
): number {
  const total = 48 + quoted;
  output[o] = 0x60;
  output[o + 1] = 0;
  output[o + 2] = 0;
  output[o + 3] = 0;
  write16(output, o + 4, total - 40);
  output[o + 6] = 58;
  output[o + 7] = ERROR_HOP_LIMIT;
  copyBytes(source, sourceAt, output, o + 8, 16);
  copyBytes(destination, destinationAt, output, o + 24, 16);
  output[o + 40] = type;
  output[o + 41] = code;
  write16(output, o + 42, 0);
  writeAddress4(output, o + 44, rest);
  copyBytes(input, start, output, o + 48, quoted);
  let sum = sumWords(output, o + 8, o + 40, 0) + (total - 40) + 58;
  sum = sumWords(output, o + 40, o + total, sum);
  write16(output, o + 42, finish(sum));
  return total;
}
