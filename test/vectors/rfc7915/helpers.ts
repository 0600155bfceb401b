// Shared addresses and packet shapes for the RFC 7915 golden vectors (cases.ts). Everything is built
// with test/support/build.ts from the RFC rules; nothing here runs the translator.
import {
  formatIpv4,
  formatIpv6,
  type IcmpOptions,
  type Ipv4Options,
  type Ipv6Options,
  icmp,
  ipv4,
  ipv6,
} from '../../support/build.js';

/** The translator prefix of most cases: not checksum-neutral (RFC 6052 sec. 4.1), so L4 checksums must change. */
export const PREFIX = '2001:db8:64::';
export const CONFIG = { prefix: '2001:db8:64::/96' } as const;

/** IPv4 host on the IPv4 side ("server"). */
export const S4 = '192.0.2.1';
/** IPv4 address that represents the IPv6 host. */
export const H4 = '198.51.100.2';
/** IPv4 router that reports errors about packets the IPv6 host sent (4->6 ICMP errors). */
export const R4 = '203.0.113.9';
/** IPv4 address that represents an IPv6 router on the IPv6 side (6->4 ICMP errors). */
export const R6V4 = '198.51.100.254';

/** RFC 6052 /96 mapping inside PREFIX. */
export function a6(v4: string): string {
  return PREFIX + v4;
}

type Partial4 = Partial<Ipv4Options> & Pick<Ipv4Options, 'payload'>;
type Partial6 = Partial<Ipv6Options> & Pick<Ipv6Options, 'payload'>;

/** IPv4 packet arriving from the IPv4 side: S4 -> H4, TTL 64. */
export function in4(o: Partial4): Buffer {
  return ipv4({ src: S4, dst: H4, ttl: 64, ...o });
}

/** Its RFC 7915 sec. 4.1 translation: both addresses in PREFIX, hop limit = TTL - 1, flow label 0. */
export function out6(o: Partial6): Buffer {
  return ipv6({ src: a6(S4), dst: a6(H4), hopLimit: 63, ...o });
}

/** IPv6 packet arriving from the IPv6 side: a6(H4) -> a6(S4), hop limit 64. */
export function in6(o: Partial6): Buffer {
  return ipv6({ src: a6(H4), dst: a6(S4), hopLimit: 64, ...o });
}

/**
 * Its RFC 7915 sec. 5.1 translation: TTL = hop limit - 1, identification 0 (where DF is clear the test masks it: the translator generates it), MF 0, offset 0, and DF
 * set only when the translated packet is longer than 1260 bytes (unless the case says otherwise).
 */
export function out4(o: Partial4): Buffer {
  return ipv4AutoDf({ src: H4, dst: S4, ttl: 63, id: 0, ...o });
}

/** RFC 7915 sec. 5.1 "Flags": DF = 0 if the translated packet is <= 1260 bytes, else 1. */
export function ipv4AutoDf(o: Ipv4Options): Buffer {
  const p = ipv4({ df: false, ...o });
  if (o.df === undefined && p.length > 1260) return ipv4({ ...o, df: true });
  return p;
}

/** An ICMPv4 error from R4 to H4 (4->6 input). */
export function err4in(m: IcmpOptions, o: Partial<Ipv4Options> = {}): Buffer {
  return in4({ src: R4, dst: H4, payload: icmp(m), ...o });
}

/** Its translation: ICMPv6 from a6(R4) to a6(H4). */
export function err6out(m: IcmpOptions, o: Partial<Ipv6Options> = {}): Buffer {
  return out6({ src: a6(R4), dst: a6(H4), payload: icmp(m), ...o });
}

/** An ICMPv6 error from a6(R6V4) to a6(S4) (6->4 input). */
export function err6in(m: IcmpOptions, o: Partial<Ipv6Options> = {}): Buffer {
  return in6({ src: a6(R6V4), dst: a6(S4), payload: icmp(m), ...o });
}

/** Its translation: ICMPv4 from R6V4 to S4. */
export function err4out(m: IcmpOptions, o: Partial<Ipv4Options> = {}): Buffer {
  return out4({ src: R6V4, dst: S4, payload: icmp(m), ...o });
}

/** RFC 1812 sec. 4.3.2.3: an ICMPv4 error quotes as much of the packet as fits in 576 bytes. */
export const ICMP4_ERROR_MAX = 576;
/** RFC 4443 sec. 2.4 (c): an ICMPv6 error must not exceed the minimum IPv6 MTU, 1280. */
export const ICMP6_ERROR_MAX = 1280;

/**
 * The ICMPv4 error a translator sends back for a dropped IPv4 packet (ReplyIcmp), from the
 * translator's own IPv4 address: the contract's `ipv4Address`, by default 192.0.0.8, the IPv4 dummy
 * address of RFC 7600 sec. 4. The translator's other free choices (TOS, identification, flags, TTL
 * and so the header checksum) are masked by the test, see REPLY_MASK4.
 */
export function reply4(input: Buffer, type: number, code: number, rest = 0, src = '192.0.0.8'): Buffer {
  return ipv4({
    src,
    dst: formatIpv4(input, 12),
    ttl: 64,
    payload: icmp({
      type,
      code,
      rest,
      body: input.subarray(0, Math.min(input.length, ICMP4_ERROR_MAX - 28)),
    }),
  });
}

/**
 * The ICMPv6 error sent back for a dropped IPv6 packet, from the contract's `ipv6Address`, by default
 * the dropped packet's destination. Traffic class, flow label and hop limit are masked (REPLY_MASK6).
 */
export function reply6(
  input: Buffer,
  type: number,
  code: number,
  rest = 0,
  src = formatIpv6(input, 24),
): Buffer {
  return ipv6({
    src,
    dst: formatIpv6(input, 8),
    hopLimit: 64,
    payload: icmp({
      type,
      code,
      rest,
      body: input.subarray(0, Math.min(input.length, ICMP6_ERROR_MAX - 48)),
    }),
  });
}

/**
 * Byte ranges of a translator-generated ICMPv4 error that no RFC fixes: TOS (1), identification
 * (4-5), flags/offset (6-7), TTL (8) and the header checksum over them (10-11). The
 * well-formedness check still verifies the header checksum over the real values.
 */
export const REPLY_MASK4: readonly [number, number][] = [
  [1, 2],
  [4, 9],
  [10, 12],
];

/** The same for a generated ICMPv6 error: traffic class and flow label (0-3) and hop limit (7). */
export const REPLY_MASK6: readonly [number, number][] = [
  [0, 4],
  [7, 8],
];
