// Subscriber prefix lengths by source prefix (RFC 6888 REQ-4 limits per subscriber; DESIGN.md
// "Sharding"): one ISP delegates /48s, another /56s or /64s, so the subscriber key of an address is its
// ISP's length, not one length for the node. A table (the tenants' longest-prefix match, services/ingress)
// gives an address's entry; `lengths` gives that entry's length (0: the node's subscriberPrefixLength).

import { ipv6Mask } from './address.js';
import { assert } from './errors.js';

/** What classifies an address by the top 64 bits of it: an entry index, or -1 for none. */
export interface SubscriberLengthTable {
  lookupWords(w0: number, w1: number): number;
}

/** Masks of every prefix length 0..128, four words each. */
export const IPV6_MASKS: Uint32Array = (() => {
  const masks = new Uint32Array(129 * 4);
  for (let length = 0; length <= 128; length++) ipv6Mask(length, masks.subarray(length * 4, length * 4 + 4));
  return masks;
})();

/**
 * The rules of one engine configuration, shared by everything keyed by subscriber in a worker (engine,
 * reducer, shard routing) and replaced as a whole on a live tenant change. Plain data (typed arrays), so
 * a state holding its configuration still crosses threads by structured clone.
 */
export class SubscriberLengths {
  table: SubscriberLengthTable | null = null;
  lengths: Uint8Array = new Uint8Array(0);

  /** New rules: entry e of `table` has length `lengths[e]` (0: the node's). Null: the node's for all. */
  set(table: SubscriberLengthTable | null, lengths: Uint8Array = new Uint8Array(0)): void {
    for (const length of lengths) assert(length <= 128, 'an IPv6 prefix length is at most 128');
    this.table = table;
    this.lengths = lengths;
  }

  /** The length of the subscriber owning the address whose top words are (w0, w1), or `fallback`. */
  lengthOf(w0: number, w1: number, fallback: number): number {
    const table = this.table;
    if (table === null) return fallback;
    const entry = table.lookupWords(w0, w1);
    if (entry < 0 || entry >= this.lengths.length) return fallback;
    const length = this.lengths[entry];
    return length === 0 ? fallback : length;
  }
}
