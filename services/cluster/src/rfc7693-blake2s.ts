// Keyed BLAKE2s (RFC 7693) with a 128-bit output, in plain 32-bit JS arithmetic and preallocated
// state, as the fabric's allocation-free MAC: RFC 7693 sec. 2.9 defines keyed BLAKE2 as a MAC (no
// HMAC construction needed). The state after the key block is computed once per key, so a frame of
// up to 64 bytes costs one compression. Checked against Python's hashlib.blake2s in the tests.
import assert from 'node:assert/strict';

const IV = Uint32Array.of(
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
);
/** RFC 7693 sec. 2.7 message schedule, 10 rounds × 16. */
const SIGMA = Uint8Array.of(
  0,
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  12,
  13,
  14,
  15,
  14,
  10,
  4,
  8,
  9,
  15,
  13,
  6,
  1,
  12,
  0,
  2,
  11,
  7,
  5,
  3,
  11,
  8,
  12,
  0,
  5,
  2,
  15,
  13,
  10,
  14,
  3,
  6,
  7,
  1,
  9,
  4,
  7,
  9,
  3,
  1,
  13,
  12,
  11,
  14,
  2,
  6,
  5,
  10,
  4,
  0,
  15,
  8,
  9,
  0,
  5,
  7,
  2,
  4,
  10,
  15,
  14,
  1,
  11,
  12,
  6,
  8,
  3,
  13,
  2,
  12,
  6,
  10,
  0,
  11,
  8,
  3,
  4,
  13,
  7,
  5,
  15,
  14,
  1,
  9,
  12,
  5,
  1,
  15,
  14,
  13,
  4,
  10,
  0,
  7,
  6,
  3,
  9,
  2,
  8,
  11,
  13,
  11,
  7,
  14,
  12,
  1,
  3,
  9,
  5,
  0,
  15,
  4,
  8,
  6,
  2,
  10,
  6,
  15,
  14,
  9,
  11,
  3,
  0,
  8,
  12,
  2,
  13,
  7,
  1,
  4,
  10,
  5,
  10,
  2,
  8,
  4,
  7,
  6,
  1,
  5,
  15,
  11,
  9,
  14,
  3,
  12,
  13,
  0,
);
const BLOCK = 64;
const [IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7] = IV;

/** BLAKE2s keyed with one key, 16-byte tags; one instance per key, reused for every frame. */
export class Blake2sMac {
  static readonly TAG_BYTES = 16;
  /** Chaining state after the key block (computed once). */
  private readonly keyed = new Uint32Array(8);
  private readonly h = new Uint32Array(8);
  private readonly m = new Uint32Array(16);

  constructor(key: Uint8Array) {
    assert.ok(key.length >= 1 && key.length <= 32, 'a BLAKE2s key is 1 to 32 bytes');
    this.keyed.set(IV);
    this.keyed[0] ^= 0x01010000 ^ (key.length << 8) ^ Blake2sMac.TAG_BYTES;
    const block = new Uint8Array(BLOCK);
    block.set(key);
    this.h.set(this.keyed);
    this.loadFull(block, 0);
    this.compress(BLOCK, false);
    this.keyed.set(this.h);
  }

  /** Writes the tag of `input[0..length)` (length ≥ 1) to `out[outOffset..+16)`. Allocation-free. */
  tag(input: Uint8Array, length: number, out: Uint8Array, outOffset: number): void {
    const h = this.h;
    h.set(this.keyed);
    let offset = 0;
    // Every full block but the last; the last block (full or partial) is flagged final.
    while (length - offset > BLOCK) {
      this.loadFull(input, offset);
      offset += BLOCK;
      this.compress(BLOCK + offset, false);
    }
    this.loadPartial(input, offset, length);
    this.compress(BLOCK + length, true);
    for (let i = 0; i < 4; i++) {
      const w = h[i];
      const o = outOffset + i * 4;
      out[o] = w & 0xff;
      out[o + 1] = (w >>> 8) & 0xff;
      out[o + 2] = (w >>> 16) & 0xff;
      out[o + 3] = w >>> 24;
    }
  }

  private loadFull(b: Uint8Array, o: number): void {
    const m = this.m;
    for (let i = 0; i < 16; i++) {
      const p = o + i * 4;
      m[i] = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
    }
  }

  private loadPartial(b: Uint8Array, from: number, to: number): void {
    const m = this.m;
    m.fill(0);
    for (let p = from; p < to; p++) m[(p - from) >>> 2] |= b[p] << (((p - from) & 3) * 8);
  }

  /** RFC 7693 sec. 3.2 compression F (G of sec. 3.1 unrolled into locals); `count` = bytes so far (< 2^32 here). */
  private compress(count: number, last: boolean): void {
    const m = this.m;
    const h = this.h;
    let v0 = h[0],
      v1 = h[1],
      v2 = h[2],
      v3 = h[3],
      v4 = h[4],
      v5 = h[5],
      v6 = h[6],
      v7 = h[7];
    let v8 = IV0,
      v9 = IV1,
      v10 = IV2,
      v11 = IV3,
      v12 = IV4 ^ count,
      v13 = IV5,
      v14 = last ? ~IV6 : IV6,
      v15 = IV7;
    for (let s = 0; s < 160; s += 16) {
      v0 = (v0 + v4 + m[SIGMA[s + 0]]) | 0;
      v12 ^= v0;
      v12 = (v12 >>> 16) | (v12 << 16);
      v8 = (v8 + v12) | 0;
      v4 ^= v8;
      v4 = (v4 >>> 12) | (v4 << 20);
      v0 = (v0 + v4 + m[SIGMA[s + 1]]) | 0;
      v12 ^= v0;
      v12 = (v12 >>> 8) | (v12 << 24);
      v8 = (v8 + v12) | 0;
      v4 ^= v8;
      v4 = (v4 >>> 7) | (v4 << 25);
      v1 = (v1 + v5 + m[SIGMA[s + 2]]) | 0;
      v13 ^= v1;
      v13 = (v13 >>> 16) | (v13 << 16);
      v9 = (v9 + v13) | 0;
      v5 ^= v9;
      v5 = (v5 >>> 12) | (v5 << 20);
      v1 = (v1 + v5 + m[SIGMA[s + 3]]) | 0;
      v13 ^= v1;
      v13 = (v13 >>> 8) | (v13 << 24);
      v9 = (v9 + v13) | 0;
      v5 ^= v9;
      v5 = (v5 >>> 7) | (v5 << 25);
      v2 = (v2 + v6 + m[SIGMA[s + 4]]) | 0;
      v14 ^= v2;
      v14 = (v14 >>> 16) | (v14 << 16);
      v10 = (v10 + v14) | 0;
      v6 ^= v10;
      v6 = (v6 >>> 12) | (v6 << 20);
      v2 = (v2 + v6 + m[SIGMA[s + 5]]) | 0;
      v14 ^= v2;
      v14 = (v14 >>> 8) | (v14 << 24);
      v10 = (v10 + v14) | 0;
      v6 ^= v10;
      v6 = (v6 >>> 7) | (v6 << 25);
      v3 = (v3 + v7 + m[SIGMA[s + 6]]) | 0;
      v15 ^= v3;
      v15 = (v15 >>> 16) | (v15 << 16);
      v11 = (v11 + v15) | 0;
      v7 ^= v11;
      v7 = (v7 >>> 12) | (v7 << 20);
      v3 = (v3 + v7 + m[SIGMA[s + 7]]) | 0;
      v15 ^= v3;
      v15 = (v15 >>> 8) | (v15 << 24);
      v11 = (v11 + v15) | 0;
      v7 ^= v11;
      v7 = (v7 >>> 7) | (v7 << 25);
      v0 = (v0 + v5 + m[SIGMA[s + 8]]) | 0;
      v15 ^= v0;
      v15 = (v15 >>> 16) | (v15 << 16);
      v10 = (v10 + v15) | 0;
      v5 ^= v10;
      v5 = (v5 >>> 12) | (v5 << 20);
      v0 = (v0 + v5 + m[SIGMA[s + 9]]) | 0;
      v15 ^= v0;
      v15 = (v15 >>> 8) | (v15 << 24);
      v10 = (v10 + v15) | 0;
      v5 ^= v10;
      v5 = (v5 >>> 7) | (v5 << 25);
      v1 = (v1 + v6 + m[SIGMA[s + 10]]) | 0;
      v12 ^= v1;
      v12 = (v12 >>> 16) | (v12 << 16);
      v11 = (v11 + v12) | 0;
      v6 ^= v11;
      v6 = (v6 >>> 12) | (v6 << 20);
      v1 = (v1 + v6 + m[SIGMA[s + 11]]) | 0;
      v12 ^= v1;
      v12 = (v12 >>> 8) | (v12 << 24);
      v11 = (v11 + v12) | 0;
      v6 ^= v11;
      v6 = (v6 >>> 7) | (v6 << 25);
      v2 = (v2 + v7 + m[SIGMA[s + 12]]) | 0;
      v13 ^= v2;
      v13 = (v13 >>> 16) | (v13 << 16);
      v8 = (v8 + v13) | 0;
      v7 ^= v8;
      v7 = (v7 >>> 12) | (v7 << 20);
      v2 = (v2 + v7 + m[SIGMA[s + 13]]) | 0;
      v13 ^= v2;
      v13 = (v13 >>> 8) | (v13 << 24);
      v8 = (v8 + v13) | 0;
      v7 ^= v8;
      v7 = (v7 >>> 7) | (v7 << 25);
      v3 = (v3 + v4 + m[SIGMA[s + 14]]) | 0;
      v14 ^= v3;
      v14 = (v14 >>> 16) | (v14 << 16);
      v9 = (v9 + v14) | 0;
      v4 ^= v9;
      v4 = (v4 >>> 12) | (v4 << 20);
      v3 = (v3 + v4 + m[SIGMA[s + 15]]) | 0;
      v14 ^= v3;
      v14 = (v14 >>> 8) | (v14 << 24);
      v9 = (v9 + v14) | 0;
      v4 ^= v9;
      v4 = (v4 >>> 7) | (v4 << 25);
    }
    h[0] ^= v0 ^ v8;
    h[1] ^= v1 ^ v9;
    h[2] ^= v2 ^ v10;
    h[3] ^= v3 ^ v11;
    h[4] ^= v4 ^ v12;
    h[5] ^= v5 ^ v13;
    h[6] ^= v6 ^ v14;
    h[7] ^= v7 ^ v15;
  }
}
