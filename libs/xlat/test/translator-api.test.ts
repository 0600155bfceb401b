// Proves the stateless translator's own steps around the RFC 7915 rewrite (translator.ts): the call
// offsets of the contract, `result.hairpinned`, the RFC 7757 sec. 4 hairpin decisions (which packets
// hairpin, Packet Too Big and buffer limits on the way back, drops named after their real cause),
// RFC 6791 pool choices, and the RFC 6052 sec. 3.1 rule left out for ICMP errors (README table).
// Every expected packet is built with test/support/build.ts from the RFC rules, never by the
// translator.
import { describe, expect, it } from 'vitest';
import {
  filler,
  fragment6,
  icmp,
  ipv4,
  ipv6,
  parseIpv4,
  parseIpv6,
  raw,
  udp,
} from '../../../test/support/build.js';
import {
  createStatefulTranslator,
  createTranslator,
  dropReasonName,
  dropReasonNames,
  parseIpv4Address,
  parseIpv6Address,
  type TranslatorConfigInput,
  Verdict,
  XlatTuple,
} from '../src/index.js';
import { run46 as v4to6, run64 as v6to4 } from './dirty-output.js';

const PREFIX = '2001:db8:64::';
const CONFIG = { prefix: '2001:db8:64::/96' } as const;
const a6 = (v4: string) => PREFIX + v4;
const HAIRPIN: TranslatorConfigInput = {
  ...CONFIG,
  eam: [{ ipv4: '198.51.100.0/24', ipv6: '2001:db8:aaaa::/120' }],
  pool6791: ['203.0.113.7/32'],
};

const UDP = () => udp({ srcPort: 40001, dstPort: 53, payload: filler(20, 21) });

/** An IPv6 packet from the EAM host 2001:db8:aaaa::5 to the IPv4-converted EAM address of 198.51.100.7. */
const toHairpin = (o: Partial<Parameters<typeof ipv6>[0]> = {}) =>
  ipv6({ src: '2001:db8:aaaa::5', dst: a6('198.51.100.7'), hopLimit: 64, payload: UDP(), ...o });

describe('call offsets (contract.ts)', () => {
  it('an omitted inLength means the rest of the input after inStart, in both directions and both translators', () => {
    const in4 = ipv4({ src: '192.0.2.1', dst: '198.51.100.2', ttl: 64, payload: UDP() });
    const in6 = ipv6({ src: a6('198.51.100.2'), dst: a6('192.0.2.1'), hopLimit: 64, payload: UDP() });
    const lead = Buffer.alloc(12, 0x45); // looks like the start of an IPv4 header: must not be read
    const want6 = ipv6({ src: a6('192.0.2.1'), dst: a6('198.51.100.2'), hopLimit: 63, payload: UDP() });
    const want4 = ipv4({ src: '198.51.100.2', dst: '192.0.2.1', ttl: 63, payload: UDP() });
    const out = new Uint8Array(4096);

    const t = createTranslator(CONFIG);
    expect(t.v4ToV6(Buffer.concat([lead, in4]), out, lead.length)).toBe(Verdict.Translate);
    expect(Buffer.from(out.subarray(0, t.result.length))).toEqual(want6);
    expect(t.v6ToV4(Buffer.concat([lead, in6]), out, lead.length)).toBe(Verdict.Translate);
    const got4 = Buffer.from(out.subarray(0, t.result.length));
    // The identification is the translator's own (RFC 7915 sec. 5.1 generator); the rest is fixed.
    expect(got4.subarray(12)).toEqual(want4.subarray(12));
    expect(got4.subarray(0, 4)).toEqual(want4.subarray(0, 4));
    expect(got4.subarray(6, 10)).toEqual(want4.subarray(6, 10));

    const nat = createStatefulTranslator(CONFIG);
    const tuple = new XlatTuple();
    tuple.src6.set(parseIpv6Address(a6('192.0.2.1'))!);
    tuple.dst6.set(parseIpv6Address('2001:db8:1::5')!);
    tuple.srcPort = 40001;
    tuple.dstPort = 53;
    expect(nat.v4ToV6(Buffer.concat([lead, in4]), out, tuple, lead.length)).toBe(Verdict.Translate);
    expect(Buffer.from(out.subarray(0, nat.result.length))).toEqual(
      ipv6({ src: a6('192.0.2.1'), dst: '2001:db8:1::5', hopLimit: 63, payload: UDP() }),
    );
    tuple.src4 = parseIpv4Address('198.51.100.2')!;
    tuple.dst4 = parseIpv4Address('192.0.2.1')!;
    expect(nat.v6ToV4(Buffer.concat([lead, in6]), out, tuple, lead.length)).toBe(Verdict.Translate);
    expect(Buffer.from(out.subarray(12, 20))).toEqual(want4.subarray(12, 20));
    expect(Buffer.from(out.subarray(20, nat.result.length))).toEqual(want4.subarray(20));
  });
});

describe('dropReasonName', () => {
  it('names every reason by its index and refuses an index outside the list with a RangeError naming it', () => {
    dropReasonNames.forEach((name, i) => {
      expect(dropReasonName(i)).toBe(name);
    });
    expect(() => dropReasonName(dropReasonNames.length)).toThrow(
      new RangeError(`unknown drop reason ${dropReasonNames.length}`),
    );
    expect(() => dropReasonName(-1)).toThrow(new RangeError('unknown drop reason -1'));
  });
});

describe('result.hairpinned (RFC 7757 sec. 4)', () => {
  it('is true after a hairpinned v6ToV4 and false again after any other call', () => {
    const t = createTranslator(HAIRPIN);
    const out = new Uint8Array(4096);
    const normal6 = ipv6({ src: '2001:db8:aaaa::5', dst: a6('203.0.113.1'), hopLimit: 64, payload: UDP() });
    const normal4 = ipv4({ src: '203.0.113.1', dst: '198.51.100.5', ttl: 64, payload: UDP() });
    expect(t.v6ToV4(toHairpin(), out)).toBe(Verdict.Translate);
    expect(t.result.hairpinned).toBe(true);
    expect(t.v4ToV6(normal4, out)).toBe(Verdict.Translate);
    expect(t.result.hairpinned).toBe(false);
    expect(t.v6ToV4(toHairpin(), out)).toBe(Verdict.Translate);
    expect(t.result.hairpinned).toBe(true);
    expect(t.v6ToV4(normal6, out)).toBe(Verdict.Translate);
    expect(t.result.hairpinned).toBe(false);
  });
});

describe('EAM hairpinning decisions (RFC 7757 sec. 4)', () => {
  it('hairpins a bare 40-byte IPv6 header (next header 59, no payload)', () => {
    const t = createTranslator(HAIRPIN);
    const r = v6to4(t, toHairpin({ payload: new Uint8Array(0) }));
    expect(r.verdict).toBe(Verdict.Translate);
    expect(t.result.hairpinned).toBe(true);
    expect(r.bytes).toEqual(
      ipv6({ src: '2001:db8:aaaa::5', dst: '2001:db8:aaaa::7', hopLimit: 63, payload: new Uint8Array(0) }),
    );
    expect(r.outside).toEqual([]);
  });

  it('never hairpins a destination that is an EAM IPv6 address, even one inside the RFC 6052 prefix (EAM first, RFC 7757 sec. 3.3)', () => {
    // 2001:db8:64::c633:6407 is both the EAM address of 198.51.100.7 and, read through the prefix,
    // 198.51.100.7 itself: the EAM decides, so it is the IPv6 end of a mapping and leaves as IPv4.
    const t = createTranslator({
      ...CONFIG,
      eam: [{ ipv4: '198.51.100.7/32', ipv6: '2001:db8:64::c633:6407/128' }],
    });
    const r = v6to4(
      t,
      ipv6({ src: a6('203.0.113.5'), dst: '2001:db8:64::c633:6407', hopLimit: 64, payload: UDP() }),
    );
    expect(r.verdict).toBe(Verdict.Translate);
    expect(t.result.hairpinned).toBe(false);
    const want = ipv4({ src: '203.0.113.5', dst: '198.51.100.7', ttl: 63, payload: UDP() });
    expect(r.bytes[0] >> 4).toBe(4);
    expect(r.bytes.subarray(12)).toEqual(want.subarray(12));
  });

  it('a hairpin packet the IPv6 leg drops keeps the leg reason (an untranslatable source is srcaddr64)', () => {
    const t = createTranslator(HAIRPIN);
    const r = v6to4(t, toHairpin({ src: '2001:db8:ffff::1' }));
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.reason).toBe('srcaddr64');
    expect(r.outside).toEqual([]);
  });

  it('a hairpin packet the IPv4 leg cannot bring back (IGMP, protocol 2) is dropped as hairpin64, nothing written', () => {
    // IPv6 next header 2 is copied to IPv4 (RFC 7915 sec. 5.1), but IGMP must not cross back
    // (sec. 4.2 "SHOULD be silently dropped"): the packet has no IPv6 translation.
    const t = createTranslator(HAIRPIN);
    const r = v6to4(t, toHairpin({ payload: raw(2, filler(8, 3)) }));
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.reason).toBe('hairpin64');
    expect(r.outside).toEqual([]);
  });

  it('a hairpinned ICMPv6 reply must fit the output: an exact fit is written, one byte less is buffer64 with nothing written', () => {
    const t = createTranslator(HAIRPIN);
    const input = toHairpin({ hopLimit: 1 });
    // RFC 4443 sec. 3.3 Time Exceeded (3/0) to the sender, quoting the whole packet, from the packet's
    // destination (the translator's default ICMPv6 source).
    const want = ipv6({
      src: a6('198.51.100.7'),
      dst: '2001:db8:aaaa::5',
      payload: icmp({ type: 3, code: 0, body: input }),
    });
    const exact = v6to4(t, input, { room: want.length, outStart: 7 });
    expect(exact.verdict).toBe(Verdict.ReplyIcmp);
    expect(exact.reason).toBe('hoplimit64');
    // Traffic class, flow label and hop limit of a generated error are the translator's choice.
    expect(exact.bytes.subarray(4, 7)).toEqual(want.subarray(4, 7));
    expect(exact.bytes.subarray(8)).toEqual(want.subarray(8));
    expect(exact.outside).toEqual([]);
    const short = v6to4(t, input, { room: want.length - 1, outStart: 7 });
    expect(short.verdict).toBe(Verdict.Drop);
    expect(short.reason).toBe('buffer64');
    expect(short.outside).toEqual([]);
  });

  it('a DF-sized hairpin packet larger than mtu6 gets Packet Too Big with mtu6; one that fits goes through (RFC 7915 sec. 5.4)', () => {
    const t = createTranslator({ ...HAIRPIN, mtu6: 1400 });
    // 1380 bytes of UDP: the IPv4 leg is 1400 bytes (> 1260, so DF is set), the IPv6 result 1420.
    const big = toHairpin({ payload: udp({ srcPort: 40001, dstPort: 53, payload: filler(1372, 5) }) });
    expect(big.length).toBe(1420);
    const r = v6to4(t, big);
    expect(r.verdict).toBe(Verdict.ReplyIcmp);
    expect(r.reason).toBe('toobig64');
    const want = ipv6({
      src: a6('198.51.100.7'),
      dst: '2001:db8:aaaa::5',
      payload: icmp({ type: 2, code: 0, rest: 1400, body: big.subarray(0, 1280 - 48) }),
    });
    expect(r.bytes.subarray(4, 7)).toEqual(want.subarray(4, 7));
    expect(r.bytes.subarray(8)).toEqual(want.subarray(8));

    // Exactly mtu6: translated, one hop.
    const fits = toHairpin({ payload: udp({ srcPort: 40001, dstPort: 53, payload: filler(1352, 5) }) });
    expect(fits.length).toBe(1400);
    const ok = v6to4(t, fits);
    expect(ok.verdict).toBe(Verdict.Translate);
    expect(ok.bytes).toEqual(
      ipv6({
        src: '2001:db8:aaaa::5',
        dst: '2001:db8:aaaa::7',
        hopLimit: 63,
        payload: udp({ srcPort: 40001, dstPort: 53, payload: filler(1352, 5) }),
      }),
    );
  });

  it('a fragment (DF clear) larger than mtu6 is not answered with Packet Too Big: it comes back as IPv6 fragments for lowest-ipv6-mtu', () => {
    const t = createTranslator({ ...HAIRPIN, mtu6: 1400 });
    const whole = toHairpin({ payload: udp({ srcPort: 40001, dstPort: 53, payload: filler(2000, 9) }) });
    // The first fragment carries 1400 bytes of the 2008-byte UDP datagram (IPv4 leg 1420 <= mtu4).
    const first = fragment6(whole, [1400], 0x00051234)[0];
    const r = v6to4(t, first);
    expect(r.verdict).toBe(Verdict.Translate);
    expect(t.result.hairpinned).toBe(true);
    // RFC 7915 sec. 4 / 4.1: 1400 bytes of data in 1280-byte IPv6 packets = 1232 + 168 bytes; the
    // IPv4 leg kept the low 16 bits of the identification, which is all that comes back.
    expect(t.result.count).toBe(2);
    expect(Array.from(t.result.lengths.subarray(0, 2))).toEqual([1280, 48 + 168]);
    const f0 = r.bytes.subarray(0, 1280);
    const f1 = r.bytes.subarray(1280);
    for (const [f, offset, more, length] of [
      [f0, 0, 1, 1232],
      [f1, 1232, 1, 168],
    ] as const) {
      expect(f.readUInt16BE(4)).toBe(8 + length);
      expect(f[6]).toBe(44);
      expect(f[7]).toBe(63);
      expect(f.subarray(8, 24)).toEqual(parseIpv6('2001:db8:aaaa::5'));
      expect(f.subarray(24, 40)).toEqual(parseIpv6('2001:db8:aaaa::7'));
      expect(f[40]).toBe(17);
      expect(f.readUInt16BE(42)).toBe(offset | more);
      expect(f.readUInt32BE(44)).toBe(0x1234);
    }
    // The data is the first fragment's data, with the UDP checksum adjusted for the new addresses.
    const wantData = first.subarray(48);
    const gotData = Buffer.concat([f0.subarray(48), f1.subarray(48)]);
    expect(gotData.subarray(8)).toEqual(wantData.subarray(8));
    expect(gotData.subarray(0, 6)).toEqual(wantData.subarray(0, 6));
    const full = ipv6({
      src: '2001:db8:aaaa::5',
      dst: '2001:db8:aaaa::7',
      payload: udp({ srcPort: 40001, dstPort: 53, payload: filler(2000, 9) }),
    });
    expect(gotData.readUInt16BE(6)).toBe(full.readUInt16BE(46));
  });
});

describe('RFC 6791 pools', () => {
  const routers = Array.from({ length: 12 }, (_, i) => `2001:db8:ffff::${(i + 1).toString(16)}`);
  const error6 = (router: string) =>
    ipv6({
      src: router,
      dst: a6('192.0.2.1'),
      payload: icmp({
        type: 3,
        code: 0,
        body: ipv6({ src: a6('192.0.2.1'), dst: a6('198.51.100.2'), hopLimit: 3, payload: UDP() }),
      }),
    });

  it('an untranslatable ICMPv6 error source gets a pool address, not ipv4Address, chosen by the source alone (RFC 6791 sec. 3)', () => {
    const pool = ['203.0.113.8', '203.0.113.9', '203.0.113.10', '203.0.113.11'];
    const t = createTranslator({ ...CONFIG, pool6791: ['203.0.113.8/30'], ipv4Address: '192.0.2.99' });
    const chosen = new Map<string, string>();
    for (const router of routers) {
      const r = v6to4(t, error6(router));
      expect(r.verdict).toBe(Verdict.Translate);
      const src = `${r.bytes[12]}.${r.bytes[13]}.${r.bytes[14]}.${r.bytes[15]}`;
      expect(pool).toContain(src);
      chosen.set(router, src);
      // The same error at another place in a batch buffer, after other bytes: the same address.
      const packet = error6(router);
      const batch = Buffer.concat([Buffer.alloc(40, 0x33), packet]);
      const out = new Uint8Array(4096);
      expect(t.v6ToV4(batch, out, 40, packet.length)).toBe(Verdict.Translate);
      expect(`${out[12]}.${out[13]}.${out[14]}.${out[15]}`).toBe(src);
    }
    // Different routers spread over the pool (not all on one address).
    expect(new Set(chosen.values()).size).toBeGreaterThan(1);
  });

  it('a hairpinned error takes its IPv6 source from pool6791v6 by the original source alone; other hairpinned packets keep theirs', () => {
    const t = createTranslator({ ...HAIRPIN, pool6791v6: ['2001:db8:6791::/120'] });
    const quoted = ipv6({ src: a6('198.51.100.5'), dst: a6('198.51.100.7'), hopLimit: 3, payload: UDP() });
    const err = (router: string) =>
      ipv6({ src: router, dst: a6('198.51.100.5'), payload: icmp({ type: 3, code: 0, body: quoted }) });
    const seen = new Set<string>();
    for (const router of routers) {
      const packet = err(router);
      const r = v6to4(t, packet);
      expect(r.verdict).toBe(Verdict.Translate);
      expect(t.result.hairpinned).toBe(true);
      const src = r.bytes.subarray(8, 24);
      expect(src.subarray(0, 15)).toEqual(parseIpv6('2001:db8:6791::').subarray(0, 15));
      seen.add(src.toString('hex'));
      const want = ipv6({
        src: `2001:db8:6791::${src[15].toString(16)}`,
        dst: '2001:db8:aaaa::5',
        hopLimit: 63,
        payload: icmp({
          type: 3,
          code: 0,
          body: ipv6({ src: '2001:db8:aaaa::5', dst: '2001:db8:aaaa::7', hopLimit: 3, payload: UDP() }),
        }),
      });
      expect(r.bytes).toEqual(want);
      const batch = Buffer.concat([Buffer.alloc(24, 0x77), packet]);
      const out = new Uint8Array(4096);
      expect(t.v6ToV4(batch, out, 24, packet.length)).toBe(Verdict.Translate);
      expect(Buffer.from(out.subarray(8, 24))).toEqual(src);
    }
    expect(seen.size).toBeGreaterThan(1);
    // A hairpinned packet whose source was mapped (not from the pool) keeps its own source.
    const r = v6to4(t, toHairpin());
    expect(r.bytes).toEqual(
      ipv6({ src: '2001:db8:aaaa::5', dst: '2001:db8:aaaa::7', hopLimit: 63, payload: UDP() }),
    );
  });
});

describe('RFC 6052 sec. 3.1 is not applied inside ICMP errors (README: choices)', () => {
  const WKP = { prefix: '64:ff9b::/96' };

  it('4->6: an ICMPv4 error quoting a packet with a non-global source or destination is translated', () => {
    for (const [src, dst] of [
      ['10.1.2.3', '8.8.8.8'],
      ['8.8.8.8', '10.1.2.3'],
    ]) {
      const t = createTranslator(WKP);
      const quoted = ipv4({ src, dst, ttl: 3, payload: UDP() });
      const r = v4to6(
        t,
        ipv4({ src: '9.9.9.9', dst: src, ttl: 64, payload: icmp({ type: 11, code: 0, body: quoted }) }),
      );
      expect(r.verdict, r.reason).toBe(Verdict.Translate);
      expect(r.bytes).toEqual(
        ipv6({
          src: '64:ff9b::9.9.9.9',
          dst: `64:ff9b::${src}`,
          hopLimit: 63,
          payload: icmp({
            type: 3,
            code: 0,
            body: ipv6({ src: `64:ff9b::${src}`, dst: `64:ff9b::${dst}`, hopLimit: 3, payload: UDP() }),
          }),
        }),
      );
    }
  });

  it('6->4: an ICMPv6 error quoting a packet with a non-global source or destination is translated', () => {
    for (const [src, dst] of [
      ['10.1.2.3', '8.8.8.8'],
      ['8.8.8.8', '10.1.2.3'],
    ]) {
      const t = createTranslator(WKP);
      const quoted = ipv6({ src: `64:ff9b::${src}`, dst: `64:ff9b::${dst}`, hopLimit: 3, payload: UDP() });
      const r = v6to4(
        t,
        ipv6({
          src: '64:ff9b::9.9.9.9',
          dst: `64:ff9b::${src}`,
          payload: icmp({ type: 3, code: 0, body: quoted }),
        }),
      );
      expect(r.verdict, r.reason).toBe(Verdict.Translate);
      const want = ipv4({
        src: '9.9.9.9',
        dst: src,
        ttl: 63,
        payload: icmp({ type: 11, code: 0, body: ipv4({ src, dst, ttl: 3, payload: UDP() }) }),
      });
      expect(r.bytes.subarray(12)).toEqual(want.subarray(12));
    }
  });

  it('6->4: an ICMPv6 error quoting a packet whose source is not IPv4-translatable is dropped as icmpinner64', () => {
    const t = createTranslator(CONFIG);
    const quoted = ipv6({ src: '2001:db8:ffff::9', dst: a6('198.51.100.2'), hopLimit: 3, payload: UDP() });
    const r = v6to4(
      t,
      ipv6({
        src: a6('198.51.100.254'),
        dst: a6('192.0.2.1'),
        payload: icmp({ type: 1, code: 0, body: quoted }),
      }),
    );
    expect(r.verdict).toBe(Verdict.Drop);
    expect(r.reason).toBe('icmpinner64');
    expect(r.outside).toEqual([]);
  });
});

// Checks the builder's own address parser agrees with the translator's on the addresses used here.
it('test addresses parse alike in the builder and the translator', () => {
  expect(Buffer.from(parseIpv6Address('2001:db8:64::c633:6407')!)).toEqual(parseIpv6(a6('198.51.100.7')));
  expect(parseIpv4Address('198.51.100.7')! >>> 0).toBe(parseIpv4('198.51.100.7').readUInt32BE(0));
});
