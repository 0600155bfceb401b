// The RFC 7915 / RFC 6052 / RFC 7757 / RFC 6791 / RFC 4884 golden vector table. Each case names the
// RFC section and the requirement it tests, the direction (46 = IPv4->IPv6, 64 = IPv6->IPv4), the
// translator configuration, the expected verdict and reason, and builds its input and expected
// output packets by hand from the RFC rules with test/support/build.ts. The generator
// (../generate.ts) writes them to <id>.in / <id>.expected; rfc7915.test.ts replays them.
import type { TranslatorConfigInput } from '../../../libs/xlat/src/contract.js';
import type { DropReasonName } from '../../../libs/xlat/src/verdict.js';
import {
  embed6052,
  filler,
  fragment4,
  fragment6,
  icmp,
  icmpEcho,
  icmpExtension,
  ipv4,
  ipv6,
  type L4,
  pad,
  padTo,
  raw,
  tcp,
  udp,
} from '../../support/build.js';
import {
  a6,
  CONFIG,
  err4in,
  err4out,
  err6in,
  err6out,
  H4,
  in4,
  in6,
  ipv4AutoDf,
  out4,
  out6,
  reply4,
  reply6,
  S4,
} from './helpers.js';

export type VerdictName = 'Translate' | 'Drop' | 'ReplyIcmp';

export interface VectorCase {
  id: string;
  /** e.g. 'RFC 7915 4.2'. */
  section: string;
  /** The requirement, quoted short from the RFC (or the reasoning when the RFC leaves a choice). */
  requirement: string;
  direction: 46 | 64;
  config: TranslatorConfigInput;
  verdict: VerdictName;
  reason: DropReasonName;
  /** Input packet and the expected output packets (empty for Drop). */
  build: () => { input: Buffer; expected: Buffer[] };
}

export const cases: VectorCase[] = [];

function add(c: VectorCase): void {
  if (cases.some((x) => x.id === c.id)) throw new Error(`duplicate case id ${c.id}`);
  cases.push(c);
}

function translate(
  id: string,
  section: string,
  requirement: string,
  direction: 46 | 64,
  build: () => { input: Buffer; expected: Buffer[] },
  config: TranslatorConfigInput = CONFIG,
): void {
  add({ id, section, requirement, direction, config, verdict: 'Translate', reason: 'none', build });
}

function drop(
  id: string,
  section: string,
  requirement: string,
  direction: 46 | 64,
  reason: DropReasonName,
  input: () => Buffer,
  config: TranslatorConfigInput = CONFIG,
): void {
  add({
    id,
    section,
    requirement,
    direction,
    config,
    verdict: 'Drop',
    reason,
    build: () => ({ input: input(), expected: [] }),
  });
}

function reply(
  id: string,
  section: string,
  requirement: string,
  direction: 46 | 64,
  reason: DropReasonName,
  input: () => Buffer,
  expected: (input: Buffer) => Buffer,
  config: TranslatorConfigInput = CONFIG,
): void {
  add({
    id,
    section,
    requirement,
    direction,
    config,
    verdict: 'ReplyIcmp',
    reason,
    build: () => {
      const i = input();
      return { input: i, expected: [expected(i)] };
    },
  });
}

const one = (input: Buffer, expected: Buffer) => ({ input, expected: [expected] });
/** A builder's own sanity check on the shape a case needs (sizes the requirement depends on). */
function assertShape(condition: boolean): void {
  if (!condition) throw new Error('vector builder: a packet does not have the size the case needs');
}

/** A small UDP datagram used wherever the transport does not matter. */
const UDP = (): L4 => udp({ srcPort: 40001, dstPort: 53, payload: filler(20, 1) });
const TCP = (payload = 33): L4 =>
  tcp({
    srcPort: 40002,
    dstPort: 443,
    seq: 0x11223344,
    ack: 0x55667788,
    flags: 0x18,
    payload: filler(payload, 2),
  });

// ---------------------------------------------------------------------------------------------
// RFC 7915 sec. 4.1: IPv4 header -> IPv6 header
// ---------------------------------------------------------------------------------------------

translate(
  '46-udp-basic',
  'RFC 7915 4.1',
  'IPv6 header fields: version 6, payload length = total length - header, next header copied, addresses mapped; UDP checksum updated (4.5)',
  46,
  () => one(in4({ payload: UDP() }), out6({ payload: UDP() })),
);
translate(
  '46-tcp-basic',
  'RFC 7915 4.1, 4.5',
  'TCP translated; checksum recalculated because the mapping is not checksum-neutral',
  46,
  () => {
    const t = () => tcp({ options: Buffer.from([2, 4, 5, 0xb4, 1, 1, 4, 2]), payload: filler(100, 3) });
    return one(in4({ id: 0x1111, df: true, payload: t() }), out6({ payload: t() }));
  },
);
translate(
  '46-tos-to-traffic-class',
  'RFC 7915 4.1',
  'Traffic Class: "By default, copied from the IP Type Of Service (TOS) octet"; Flow Label: "0 (all zero bits)"',
  46,
  () => one(in4({ tos: 0xb9, payload: UDP() }), out6({ trafficClass: 0xb9, flowLabel: 0, payload: UDP() })),
);
translate(
  '46-ttl-2-decremented',
  'RFC 7915 4.1',
  'Hop Limit: the translator, as a router, decrements the TTL; TTL 2 leaves as hop limit 1',
  46,
  () => one(in4({ ttl: 2, payload: UDP() }), out6({ hopLimit: 1, payload: UDP() })),
);
reply(
  '46-ttl-1-time-exceeded',
  'RFC 7915 4.1',
  'Hop Limit: "the translator (as any router) MUST check for zero and send the ICMPv4 "TTL Exceeded" ... error"',
  46,
  'ttl46',
  () => in4({ ttl: 1, payload: UDP() }),
  (i) => reply4(i, 11, 0),
);
reply(
  '46-ttl-1-time-exceeded-large',
  'RFC 7915 4.1; RFC 1812 4.3.2.3',
  'TTL exceeded for a 1400-byte packet: the ICMPv4 error quotes as much as fits in 576 bytes',
  46,
  'ttl46',
  () => in4({ ttl: 1, df: true, payload: TCP(1360) }),
  (i) => reply4(i, 11, 0),
);
reply(
  '46-ttl-1-time-exceeded-own-address',
  'RFC 7915 4.1, 4.4',
  "The ICMPv4 error comes from the translator's configured IPv4 address (contract option ipv4Address)",
  46,
  'ttl46',
  () => in4({ ttl: 1, payload: TCP() }),
  (i) => reply4(i, 11, 0, 0, '203.0.113.1'),
  { ...CONFIG, ipv4Address: '203.0.113.1' },
);
reply(
  '46-ttl-1-time-exceeded-pool6791-address',
  'RFC 7915 4.4; RFC 6791',
  'Without ipv4Address the translator sources its ICMPv4 errors from the first RFC 6791 pool address',
  46,
  'ttl46',
  () => in4({ ttl: 1, payload: TCP() }),
  (i) => reply4(i, 11, 0, 0, '203.0.113.7'),
  { ...CONFIG, pool6791: ['203.0.113.7/32'] },
);
drop(
  '46-ttl-1-icmp-error-no-reply',
  'RFC 7915 4.4; RFC 1812 4.3.2.7',
  'An expiring ICMPv4 error is dropped without an ICMP error about it ("unless the discarded packet is itself an ICMPv4 error message")',
  46,
  'ttl46',
  () => err4in({ type: 3, code: 3, body: ipv4({ src: H4, dst: S4, payload: UDP() }) }, { ttl: 1 }),
);
translate(
  '46-df-small-no-fragment-header',
  'RFC 7915 4',
  'DF set and small: "an IPv6 Fragment Header is only included if the IPv4 packet is already fragmented"',
  46,
  () => one(in4({ df: true, id: 0x4321, payload: TCP() }), out6({ payload: TCP() })),
);
translate(
  '46-nodf-small-no-fragment-header',
  'RFC 7915 4',
  '"When the IPv4 sender does not set the DF bit, the translator MUST NOT include the Fragment Header for the non-fragmented IPv6 packets"',
  46,
  () => one(in4({ df: false, id: 0x4321, payload: TCP() }), out6({ payload: TCP() })),
);
translate(
  '46-nodf-1260-fits-lowest-mtu',
  'RFC 7915 4.1',
  'DF clear, 1260-byte IPv4 -> 1280-byte IPv6 = lowest-ipv6-mtu: not fragmented',
  46,
  () => one(in4({ df: false, id: 1234, payload: TCP(1220) }), out6({ payload: TCP(1220) })),
);
translate(
  '46-nodf-1261-fragmented-1280',
  'RFC 7915 4, 4.1',
  'DF clear and the IPv6 packet would exceed lowest-ipv6-mtu (1280): "the packet SHOULD be fragmented so that the resulting IPv6 packet (with Fragment Header added to each fragment) will be less than or equal to lowest-ipv6-mtu"; identification low 16 bits carried',
  46,
  () => {
    const whole6 = out6({ payload: TCP(1221) });
    return {
      input: in4({ df: false, id: 1234, payload: TCP(1221) }),
      expected: fragment6(whole6, [1232], 1234),
    };
  },
);
translate(
  '46-nodf-lowest-mtu-1402',
  'RFC 7915 4.1',
  '"The translator MUST provide a configuration function ... to adjust the threshold of the minimum IPv6 MTU"; 1402 -> 1352-byte fragment payloads (multiple of 8)',
  46,
  () => {
    const u = () => udp({ payload: filler(1355, 4) });
    const whole6 = out6({ payload: u() });
    return {
      input: in4({ df: false, id: 0x0bcd, payload: u() }),
      expected: fragment6(whole6, [1352], 0x0bcd),
    };
  },
  { ...CONFIG, lowestIpv6Mtu: 1402 },
);
translate(
  '46-nodf-lowest-mtu-1500-not-fragmented',
  'RFC 7915 4.1',
  'lowest-ipv6-mtu 1500: a DF-clear 1400-byte packet (1420 in IPv6) is not fragmented',
  46,
  () => one(in4({ df: false, id: 7, payload: TCP(1360) }), out6({ payload: TCP(1360) })),
  { ...CONFIG, lowestIpv6Mtu: 1500 },
);
translate(
  '46-nodf-lowest-mtu-above-mtu6',
  'RFC 7915 4.1',
  'lowestIpv6Mtu 1500 with mtu6 1400 (a setting copied from another translator) is accepted and the smaller, 1400, is used: a DF-clear 1400-byte packet (1420 in IPv6) becomes fragments with 1352-byte payloads',
  46,
  () => {
    const u = () => udp({ payload: filler(1372, 19) });
    const whole6 = out6({ payload: u() });
    return {
      input: in4({ df: false, id: 0x0bce, payload: u() }),
      expected: fragment6(whole6, [1352], 0x0bce),
    };
  },
  { ...CONFIG, lowestIpv6Mtu: 1500, mtu6: 1400 },
);
translate(
  '46-df-large-not-fragmented',
  'RFC 7915 4.1',
  'DF set, 1480 bytes -> 1500 bytes = next-hop IPv6 MTU: translated whole, lowest-ipv6-mtu does not apply to DF packets',
  46,
  () => one(in4({ df: true, payload: TCP(1440) }), out6({ payload: TCP(1440) })),
);
reply(
  '46-df-too-big-fragmentation-needed',
  'RFC 7915 4.1',
  '"If the DF bit is set and the MTU of the next-hop interface is less than the total length value of the IPv4 packet plus 20, the translator MUST send an ICMPv4 "Fragmentation Needed" error message"',
  46,
  'fragneeded46',
  () => in4({ df: true, payload: TCP(1441) }),
  (i) => reply4(i, 3, 4, 1480),
);
reply(
  '46-df-too-big-mtu6-1280',
  'RFC 7915 4.1',
  'Same with an IPv6 next-hop MTU of 1280: a 1261-byte DF packet gets Fragmentation Needed with MTU 1260',
  46,
  'fragneeded46',
  () => in4({ df: true, payload: TCP(1221) }),
  (i) => reply4(i, 3, 4, 1260),
  { ...CONFIG, mtu6: 1280 },
);
translate(
  '46-fragment-first',
  'RFC 7915 4.1',
  'Fragment: "Fragment Header ... Fragment Offset copied, M flag copied, Identification: high-order 16 bits zero, low-order 16 bits copied"; Payload Length includes the 8-byte Fragment Header',
  46,
  () => {
    const whole4 = in4({ id: 0xabcd, payload: TCP(100) });
    const whole6 = out6({ payload: TCP(100) });
    return one(fragment4(whole4, [64])[0], fragment6(whole6, [64], 0xabcd)[0]);
  },
);
translate(
  '46-fragment-middle',
  'RFC 7915 4.1',
  'A middle fragment: offset and M copied into the Fragment Header, payload unchanged',
  46,
  () => {
    const whole4 = in4({ id: 0xabcd, payload: TCP(100) });
    const whole6 = out6({ payload: TCP(100) });
    return one(fragment4(whole4, [48, 48])[1], fragment6(whole6, [48, 48], 0xabcd)[1]);
  },
);
translate('46-fragment-last', 'RFC 7915 4.1', 'The last fragment: M clear, offset copied', 46, () => {
  const whole4 = in4({ id: 0xabcd, payload: UDP() });
  const whole6 = out6({ payload: UDP() });
  return one(fragment4(whole4, [16])[1], fragment6(whole6, [16], 0xabcd)[1]);
});
translate(
  '46-fragment-df-mf',
  'RFC 7915 4',
  'An IPv4 fragment with DF and MF set: the Fragment Header is added because the packet is already fragmented',
  46,
  () => {
    const whole4 = in4({ id: 1234, df: true, payload: TCP(1300) });
    const whole6 = out6({ payload: TCP(1300) });
    return one(fragment4(whole4, [1232])[0], fragment6(whole6, [1232], 1234)[0]);
  },
);
translate(
  '46-fragment-refragmented',
  'RFC 7915 4.1',
  'A 1268-byte IPv4 fragment, DF clear: its translation exceeds lowest-ipv6-mtu so it is fragmented again (1232 + 16), same identification, M set on both',
  46,
  () => {
    const whole4 = in4({ id: 4321, payload: TCP(1300) });
    const whole6 = out6({ payload: TCP(1300) });
    const f6 = fragment6(whole6, [1232, 16], 4321);
    return { input: fragment4(whole4, [1248])[0], expected: [f6[0], f6[1]] };
  },
);
translate(
  '46-options-ignored',
  'RFC 7915 4.1',
  '"If IPv4 options are present in the IPv4 packet, they MUST be ignored"; payload length excludes them',
  46,
  () => {
    const options = Buffer.from([
      7, 11, 8, 198, 51, 100, 2, 0, 0, 0, 0, 1, 68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    return one(in4({ options, payload: UDP() }), out6({ payload: UDP() }));
  },
);
translate(
  '46-options-security-stream-ignored',
  'RFC 7915 4.1',
  'Security and stream identifier options are ignored as well',
  46,
  () => {
    const options = Buffer.from([130, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 136, 4, 1, 2, 1, 0]);
    return one(in4({ options, payload: TCP() }), out6({ payload: TCP() }));
  },
);
translate(
  '46-options-expired-lsrr-ignored',
  'RFC 7915 4.1',
  'A loose source route whose pointer is past its length is expired (RFC 791), so it is ignored like any option',
  46,
  () => {
    const options = Buffer.from([131, 11, 12, 198, 51, 100, 7, 198, 51, 100, 8, 0]);
    return one(in4({ options, payload: UDP() }), out6({ payload: UDP() }));
  },
);
reply(
  '46-options-unexpired-lsrr',
  'RFC 7915 4.1',
  '"if an unexpired source route option is present then the packet MUST instead be discarded, and an ICMPv4 "Destination Unreachable, Source Route Failed" (Type 3, Code 5) error message SHOULD be returned"',
  46,
  'sourceroute46',
  () => in4({ options: Buffer.from([131, 11, 4, 198, 51, 100, 7, 198, 51, 100, 8, 0]), payload: UDP() }),
  (i) => reply4(i, 3, 5),
);
reply(
  '46-options-unexpired-ssrr',
  'RFC 7915 4.1',
  'The same for a strict source route (option 137) after a no-operation option',
  46,
  'sourceroute46',
  () => in4({ options: Buffer.from([1, 137, 11, 8, 198, 51, 100, 7, 198, 51, 100, 8]), payload: TCP() }),
  (i) => reply4(i, 3, 5),
);
translate(
  '46-unknown-protocol-copied',
  'RFC 7915 4.1, 4.5',
  'Next Header: "the protocol field MUST be copied"; "translators MUST forward all transport protocols" (DCCP, 33, passed as is)',
  46,
  () => one(in4({ payload: raw(33, filler(16, 5)) }), out6({ payload: raw(33, filler(16, 5)) })),
);
translate(
  '46-icmp-next-header-58',
  'RFC 7915 4.1',
  'Next Header: "For ICMPv4 (1), it is changed to ICMPv6 (58)"',
  46,
  () =>
    one(
      in4({ payload: icmpEcho(8, 0x77, 1, filler(8)) }),
      out6({ payload: icmpEcho(128, 0x77, 1, filler(8)) }),
    ),
);
drop(
  '46-src-loopback',
  'RFC 7915 4.1',
  'Source Address: "If the translator gets an illegal source address (e.g., 0.0.0.0, 127.0.0.1, etc.), the translator SHOULD silently drop the packet"',
  46,
  'srcaddr46',
  () => in4({ src: '127.0.0.1', payload: UDP() }),
);
drop(
  '46-src-zero',
  'RFC 7915 4.1',
  'Source address 0.0.0.0 is illegal: silently dropped',
  46,
  'srcaddr46',
  () => in4({ src: '0.0.0.0', payload: UDP() }),
);
drop(
  '46-src-multicast',
  'RFC 7915 4.1; RFC 1812 5.3.7',
  'A multicast (class D) source address is illegal: silently dropped',
  46,
  'srcaddr46',
  () => in4({ src: '224.0.0.5', payload: UDP() }),
);
translate(
  '46-icmp-error-illegal-source-translated',
  'RFC 7915 4.1',
  '"Note when translating ICMPv4 Error Messages into ICMPv6, the "illegal" source address will be translated for the purpose of trouble shooting"',
  46,
  () => {
    const inner4 = ipv4({ src: H4, dst: S4, ttl: 1, payload: UDP() });
    const inner6 = ipv6({ src: a6(H4), dst: a6(S4), hopLimit: 1, payload: UDP() });
    return one(
      err4in({ type: 11, code: 0, body: inner4 }, { src: '127.0.0.1' }),
      err6out({ type: 3, code: 0, body: inner6 }, { src: a6('127.0.0.1') }),
    );
  },
);
drop(
  '46-igmp-dropped',
  'RFC 7915 4.2',
  'IGMP: "all the "normal" IGMP messages are single-hop messages and SHOULD be silently dropped by the translator"',
  46,
  'protocol46',
  () => in4({ dst: H4, payload: raw(2, Buffer.from([0x11, 0x64, 0xee, 0x9b, 0, 0, 0, 0])) }),
);
for (const [proto, name, why] of [
  [
    44,
    'fragment-header',
    'the IPv6 side would take the IPv4 payload for a Fragment Header (RFC 8200 4.5) and mis-reassemble',
  ],
  [
    0,
    'hop-by-hop',
    'the IPv6 side would parse the IPv4 payload as a Hop-by-Hop Options header (RFC 8200 4.3)',
  ],
  [
    60,
    'destination-options',
    'the IPv6 side would parse the IPv4 payload as a Destination Options header (RFC 8200 4.6)',
  ],
  [58, 'icmpv6', 'an ICMPv6 message inside IPv4 has no pseudo-header checksum, so it would arrive invalid'],
] as const) {
  drop(
    `46-protocol-${name}-dropped`,
    'RFC 7915 4.1 Next Header; RFC 8200 4',
    `IPv4 protocol ${proto} cannot be copied into the IPv6 Next Header as RFC 7915 says for other protocols: ${why} (found by test/fuzz)`,
    46,
    'protocol46',
    () => in4({ payload: raw(proto, filler(24, 3)) }),
  );
}
drop(
  '46-header-checksum-wrong',
  'RFC 1812 5.2.2',
  'A router (the translator is one, RFC 7915 1.4) discards an IPv4 packet whose header checksum is wrong',
  46,
  'checksum46',
  () => in4({ payload: UDP(), headerChecksum: 0x1234 }),
);
drop(
  '46-truncated',
  'RFC 1812 5.2.2',
  'Total length larger than the bytes received: discarded',
  46,
  'truncated46',
  () => in4({ payload: UDP() }).subarray(0, 40),
);
drop('46-bad-version', 'RFC 1812 5.2.2', 'Version field not 4: discarded', 46, 'header46', () =>
  in4({ payload: UDP(), version: 5 }),
);
drop('46-bad-ihl', 'RFC 1812 5.2.2', 'IHL below 5: discarded', 46, 'header46', () =>
  in4({ payload: UDP(), ihl: 4 }),
);

// ---------------------------------------------------------------------------------------------
// RFC 7915 sec. 4.2 / 4.3: ICMPv4 -> ICMPv6
// ---------------------------------------------------------------------------------------------

translate(
  '46-icmp-echo-request',
  'RFC 7915 4.2',
  'Echo (Type 8): "Set the Type to 128 and adjust the ICMP checksum both to take the type change into account and to include the ICMPv6 pseudo-header"',
  46,
  () =>
    one(
      in4({ payload: icmpEcho(8, 0x1234, 7, filler(56, 6)) }),
      out6({ payload: icmpEcho(128, 0x1234, 7, filler(56, 6)) }),
    ),
);
translate(
  '46-icmp-echo-reply',
  'RFC 7915 4.2',
  'Echo Reply (Type 0): "Set the Type to 129 and adjust the ICMP checksum"',
  46,
  () =>
    one(
      in4({ payload: icmpEcho(0, 0x1234, 8, filler(56, 7)) }),
      out6({ payload: icmpEcho(129, 0x1234, 8, filler(56, 7)) }),
    ),
);

const INFO46_DROPS: [number, string][] = [
  [15, 'Information Request: "Obsoleted in ICMPv6. Silently drop"'],
  [16, 'Information Reply: "Obsoleted in ICMPv6. Silently drop"'],
  [13, 'Timestamp: "Obsoleted in ICMPv6. Silently drop"'],
  [14, 'Timestamp Reply: "Obsoleted in ICMPv6. Silently drop"'],
  [17, 'Address Mask Request: "Obsoleted in ICMPv6. Silently drop"'],
  [18, 'Address Mask Reply: "Obsoleted in ICMPv6. Silently drop"'],
  [9, 'ICMP Router Advertisement: "Single-hop message. Silently drop"'],
  [10, 'ICMP Router Solicitation: "Single-hop message. Silently drop"'],
  [
    42,
    'Unknown informational messages (type 42, Extended Echo in RFC 8335, not in RFC 7915): "Silently drop"',
  ],
];
for (const [type, req] of INFO46_DROPS) {
  drop(`46-icmp-type${type}-dropped`, 'RFC 7915 4.2', req, 46, 'icmptype46', () =>
    in4({ payload: icmp({ type, code: 0, rest: 0x00010001, body: filler(12) }) }),
  );
}
const ERR46_DROPS: [number, string][] = [
  [4, 'Source Quench (Type 4): "Obsoleted in ICMPv6. Silently drop"'],
  [5, 'Redirect (Type 5): "Single hop message. Silently drop"'],
  [6, 'Alternative Host Address (Type 6): "Silently drop"'],
  [40, 'Unknown error messages (Type 40, Photuris): "Silently drop"'],
];
for (const [type, req] of ERR46_DROPS) {
  drop(`46-icmp-type${type}-dropped`, 'RFC 7915 4.2', req, 46, 'icmptype46', () =>
    err4in({ type, code: 0, body: ipv4({ src: H4, dst: S4, payload: UDP() }) }),
  );
}

/** The packet the IPv6 host sent (as H4 -> S4), quoted in ICMPv4 errors, and its IPv6 form. */
function quoted46(l4: () => L4, ttl = 63, extra: { df?: boolean; id?: number } = {}) {
  return {
    v4: ipv4({ src: H4, dst: S4, ttl, payload: l4(), ...extra }),
    v6: ipv6({ src: a6(H4), dst: a6(S4), hopLimit: ttl, payload: l4() }),
  };
}

/** An ICMPv4 error case (4->6) whose translation keeps the quoted packet whole. */
function icmpError46(
  id: string,
  req: string,
  m4: { type: number; code: number; rest?: number },
  m6: { type: number; code: number; rest?: number },
  config: TranslatorConfigInput = CONFIG,
  section = 'RFC 7915 4.2, 4.3',
): void {
  translate(
    id,
    section,
    req,
    46,
    () => {
      const q = quoted46(TCP, 63, { df: true });
      return one(err4in({ ...m4, body: q.v4 }), err6out({ ...m6, body: q.v6 }));
    },
    config,
  );
}

const DU46: [number, number, number, string][] = [
  [0, 1, 0, 'Code 0, 1 (Net Unreachable, Host Unreachable): "Set the Code to 0 (No route to destination)"'],
  [1, 1, 0, 'Code 0, 1 (Net Unreachable, Host Unreachable): "Set the Code to 0 (No route to destination)"'],
  [3, 1, 4, 'Code 3 (Port Unreachable): "Set the Code to 4 (Port unreachable)"'],
  [5, 1, 0, 'Code 5 (Source Route Failed): "Set the Code to 0 (No route to destination)"'],
  [6, 1, 0, 'Code 6, 7, 8: "Set the Code to 0 (No route to destination)"'],
  [7, 1, 0, 'Code 6, 7, 8: "Set the Code to 0 (No route to destination)"'],
  [8, 1, 0, 'Code 6, 7, 8: "Set the Code to 0 (No route to destination)"'],
  [
    9,
    1,
    1,
    'Code 9, 10 (Communication with Destination Host Administratively Prohibited): "Set the Code to 1"',
  ],
  [
    10,
    1,
    1,
    'Code 9, 10 (Communication with Destination Host Administratively Prohibited): "Set the Code to 1"',
  ],
  [11, 1, 0, 'Code 11, 12: "Set the Code to 0 (No route to destination)"'],
  [12, 1, 0, 'Code 11, 12: "Set the Code to 0 (No route to destination)"'],
  [13, 1, 1, 'Code 13 (Communication Administratively Prohibited): "Set the Code to 1"'],
  [15, 1, 1, 'Code 15 (Precedence cutoff in effect): "Set the Code to 1"'],
];
for (const [code, type6, code6, req] of DU46) {
  icmpError46(
    `46-icmp-du-code${code}`,
    `Destination Unreachable (Type 3): "Set the Type to 1" unless noted; ${req}`,
    { type: 3, code },
    { type: type6, code: code6 },
  );
}
icmpError46(
  '46-icmp-du-code2-protocol-unreachable',
  'Code 2 (Protocol Unreachable): "Translate to an ICMPv6 Parameter Problem (Type 4, Code 1) and make the Pointer point to the IPv6 Next Header field"',
  { type: 3, code: 2 },
  { type: 4, code: 1, rest: 6 },
);
drop(
  '46-icmp-du-code14-dropped',
  'RFC 7915 4.2',
  'Code 14 (Host Precedence Violation): "Silently drop"',
  46,
  'icmptype46',
  () => err4in({ type: 3, code: 14, body: quoted46(TCP).v4 }),
);
drop('46-icmp-du-code16-dropped', 'RFC 7915 4.2', 'Other Codes: "Silently drop"', 46, 'icmptype46', () =>
  err4in({ type: 3, code: 16, body: quoted46(TCP).v4 }),
);

/** Fragmentation Needed (3/4) -> Packet Too Big (2/0) with the quoted packet of `total` bytes (truncated at 1232 when translated). */
function ptb46(
  id: string,
  req: string,
  advertised: number,
  total: number,
  expectedMtu: number,
  config: TranslatorConfigInput = CONFIG,
) {
  translate(
    id,
    'RFC 7915 4.2',
    req,
    46,
    () => {
      const l4 = () => udp({ payload: filler(total - 28, 8) });
      const q = quoted46(l4, 63, { df: true });
      const inner4 = q.v4.subarray(0, Math.min(q.v4.length, 548));
      // Only the quoted bytes that arrived can be translated: 20 more for the longer header, at most 1232.
      const inner6 = q.v6.subarray(0, Math.min(inner4.length + 20, 1232));
      return one(
        err4in({ type: 3, code: 4, rest: advertised, body: inner4 }),
        err6out({ type: 2, code: 0, rest: expectedMtu, body: inner6 }),
      );
    },
    config,
  );
}
ptb46(
  '46-icmp-frag-needed-1400',
  'Code 4 (Fragmentation Needed): "Translate to an ICMPv6 Packet Too Big message (Type 2) with Code set to 0. The MTU field MUST be adjusted for the difference between the IPv4 and IPv6 header sizes": 1400 -> 1420',
  1400,
  1500,
  1420,
);
ptb46(
  '46-icmp-frag-needed-min-1280',
  '"the indicated MTU in the resulting ICMPv6 "Packet Too Big" will never be set to a value lower than 1280" (section 5): 1000 -> 1280',
  1000,
  1500,
  1280,
);
ptb46(
  '46-icmp-frag-needed-capped-by-mtu6',
  'MTU = "minimum(advertised MTU+20, MTU_of_IPv6_nexthop, (MTU_of_IPv4_nexthop)+20)": 1500 advertised, IPv6 next hop 1500 -> 1500',
  1500,
  1500,
  1500,
);
ptb46(
  '46-icmp-frag-needed-capped-by-mtu4',
  'MTU = minimum(advertised+20, MTU6, MTU4+20) with MTU4 1400, MTU6 9000, 2000 advertised -> 1420',
  2000,
  1500,
  1420,
  { ...CONFIG, mtu4: 1400, mtu6: 9000 },
);
ptb46(
  '46-icmp-frag-needed-plateau',
  '"if the IPv4 router set the MTU field to zero ... the translator MUST use the plateau values specified in [RFC1191]" (greatest plateau < total length 4000 is 2002, + 20 = 2022)',
  0,
  4000,
  2022,
  { ...CONFIG, mtu4: 9000, mtu6: 9000 },
);
ptb46(
  '46-icmp-frag-needed-plateau-floor',
  'Plateau "that is larger than or equal to 1280": total length 1400 finds 1006 -> never below 1280',
  0,
  1400,
  1280,
  { ...CONFIG, mtu4: 9000, mtu6: 9000 },
);
icmpError46(
  '46-icmp-time-exceeded-code0',
  'Time Exceeded (Type 11): "Set the Type to 3, and adjust the ICMP checksum ... The Code is unchanged"',
  { type: 11, code: 0 },
  { type: 3, code: 0 },
);
icmpError46(
  '46-icmp-time-exceeded-code1',
  'Time Exceeded (Type 11), code 1 (fragment reassembly time exceeded): code unchanged',
  { type: 11, code: 1 },
  { type: 3, code: 1 },
);

/** RFC 7915 Figure 3: IPv4 pointer -> IPv6 pointer (undefined = n/a: silently drop). */
const POINTER46: (number | undefined)[] = [
  0,
  1,
  4,
  4,
  undefined,
  undefined,
  undefined,
  undefined,
  7,
  6,
  undefined,
  undefined,
  8,
  8,
  8,
  8,
  24,
  24,
  24,
  24,
];
for (let ptr = 0; ptr <= 20; ptr++) {
  const p6 = POINTER46[ptr];
  const req = `Parameter Problem (Type 12) Code 0: "Set the Code to 0 (Erroneous header field encountered) and update the pointer as defined in Figure 3"; pointer ${ptr} -> ${p6 ?? 'n/a (silently drop)'}`;
  if (p6 === undefined) {
    drop(`46-icmp-param-pointer${ptr}-dropped`, 'RFC 7915 4.2', req, 46, 'icmptype46', () =>
      err4in({ type: 12, code: 0, rest: ptr << 24, body: quoted46(TCP).v4 }),
    );
  } else
    icmpError46(
      `46-icmp-param-pointer${ptr}`,
      req,
      { type: 12, code: 0, rest: ptr << 24 },
      { type: 4, code: 0, rest: p6 },
    );
}
icmpError46(
  '46-icmp-param-bad-length',
  'Parameter Problem Code 2 (Bad Length): "Set the Code to 0 (Erroneous header field encountered) and update the pointer as defined in Figure 3": pointer 2 -> 4',
  { type: 12, code: 2, rest: 2 << 24 },
  { type: 4, code: 0, rest: 4 },
);
drop(
  '46-icmp-param-missing-option-dropped',
  'RFC 7915 4.2',
  'Parameter Problem Code 1 (Missing a Required Option): "Silently drop"',
  46,
  'icmptype46',
  () => err4in({ type: 12, code: 1, body: quoted46(TCP).v4 }),
);
drop(
  '46-icmp-param-code3-dropped',
  'RFC 7915 4.2',
  'Parameter Problem, other codes: "Silently drop"',
  46,
  'icmptype46',
  () => err4in({ type: 12, code: 3, rest: 8 << 24, body: quoted46(TCP).v4 }),
);
drop(
  '46-icmp-fragmented-dropped',
  'RFC 7915 1.2',
  '"Fragmented ICMP/ICMPv6 packets will not be translated by IP/ICMP translators"',
  46,
  'icmpfragment46',
  () => fragment4(in4({ id: 99, payload: icmpEcho(8, 1, 1, filler(100)) }), [64])[0],
);

translate(
  '46-icmp-error-inner-udp-400',
  'RFC 7915 4.3',
  '"The ICMP error messages containing the packet in error MUST be translated just like a normal IP packet (except the TTL value of the inner IPv4/IPv6 packet)"; "the Total Length field in the outer IPv6 header MUST be updated": 400 -> 440',
  46,
  () => {
    const q = quoted46(() => udp({ payload: filler(344, 9) }), 1);
    return one(err4in({ type: 11, code: 0, body: q.v4 }), err6out({ type: 3, code: 0, body: q.v6 }));
  },
);
translate(
  '46-icmp-error-truncated-to-1280',
  'RFC 7915 4.3; RFC 4443 2.4 (c)',
  'A 1500-byte ICMPv4 error becomes an ICMPv6 error of at most 1280 bytes (the quoted packet is cut)',
  46,
  () => {
    const q = quoted46(() => udp({ payload: filler(1444, 10) }), 5);
    return one(
      err4in({ type: 3, code: 3, body: q.v4 }),
      err6out({ type: 1, code: 4, body: q.v6.subarray(0, 1232) }),
    );
  },
);
translate(
  '46-icmp-error-1280-stays-1280',
  'RFC 7915 4.3; RFC 4443 2.4 (c)',
  'A 1280-byte ICMPv4 error: the translation would grow to 1300, so it is cut to 1280',
  46,
  () => {
    const q = quoted46(() => udp({ payload: filler(1224, 11) }), 5);
    return one(
      err4in({ type: 3, code: 3, body: q.v4 }),
      err6out({ type: 1, code: 4, body: q.v6.subarray(0, 1232) }),
    );
  },
);
translate(
  '46-icmp-error-inner-header-plus-8',
  'RFC 7915 4.3; RFC 792',
  'A minimal quote (IPv4 header + 8 bytes of TCP) is translated into IPv6 header + the same 8 bytes; the inner length fields keep their claims',
  46,
  () => {
    const q = quoted46(() => TCP(200), 63, { df: true });
    return one(
      err4in({ type: 3, code: 1, body: q.v4.subarray(0, 28) }),
      err6out({ type: 1, code: 0, body: q.v6.subarray(0, 48) }),
    );
  },
);
translate(
  '46-icmp-error-inner-echo',
  'RFC 7915 4.3',
  'The quoted ICMPv4 echo request is translated like a normal packet: type 128 and a checksum with the IPv6 pseudo-header',
  46,
  () => {
    const q = quoted46(() => icmpEcho(8, 0x4242, 3, filler(32)), 1);
    const q6 = ipv6({ src: a6(H4), dst: a6(S4), hopLimit: 1, payload: icmpEcho(128, 0x4242, 3, filler(32)) });
    return one(err4in({ type: 11, code: 0, body: q.v4 }), err6out({ type: 3, code: 0, body: q6 }));
  },
);
translate(
  '46-icmp-error-inner-options-removed',
  'RFC 7915 4.1, 4.3',
  'The quoted packet had IPv4 options: they are ignored in the inner translation too',
  46,
  () => {
    const inner4 = ipv4({
      src: H4,
      dst: S4,
      ttl: 9,
      options: Buffer.from([7, 7, 4, 0, 0, 0, 0, 0]),
      payload: UDP(),
    });
    const inner6 = ipv6({ src: a6(H4), dst: a6(S4), hopLimit: 9, payload: UDP() });
    return one(err4in({ type: 3, code: 3, body: inner4 }), err6out({ type: 1, code: 4, body: inner6 }));
  },
);
translate(
  '46-icmp-error-inner-fragment',
  'RFC 7915 4.1, 4.3',
  'The quoted packet was a first fragment: its translation gets a Fragment Header with the identification',
  46,
  () => {
    const whole4 = ipv4({ src: H4, dst: S4, ttl: 9, id: 0x4242, payload: udp({ payload: filler(200) }) });
    const whole6 = ipv6({ src: a6(H4), dst: a6(S4), hopLimit: 9, payload: udp({ payload: filler(200) }) });
    const f4 = fragment4(whole4, [104])[0];
    const f6 = fragment6(whole6, [104], 0x4242)[0];
    return one(err4in({ type: 11, code: 1, body: f4 }), err6out({ type: 3, code: 1, body: f6 }));
  },
);
drop(
  '46-icmp-error-inside-error',
  'RFC 7915 4.3',
  '"This process MUST stop at the first embedded header and drop the packet if it contains more embedded headers"',
  46,
  'icmpinner46',
  () => {
    const innermost = ipv4({ src: S4, dst: H4, payload: UDP() });
    const inner = ipv4({ src: H4, dst: S4, payload: icmp({ type: 3, code: 3, body: innermost }) });
    return err4in({ type: 11, code: 0, body: inner });
  },
);
drop(
  '46-icmp-error-inner-not-ipv4',
  'RFC 7915 4.3',
  'The quoted packet is not an IPv4 header (version 6): it cannot be translated',
  46,
  'icmpinner46',
  () => err4in({ type: 3, code: 3, body: quoted46(TCP).v6.subarray(0, 48) }),
);
drop(
  '46-icmp-error-inner-too-short',
  'RFC 7915 4.3',
  'The quoted packet is shorter than an IPv4 header: it cannot be translated',
  46,
  'icmpinner46',
  () => err4in({ type: 3, code: 3, body: quoted46(TCP).v4.subarray(0, 12) }),
);

// RFC 4884 in ICMPv4 -> ICMPv6.
translate(
  '46-rfc4884-dest-unreach',
  'RFC 7915 4.2; RFC 4884',
  '"If the received ICMPv4 packet contains an ICMPv4 Extension [RFC4884] ... the ICMPv6 Extension length attribute MUST be adjusted accordingly": 33 words of 4 (132 bytes) -> 19 words of 8 (152 bytes)',
  46,
  () => {
    const q = quoted46(() => TCP(92), 63, { df: true });
    const ext = icmpExtension([{ classNum: 2, cType: 1, payload: filler(12, 12) }]);
    return one(
      err4in({ type: 3, code: 3, rest: 33 << 16, body: Buffer.concat([q.v4, ext]) }),
      err6out({ type: 1, code: 4, rest: 19 << 24, body: Buffer.concat([q.v6, ext]) }),
    );
  },
);
translate(
  '46-rfc4884-padding',
  'RFC 7915 4.2; RFC 4884 4.1',
  'A 128-byte quote (20+8+100) translates to 148 bytes; RFC 4884 pads the original datagram to the 8-byte unit of ICMPv6 (152, length 19)',
  46,
  () => {
    const q = quoted46(() => udp({ payload: filler(100, 13) }), 3);
    const ext = icmpExtension([{ classNum: 1, cType: 1, payload: filler(4, 14) }]);
    return one(
      err4in({ type: 11, code: 0, rest: 32 << 16, body: Buffer.concat([q.v4, ext]) }),
      err6out({ type: 3, code: 0, rest: 19 << 24, body: Buffer.concat([pad(q.v6, 8), ext]) }),
    );
  },
);

translate(
  '46-rfc4884-length-below-128-padded',
  'RFC 7915 4.2; RFC 4884 5',
  'A non-compliant length attribute (16 words = a 64-byte original datagram) followed by an extension: RFC 4884 sec. 5 "the original datagram field MUST contain at least 128 octets ... MUST be zero padded to 128 octets" binds the translator as the sender of the new message, so the 84-byte IPv6 quote is zero-padded to 128 (length 16 of 8) and the extension kept',
  46,
  () => {
    const l4 = () => udp({ srcPort: 40001, dstPort: 53, payload: filler(36, 15) });
    const q = quoted46(l4, 5);
    assertShape(q.v4.length === 64 && q.v6.length === 84);
    const ext = icmpExtension([{ classNum: 2, cType: 1, payload: filler(8, 16) }]);
    return one(
      err4in({ type: 3, code: 3, rest: 16 << 16, body: Buffer.concat([q.v4, ext]) }),
      err6out({ type: 1, code: 4, rest: 16 << 24, body: Buffer.concat([padTo(q.v6, 128), ext]) }),
    );
  },
);

translate(
  '46-rfc4884-length-below-header-ignored',
  'RFC 7915 4.2; RFC 4884 5; RFC 792',
  'A length attribute of 5 words (20 bytes) does not even cover the quoted IPv4 header and 8 bytes of its payload (the RFC 792 minimum), so it is not believed: the message is read as having no extension, the quoted packet is translated whole and the trailing bytes beyond its total length are not quoted',
  46,
  () => {
    const q = quoted46(() => udp({ srcPort: 40001, dstPort: 53, payload: filler(36, 15) }), 5);
    const ext = icmpExtension([{ classNum: 2, cType: 1, payload: filler(8, 16) }]);
    return one(
      err4in({ type: 3, code: 3, rest: 5 << 16, body: Buffer.concat([q.v4, ext]) }),
      err6out({ type: 1, code: 4, body: q.v6 }),
    );
  },
);

// RFC 7915 sec. 4.5 transport checksums.
translate(
  '46-udp-zero-checksum-computed',
  'RFC 7915 4.5',
  'UDP checksum 0: "Calculating an IPv6 checksum and forwarding the packet" (the default policy, compute)',
  46,
  () =>
    one(
      in4({ payload: udp({ payload: filler(4), checksum: 0 }) }),
      out6({ payload: udp({ payload: filler(4) }) }),
    ),
);
drop(
  '46-udp-zero-checksum-drop-policy',
  'RFC 7915 4.5',
  'UDP checksum 0 with the drop policy: "Dropping the packet and generating a system management event"',
  46,
  'udpzerochecksum46',
  () => in4({ payload: udp({ payload: filler(4), checksum: 0 }) }),
  { ...CONFIG, udpZeroChecksum: 'drop' },
);
drop(
  '46-udp-zero-checksum-fragment',
  'RFC 7915 4.5',
  '"when a stateless translator receives the first fragment of a fragmented UDP IPv4 packet and the checksum field is zero, the translator SHOULD drop the packet" (even with the compute policy)',
  46,
  'udpzerochecksum46',
  () => fragment4(in4({ id: 5, payload: udp({ payload: filler(100), checksum: 0 }) }), [64])[0],
);
translate(
  '46-udp-zero-checksum-later-fragment',
  'RFC 7915 4.5',
  'Only the first fragment carries the UDP header: a later fragment of a zero-checksum datagram is translated as it is',
  46,
  () => {
    const whole4 = in4({ id: 5, payload: udp({ payload: filler(100), checksum: 0 }) });
    const whole6 = out6({ payload: udp({ payload: filler(100), checksum: 0 }) });
    return one(fragment4(whole4, [64])[1], fragment6(whole6, [64], 5)[1]);
  },
);
translate(
  '46-wkp-checksum-neutral',
  'RFC 7915 4.5; RFC 6052 4.1',
  'With 64:ff9b::/96 the mapping is checksum-neutral: the TCP checksum is unchanged',
  46,
  () => {
    const t = () => TCP(20);
    const input = ipv4({ src: '1.1.1.1', dst: '9.9.9.9', ttl: 64, payload: t() });
    const expected = ipv6({ src: '64:ff9b::1.1.1.1', dst: '64:ff9b::9.9.9.9', hopLimit: 63, payload: t() });
    return one(input, expected);
  },
  { prefix: '64:ff9b::/96' },
);

// ---------------------------------------------------------------------------------------------
// RFC 7915 sec. 5.1: IPv6 header -> IPv4 header
// ---------------------------------------------------------------------------------------------

translate(
  '64-udp-basic',
  'RFC 7915 5.1, 5.5',
  'IPv4 header: version 4, IHL 5, total length = payload length + 20, identification from the translator generator (not compared), DF 0 (<= 1260), TTL = hop limit - 1, protocol, header checksum; UDP checksum updated',
  64,
  () => one(in6({ payload: UDP() }), out4({ payload: UDP() })),
);
translate(
  '64-tcp-basic',
  'RFC 7915 5.1, 5.5',
  'TCP translated; checksum recalculated because the mapping is not checksum-neutral',
  64,
  () => one(in6({ payload: TCP(100) }), out4({ payload: TCP(100) })),
);
translate(
  '64-identification-zero-option',
  'RFC 6145 5.1 (contract option identification6to4)',
  'With identification6to4 \'zero\' a DF-clear packet carries identification 0, the RFC 6145 rule ("Identification: All zero"), compared byte for byte',
  64,
  () => one(in6({ payload: UDP() }), out4({ payload: UDP() })),
  { ...CONFIG, identification6to4: 'zero' },
);
translate(
  '64-traffic-class-to-tos',
  'RFC 7915 5.1',
  'Type of Service: "By default, copied from the IPv6 Traffic Class (all 8 bits)"; the flow label is dropped',
  64,
  () =>
    one(in6({ trafficClass: 0xb9, flowLabel: 0x12345, payload: UDP() }), out4({ tos: 0xb9, payload: UDP() })),
);
translate(
  '64-1280-df-clear',
  'RFC 7915 5, 5.1',
  '"When the resulting IPv4 packet is smaller than or equal to 1260 bytes, the translator MUST send the packet with a cleared Don\'t Fragment bit"',
  64,
  () => one(in6({ payload: TCP(1220) }), out4({ df: false, payload: TCP(1220) })),
);
translate(
  '64-1281-df-set',
  'RFC 7915 5, 5.1',
  '"Otherwise, the packet MUST be sent with the Don\'t Fragment bit set": 1281 -> 1261 bytes, DF',
  64,
  () => one(in6({ payload: TCP(1221) }), out4({ df: true, payload: TCP(1221) })),
);
translate(
  '64-1520-fits-mtu4',
  'RFC 7915 5.1',
  'A 1520-byte IPv6 packet becomes exactly 1500 bytes = IPv4 MTU: translated, DF set',
  64,
  () => one(in6({ payload: TCP(1460) }), out4({ df: true, payload: TCP(1460) })),
);
reply(
  '64-too-big-packet-too-big',
  'RFC 7915 1.4, 5.1',
  '"the translator MUST send a Packet Too Big error message or fragment the packet when the packet size exceeds the MTU of the next-hop interface": 1521 bytes -> ICMPv6 Packet Too Big, MTU 1500 + 20',
  64,
  'toobig64',
  () => in6({ payload: TCP(1461) }),
  (i) => reply6(i, 2, 0, 1520),
);
reply(
  '64-too-big-mtu4-1400',
  'RFC 7915 1.4, 5.1',
  'IPv4 MTU 1400: a 1421-byte IPv6 packet gets Packet Too Big with MTU 1420',
  64,
  'toobig64',
  () => in6({ payload: TCP(1361) }),
  (i) => reply6(i, 2, 0, 1420),
  { ...CONFIG, mtu4: 1400 },
);
translate(
  '64-hoplimit-2-decremented',
  'RFC 7915 5.1',
  'TTL: "Hop Limit value copied from the IPv6 header" and decremented by the translator as a router: 2 -> 1',
  64,
  () => one(in6({ hopLimit: 2, payload: UDP() }), out4({ ttl: 1, payload: UDP() })),
);
reply(
  '64-hoplimit-1-time-exceeded',
  'RFC 7915 4.1 (Hop Limit), 5.1',
  'The translator "MUST check for zero and send the ... ICMPv6 "Hop Limit Exceeded" error"',
  64,
  'hoplimit64',
  () => in6({ hopLimit: 1, payload: UDP() }),
  (i) => reply6(i, 3, 0),
);
reply(
  '64-hoplimit-1-time-exceeded-large',
  'RFC 7915 5.1; RFC 4443 2.4 (c)',
  'Hop limit exceeded for a 1400-byte packet: the ICMPv6 error quotes as much as fits in 1280 bytes',
  64,
  'hoplimit64',
  () => in6({ hopLimit: 1, payload: TCP(1340) }),
  (i) => reply6(i, 3, 0),
);
reply(
  '64-hoplimit-1-time-exceeded-own-address',
  'RFC 7915 5.4',
  "The ICMPv6 error comes from the translator's configured IPv6 address (contract option ipv6Address)",
  64,
  'hoplimit64',
  () => in6({ hopLimit: 1, payload: TCP() }),
  (i) => reply6(i, 3, 0, 0, '2001:db8:64::1'),
  { ...CONFIG, ipv6Address: '2001:db8:64::1' },
);
drop(
  '64-hoplimit-1-icmp-error-no-reply',
  'RFC 7915 5.4; RFC 4443 2.4 (e)',
  'An expiring ICMPv6 error is dropped without an error about it ("unless the discarded packet is itself an ICMPv6 message")',
  64,
  'hoplimit64',
  () =>
    err6in({ type: 1, code: 4, body: ipv6({ src: a6(S4), dst: a6(H4), payload: UDP() }) }, { hopLimit: 1 }),
);
translate(
  '64-ext-hop-by-hop-ignored',
  'RFC 7915 5.1',
  '"If any of an IPv6 Hop-by-Hop Options header, Destination Options header, or Routing header with the Segments Left field equal to zero are present ... those IPv6 extension headers MUST be ignored"; Protocol taken from the last Next Header',
  64,
  () =>
    one(
      in6({ ext: [{ type: 'hopByHop', options: Buffer.from([5, 2, 0, 0]) }], payload: UDP() }),
      out4({ payload: UDP() }),
    ),
);
translate(
  '64-ext-destination-ignored',
  'RFC 7915 5.1',
  'A Destination Options header is ignored; total length excludes it',
  64,
  () =>
    one(
      in6({ ext: [{ type: 'destination', options: filler(12) }], payload: TCP() }),
      out4({ payload: TCP() }),
    ),
);
translate(
  '64-ext-routing-sl0-ignored',
  'RFC 7915 5.1',
  'A Routing header with Segments Left 0 is ignored',
  64,
  () =>
    one(
      in6({
        ext: [{ type: 'routing', routingType: 0, segmentsLeft: 0, data: Buffer.alloc(20) }],
        payload: UDP(),
      }),
      out4({ payload: UDP() }),
    ),
);
translate(
  '64-ext-chain-ignored',
  'RFC 7915 5.1',
  'Hop-by-hop + destination options + routing (segments left 0) + destination options: all skipped',
  64,
  () =>
    one(
      in6({
        ext: [
          { type: 'hopByHop' },
          { type: 'destination', options: filler(3) },
          { type: 'routing', segmentsLeft: 0, routingType: 2, data: Buffer.alloc(20) },
          { type: 'destination', options: filler(20) },
        ],
        payload: icmpEcho(128, 5, 6, filler(10)),
      }),
      out4({ payload: icmpEcho(8, 5, 6, filler(10)) }),
    ),
);
reply(
  '64-routing-segments-left',
  'RFC 7915 5.1',
  '"If a Routing header with a non-zero Segments Left field is present, then the packet MUST NOT be translated, and an ICMPv6 "parameter problem/erroneous header field encountered" (Type 4, Code 0) error message, with the Pointer field indicating the first byte of the Segments Left field, SHOULD be returned"',
  64,
  'routingheader64',
  () =>
    in6({
      ext: [{ type: 'routing', routingType: 0, segmentsLeft: 1, data: Buffer.alloc(20) }],
      payload: UDP(),
    }),
  (i) => reply6(i, 4, 0, 43),
);
reply(
  '64-routing-segments-left-after-hop-by-hop',
  'RFC 7915 5.1',
  'The same after an 8-byte hop-by-hop header: the pointer is 40 + 8 + 3 = 51',
  64,
  'routingheader64',
  () =>
    in6({
      ext: [
        { type: 'hopByHop' },
        { type: 'routing', routingType: 2, segmentsLeft: 1, data: Buffer.alloc(20) },
      ],
      payload: UDP(),
    }),
  (i) => reply6(i, 4, 0, 51),
);

/** IPv6 fragments of a6(H4) -> a6(S4) and the IPv4 fragments they must become (5.1.1). */
function frag64(l4: () => L4, sizes: number[], id: number) {
  const whole6 = in6({ payload: l4() });
  const whole4 = ipv4({ src: H4, dst: S4, ttl: 63, id: id & 0xffff, df: false, payload: l4() });
  return { f6: fragment6(whole6, sizes, id), f4: fragment4(whole4, sizes) };
}
translate(
  '64-fragment-first',
  'RFC 7915 5.1.1',
  'Fragment Header: "Identification: Copied from the low-order 16 bits in the Identification field in the Fragment Header"; "The IPv4 More Fragments (MF) flag is copied from the M flag ... The IPv4 Don\'t Fragment (DF) flag is cleared"; Fragment Offset copied; total length excludes the Fragment Header',
  64,
  () => {
    const f = frag64(() => TCP(100), [64], 0x12345678);
    return one(f.f6[0], f.f4[0]);
  },
);
translate(
  '64-fragment-middle',
  'RFC 7915 5.1.1',
  'A middle fragment: offset copied, MF set, payload unchanged',
  64,
  () => {
    const f = frag64(() => TCP(100), [48, 48], 0x0102abcd);
    return one(f.f6[1], f.f4[1]);
  },
);
translate('64-fragment-last', 'RFC 7915 5.1.1', 'The last fragment: MF clear, DF clear', 64, () => {
  const f = frag64(UDP, [16], 0xfffe0001);
  return one(f.f6[1], f.f4[1]);
});
translate(
  '64-fragment-large-df-clear',
  'RFC 7915 5.1.1',
  'A 1448-byte first fragment becomes a 1420-byte IPv4 fragment: DF stays clear for fragments whatever the size',
  64,
  () => {
    const f = frag64(() => udp({ payload: filler(2000) }), [1400], 77);
    return one(f.f6[0], f.f4[0]);
  },
);
translate(
  '64-fragment-atomic',
  'RFC 7915 5.1.1',
  'An atomic fragment (offset 0, M 0): identification copied, MF 0, DF 0',
  64,
  () => {
    const input = in6({ ext: [{ type: 'fragment', offset: 0, m: false, id: 0xaabbccdd }], payload: UDP() });
    return one(input, ipv4({ src: H4, dst: S4, ttl: 63, id: 0xccdd, df: false, payload: UDP() }));
  },
);
translate(
  '64-fragment-after-hop-by-hop',
  'RFC 7915 5.1, 5.1.1',
  'Hop-by-hop before the Fragment Header is ignored; the fragment is translated',
  64,
  () => {
    const f = frag64(() => TCP(100), [64], 0x2222);
    const input = in6({
      ext: [{ type: 'hopByHop' }, { type: 'fragment', offset: 0, m: true, id: 0x2222 }],
      nextHeader: 6,
      payload: f.f6[0].subarray(48),
    });
    return one(input, f.f4[0]);
  },
);
translate(
  '64-fragment-larger-than-mtu4-fragmented',
  'RFC 7915 1.4, 5.1.1; RFC 791 2.3',
  'A 1648-byte first fragment would be a 1620-byte IPv4 fragment > MTU 1500: with "The IPv4 Don\'t Fragment (DF) flag is cleared (set to zero), allowing this packet to be further fragmented" the translator fragments it (1480 + 120, MF on both, same identification)',
  64,
  () => {
    const f = frag64(() => udp({ payload: filler(3000) }), [1600], 7);
    const whole4 = ipv4({
      src: H4,
      dst: S4,
      ttl: 63,
      id: 7,
      df: false,
      payload: udp({ payload: filler(3000) }),
    });
    const f4 = fragment4(whole4, [1480, 120]);
    return { input: f.f6[0], expected: [f4[0], f4[1]] };
  },
);
translate(
  '64-ext-headers-fit-mtu4',
  'RFC 7915 5.1',
  'A 1560-byte IPv6 packet with 40 bytes of ignored extension headers is exactly 1500 bytes in IPv4: it fits the IPv4 MTU (sizes are computed after the headers are removed)',
  64,
  () =>
    one(
      in6({
        ext: [
          { type: 'hopByHop', options: filler(14) },
          { type: 'destination', options: filler(14) },
        ],
        payload: TCP(1460),
      }),
      out4({ df: true, payload: TCP(1460) }),
    ),
);
drop(
  '64-fragment-then-extension-header',
  'RFC 7915 5.1.1',
  '"If the Next Header field of the Fragment Header is an extension header (except ESP, but including the Authentication Header (AH)), then the packet SHOULD be dropped and logged"',
  64,
  'header64',
  () =>
    in6({ ext: [{ type: 'fragment', offset: 0, m: true, id: 9 }, { type: 'destination' }], payload: UDP() }),
);
drop(
  '64-icmp-fragmented-dropped',
  'RFC 7915 1.2',
  '"Fragmented ICMP/ICMPv6 packets will not be translated by IP/ICMP translators"',
  64,
  'icmpfragment64',
  () => fragment6(in6({ payload: icmpEcho(128, 1, 1, filler(100)) }), [64], 3)[0],
);
translate(
  '64-unknown-protocol-copied',
  'RFC 7915 5.1, 5.5',
  '"translators MUST forward all transport protocols as described in the "Protocol" step": next header 33 copied to Protocol, payload unchanged',
  64,
  () => one(in6({ payload: raw(33, filler(16, 5)) }), out4({ payload: raw(33, filler(16, 5)) })),
);
translate(
  '64-no-next-header',
  'RFC 7915 5.1',
  'Next header 59 (no next header) is copied like any other protocol',
  64,
  () => one(in6({ payload: raw(59, Buffer.alloc(0)) }), out4({ payload: raw(59, Buffer.alloc(0)) })),
);
translate('64-icmp-protocol-1', 'RFC 7915 5.1', 'Protocol: "ICMPv6 (58) is changed to ICMPv4 (1)"', 64, () =>
  one(
    in6({ payload: icmpEcho(128, 0x99, 2, filler(8)) }),
    out4({ payload: icmpEcho(8, 0x99, 2, filler(8)) }),
  ),
);
drop(
  '64-protocol-icmpv4-dropped',
  'RFC 7915 5.1 Protocol',
  'Next header 1 (ICMPv4) inside IPv6 would reach the IPv4 side as ICMP that no IPv6 node checksummed for it; the translator refuses it',
  64,
  'protocol64',
  () => in6({ payload: raw(1, filler(24, 3)) }),
);
drop(
  '64-src-loopback',
  'RFC 7915 5.1',
  'Source Address: "If the translator gets an illegal source address (e.g., ::1, etc.), the translator SHOULD silently drop the packet"',
  64,
  'srcaddr64',
  () => in6({ src: '::1', payload: UDP() }),
);
drop(
  '64-src-outside-prefix',
  'RFC 7915 5.1; RFC 6052 2',
  'A source address that is neither IPv4-translatable in the prefix nor in the EAM table cannot be mapped',
  64,
  'srcaddr64',
  () => in6({ src: '2001:db8:ffff::1', payload: UDP() }),
);
drop(
  '64-dst-outside-prefix',
  'RFC 7915 5.1; RFC 6052 2',
  'A destination address outside the prefix cannot be mapped',
  64,
  'dstaddr64',
  () => in6({ dst: '2001:db8:ffff::2', payload: UDP() }),
);
drop(
  '64-truncated',
  'RFC 8200 3',
  'Payload length larger than the bytes received: discarded',
  64,
  'truncated64',
  () => in6({ payload: UDP() }).subarray(0, 60),
);
drop('64-bad-version', 'RFC 8200 3', 'Version field not 6: discarded', 64, 'header64', () =>
  in6({ payload: UDP(), version: 4 }),
);

// ---------------------------------------------------------------------------------------------
// RFC 7915 sec. 5.2 / 5.3: ICMPv6 -> ICMPv4
// ---------------------------------------------------------------------------------------------

translate(
  '64-icmp-echo-request',
  'RFC 7915 5.2',
  'Echo Request (Type 128): "Set the Type to 8 and adjust the ICMP checksum both to take the type change into account and to exclude the ICMPv6 pseudo-header"',
  64,
  () =>
    one(
      in6({ payload: icmpEcho(128, 0x4321, 9, filler(56, 6)) }),
      out4({ payload: icmpEcho(8, 0x4321, 9, filler(56, 6)) }),
    ),
);
translate('64-icmp-echo-reply', 'RFC 7915 5.2', 'Echo Reply (Type 129): "Set the Type to 0"', 64, () =>
  one(
    in6({ payload: icmpEcho(129, 0x4321, 10, filler(56, 7)) }),
    out4({ payload: icmpEcho(0, 0x4321, 10, filler(56, 7)) }),
  ),
);
const INFO64_DROPS: [number, string][] = [
  [130, 'MLD Multicast Listener Query (Type 130): "Single-hop message. Silently drop"'],
  [131, 'MLD Multicast Listener Report (Type 131): "Single-hop message. Silently drop"'],
  [132, 'MLD Multicast Listener Done (Type 132): "Single-hop message. Silently drop"'],
  [143, 'MLDv2 Report (Type 143): "Single-hop message. Silently drop"'],
  [133, 'Neighbor Discovery (Router Solicitation, 133): "Single-hop message. Silently drop"'],
  [134, 'Neighbor Discovery (Router Advertisement, 134): "Single-hop message. Silently drop"'],
  [135, 'Neighbor Discovery (Neighbor Solicitation, 135): "Single-hop message. Silently drop"'],
  [136, 'Neighbor Discovery (Neighbor Advertisement, 136): "Single-hop message. Silently drop"'],
  [137, 'Neighbor Discovery (Redirect, 137): "Single-hop message. Silently drop"'],
  [200, 'Unknown informational messages (Type 200): "Silently drop"'],
];
for (const [type, req] of INFO64_DROPS) {
  drop(`64-icmp-type${type}-dropped`, 'RFC 7915 5.2', req, 64, 'icmptype64', () =>
    in6({ payload: icmp({ type, code: 0, body: filler(16) }) }),
  );
}

/** The packet the IPv4 host sent (as a6(S4) -> a6(H4)), quoted in ICMPv6 errors, and its IPv4 form. */
function quoted64(l4: () => L4, hopLimit = 63) {
  return {
    v6: ipv6({ src: a6(S4), dst: a6(H4), hopLimit, payload: l4() }),
    v4: ipv4AutoDf({ src: S4, dst: H4, ttl: hopLimit, id: 0, payload: l4() }),
  };
}

function icmpError64(
  id: string,
  req: string,
  m6: { type: number; code: number; rest?: number },
  m4: { type: number; code: number; rest?: number },
  config: TranslatorConfigInput = CONFIG,
): void {
  translate(
    id,
    'RFC 7915 5.2, 5.3',
    req,
    64,
    () => {
      const q = quoted64(TCP);
      return one(err6in({ ...m6, body: q.v6 }), err4out({ ...m4, body: q.v4 }));
    },
    config,
  );
}
drop(
  '64-icmp-error-type100-dropped',
  'RFC 7915 5.2',
  'Unknown error messages (Type 100): "Silently drop"',
  64,
  'icmptype64',
  () => err6in({ type: 100, code: 0, body: quoted64(TCP).v6 }),
);

const DU64: [number, number, string][] = [
  [0, 1, 'Code 0 (No route to destination): "Set the Code to 1 (Host unreachable)"'],
  [1, 10, 'Code 1 (Communication with destination administratively prohibited): "Set the Code to 10"'],
  [2, 1, 'Code 2 (Beyond scope of source address): "Set the Code to 1 (Host unreachable)"'],
  [3, 1, 'Code 3 (Address unreachable): "Set the Code to 1 (Host unreachable)"'],
  [4, 3, 'Code 4 (Port unreachable): "Set the Code to 3 (Port unreachable)"'],
];
for (const [code, code4, req] of DU64) {
  icmpError64(
    `64-icmp-du-code${code}`,
    `Destination Unreachable (Type 1): "Set the Type to 3"; ${req}`,
    { type: 1, code },
    { type: 3, code: code4 },
  );
}
for (const code of [5, 6, 7]) {
  drop(
    `64-icmp-du-code${code}-dropped`,
    'RFC 7915 5.2',
    `Destination Unreachable, Code ${code}: "Other Codes: Silently drop"`,
    64,
    'icmptype64',
    () => err6in({ type: 1, code, body: quoted64(TCP).v6 }),
  );
}

function ptb64(
  id: string,
  req: string,
  advertised: number,
  expectedMtu: number,
  config: TranslatorConfigInput = CONFIG,
) {
  translate(
    id,
    'RFC 7915 5.2',
    req,
    64,
    () => {
      const q = quoted64(() => TCP(1460));
      return one(
        err6in({ type: 2, code: 0, rest: advertised, body: q.v6.subarray(0, 1232) }),
        err4out({ type: 3, code: 4, rest: expectedMtu, body: q.v4.subarray(0, 548) }),
      );
    },
    config,
  );
}
ptb64(
  '64-icmp-packet-too-big-1400',
  'Packet Too Big (Type 2): "Translate to an ICMPv4 Destination Unreachable (Type 3) with Code 4, and adjust the ICMPv4 checksum ... The MTU field MUST be adjusted for the difference between the IPv4 and IPv6 header sizes, i.e., minimum(advertised MTU-20, MTU_of_IPv4_nexthop, (MTU_of_IPv6_nexthop)-20)": 1400 -> 1380; the ICMPv4 error is cut to 576 bytes',
  1400,
  1380,
);
ptb64('64-icmp-packet-too-big-1500', 'Packet Too Big 1500 -> minimum(1480, 1500, 1480) = 1480', 1500, 1480);
ptb64(
  '64-icmp-packet-too-big-capped-by-mtu4',
  'Packet Too Big 9000 with IPv4 next-hop MTU 1300 and IPv6 MTU 9000 -> 1300',
  9000,
  1300,
  { ...CONFIG, mtu4: 1300, mtu6: 9000 },
);
ptb64(
  '64-icmp-packet-too-big-capped-by-mtu6',
  'Packet Too Big 9000 with IPv6 MTU 1400 (IPv4 MTU 9000) -> 1380',
  9000,
  1380,
  { ...CONFIG, mtu4: 9000, mtu6: 1400 },
);
icmpError64(
  '64-icmp-time-exceeded-code0',
  'Time Exceeded (Type 3): "Set the Type to 11 ... The Code is unchanged"',
  { type: 3, code: 0 },
  { type: 11, code: 0 },
);
icmpError64(
  '64-icmp-time-exceeded-code1',
  'Time Exceeded (Type 3), code 1: code unchanged',
  { type: 3, code: 1 },
  { type: 11, code: 1 },
);
icmpError64(
  '64-icmp-param-next-header',
  'Parameter Problem Code 1 (Unrecognized Next Header type encountered): "Translate this to an ICMPv4 protocol unreachable (Type 3, Code 2)"',
  { type: 4, code: 1, rest: 6 },
  { type: 3, code: 2 },
);
drop(
  '64-icmp-param-option-dropped',
  'RFC 7915 5.2',
  'Parameter Problem Code 2 (Unrecognized IPv6 option encountered): "Silently drop"',
  64,
  'icmptype64',
  () => err6in({ type: 4, code: 2, rest: 42, body: quoted64(TCP).v6 }),
);
drop(
  '64-icmp-param-code3-dropped',
  'RFC 7915 5.2',
  'Parameter Problem, unknown code 3: "Silently drop"',
  64,
  'icmptype64',
  () => err6in({ type: 4, code: 3, rest: 6, body: quoted64(TCP).v6 }),
);
/** RFC 7915 Figure 6: IPv6 pointer -> IPv4 pointer (undefined = n/a: silently drop). */
const POINTER64: [number, number | undefined][] = [
  [0, 0],
  [1, 1],
  [2, undefined],
  [3, undefined],
  [4, 2],
  [5, 2],
  [6, 9],
  [7, 8],
  [8, 12],
  [15, 12],
  [23, 12],
  [24, 16],
  [31, 16],
  [39, 16],
  [40, undefined],
];
for (const [p6, p4] of POINTER64) {
  const req = `Parameter Problem Code 0 (Erroneous header field encountered): "Set the Type to 12 (Parameter Problem), Code 0, and update the pointer as defined in Figure 6"; pointer ${p6} -> ${p4 ?? 'n/a (silently drop)'}`;
  if (p4 === undefined) {
    drop(`64-icmp-param-pointer${p6}-dropped`, 'RFC 7915 5.2', req, 64, 'icmptype64', () =>
      err6in({ type: 4, code: 0, rest: p6, body: quoted64(TCP).v6 }),
    );
  } else
    icmpError64(
      `64-icmp-param-pointer${p6}`,
      req,
      { type: 4, code: 0, rest: p6 },
      { type: 12, code: 0, rest: p4 << 24 },
    );
}

translate(
  '64-icmp-error-inner-udp-400',
  'RFC 7915 5.3',
  '"The ICMP error messages containing the packet in error MUST be translated just like a normal IP packet (except that the TTL/Hop Limit value of the inner IPv4/IPv6 packet are not decremented)"; "the Total Length field in the outer IPv4 header MUST be updated": 400 -> 360',
  64,
  () => {
    const q = quoted64(() => udp({ payload: filler(304, 9) }), 1);
    return one(err6in({ type: 3, code: 0, body: q.v6 }), err4out({ type: 11, code: 0, body: q.v4 }));
  },
);
translate(
  '64-icmp-error-truncated-to-576',
  'RFC 7915 5.3; RFC 1812 4.3.2.3',
  'A 700-byte ICMPv6 error translates to an ICMPv4 error of at most 576 bytes (the quoted packet is cut)',
  64,
  () => {
    const q = quoted64(() => udp({ payload: filler(604, 10) }), 1);
    return one(
      err6in({ type: 1, code: 4, body: q.v6 }),
      err4out({ type: 3, code: 3, body: q.v4.subarray(0, 548) }),
    );
  },
);
translate(
  '64-icmp-error-inner-header-plus-8',
  'RFC 7915 5.3',
  'A minimal quote (IPv6 header + 8 bytes of TCP) becomes IPv4 header + the same 8 bytes',
  64,
  () => {
    const q = quoted64(() => TCP(200));
    return one(
      err6in({ type: 1, code: 0, body: q.v6.subarray(0, 48) }),
      err4out({ type: 3, code: 1, body: q.v4.subarray(0, 28) }),
    );
  },
);
translate(
  '64-icmp-error-inner-echo',
  'RFC 7915 5.3',
  'The quoted ICMPv6 echo request is translated like a normal packet: type 8 and a checksum without pseudo-header',
  64,
  () => {
    const v6 = ipv6({ src: a6(S4), dst: a6(H4), hopLimit: 1, payload: icmpEcho(128, 0x4242, 3, filler(32)) });
    const v4 = ipv4({ src: S4, dst: H4, ttl: 1, payload: icmpEcho(8, 0x4242, 3, filler(32)) });
    return one(err6in({ type: 3, code: 0, body: v6 }), err4out({ type: 11, code: 0, body: v4 }));
  },
);
translate(
  '64-icmp-error-inner-extension-headers',
  'RFC 7915 5.1, 5.3',
  'The quoted packet carried hop-by-hop and destination options: they are skipped in the inner translation',
  64,
  () => {
    const v6 = ipv6({
      src: a6(S4),
      dst: a6(H4),
      hopLimit: 7,
      ext: [{ type: 'hopByHop' }, { type: 'destination' }],
      payload: UDP(),
    });
    const v4 = ipv4({ src: S4, dst: H4, ttl: 7, payload: UDP() });
    return one(err6in({ type: 1, code: 4, body: v6 }), err4out({ type: 3, code: 3, body: v4 }));
  },
);
translate(
  '64-icmp-error-inner-fragment',
  'RFC 7915 5.1.1, 5.3',
  'The quoted packet was a first fragment: the inner IPv4 header carries its identification and MF',
  64,
  () => {
    const whole6 = ipv6({ src: a6(S4), dst: a6(H4), hopLimit: 9, payload: udp({ payload: filler(200) }) });
    const whole4 = ipv4({ src: S4, dst: H4, ttl: 9, id: 0x4242, payload: udp({ payload: filler(200) }) });
    return one(
      err6in({ type: 3, code: 1, body: fragment6(whole6, [104], 0x00014242)[0] }),
      err4out({ type: 11, code: 1, body: fragment4(whole4, [104])[0] }),
    );
  },
);
drop(
  '64-icmp-error-inside-error',
  'RFC 7915 5.3',
  '"This process MUST stop at the first embedded header and drop the packet if it contains more embedded headers"',
  64,
  'icmpinner64',
  () => {
    const innermost = ipv6({ src: a6(H4), dst: a6(S4), payload: UDP() });
    const inner = ipv6({ src: a6(S4), dst: a6(H4), payload: icmp({ type: 1, code: 4, body: innermost }) });
    return err6in({ type: 3, code: 0, body: inner });
  },
);
drop(
  '64-icmp-error-inner-not-ipv6',
  'RFC 7915 5.3',
  'The quoted packet is not an IPv6 header (version 4): it cannot be translated',
  64,
  'icmpinner64',
  () => err6in({ type: 1, code: 4, body: padTo(quoted64(TCP).v4, 60) }),
);
drop(
  '64-icmp-error-bad-checksum',
  'RFC 7915 5',
  '"the checksum MUST be evaluated before translation": an ICMPv6 error with a wrong checksum is dropped, not turned into a valid ICMPv4 one',
  64,
  'checksum64',
  () => {
    const p = err6in({ type: 1, code: 4, body: quoted64(TCP).v6 });
    p[42] ^= 0x5a;
    return p;
  },
);

// RFC 4884 in ICMPv6 -> ICMPv4.
translate(
  '64-rfc4884-dest-unreach',
  'RFC 7915 5.2; RFC 4884',
  '"If the received ICMPv6 packet contains an ICMPv6 Extension [RFC4884] ... the ICMPv6 Extension length attribute MUST be adjusted accordingly (e.g., shorter due to the translation from IPv6 to IPv4)": 19 words of 8 -> 33 words of 4',
  64,
  () => {
    const q = quoted64(() => TCP(92), 63);
    const ext = icmpExtension([{ classNum: 2, cType: 1, payload: filler(12, 12) }]);
    return one(
      err6in({ type: 1, code: 4, rest: 19 << 24, body: Buffer.concat([q.v6, ext]) }),
      err4out({ type: 3, code: 3, rest: 33 << 16, body: Buffer.concat([q.v4, ext]) }),
    );
  },
);
translate(
  '64-rfc4884-padding',
  'RFC 7915 5.2; RFC 4884 4.1',
  'A 122-byte quote padded to 128 (length 16) translates to 102 bytes, zero-padded to the RFC 4884 minimum of 128 (length 32)',
  64,
  () => {
    const q = quoted64(() => TCP(62), 4);
    const ext = icmpExtension([{ classNum: 1, cType: 1, payload: filler(4, 14) }]);
    return one(
      err6in({ type: 3, code: 0, rest: 16 << 24, body: Buffer.concat([padTo(q.v6, 128), ext]) }),
      err4out({ type: 11, code: 0, rest: 32 << 16, body: Buffer.concat([padTo(q.v4, 128), ext]) }),
    );
  },
);

translate(
  '64-rfc4884-length-below-128-padded',
  'RFC 7915 5.2; RFC 4884 5',
  'A non-compliant length attribute (8 words = a 64-byte original datagram) followed by an extension: the 44-byte IPv4 quote is zero-padded to the RFC 4884 sec. 5 minimum of 128 (length 32 of 4) and the extension kept',
  64,
  () => {
    const q = quoted64(() => udp({ srcPort: 40001, dstPort: 53, payload: filler(16, 17) }), 5);
    assertShape(q.v6.length === 64 && q.v4.length === 44);
    const ext = icmpExtension([{ classNum: 2, cType: 1, payload: filler(8, 18) }]);
    return one(
      err6in({ type: 1, code: 4, rest: 8 << 24, body: Buffer.concat([q.v6, ext]) }),
      err4out({ type: 3, code: 3, rest: 32 << 16, body: Buffer.concat([padTo(q.v4, 128), ext]) }),
    );
  },
);

// RFC 6791: ICMPv6 errors from IPv6 routers whose address cannot be translated.
translate(
  '64-rfc6791-pool-source',
  'RFC 6791 2; RFC 7915 5.1',
  'An ICMPv6 error from an untranslatable router (2001:db8:ffff::1) takes its IPv4 source from the RFC 6791 pool',
  64,
  () => {
    const q = quoted64(UDP, 1);
    return one(
      err6in({ type: 3, code: 0, body: q.v6 }, { src: '2001:db8:ffff::1' }),
      err4out({ type: 11, code: 0, body: q.v4 }, { src: '203.0.113.7' }),
    );
  },
  { ...CONFIG, pool6791: ['203.0.113.7/32'] },
);
translate(
  '64-rfc6791-no-pool-dummy-address',
  'RFC 6791 4; RFC 7600 4',
  'Without an RFC 6791 pool the ICMPv6 error is still passed ("The source address used SHOULD NOT cause the ICMP packet to be discarded"), sourced from the IPv4 dummy address 192.0.0.8',
  64,
  () => {
    const q = quoted64(UDP, 1);
    return one(
      err6in({ type: 3, code: 0, body: q.v6 }, { src: '2001:db8:ffff::1' }),
      err4out({ type: 11, code: 0, body: q.v4 }, { src: '192.0.0.8' }),
    );
  },
);

// ---------------------------------------------------------------------------------------------
// RFC 6052 sec. 2.4 examples and sec. 3.1 non-global addresses
// ---------------------------------------------------------------------------------------------

const TABLE_6052: [string, number, string][] = [
  ['2001:db8::', 32, '2001:db8:c000:221::'],
  ['2001:db8:100::', 40, '2001:db8:1c0:2:21::'],
  ['2001:db8:122::', 48, '2001:db8:122:c000:2:2100::'],
  ['2001:db8:122:300::', 56, '2001:db8:122:3c0:0:221::'],
  ['2001:db8:122:344::', 64, '2001:db8:122:344:c0:2:2100:0'],
  ['2001:db8:122:344::', 96, '2001:db8:122:344::192.0.2.33'],
];
for (const [prefix, len, example] of TABLE_6052) {
  const config = { prefix: `${prefix}/${len}` };
  const other = embed6052(prefix, len, '198.51.100.10');
  translate(
    `6052-46-prefix${len}`,
    'RFC 6052 2.4',
    `Example table: 192.0.2.33 in ${prefix}/${len} is represented as ${example}`,
    46,
    () =>
      one(
        ipv4({ src: '192.0.2.33', dst: '198.51.100.10', ttl: 64, payload: UDP() }),
        ipv6({ src: example, dst: other, hopLimit: 63, payload: UDP() }),
      ),
    config,
  );
  translate(
    `6052-64-prefix${len}`,
    'RFC 6052 2.4, 2.3',
    `Example table, extraction: ${example} in ${prefix}/${len} carries 192.0.2.33`,
    64,
    () =>
      one(
        ipv6({ src: other, dst: example, hopLimit: 64, payload: TCP() }),
        ipv4({ src: '198.51.100.10', dst: '192.0.2.33', ttl: 63, payload: TCP() }),
      ),
    config,
  );
}
const WKP = { prefix: '64:ff9b::/96' };
drop(
  '6052-46-wkp-nonglobal-src',
  'RFC 6052 3.1',
  '"The Well-Known Prefix MUST NOT be used to represent non-global IPv4 addresses" ... "they MUST drop these packets": source 10.0.0.1',
  46,
  'srcaddr46',
  () => ipv4({ src: '10.0.0.1', dst: '9.9.9.9', payload: UDP() }),
  WKP,
);
drop(
  '6052-46-wkp-nonglobal-dst',
  'RFC 6052 3.1',
  'Destination 192.168.0.1 (RFC 1918) in 64:ff9b::/96: dropped',
  46,
  'dstaddr46',
  () => ipv4({ src: '1.1.1.1', dst: '192.168.0.1', payload: UDP() }),
  WKP,
);
translate(
  '6052-46-wkp-nonglobal-allowed',
  'RFC 6052 3.1',
  'With allowNonGlobalIpv4 (a lab option) the same packet is translated into 64:ff9b::c0a8:1',
  46,
  () =>
    one(
      ipv4({ src: '1.1.1.1', dst: '192.168.0.1', ttl: 64, payload: UDP() }),
      ipv6({ src: '64:ff9b::1.1.1.1', dst: '64:ff9b::192.168.0.1', hopLimit: 63, payload: UDP() }),
    ),
  { ...WKP, allowNonGlobalIpv4: true },
);
drop(
  '6052-64-wkp-nonglobal-dst',
  'RFC 6052 3.1',
  '"Address translators MUST NOT translate packets in which an address is composed of the Well-Known Prefix and a non-global IPv4 address": destination 64:ff9b::192.168.0.1',
  64,
  'dstaddr64',
  () => ipv6({ src: '64:ff9b::1.1.1.1', dst: '64:ff9b::192.168.0.1', payload: UDP() }),
  WKP,
);
drop(
  '6052-64-wkp-nonglobal-src',
  'RFC 6052 3.1',
  'Source 64:ff9b::10.0.0.1: dropped',
  64,
  'srcaddr64',
  () => ipv6({ src: '64:ff9b::10.0.0.1', dst: '64:ff9b::9.9.9.9', payload: UDP() }),
  WKP,
);
translate(
  '6052-64-wkp-nonglobal-allowed',
  'RFC 6052 3.1',
  'With allowNonGlobalIpv4 the same packet is translated',
  64,
  () =>
    one(
      ipv6({ src: '64:ff9b::1.1.1.1', dst: '64:ff9b::192.168.0.1', hopLimit: 64, payload: UDP() }),
      ipv4({ src: '1.1.1.1', dst: '192.168.0.1', ttl: 63, payload: UDP() }),
    ),
  { ...WKP, allowNonGlobalIpv4: true },
);

// ---------------------------------------------------------------------------------------------
// RFC 7757 explicit address mappings
// ---------------------------------------------------------------------------------------------

const EAM24 = { ...CONFIG, eam: [{ ipv4: '192.0.2.0/24', ipv6: '2001:db8:aaaa::/120' }] };
translate(
  '7757-46-eam-prefix',
  'RFC 7757 3.2, 3.3',
  'An IPv4 address inside an EAM (192.0.2.0/24 <-> 2001:db8:aaaa::/120) maps to the IPv6 prefix with the same suffix: 192.0.2.77 -> 2001:db8:aaaa::4d; the other address uses RFC 6052',
  46,
  () =>
    one(
      ipv4({ src: '203.0.113.5', dst: '192.0.2.77', ttl: 64, payload: TCP() }),
      ipv6({ src: a6('203.0.113.5'), dst: '2001:db8:aaaa::4d', hopLimit: 63, payload: TCP() }),
    ),
  EAM24,
);
translate(
  '7757-64-eam-prefix',
  'RFC 7757 3.2, 3.3',
  'The reverse: 2001:db8:aaaa::4d -> 192.0.2.77',
  64,
  () =>
    one(
      ipv6({ src: '2001:db8:aaaa::4d', dst: a6('203.0.113.5'), hopLimit: 64, payload: TCP() }),
      ipv4({ src: '192.0.2.77', dst: '203.0.113.5', ttl: 63, payload: TCP() }),
    ),
  EAM24,
);
const CLAT = { prefix: '64:ff9b::/96', eam: [{ ipv4: '192.0.0.1/32', ipv6: '2001:db8:1:464::1/128' }] };
translate(
  '7757-64-clat-host',
  'RFC 7757 3; RFC 6877 6.3',
  'CLAT-style /32 <-> /128 EAM: 2001:db8:1:464::1 -> 192.0.0.1 even though 192.0.0.1 is not global (the EAM is not the Well-Known Prefix)',
  64,
  () =>
    one(
      ipv6({ src: '2001:db8:1:464::1', dst: '64:ff9b::1.1.1.1', hopLimit: 64, payload: UDP() }),
      ipv4({ src: '192.0.0.1', dst: '1.1.1.1', ttl: 63, payload: UDP() }),
    ),
  CLAT,
);
translate(
  '7757-46-clat-host',
  'RFC 7757 3; RFC 6877 6.3',
  'The reverse: 1.1.1.1 -> 192.0.0.1 becomes 64:ff9b::101:101 -> 2001:db8:1:464::1',
  46,
  () =>
    one(
      ipv4({ src: '1.1.1.1', dst: '192.0.0.1', ttl: 64, payload: UDP() }),
      ipv6({ src: '64:ff9b::1.1.1.1', dst: '2001:db8:1:464::1', hopLimit: 63, payload: UDP() }),
    ),
  CLAT,
);
translate(
  '7757-46-eam-precedence',
  'RFC 7757 3.2',
  'EAM entries take precedence over the RFC 6052 prefix: 198.51.100.2 has an EAM, so it is not embedded in the prefix',
  46,
  () =>
    one(
      ipv4({ src: S4, dst: H4, ttl: 64, payload: UDP() }),
      ipv6({ src: a6(S4), dst: '2001:db8:bbbb::2', hopLimit: 63, payload: UDP() }),
    ),
  { ...CONFIG, eam: [{ ipv4: '198.51.100.2/32', ipv6: '2001:db8:bbbb::2/128' }] },
);
translate(
  '7757-64-eam-inner-packet',
  'RFC 7757 3; RFC 7915 5.3',
  'The addresses of the packet inside an ICMPv6 error are mapped with the EAM table too',
  64,
  () => {
    const inner6 = ipv6({ src: a6('203.0.113.5'), dst: '2001:db8:aaaa::4d', hopLimit: 3, payload: UDP() });
    const inner4 = ipv4({ src: '203.0.113.5', dst: '192.0.2.77', ttl: 3, payload: UDP() });
    return one(
      ipv6({
        src: '2001:db8:aaaa::fe',
        dst: a6('203.0.113.5'),
        hopLimit: 64,
        payload: icmp({ type: 1, code: 4, body: inner6 }),
      }),
      ipv4({
        src: '192.0.2.254',
        dst: '203.0.113.5',
        ttl: 63,
        payload: icmp({ type: 3, code: 3, body: inner4 }),
      }),
    );
  },
  EAM24,
);

// RFC 7757 sec. 3.2: an IPv4 suffix shorter than the IPv6 suffix fills the IPv6 suffix's leading bits.
const EAM72 = { ...CONFIG, eam: [{ ipv4: '198.51.100.0/24', ipv6: '2001:db8:1c6:3364::/72' }] };
translate(
  '7757-46-eam-shorter-suffix',
  'RFC 7757 3.2',
  'EAM 198.51.100.0/24 = 2001:db8:1c6:3364::/72: the 8 IPv4 suffix bits of 198.51.100.2 (0x02) go to IPv6 bits 72-79, the 48 bits after them are zero: 2001:db8:1c6:3364:2::',
  46,
  () =>
    one(
      ipv4({ src: S4, dst: '198.51.100.2', ttl: 64, payload: UDP() }),
      ipv6({ src: a6(S4), dst: '2001:db8:1c6:3364:2::', hopLimit: 63, payload: UDP() }),
    ),
  EAM72,
);
translate(
  '7757-64-eam-shorter-suffix',
  'RFC 7757 3.2',
  'The reverse: IPv6 bits 72-79 of 2001:db8:1c6:3364:2:: are the IPv4 suffix: 198.51.100.2',
  64,
  () =>
    one(
      ipv6({ src: '2001:db8:1c6:3364:2::', dst: a6(S4), hopLimit: 64, payload: UDP() }),
      ipv4({ src: '198.51.100.2', dst: S4, ttl: 63, payload: UDP() }),
    ),
  EAM72,
);
translate(
  '7757-64-eam-shorter-suffix-trailing-bits-ignored',
  'RFC 7757 3.2',
  'IPv6 bits after the IPv4 suffix carry no IPv4 information: 2001:db8:1c6:3364:2:0:0:99 also maps to 198.51.100.2 (as in Jool)',
  64,
  () =>
    one(
      ipv6({ src: '2001:db8:1c6:3364:2:0:0:99', dst: a6(S4), hopLimit: 64, payload: UDP() }),
      ipv4({ src: '198.51.100.2', dst: S4, ttl: 63, payload: UDP() }),
    ),
  EAM72,
);
const EAM20 = { ...CONFIG, eam: [{ ipv4: '198.51.96.0/20', ipv6: '2001:db8:1c6::/52' }] };
translate(
  '7757-46-eam-shorter-suffix-unaligned',
  'RFC 7757 3.2',
  'EAM 198.51.96.0/20 = 2001:db8:1c6::/52: the 12 suffix bits of 198.51.100.2 (0x402) start mid-octet at IPv6 bit 52: 2001:db8:1c6:402::',
  46,
  () =>
    one(
      ipv4({ src: S4, dst: '198.51.100.2', ttl: 64, payload: TCP() }),
      ipv6({ src: a6(S4), dst: '2001:db8:1c6:402::', hopLimit: 63, payload: TCP() }),
    ),
  EAM20,
);
translate(
  '7757-64-eam-shorter-suffix-unaligned',
  'RFC 7757 3.2',
  'The reverse: 2001:db8:1c6:402:: -> 198.51.100.2',
  64,
  () =>
    one(
      ipv6({ src: '2001:db8:1c6:402::', dst: a6(S4), hopLimit: 64, payload: TCP() }),
      ipv4({ src: '198.51.100.2', dst: S4, ttl: 63, payload: TCP() }),
    ),
  EAM20,
);

// RFC 7757 sec. 4: hairpinning. An IPv6 packet whose destination translates to an IPv4 address the
// EAM table maps back comes out as IPv6 (6->4->6 inside the translator, one router hop in all).
const HAIRPIN = {
  ...CONFIG,
  eam: [{ ipv4: '198.51.100.0/24', ipv6: '2001:db8:aaaa::/120' }],
  pool6791: ['203.0.113.7/32'],
};
const HAIRPIN_UDP = () => udp({ srcPort: 40001, dstPort: 53, payload: filler(20, 21) });
translate(
  '7757-hairpin-udp',
  'RFC 7757 4',
  'EAM host 2001:db8:aaaa::5 (198.51.100.5) sends to 2001:db8:64::198.51.100.7, whose IPv4 address has an EAM: translated to IPv4 and back, it leaves as IPv6 from 2001:db8:aaaa::5 to 2001:db8:aaaa::7, hop limit decremented once, traffic class kept, UDP checksum for the new addresses',
  64,
  () =>
    one(
      ipv6({
        src: '2001:db8:aaaa::5',
        dst: a6('198.51.100.7'),
        hopLimit: 64,
        trafficClass: 0x28,
        payload: HAIRPIN_UDP(),
      }),
      ipv6({
        src: '2001:db8:aaaa::5',
        dst: '2001:db8:aaaa::7',
        hopLimit: 63,
        trafficClass: 0x28,
        payload: HAIRPIN_UDP(),
      }),
    ),
  HAIRPIN,
);
translate(
  '7757-hairpin-tcp-prefix-source',
  'RFC 7757 4; RFC 6052 2.2',
  'An IPv4-translatable source (2001:db8:64::203.0.113.5) hairpinned to an EAM destination: the source comes back through the RFC 6052 prefix unchanged, the destination through the EAM',
  64,
  () =>
    one(
      ipv6({ src: a6('203.0.113.5'), dst: a6('198.51.100.7'), hopLimit: 20, payload: TCP() }),
      ipv6({ src: a6('203.0.113.5'), dst: '2001:db8:aaaa::7', hopLimit: 19, payload: TCP() }),
    ),
  HAIRPIN,
);
reply(
  '7757-hairpin-hoplimit-1',
  'RFC 7757 4; RFC 7915 5.4',
  'A hairpinned packet with hop limit 1 is answered in its own family: ICMPv6 Time Exceeded to the IPv6 sender (not an ICMPv4 error towards an IPv4 leg that never leaves the translator)',
  64,
  'hoplimit64',
  () => ipv6({ src: '2001:db8:aaaa::5', dst: a6('198.51.100.7'), hopLimit: 1, payload: HAIRPIN_UDP() }),
  (input) => reply6(input, 3, 0),
  HAIRPIN,
);
const hairpinError = (src6: string) => () => {
  const quoted = (src: string, dst: string) => ipv6({ src, dst, hopLimit: 3, payload: HAIRPIN_UDP() });
  return one(
    ipv6({
      src: '2001:db8:ffff::1',
      dst: a6('198.51.100.5'),
      hopLimit: 64,
      payload: icmp({ type: 3, code: 0, body: quoted(a6('198.51.100.5'), a6('198.51.100.7')) }),
    }),
    ipv6({
      src: src6,
      dst: '2001:db8:aaaa::5',
      hopLimit: 63,
      payload: icmp({ type: 3, code: 0, body: quoted('2001:db8:aaaa::5', '2001:db8:aaaa::7') }),
    }),
  );
};
translate(
  '7757-hairpin-icmp-error-pool6791v6',
  'RFC 7757 4; RFC 6791',
  'A hairpinned ICMPv6 Time Exceeded from an untranslatable router (2001:db8:ffff::1): its source comes from the IPv6 RFC 6791 pool (2001:db8:6791::1), the quoted packet is mapped both ways with its hop limit unchanged',
  64,
  hairpinError('2001:db8:6791::1'),
  { ...HAIRPIN, pool6791v6: ['2001:db8:6791::1/128'] },
);
translate(
  '7757-hairpin-icmp-error-no-pool6791v6',
  'RFC 7757 4; RFC 6791',
  'Without an IPv6 pool the IPv4 pool address (203.0.113.7) the IPv4 leg used comes back through the RFC 6052 prefix: 2001:db8:64::203.0.113.7',
  64,
  hairpinError(a6('203.0.113.7')),
  HAIRPIN,
);
translate(
  '7757-hairpin-off',
  'RFC 7757 4',
  'eamHairpinning: false: the packet is translated to IPv4 and leaves towards 198.51.100.7',
  64,
  () =>
    one(
      ipv6({ src: '2001:db8:aaaa::5', dst: a6('198.51.100.7'), hopLimit: 64, payload: HAIRPIN_UDP() }),
      ipv4({ src: '198.51.100.5', dst: '198.51.100.7', ttl: 63, id: 0, payload: HAIRPIN_UDP() }),
    ),
  { ...HAIRPIN, eamHairpinning: false },
);
translate(
  '7757-hairpin-not-for-eam-destination',
  'RFC 7757 4',
  'A destination that is itself an EAM IPv6 address (2001:db8:aaaa::7) is the IPv6 end of the mapping, not an IPv4-converted address: translated to IPv4 as usual, not hairpinned (the CLAT receives its own traffic this way)',
  64,
  () =>
    one(
      ipv6({ src: a6('203.0.113.5'), dst: '2001:db8:aaaa::7', hopLimit: 64, payload: HAIRPIN_UDP() }),
      ipv4({ src: '203.0.113.5', dst: '198.51.100.7', ttl: 63, id: 0, payload: HAIRPIN_UDP() }),
    ),
  HAIRPIN,
);
drop(
  '7757-hairpin-fragmented-for-ipv4-dropped',
  'RFC 7757 4; RFC 7915 5.1.1',
  'A hairpinned packet the IPv4 leg would cut into fragments for mtu4 (a 700-byte atomic fragment with mtu4 576) cannot come back as one IPv6 translation: dropped as hairpin64',
  64,
  'hairpin64',
  () => {
    const whole = ipv6({
      src: '2001:db8:aaaa::5',
      dst: a6('198.51.100.7'),
      hopLimit: 64,
      payload: udp({ srcPort: 40001, dstPort: 53, payload: filler(640, 22) }),
    });
    return fragment6(whole, [2000], 0x1234)[0];
  },
  { ...HAIRPIN, mtu4: 576 },
);
