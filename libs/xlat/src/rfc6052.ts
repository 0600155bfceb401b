// RFC 6052 IPv4-embedded IPv6 addresses: sec. 2.2 address format for prefix lengths 32, 40, 48,
// 56, 64 and 96 (bits 64–71, the "u" octet, are zero), and sec. 3.1: the Well-Known Prefix
// 64:ff9b::/96 must not carry non-global IPv4 addresses. Hot-path functions work on byte offsets.

/** The prefix lengths RFC 6052 sec. 2.2 allows. */
export const rfc6052PrefixLengths = [32, 40, 48, 56, 64, 96] as const;

/** 64:ff9b::/96, the Well-Known Prefix (RFC 6052 sec. 2.1). */
export const wellKnownPrefix: Uint8Array = Uint8Array.of(
  0,
  0x64,
  0xff,
  0x9b,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
);

/**
 * Byte positions of the four IPv4 octets inside the IPv6 address, per prefix length (sec. 2.2,
 * figure 1): the octets skip byte 8, the "u" octet.
 */
const octetPositions: Record<number, readonly [number, number, number, number]> = {
  32: [4, 5, 6, 7],
  40: [5, 6, 7, 9],
  48: [6, 7, 9, 10],
  56: [7, 9, 10, 11],
  64: [9, 10, 11, 12],
  96: [12, 13, 14, 15],
};

/** A validated RFC 6052 prefix, precomputed for allocation-free embedding and extraction. */
export class Rfc6052Prefix {
  readonly prefix: Uint8Array;
  readonly length: number;
  readonly isWellKnown: boolean;
  private readonly p0: number;
  private readonly p1: number;
  private readonly p2: number;
  private readonly p3: number;
  /** Number of whole prefix bytes to compare (length / 8). */
  private readonly prefixBytes: number;

  /** `prefix` must already be checked: a length from `rfc6052PrefixLengths`, no bits after it. */
  constructor(prefix: Uint8Array, length: number) {
    const positions = octetPositions[length];
    if (positions === undefined || prefix.length !== 16) {
      throw new RangeError(`RFC 6052 prefix length ${length} is not 32, 40, 48, 56, 64 or 96`);
    }
    this.prefix = new Uint8Array(prefix);
    this.length = length;
    this.prefixBytes = length >> 3;
    [this.p0, this.p1, this.p2, this.p3] = positions;
    this.isWellKnown = length === 96 && equalBytes(this.prefix, 0, wellKnownPrefix, 0, 12);
  }

  /** Writes the IPv6 address embedding `ipv4` (signed or unsigned 32-bit) at `out[offset]` (sec. 2.2). */
  embed(ipv4: number, out: Uint8Array, offset: number): void {
    const prefix = this.prefix;
    for (let i = 0; i < 16; i++) out[offset + i] = prefix[i];
    out[offset + this.p0] = ipv4 >>> 24;
    out[offset + this.p1] = ipv4 >>> 16;
    out[offset + this.p2] = ipv4 >>> 8;
    out[offset + this.p3] = ipv4;
  }

  /** True when the 16 bytes at `buf[offset]` start with this prefix. */
  matches(buf: Uint8Array, offset: number): boolean {
    const prefix = this.prefix;
    for (let i = 0; i < this.prefixBytes; i++) if (buf[offset + i] !== prefix[i]) return false;
    return true;
  }

  /**
   * The embedded IPv4 address as a signed 32-bit integer (`>>> 0` for unsigned). Only meaningful
   * when `matches(buf, offset)`; a signed result keeps the packet path free of heap numbers.
   */
  extract(buf: Uint8Array, offset: number): number {
    return (
      (buf[offset + this.p0] << 24) |
      (buf[offset + this.p1] << 16) |
      (buf[offset + this.p2] << 8) |
      buf[offset + this.p3]
    );
  }
}

function equalBytes(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

/**
 * False for the non-global IPv4 ranges that sec. 3.1 keeps out of the Well-Known Prefix: RFC 1918,
 * the RFC 5735 sec. 3 special-use blocks (this network, loopback, link-local, IETF protocol
 * assignments, documentation, 6to4 relay anycast, benchmarking, multicast, reserved, broadcast)
 * and RFC 6598 shared address space. 192.0.0.9 and 192.0.0.10 are globally reachable (RFC 7723,
 * RFC 8155) and stay allowed.
 */
export function isGlobalIpv4(address: number): boolean {
  const a = address >>> 24;
  const b = (address >>> 16) & 0xff;
  const c = (address >>> 8) & 0xff;
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false; // 0/8, 10/8, 127/8, 224/4, 240/4
  if (a === 100 && b >= 64 && b < 128) return false; // 100.64/10
  if (a === 169 && b === 254) return false; // 169.254/16
  if (a === 172 && b >= 16 && b < 32) return false; // 172.16/12
  if (a === 192) {
    if (b === 168) return false; // 192.168/16
    if (b === 0 && c === 0) {
      const d = address & 0xff;
      return d === 9 || d === 10; // 192.0.0/24
    }
    if (b === 0 && c === 2) return false; // 192.0.2/24
    if (b === 88 && c === 99) return false; // 192.88.99/24
  }
  if (a === 198 && (b === 18 || b === 19)) return false; // 198.18/15
  if (a === 198 && b === 51 && c === 100) return false; // 198.51.100/24
  if (a === 203 && b === 0 && c === 113) return false; // 203.0.113/24
  return true;
}
