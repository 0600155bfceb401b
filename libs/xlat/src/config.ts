// Validation of the translator configuration (contract.ts TranslatorConfigInput) into the
// preprocessed form the packet path reads. Every refusal is an XlatConfigError naming the field,
// what was wrong and the fix (CONVENTIONS.md 10; DESIGN.md "bad config").
import {
  isPrefixParseFailure,
  parseIpv4Address,
  parseIpv4Prefix,
  parseIpv6Address,
  parseIpv6Prefix,
} from './address.js';
import type { TranslatorConfigInput } from './contract.js';
import { XlatConfigError } from './errors.js';
import { Rfc6052Prefix, rfc6052PrefixLengths } from './rfc6052.js';
import { Pool6791, Pool6791v6 } from './rfc6791.js';
import { type EamEntry, EamTable } from './rfc7757.js';

/** RFC 7600 sec. 4: 192.0.0.8, the IPv4 dummy address a translator may source ICMPv4 errors from. */
export const IPV4_DUMMY_ADDRESS = 0xc0000008 | 0;

/** Validated configuration, read by the packet path. */
export interface TranslatorConfig {
  readonly prefix: Rfc6052Prefix;
  readonly allowNonGlobalIpv4: boolean;
  readonly eam: EamTable;
  readonly pool6791: Pool6791;
  /** RFC 7757 sec. 4 hairpinning: sources for ICMPv6 errors whose source could not be mapped. */
  readonly pool6791v6: Pool6791v6;
  /** RFC 7757 sec. 4: IPv6 packets whose destination maps to an EAM IPv4 address come back as IPv6. */
  readonly eamHairpinning: boolean;
  readonly lowestIpv6Mtu: number;
  readonly mtu6: number;
  readonly mtu4: number;
  readonly udpZeroChecksumCompute: boolean;
  /** Source of ICMPv4 errors the translator originates (ReplyIcmp from v4ToV6), signed 32-bit. */
  readonly ipv4Address: number;
  /** Source of ICMPv6 errors the translator originates, or null: use the offending packet's destination. */
  readonly ipv6Address: Uint8Array | null;
  /** True: DF-clear unfragmented 6->4 packets get identifications from a counter; false: 0. */
  readonly generateIdentification: boolean;
  /** True: traffic class / TOS written as 0 instead of copied. */
  readonly ignoreTrafficClass: boolean;
  /** True: unmappable addresses are answered with an ICMP error (sec. 4.4, 5.4). */
  readonly icmpErrorsForUntranslatable: boolean;
  /** Settings accepted but adjusted, one sentence each naming the field (the caller logs them). */
  readonly warnings: readonly string[];
}

function fail(field: string, message: string): never {
  throw new XlatConfigError(field, message);
}

function mtu(field: string, value: unknown, fallback: number, minimum: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > 65535) {
    fail(field, `${JSON.stringify(value)} is not an MTU; write an integer from ${minimum} to 65535 (bytes)`);
  }
  return value;
}

export function validateConfig(input: TranslatorConfigInput): TranslatorConfig {
  if (input === null || typeof input !== 'object')
    fail('config', 'missing; pass an object with at least { prefix }');
  if (typeof input.prefix !== 'string') {
    fail(
      'prefix',
      `${JSON.stringify(input.prefix)} is not a prefix; write an RFC 6052 prefix such as '64:ff9b::/96'`,
    );
  }
  const parsed = parseIpv6Prefix(input.prefix);
  if (isPrefixParseFailure(parsed)) fail('prefix', parsed.error);
  if (!(rfc6052PrefixLengths as readonly number[]).includes(parsed.length)) {
    fail(
      'prefix',
      `'${input.prefix}' has length ${parsed.length}; RFC 6052 allows 32, 40, 48, 56, 64 or 96 (e.g. '64:ff9b::/96')`,
    );
  }
  if (parsed.length === 96 && parsed.address[8] !== 0) {
    fail(
      'prefix',
      `'${input.prefix}' sets bits 64-71, the RFC 6052 "u" octet, which must be zero; clear them`,
    );
  }
  const prefix = new Rfc6052Prefix(parsed.address, parsed.length);

  const allowNonGlobalIpv4 = input.allowNonGlobalIpv4 ?? false;
  if (typeof allowNonGlobalIpv4 !== 'boolean') {
    fail('allowNonGlobalIpv4', `${JSON.stringify(allowNonGlobalIpv4)} is not a boolean; write true or false`);
  }

  const eamEntries: EamEntry[] = [];
  (input.eam ?? []).forEach((entry, i) => {
    const field = `eam[${i}]`;
    if (
      entry === null ||
      typeof entry !== 'object' ||
      typeof entry.ipv4 !== 'string' ||
      typeof entry.ipv6 !== 'string'
    ) {
      fail(field, `must be { ipv4: '192.0.2.1/32', ipv6: '2001:db8::1/128' }`);
    }
    const v4 = parseIpv4Prefix(entry.ipv4);
    if (isPrefixParseFailure(v4)) fail(`${field}.ipv4`, v4.error);
    const v6 = parseIpv6Prefix(entry.ipv6);
    if (isPrefixParseFailure(v6)) fail(`${field}.ipv6`, v6.error);
    if (32 - v4.length > 128 - v6.length) {
      fail(
        field,
        `'${entry.ipv4}' leaves ${32 - v4.length} suffix bits but '${entry.ipv6}' leaves only ${128 - v6.length}; ` +
          `RFC 7757 sec. 3.2 needs an IPv6 suffix at least as long as the IPv4 one (e.g. /${v4.length} with /${96 + v4.length} or shorter)`,
      );
    }
    for (let j = 0; j < eamEntries.length; j++) {
      const other = eamEntries[j];
      if (other.ipv4 === v4.address && other.ipv4Length === v4.length) {
        fail(
          `${field}.ipv4`,
          `'${entry.ipv4}' is already mapped by eam[${j}]; remove one of the two entries`,
        );
      }
      if (other.ipv6Length === v6.length && other.ipv6.every((b, k) => b === v6.address[k])) {
        fail(
          `${field}.ipv6`,
          `'${entry.ipv6}' is already mapped by eam[${j}]; remove one of the two entries`,
        );
      }
    }
    eamEntries.push({ ipv4: v4.address, ipv4Length: v4.length, ipv6: v6.address, ipv6Length: v6.length });
  });

  const poolPrefixes: { address: number; length: number }[] = [];
  (input.pool6791 ?? []).forEach((text, i) => {
    const field = `pool6791[${i}]`;
    if (typeof text !== 'string')
      fail(field, `${JSON.stringify(text)} is not an IPv4 prefix; write e.g. '192.0.2.0/30'`);
    const p = parseIpv4Prefix(text);
    if (isPrefixParseFailure(p)) fail(field, p.error);
    if (p.length < 16)
      fail(field, `'${text}' is larger than /16; an RFC 6791 pool needs only a few addresses`);
    poolPrefixes.push(p);
  });

  const pool6Prefixes: { address: Uint8Array; length: number }[] = [];
  (input.pool6791v6 ?? []).forEach((text, i) => {
    const field = `pool6791v6[${i}]`;
    if (typeof text !== 'string')
      fail(field, `${JSON.stringify(text)} is not an IPv6 prefix; write e.g. '2001:db8:6791::/120'`);
    const p = parseIpv6Prefix(text);
    if (isPrefixParseFailure(p)) fail(field, p.error);
    if (p.length < 112)
      fail(field, `'${text}' is larger than /112; an RFC 6791 pool needs only a few addresses`);
    pool6Prefixes.push(p);
  });
  const eamHairpinning = input.eamHairpinning ?? true;
  if (typeof eamHairpinning !== 'boolean') {
    fail('eamHairpinning', `${JSON.stringify(eamHairpinning)} is not a boolean; write true or false`);
  }

  const mtu6 = mtu('mtu6', input.mtu6, 1500, 1280);
  const mtu4 = mtu('mtu4', input.mtu4, 1500, 68);
  const warnings: string[] = [];
  let lowestIpv6Mtu = mtu('lowestIpv6Mtu', input.lowestIpv6Mtu, Math.min(1280, mtu6), 1280);
  if (lowestIpv6Mtu > mtu6) {
    // Operators copy lowest-ipv6-mtu from other translators; a packet larger than mtu6 cannot leave
    // anyway, so the smaller value is the one that works (RFC 7915 sec. 4).
    warnings.push(
      `lowestIpv6Mtu: ${lowestIpv6Mtu} exceeds mtu6 ${mtu6}; using ${mtu6} (set lowestIpv6Mtu to at most mtu6 to silence this)`,
    );
    lowestIpv6Mtu = mtu6;
  }

  const zero = input.udpZeroChecksum ?? 'compute';
  if (zero !== 'compute' && zero !== 'drop') {
    fail(
      'udpZeroChecksum',
      `${JSON.stringify(zero)} is not a policy; write 'compute' or 'drop' (RFC 7915 sec. 4.5)`,
    );
  }

  let ipv4Address = IPV4_DUMMY_ADDRESS;
  if (input.ipv4Address !== undefined) {
    const v = typeof input.ipv4Address === 'string' ? parseIpv4Address(input.ipv4Address) : null;
    if (v === null)
      fail(
        'ipv4Address',
        `${JSON.stringify(input.ipv4Address)} is not an IPv4 address; write e.g. '192.0.2.1'`,
      );
    ipv4Address = v | 0;
  } else if (poolPrefixes.length > 0) {
    ipv4Address = poolPrefixes[0].address | 0;
  }
  let ipv6Address: Uint8Array | null = null;
  if (input.ipv6Address !== undefined) {
    const v = typeof input.ipv6Address === 'string' ? parseIpv6Address(input.ipv6Address) : null;
    if (v === null)
      fail(
        'ipv6Address',
        `${JSON.stringify(input.ipv6Address)} is not an IPv6 address; write e.g. '2001:db8::1'`,
      );
    ipv6Address = v;
  }

  const identification = input.identification6to4 ?? 'generate';
  if (identification !== 'generate' && identification !== 'zero') {
    fail(
      'identification6to4',
      `${JSON.stringify(identification)} is not a choice; write 'generate' (RFC 7915 sec. 5.1) or 'zero' (RFC 6145)`,
    );
  }

  const ignoreTrafficClass = input.ignoreTrafficClass ?? false;
  if (typeof ignoreTrafficClass !== 'boolean') {
    fail('ignoreTrafficClass', `${JSON.stringify(ignoreTrafficClass)} is not a boolean; write true or false`);
  }

  const icmpErrorsForUntranslatable = input.icmpErrorsForUntranslatable ?? false;
  if (typeof icmpErrorsForUntranslatable !== 'boolean') {
    fail(
      'icmpErrorsForUntranslatable',
      `${JSON.stringify(icmpErrorsForUntranslatable)} is not a boolean; write true or false`,
    );
  }

  return {
    prefix,
    allowNonGlobalIpv4,
    eam: new EamTable(eamEntries),
    pool6791: new Pool6791(poolPrefixes),
    pool6791v6: new Pool6791v6(pool6Prefixes),
    eamHairpinning,
    lowestIpv6Mtu,
    mtu6,
    mtu4,
    udpZeroChecksumCompute: zero === 'compute',
    ipv4Address,
    ipv6Address,
    generateIdentification: identification === 'generate',
    ignoreTrafficClass,
    icmpErrorsForUntranslatable,
    warnings,
  };
}
