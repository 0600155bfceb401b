// Proves copyBytes copies exactly `src[from, from + length)` to `dst[at, ...)` and writes no other
// byte, on both of its paths (the byte loop up to 128 bytes, the range view above), for views at odd
// byte offsets of odd-length buffers, and for two views of one buffer with overlapping ranges.
import { describe, expect, it } from 'vitest';
import { copyBytes } from '../src/index.js';

/** Deterministic filler (a 32-bit LCG), so a failure names reproducible bytes. */
function filled(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

describe('copyBytes', () => {
  it('between two buffers, for views at several offsets and lengths 0..260 (byte loop, view): the range and nothing else', () => {
    // Odd-length ArrayBuffers and views at odd offsets.
    const srcBacking = filled(1023, 1);
    const dstBacking = new ArrayBuffer(1021);
    for (const srcOffset of [0, 1, 3]) {
      const src = new Uint8Array(srcBacking.buffer, srcOffset);
      for (const dstOffset of [0, 2, 3]) {
        const dst = new Uint8Array(dstBacking, dstOffset);
        for (let length = 0; length <= 260; length += length < 20 ? 1 : 7) {
          for (let from = 0; from < 4; from++) {
            for (const at of [0, 1, 2, 3, 5]) {
              // The source range also reaches the very end of the source buffer.
              const start = from === 3 ? src.length - length : from;
              const canary = filled(dst.length, length * 31 + at);
              dst.set(canary);
              copyBytes(src, start, dst, at, length);
              const expected = Uint8Array.from(canary);
              expected.set(src.subarray(start, start + length), at);
              const where = `srcOffset ${srcOffset} dstOffset ${dstOffset} length ${length} from ${start} at ${at}`;
              expect(Buffer.compare(dst, expected), where).toBe(0);
            }
          }
        }
      }
    }
  });

  it('inside one ArrayBuffer (two views of it), overlapping both ways above the loop size, like copyWithin; and the loop with the destination first', () => {
    const backing = filled(4096, 7);
    for (const [from, at, length] of [
      [100, 140, 300],
      [140, 100, 300],
      [0, 1, 200],
      [1, 0, 200],
      [40, 0, 50],
    ] as const) {
      const buffer = Uint8Array.from(backing);
      const src = new Uint8Array(buffer.buffer, 10);
      const dst = new Uint8Array(buffer.buffer, 3);
      const expected = Uint8Array.from(buffer);
      expected.copyWithin(3 + at, 10 + from, 10 + from + length);
      copyBytes(src, from, dst, at, length);
      expect(Buffer.compare(buffer, expected), `from ${from} at ${at} length ${length}`).toBe(0);
    }
  });
});
