// IPv6 -> virtual shard by subscriber key (DESIGN.md "Sharding"): the source address masked to the
// subscriber prefix length (default /56, a CLAT's /64 or /128 inside it), hashed with a keyed hash into
// the virtual shards. All flows of one subscriber land on one shard, so paired pooling and per-subscriber
// limits need no coordination between shards. Reads the address straight from the packet's bytes.

import assert from 'node:assert/strict';
import { DataplaneError } from '../../../../libs/dataplane/src/index.js';
import { IPV6_MASKS, type SubscriberLengths } from '../../../nat-engine/src/index.js';
import { checkShardCount, VIRTUAL_SHARDS_DEFAULT } from './shard-table.js';

/** Default subscriber prefix length (RFC 6177 / DESIGN.md: a subscriber gets a /56). */
export const SUBSCRIBER_PREFIX_LENGTH_DEFAULT = 56;
/**
 * Default hash key. Every ingress of a cluster must use the same key (the table is shared data); it is a
 * key, not a secret: subscribers do not choose their prefixes, so they cannot aim at one shard.
 */
export const SHARD_HASH_SEED_DEFAULT = 0x5bd1e995;

/** One 32-bit word through a keyed bijection (murmur3's block scramble of word ^ key). */
function scramble(word: number, key: number): number {
  let k = Math.imul(word ^ key, 0xcc9e2d51);
  k ^= k >>> 15;
  return Math.imul(k, 0x1b873593);
}

/** murmur3's finaliser: every input bit reaches every output bit. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class SubscriberShardHash {
  readonly prefixLength: number;
  readonly shardCount: number;
  private readonly shardMask: number;
  private readonly mask = new Int32Array(4);
  private readonly keys = new Int32Array(4);
  /** Per-tenant lengths (the engine configuration's rules); absent or empty: prefixLength for every address. */
  private readonly lengths: SubscriberLengths | null;

  constructor(
    options: { prefixLength?: number; shardCount?: number; seed?: number; lengths?: SubscriberLengths } = {},
  ) {
    const prefixLength = options.prefixLength ?? SUBSCRIBER_PREFIX_LENGTH_DEFAULT;
    if (!Number.isInteger(prefixLength) || prefixLength < 1 || prefixLength > 128) {
      throw new DataplaneError(
        'XLAT64_ERR_CONFIG',
        `nat.subscriberPrefixLength: ${prefixLength}: must be an integer from 1 to 128 (default 56)`,
        { field: 'nat.subscriberPrefixLength' },
      );
    }
    const shardCount = options.shardCount ?? VIRTUAL_SHARDS_DEFAULT;
    checkShardCount(shardCount, 'shards');
    this.prefixLength = prefixLength;
    this.lengths = options.lengths ?? null;
    this.shardCount = shardCount;
    this.shardMask = shardCount - 1;
    for (let i = 0; i < 4; i++) {
      const bits = Math.max(0, Math.min(32, prefixLength - 32 * i));
      this.mask[i] = bits === 0 ? 0 : bits === 32 ? -1 : (-1 << (32 - bits)) | 0;
      this.keys[i] = finish((options.seed ?? SHARD_HASH_SEED_DEFAULT) + Math.imul(i + 1, 0x9e3779b9)) | 0;
    }
  }

  /**
   * The hash's words for a TUN steering program (the same hash in BPF): the subscriber prefix as a mask
   * over the source's four words, and each word's key. Null while tenants set their own subscriber
   * lengths (a longest-prefix match the program does not have).
   */
  steeringWords(): { mask: Int32Array; keys: Int32Array } | null {
    if (this.lengths !== null && this.lengths.table !== null) return null;
    return { mask: this.mask, keys: this.keys };
  }

  /** Virtual shard of the subscriber owning IPv6 address `bytes[offset, offset + 16)` (a packet's source). */
  shardOfAddress(bytes: Uint8Array, offset: number): number {
    const w0 =
      (bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];
    const w1 =
      (bytes[offset + 4] << 24) | (bytes[offset + 5] << 16) | (bytes[offset + 6] << 8) | bytes[offset + 7];
    const w2 =
      (bytes[offset + 8] << 24) | (bytes[offset + 9] << 16) | (bytes[offset + 10] << 8) | bytes[offset + 11];
    const w3 =
      (bytes[offset + 12] << 24) |
      (bytes[offset + 13] << 16) |
      (bytes[offset + 14] << 8) |
      bytes[offset + 15];
    return this.shardOfWords4(w0, w1, w2, w3);
  }

  /** Virtual shard of an address or subscriber prefix given as four big-endian words (as the engine's events carry). */
  shardOfWords(words: ArrayLike<number>): number {
    assert.ok(words.length === 4, 'an IPv6 address is four words');
    return this.shardOfWords4(words[0] | 0, words[1] | 0, words[2] | 0, words[3] | 0);
  }

  private shardOfWords4(w0: number, w1: number, w2: number, w3: number): number {
    const keys = this.keys;
    const lengths = this.lengths;
    if (lengths !== null && lengths.table !== null) {
      // The subscriber's tenant delegates its own length: the key the engine uses (subscriberPrefixOf).
      const at = lengths.lengthOf(w0, w1, this.prefixLength) * 4;
      const m = IPV6_MASKS;
      return (
        finish(
          scramble(w0 & m[at], keys[0]) ^
            scramble(w1 & m[at + 1], keys[1]) ^
            scramble(w2 & m[at + 2], keys[2]) ^
            scramble(w3 & m[at + 3], keys[3]),
        ) & this.shardMask
      );
    }
    const mask = this.mask;
    // Each word scrambled on its own (the CPU computes them in parallel), combined, then finished.
    const h =
      scramble(w0 & mask[0], keys[0]) ^
      scramble(w1 & mask[1], keys[1]) ^
      scramble(w2 & mask[2], keys[2]) ^
      scramble(w3 & mask[3], keys[3]);
    return finish(h) & this.shardMask;
  }
}
