// Hashing and backward-shift deletion for the open-addressing indexes of the engine's tables.
// Indexes hold entity numbers (-1 = empty) in an Int32Array sized to a power of two >= 2x capacity,
// so a probe sequence stays short; deletion shifts entries back instead of leaving tombstones.

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
  while (index[i] !== -1) i = (i + 1) & mask;
  index[i] = entity;
}

/** Removes `entity` (present) and shifts later entries of the cluster back; `hashOf` recomputes a hash. */
export function indexRemove(
  index: Int32Array,
  hash: number,
  entity: number,
  hashOf: (e: number) => number,
): void {
  const mask = index.length - 1;
  let i = hash & mask;
  while (index[i] !== entity) {
    if (index[i] === -1) throw new Error('assertion failed: entity missing from its index');
    i = (i + 1) & mask;
  }
  let j = i;
  for (;;) {
    j = (j + 1) & mask;
    const e = index[j];
    if (e === -1) break;
    const k = hashOf(e) & mask;
    // e may move to the hole at i unless its home k lies cyclically in (i, j].
    const stays = i <= j ? k > i && k <= j : k > i || k <= j;
    if (!stays) {
      index[i] = e;
      i = j;
    }
  }
  index[i] = -1;
}
