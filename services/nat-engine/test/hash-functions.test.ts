// The hash functions of the tables (tables/hash.ts) against their published definitions: `finish` is
// MurmurHash3's fmix32 and `mix` its x86_32 block step, checked with the MurmurHash3_x86_32 test vectors
// (a 4-byte key k under seed s hashes to fmix32(mix(s, k) ^ 4), an empty key to fmix32(s)); index sizes
// are powers of two at least twice the capacity; removing an entity that is not there is a programmer error.
import { describe, expect, it } from 'vitest';
import {
  deriveSecret,
  finish,
  indexInsert,
  indexRemove,
  indexSizeFor,
  mix,
  pairIndexInsert,
  pairIndexRemove,
  scramble,
} from '../src/tables/hash.js';

const murmur4 = (key: number, seed: number) => finish(mix(seed, key) ^ 4) >>> 0;

describe('MurmurHash3 steps', () => {
  it('proves fmix32 and the block step give the MurmurHash3_x86_32 test vectors', () => {
    // Empty key: the hash is fmix32(seed ^ 0).
    expect(finish(0) >>> 0).toBe(0);
    expect(finish(1) >>> 0).toBe(0x514e28b7);
    expect(finish(0xffffffff | 0) >>> 0).toBe(0x81f16f39);
    // Four bytes 21 43 65 87 read little-endian as the block 0x87654321.
    expect(murmur4(0x87654321 | 0, 0)).toBe(0xf55b516b);
    expect(murmur4(0x87654321 | 0, 0x5082edee)).toBe(0x2362f9de);
    expect(murmur4(0, 0)).toBe(0x2362f9de);
    // "aaaa" under seed 0x9747b28c.
    expect(murmur4(0x61616161, 0x9747b28c | 0)).toBe(0x5a97808a);
  });

  it('proves the per-word scramble separates words and secrets (a bijection of word ^ secret)', () => {
    const outputs = new Set<number>();
    for (let w = 0; w < 50_000; w++) outputs.add(scramble(w, 0x1234567));
    expect(outputs.size).toBe(50_000);
    expect(scramble(5, 1)).not.toBe(scramble(5, 2));
    // word ^ secret is what is scrambled: swapping them gives the same value.
    expect(scramble(0x1234, 0xabcd)).toBe(scramble(0xabcd, 0x1234));
    expect(scramble(0, 0)).toBe(0);
  });

  it('proves the secrets are fmix32 of the seed advanced by i + 1 golden-ratio steps (splitmix32)', () => {
    for (const seed of [0, 1, 0x5eed, -7]) {
      for (let i = 0; i < 6; i++) {
        const advanced = Number((BigInt(seed >>> 0) + BigInt(i + 1) * 0x9e3779b9n) & 0xffffffffn) | 0;
        expect(deriveSecret(seed, i)).toBe(finish(advanced) | 0);
      }
    }
    const secrets = new Set(Array.from({ length: 6 }, (_, i) => deriveSecret(99, i)));
    expect(secrets.size).toBe(6);
  });
});

describe('index sizes and removal', () => {
  it('proves an index has the smallest power of two >= 2 x capacity, and at least 16 slots', () => {
    expect(indexSizeFor(0)).toBe(16);
    expect(indexSizeFor(1)).toBe(16);
    expect(indexSizeFor(8)).toBe(16);
    expect(indexSizeFor(9)).toBe(32);
    expect(indexSizeFor(16)).toBe(32);
    expect(indexSizeFor(17)).toBe(64);
    expect(indexSizeFor(1000)).toBe(2048);
    expect(indexSizeFor(1024)).toBe(2048);
    expect(indexSizeFor(1025)).toBe(4096);
  });

  it('proves an entry word is the hash tag | entity + 1 at the home slot, and removing a missing entity throws', () => {
    const index = new Int32Array(16);
    indexInsert(index, 0x7a000003, 4);
    expect(index[3]).toBe(0x7a000005);
    indexInsert(index, 0x7b000003, 5);
    expect(index[4]).toBe(0x7b000006);
    // Wraps around the end.
    indexInsert(index, 0x1000000f, 0);
    indexInsert(index, 0x1100000f, 1);
    expect(index[15]).toBe(0x10000001);
    expect(index[0]).toBe(0x11000002);
    const hashes = [0x1000000f, 0x1100000f, 0, 0, 0x7a000003, 0x7b000003];
    expect(() => indexRemove(index, 0x7c000003, 6, (e) => hashes[e])).toThrow(
      'entity missing from its index',
    );
    // Removing the cluster's head shifts its follower back into the home slot.
    indexRemove(index, 0x7a000003, 4, (e) => hashes[e]);
    expect(index[3]).toBe(0x7b000006);
    expect(index[4]).toBe(0);
    // Removing across the wrap moves the entry at slot 0 back to slot 15.
    indexRemove(index, 0x1000000f, 0, (e) => hashes[e]);
    expect(index[15]).toBe(0x11000002);
    expect(index[0]).toBe(0);
  });

  it('proves a paired index keeps the payload next to its entry and shifts both back together', () => {
    const index = new Int32Array(32);
    pairIndexInsert(index, 0x20000005, 0, 111);
    pairIndexInsert(index, 0x21000005, 1, 222);
    expect(Array.from(index.subarray(10, 14))).toEqual([0x20000001, 111, 0x21000002, 222]);
    const hashes = [0x20000005, 0x21000005];
    expect(() => pairIndexRemove(index, 0x22000005, 2, (e) => hashes[e])).toThrow(
      'entity missing from its index',
    );
    pairIndexRemove(index, 0x20000005, 0, (e) => hashes[e]);
    expect(Array.from(index.subarray(10, 14))).toEqual([0x21000002, 222, 0, 0]);
  });

  it('proves backward-shift removal keeps or moves each follower by where its home lies, also across the wrap', () => {
    // A 16-slot index; entity e has home slot homes[e] and tag e << 24.
    const run = (homes: number[], remove: number, paired: boolean) => {
      const width = paired ? 2 : 1;
      const index = new Int32Array(16 * width);
      const hashOf = (e: number) => (e << 24) | homes[e];
      for (let e = 0; e < homes.length; e++) {
        if (paired) pairIndexInsert(index, hashOf(e), e, 100 + e);
        else indexInsert(index, hashOf(e), e);
      }
      if (paired) pairIndexRemove(index, hashOf(remove), remove, hashOf);
      else indexRemove(index, hashOf(remove), remove, hashOf);
      const slots: number[] = [];
      for (let i = 0; i < 16; i++)
        slots.push(index[i * width] === 0 ? -1 : (index[i * width] & 0xffffff) - 1);
      if (paired)
        for (let i = 0; i < 16; i++) if (slots[i] >= 0) expect(index[i * 2 + 1]).toBe(100 + slots[i]);
      return slots;
    };
    const at = (slots: number[], ...pairs: [number, number][]) => {
      const expected = new Array(16).fill(-1);
      for (const [slot, e] of pairs) expected[slot] = e;
      expect(slots).toEqual(expected);
    };
    for (const paired of [false, true]) {
      // Entities: 0 home 14 (slot 14), 1 home 14 (15), 2 home 0 (0), 3 home 14 (1). Removing 0: 1 moves
      // to 14; 2 stays at its home 0 (past the wrap); 3 moves to 15.
      at(run([14, 14, 0, 14], 0, paired), [14, 1], [15, 3], [0, 2]);
      // 0 home 14 (14), 1 home 15 (15), 2 home 15 (0). Removing 0: 1 and 2 both stay (homes after the hole).
      at(run([14, 15, 15], 0, paired), [15, 1], [0, 2]);
      // 0 home 3 (3), 1 home 4 (4), 2 home 3 (5). Removing 0: 1 stays at its home, 2 moves to 3.
      at(run([3, 4, 3], 0, paired), [3, 2], [4, 1]);
      // 0 home 15 (15), 1 home 0 (0), 2 home 15 (1). Removing 1 (hole at 0, no wrap): 2 moves to 0.
      at(run([15, 0, 15], 1, paired), [15, 0], [0, 2]);
    }
  });
});
