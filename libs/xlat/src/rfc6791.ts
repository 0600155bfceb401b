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
