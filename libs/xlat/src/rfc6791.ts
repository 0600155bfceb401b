// RFC 6791 sec. 3: IPv4 source addresses for ICMPv6 errors whose IPv6 source cannot be translated
// (typically a router inside the IPv6 network). The address is chosen by a hash of the untranslatable
// source, so one router always appears as one IPv4 address (stable traceroutes) without state.

export class Pool6791 {
  /** Every address of every configured prefix, flattened (the pool is small by design). */
  private readonly addresses: Int32Array;

  constructor(prefixes: readonly { address: number; length: number }[], maxAddresses = 65536) {
    const list: number[] = [];
    for (const { address, length } of prefixes) {
      const count = 2 ** (32 - length);
      for (let i = 0; i < count && list.length < maxAddresses; i++) list.push((address + i) | 0);
    }
    this.addresses = Int32Array.from(list);
  }

  get size(): number {
    return this.addresses.length;
  }

  /** The pool address (signed 32-bit) for the IPv6 source at `buf[offset]`; the pool must not be empty. */
  pick(buf: Uint8Array, offset: number): number {
    const n = this.addresses.length;
    if (n === 1) return this.addresses[0];
    let hash = 0x811c9dc5;
    for (let i = 0; i < 16; i++) hash = Math.imul(hash ^ buf[offset + i], 0x01000193);
    return this.addresses[(hash >>> 0) % n];
  }
}

/**
 * The IPv6 counterpart for EAM hairpinning (RFC 7757 sec. 4): an ICMPv6 error whose untranslatable
 * source went out through the IPv4 pool and comes straight back as IPv6 takes its source from here,
 * chosen by the same kind of hash of the original source. Prefixes are /112 or longer.
 */
export class Pool6791v6 {
  private readonly prefixes: Uint8Array;
  private readonly sizes: Int32Array;
  readonly size: number;

  constructor(prefixes: readonly { address: Uint8Array; length: number }[]) {
    this.prefixes = new Uint8Array(prefixes.length * 16);
    this.sizes = new Int32Array(prefixes.length);
    let total = 0;
    prefixes.forEach((p, i) => {
      this.prefixes.set(p.address, i * 16);
      this.sizes[i] = 2 ** (128 - p.length);
      total += this.sizes[i];
    });
    this.size = total;
  }

  /** Writes the pool address for the IPv6 source at `buf[offset]` to `out[at]`; the pool must not be empty. */
  pick(buf: Uint8Array, offset: number, out: Uint8Array, at: number): void {
    let hash = 0x811c9dc5;
    for (let i = 0; i < 16; i++) hash = Math.imul(hash ^ buf[offset + i], 0x01000193);
    let index = (hash >>> 0) % this.size;
    let p = 0;
    while (index >= this.sizes[p]) index -= this.sizes[p++];
    for (let i = 0; i < 16; i++) out[at + i] = this.prefixes[p * 16 + i];
    // The host part is at most 16 bits (/112 or longer) and the prefix's own host bits are zero.
    out[at + 14] |= index >>> 8;
    out[at + 15] |= index & 0xff;
  }
}
