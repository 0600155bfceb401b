// The open-addressing index (tables/hash.ts): after any sequence of inserts and backward-shift removals,
// every present entity is found by its hash and no removed one is, also with colliding hashes.
import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../src/internal.js';
import {
  INDEX_ENTITY,
  INDEX_TAG,
  indexInsert,
  indexRemove,
  indexSizeFor,
  pairIndexInsert,
  pairIndexRemove,
} from '../src/tables/hash.js';

function find(index: Int32Array, hash: number, entity: number): boolean {
  const mask = index.length - 1;
  const tag = hash & INDEX_TAG;
  for (let i = hash & mask; ; i = (i + 1) & mask) {
    const w = index[i];
    if (w === 0) return false;
    if ((w & INDEX_TAG) === tag && (w & INDEX_ENTITY) - 1 === entity) return true;
  }
}

describe('open-addressing index', () => {
  it('proves inserts and backward-shift removals keep every present entity reachable and forget removed ones', () => {
    const capacity = 1000;
    const index = new Int32Array(indexSizeFor(capacity));
    const rnd = createSeededRandom(11);
    // Few distinct home slots, so clusters are long and wrap around the end of the table.
    const hashes = Array.from(
      { length: capacity },
      () => ((rnd.nextUint32() % 64) * 61 + (rnd.nextUint32() & 0xff000000)) | 0,
    );
    const present = new Set<number>();
    for (let step = 0; step < 20_000; step++) {
      const e = rnd.nextUint32() % capacity;
      if (present.has(e)) {
        indexRemove(index, hashes[e], e, (x) => hashes[x]);
        present.delete(e);
      } else if (present.size < capacity) {
        indexInsert(index, hashes[e], e);
        present.add(e);
      }
      if (step % 1000 === 0) {
        for (let x = 0; x < capacity; x++) expect(find(index, hashes[x], x)).toBe(present.has(x));
      }
    }
    expect(index.filter((w) => w !== 0).length).toBe(present.size);
  });

  it('proves a paired index keeps each present entity reachable with its own payload through backward shifts', () => {
    const capacity = 1000;
    const index = new Int32Array(2 * indexSizeFor(capacity));
    const mask = indexSizeFor(capacity) - 1;
    const rnd = createSeededRandom(12);
    const hashes = Array.from(
      { length: capacity },
      () => ((rnd.nextUint32() % 64) * 61 + (rnd.nextUint32() & 0xff000000)) | 0,
    );
    const payloadOf = (e: number): number => (e * 7 + 3) | 0;
    const findPayload = (e: number): number => {
      const word = (hashes[e] & INDEX_TAG) | (e + 1);
      for (let i = hashes[e] & mask; ; i = (i + 1) & mask) {
        if (index[i << 1] === 0) return -1;
        if (index[i << 1] === word) return index[(i << 1) + 1];
      }
    };
    const present = new Set<number>();
    for (let step = 0; step < 20_000; step++) {
      const e = rnd.nextUint32() % capacity;
      if (present.has(e)) {
        pairIndexRemove(index, hashes[e], e, (x) => hashes[x]);
        present.delete(e);
      } else if (present.size < capacity) {
        pairIndexInsert(index, hashes[e], e, payloadOf(e));
        present.add(e);
      }
      if (step % 1000 === 0) {
        for (let x = 0; x < capacity; x++) expect(findPayload(x)).toBe(present.has(x) ? payloadOf(x) : -1);
      }
    }
    expect(index.filter((w, i) => (i & 1) === 0 && w !== 0).length).toBe(present.size);
    expect(index.filter((w, i) => (i & 1) === 1 && w !== 0).length).toBe(present.size);
  });
});
