// Proves the size and lifetime rules of RFC 7915: fragments translated one by one with a Fragment
// header (sec. 4.1, 5.1.1), DF-clear packets split to lowest-ipv6-mtu or mtu4, and the ICMP errors
// the translator itself answers with (TTL/hop limit, fragmentation needed / packet too big, source
// route, routing header) addressed back to the sender.
import { describe, expect, it } from 'vitest';
import { createTranslator, dropReasonName, Verdict } from '../src/index.js';
import { plateauBelow } from '../src/internal.js';
import {
  checksumsOk4,
  extensionHeader,
  fragmentHeader,
  icmp,
  internetChecksum,
  ipv4,
  ipv6,
  r16,
  r32,
  udp,
  v6,
} from './packets.js';

const out = new Uint8Array(140000);
const prefix = '2001:db8:64::/96';

function packets(t: { result: { count: number; lengths: Int32Array } }): Uint8Array[] {
  const list: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < t.result.count; i++) {
    list.push(out.slice(at, at + t.result.lengths[i]));
    at += t.result.lengths[i];
  }
  return list;
}

describe('IPv4 fragments and sizes -> IPv6', () => {
  const t = createTranslator({ prefix });

  it('translates each fragment with a Fragment header carrying offset, M and the 16-bit ID', () => {
    const datagram = udp(1, 2, 40);
    datagram[6] = 0x12; // the checksum covers all fragments; any non-zero value is adjusted
    const first = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: datagram,
      mf: true,
      id: 0xabcd,
      rawL4: true,
    });
    expect(t.v4ToV6(first, out)).toBe(Verdict.Translate);
    const [a] = packets(t);
    expect(a[6]).toBe(44);
    expect(r16(a, 4)).toBe(8 + 48);
    expect([a[40], r16(a, 42), r32(a, 44)]).toEqual([17, 1, 0xabcd]);
    const middle = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: new Uint8Array(64),
      mf: true,
      id: 0xabcd,
      fragmentOffset: 6,
    });
    expect(t.v4ToV6(middle, out)).toBe(Verdict.Translate);
    const [b] = packets(t);
    expect([b[40], r16(b, 42)]).toEqual([17, (6 << 3) | 1]);
    expect(b.slice(48)).toEqual(middle.slice(20));
    const last = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: new Uint8Array(8),
      id: 0xabcd,
      fragmentOffset: 14,
    });
    expect(t.v4ToV6(last, out)).toBe(Verdict.Translate);
    expect(r16(out, 42)).toBe(14 << 3);
  });

  it('drops a fragmented ICMPv4 message and a first UDP fragment without a checksum', () => {
    const p = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 1,
      payload: icmp(8, 0, 0, 40),
      mf: true,
    });
    expect(t.v4ToV6(p, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('icmpfragment46');
    const u = udp(1, 2, 40);
    const q = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: u,
      mf: true,
      rawL4: true,
    });
    expect(t.v4ToV6(q, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('udpzerochecksum46');
  });

  it('does not add a Fragment header to an unfragmented packet that fits (DF clear or set)', () => {
    for (const df of [false, true]) {
      const p = ipv4({
        src: '192.0.2.1',
        dst: '198.51.100.2',
        protocol: 17,
        payload: udp(1, 2, 1260 - 28),
        df,
      });
      expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
      expect(t.result.count).toBe(1);
      expect(t.result.length).toBe(1280);
      expect(out[6]).toBe(17);
    }
  });

  it('splits a DF-clear packet above lowest-ipv6-mtu into fragments of at most 1280 bytes', () => {
    const p = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(1, 2, 3000),
      id: 0x1234,
    });
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    const list = packets(t);
    expect(list.map((x) => x.length)).toEqual([1280, 1280, 48 + 3008 - 2 * 1232]);
    expect(t.result.length).toBe(list.reduce((n, x) => n + x.length, 0));
    const data: number[] = [];
    list.forEach((f, i) => {
      expect(f[6]).toBe(44);
      expect(r16(f, 4)).toBe(f.length - 40);
      expect(f[40]).toBe(17);
      expect(r16(f, 42)).toBe((((i * 1232) >> 3) << 3) | (i < 2 ? 1 : 0));
      expect(r32(f, 44)).toBe(0x1234);
      data.push(...f.slice(48));
    });
    // Reassembled: a valid UDP datagram for the IPv6 pseudo-header, payload bytes unchanged.
    const udpBytes = Uint8Array.from(data);
    expect(udpBytes.slice(8)).toEqual(p.slice(28));
    let pseudo = 0;
    for (let i = 8; i < 40; i += 2) pseudo += (list[0][i] << 8) | list[0][i + 1];
    expect(internetChecksum(udpBytes, 0, udpBytes.length, pseudo + udpBytes.length + 17)).toBe(0);
  });

  it('splits to a configured lowest-ipv6-mtu and re-fragments a fragment keeping its offset', () => {
    const tt = createTranslator({ prefix, lowestIpv6Mtu: 1402 });
    const p = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: new Uint8Array(2000),
      mf: true,
      fragmentOffset: 100,
      id: 9,
    });
    expect(tt.v4ToV6(p, out)).toBe(Verdict.Translate);
    const list = packets(tt);
    expect(list.map((x) => x.length)).toEqual([1400, 48 + 2000 - 1352]);
    expect(r16(list[0], 42)).toBe((100 << 3) | 1);
    expect(r16(list[1], 42)).toBe(((100 + 1352 / 8) << 3) | 1);
  });

  it('answers a DF packet too big for mtu6 with fragmentation needed (MTU = mtu6 - 20)', () => {
    const tt = createTranslator({ prefix, mtu6: 1280 });
    const p = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(1, 2, 1261 - 28),
      df: true,
    });
    expect(tt.v4ToV6(p, out)).toBe(Verdict.ReplyIcmp);
    expect(dropReasonName(tt.result.reason)).toBe('fragneeded46');
    const o = out.slice(0, tt.result.length);
    expect(o.length).toBe(576);
    expect(checksumsOk4(o)).toBe(true);
    expect(r32(o, 16)).toBe(0xc0000201);
    expect([o[20], o[21], r16(o, 26)]).toEqual([3, 4, 1260]);
    expect(o.slice(28)).toEqual(p.slice(0, 548));
  });

  it('answers TTL 1 with time exceeded from the configured or default source, but never about an ICMP error', () => {
    const p = ipv4({ src: '192.0.2.1', dst: '198.51.100.2', protocol: 17, payload: udp(1, 2), ttl: 1 });
    expect(t.v4ToV6(p, out)).toBe(Verdict.ReplyIcmp);
    expect(dropReasonName(t.result.reason)).toBe('ttl46');
    const o = out.slice(0, t.result.length);
    expect(checksumsOk4(o)).toBe(true);
    expect([o[9], o[20], o[21]]).toEqual([1, 11, 0]);
    expect(r32(o, 12)).toBe(0xc0000008);
    expect(o.slice(28)).toEqual(p);
    const own = createTranslator({ prefix, ipv4Address: '192.0.2.254' });
    own.v4ToV6(p, out);
    expect(r32(out, 12)).toBe(0xc00002fe);
    const err = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 1,
      payload: icmp(3, 3, 0, p),
      ttl: 1,
    });
    expect(t.v4ToV6(err, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('ttl46');
  });

  it('answers an unmappable address with 3/13 only when configured (sec. 4.4)', () => {
    const wkp = createTranslator({ prefix: '64:ff9b::/96', icmpErrorsForUntranslatable: true });
    const p = ipv4({ src: '8.8.8.8', dst: '10.0.0.1', protocol: 17, payload: udp(1, 2) });
    expect(wkp.v4ToV6(p, out)).toBe(Verdict.ReplyIcmp);
    expect(dropReasonName(wkp.result.reason)).toBe('dstaddr46');
    expect([out[20], out[21]]).toEqual([3, 13]);
    expect(r32(out, 16)).toBe(0x08080808);
    expect(createTranslator({ prefix: '64:ff9b::/96' }).v4ToV6(p, out)).toBe(Verdict.Drop);
    const q = ipv6({ src: '2001:db8::1', dst: '64:ff9b::8.8.8.8', nextHeader: 17, payload: udp(1, 2) });
    expect(wkp.v6ToV4(q, out)).toBe(Verdict.ReplyIcmp);
    expect(dropReasonName(wkp.result.reason)).toBe('srcaddr64');
    expect([out[40], out[41]]).toEqual([1, 1]);
    expect(out.slice(24, 40)).toEqual(v6('2001:db8::1'));
  });

  it('answers an unexpired source route with source route failed and ignores other options', () => {
    const lsrr = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(1, 2),
      options: [131, 7, 4, 1, 2, 3, 4, 0],
    });
    expect(t.v4ToV6(lsrr, out)).toBe(Verdict.ReplyIcmp);
    expect(dropReasonName(t.result.reason)).toBe('sourceroute46');
    expect([out[20], out[21]]).toEqual([3, 5]);
    const rr = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(1, 2, 8),
      options: [7, 7, 4, 0, 0, 0, 0, 0],
    });
    expect(t.v4ToV6(rr, out)).toBe(Verdict.Translate);
    expect(t.result.length).toBe(40 + 16);
  });
});

describe('RFC 1191 plateaus', () => {
  it('picks the largest plateau below the total length of the packet that did not fit', () => {
    expect(plateauBelow(4000)).toBe(2002);
    expect(plateauBelow(1500)).toBe(1492);
    expect(plateauBelow(1492)).toBe(1006);
    expect(plateauBelow(100)).toBe(68);
    expect(plateauBelow(68)).toBe(68);
  });
});

describe('IPv6 fragments and sizes -> IPv4', () => {
  const t = createTranslator({ prefix });

  it('maps a Fragment header to ID (low 16 bits), MF and offset with DF clear', () => {
    const p = ipv6({
      src: '2001:db8:64::198.51.100.2',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 44,
      extensions: fragmentHeader(17, 0, true, 0x00015678),
      payload: udp(1, 2, 40),
      protocol: 17,
      rawL4: true,
    });
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    expect(r16(out, 4)).toBe(0x5678);
    expect(r16(out, 6)).toBe(0x2000);
    expect(r16(out, 2)).toBe(20 + 48);
    expect(out[9]).toBe(17);
    const later = ipv6({
      src: '2001:db8:64::198.51.100.2',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 44,
      extensions: fragmentHeader(17, 6, false, 0x00015678),
      payload: new Uint8Array(16),
      rawL4: true,
    });
    expect(t.v6ToV4(later, out)).toBe(Verdict.Translate);
    expect(r16(out, 6)).toBe(6);
    expect(out.slice(20, 36)).toEqual(later.slice(48));
  });

  it('drops a packet with an extension header behind the Fragment header (sec. 5.1.1), but not ESP', () => {
    const ext = new Uint8Array([...fragmentHeader(60, 0, true, 1), ...extensionHeader(17)]);
    const p = ipv6({
      src: '2001:db8:64::198.51.100.2',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 44,
      extensions: ext,
      payload: udp(1, 2, 8),
      protocol: 17,
      rawL4: true,
    });
    expect(t.v6ToV4(p, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('header64');
    const esp = ipv6({
      src: '2001:db8:64::198.51.100.2',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 44,
      extensions: fragmentHeader(50, 0, true, 1),
      payload: new Uint8Array(24),
      rawL4: true,
    });
    expect(t.v6ToV4(esp, out)).toBe(Verdict.Translate);
    expect(out[9]).toBe(50);
  });

  it('drops a fragmented ICMPv6 message', () => {
    const p = ipv6({
      src: '2001:db8:64::198.51.100.2',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 44,
      extensions: fragmentHeader(58, 0, true, 1),
      payload: icmp(128, 0, 0, 40),
      rawL4: true,
    });
    expect(t.v6ToV4(p, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('icmpfragment64');
  });

  it('answers a DF-bound packet too big for mtu4 with packet too big (MTU = mtu4 + 20, at least 1280)', () => {
    const tt = createTranslator({ prefix, mtu4: 1400 });
    const p = ipv6({
      src: '2001:db8:64::198.51.100.2',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 17,
      payload: udp(1, 2, 1500),
    });
    expect(tt.v6ToV4(p, out)).toBe(Verdict.ReplyIcmp);
    expect(dropReasonName(tt.result.reason)).toBe('toobig64');
    const o = out.slice(0, tt.result.length);
    expect(o.length).toBe(1280);
    expect([o[6], o[40], o[41], r32(o, 44)]).toEqual([58, 2, 0, 1420]);
    expect(o.slice(8, 24)).toEqual(v6('2001:db8:64::192.0.2.1'));
    expect(o.slice(24, 40)).toEqual(v6('2001:db8:64::198.51.100.2'));
    expect(o.slice(48)).toEqual(p.slice(0, 1232));
    const tiny = createTranslator({ prefix, mtu4: 576 });
    tiny.v6ToV4(p, out);
    expect(r32(out, 44)).toBe(1280);
  });

  it('splits a fragmentable packet (Fragment header present) to mtu4', () => {
    const tt = createTranslator({ prefix, mtu4: 1000 });
    const p = ipv6({
      src: '2001:db8:64::198.51.100.2',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 44,
      extensions: fragmentHeader(17, 0, false, 77),
      payload: udp(1, 2, 2000),
      protocol: 17,
      rawL4: true,
    });
    expect(tt.v6ToV4(p, out)).toBe(Verdict.Translate);
    const list = packets(tt);
    expect(list.map((x) => x.length)).toEqual([996, 996, 20 + 2008 - 2 * 976]);
    list.forEach((f, i) => {
      expect(internetChecksum(f, 0, 20)).toBe(0);
      expect(r16(f, 2)).toBe(f.length);
      expect(r16(f, 4)).toBe(77);
      expect(r16(f, 6)).toBe((i < 2 ? 0x2000 : 0) | ((i * 976) >> 3));
    });
  });

  it('answers hop limit 1 with time exceeded and a routing header with segments left with parameter problem', () => {
    const p = ipv6({
      src: '2001:db8::1',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 17,
      payload: udp(1, 2),
      hopLimit: 1,
    });
    const tt = createTranslator({
      prefix,
      eam: [{ ipv4: '192.0.2.7', ipv6: '2001:db8::1' }],
      ipv6Address: '2001:db8::64',
    });
    expect(tt.v6ToV4(p, out)).toBe(Verdict.ReplyIcmp);
    expect(dropReasonName(tt.result.reason)).toBe('hoplimit64');
    expect([out[40], out[41]]).toEqual([3, 0]);
    expect(out.slice(8, 24)).toEqual(v6('2001:db8::64'));
    const routing = extensionHeader(17, 0, (b) => {
      b[0] = 17;
      b[2] = 0;
      b[3] = 1;
    });
    const r = ipv6({
      src: '2001:db8::1',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 43,
      extensions: routing,
      payload: udp(1, 2),
      protocol: 17,
    });
    expect(tt.v6ToV4(r, out)).toBe(Verdict.ReplyIcmp);
    expect(dropReasonName(tt.result.reason)).toBe('routingheader64');
    expect([out[40], out[41], r32(out, 44)]).toEqual([4, 0, 43]);
    routing[3] = 0;
    const done = ipv6({
      src: '2001:db8::1',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 43,
      extensions: routing,
      payload: udp(1, 2),
      protocol: 17,
    });
    expect(tt.v6ToV4(done, out)).toBe(Verdict.Translate);
    expect(checksumsOk4(out.slice(0, tt.result.length))).toBe(true);
  });

  it('drops truncated and malformed IPv6 with the matching reason', () => {
    const p = ipv6({
      src: '2001:db8:64::198.51.100.2',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 17,
      payload: udp(1, 2),
    });
    expect(t.v6ToV4(p.slice(0, p.length - 1), out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('truncated64');
    const bad = p.slice();
    bad[0] = 0x40;
    expect(t.v6ToV4(bad, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('header64');
    const short = ipv6({
      src: '2001:db8:64::198.51.100.2',
      dst: '2001:db8:64::192.0.2.1',
      nextHeader: 6,
      payload: new Uint8Array(10),
      rawL4: true,
    });
    expect(t.v6ToV4(short, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('truncated64');
  });
});
