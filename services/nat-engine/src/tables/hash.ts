// Hashing and backward-shift deletion for the open-addressing indexes of the engine's tables.
// An index is an Int32Array sized to a power of two >= 2x capacity (short probe sequences); each word is
// the top 8 bits of the entry's hash (a tag) | (entity + 1), 0 = empty. The tag lets a probe skip
// entries whose record would otherwise be read just to be rejected (a cache miss each at 1M entries).
// Deletion shifts entries back instead of leaving tombstones. Entities are < 2^24 - 1.
// A paired index (`pairIndexInsert` / `pairIndexRemove`) has two words per slot: the same tag | entity
// word, then a payload the lookup needs next (the session's mapping), so a probe can fetch the entity's
// record and the payload's record at once instead of one after the other.

export const INDEX_TAG = 0xff000000 | 0;
export const INDEX_ENTITY = 0xffffff;
/** Largest number of entities an index can hold. */
export const INDEX_ENTITIES_MAX = INDEX_ENTITY - 1;

/**
 * One key word through a keyed bijection (multiply, xorshift, multiply of word ^ secret). The tables hash
 * a key as finish(xor of scramble(word_i, secret_i)): every word is scrambled independently, so the CPU
 * computes them in parallel. Measured at 1M sessions (bench/nat-engine.bench.ts): the serial `mix` chain
 * over the 7 words of an IPv6 session key cost 6% of the established path in random order, 12% with 10k
 * active flows and 9% of a new session. A key differing in one word always hashes differently before
 * `finish` (each scramble is a bijection).
 * Summing murmur3's block scramble instead (multiply, rotate, multiply) is nearly linear in additive
 * differences: 1M (pool address, port) keys fell into 17k index slots.
 */
export function scramble(word: number, secret: number): number {
  let k = Math.imul(word ^ secret, 0xcc9e2d51);
  k ^= k >>> 15;
  return Math.imul(k, 0x1b873593);
}

/** The per-word secrets of a table set, derived from its hash seed (splitmix32 steps). */
export function deriveSecret(seed: number, i: number): number {
  return finish((seed + Math.imul(i + 1, 0x9e3779b9)) | 0) | 0;
}

export function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Smallest power of two >= 2 * capacity (and >= 16). */
export function indexSizeFor(capacity: number): number {
  let size = 16;
  while (size < capacity * 2) size *= 2;
  return size;
}

/** Inserts `entity` at the first empty slot of its probe sequence. */
export function indexInsert(index: Int32Array, hash: number, entity: number): void {
  const mask = index.length - 1;
  let i = hash & mask;
  while (index[i] !== 0) i = (i + 1) & mask;
  index[i] = (hash & INDEX_TAG) | (entity + 1);
}

/** Removes `entity` (present) and shifts later entries of the cluster back; `hashOf` recomputes a hash. */
export function indexRemove(
  index: Int32Array,
  hash: number,
  entity: number,
  hashOf: (e: number) => number,
): void {
  const mask = index.length - 1;
  const word = (hash & INDEX_TAG) | (entity + 1);
  let i = hash & mask;
  while (index[i] !== word) {
    if (index[i] === 0) throw new Error('assertion failed: entity missing from its index');
    i = (i + 1) & mask;
  }
  let j = i;
  for (;;) {
    j = (j + 1) & mask;
    const w = index[j];
    if (w === 0) break;
    const k = hashOf((w & INDEX_ENTITY) - 1) & mask;
    // The entry at j may move to the hole at i unless its home k lies cyclically in (i, j].
    const stays = i <= j ? k > i && k <= j : k > i || k <= j;
    if (!stays) {
      index[i] = w;
      i = j;
    }
  }
  index[i] = 0;
}

/** Inserts `entity` with its `payload` into a paired index (two words per slot, see the file comment). */
export function pairIndexInsert(index: Int32Array, hash: number, entity: number, payload: number): void {
  const mask = (index.length >> 1) - 1;
  let i = hash & mask;
  while (index[i << 1] !== 0) i = (i + 1) & mask;
  index[i << 1] = (hash & INDEX_TAG) | (entity + 1);
  index[(i << 1) + 1] = payload;
}

/** `indexRemove` for a paired index: entries shift back with their payloads. */
export function pairIndexRemove(
  index: Int32Array,
  hash: number,
  entity: number,
  hashOf: (e: number) => number,
): void {
  const mask = (index.length >> 1) - 1;
  const word = (hash & INDEX_TAG) | (entity + 1);
  let i = hash & mask;
  while (index[i << 1] !== word) {
    if (index[i << 1] === 0) throw new Error('assertion failed: entity missing from its index');
    i = (i + 1) & mask;
  }
  let j = i;
  for (;;) {
    j = (j + 1) & mask;
    const w = index[j << 1];
    if (w === 0) break;
    const k = hashOf((w & INDEX_ENTITY) - 1) & mask;
    const stays = i <= j ? k > i && k <= j : k > i || k <= j;
    if (!stays) {
      index[i << 1] = w;
      index[(i << 1) + 1] = index[(j << 1) + 1];
      i = j;
    }
  }
  index[i << 1] = 0;
  index[(i << 1) + 1] = 0;
}
