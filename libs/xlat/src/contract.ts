// The stateless translator's public contract, shared by its implementation (translator.ts), the
// golden vectors (test/vectors), the fuzz suite (test/fuzz) and `xlat64 translate`.
import type { DropReasonName, Verdict } from './verdict.js';

/** Configuration as an operator writes it (strings); `createTranslator` validates it. */
export interface TranslatorConfigInput {
  /** RFC 6052 prefix, e.g. '64:ff9b::/96'; lengths 32, 40, 48, 56, 64 or 96. */
  prefix: string;
  /** Allow non-global IPv4 (RFC 6052 sec. 3.1) inside 64:ff9b::/96. Default false. Labs use documentation ranges. */
  allowNonGlobalIpv4?: boolean;
  /** RFC 7757 explicit address mappings, e.g. { ipv4: '192.0.0.1/32', ipv6: '2001:db8:1:464::1/128' }. */
  eam?: readonly { ipv4: string; ipv6: string }[];
  /** RFC 6791 IPv4 source addresses for ICMPv6 errors from untranslatable IPv6 sources, e.g. ['192.0.2.0/30']. */
  pool6791?: readonly string[];
  /**
   * RFC 7757 sec. 4 hairpinning: an IPv6 packet whose destination translates to an IPv4 address
   * inside an EAM entry is translated to IPv4 and straight back to IPv6 (v6ToV4 then writes IPv6 and
   * sets `result.hairpinned`), one router hop for the whole. Default true; without EAM entries it
   * never applies.
   */
  eamHairpinning?: boolean;
  /**
   * IPv6 sources (prefixes /112 or longer) for hairpinned ICMPv6 errors whose source could not be
   * mapped (it went out through the RFC 6791 IPv4 pool), e.g. ['2001:db8:6791::/120']. Empty: the
   * IPv4 pool address is mapped back like any other (RFC 6052 prefix or EAM).
   */
  pool6791v6?: readonly string[];
  /**
   * RFC 7915 lowest-ipv6-mtu: IPv4 packets without DF are fragmented to fit it. Default 1280 (or mtu6
   * if smaller). Above mtu6 it is accepted with a warning (`Translator.warnings`) and mtu6 is used.
   */
  lowestIpv6Mtu?: number;
  /** MTU of the IPv6 side (Packet Too Big / fragmentation decisions). Default 1500. */
  mtu6?: number;
  /** MTU of the IPv4 side. Default 1500. */
  mtu4?: number;
  /** IPv4 UDP with checksum 0: 'compute' it (default) or 'drop' it (RFC 7915 sec. 4.5). */
  udpZeroChecksum?: 'compute' | 'drop';
  /**
   * Source of the ICMPv4 errors the translator originates (TTL exceeded, fragmentation needed,
   * source route failed). Default: the first pool6791 address, else 192.0.0.8 (RFC 7600 sec. 4).
   */
  ipv4Address?: string;
  /**
   * Source of the ICMPv6 errors the translator originates (hop limit exceeded, packet too big,
   * parameter problem). Default: the offending packet's destination address.
   */
  ipv6Address?: string;
  /**
   * Identification of unfragmented IPv6->IPv4 packets with DF clear (<= 1260 bytes): 'generate'
   * (default; RFC 7915 sec. 5.1 "Set according to a Fragment Identification generator at the
   * translator", unique per RFC 6864 sec. 4.1) or 'zero' (the RFC 6145 behaviour). Packets with DF
   * set always carry 0 (RFC 6864: an atomic datagram's identification is meaningless).
   */
  identification6to4?: 'generate' | 'zero';
  /**
   * Write 0 instead of copying the IPv4 TOS into the IPv6 Traffic Class and back (RFC 7915 sec. 4.1
   * and 5.1: a translator SHOULD offer this for networks that still use TOS/precedence semantics).
   * Default false: copy.
   */
  ignoreTrafficClass?: boolean;
  /**
   * Answer a packet whose address cannot be mapped (reasons srcaddr46/dstaddr46/srcaddr64/dstaddr64)
   * with ICMPv4 3/13 or ICMPv6 1/1 instead of dropping it silently (RFC 7915 sec. 4.4 and 5.4 SHOULD,
   * "configurable"). The verdict is then ReplyIcmp with the same reason. Default false.
   */
  icmpErrorsForUntranslatable?: boolean;
}

/** Filled by every translate call; one object per translator, reused (no allocation per packet). */
export interface TranslationResult {
  /** Reason of a Drop or ReplyIcmp verdict; 0 ('none') on Translate. */
  reason: number;
  /** Number of packets written back to back from `outStart` (more than 1 when fragmenting). */
  count: number;
  /** Byte length of each written packet, `lengths[0 .. count-1]`. */
  readonly lengths: Int32Array;
  /** Total bytes written. */
  length: number;
  /**
   * The stateless translator sets it on every call: true after a v6ToV4 call whose output is IPv6,
   * the packet was hairpinned (RFC 7757 sec. 4). Other implementations may leave it out.
   */
  hairpinned?: boolean;
}

/**
 * Offsets, the same for every translate call here and in the stateful translator (stateful.ts):
 * `(input, output[, tuple], inStart = 0, inLength = input.length - inStart, outStart = 0)`.
 * - The packet is `input[inStart, inStart + inLength)`; nothing outside it is read, so a caller can
 *   pass a whole batch buffer and the packet's place in it.
 * - Output packets are written back to back from `output[outStart]`; `result.lengths` are their
 *   lengths, and no byte of `output` outside `[outStart, outStart + result.length)` is written (none
 *   at all on a Drop). `output.length - outStart` must be at least `inLength + 2048` (fragmentation
 *   adds headers); with less, a packet that does not fit is dropped as buffer46/buffer64.
 * - The input and output ranges must not overlap (the packet is read after output is written).
 * - Offsets outside the arrays are a programmer error: the call throws a RangeError.
 */
export interface Translator {
  readonly result: TranslationResult;
  /** Settings accepted but adjusted (e.g. lowestIpv6Mtu above mtu6), one sentence each, for the caller to log. */
  readonly warnings: readonly string[];
  /**
   * Translate one whole IPv4 packet, `input[inStart, inStart + inLength)`, into `output` from
   * `outStart` on (see above; by default `input` is exactly the packet and output starts at 0).
   * Never throws on packet content.
   */
  v4ToV6(
    input: Uint8Array,
    output: Uint8Array,
    inStart?: number,
    inLength?: number,
    outStart?: number,
  ): Verdict;
  /** Translate one whole IPv6 packet; same rules as v4ToV6. */
  v6ToV4(
    input: Uint8Array,
    output: Uint8Array,
    inStart?: number,
    inLength?: number,
    outStart?: number,
  ): Verdict;
}

export type { DropReasonName };
