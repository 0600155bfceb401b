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

/** Copies of at most this many bytes between two buffers go through the word loop below. */
const WORD_COPY_BYTES_MAX = 192;
/** The word loop assembles little-endian words; elsewhere copies take the byte loop. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Int32Array views over whole ArrayBuffers, made once per buffer: the last one of each side, then a
 * WeakMap. A packet path that reuses its buffers (a TUN batch buffer, an output buffer) never makes one.
 */
const wordViews = new WeakMap<ArrayBufferLike, Int32Array<ArrayBufferLike>>();
let lastSrcBuffer: ArrayBufferLike | null = null;
let lastSrcWords: Int32Array<ArrayBufferLike> = new Int32Array(0);
let lastDstBuffer: ArrayBufferLike | null = null;
let lastDstWords: Int32Array<ArrayBufferLike> = new Int32Array(0);

function wordsOf(buffer: ArrayBufferLike): Int32Array<ArrayBufferLike> {
  let words = wordViews.get(buffer);
  if (words === undefined) {
    words = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, words);
  }
  return words;
}

/**
 * Copies `src[srcOffset, srcOffset + length)` to `dst[dstOffset, ...)` and writes nothing else, so a
 * packet can be read from inside a batch buffer and written between other packets. No allocation up
 * to WORD_COPY_BYTES_MAX bytes, which is the packet path's common case:
 * - the same ArrayBuffer (overlap included): `copyWithin`;
 * - up to WORD_COPY_BYTES_MAX bytes: aligned 32-bit words through Int32Array views of both buffers
 *   (kept per buffer), shifting when source and destination alignments differ; ~4x a byte loop;
 * - longer: `set` on a range view (one small object). Measured on the lab machine
 *   (libs/packet/bench): for 1,480 bytes memcpy through a view costs ~75 ns, the word loop ~300 ns,
 *   so the view pays for itself above ~200 bytes.
 * The caller has checked that both ranges lie inside their arrays.
 */
export function copyBytes(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): void {
  if (length <= 0) return;
  if (src.buffer === dst.buffer) {
    // Positions are relative to each view; copyWithin works on dst's view of the shared buffer.
    const from = srcOffset + src.byteOffset - dst.byteOffset;
    if (from >= 0 && from + length <= dst.length) dst.copyWithin(dstOffset, from, from + length);
    // Otherwise the ranges may overlap in a way only `set` (which clones its source) handles.
    else dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
    return;
  }
  if (length <= 8 || !LITTLE_ENDIAN) {
    for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i];
    return;
  }
  if (length > WORD_COPY_BYTES_MAX) {
    dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
    return;
  }
  copyWords(src, srcOffset, dst, dstOffset, length);
}

function copyWords(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): void {
  const srcBuffer = src.buffer;
  if (srcBuffer !== lastSrcBuffer) {
    lastSrcWords = wordsOf(srcBuffer);
    lastSrcBuffer = srcBuffer;
  }
  const dstBuffer = dst.buffer;
  if (dstBuffer !== lastDstBuffer) {
    lastDstWords = wordsOf(dstBuffer);
    lastDstBuffer = dstBuffer;
  }
  const s32 = lastSrcWords;
  const d32 = lastDstWords;
  let i = srcOffset;
  let j = dstOffset;
  const end = srcOffset + length;
  // Bytes until the destination is word-aligned in its ArrayBuffer.
  while (i < end && ((dst.byteOffset + j) & 3) !== 0) dst[j++] = src[i++];
  const at = src.byteOffset + i;
  const q = at >>> 2;
  const shift = (at & 3) << 3;
  const p = (dst.byteOffset + j) >>> 2;
  let n = (end - i) >>> 2;
  if (shift === 0) {
    for (let k = 0; k < n; k++) d32[p + k] = s32[q + k];
  } else {
    // Each output word takes the top bytes of one source word and the low bytes of the next; the
    // next word must lie inside the view (an ArrayBuffer whose length is not a multiple of 4).
    if (q + n >= s32.length) n = Math.max(0, s32.length - 1 - q);
    const back = 32 - shift;
    let current = n > 0 ? s32[q] : 0;
    for (let k = 0; k < n; k++) {
      const next = s32[q + k + 1];
      d32[p + k] = (current >>> shift) | (next << back);
      current = next;
    }
  }
  i += n << 2;
  j += n << 2;
  while (i < end) dst[j++] = src[i++];
}

/** Zero-fills `[start, end)`. */
export function zeroBytes(buf: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) buf[i] = 0;
}
