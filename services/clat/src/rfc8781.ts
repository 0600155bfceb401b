// RFC 8781: the PREF64 option of IPv6 router advertisements (type 38, length 2: a 13-bit lifetime
// in units of 8 s, a 3-bit prefix length code 0-5 for /96 /64 /56 /48 /40 /32, the highest 96 bits
// of the prefix), and the walk over an RA's options (RFC 4861 sec. 4.2, 4.6) that finds them.
// Malformed input is a value naming the reason, never an exception (control plane, allocates).
import assert from 'node:assert/strict';
import { formatIpv6Address } from '../../../libs/xlat/src/index.js';

export const PREF64_OPTION_TYPE = 38;
export const PREF64_OPTION_BYTES = 16;
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
/** RFC 8781 sec. 4: the lifetime is scaled by 8 s and has 13 bits, so at most 8191 * 8 = 65528 s. */
export const PREF64_LIFETIME_UNIT_SECONDS = 8;
export const PREF64_SCALED_LIFETIME_MAX = 0x1fff;
/** Prefix length code (PLC) -> prefix length, RFC 8781 sec. 4; codes 6 and 7 are invalid. */
export const pref64LengthByCode = [96, 64, 56, 48, 40, 32] as const;

export interface Pref64Option {
  /** The prefix in text, e.g. '64:ff9b::/96'; bits past the length are cleared. */
  readonly prefix: string;
  readonly address: Uint8Array;
  readonly length: number;
  /** 0 means: stop using this prefix now (RFC 8781 sec. 4). */
  readonly lifetimeSeconds: number;
}

/** Why an RA or one of its PREF64 options was ignored; each is a counter `ra.malformed.<reason>`. */
export const raMalformedReasons = [
  'short', // shorter than the 16-byte RA header
  'code', // ICMPv6 code not 0 (RFC 4861 sec. 6.1.2)
  'optionzero', // an option with length 0 (RFC 4861 sec. 4.6: the whole RA is discarded)
  'optiontruncated', // an option runs past the end of the message
  'pref64length', // a PREF64 option whose length is not 2 (16 bytes)
  'pref64plc', // prefix length code 6 or 7
] as const;
export type RaMalformedReason = (typeof raMalformedReasons)[number];

export interface RaProblem {
  readonly reason: RaMalformedReason;
  readonly why: string;
}

export interface ParsedRouterAdvertisement {
  /** Router lifetime from the header, in seconds. */
  readonly routerLifetimeSeconds: number;
  readonly pref64: Pref64Option[];
  /** Problems found; with `discarded` the RA as a whole was dropped (pref64 is then empty). */
  readonly problems: RaProblem[];
  readonly discarded: boolean;
}

export type Pref64Decoded = { readonly option: Pref64Option } | { readonly problem: RaProblem };

/** Decodes the PREF64 option that starts at `bytes[offset]` (its type byte). */
export function decodePref64Option(bytes: Uint8Array, offset: number): Pref64Decoded {
  assert.equal(bytes[offset], PREF64_OPTION_TYPE, 'decodePref64Option: not a PREF64 option');
  const units = bytes[offset + 1];
  if (units !== 2) {
    return {
      problem: {
        reason: 'pref64length',
        why: `PREF64 option length ${units} (x8 bytes); RFC 8781 sec. 4 fixes it at 2`,
      },
    };
  }
  if (offset + PREF64_OPTION_BYTES > bytes.length) {
    return { problem: { reason: 'optiontruncated', why: 'PREF64 option runs past the end of the RA' } };
  }
  const word = (bytes[offset + 2] << 8) | bytes[offset + 3];
  const code = word & 0x7;
  const length = pref64LengthByCode[code];
  if (length === undefined) {
    return {
      problem: {
        reason: 'pref64plc',
        why: `prefix length code ${code}; RFC 8781 sec. 4 defines 0-5 (/96 /64 /56 /48 /40 /32)`,
      },
    };
  }
  const address = new Uint8Array(16);
  for (let i = 0; i < 12; i++) address[i] = bytes[offset + 4 + i];
  clearBitsAfter(address, length);
  return {
    option: {
      prefix: `${formatIpv6Address(address)}/${length}`,
      address,
      length,
      lifetimeSeconds: (word >>> 3) * PREF64_LIFETIME_UNIT_SECONDS,
    },
  };
}

/**
 * Encodes a PREF64 option into `out` at `offset` (16 bytes). The lifetime is rounded up to the next
 * multiple of 8 s and capped at 65528 s (RFC 8781 sec. 4). Returns `out`.
 */
export function encodePref64Option(
  option: { address: Uint8Array; length: number; lifetimeSeconds: number },
  out: Uint8Array = new Uint8Array(PREF64_OPTION_BYTES),
  offset = 0,
): Uint8Array {
  const code = (pref64LengthByCode as readonly number[]).indexOf(option.length);
  assert.ok(code >= 0, `PREF64 length ${option.length} is not one of ${pref64LengthByCode.join(', ')}`);
  assert.ok(option.lifetimeSeconds >= 0, 'PREF64 lifetime must not be negative');
  assert.ok(out.length >= offset + PREF64_OPTION_BYTES, 'PREF64 option does not fit');
  const scaled = Math.min(
    PREF64_SCALED_LIFETIME_MAX,
    Math.ceil(option.lifetimeSeconds / PREF64_LIFETIME_UNIT_SECONDS),
  );
  const word = (scaled << 3) | code;
  out[offset] = PREF64_OPTION_TYPE;
  out[offset + 1] = 2;
  out[offset + 2] = word >>> 8;
  out[offset + 3] = word & 0xff;
  const masked = new Uint8Array(option.address);
  clearBitsAfter(masked, option.length);
  for (let i = 0; i < 12; i++) out[offset + 4 + i] = masked[i];
  return out;
}

/**
 * Parses an ICMPv6 router advertisement as a raw ICMPv6 socket delivers it (from the ICMPv6 type,
 * no IPv6 header) and collects its PREF64 options. Returns null for other ICMPv6 types.
 */
export function parseRouterAdvertisement(message: Uint8Array): ParsedRouterAdvertisement | null {
  if (message.length < 1 || message[0] !== ICMPV6_ROUTER_ADVERTISEMENT) return null;
  const discard = (problem: RaProblem): ParsedRouterAdvertisement => ({
    routerLifetimeSeconds: 0,
    pref64: [],
    problems: [problem],
    discarded: true,
  });
  if (message.length < 16) {
    return discard({ reason: 'short', why: `RA of ${message.length} bytes; the header alone is 16` });
  }
  if (message[1] !== 0) return discard({ reason: 'code', why: `ICMPv6 code ${message[1]}; an RA has 0` });
  const pref64: Pref64Option[] = [];
  const problems: RaProblem[] = [];
  let offset = 16;
  while (offset < message.length) {
    if (offset + 2 > message.length) {
      return discard({ reason: 'optiontruncated', why: `option header at byte ${offset} is cut off` });
    }
    const units = message[offset + 1];
    if (units === 0) {
      return discard({
        reason: 'optionzero',
        why: `option type ${message[offset]} at byte ${offset} has length 0 (RFC 4861 sec. 4.6)`,
      });
    }
    if (offset + units * 8 > message.length) {
      return discard({
        reason: 'optiontruncated',
        why: `option type ${message[offset]} at byte ${offset} claims ${units * 8} bytes, ${message.length - offset} left`,
      });
    }
    if (message[offset] === PREF64_OPTION_TYPE) {
      const decoded = decodePref64Option(message, offset);
      if ('option' in decoded) pref64.push(decoded.option);
      else problems.push(decoded.problem);
    }
    offset += units * 8;
  }
  return {
    routerLifetimeSeconds: (message[6] << 8) | message[7],
    pref64,
    problems,
    discarded: false,
  };
}

function clearBitsAfter(address: Uint8Array, length: number): void {
  for (let bit = length; bit < 128; bit++) address[bit >> 3] &= ~(0x80 >> (bit & 7));
}
