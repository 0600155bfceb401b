// Proves the Internet checksum matches RFC 1071 and that the RFC 1624 incremental update equals a
// full recomputation for arbitrary field changes (including the 0x0000/0xffff corner cases).
import { describe, expect, it } from 'vitest';
import { checksum, checksumAdjust, checksumFinish, sumWords } from '../src/index.js';

function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

describe('Internet checksum', () => {
  it('matches the RFC 1071 sec. 3 worked example (sum 0xddf2)', () => {
    const bytes = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(sumWords(bytes, 0, bytes.length, 0)).toBe(0xddf2);
    expect(checksum(bytes, 0, bytes.length)).toBe(~0xddf2 & 0xffff);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(checksum(Uint8Array.of(0x12, 0x34, 0x56), 0, 3)).toBe(~(0x1234 + 0x5600) & 0xffff);
  });

  it('sums a 64 KiB buffer of 0xff without losing carries', () => {
    const bytes = new Uint8Array(65534).fill(0xff);
    expect(checksumFinish(sumWords(bytes, 0, bytes.length, 0))).toBe(0);
    // An odd length pads the last 0xff with zero: 0xffff + 0xff00 folds to 0xff00.
    expect(checksumFinish(sumWords(new Uint8Array(65535).fill(0xff), 0, 65535, 0))).toBe(0x00ff);
  });

  it('incremental update (RFC 1624 eqn. 3) equals recomputation for random word changes', () => {
    const next = rand(7);
    for (let round = 0; round < 2000; round++) {
      const bytes = new Uint8Array(40);
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
      bytes[10] = 0;
      bytes[11] = 0;
      const before = checksum(bytes, 0, bytes.length);
      const at = 2 * (next() % 20);
      if (at === 10) continue;
      const oldWord = (bytes[at] << 8) | bytes[at + 1];
      const newWord = round % 50 === 0 ? 0xffff - oldWord : next() & 0xffff;
      bytes[at] = newWord >> 8;
      bytes[at + 1] = newWord & 0xff;
      const full = checksum(bytes, 0, bytes.length);
      const incremental = checksumAdjust(before, oldWord, newWord);
      // Both are valid encodings; RFC 1624 eqn. 3 never produces the -0 ambiguity of eqn. 2.
      expect(incremental).toBe(full);
    }
  });
});
