// Proves the held-SYN table (tables/held-syn-table.ts, RFC 6146 sec. 3.5.2.2) entry by entry: a held SYN
// is found by its exact four-part key and by no key differing in one part, heldSynsMax entries fill it
// (the next add answers -1), a removed entry frees its id for the next add and removing it again changes
// nothing, and its wheel visits it at the first tick after its 6 s expiry.
import { describe, expect, it } from 'vitest';
import { HeldSynTable } from '../src/tables/held-syn-table.js';

const POOL = 0xcb007101; // 203.0.113.1
const REMOTE = 0xc6336401; // 198.51.100.1

describe('held SYN table', () => {
  it('finds a held SYN by its exact key only', () => {
    const t = new HeldSynTable(4, 0);
    expect(t.find(POOL, 40000, REMOTE, 80)).toBe(-1);
    const h = t.add(POOL, 40000, REMOTE, 80, 6000);
    expect(h).toBeGreaterThanOrEqual(0);
    expect(t.isUsed(h)).toBe(true);
    expect(t.count).toBe(1);
    expect(t.expiresAtMs[h]).toBe(6000);
    expect(t.find(POOL, 40000, REMOTE, 80)).toBe(h);
    expect(t.find(POOL + 1, 40000, REMOTE, 80)).toBe(-1);
    expect(t.find(POOL, 40001, REMOTE, 80)).toBe(-1);
    expect(t.find(POOL, 40000, REMOTE + 1, 80)).toBe(-1);
    expect(t.find(POOL, 40000, REMOTE, 81)).toBe(-1);
  });

  it("holds heldSynsMax SYNs, refuses the next, and reuses a removed one's id", () => {
    const t = new HeldSynTable(3, 0);
    const ids = [0, 1, 2].map((i) => t.add(POOL, 40000 + i, REMOTE, 80, 6000));
    expect(new Set(ids).size).toBe(3);
    expect(t.add(POOL, 40003, REMOTE, 80, 6000)).toBe(-1);
    expect(t.count).toBe(3);
    t.remove(ids[1]);
    expect(t.isUsed(ids[1])).toBe(false);
    expect(t.count).toBe(2);
    expect(t.find(POOL, 40001, REMOTE, 80)).toBe(-1);
    // The others are still found after the removal's backward shift.
    expect(t.find(POOL, 40000, REMOTE, 80)).toBe(ids[0]);
    expect(t.find(POOL, 40002, REMOTE, 80)).toBe(ids[2]);
    t.remove(ids[1]);
    expect(t.count).toBe(2);
    expect(t.add(POOL, 40003, REMOTE, 80, 7000)).toBe(ids[1]);
    expect(t.add(POOL, 40004, REMOTE, 80, 7000)).toBe(-1);
    expect(t.find(POOL, 40003, REMOTE, 80)).toBe(ids[1]);
  });

  it('puts each held SYN on its wheel for the first tick after its expiry, and takes a removed one off', () => {
    const t = new HeldSynTable(2, 0);
    const a = t.add(POOL, 40000, REMOTE, 80, 6000);
    const b = t.add(POOL, 40001, REMOTE, 80, 6500);
    t.remove(b);
    const seen: number[] = [];
    t.wheel.advance(6999, (h) => seen.push(h));
    expect(seen).toEqual([]);
    t.wheel.advance(7000, (h) => seen.push(h));
    expect(seen).toEqual([a]);
  });
});
