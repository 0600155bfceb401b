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
