// Injected randomness (random.ts): the seeded source is sfc32 (Chris Doty-Humphrey's small fast counting
// generator, as in PractRand) with its four words seeded by splitmix32 steps, so a seed replays a run
// exactly; the production source hands out crypto-quality uint32s drawn in batches.
import { describe, expect, it } from 'vitest';
import { createCryptoRandom, createSeededRandom } from '../src/index.js';

const M32 = 0xffffffffn;

/** splitmix32 (golden gamma 0x9e3779b9, murmur3 fmix constants) and sfc32, written out with BigInt. */
function referenceSfc32(seed: number, count: number): number[] {
  let s = BigInt(seed >>> 0);
  const split = (): bigint => {
    s = (s + 0x9e3779b9n) & M32;
    let z = s;
    z = ((z ^ (z >> 16n)) * 0x85ebca6bn) & M32;
    z = ((z ^ (z >> 13n)) * 0xc2b2ae35n) & M32;
    return (z ^ (z >> 16n)) & M32;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = (a + b + d) & M32;
    d = (d + 1n) & M32;
    a = b ^ (b >> 9n);
    b = (c + (c << 3n)) & M32;
    c = ((c << 21n) | (c >> 11n)) & M32;
    c = (c + t) & M32;
    out.push(Number(t));
  }
  return out;
}

describe('seeded random source', () => {
  it('proves the sequence is sfc32 seeded by four splitmix32 steps of the seed', () => {
    for (const seed of [0, 1, 42, 0xdeadbeef, -1]) {
      const random = createSeededRandom(seed);
      const got = Array.from({ length: 50 }, () => random.nextUint32());
      expect(got).toEqual(referenceSfc32(seed, 50));
    }
  });

  it('proves the same seed replays the same values and another seed gives others', () => {
    const a = createSeededRandom(7);
    const b = createSeededRandom(7);
    const c = createSeededRandom(8);
    const va = Array.from({ length: 20 }, () => a.nextUint32());
    expect(Array.from({ length: 20 }, () => b.nextUint32())).toEqual(va);
    expect(Array.from({ length: 20 }, () => c.nextUint32())).not.toEqual(va);
  });
});

describe('crypto random source', () => {
  it('proves it hands out uint32s that vary, across several batches, none missing', () => {
    const random = createCryptoRandom();
    const values = Array.from({ length: 3000 }, () => random.nextUint32());
    for (const v of values) {
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(2 ** 32);
    }
    // 3000 draws from 2^32 values: a repeat is a one-in-a-thousand event; zeros would mean an unfilled batch.
    expect(new Set(values).size).toBeGreaterThan(2990);
    expect(values.slice(0, 1024).filter((v) => v === 0).length).toBeLessThan(2);
    expect(values.slice(1024, 2048).filter((v) => v === 0).length).toBeLessThan(2);
  });
});
