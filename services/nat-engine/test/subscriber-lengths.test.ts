// Subscriber prefix lengths by source prefix (subscriber-lengths.ts, RFC 6888 REQ-4 limits are per
// subscriber): an address classified into a table entry takes that entry's length; no table, no entry,
// an entry past the lengths given, or length 0 fall back to the node's length.
import { describe, expect, it } from 'vitest';
import { IPV6_MASKS, SubscriberLengths, type SubscriberLengthTable } from '../src/index.js';

/** Entry 0 for 2001:db8:1::/48, 1 for 2001:db8:2::/48, 2 for 2001:db8:3::/48, none otherwise. */
const table: SubscriberLengthTable & { asked: [number, number][] } = {
  asked: [],
  lookupWords(w0, w1) {
    this.asked.push([w0, w1]);
    if (w0 !== 0x20010db8) return -1;
    const n = w1 >>> 16;
    return n >= 1 && n <= 3 ? n - 1 : -1;
  },
};

describe('SubscriberLengths', () => {
  it('proves without a table every address has the fallback length', () => {
    const rules = new SubscriberLengths();
    expect(rules.table).toBe(null);
    expect(rules.lengthOf(0x20010db8, 0x00010000, 56)).toBe(56);
    rules.set(table, Uint8Array.from([48]));
    rules.set(null);
    expect(rules.table).toBe(null);
    expect(rules.lengths.length).toBe(0);
    expect(rules.lengthOf(0x20010db8, 0x00010000, 60)).toBe(60);
  });

  it("proves an address takes its entry's length, and the fallback for no entry, an entry without a length, or 0", () => {
    const rules = new SubscriberLengths();
    rules.set(table, Uint8Array.from([48, 0]));
    table.asked.length = 0;
    expect(rules.lengthOf(0x20010db8, 0x00010000, 56)).toBe(48);
    expect(table.asked).toEqual([[0x20010db8, 0x00010000]]);
    expect(rules.lengthOf(0x20010db8, 0x00020000, 56)).toBe(56); // length 0: the node's
    expect(rules.lengthOf(0x20010db8, 0x00030000, 56)).toBe(56); // entry 2: no length given
    expect(rules.lengthOf(0x20010db9, 0x00010000, 56)).toBe(56); // no entry
    rules.set(table);
    expect(rules.lengthOf(0x20010db8, 0x00010000, 64)).toBe(64); // a table without lengths
    rules.set(table, Uint8Array.from([128, 64, 1]));
    expect(rules.lengthOf(0x20010db8, 0x00010000, 56)).toBe(128);
    expect(rules.lengthOf(0x20010db8, 0x00020000, 56)).toBe(64);
    expect(rules.lengthOf(0x20010db8, 0x00030000, 56)).toBe(1);
  });

  it('proves a length over 128 is refused and leaves the rules as they were', () => {
    const rules = new SubscriberLengths();
    rules.set(table, Uint8Array.from([48]));
    expect(() => rules.set(null, Uint8Array.from([64, 129]))).toThrow('an IPv6 prefix length is at most 128');
    expect(rules.table).toBe(table);
    expect(rules.lengthOf(0x20010db8, 0x00010000, 56)).toBe(48);
  });

  it('proves the mask table holds every length 0-128 as four words', () => {
    expect(IPV6_MASKS.length).toBe(129 * 4);
    expect(Array.from(IPV6_MASKS.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(IPV6_MASKS.subarray(56 * 4, 57 * 4))).toEqual([0xffffffff, 0xffffff00, 0, 0]);
    expect(Array.from(IPV6_MASKS.subarray(128 * 4))).toEqual([
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
    ]);
  });
});
