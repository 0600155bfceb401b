// Proves the ICMPv4 -> ICMPv6 error translation (RFC 7915 sec. 4.2/4.3, RFC 4884) at the edges of
// the quoted packet: transport headers cut anywhere (nothing past the cut is invented or adjusted),
// quoted ICMP queries, non-first fragments, protocols that cannot be quoted, stale parse state, and
// RFC 4884 length attributes (beyond the message, below 128, on types without one in ICMPv6, and
// extensions that leave too little room under 1280 bytes). Expected packets come from
// test/support/build.ts; every call writes into a marked buffer (see dirty-output.ts).
import { describe, expect, it } from 'vitest';
import {
  filler,
  fold,
  type IcmpOptions,
  type Ipv4Options,
  icmp,
  icmpEcho,
  icmpExtension,
  ipv4,
  ipv6,
  onesSum,
  parseIpv6,
  pseudo4Sum,
  pseudo6Sum,
  raw,
  tcp,
  udp,
} from '../../../test/support/build.js';
import { createStatefulTranslator, createTranslator, Verdict, XlatTuple } from '../src/index.js';
import { dirtyRun, run46 } from './dirty-output.js';

const CONFIG = { prefix: '2001:db8:64::/96' } as const;
const a6 = (v4: string) => `2001:db8:64::${v4}`;
/** IPv4 server, the IPv6 host's IPv4 address, and the IPv4 router reporting the error. */
const S4 = '192.0.2.1';
const H4 = '198.51.100.2';
const R4 = '203.0.113.9';

/** An ICMPv4 error from R4 to H4 about a packet H4 sent. */
const err4 = (m: IcmpOptions, o: Partial<Ipv4Options> = {}) =>
  ipv4({ src: R4, dst: H4, ttl: 64, payload: icmp(m), ...o });
/** Its translation (sec. 4.2): from a6(R4) to a6(H4), hop limit 63. */
const err6 = (m: IcmpOptions) => ipv6({ src: a6(R4), dst: a6(H4), hopLimit: 63, payload: icmp(m) });

/** The packet H4 sent (quoted in the error) and its sec. 4.3 translation (hop limit = TTL, unchanged). */
const q4 = (payload: Ipv4Options['payload'], o: Partial<Ipv4Options> = {}) =>
  ipv4({ src: H4, dst: S4, ttl: 3, payload, ...o });
const q6 = (payload: Parameters<typeof ipv6>[0]['payload'], o: Partial<Parameters<typeof ipv6>[0]> = {}) =>
  ipv6({ src: a6(H4), dst: a6(S4), hopLimit: 3, payload, ...o });

const UDP = (length = 20) => udp({ srcPort: 40001, dstPort: 53, payload: filler(length, 7) });
const ECHO4 = () => icmpEcho(8, 0x1234, 7, filler(12, 4));
const ECHO6 = () => icmpEcho(128, 0x1234, 7, filler(12, 4));

function translateError(input: Uint8Array, o: { outStart?: number; inLength?: number } = {}) {
  const t = createTranslator(CONFIG);
  return run46(t, input, o);
}

function expectTranslated(r: ReturnType<typeof run46>, want: Buffer) {
  expect(r.verdict, r.reason).toBe(Verdict.Translate);
  expect(r.bytes.toString('hex')).toBe(want.toString('hex'));
  expect(r.outside).toEqual([]);
}

describe('RFC 7915 sec. 4.3: a quoted transport header cut short', () => {
  const full4 = q4(UDP());
  const full6 = q6(UDP());
  for (const n of [2, 4, 7]) {
    it(`UDP cut after ${n} bytes: ports kept, nothing past the cut adjusted or written`, () => {
      const r = translateError(err4({ type: 11, code: 0, body: full4.subarray(0, 20 + n) }));
      // The checksum is not all there, so it cannot be adjusted: the present bytes stay as sent.
      const quoted = Buffer.concat([full6.subarray(0, 40), full4.subarray(20, 20 + n)]);
      expectTranslated(r, err6({ type: 3, code: 0, body: quoted }));
    });
  }

  it('UDP cut after 8 bytes (RFC 792 minimum): the checksum is adjusted for the IPv6 pseudo-header', () => {
    const r = translateError(err4({ type: 11, code: 0, body: full4.subarray(0, 28) }));
    expectTranslated(r, err6({ type: 3, code: 0, body: full6.subarray(0, 48) }));
  });

  it('a complete quoted UDP datagram with checksum 0 keeps 0 (no checksum to adjust)', () => {
    const u = () => udp({ srcPort: 40001, dstPort: 53, payload: filler(20, 7), checksum: 0 });
    const r = translateError(err4({ type: 3, code: 1, body: q4(u()) }));
    expectTranslated(r, err6({ type: 1, code: 0, body: q6(u()) }));
  });

  it('a complete quoted TCP segment with a wrong checksum of 0 stays exactly as wrong (RFC 1624 update)', () => {
    const inner = q4(tcp({ payload: filler(10, 1), checksum: 0 }));
    const r = translateError(err4({ type: 3, code: 1, body: inner }));
    expect(r.verdict, r.reason).toBe(Verdict.Translate);
    const quoted = r.bytes.subarray(48);
    const residue4 = fold(
      onesSum(
        inner,
        20,
        inner.length,
        pseudo4Sum(inner.subarray(12, 16), inner.subarray(16, 20), 6, inner.length - 20),
      ),
    );
    const residue6 = fold(
      onesSum(
        quoted,
        40,
        quoted.length,
        pseudo6Sum(quoted.subarray(8, 24), quoted.subarray(24, 40), 6, quoted.length - 40),
      ),
    );
    expect(residue4).not.toBe(0xffff);
    expect(residue6).toBe(residue4);
    expect(r.outside).toEqual([]);
  });

  it('NAT64: a quoted UDP header cut after 4 bytes still gets the session ports (RFC 6146 sec. 3.7)', () => {
    const nat = createStatefulTranslator(CONFIG);
    const tuple = new XlatTuple();
    tuple.src6.set(parseIpv6(a6(S4)));
    tuple.srcPort = 53;
    tuple.dst6.set(parseIpv6('2001:db8:1::5'));
    tuple.dstPort = 40001;
    // The router quotes the IPv4 form of the host's packet: pool address H4, NAT port 6000.
    const inner = q4(udp({ srcPort: 6000, dstPort: 53, payload: filler(20, 7) }));
    const input = err4({ type: 11, code: 0, body: inner.subarray(0, 24) });
    const r = dirtyRun(nat.result, (i, o, s, l, os) => nat.v4ToV6(i, o, tuple, s, l, os), input);
    const quoted = ipv6({ src: '2001:db8:1::5', dst: a6(S4), hopLimit: 3, payload: UDP() }).subarray(0, 44);
    expectTranslated(
      r,
      ipv6({
        src: a6(R4),
        dst: '2001:db8:1::5',
        hopLimit: 63,
        payload: icmp({ type: 3, code: 0, body: quoted }),
      }),
    );
  });
});

describe('RFC 7915 sec. 4.3: a quoted ICMP query', () => {
  const full4 = q4(ECHO4());
  const full6 = q6(ECHO6());
  for (const n of [1, 4, 6]) {
    it(`echo request cut after ${n} bytes: type 128, and checksum and identifier where present`, () => {
      const r = translateError(err4({ type: 3, code: 3, body: full4.subarray(0, 20 + n) }));
      // Checksum (from 4 bytes on) = the ICMPv6 checksum of the whole echo request (RFC 4443 sec. 2.3).
      expectTranslated(r, err6({ type: 1, code: 4, body: full6.subarray(0, 40 + n) }));
    });
  }

  it('a quoted echo reply becomes an ICMPv6 echo reply (129)', () => {
    const reply4 = q4(icmpEcho(0, 0x1234, 7, filler(12, 4)));
    const r = translateError(err4({ type: 3, code: 3, body: reply4 }));
    expectTranslated(r, err6({ type: 1, code: 4, body: q6(icmpEcho(129, 0x1234, 7, filler(12, 4))) }));
  });

  it('a quoted packet cut right after its IPv4 header is translated without reading past the message', () => {
    const packet = err4({ type: 3, code: 3, body: full4.subarray(0, 20) });
    // The bytes after the packet in the batch look like an ICMP error type: they must not be read.
    const input = Buffer.concat([packet, Buffer.from([3, 3, 3, 3])]);
    const r = translateError(input, { inLength: packet.length });
    expectTranslated(r, err6({ type: 1, code: 4, body: full6.subarray(0, 40) }));
  });

  it('an ICMP error quoting one byte of an ICMP error is dropped as icmpinner46', () => {
    const inner = q4(icmp({ type: 3, code: 1, body: filler(28, 1) }));
    const r = translateError(err4({ type: 3, code: 3, body: inner.subarray(0, 21) }));
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.reason).toBe('icmpinner46');
    expect(r.outside).toEqual([]);
  });

  it('NAT64: a quoted echo request cut after 6 bytes gets the session identifier', () => {
    const nat = createStatefulTranslator(CONFIG);
    const tuple = new XlatTuple();
    tuple.src6.set(parseIpv6(a6(S4)));
    tuple.dst6.set(parseIpv6('2001:db8:1::5'));
    tuple.srcPort = 0x1111;
    tuple.dstPort = 0x1111;
    const inner = q4(icmpEcho(8, 0x2222, 7, filler(12, 4)));
    const input = err4({ type: 11, code: 0, body: inner.subarray(0, 26) });
    const r = dirtyRun(nat.result, (i, o, s, l, os) => nat.v4ToV6(i, o, tuple, s, l, os), input);
    const quoted = ipv6({
      src: '2001:db8:1::5',
      dst: a6(S4),
      hopLimit: 3,
      payload: icmpEcho(128, 0x1111, 7, filler(12, 4)),
    }).subarray(0, 46);
    expectTranslated(
      r,
      ipv6({
        src: a6(R4),
        dst: '2001:db8:1::5',
        hopLimit: 63,
        payload: icmp({ type: 3, code: 0, body: quoted }),
      }),
    );
  });
});

describe('RFC 7915 sec. 4.3: which quoted packets can be translated', () => {
  it('a quoted non-first UDP fragment: Fragment header, data untouched (no transport header in it)', () => {
    const data = filler(16, 9);
    const inner = q4(raw(17, data), { fragOffset: 64, mf: true, id: 0x777 });
    const r = translateError(err4({ type: 11, code: 1, body: inner }));
    const quoted = q6(raw(17, data), { ext: [{ type: 'fragment', offset: 64, m: true, id: 0x777 }] });
    expectTranslated(r, err6({ type: 3, code: 1, body: quoted }));
  });

  it('a quoted non-first ICMP fragment is translated without reading its data as an ICMP header', () => {
    const data = filler(16, 9);
    const inner = q4(raw(1, data), { fragOffset: 64, mf: false, id: 0x778 });
    const r = translateError(err4({ type: 11, code: 1, body: inner }));
    const quoted = q6(raw(58, data), { ext: [{ type: 'fragment', offset: 64, m: false, id: 0x778 }] });
    expectTranslated(r, err6({ type: 3, code: 1, body: quoted }));
  });

  it('a quoted ESP packet (50) is translated; its first byte is not read as an ICMP type', () => {
    const esp = filler(16, 0x11);
    const r = translateError(err4({ type: 3, code: 1, body: q4(raw(50, esp)) }));
    expectTranslated(r, err6({ type: 1, code: 0, body: q6(raw(50, esp)) }));
  });

  for (const [name, protocol] of [
    ['ICMPv6 (58)', 58],
    ['the hop-by-hop extension header number (0)', 0],
  ] as const) {
    it(`a quoted packet carrying ${name} is dropped as icmpinner46`, () => {
      const r = translateError(err4({ type: 3, code: 1, body: q4(raw(protocol, filler(16, 1))) }));
      expect(r.verdict).toBe(Verdict.Drop);
      expect(r.reason).toBe('icmpinner46');
      expect(r.outside).toEqual([]);
    });
  }

  it('a quoted packet that is not IPv4 is dropped as icmpinner46 even after a good error (no stale parse state)', () => {
    const t = createTranslator(CONFIG);
    expect(run46(t, err4({ type: 11, code: 0, body: q4(UDP()) })).verdict).toBe(Verdict.Translate);
    const notIpv4 = q6(UDP());
    const r = run46(t, err4({ type: 11, code: 0, body: notIpv4.subarray(0, 48) }));
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.reason).toBe('icmpinner46');
    expect(r.outside).toEqual([]);
  });
});

describe('RFC 4884 length attributes', () => {
  /** An ICMPv4 Time Exceeded / Destination Unreachable rest-of-header with a length in 32-bit words. */
  const length4 = (words: number, low16 = 0) => ((words << 16) | low16) >>> 0;
  const ext = (payloadBytes: number) =>
    icmpExtension([{ classNum: 1, cType: 1, payload: filler(payloadBytes, 3) }]);

  it('a length beyond the message is not believed: no extension, length 0, nothing read past the packet', () => {
    const inner = q4(UDP(72)); // a 100-byte datagram, of which 48 bytes are quoted
    const packet = err4({ type: 11, code: 0, rest: length4(40), body: inner.subarray(0, 48) });
    const input = Buffer.concat([packet, filler(200, 0x5a)]);
    const r = translateError(input, { inLength: packet.length, outStart: 50 });
    expectTranslated(r, err6({ type: 3, code: 0, rest: 0, body: q6(UDP(72)).subarray(0, 68) }));
  });

  it('Fragmentation Needed: ICMPv6 Packet Too Big has no length attribute, so the extension is not carried', () => {
    const inner = q4(UDP(100));
    expect(inner.length).toBe(128);
    const r = translateError(
      err4({ type: 3, code: 4, rest: length4(32, 1400), body: Buffer.concat([inner, ext(8)]) }),
    );
    // Sec. 4.2: MTU = min(1400 + 20, mtu6 1500, mtu4 + 20 1520).
    expectTranslated(r, err6({ type: 2, code: 0, rest: 1420, body: q6(UDP(100)) }));
  });

  it('Parameter Problem: ICMPv6 has no length attribute there either, so the extension is not carried', () => {
    const inner = q4(UDP(100));
    // Pointer 9 (Protocol) -> 6 (Next Header), RFC 7915 sec. 4.2 figure 3.
    const rest = ((9 << 24) | (32 << 16)) >>> 0;
    const r = translateError(err4({ type: 12, code: 0, rest, body: Buffer.concat([inner, ext(8)]) }));
    expectTranslated(r, err6({ type: 4, code: 0, rest: 6, body: q6(UDP(100)) }));
  });

  it('a datagram of exactly header + 8 bytes before an extension: zero-padded to 128, extension kept (sec. 5)', () => {
    const e = ext(8);
    const r = translateError(
      err4({ type: 11, code: 0, rest: length4(7), body: Buffer.concat([q4(UDP()).subarray(0, 28), e]) }),
    );
    const body = Buffer.concat([q6(UDP()).subarray(0, 48), Buffer.alloc(80), e]);
    // ICMPv6 length attribute: 128 bytes in 64-bit words, first byte of the rest-of-header.
    expectTranslated(r, err6({ type: 3, code: 0, rest: 16 << 24, body }));
  });

  it('a quoted non-first fragment with 4 data bytes before an extension: the length is believed, padded to 128', () => {
    const e = ext(8);
    const data = filler(4, 2);
    const inner = q4(raw(17, data), { fragOffset: 8, id: 0x99 });
    expect(inner.length).toBe(24);
    const r = translateError(err4({ type: 11, code: 1, rest: length4(6), body: Buffer.concat([inner, e]) }));
    const quoted = q6(raw(17, data), { ext: [{ type: 'fragment', offset: 8, m: false, id: 0x99 }] });
    const body = Buffer.concat([quoted, Buffer.alloc(128 - quoted.length), e]);
    expectTranslated(r, err6({ type: 3, code: 1, rest: 16 << 24, body }));
  });

  it('a length below header + 8 bytes is not believed: the rest is quoted datagram, even with a wrong quoted header checksum', () => {
    const e = ext(8);
    const data = filler(4, 8);
    // The quoted header claims the 4 data bytes and the 16 "extension" bytes as its payload; routers
    // may quote a header whose checksum no longer matches, and the quoted header is not verified.
    const inner = q4(raw(47, data), { totalLength: 24 + e.length, headerChecksum: 0x1234 });
    const r = translateError(err4({ type: 11, code: 0, rest: length4(6), body: Buffer.concat([inner, e]) }));
    expectTranslated(r, err6({ type: 3, code: 0, rest: 0, body: q6(raw(47, Buffer.concat([data, e]))) }));
  });

  it('a long datagram before a 300-byte extension is cut so the ICMPv6 error stays within 1280 bytes (RFC 4443 sec. 2.4 (c))', () => {
    const e = ext(292);
    expect(e.length).toBe(300);
    const inner = q4(UDP(988));
    expect(inner.length).toBe(1016);
    const r = translateError(
      err4({ type: 11, code: 0, rest: length4(254), body: Buffer.concat([inner, e]) }),
    );
    // Room for the datagram: 1280 - 48 - 300 = 932, in whole 64-bit words 928 (length 116).
    const body = Buffer.concat([q6(UDP(988)).subarray(0, 928), e]);
    expectTranslated(r, err6({ type: 3, code: 0, rest: 116 << 24, body }));
    expect(r.bytes.length).toBe(1276);
  });

  it('an extension leaving exactly 128 bytes for the datagram is kept; one leaving less is removed', () => {
    const inner = q4(UDP(100));
    const kept = ext(1096);
    expect(kept.length).toBe(1104);
    const r1 = translateError(
      err4({ type: 11, code: 0, rest: length4(32), body: Buffer.concat([inner, kept]) }),
    );
    expectTranslated(
      r1,
      err6({ type: 3, code: 0, rest: 16 << 24, body: Buffer.concat([q6(UDP(100)).subarray(0, 128), kept]) }),
    );
    expect(r1.bytes.length).toBe(1280);

    const removed = ext(1104);
    const r2 = translateError(
      err4({ type: 11, code: 0, rest: length4(32), body: Buffer.concat([inner, removed]) }),
    );
    expectTranslated(r2, err6({ type: 3, code: 0, rest: 0, body: q6(UDP(100)) }));
  });
});
