// RFC 6052 on text: parse a prefix and embed / extract IPv4 addresses written as strings. For the
// CLI, the NAT engine's configuration and tests; the packet path uses Rfc6052Prefix directly.
import {
  formatIpv4Address,
  formatIpv6Address,
  isPrefixParseFailure,
  parseIpv4Address,
  parseIpv6Prefix,
} from './address.js';
import { XlatConfigError } from './errors.js';
import { Rfc6052Prefix, rfc6052PrefixLengths } from './rfc6052.js';

/** Parses and checks an RFC 6052 prefix; throws XlatConfigError (field `prefix`) when it is not one. */
export function parseRfc6052Prefix(text: string, field = 'prefix'): Rfc6052Prefix {
  const parsed = parseIpv6Prefix(text);
  if (isPrefixParseFailure(parsed)) throw new XlatConfigError(field, parsed.error);
  if (!(rfc6052PrefixLengths as readonly number[]).includes(parsed.length)) {
    throw new XlatConfigError(
      field,
      `'${text}' has length ${parsed.length}; RFC 6052 allows 32, 40, 48, 56, 64 or 96 (e.g. '64:ff9b::/96')`,
    );
  }
  if (parsed.length === 96 && parsed.address[8] !== 0) {
    throw new XlatConfigError(
      field,
      `'${text}' sets bits 64-71, the RFC 6052 "u" octet, which must be zero; clear them`,
    );
  }
  return new Rfc6052Prefix(parsed.address, parsed.length);
}

/** '64:ff9b::/96' + '192.0.2.1' -> '64:ff9b::c000:201'. Throws XlatConfigError on bad input. */
export function embedIpv4(prefix: string | Rfc6052Prefix, ipv4: string | number): string {
  const p = typeof prefix === 'string' ? parseRfc6052Prefix(prefix) : prefix;
  const v4 = typeof ipv4 === 'number' ? ipv4 >>> 0 : parseIpv4Address(ipv4);
  if (v4 === null)
    throw new XlatConfigError('ipv4', `'${ipv4}' is not an IPv4 address; write e.g. '192.0.2.1'`);
  const out = new Uint8Array(16);
  p.embed(v4, out, 0);
  return formatIpv6Address(out);
}

/** The IPv4 address embedded in `ipv6` under `prefix`, or null when `ipv6` is outside it. */
export function extractIpv4(prefix: string | Rfc6052Prefix, ipv6: string | Uint8Array): string | null {
  const p = typeof prefix === 'string' ? parseRfc6052Prefix(prefix) : prefix;
  let bytes: Uint8Array;
  if (typeof ipv6 === 'string') {
    const parsed = parseIpv6Prefix(ipv6);
    if (isPrefixParseFailure(parsed)) return null;
    bytes = parsed.address;
  } else {
    bytes = ipv6;
  }
  return p.matches(bytes, 0) ? formatIpv4Address(p.extract(bytes, 0)) : null;
}
