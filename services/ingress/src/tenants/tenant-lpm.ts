// Tenant classification: an IPv6 source address -> the tenant (ISP) whose prefix holds it, by
// longest-prefix match. Tenant prefixes are at most /64, so a prefix is its top two 32-bit words; one
// open-addressing hash table (typed arrays) per distinct prefix length, probed longest length first.
// The packet path reads the address straight from the packet's bytes and allocates nothing.

import assert from 'node:assert/strict';

/** No tenant holds the address. */
export const NO_TENANT = -1;
/** Longest tenant prefix: an ISP's prefix is shorter than (or equal to) the /64 it delegates inside. */
export const TENANT_PREFIX_LENGTH_MAX = 64;

/** One prefix of the table: its top 64 bits as two words, its length, the tenant it maps to. */
export interface TenantPrefixEntry {
  hi: number;
  lo: number;
  length: number;
  tenant: number;
}

/** Mask of the top `bits` bits of a 32-bit word (0..32). */
function wordMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? -1 : (-1 << (32 - bits)) | 0;
}

function hash(hi: number, lo: number): number {
  let h = Math.imul(hi ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(lo ^ 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x27d4eb2f);
  return h ^ (h >>> 13);
}

/** One prefix length's table: keys (hi, lo), value tenant + 1 (0 = empty slot). */
class LengthTable {
  readonly maskHi: number;
  readonly maskLo: number;
  readonly slots: number;
  readonly keys: Int32Array;
  readonly values: Int32Array;

  constructor(
    readonly length: number,
    count: number,
  ) {
    this.maskHi = wordMask(length);
    this.maskLo = wordMask(length - 32);
    let slots = 8;
    while (slots < count * 2) slots *= 2; // load factor at most 1/2: short probe runs
    this.slots = slots;
    this.keys = new Int32Array(slots * 2);
    this.values = new Int32Array(slots);
  }

  insert(hi: number, lo: number, tenant: number): void {
    const mask = this.slots - 1;
    for (let i = hash(hi, lo) & mask; ; i = (i + 1) & mask) {
      if (this.values[i] === 0) {
        this.keys[2 * i] = hi;
        this.keys[2 * i + 1] = lo;
        this.values[i] = tenant + 1;
        return;
      }
      assert.ok(this.keys[2 * i] !== hi || this.keys[2 * i + 1] !== lo, 'a prefix is in the table once');
    }
  }

  /** Tenant of the masked address, or NO_TENANT. */
  find(w0: number, w1: number): number {
    const hi = w0 & this.maskHi;
    const lo = w1 & this.maskLo;
    const mask = this.slots - 1;
    const keys = this.keys;
    const values = this.values;
    for (let i = hash(hi, lo) & mask; ; i = (i + 1) & mask) {
      const v = values[i];
      if (v === 0) return NO_TENANT;
      if (keys[2 * i] === hi && keys[2 * i + 1] === lo) return v - 1;
    }
  }
}

export class TenantPrefixTable {
  /** Per distinct prefix length, longest first (the first hit is the longest match). */
  private readonly tables: LengthTable[];
  readonly prefixCount: number;

  constructor(entries: readonly TenantPrefixEntry[]) {
    const byLength = new Map<number, TenantPrefixEntry[]>();
    for (const entry of entries) {
      assert.ok(
        Number.isInteger(entry.length) && entry.length >= 0 && entry.length <= TENANT_PREFIX_LENGTH_MAX,
        'tenant prefix lengths are 0..64',
      );
      const list = byLength.get(entry.length) ?? [];
      list.push(entry);
      byLength.set(entry.length, list);
    }
    this.tables = [...byLength.keys()]
      .sort((a, b) => b - a)
      .map((length) => {
        const list = byLength.get(length) as TenantPrefixEntry[];
        const table = new LengthTable(length, list.length);
        for (const e of list) table.insert(e.hi & table.maskHi, e.lo & table.maskLo, e.tenant);
        return table;
      });
    this.prefixCount = entries.length;
  }

  /** Tenant holding the IPv6 address `bytes[offset, offset + 16)`, or NO_TENANT. */
  lookup(bytes: Uint8Array, offset: number): number {
    const w0 =
      (bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];
    const w1 =
      (bytes[offset + 4] << 24) | (bytes[offset + 5] << 16) | (bytes[offset + 6] << 8) | bytes[offset + 7];
    return this.lookupWords(w0, w1);
  }

  /** Tenant holding the address whose top 64 bits are (w0, w1), or NO_TENANT. */
  lookupWords(w0: number, w1: number): number {
    const tables = this.tables;
    for (let i = 0; i < tables.length; i++) {
      const tenant = tables[i].find(w0, w1);
      if (tenant !== NO_TENANT) return tenant;
    }
    return NO_TENANT;
  }
}
