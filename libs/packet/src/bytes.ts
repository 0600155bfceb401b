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

/** Zero-fills `[start, end)`. */
export function zeroBytes(buf: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) buf[i] = 0;
}
