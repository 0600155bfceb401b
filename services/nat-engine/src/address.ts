// The engine's number forms of addresses (IPv4 one uint32, IPv6 four big-endian uint32 words) for
// configuration, events and inspection. Control plane only. Text is parsed by the one parser in
// libs/xlat (address.ts); this module only converts its bytes into the engine's words.
import { formatIpv4Address, parseIpv4Address, parseIpv6Address } from '../../../libs/xlat/src/index.js';

/** Parses dotted-quad IPv4 into an unsigned 32-bit number, or returns -1. */
export function parseIpv4(text: string): number {
  return parseIpv4Address(text) ?? -1;
}

export const formatIpv4: (value: number) => string = formatIpv4Address;

/** Parses IPv6 text into four big-endian uint32 words written to `out` at `offset`; false if malformed. */
export function parseIpv6(text: string, out: Uint32Array, offset = 0): boolean {
  const bytes = parseIpv6Address(text);
  if (bytes === null) return false;
  for (let i = 0; i < 4; i++) {
    out[offset + i] =
      ((bytes[4 * i] << 24) | (bytes[4 * i + 1] << 16) | (bytes[4 * i + 2] << 8) | bytes[4 * i + 3]) >>> 0;
  }
  return true;
}

/** Formats four uint32 words (RFC 5952 zero compression not applied: stable, greppable form). */
export function formatIpv6(words: ArrayLike<number>, offset = 0): string {
  const groups: string[] = [];
  for (let i = 0; i < 4; i++) {
    const w = words[offset + i] >>> 0;
    groups.push((w >>> 16).toString(16), (w & 0xffff).toString(16));
  }
  return groups.join(':');
}

/** Writes the mask of an IPv6 prefix length as four uint32 words. */
export function ipv6Mask(prefixLength: number, out: Uint32Array): void {
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, prefixLength - 32 * i));
    out[i] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  }
}
