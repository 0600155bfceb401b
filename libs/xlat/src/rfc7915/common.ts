// State shared by both directions of RFC 7915 translation: the preallocated parse views, the
// address tuples the mapping step decides (RFC 6052/7757 stateless, or a NAT64 session), the reused
// result, and the RFC 1191 sec. 7 MTU plateaus. One XlatState per translator; nothing per packet.
import { Ipv4View, Ipv6View } from '../../../packet/src/index.js';
import type { TranslatorConfig } from '../config.js';
import type { TranslationResult } from '../contract.js';
import { Verdict } from '../verdict.js';

/**
 * Addresses and ports of one translated packet (the outer packet, or the packet quoted in an ICMP
 * error). IPv4 addresses are 32-bit numbers (signed or unsigned; only the low 32 bits count), IPv6
 * addresses 16 bytes. For ICMP queries
 * both ports hold the identifier; the 6->4 direction writes `srcPort`, 4->6 writes `dstPort`
 * (the identifier is the IPv6 side's "port", RFC 6146 sec. 3.5.3).
 */
export class XlatTuple {
  src4 = 0;
  dst4 = 0;
  readonly src6 = new Uint8Array(16);
  readonly dst6 = new Uint8Array(16);
  srcPort = 0;
  dstPort = 0;

  /** Copies every field of `other` into this tuple. */
  copyFrom(other: XlatTuple): void {
    this.src4 = other.src4;
    this.dst4 = other.dst4;
    this.src6.set(other.src6);
    this.dst6.set(other.dst6);
    this.srcPort = other.srcPort;
    this.dstPort = other.dstPort;
  }
}

/**
 * The address decision step: fills `state.outer` (and `state.inner` for an ICMP error) after the
 * packet was parsed and before it is written. Returns 0 or a drop reason. The stateless translator
 * implements it with RFC 6052/7757/6791, the NAT64 lower layer with an already decided session.
 * The packet starts at `input[inStart]`.
 */
export interface AddressPlanner {
  plan46(state: XlatState, input: Uint8Array, inStart: number, icmpError: boolean): number;
  plan64(state: XlatState, input: Uint8Array, inStart: number, icmpError: boolean): number;
}

export class Result implements TranslationResult {
  reason = 0;
  count = 0;
  length = 0;
  hairpinned = false;
  readonly lengths: Int32Array;
  constructor(maxPackets: number) {
    this.lengths = new Int32Array(maxPackets);
  }
}

export class XlatState {
  readonly outer4 = new Ipv4View();
  readonly inner4 = new Ipv4View();
  readonly outer6 = new Ipv6View();
  readonly inner6 = new Ipv6View();
  readonly outer = new XlatTuple();
  readonly inner = new XlatTuple();
  readonly result: Result;
  /** Identification for IPv4 packets that may be fragmented and had no Fragment header (RFC 6864). */
  nextIdentification = 0;
  /** Set by the stateless planner when the outer IPv4 source came from the RFC 6791 pool. */
  usedPool6791 = false;

  constructor(readonly cfg: TranslatorConfig) {
    // Worst case: 65535 bytes cut into the smallest IPv4 fragments mtu4 allows (8-byte multiples).
    const chunk4 = Math.max(8, ((cfg.mtu4 - 20) >> 3) << 3);
    const chunk6 = ((cfg.lowestIpv6Mtu - 48) >> 3) << 3;
    this.result = new Result(Math.ceil(65535 / Math.min(chunk4, chunk6)) + 2);
  }
}

/**
 * Asserts the caller's offsets (a programmer error, not packet content, so it throws): the packet
 * `input[inStart, inStart + inLength)` lies inside `input` and `outStart` inside `output`.
 */
export function assertRanges(
  input: Uint8Array,
  output: Uint8Array,
  inStart: number,
  inLength: number,
  outStart: number,
): void {
  if (
    !(inStart >= 0 && inLength >= 0 && inStart + inLength <= input.length) ||
    !(outStart >= 0 && outStart <= output.length)
  ) {
    throw new RangeError(
      `translate: packet [${inStart}, ${inStart} + ${inLength}) must lie inside the input (${input.length} bytes) ` +
        `and outStart ${outStart} inside the output (${output.length} bytes)`,
    );
  }
}

export function drop(result: Result, reason: number): Verdict {
  result.reason = reason;
  result.count = 0;
  result.length = 0;
  return Verdict.Drop;
}

export function single(result: Result, length: number, verdict: Verdict, reason: number): Verdict {
  result.reason = reason;
  result.count = 1;
  result.length = length;
  result.lengths[0] = length;
  return verdict;
}

/** RFC 1191 sec. 7 table 7-1 plateaus, used when a Fragmentation Needed carries MTU 0. */
export const mtuPlateaus = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68] as const;

/** Largest plateau below the length of the packet that did not fit (RFC 1191 sec. 5). */
export function plateauBelow(totalLength: number): number {
  for (const plateau of mtuPlateaus) if (plateau < totalLength) return plateau;
  return 68;
}

/** RFC 7915 sec. 4.2 figure 3: ICMPv4 Parameter Problem pointer -> ICMPv6 pointer; -1 = drop. */
export const pointer4to6 = Int16Array.of(
  0,
  1,
  4,
  4,
  -1,
  -1,
  -1,
  -1,
  7,
  6,
  -1,
  -1,
  8,
  8,
  8,
  8,
  24,
  24,
  24,
  24,
);

/** RFC 7915 sec. 5.2 figure 6: ICMPv6 Parameter Problem pointer -> ICMPv4 pointer; -1 = drop. */
export function pointer6to4(pointer: number): number {
  if (pointer <= 1) return pointer;
  if (pointer <= 3) return -1;
  if (pointer <= 5) return 2;
  if (pointer === 6) return 9;
  if (pointer === 7) return 8;
  if (pointer <= 23) return 12;
  if (pointer <= 39) return 16;
  return -1;
}

/** Ones-complement sum of an IPv4 address held as an unsigned 32-bit number. */
export function sumAddress4(address: number): number {
  return (address >>> 16) + (address & 0xffff);
}

export function writeAddress6(out: Uint8Array, offset: number, address: Uint8Array): void {
  for (let i = 0; i < 16; i++) out[offset + i] = address[i];
}
