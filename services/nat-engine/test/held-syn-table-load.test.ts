// Proves the held-SYN table (RFC 6146 sec. 3.5.2.2) answers exactly under load: with every slot held,
// each held SYN is found by its own id however long its probe sequence, and tens of thousands of absent
// keys that differ from the held ones in one field only (the IPv4 address, a port, the remote) are never
// taken for one of them, though many share the index tag of an entry on their way; after removing
// every other entry the rest are still found and the removed ones are gone.
import { describe, expect, it } from 'vitest';
import { HeldSynTable } from '../src/tables/held-syn-table.js';

const POOL = 0xcb007101; // 203.0.113.1
const REMOTE = 0xc6336401; // 198.51.100.1
const N = 2048;

type Key = [local4: number, localPort: number, remote4: number, remotePort: number];

/** N held keys that vary in field `f` only, and the absent keys of the same kind. */
function keysVarying(f: number, from: number, count: number): Key[] {
  const keys: Key[] = [];
  for (let i = 0; i < count; i++) {
    const k: Key = [POOL, 40000, REMOTE, 80];
    k[f] = f === 0 || f === 2 ? (k[f] + from + i) >>> 0 : (from + i) & 0xffff;
    keys.push(k);
  }
  return keys;
}

describe('held SYN table under load', () => {
  for (const [f, name] of [
    [0, 'local IPv4 address'],
    [1, 'local port'],
    [2, 'remote IPv4 address'],
    [3, 'remote port'],
  ] as const) {
    it(`finds each of ${N} held SYNs that differ in the ${name} only, and none of the absent ones`, () => {
      const t = new HeldSynTable(N, 0);
      const held = keysVarying(f, 0, N);
      const ids = held.map((k) => t.add(...k, 6000));
      expect(new Set(ids).size).toBe(N);
      expect(ids.every((h) => h >= 0 && h < N)).toBe(true);
      expect(t.count).toBe(N);
      expect(t.add(POOL, 1, REMOTE, 1, 6000)).toBe(-1);
      for (let i = 0; i < N; i++) expect(t.find(...held[i])).toBe(ids[i]);
      // Ports have 65536 values: the absent ones are the rest of the port space.
      const absent = keysVarying(f, N, f === 1 || f === 3 ? 65536 - N : 60000);
      let found = 0;
      for (const k of absent) if (t.find(...k) !== -1) found++;
      expect(found).toBe(0);
      // Every other one removed: the rest survive the backward shifts.
      for (let i = 0; i < N; i += 2) t.remove(ids[i]);
      expect(t.count).toBe(N / 2);
      for (let i = 0; i < N; i++) expect(t.find(...held[i])).toBe(i % 2 === 0 ? -1 : ids[i]);
    });
  }
});
