// Proves ICMP errors cross the translator per RFC 7915 sec. 4.2/4.3 and 5.2/5.3: type/code and
// pointer mapping, Packet Too Big MTU arithmetic with RFC 1191 plateaus, the quoted packet translated
// (addresses, ports, checksums), size limits of 1280/576 bytes, RFC 4884 lengths and RFC 6791 sources.
import { describe, expect, it } from 'vitest';
import { createTranslator, dropReasonName, Verdict } from '../src/index.js';
import {
  checksumsOk4,
  fragmentHeader,
  icmp,
  internetChecksum,
  ipv4,
  ipv6,
  r16,
  r32,
  tcp,
  udp,
  v6,
} from './packets.js';

const out = new Uint8Array(70000);
const prefix = '2001:db8:64::/96';

/** Sum of the ICMPv6 message including the pseudo-header must verify. */
function icmp6Ok(o: Uint8Array): boolean {
  let pseudo = 0;
  for (let i = 8; i < 40; i += 2) pseudo += (o[i] << 8) | o[i + 1];
  pseudo += o.length - 40 + 58;
  return internetChecksum(o, 40, o.length, pseudo) === 0;
}

/** The packet the IPv6 host 2001:db8:64::198.51.100.2 sent, as it looked in IPv4 (quoted by routers). */
function quoted4(payload = udp(40000, 53, 20), extra: Partial<Parameters<typeof ipv4>[0]> = {}) {
  return ipv4({
    src: '198.51.100.2',
    dst: '192.0.2.1',
    protocol: payload.length >= 20 && extra.protocol === 6 ? 6 : 17,
    payload,
    ...extra,
  });
}

function error4(type: number, code: number, rest: number, inner: Uint8Array, ttl = 64) {
  return ipv4({
    src: '203.0.113.9',
    dst: '198.51.100.2',
    protocol: 1,
    payload: icmp(type, code, rest, inner),
    ttl,
  });
}

describe('ICMPv4 errors -> ICMPv6', () => {
  const t = createTranslator({ prefix });

  it('translates port unreachable with its quoted UDP packet, both checksums valid', () => {
    const inner = quoted4();
    const p = error4(3, 3, 0, inner);
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    const o = out.slice(0, t.result.length);
    expect(o.length).toBe(p.length + 40);
    expect(o[6]).toBe(58);
    expect(o.slice(8, 24)).toEqual(v6('2001:db8:64::203.0.113.9'));
    expect([o[40], o[41]]).toEqual([1, 4]);
    expect(icmp6Ok(o)).toBe(true);
    // Quoted IPv6 header: addresses, payload length from the quoted Total Length, hop limit untouched.
    expect(o.slice(48 + 8, 48 + 24)).toEqual(v6('2001:db8:64::198.51.100.2'));
    expect(o.slice(48 + 24, 48 + 40)).toEqual(v6('2001:db8:64::192.0.2.1'));
    expect(r16(o, 48 + 4)).toBe(inner.length - 20);
    expect(o[48 + 6]).toBe(17);
    expect(o[48 + 7]).toBe(64);
    // The quoted UDP checksum was adjusted for the quoted pseudo-header.
    const q = o.slice(48);
    let pseudo = 0;
    for (let i = 8; i < 40; i += 2) pseudo += (q[i] << 8) | q[i + 1];
    expect(internetChecksum(q, 40, q.length, pseudo + (q.length - 40) + 17)).toBe(0);
  });

  const duCodes: [number, number, number][] = [
    [0, 1, 0],
    [1, 1, 0],
    [3, 1, 4],
    [5, 1, 0],
    [6, 1, 0],
    [7, 1, 0],
    [8, 1, 0],
    [9, 1, 1],
    [10, 1, 1],
    [11, 1, 0],
    [12, 1, 0],
    [13, 1, 1],
    [15, 1, 1],
  ];
  for (const [code, type6, code6] of duCodes) {
    it(`maps destination unreachable code ${code} to ${type6}/${code6}`, () => {
      expect(t.v4ToV6(error4(3, code, 0, quoted4()), out)).toBe(Verdict.Translate);
      expect([out[40], out[41]]).toEqual([type6, code6]);
    });
  }

  it('maps protocol unreachable to parameter problem pointing at Next Header', () => {
    expect(t.v4ToV6(error4(3, 2, 0, quoted4()), out)).toBe(Verdict.Translate);
    expect([out[40], out[41], r32(out, 44)]).toEqual([4, 1, 6]);
  });

  it('drops host precedence violation, unknown codes, redirect, source quench and info messages', () => {
    for (const [type, code] of [
      [3, 14],
      [3, 16],
      [5, 0],
      [4, 0],
      [13, 0],
      [17, 0],
      [9, 0],
    ]) {
      expect(t.v4ToV6(error4(type, code, 0, quoted4()), out)).toBe(Verdict.Drop);
      expect(dropReasonName(t.result.reason)).toBe('icmptype46');
    }
  });

  it('maps time exceeded keeping the code', () => {
    for (const code of [0, 1]) {
      expect(t.v4ToV6(error4(11, code, 0, quoted4()), out)).toBe(Verdict.Translate);
      expect([out[40], out[41]]).toEqual([3, code]);
    }
  });

  it('maps parameter problem pointers by figure 3 and drops untranslatable ones', () => {
    const map: [number, number][] = [
      [0, 0],
      [1, 1],
      [2, 4],
      [3, 4],
      [8, 7],
      [9, 6],
      [12, 8],
      [15, 8],
      [16, 24],
      [19, 24],
    ];
    for (const [p4, p6] of map) {
      expect(t.v4ToV6(error4(12, 0, p4 << 24, quoted4()), out), `pointer ${p4}`).toBe(Verdict.Translate);
      expect([out[40], out[41], r32(out, 44)]).toEqual([4, 0, p6]);
    }
    for (const p4 of [4, 5, 6, 7, 10, 11, 20]) {
      expect(t.v4ToV6(error4(12, 0, p4 << 24, quoted4()), out), `pointer ${p4}`).toBe(Verdict.Drop);
    }
    expect(t.v4ToV6(error4(12, 1, 0, quoted4()), out)).toBe(Verdict.Drop);
  });

  it('computes the Packet Too Big MTU: +20, capped by both MTUs, plateau for 0, never below 1280', () => {
    const at = (rest: number, config = {}, inner = quoted4()) => {
      const tt = createTranslator({ prefix, ...config });
      expect(tt.v4ToV6(error4(3, 4, rest, inner), out)).toBe(Verdict.Translate);
      expect([out[40], out[41]]).toEqual([2, 0]);
      return r32(out, 44);
    };
    expect(at(1400)).toBe(1420);
    expect(at(1000)).toBe(1280);
    expect(at(1500)).toBe(1500);
    expect(at(2000, { mtu4: 1400, mtu6: 9000 })).toBe(1420);
    const big = quoted4(udp(1, 2, 3972)); // total length 4000
    expect(at(0, { mtu6: 9000, mtu4: 9000 }, big)).toBe(2022);
  });

  it('cuts an ICMPv6 error to 1280 bytes', () => {
    const inner = quoted4(udp(1, 2, 1400 - 28));
    const p = error4(3, 3, 0, inner);
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    expect(t.result.length).toBe(1280);
    expect(r16(out, 4)).toBe(1240);
    expect(icmp6Ok(out.slice(0, 1280))).toBe(true);
  });

  it('adds a Fragment header to a quoted fragment', () => {
    const inner = ipv4({
      src: '198.51.100.2',
      dst: '192.0.2.1',
      protocol: 17,
      payload: udp(1, 2, 40),
      mf: true,
      id: 0x4242,
    });
    expect(t.v4ToV6(error4(11, 1, 0, inner), out)).toBe(Verdict.Translate);
    expect(out[48 + 6]).toBe(44);
    expect(out[88]).toBe(17);
    expect(r16(out, 90)).toBe(1);
    expect(r32(out, 92)).toBe(0x4242);
    expect(icmp6Ok(out.slice(0, t.result.length))).toBe(true);
  });

  it('translates a quoted ICMP echo and refuses a quoted ICMP error', () => {
    const echo = ipv4({
      src: '198.51.100.2',
      dst: '192.0.2.1',
      protocol: 1,
      payload: icmp(8, 0, 0x00070001, 16),
    });
    expect(t.v4ToV6(error4(3, 1, 0, echo), out)).toBe(Verdict.Translate);
    expect(out[48 + 6]).toBe(58);
    expect(out[88]).toBe(128);
    const q = out.slice(48, t.result.length);
    let pseudo = 0;
    for (let i = 8; i < 40; i += 2) pseudo += (q[i] << 8) | q[i + 1];
    expect(internetChecksum(q, 40, q.length, pseudo + (q.length - 40) + 58)).toBe(0);
    const nested = ipv4({
      src: '198.51.100.2',
      dst: '192.0.2.1',
      protocol: 1,
      payload: icmp(3, 3, 0, quoted4()),
    });
    expect(t.v4ToV6(error4(3, 1, 0, nested), out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('icmpinner46');
  });

  it('verifies the ICMPv4 checksum before recomputing it', () => {
    const p = error4(3, 3, 0, quoted4());
    p[p.length - 1] ^= 0xff;
    expect(t.v4ToV6(p, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('icmpchecksum46');
  });

  it('translates an error from a non-global router even in 64:ff9b::/96 (troubleshooting, sec. 4.1)', () => {
    const wkp = createTranslator({ prefix: '64:ff9b::/96' });
    const inner = ipv4({ src: '8.8.8.8', dst: '1.1.1.1', protocol: 17, payload: udp(1, 2) });
    const p = ipv4({ src: '10.1.1.1', dst: '8.8.8.8', protocol: 1, payload: icmp(11, 0, 0, inner) });
    expect(wkp.v4ToV6(p, out)).toBe(Verdict.Translate);
    expect(out.slice(8, 24)).toEqual(v6('64:ff9b::10.1.1.1'));
  });

  it('keeps an RFC 4884 extension behind the padded quoted packet (length in 8-byte words)', () => {
    const inner = quoted4(udp(1, 2, 100)); // 128 bytes quoted, 32 words
    const extension = Uint8Array.of(0x20, 0, 0, 0, 0, 8, 1, 1, 0, 0, 0, 0);
    const body = new Uint8Array(inner.length + extension.length);
    body.set(inner);
    body.set(extension, inner.length);
    const p = error4(11, 0, (inner.length / 4) << 16, body);
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    const o = out.slice(0, t.result.length);
    // 128 + 20 = 148 bytes of quoted IPv6 packet, padded to 152 (a multiple of 8): length 19.
    expect(o[44]).toBe(19);
    expect(o.length).toBe(48 + 152 + extension.length);
    expect(o.slice(48 + 148, 48 + 152)).toEqual(new Uint8Array(4));
    expect(o.slice(48 + 152)).toEqual(extension);
    expect(icmp6Ok(o)).toBe(true);
  });
});

function error6(
  type: number,
  code: number,
  rest: number,
  inner: Uint8Array,
  src = '2001:db8:64::198.51.100.254',
) {
  return ipv6({ src, dst: '2001:db8:64::192.0.2.1', nextHeader: 58, payload: icmp(type, code, rest, inner) });
}

/** The packet the IPv4 server sent, as it looked in IPv6 (quoted by IPv6-side routers). */
function quoted6(payload = udp(53, 40000, 20), extensions?: Uint8Array) {
  return ipv6({
    src: '2001:db8:64::192.0.2.1',
    dst: '2001:db8:64::198.51.100.2',
    nextHeader: extensions ? (extensions[0] === 17 ? 44 : 0) : 17,
    payload,
    extensions,
    protocol: 17,
  });
}

describe('ICMPv6 errors -> ICMPv4', () => {
  const t = createTranslator({ prefix, pool6791: ['192.0.2.200/30'] });

  it('translates port unreachable and its quoted UDP packet', () => {
    const inner = quoted6();
    const p = error6(1, 4, 0, inner);
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    const o = out.slice(0, t.result.length);
    expect(o.length).toBe(p.length - 40);
    expect(checksumsOk4(o)).toBe(true);
    expect(r32(o, 12)).toBe(0xc63364fe);
    expect([o[20], o[21]]).toEqual([3, 3]);
    const q = o.slice(28);
    expect(internetChecksum(q, 0, 20)).toBe(0);
    expect(r16(q, 2)).toBe(inner.length - 20);
    expect(r32(q, 12)).toBe(0xc0000201);
    expect(r32(q, 16)).toBe(0xc6336402);
    expect(q[8]).toBe(64);
    // Quoted UDP checksum adjusted to the IPv4 pseudo-header.
    let pseudo = 0;
    for (let i = 12; i < 20; i += 2) pseudo += (q[i] << 8) | q[i + 1];
    expect(internetChecksum(q, 20, q.length, pseudo + (q.length - 20) + 17)).toBe(0);
  });

  const codes: [number, number, number, number][] = [
    [1, 0, 3, 1],
    [1, 1, 3, 10],
    [1, 2, 3, 1],
    [1, 3, 3, 1],
    [1, 4, 3, 3],
    [3, 0, 11, 0],
    [3, 1, 11, 1],
    [4, 1, 3, 2],
  ];
  for (const [type, code, type4, code4] of codes) {
    it(`maps ${type}/${code} to ${type4}/${code4}`, () => {
      expect(t.v6ToV4(error6(type, code, 0, quoted6()), out)).toBe(Verdict.Translate);
      expect([out[20], out[21]]).toEqual([type4, code4]);
    });
  }

  it('drops untranslatable codes, parameter problem code 2 and informational types', () => {
    for (const [type, code] of [
      [1, 5],
      [1, 6],
      [4, 2],
      [133, 0],
      [135, 0],
      [130, 0],
      [200, 0],
    ]) {
      expect(t.v6ToV4(error6(type, code, 0, quoted6()), out), `${type}/${code}`).toBe(Verdict.Drop);
      expect(dropReasonName(t.result.reason)).toBe('icmptype64');
    }
  });

  it('maps parameter problem pointers by figure 6', () => {
    const map: [number, number][] = [
      [0, 0],
      [1, 1],
      [4, 2],
      [5, 2],
      [6, 9],
      [7, 8],
      [8, 12],
      [23, 12],
      [24, 16],
      [39, 16],
    ];
    for (const [p6, p4] of map) {
      expect(t.v6ToV4(error6(4, 0, p6, quoted6()), out), `pointer ${p6}`).toBe(Verdict.Translate);
      expect([out[20], out[21], out[24]]).toEqual([12, 0, p4]);
    }
    for (const p6 of [2, 3, 40, 100]) expect(t.v6ToV4(error6(4, 0, p6, quoted6()), out)).toBe(Verdict.Drop);
  });

  it('computes the fragmentation-needed MTU: -20, capped by both MTUs, -8 more for a quoted Fragment header', () => {
    const at = (mtu: number, config = {}, inner = quoted6()) => {
      const tt = createTranslator({ prefix, ...config });
      expect(tt.v6ToV4(error6(2, 0, mtu, inner), out)).toBe(Verdict.Translate);
      expect([out[20], out[21]]).toEqual([3, 4]);
      return r16(out, 26);
    };
    expect(at(1400)).toBe(1380);
    expect(at(9000)).toBe(1480);
    expect(at(9000, { mtu4: 1400, mtu6: 9000 })).toBe(1400);
    const fragmented = quoted6(udp(53, 40000, 20), fragmentHeader(17, 0, true, 7));
    expect(at(1400, {}, fragmented)).toBe(1372);
  });

  it('takes an untranslatable error source from the RFC 6791 pool, stable per source', () => {
    const p = error6(3, 0, 0, quoted6(), '2001:db8:ffff::1');
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    const src = r32(out, 12);
    expect(src >>> 2).toBe(0xc00002c8 >>> 2);
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    expect(r32(out, 12)).toBe(src);
    // Without a pool: the translator's own address (RFC 7600 dummy 192.0.0.8 by default).
    const plain = createTranslator({ prefix });
    expect(plain.v6ToV4(p, out)).toBe(Verdict.Translate);
    expect(r32(out, 12)).toBe(0xc0000008);
    // A non-error from the same source is untranslatable.
    const q = ipv6({
      src: '2001:db8:ffff::1',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 17,
      payload: udp(1, 2),
    });
    expect(t.v6ToV4(q, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('srcaddr64');
  });

  it('cuts an ICMPv4 error to 576 bytes', () => {
    const p = error6(1, 4, 0, quoted6(udp(1, 2, 1000)));
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    expect(t.result.length).toBe(576);
    expect(checksumsOk4(out.slice(0, 576))).toBe(true);
  });

  it('verifies the ICMPv6 checksum of an error', () => {
    const p = error6(1, 4, 0, quoted6());
    p[p.length - 1] ^= 1;
    expect(t.v6ToV4(p, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('checksum64');
  });

  it('drops the quoted extension headers and maps a quoted Fragment header to IPv4 fields', () => {
    const ext = new Uint8Array([...fragmentHeader(17, 0, true, 0x10020003)]);
    ext[0] = 17;
    const inner = quoted6(udp(53, 40000, 20), ext);
    expect(t.v6ToV4(error6(3, 1, 0, inner), out)).toBe(Verdict.Translate);
    const q = out.slice(28, t.result.length);
    expect(r16(q, 2)).toBe(20 + 28);
    expect(r16(q, 4)).toBe(0x0003);
    expect(r16(q, 6)).toBe(0x2000);
    expect(q[9]).toBe(17);
    expect(internetChecksum(q, 0, 20)).toBe(0);
  });

  it('translates a quoted ICMPv6 echo and keeps RFC 4884 extensions (length in 4-byte words)', () => {
    const echo = ipv6({
      src: '2001:db8:64::192.0.2.1',
      dst: '2001:db8:64::198.51.100.2',
      nextHeader: 58,
      payload: icmp(129, 0, 0x00090002, 88),
    }); // 136 bytes = 17 words of 8
    const extension = Uint8Array.of(0x20, 0, 0, 0, 0, 8, 1, 1);
    const body = new Uint8Array(echo.length + extension.length);
    body.set(echo);
    body.set(extension, echo.length);
    const p = error6(1, 0, 17 << 24, body);
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    const o = out.slice(0, t.result.length);
    expect(checksumsOk4(o)).toBe(true);
    expect(o[28 + 9]).toBe(1);
    expect(o[48]).toBe(0);
    // 136 - 40 + 20 = 116 bytes quoted, padded to the RFC 4884 minimum of 128: 32 words.
    expect(o[25]).toBe(32);
    expect(o.length).toBe(28 + 128 + extension.length);
    expect(o.slice(28 + 128)).toEqual(extension);
    const q = o.slice(28, 28 + 116);
    expect(internetChecksum(q, 20, q.length)).toBe(0);
  });

  it('translates a quoted TCP packet cut short before its checksum', () => {
    const whole = ipv6({
      src: '2001:db8:64::192.0.2.1',
      dst: '2001:db8:64::198.51.100.2',
      nextHeader: 6,
      payload: tcp(443, 40000, 0x12, 0),
    });
    const cut = whole.slice(0, 40 + 8);
    expect(t.v6ToV4(error6(1, 4, 0, cut), out)).toBe(Verdict.Translate);
    expect(t.result.length).toBe(28 + 20 + 8);
    expect(r16(out, 48)).toBe(443);
    expect(checksumsOk4(out.slice(0, t.result.length))).toBe(true);
  });
});
