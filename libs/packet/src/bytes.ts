// Big-endian field access on plain Uint8Array views (network byte order, RFC 791 appendix B).
// No DataView per packet: the hot path reads and writes bytes directly, which V8 inlines.

/** Unsigned 16-bit big-endian read. The caller has bounds-checked `offset + 2 <= buf.length`. */
export function read16(buf: Uint8Array, offset: number): number {
  return (buf[offset] << 8) | buf[offset + 1];
}

/** Unsigned 32-bit big-endian read. */
export function read32(buf: Uint8Array, offset: number): number {
  return ((buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0;
}

export function write16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 8;
  buf[offset + 1] = value;
}

export function write32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 24;
  buf[offset + 1] = value >>> 16;
  buf[offset + 2] = value >>> 8;
  buf[offset + 3] = value;
}

/**
 * Copies `length` bytes; `copyWithin` when source and destination are the same buffer, `set` on a
 * subarray otherwise (one small view object, which V8 escape-analyses away in optimised code).
 */
export function copyBytes(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): void {
  if (length <= 0) return;
  if (length <= 64) {
    for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i];
    return;
  }
  if (src.buffer === dst.buffer) {
    // Overlap-safe only through the shared ArrayBuffer; positions are relative to each view.
    const delta = src.byteOffset - dst.byteOffset;
    dst.copyWithin(dstOffset, srcOffset + delta, srcOffset + delta + length);
    return;
  }
  dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
}

/**
 * Copies `src[from, end)` to `dst[at, ...)` without allocating, for the packet path. To stay
 * allocation-free it may move the whole of `src` (TypedArray.set takes no range, and a range view
 * would be an allocation), so it can also overwrite `dst` before `at` and after the copied range:
 * write headers after calling it. Falls back to a view-allocating copy only when `dst` is too short
 * for that (the translator's output is at least input + 2048 bytes, so it never does there).
 */
export function copyTail(src: Uint8Array, from: number, end: number, dst: Uint8Array, at: number): void {
  const length = end - from;
  if (length <= 0) return;
  // Measured: a byte loop costs ~2 ns per byte here, a whole-array set of a 64-byte packet ~30 ns,
  // so only the tiniest copies stay in JavaScript.
  if (length <= 16) {
    for (let i = 0; i < length; i++) dst[at + i] = src[from + i];
    return;
  }
  if (src.buffer === dst.buffer) {
    const delta = src.byteOffset - dst.byteOffset;
    if (from + delta >= 0 && end + delta <= dst.length) {
      dst.copyWithin(at, from + delta, end + delta);
      return;
    }
  } else if (at >= from) {
    if (at - from + src.length <= dst.length) {
      dst.set(src, at - from);
      return;
    }
  } else if (src.length <= dst.length) {
    dst.set(src, 0);
    dst.copyWithin(at, from, end);
    return;
  }
  dst.set(src.subarray(from, end), at);
}

/** Zero-fills `[start, end)`. */
export function zeroBytes(buf: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) buf[i] = 0;
}
