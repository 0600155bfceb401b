// RFC 7757 Explicit Address Mappings: an IPv4 prefix paired with an IPv6 prefix whose suffix is at
// least as long (sec. 3.2); the IPv4 suffix bits fill the leading bits of the IPv6 suffix, the rest
// is zero (and ignored on the way back). Lookups are longest-prefix match (sec. 3.3) in either
// direction, allocation-free over a table sorted by prefix length.

/** One validated EAM entry. */
export interface EamEntry {
  /** IPv4 prefix, signed or unsigned 32-bit. */
  readonly ipv4: number;
  readonly ipv4Length: number;
  readonly ipv6: Uint8Array;
  readonly ipv6Length: number;
}

export class EamTable {
  readonly size: number;
  // Struct of arrays, sorted by IPv4 prefix length (descending) for 4->6 lookups.
  // Signed 32-bit (Int32Array): small integers in V8, no heap numbers on the packet path.
  private readonly v4Prefix: Int32Array;
  private readonly v4Mask: Int32Array;
  private readonly v4Order: Int32Array;
  // Sorted by IPv6 prefix length (descending) for 6->4 lookups.
  private readonly v6Order: Int32Array;
  private readonly v6Prefix: Uint8Array;
  private readonly v6Length: Int32Array;
  /** IPv4 suffix bits (32 - IPv4 prefix length), at most the IPv6 suffix (128 - IPv6 prefix length). */
  private readonly suffixBits: Int32Array;

  constructor(entries: readonly EamEntry[]) {
    const n = entries.length;
    this.size = n;
    this.v4Prefix = new Int32Array(n);
    this.v4Mask = new Int32Array(n);
    this.v6Prefix = new Uint8Array(n * 16);
    this.v6Length = new Int32Array(n);
    this.suffixBits = new Int32Array(n);
    entries.forEach((entry, i) => {
      this.v4Prefix[i] = entry.ipv4 | 0;
      this.v4Mask[i] = entry.ipv4Length === 0 ? 0 : -1 << (32 - entry.ipv4Length);
      this.v6Prefix.set(entry.ipv6, i * 16);
      this.v6Length[i] = entry.ipv6Length;
      this.suffixBits[i] = 32 - entry.ipv4Length;
    });
    const indexes = entries.map((_, i) => i);
    this.v4Order = Int32Array.from(
      [...indexes].sort((a, b) => entries[b].ipv4Length - entries[a].ipv4Length),
    );
    this.v6Order = Int32Array.from(
      [...indexes].sort((a, b) => entries[b].ipv6Length - entries[a].ipv6Length),
    );
  }

  /** Writes the mapped IPv6 address of `ipv4` at `out[offset]`; false when no entry matches. */
  map4to6(ipv4: number, out: Uint8Array, offset: number): boolean {
    for (let k = 0; k < this.size; k++) {
      const i = this.v4Order[k];
      if ((ipv4 & this.v4Mask[i]) !== this.v4Prefix[i]) continue;
      const base = i * 16;
      for (let j = 0; j < 16; j++) out[offset + j] = this.v6Prefix[base + j];
      // Copy the suffix: the low `suffixBits` bits of the IPv4 address into the IPv6 bits right after
      // the IPv6 prefix (sec. 3.2); with equal suffix lengths those are the low 32 bits.
      const bits = this.suffixBits[i];
      if (bits > 0) {
        const suffix = bits === 32 ? ipv4 : ipv4 & ((1 << bits) - 1);
        const start = this.v6Length[i];
        if (start + bits === 128) {
          out[offset + 12] |= suffix >>> 24;
          out[offset + 13] |= suffix >>> 16;
          out[offset + 14] |= suffix >>> 8;
          out[offset + 15] |= suffix;
        } else {
          for (let b = 0; b < bits; b++) {
            if (((suffix >>> (bits - 1 - b)) & 1) === 0) continue;
            const position = start + b;
            out[offset + (position >> 3)] |= 0x80 >> (position & 7);
          }
        }
      }
      return true;
    }
    return false;
  }

  /** True when `ipv4` lies inside an entry's IPv4 prefix (RFC 7757 sec. 4: hairpinning). */
  has4(ipv4: number): boolean {
    for (let i = 0; i < this.size; i++) if ((ipv4 & this.v4Mask[i]) === this.v4Prefix[i]) return true;
    return false;
  }

  /** The IPv4 address the last successful `map6to4` produced (signed 32-bit). */
  mapped = 0;

  /** Maps the IPv6 address at `buf[offset]` into `this.mapped`; false when no entry matches. */
  map6to4(buf: Uint8Array, offset: number): boolean {
    for (let k = 0; k < this.size; k++) {
      const i = this.v6Order[k];
      if (!this.matches6(i, buf, offset)) continue;
      const bits = this.suffixBits[i];
      const start = this.v6Length[i];
      let suffix = 0;
      if (bits > 0 && start + bits === 128) {
        const low =
          (buf[offset + 12] << 24) | (buf[offset + 13] << 16) | (buf[offset + 14] << 8) | buf[offset + 15];
        suffix = bits === 32 ? low : low & ((1 << bits) - 1);
      } else {
        // The IPv4 suffix is the `bits` IPv6 bits right after the prefix; later bits are not used.
        for (let b = 0; b < bits; b++) {
          const position = start + b;
          suffix = (suffix << 1) | ((buf[offset + (position >> 3)] >> (7 - (position & 7))) & 1);
        }
      }
      this.mapped = this.v4Prefix[i] | suffix;
      return true;
    }
    return false;
  }

  private matches6(i: number, buf: Uint8Array, offset: number): boolean {
    const length = this.v6Length[i];
    const base = i * 16;
    const whole = length >> 3;
    for (let j = 0; j < whole; j++) if (buf[offset + j] !== this.v6Prefix[base + j]) return false;
    const rest = length & 7;
    if (rest === 0) return true;
    const mask = (0xff << (8 - rest)) & 0xff;
    return (buf[offset + whole] & mask) === this.v6Prefix[base + whole];
  }
}
