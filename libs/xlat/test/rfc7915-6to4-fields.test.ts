// Proves the RFC 7915 sec. 5 IPv6 -> IPv4 translation field by field: every byte of the output is
// compared with a packet built independently from the RFC (test/packets.ts computes its own RFC 1071
// checksums), the input sits at an offset inside unrelated bytes and the output at an offset inside a
// sentinel-filled buffer that must stay untouched outside the reported packet(s). Covers sec. 5.1
// (TOS, TTL, ID, DF by the 1260-byte rule, illegal sources, hop limit and routing header errors),
// sec. 5.1.1 fragments, sec. 5.2/5.3 ICMP errors with truncated quotes, RFC 4884 lengths, and sec. 5.5
// checksums (RFC 768 zero checksum, RFC 1624 -0).
import { describe, expect, it } from 'vitest';
import {
  createStatefulTranslator,
  createTranslator,
  dropReasonName,
  parseIpv4Address,
  Verdict,
  XlatTuple,
} from '../src/index.js';
import {
  concat,
  extensionHeader,
  filler,
  fragmentHeader,
  hex,
  icmp,
  internetChecksum,
  ipv4,
  ipv6,
  r16,
  tcp,
  udp,
  v4,
} from './packets.js';

const PREFIX = '2001:db8:64::/96';
/** The IPv6 host, its destination and a router, all in the RFC 6052 prefix, and their IPv4 forms. */
const H6 = '2001:db8:64::198.51.100.2';
const H4 = '198.51.100.2';
const S6 = '2001:db8:64::192.0.2.1';
const S4 = '192.0.2.1';
const R6 = '2001:db8:64::203.0.113.9';
const R4 = '203.0.113.9';
const FILL = 0xa5;

interface Run {
  verdict: Verdict;
  reason: string;
  out: Uint8Array;
  lengths: number[];
}

interface RunOptions {
  inStart?: number;
  outStart?: number;
  outSize?: number;
  /** Byte value of everything around the packet in the input buffer. */
  around?: number;
}

type Translate6to4 = (
  input: Uint8Array,
  output: Uint8Array,
  inStart: number,
  inLength: number,
  outStart: number,
) => Verdict;

/**
 * Runs one translation of `p` placed at `inStart` between unrelated bytes into a FILL-ed buffer at
 * `outStart`, and checks that nothing outside [outStart, outStart + result.length) was written.
 */
function runWith(
  translate: Translate6to4,
  result: { length: number; reason: number; count: number; lengths: ArrayLike<number> },
  p: Uint8Array,
  o: RunOptions = {},
): Run {
  const inStart = o.inStart ?? 11;
  const outStart = o.outStart ?? 37;
  const input = new Uint8Array(inStart + p.length + 24).fill(o.around ?? 0xee);
  input.set(p, inStart);
  const output = new Uint8Array(o.outSize ?? outStart + 70000).fill(FILL);
  const verdict = translate(input, output, inStart, p.length, outStart);
  const length = verdict === Verdict.Drop ? 0 : result.length;
  const outside = [...output.subarray(0, outStart), ...output.subarray(outStart + length)];
  const written = outside.findIndex((b) => b !== FILL);
  expect(written, `a byte outside the result was written (verdict ${verdict}, length ${length})`).toBe(-1);
  return {
    verdict,
    reason: dropReasonName(result.reason),
    out: output.slice(outStart, outStart + length),
    lengths: Array.from(result.lengths).slice(0, verdict === Verdict.Drop ? 0 : result.count),
  };
}

function run(t: ReturnType<typeof createTranslator>, p: Uint8Array, o: RunOptions = {}): Run {
  return runWith((i, out, s, l, os) => t.v6ToV4(i, out, s, l, os), t.result, p, o);
}

const zeroId = () => createTranslator({ prefix: PREFIX, identification6to4: 'zero' });

/** The packet the IPv6 host sent, as quoted in an ICMPv6 error. */
function sent6(nextHeader: number, payload: Uint8Array, extra: Partial<Parameters<typeof ipv6>[0]> = {}) {
  return ipv6({ src: H6, dst: S6, nextHeader, payload, ...extra });
}

/** That packet translated to IPv4 with every checksum recomputed from scratch (hop limit unchanged). */
function sent4(protocol: number, payload: Uint8Array, extra: Partial<Parameters<typeof ipv4>[0]> = {}) {
  return ipv4({ src: H4, dst: S4, protocol, payload, ...extra });
}

/** ICMPv6 error from the router to the host. */
function error6(type: number, code: number, rest: number, body: Uint8Array, hopLimit = 64) {
  return ipv6({ src: R6, dst: H6, nextHeader: 58, payload: icmp(type, code, rest, body), hopLimit });
}

/** The ICMPv4 error expected from it: TTL one less, DF clear, ID 0 ('zero' policy). */
function error4(type: number, code: number, rest: number, body: Uint8Array, ttl = 63) {
  return ipv4({ src: R4, dst: H4, protocol: 1, payload: icmp(type, code, rest, body), ttl });
}

function pad(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes);
  return out;
}

/** Ones-complement 16-bit sum (RFC 1071) of the IPv4 pseudo-header plus `l4` with its checksum zeroed. */
function sum4(protocol: number, l4: Uint8Array, checksumAt: number): number {
  const copy = l4.slice();
  copy[checksumAt] = 0;
  copy[checksumAt + 1] = 0;
  const a = v4(H4) >>> 0;
  const b = v4(S4) >>> 0;
  const pseudo = (a >>> 16) + (a & 0xffff) + (b >>> 16) + (b & 0xffff) + protocol + copy.length;
  return ~internetChecksum(copy, 0, copy.length, pseudo) & 0xffff;
}

describe('RFC 7915 sec. 5.1: header fields of a translated packet', () => {
  it('UDP: TOS from traffic class, TTL = hop limit - 1, ID 0, DF clear, flow label dropped, checksum over the IPv4 pseudo-header', () => {
    const data = udp(40000, 53, 30);
    const p = ipv6({
      src: H6,
      dst: S6,
      nextHeader: 17,
      payload: data,
      hopLimit: 37,
      trafficClass: 0xb8,
      flowLabel: 0xabcde,
    });
    const r = run(zeroId(), p);
    expect(r.verdict).toBe(Verdict.Translate);
    expect(hex(r.out)).toBe(hex(ipv4({ src: H4, dst: S4, protocol: 17, payload: data, ttl: 36, tos: 0xb8 })));
  });

  it('TCP above 1260 bytes: DF set, ID 0 (RFC 6864 atomic), TCP checksum recomputed', () => {
    const data = tcp(40000, 443, 0x18, 1300);
    const p = sent6(6, data, { trafficClass: 0x04 });
    const r = run(createTranslator({ prefix: PREFIX }), p);
    expect(r.verdict).toBe(Verdict.Translate);
    expect(hex(r.out)).toBe(hex(sent4(6, data, { df: true, ttl: 63, tos: 0x04 })));
  });

  it('ICMPv6 echo request/reply become ICMPv4 echo 8/0 with the checksum over the message only; 8 bytes suffice, 4 do not', () => {
    for (const [t6, t4] of [
      [128, 8],
      [129, 0],
    ]) {
      for (const length of [0, 20]) {
        const r = run(zeroId(), sent6(58, icmp(t6, 0, 0x12340007, length)));
        expect(r.verdict, `type ${t6} with ${length} data bytes`).toBe(Verdict.Translate);
        expect(hex(r.out)).toBe(hex(sent4(1, icmp(t4, 0, 0x12340007, length), { ttl: 63 })));
      }
    }
    const short = run(zeroId(), sent6(58, new Uint8Array([128, 0, 0, 0]), { rawL4: true }));
    expect([short.verdict, short.reason]).toEqual([Verdict.Drop, 'truncated64']);
  });

  it('UDP checksum 0 stays 0; an adjusted UDP checksum of 0 is sent as 0xffff (RFC 768); a TCP one stays 0 (RFC 1624)', () => {
    const zero = sent6(17, udp(40000, 53, 12), { rawL4: true });
    expect(r16(zero, 46)).toBe(0);
    const z = run(zeroId(), zero);
    expect(hex(z.out)).toBe(hex(sent4(17, udp(40000, 53, 12), { ttl: 63, rawL4: true })));

    // Choose one 16-bit word of the payload so that the IPv4 sum is 0xffff (checksum 0).
    const solve = (l4: Uint8Array, protocol: number, checksumAt: number, wordAt: number) => {
      const out = l4.slice();
      out[wordAt] = 0;
      out[wordAt + 1] = 0;
      const w = 0xffff - sum4(protocol, out, checksumAt);
      out[wordAt] = w >>> 8;
      out[wordAt + 1] = w & 0xff;
      expect(sum4(protocol, out, checksumAt)).toBe(0xffff);
      return out;
    };
    const u = solve(udp(40000, 53, 10), 17, 6, 8);
    const ur = run(zeroId(), sent6(17, u));
    expect(r16(ur.out, 26)).toBe(0xffff);
    expect(hex(ur.out)).toBe(hex(sent4(17, u, { ttl: 63 })));
    const tc = solve(tcp(40000, 443, 0x10, 10), 6, 16, 20);
    const tr = run(zeroId(), sent6(6, tc));
    expect(r16(tr.out, 36)).toBe(0);
    expect(hex(tr.out)).toBe(hex(sent4(6, tc, { ttl: 63 })));

    // A TCP segment whose IPv6 checksum is 0 (a valid value for TCP) is still adjusted.
    const six = tcp(40000, 443, 0x10, 10);
    six[20] = 0;
    six[21] = 0;
    const probe = sent6(6, six);
    const s6 = ~r16(probe, 40 + 16) & 0xffff; // the IPv6 sum with the word at 20 zero
    const w6 = 0xffff - s6;
    six[20] = w6 >>> 8;
    six[21] = w6 & 0xff;
    const zero6 = sent6(6, six);
    expect(r16(zero6, 40 + 16)).toBe(0);
    const z6 = run(zeroId(), zero6);
    expect(hex(z6.out)).toBe(hex(sent4(6, six, { ttl: 63 })));
  });

  it('a non-first fragment is translated as data (no port parsing, however short): ID low 16 bits, offset, MF', () => {
    const p = sent6(44, filler(4), {
      extensions: fragmentHeader(17, 100, false, 0x12345678),
      protocol: 17,
      rawL4: true,
    });
    const r = run(zeroId(), p);
    expect(r.verdict).toBe(Verdict.Translate);
    expect(hex(r.out)).toBe(hex(sent4(17, filler(4), { id: 0x5678, fragmentOffset: 100, ttl: 63 })));
  });

  it('drops an unspecified, loopback or multicast source even when an EAM entry maps it (sec. 5.1), but not ::2 or ::100', () => {
    const t = createTranslator({
      prefix: PREFIX,
      identification6to4: 'zero',
      eam: [
        { ipv4: '192.0.2.10/32', ipv6: '::/128' },
        { ipv4: '192.0.2.11/32', ipv6: '::1/128' },
        { ipv4: '192.0.2.12/32', ipv6: 'ff0e::1/128' },
        { ipv4: '192.0.2.13/32', ipv6: '::2/128' },
        { ipv4: '192.0.2.14/32', ipv6: '::100/128' },
      ],
    });
    const data = udp(1000, 53, 8);
    for (const src of ['::', '::1', 'ff0e::1']) {
      const r = run(t, ipv6({ src, dst: S6, nextHeader: 17, payload: data }));
      expect([r.verdict, r.reason], src).toEqual([Verdict.Drop, 'srcaddr64']);
    }
    for (const [src, src4] of [
      ['::2', '192.0.2.13'],
      ['::100', '192.0.2.14'],
    ]) {
      const r = run(t, ipv6({ src, dst: S6, nextHeader: 17, payload: data }));
      expect(r.verdict, src).toBe(Verdict.Translate);
      expect(hex(r.out)).toBe(hex(ipv4({ src: src4, dst: S4, protocol: 17, payload: data, ttl: 63 })));
    }
  });

  it('answers an unmappable destination with ICMPv6 1/1 quoting the packet when configured (sec. 5.4)', () => {
    const t = createTranslator({ prefix: PREFIX, icmpErrorsForUntranslatable: true });
    const p = ipv6({ src: H6, dst: '2001:db8:99::1', nextHeader: 17, payload: udp(1000, 53, 8) });
    const r = run(t, p);
    expect([r.verdict, r.reason]).toEqual([Verdict.ReplyIcmp, 'dstaddr64']);
    const expected = ipv6({ src: '2001:db8:99::1', dst: H6, nextHeader: 58, payload: icmp(1, 1, 0, p) });
    expect(hex(r.out)).toBe(hex(expected));
  });

  it('answers a routing header with segments left with Parameter Problem pointing at it from the packet start, never about an ICMP error', () => {
    const rh = (next: number) =>
      extensionHeader(next, 0, (b) => {
        b[2] = 0;
        b[3] = 1;
      });
    const p = sent6(43, udp(1000, 53, 8), { extensions: rh(17), protocol: 17 });
    const r = run(zeroId(), p, { inStart: 11 });
    expect([r.verdict, r.reason]).toEqual([Verdict.ReplyIcmp, 'routingheader64']);
    expect(hex(r.out)).toBe(hex(ipv6({ src: S6, dst: H6, nextHeader: 58, payload: icmp(4, 0, 43, p) })));

    const err = ipv6({
      src: R6,
      dst: H6,
      nextHeader: 43,
      extensions: rh(58),
      protocol: 58,
      payload: icmp(1, 4, 0, sent6(17, udp(1000, 53, 8))),
    });
    const e = run(zeroId(), err);
    expect([e.verdict, e.reason]).toEqual([Verdict.Drop, 'routingheader64']);
  });
});

describe('RFC 7915 sec. 5.1 / 5.1.1: output room and IPv4 fragmentation', () => {
  it('translates into an output exactly the packet size and drops one byte short', () => {
    const p = sent6(17, udp(1000, 53, 30));
    const exact = run(zeroId(), p, { outStart: 5, outSize: 5 + 20 + 38 });
    expect(exact.verdict).toBe(Verdict.Translate);
    expect(hex(exact.out)).toBe(hex(sent4(17, udp(1000, 53, 30), { ttl: 63 })));
    const short = run(zeroId(), p, { outStart: 5, outSize: 5 + 20 + 37 });
    expect([short.verdict, short.reason]).toEqual([Verdict.Drop, 'buffer64']);
  });

  it('a packet of exactly mtu4 bytes (mtu4 - 20 not a multiple of 8) is one packet, fitting an output of its size', () => {
    const t = createTranslator({ prefix: PREFIX, identification6to4: 'zero', mtu4: 1499 });
    const data = udp(1000, 53, 1499 - 28);
    const r = run(t, sent6(17, data), { outStart: 3, outSize: 3 + 1499 });
    expect(r.verdict).toBe(Verdict.Translate);
    expect(r.lengths).toEqual([1499]);
    expect(hex(r.out)).toBe(hex(sent4(17, data, { ttl: 63, df: true })));
  });

  it('needs room for every fragment header: drops when the output holds the packet but not its fragments', () => {
    const t = createTranslator({ prefix: PREFIX, identification6to4: 'zero', mtu4: 576 });
    const data = udp(1000, 53, 1000);
    const p = sent6(44, data, { extensions: fragmentHeader(17, 0, false, 7), protocol: 17 });
    // 1008 bytes of UDP in chunks of 552: two fragments, 2 * 20 + 1008 bytes.
    for (const room of [1028, 1047]) {
      const r = run(t, p, { outStart: 9, outSize: 9 + room });
      expect([r.verdict, r.reason], `room ${room}`).toEqual([Verdict.Drop, 'buffer64']);
    }
    const r = run(t, p, { outStart: 9, outSize: 9 + 1048 });
    expect(r.verdict).toBe(Verdict.Translate);
    expect(r.lengths).toEqual([572, 476]);
    const whole = sent4(17, data).subarray(20);
    expect(hex(r.out)).toBe(
      hex(
        concat(
          sent4(17, whole.subarray(0, 552), { id: 7, mf: true, ttl: 63, rawL4: true }),
          sent4(17, whole.subarray(552), { id: 7, fragmentOffset: 69, ttl: 63, rawL4: true }),
        ),
      ),
    );
  });

  it('splits a fragment to mtu4: offsets continue from the original, every piece keeps MF when the original had it', () => {
    const t = createTranslator({ prefix: PREFIX, identification6to4: 'zero', mtu4: 1000 });
    const data = filler(3000, 5);
    const p = sent6(44, data, {
      extensions: fragmentHeader(17, 100, true, 0xabcd1234),
      protocol: 17,
      rawL4: true,
    });
    const r = run(t, p);
    expect(r.verdict).toBe(Verdict.Translate);
    // Chunks of (1000 - 20) rounded down to 8 = 976 bytes = 122 units.
    const pieces = [0, 1, 2, 3].map((k) =>
      sent4(17, data.subarray(k * 976, Math.min(3000, (k + 1) * 976)), {
        id: 0x1234,
        mf: true,
        fragmentOffset: 100 + k * 122,
        ttl: 63,
      }),
    );
    expect(r.lengths).toEqual(pieces.map((q) => q.length));
    expect(hex(r.out)).toBe(hex(concat(...pieces)));
  });
});

describe('RFC 7915 sec. 5.2 / 5.3: ICMPv6 errors and the packet inside', () => {
  const portUnreachable = (body: Uint8Array, o: RunOptions = {}) => run(zeroId(), error6(1, 4, 0, body), o);

  it('port unreachable at offsets: outer and quoted headers, both checksums, nothing written outside', () => {
    const sent = sent6(17, udp(40000, 53, 20), { trafficClass: 0x20, hopLimit: 9 });
    const r = portUnreachable(sent, { inStart: 3, outStart: 101 });
    expect(r.verdict).toBe(Verdict.Translate);
    expect(hex(r.out)).toBe(hex(error4(3, 3, 0, sent4(17, udp(40000, 53, 20), { tos: 0x20, ttl: 9 }))));
  });

  it('drops a parameter problem whose pointer is beyond 16 bits (no figure 6 entry)', () => {
    const r = run(zeroId(), error6(4, 0, 0x10001, sent6(17, udp(1, 2, 8))));
    expect([r.verdict, r.reason]).toEqual([Verdict.Drop, 'icmptype64']);
  });

  it('packet too big: MTU - 20 capped by mtu4 and mtu6 - 20, at least 68; a huge MTU is not an RFC 4884 length', () => {
    const sent = sent6(17, udp(1, 2, 20));
    const q = sent4(17, udp(1, 2, 20));
    for (const [mtu, expected] of [
      [60, 68],
      [1300, 1280],
      [0x01000500, 1480],
    ]) {
      const r = run(zeroId(), error6(2, 0, mtu, sent));
      expect(r.verdict, `MTU ${mtu}`).toBe(Verdict.Translate);
      expect(hex(r.out)).toBe(hex(error4(3, 4, expected, q)));
    }
  });

  it('quoted packet: DF only above 1260 bytes, total length from the quoted header, cut to 576 bytes (548 quoted)', () => {
    for (const [size, df] of [
      [1260, false],
      [1261, true],
    ] as const) {
      const data = udp(1, 2, size - 28);
      const r = portUnreachable(sent6(17, data).subarray(0, 100));
      expect(r.verdict).toBe(Verdict.Translate);
      expect(hex(r.out)).toBe(hex(error4(3, 3, 0, sent4(17, data, { df }).subarray(0, 80))));
    }
    // 578 bytes translated: cut to 548.
    const data = udp(1, 2, 550);
    const r = portUnreachable(sent6(17, data));
    expect(r.out.length).toBe(576);
    expect(hex(r.out)).toBe(hex(error4(3, 3, 0, sent4(17, data).subarray(0, 548))));
  });

  it('a quoted ICMPv6 echo behind a destination options header: pseudo-header length without the extension', () => {
    const echo = icmp(128, 0, 0x12340001, 16);
    const sent = sent6(60, echo, { extensions: extensionHeader(58, 0), protocol: 58 });
    const r = portUnreachable(sent);
    expect(r.verdict).toBe(Verdict.Translate);
    expect(hex(r.out)).toBe(hex(error4(3, 3, 0, sent4(1, icmp(8, 0, 0x12340001, 16)))));
  });

  it('quotes cut inside the transport header: what is present is rewritten exactly, nothing past it', () => {
    const echo6 = sent6(58, icmp(128, 0, 0x12340001, 8));
    const echo4 = sent4(1, icmp(8, 0, 0x12340001, 8));
    for (const present of [1, 4, 5, 6]) {
      const r = portUnreachable(echo6.subarray(0, 40 + present));
      expect(r.verdict, `echo, ${present} bytes`).toBe(Verdict.Translate);
      expect(hex(r.out)).toBe(hex(error4(3, 3, 0, echo4.subarray(0, 20 + present))));
    }
    // Three bytes: type and code translated, the partial checksum left alone.
    const three = portUnreachable(echo6.subarray(0, 43));
    expect(three.out.length).toBe(28 + 23);
    expect(hex(three.out.subarray(28, 28 + 22))).toBe(hex(echo4.subarray(0, 22)));

    const udp6 = sent6(17, udp(1000, 2000, 0));
    const udp4 = sent4(17, udp(1000, 2000, 0));
    for (const present of [2, 4, 8]) {
      const r = portUnreachable(udp6.subarray(0, 40 + present));
      expect(r.verdict, `UDP, ${present} bytes`).toBe(Verdict.Translate);
      expect(hex(r.out)).toBe(hex(error4(3, 3, 0, udp4.subarray(0, 20 + present))));
    }
    const udp3 = portUnreachable(udp6.subarray(0, 43));
    expect(hex(udp3.out.subarray(28))).toBe(hex(udp4.subarray(0, 23)));

    const tcp6 = sent6(6, tcp(1000, 2000, 0x02));
    const tcp4 = sent4(6, tcp(1000, 2000, 0x02));
    const t17 = portUnreachable(tcp6.subarray(0, 57));
    expect(t17.out.length).toBe(28 + 37);
    expect(hex(t17.out.subarray(28, 28 + 36))).toBe(hex(tcp4.subarray(0, 36)));

    // Only the IPv6 header: no transport byte to look at (the input continues with other bytes).
    const bare = portUnreachable(echo6.subarray(0, 40));
    expect(bare.verdict).toBe(Verdict.Translate);
    expect(hex(bare.out)).toBe(hex(error4(3, 3, 0, echo4.subarray(0, 20))));
  });

  it('drops a quote that is itself an ICMPv6 error (even one byte of it) or ICMPv4 inside IPv6', () => {
    const inner = sent6(58, icmp(1, 4, 0, 8));
    for (const body of [inner.subarray(0, 41), sent6(1, filler(8), { rawL4: true })]) {
      const r = portUnreachable(body);
      expect([r.verdict, r.reason]).toEqual([Verdict.Drop, 'icmpinner64']);
    }
  });

  it('a quoted non-first fragment: its data copied untouched, Fragment header to IPv4 ID/MF/offset', () => {
    const data = filler(16);
    const sent = sent6(44, data, {
      extensions: fragmentHeader(58, 3, false, 0x0a0b0c0d),
      protocol: 58,
      rawL4: true,
    });
    const r = portUnreachable(sent);
    expect(r.verdict).toBe(Verdict.Translate);
    expect(hex(r.out)).toBe(hex(error4(3, 3, 0, sent4(1, data, { id: 0x0c0d, fragmentOffset: 3 }))));
  });

  it('NAT64: quoted ports and echo identifier come from the session tuple even when only 4 or 6 bytes are quoted', () => {
    const nat = createStatefulTranslator({ prefix: '64:ff9b::/96', identification6to4: 'zero' });
    const tuple = new XlatTuple();
    tuple.src4 = parseIpv4Address('198.51.100.1')!;
    tuple.dst4 = parseIpv4Address('203.0.113.7')!;
    tuple.srcPort = 6001;
    tuple.dstPort = 53;
    const host = '2001:db8:1::5';
    const remote6 = '64:ff9b::203.0.113.7';
    const err = (body: Uint8Array) =>
      ipv6({ src: remote6, dst: host, nextHeader: 58, payload: icmp(1, 4, 0, body) });
    const translate: Translate6to4 = (i, o, s, l, os) => nat.v6ToV4(i, o, tuple, s, l, os);
    // The quoted packet went remote -> host; in IPv4 it is 203.0.113.7:53 -> 198.51.100.1:6001.
    const quoted4 = (protocol: number, l4: Uint8Array) =>
      ipv4({ src: '203.0.113.7', dst: '198.51.100.1', protocol, payload: l4 });
    const outer4 = (body: Uint8Array) =>
      ipv4({ src: '198.51.100.1', dst: '203.0.113.7', protocol: 1, ttl: 63, payload: icmp(3, 3, 0, body) });

    const u6 = ipv6({ src: remote6, dst: host, nextHeader: 17, payload: udp(40000, 41000, 0) });
    const u = runWith(translate, nat.result, err(u6.subarray(0, 44)));
    expect(u.verdict).toBe(Verdict.Translate);
    expect(hex(u.out)).toBe(hex(outer4(quoted4(17, udp(53, 6001, 0)).subarray(0, 24))));

    const e6 = ipv6({ src: remote6, dst: host, nextHeader: 58, payload: icmp(128, 0, 0x99990002, 8) });
    const e = runWith(translate, nat.result, err(e6.subarray(0, 46)));
    expect(e.verdict).toBe(Verdict.Translate);
    expect(hex(e.out)).toBe(hex(outer4(quoted4(1, icmp(8, 0, (6001 << 16) | 2, 8)).subarray(0, 26))));
  });
});

describe('RFC 4884 lengths in ICMPv6 errors (8-byte words) -> ICMPv4 (4-byte words)', () => {
  const ext = (n: number) => filler(n, 9);
  const du = (words: number, body: Uint8Array) => error6(1, 4, words << 24, body);

  it('a length beyond the message is no length: the whole rest is the datagram, the ICMPv4 length 0', () => {
    const sent = sent6(17, udp(1000, 2000, 20));
    const r = run(zeroId(), du(20, sent));
    expect(r.verdict).toBe(Verdict.Translate);
    expect(hex(r.out)).toBe(hex(error4(3, 3, 0, sent4(17, udp(1000, 2000, 20)))));
  });

  it('a length covering the quoted header and 8 bytes keeps the extension behind a datagram padded to 128', () => {
    const sent = sent6(17, udp(1000, 2000, 8));
    const r = run(zeroId(), du(6, concat(sent.subarray(0, 48), ext(16))));
    expect(r.verdict).toBe(Verdict.Translate);
    const quoted = pad(sent4(17, udp(1000, 2000, 8)).subarray(0, 28), 128);
    expect(hex(r.out)).toBe(hex(error4(3, 3, 32 << 16, concat(quoted, ext(16)))));
  });

  it('a length covering only the quoted header is not believed: the message is read as if it had none', () => {
    const sent = sent6(17, udp(1000, 2000, 8));
    const r = run(zeroId(), du(5, concat(sent, ext(16))));
    expect(r.verdict).toBe(Verdict.Translate);
    expect(hex(r.out)).toBe(hex(error4(3, 3, 0, sent4(17, udp(1000, 2000, 8)))));
    // Read again as a plain quote, the datagram may be cut short: the extension's bytes become its data.
    const long = sent6(17, udp(1000, 2000, 40));
    const cut = run(zeroId(), du(5, concat(long.subarray(0, 56), ext(16))));
    expect(cut.verdict).toBe(Verdict.Translate);
    expect(hex(cut.out)).toBe(
      hex(error4(3, 3, 0, concat(sent4(17, udp(1000, 2000, 40)).subarray(0, 36), ext(16)))),
    );
  });

  it('a quoted non-first fragment needs no transport bytes: header + Fragment header keeps the extension', () => {
    const sent = sent6(44, filler(24), {
      extensions: fragmentHeader(17, 10, true, 0x01020304),
      protocol: 17,
      rawL4: true,
    });
    const r = run(zeroId(), du(6, concat(sent.subarray(0, 48), ext(16))));
    expect(r.verdict).toBe(Verdict.Translate);
    const header = sent4(17, new Uint8Array(0), {
      id: 0x0304,
      mf: true,
      fragmentOffset: 10,
      totalLength: 44,
    });
    expect(hex(r.out)).toBe(hex(error4(3, 3, 32 << 16, concat(pad(header, 128), ext(16)))));
  });

  it('within 576 bytes: the datagram is cut to make room for the extension, down to 128; below that the extension goes', () => {
    const data = udp(1, 2, 1000);
    const sent = sent6(17, data);
    const translated = sent4(17, data);
    // 512 bytes of original datagram (64 words) = 492 translated.
    const cases: [number, number, boolean][] = [
      [100, 448, true], // room (576 - 28 - 100) = 448
      [420, 128, true], // room exactly 128
      [424, 492, false], // room 124: extension dropped, datagram whole
    ];
    for (const [extLength, datagram, kept] of cases) {
      const r = run(zeroId(), du(64, concat(sent.subarray(0, 512), ext(extLength))));
      expect(r.verdict, `extension ${extLength}`).toBe(Verdict.Translate);
      const body = kept
        ? concat(translated.subarray(0, datagram), ext(extLength))
        : translated.subarray(0, datagram);
      expect(hex(r.out), `extension ${extLength}`).toBe(
        hex(error4(3, 3, kept ? (datagram / 4) << 16 : 0, body)),
      );
    }
  });
});
