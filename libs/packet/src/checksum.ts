// Internet checksum (RFC 1071) and its incremental update (RFC 1624, equation 3).
// Sums are carried unfolded as non-negative numbers below 2^31 and folded at the end: a 64 KiB
// packet sums to at most 32768 * 0xffff < 2^31, so no intermediate overflow is possible.

/** Adds the 16-bit big-endian words of `buf[start, end)` to `acc`; an odd last byte is padded with zero. */
export function sumWords(buf: Uint8Array, start: number, end: number, acc: number): number {
  let sum = acc;
  let i = start;
  const even = end - ((end - start) & 1);
  for (; i < even; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  // Keep the accumulator small so callers may chain many ranges; integer ops only, so the result
  // stays a small integer and never allocates a heap number.
  return (sum & 0xffff) + (sum >>> 16);
}

/** Folds an accumulator to 16 bits with end-around carry. */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Final checksum field value for an accumulated sum. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** The checksum of `buf[start, end)`, e.g. an IPv4 header with its checksum field zeroed. */
export function checksum(buf: Uint8Array, start: number, end: number): number {
  return finish(sumWords(buf, start, end, 0));
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), where `oldSum` is the folded sum of the words that were
 * removed and `newSum` the folded sum of the words that replace them.
 */
export function adjust(check: number, oldSum: number, newSum: number): number {
  return ~fold((~check & 0xffff) + (~fold(oldSum) & 0xffff) + fold(newSum)) & 0xffff;
}

/** Ones-complement subtraction of a folded sum from an accumulator: a + ~b. */
export function subtract(acc: number, value: number): number {
  return acc + (~fold(value) & 0xffff);
}

/** Sum of the IPv4 pseudo-header addresses (RFC 793 / RFC 768), protocol and length excluded. */
export function sumIpv4Addresses(buf: Uint8Array, offset: number): number {
  return (
    ((buf[offset] << 8) | buf[offset + 1]) +
    ((buf[offset + 2] << 8) | buf[offset + 3]) +
    ((buf[offset + 4] << 8) | buf[offset + 5]) +
    ((buf[offset + 6] << 8) | buf[offset + 7])
  );
}

/** Sum of 32 bytes of IPv6 source and destination (RFC 8200 sec. 8.1 pseudo-header), at `offset`. */
export function sumIpv6Addresses(buf: Uint8Array, offset: number): number {
  let sum = 0;
  for (let i = offset; i < offset + 32; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  return sum;
}

/** Sum of a 32-bit value as two 16-bit words. */
export function sumUint32(value: number): number {
  return (value >>> 16) + (value & 0xffff);
}
