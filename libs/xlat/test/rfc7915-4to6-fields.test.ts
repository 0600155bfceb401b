// Proves the IPv4 -> IPv6 rewrite of non-error packets (RFC 7915 sec. 4.1, 4.4, 4.5) field by field
// at its edges: minimum transport lengths, protocols that do and do not cross, checksum special
// values (RFC 768 / RFC 8200 sec. 8.1 zero, RFC 1624 incremental update of a wrong checksum), the
// UDP zero-checksum policy, ICMP errors about ICMP errors and non-first fragments, and output-buffer
// limits. Expected packets come from test/support/build.ts (built from the RFCs); every call writes
// into a marked buffer, so unwritten fields and writes outside the result show.
import { describe, expect, it } from 'vitest';
import {
  filler,
  finish,
  fold,
  fragment6,
  icmp,
  icmpEcho,
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
import { createTranslator, Verdict } from '../src/index.js';
import { run46 } from './dirty-output.js';

const CONFIG = { prefix: '2001:db8:64::/96' } as const;
const a6 = (v4: string) => `2001:db8:64::${v4}`;
const S4 = '192.0.2.1';
const H4 = '198.51.100.2';

const in4 = (o: Partial<Parameters<typeof ipv4>[0]> & Pick<Parameters<typeof ipv4>[0], 'payload'>) =>
  ipv4({ src: S4, dst: H4, ttl: 64, ...o });
const out6 = (o: Partial<Parameters<typeof ipv6>[0]> & Pick<Parameters<typeof ipv6>[0], 'payload'>) =>
  ipv6({ src: a6(S4), dst: a6(H4), hopLimit: 63, ...o });

/**
 * A payload of `length` bytes whose last two bytes are chosen so that the transport checksum of the
 * IPv6 translation (over `protocol`'s pseudo-header) comes out as 0x0000 by RFC 1071.
 */
function zeroSumPayload(protocol: 6 | 17, length: number): Buffer {
  const data = filler(length, 11);
  data.writeUInt16BE(0, length - 2);
  const l4 = protocol === 6 ? tcp({ payload: data, checksum: 0 }) : udp({ payload: data, checksum: 0 });
  const sum = fold(
    onesSum(
      l4.bytes,
      0,
      l4.bytes.length,
      pseudo6Sum(parseIpv6(a6(S4)), parseIpv6(a6(H4)), protocol, l4.bytes.length),
    ),
  );
  // sum + x must fold to 0xffff, whose complement is 0.
  data.writeUInt16BE(0xffff - sum, length - 2);
  return data;
}

describe('RFC 7915 sec. 4.1: which protocols cross', () => {
  it('AH (51) is copied like any transport: Next Header 51, payload unchanged, flow label 0 in a dirty buffer', () => {
    const t = createTranslator(CONFIG);
    const ah = filler(24, 3);
    const r = run46(t, in4({ payload: raw(51, ah), tos: 0x2e }), { outStart: 5 });
    expect(r.verdict, r.reason).toBe(Verdict.Translate);
    expect(r.bytes).toEqual(out6({ payload: raw(51, ah), trafficClass: 0x2e }));
    expect(r.outside).toEqual([]);
  });
});

describe('RFC 7915 sec. 4.1: transport headers too short to translate', () => {
  const cases: [
    string,
    Parameters<typeof ipv4>[0]['payload'],
    Parameters<typeof ipv6>[0]['payload'] | null,
  ][] = [
    ['UDP header alone (8 bytes)', udp({ srcPort: 1000, dstPort: 53 }), udp({ srcPort: 1000, dstPort: 53 })],
    ['UDP cut to 7 bytes', raw(17, udp({ srcPort: 1000, dstPort: 53 }).bytes.subarray(0, 7)), null],
    ['TCP header alone (20 bytes)', tcp({ flags: 0x02 }), tcp({ flags: 0x02 })],
    ['TCP cut to 19 bytes', raw(6, tcp({ flags: 0x02 }).bytes.subarray(0, 19)), null],
    ['TCP cut to 12 bytes', raw(6, tcp({ flags: 0x02 }).bytes.subarray(0, 12)), null],
    [
      'ICMP echo without data (8 bytes)',
      icmpEcho(8, 0x4321, 1, Buffer.alloc(0)),
      icmpEcho(128, 0x4321, 1, Buffer.alloc(0)),
    ],
    ['ICMP echo cut to 7 bytes', raw(1, icmpEcho(8, 0x4321, 1, Buffer.alloc(0)).bytes.subarray(0, 7)), null],
  ];
  for (const [name, payload, translated] of cases) {
    it(`${name}: ${translated ? 'translated' : 'dropped as truncated46, nothing written'}`, () => {
      const t = createTranslator(CONFIG);
      const r = run46(t, in4({ payload }));
      if (translated) {
        expect(r.verdict, r.reason).toBe(Verdict.Translate);
        expect(r.bytes).toEqual(out6({ payload: translated }));
      } else {
        expect(r.verdict).toBe(Verdict.Drop);
        expect(r.reason).toBe('truncated46');
      }
      expect(r.outside).toEqual([]);
    });
  }

  it('a last fragment with 4 bytes of data is translated (a non-first fragment has no transport header to check)', () => {
    const t = createTranslator(CONFIG);
    const data = Buffer.from([1, 2, 3, 4]);
    const r = run46(t, in4({ payload: raw(17, data), fragOffset: 1480, id: 0x4242 }));
    expect(r.verdict, r.reason).toBe(Verdict.Translate);
    // Sec. 4.1: a Fragment header with the IPv4 offset, M = MF and identification.
    expect(r.bytes).toEqual(
      out6({ payload: raw(17, data), ext: [{ type: 'fragment', offset: 1480, m: false, id: 0x4242 }] }),
    );
  });
});

describe('RFC 7915 sec. 4.5 / RFC 1624: transport checksums', () => {
  it('a UDP checksum that computes to 0x0000 for IPv6 is sent as 0xFFFF (RFC 8200 sec. 8.1), from a non-zero IPv4 checksum', () => {
    const t = createTranslator(CONFIG);
    const data = zeroSumPayload(17, 20);
    const input = in4({ payload: udp({ payload: data }) });
    expect(input.readUInt16BE(26)).not.toBe(0);
    const r = run46(t, input);
    expect(r.verdict, r.reason).toBe(Verdict.Translate);
    expect(r.bytes.readUInt16BE(46)).toBe(0xffff);
    expect(r.bytes).toEqual(out6({ payload: udp({ payload: data }) }));
  });

  it('a UDP zero checksum computed by the translator that comes out as 0x0000 is sent as 0xFFFF', () => {
    const t = createTranslator(CONFIG);
    const data = zeroSumPayload(17, 20);
    const r = run46(t, in4({ payload: udp({ payload: data, checksum: 0 }) }));
    expect(r.verdict, r.reason).toBe(Verdict.Translate);
    expect(r.bytes.readUInt16BE(46)).toBe(0xffff);
    expect(r.bytes).toEqual(out6({ payload: udp({ payload: data }) }));
  });

  it('a TCP checksum that computes to 0x0000 for IPv6 stays 0x0000 (TCP has no "no checksum" value)', () => {
    const t = createTranslator(CONFIG);
    const data = zeroSumPayload(6, 20);
    const r = run46(t, in4({ payload: tcp({ payload: data }) }));
    expect(r.verdict, r.reason).toBe(Verdict.Translate);
    expect(r.bytes.readUInt16BE(56)).toBe(0);
    expect(r.bytes).toEqual(out6({ payload: tcp({ payload: data }) }));
  });

  it('a wrong TCP checksum of 0x0000 stays exactly as wrong: the update is incremental, the translator does not validate TCP', () => {
    const t = createTranslator(CONFIG);
    const segment = tcp({ payload: filler(30, 2), checksum: 0 });
    const input = in4({ payload: segment });
    const r = run46(t, input);
    expect(r.verdict, r.reason).toBe(Verdict.Translate);
    // RFC 1624: an incremental update carries the receiver's verification residue over unchanged.
    const residue4 = fold(
      onesSum(
        input,
        20,
        input.length,
        pseudo4Sum(input.subarray(12, 16), input.subarray(16, 20), 6, input.length - 20),
      ),
    );
    const out = r.bytes;
    const residue6 = fold(
      onesSum(out, 40, out.length, pseudo6Sum(out.subarray(8, 24), out.subarray(24, 40), 6, out.length - 40)),
    );
    expect(residue4).not.toBe(0xffff);
    expect(residue6).toBe(residue4);
    expect(out.subarray(40, 56)).toEqual(segment.bytes.subarray(0, 16));
    expect(out.subarray(58)).toEqual(segment.bytes.subarray(18));
  });

  it('udpZeroChecksum "drop": a zero-checksum UDP datagram is dropped as udpzerochecksum46 before anything is written', () => {
    const t = createTranslator({ ...CONFIG, udpZeroChecksum: 'drop' });
    const r = run46(t, in4({ payload: udp({ payload: filler(12, 1), checksum: 0 }) }), { outStart: 4 });
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.reason).toBe('udpzerochecksum46');
    expect(r.outside).toEqual([]);
    // The same with a non-zero checksum passes.
    expect(run46(t, in4({ payload: udp({ payload: filler(12, 1) }) })).verdict).toBe(Verdict.Translate);
  });

  it('udpZeroChecksum "drop" concerns UDP only: a TCP segment and a TCP first fragment with zero bytes 6-7 pass', () => {
    const t = createTranslator({ ...CONFIG, udpZeroChecksum: 'drop' });
    // Sequence number 0x01020000: bytes 6-7 of the TCP header (where UDP has its checksum) are 0.
    const segment = tcp({ seq: 0x01020000, payload: filler(16, 1) });
    const r = run46(t, in4({ payload: segment }));
    expect(r.verdict, r.reason).toBe(Verdict.Translate);
    expect(r.bytes).toEqual(out6({ payload: segment }));
    const fragment = tcp({ seq: 0x01020000, payload: filler(16, 1) });
    const f = run46(
      createTranslator(CONFIG),
      in4({ payload: fragment, mf: true, id: 7, computeL4Checksum: false }),
    );
    expect(f.verdict, f.reason).toBe(Verdict.Translate);
    expect(f.bytes.subarray(40, 48)).toEqual(Buffer.from([6, 0, 0, 1, 0, 0, 0, 7]));
  });

  it('udpZeroChecksum "compute": a zero-checksum first fragment cannot be checksummed and is dropped before anything is written', () => {
    const t = createTranslator(CONFIG);
    const r = run46(
      t,
      in4({ payload: udp({ payload: filler(24, 1), checksum: 0 }), mf: true, computeL4Checksum: false }),
    );
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.reason).toBe('udpzerochecksum46');
    expect(r.outside).toEqual([]);
  });
});

describe('RFC 7915 sec. 4.4 / RFC 1812 sec. 4.3.2.7: ICMP errors the translator sends, and does not', () => {
  it('icmpErrorsForUntranslatable: a non-global source in 64:ff9b::/96 is answered with ICMPv4 3/13 (srcaddr46)', () => {
    const t = createTranslator({ prefix: '64:ff9b::/96', icmpErrorsForUntranslatable: true });
    const input = ipv4({ src: '10.1.2.3', dst: '8.8.8.8', ttl: 64, payload: udp({ payload: filler(8, 1) }) });
    const r = run46(t, input);
    expect(r.verdict).toBe(Verdict.ReplyIcmp);
    expect(r.reason).toBe('srcaddr46');
    // RFC 7600 sec. 4 dummy source 192.0.0.8, to the packet's source, quoting the packet.
    const want = ipv4({
      src: '192.0.0.8',
      dst: '10.1.2.3',
      payload: icmp({ type: 3, code: 13, body: input }),
    });
    expect(r.bytes.subarray(2, 4)).toEqual(want.subarray(2, 4));
    expect(r.bytes[9]).toBe(1);
    expect(r.bytes.subarray(12)).toEqual(want.subarray(12));
    expect(r.outside).toEqual([]);
  });

  it('an ICMPv4 error with an unexpired source route is dropped silently (sourceroute46), never answered', () => {
    const t = createTranslator(CONFIG);
    // LSRR (0x83), length 7, pointer 4: the route is not used up (RFC 791).
    const lsrr = Buffer.from([0x83, 7, 4, 203, 0, 113, 1, 0]);
    const quoted = ipv4({ src: H4, dst: S4, ttl: 1, payload: udp({ payload: filler(8, 1) }) });
    const r = run46(
      t,
      ipv4({
        src: '203.0.113.9',
        dst: H4,
        ttl: 64,
        options: lsrr,
        payload: icmp({ type: 11, code: 0, body: quoted }),
      }),
    );
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.reason).toBe('sourceroute46');
    expect(r.outside).toEqual([]);
  });

  it('a too-big non-first fragment with DF is dropped as fragneeded46 without an ICMP error (none about non-first fragments)', () => {
    const t = createTranslator(CONFIG);
    const r = run46(t, in4({ payload: raw(17, filler(1480, 4)), df: true, fragOffset: 1480 }));
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.reason).toBe('fragneeded46');
    expect(r.outside).toEqual([]);
  });
});

describe('output buffer limits (contract.ts: a packet that does not fit is buffer46, nothing written)', () => {
  it('an unfragmented translation fits a buffer of exactly its size; one byte less is buffer46', () => {
    const t = createTranslator(CONFIG);
    const input = in4({ payload: udp({ payload: filler(100, 5) }) });
    const want = out6({ payload: udp({ payload: filler(100, 5) }) });
    const exact = run46(t, input, { room: want.length, outStart: 9 });
    expect(exact.verdict, exact.reason).toBe(Verdict.Translate);
    expect(exact.bytes).toEqual(want);
    expect(exact.outside).toEqual([]);
    const short = run46(t, input, { room: want.length - 1, outStart: 9 });
    expect(short.verdict).toBe(Verdict.Drop);
    expect(short.reason).toBe('buffer46');
    expect(short.outside).toEqual([]);
  });

  it('fragments for lowest-ipv6-mtu fit a buffer of exactly their size; one byte less is buffer46', () => {
    const t = createTranslator(CONFIG);
    const segment = udp({ payload: filler(1472, 6) });
    const input = in4({ payload: segment, id: 0xabcd });
    // RFC 7915 sec. 4 / 4.1: DF clear and larger than 1280 -> IPv6 fragments of at most 1280 bytes
    // (1232 bytes of data each), identification in the Fragment header.
    const want = fragment6(out6({ payload: segment }), [1232], 0xabcd);
    const total = want.reduce((n, f) => n + f.length, 0);
    expect(total).toBe(2 * 48 + 1480);
    const exact = run46(t, input, { room: total, outStart: 3 });
    expect(exact.verdict, exact.reason).toBe(Verdict.Translate);
    expect(t.result.count).toBe(2);
    expect(exact.bytes).toEqual(Buffer.concat(want));
    expect(exact.outside).toEqual([]);
    const short = run46(t, input, { room: total - 1, outStart: 3 });
    expect(short.verdict).toBe(Verdict.Drop);
    expect(short.reason).toBe('buffer46');
    expect(short.outside).toEqual([]);
    // With the contract's room (input + 2048 bytes) nothing is written after the last fragment.
    const roomy = run46(t, input, { outStart: 3 });
    expect(roomy.bytes).toEqual(Buffer.concat(want));
    expect(roomy.outside).toEqual([]);
  });
});

// finish() is used by the checksum helpers above; this pins the builder's checksum to RFC 1071's example.
it('the reference checksum is RFC 1071 sec. 3 example sum', () => {
  const b = Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  expect(fold(onesSum(b))).toBe(0xddf2);
  expect(finish(onesSum(b))).toBe(0x220d);
});
