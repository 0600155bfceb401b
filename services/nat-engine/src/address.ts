// IPv4 and IPv6 text <-> number conversion for configuration and events. Control plane only:
// the packet path hands the engine numbers (IPv4 as one uint32, IPv6 as 4 x uint32, big-endian words).

/** Parses dotted-quad IPv4 into an unsigned 32-bit number, or returns -1. */
export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return -1;
    const octet = Number(part);
    if (octet > 255) return -1;
    value = value * 256 + octet;
  }
  return value >>> 0;
}

export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Parses IPv6 text into four big-endian uint32 words written to `out` at `offset`; false if malformed. */
export function parseIpv6(text: string, out: Uint32Array, offset = 0): boolean {
  if (text.length === 0 || text.length > 45) return false;
  let head = text;
  let tail = '';
  const gap = text.indexOf('::');
  if (gap >= 0) {
    if (text.indexOf('::', gap + 1) >= 0) return false;
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const result: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (v4 < 0) return null;
        result.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
        result.push(Number.parseInt(item, 16));
      }
    }
    return result;
  };
  const h = groups(head);
  const t = groups(tail);
  if (h === null || t === null) return false;
  let words: number[];
  if (gap >= 0) {
    if (h.length + t.length > 7) return false;
    words = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  } else {
    if (h.length !== 8) return false;
    words = h;
  }
  for (let i = 0; i < 4; i++) out[offset + i] = ((words[2 * i] << 16) | words[2 * i + 1]) >>> 0;
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
