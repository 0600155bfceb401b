// Text forms of IPv4 (RFC 791 dotted quad) and IPv6 addresses (RFC 4291 sec. 2.2, canonical output
// per RFC 5952) and of prefixes. Control-plane helpers: they allocate and may return null, and are
// not for the packet path. IPv4 addresses are unsigned 32-bit numbers; IPv6 addresses 16 bytes.

/** Parses a dotted-quad IPv4 address into an unsigned 32-bit number, or returns null. */
export function parseIpv4Address(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value >>> 0;
}

export function formatIpv4Address(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

/** Parses an IPv6 address (with an optional embedded dotted quad) into 16 bytes, or returns null. */
export function parseIpv6Address(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45 || text.includes('%')) return null;
  const out = new Uint8Array(16);
  let tailWords: number[] = [];
  const doubleColon = text.indexOf('::');
  if (doubleColon !== text.lastIndexOf('::')) return null;
  let headText = text;
  let tailText = '';
  if (doubleColon >= 0) {
    headText = text.slice(0, doubleColon);
    tailText = text.slice(doubleColon + 2);
  }
  // RFC 4291 sec. 2.2 form 3: a dotted quad is the low-order 32 bits, so it may end the text but
  // never come before '::' (which stands for at least one zero group after it).
  const headWords = parseWords(headText, doubleColon < 0);
  if (headWords === null) return null;
  if (doubleColon >= 0) {
    const parsedTail = parseWords(tailText, true);
    if (parsedTail === null) return null;
    tailWords = parsedTail;
    if (headWords.length + tailWords.length > 7) return null;
  } else if (headWords.length !== 8) {
    return null;
  }
  for (let i = 0; i < headWords.length; i++) {
    out[i * 2] = headWords[i] >>> 8;
    out[i * 2 + 1] = headWords[i] & 255;
  }
  const tailStart = 8 - tailWords.length;
  for (let i = 0; i < tailWords.length; i++) {
    out[(tailStart + i) * 2] = tailWords[i] >>> 8;
    out[(tailStart + i) * 2 + 1] = tailWords[i] & 255;
  }
  return out;
}

/** Parses colon-separated hex words; the last may be a dotted quad when `allowIpv4` (it counts as two). */
function parseWords(text: string, allowIpv4: boolean): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (i === parts.length - 1 && allowIpv4 && part.includes('.')) {
      const v4 = parseIpv4Address(part);
      if (v4 === null) return null;
      words.push(v4 >>> 16, v4 & 0xffff);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
    words.push(Number.parseInt(part, 16));
  }
  return words;
}

/** RFC 5952 canonical text: lower case, longest run (≥ 2) of zero words as '::', first run on ties. */
export function formatIpv6Address(address: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((address[offset + i * 2] << 8) | address[offset + i * 2 + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (w: number) => w.toString(16);
  if (bestStart < 0) return words.map(hex).join(':');
  const left = words.slice(0, bestStart).map(hex).join(':');
  const right = words
    .slice(bestStart + bestLength)
    .map(hex)
    .join(':');
  return `${left}::${right}`;
}

export interface Ipv4Prefix {
  readonly address: number;
  readonly length: number;
}

export interface Ipv6Prefix {
  readonly address: Uint8Array;
  readonly length: number;
}

/** Parse failure with a human reason (the caller prefixes the field name). */
export interface PrefixParseFailure {
  readonly error: string;
}

/** Parses 'a.b.c.d/len' (a bare address is /32). Host bits past the length must be zero. */
export function parseIpv4Prefix(text: string): Ipv4Prefix | PrefixParseFailure {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIpv4Address(addressText);
  if (address === null)
    return { error: `'${text}' is not an IPv4 address or prefix (write e.g. '192.0.2.0/24')` };
  let length = 32;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^[0-9]{1,2}$/.test(lengthText) || Number(lengthText) > 32) {
      return { error: `'${text}' has prefix length '${lengthText}'; an IPv4 prefix length is 0 to 32` };
    }
    length = Number(lengthText);
  }
  if ((address & ~ipv4Mask(length)) >>> 0 !== 0) {
    const network = formatIpv4Address((address & ipv4Mask(length)) >>> 0);
    return { error: `'${text}' has bits set after /${length}; write '${network}/${length}'` };
  }
  return { address, length };
}

/** Parses 'x::/len' (a bare address is /128). Host bits past the length must be zero. */
export function parseIpv6Prefix(text: string): Ipv6Prefix | PrefixParseFailure {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIpv6Address(addressText);
  if (address === null)
    return { error: `'${text}' is not an IPv6 address or prefix (write e.g. '64:ff9b::/96')` };
  let length = 128;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(lengthText) || Number(lengthText) > 128) {
      return { error: `'${text}' has prefix length '${lengthText}'; an IPv6 prefix length is 0 to 128` };
    }
    length = Number(lengthText);
  }
  const masked = new Uint8Array(address);
  maskIpv6(masked, length);
  for (let i = 0; i < 16; i++) {
    if (masked[i] !== address[i]) {
      return {
        error: `'${text}' has bits set after /${length}; write '${formatIpv6Address(masked)}/${length}'`,
      };
    }
  }
  return { address, length };
}

export function isPrefixParseFailure(value: object): value is PrefixParseFailure {
  return 'error' in value;
}

/** Network mask for an IPv4 prefix length, as an unsigned 32-bit number. */
export function ipv4Mask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

/** Clears the bits of `address` after `length` in place. */
export function maskIpv6(address: Uint8Array, length: number): void {
  for (let i = 0; i < 16; i++) {
    const bits = length - i * 8;
    if (bits >= 8) continue;
    address[i] &= bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
}
