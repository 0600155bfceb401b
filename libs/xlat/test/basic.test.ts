// Proves the stateless translator rewrites UDP, TCP and ICMP echo in both directions per RFC 7915
// sec. 4.1/5.1 (header fields) and 4.5/5.5 (checksums), with RFC 6052 and RFC 7757 addresses.
import { describe, expect, it } from 'vitest';
import { createTranslator, dropReasonName, Verdict } from '../src/index.js';
import { checksumsOk4, checksumsOk6, icmp, ipv4, ipv6, r16, r32, tcp, udp, v6 } from './packets.js';

const out = new Uint8Array(70000);
const wkp = () => createTranslator({ prefix: '64:ff9b::/96' });

function outPacket(t: { result: { length: number } }): Uint8Array {
  return out.slice(0, t.result.length);
}

describe('IPv4 -> IPv6', () => {
  it('translates UDP: header fields, RFC 6052 addresses, checksum across the pseudo-header', () => {
    const t = wkp();
    const p = ipv4({
      src: '8.8.4.4',
      dst: '1.1.1.1',
      protocol: 17,
      payload: udp(5353, 53, 30),
      ttl: 17,
      tos: 0xb9,
    });
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    const o = outPacket(t);
    expect(t.result.count).toBe(1);
    expect(t.result.lengths[0]).toBe(o.length);
    expect(o.length).toBe(p.length + 20);
    expect(o[0] >> 4).toBe(6);
    expect(((o[0] & 15) << 4) | (o[1] >> 4)).toBe(0xb9); // traffic class = TOS
    expect(r16(o, 2) | (o[1] & 15)).toBe(0); // flow label 0
    expect(r16(o, 4)).toBe(p.length - 20);
    expect(o[6]).toBe(17);
    expect(o[7]).toBe(16); // TTL - 1
    expect(o.slice(8, 24)).toEqual(v6('64:ff9b::8.8.4.4'));
    expect(o.slice(24, 40)).toEqual(v6('64:ff9b::1.1.1.1'));
    // 64:ff9b::/96 is checksum-neutral (0x0064 + 0xff9b = 0xffff): the L4 bytes are unchanged.
    expect(o.slice(40)).toEqual(p.slice(20));
    expect(checksumsOk6(o)).toBe(true);
  });

  it('translates TCP and keeps flags and payload', () => {
    const t = wkp();
    const p = ipv4({ src: '8.8.4.4', dst: '1.1.1.1', protocol: 6, payload: tcp(40000, 443, 0x18, 100) });
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    const o = outPacket(t);
    expect(o[6]).toBe(6);
    expect(o[40 + 13]).toBe(0x18);
    expect(checksumsOk6(o)).toBe(true);
  });

  it('translates ICMPv4 echo request/reply to ICMPv6 128/129 with a pseudo-header checksum', () => {
    const t = wkp();
    for (const [type4, type6] of [
      [8, 128],
      [0, 129],
    ]) {
      const p = ipv4({
        src: '8.8.4.4',
        dst: '1.1.1.1',
        protocol: 1,
        payload: icmp(type4, 0, 0xabcd0007, 56),
      });
      expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
      const o = outPacket(t);
      expect(o[6]).toBe(58);
      expect(o[40]).toBe(type6);
      expect(r32(o, 44)).toBe(0xabcd0007);
      expect(checksumsOk6(o)).toBe(true);
    }
  });

  it('computes a missing UDP checksum by default and drops it by policy', () => {
    const p = ipv4({ src: '8.8.4.4', dst: '1.1.1.1', protocol: 17, payload: udp(1, 2, 13), rawL4: true });
    const t = wkp();
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    const o = outPacket(t);
    expect(r16(o, 46)).not.toBe(0);
    expect(checksumsOk6(o)).toBe(true);
    const strict = createTranslator({ prefix: '64:ff9b::/96', udpZeroChecksum: 'drop' });
    expect(strict.v4ToV6(p, out)).toBe(Verdict.Drop);
    expect(dropReasonName(strict.result.reason)).toBe('udpzerochecksum46');
  });

  it('drops non-global IPv4 in the Well-Known Prefix unless allowed (RFC 6052 sec. 3.1)', () => {
    const p = ipv4({ src: '192.0.2.1', dst: '198.51.100.1', protocol: 17, payload: udp(1, 2) });
    const t = wkp();
    expect(t.v4ToV6(p, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('srcaddr46');
    const q = ipv4({ src: '8.8.8.8', dst: '10.0.0.1', protocol: 17, payload: udp(1, 2) });
    expect(t.v4ToV6(q, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('dstaddr46');
    const lab = createTranslator({ prefix: '64:ff9b::/96', allowNonGlobalIpv4: true });
    expect(lab.v4ToV6(p, out)).toBe(Verdict.Translate);
    // A network-specific prefix may carry any IPv4 address.
    const nsp = createTranslator({ prefix: '2001:db8:64::/96' });
    expect(nsp.v4ToV6(p, out)).toBe(Verdict.Translate);
  });

  it('writes traffic class 0 when told to ignore TOS (RFC 7915 sec. 4.1, 5.1), both directions', () => {
    const t = createTranslator({ prefix: '64:ff9b::/96', ignoreTrafficClass: true });
    const p = ipv4({ src: '8.8.4.4', dst: '1.1.1.1', protocol: 17, payload: udp(1, 2), tos: 0xff });
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    expect([out[0], out[1]]).toEqual([0x60, 0]);
    const q = ipv6({
      src: '64:ff9b::8.8.4.4',
      dst: '64:ff9b::1.1.1.1',
      nextHeader: 17,
      payload: udp(1, 2),
      trafficClass: 0xff,
    });
    expect(t.v6ToV4(q, out)).toBe(Verdict.Translate);
    expect(out[1]).toBe(0);
    expect(checksumsOk4(outPacket(t))).toBe(true);
  });

  it('adjusts the checksum under a checksum-changing prefix', () => {
    const t = createTranslator({ prefix: '2001:db8:122::/48' });
    const p = ipv4({ src: '8.8.4.4', dst: '1.1.1.1', protocol: 17, payload: udp(5353, 53, 30) });
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    const o = outPacket(t);
    expect(r16(o, 46)).not.toBe(r16(p, 26));
    expect(o.slice(48)).toEqual(p.slice(28));
    expect(checksumsOk6(o)).toBe(true);
  });

  it('uses an EAM entry before the prefix (RFC 7757)', () => {
    const t = createTranslator({
      prefix: '64:ff9b::/96',
      eam: [{ ipv4: '192.0.2.0/24', ipv6: '2001:db8:aaaa::/120' }],
    });
    const p = ipv4({ src: '8.8.8.8', dst: '192.0.2.77', protocol: 17, payload: udp(1, 2) });
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    expect(out.slice(24, 40)).toEqual(v6('2001:db8:aaaa::4d'));
    expect(checksumsOk6(outPacket(t))).toBe(true);
  });

  it('drops IPv4 protocols that are IPv6 extension header numbers (found by the fuzz suite)', () => {
    const t = wkp();
    for (const protocol of [0, 43, 44, 60, 135]) {
      const p = ipv4({ src: '8.8.4.4', dst: '1.1.1.1', protocol, payload: new Uint8Array(16) });
      expect(t.v4ToV6(p, out), `protocol ${protocol}`).toBe(Verdict.Drop);
      expect(dropReasonName(t.result.reason)).toBe('protocol46');
    }
    const esp = ipv4({ src: '8.8.4.4', dst: '1.1.1.1', protocol: 50, payload: new Uint8Array(16) });
    expect(t.v4ToV6(esp, out)).toBe(Verdict.Translate);
    expect(out[6]).toBe(50);
  });

  it('drops ICMPv6 carried in IPv4 and ignores bytes past Total Length', () => {
    const t = wkp();
    const bad = ipv4({ src: '8.8.4.4', dst: '1.1.1.1', protocol: 58, payload: icmp(128, 0, 0) });
    expect(t.v4ToV6(bad, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('protocol46');
    const p = ipv4({ src: '8.8.4.4', dst: '1.1.1.1', protocol: 17, payload: udp(1, 2, 4) });
    const padded = new Uint8Array(p.length + 6);
    padded.set(p);
    expect(t.v4ToV6(padded, out)).toBe(Verdict.Translate);
    expect(t.result.length).toBe(p.length + 20);
  });
});

describe('IPv6 -> IPv4', () => {
  it('translates UDP: header fields, DF by size, identification, checksum', () => {
    const t = wkp();
    const p = ipv6({
      src: '64:ff9b::8.8.4.4',
      dst: '64:ff9b::1.1.1.1',
      nextHeader: 17,
      payload: udp(53, 5353, 30),
      hopLimit: 3,
      trafficClass: 0x2e,
      flowLabel: 0x12345,
    });
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    const o = outPacket(t);
    expect(o.length).toBe(p.length - 20);
    expect(o[0]).toBe(0x45);
    expect(o[1]).toBe(0x2e);
    expect(r16(o, 2)).toBe(o.length);
    expect(r16(o, 6)).toBe(0); // small: DF clear (sec. 5.1), not a fragment
    expect(o[8]).toBe(2);
    expect(o[9]).toBe(17);
    expect(r32(o, 12)).toBe(0x08080404);
    expect(r32(o, 16)).toBe(0x01010101);
    expect(checksumsOk4(o)).toBe(true);
    expect(o.slice(28)).toEqual(p.slice(48));
  });

  it('sets DF above 1260 bytes with identification 0', () => {
    const t = wkp();
    const p = ipv6({
      src: '64:ff9b::8.8.4.4',
      dst: '64:ff9b::1.1.1.1',
      nextHeader: 6,
      payload: tcp(1, 2, 0x10, 1300),
    });
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    const o = outPacket(t);
    expect(r16(o, 6)).toBe(0x4000);
    expect(r16(o, 4)).toBe(0);
    expect(checksumsOk4(o)).toBe(true);
  });

  it('gives successive small packets distinct identifications, or 0 when configured (RFC 6145 style)', () => {
    const t = wkp();
    const p = ipv6({ src: '64:ff9b::8.8.4.4', dst: '64:ff9b::1.1.1.1', nextHeader: 17, payload: udp(1, 2) });
    t.v6ToV4(p, out);
    const first = r16(out, 4);
    t.v6ToV4(p, out);
    expect(r16(out, 4)).not.toBe(first);
    expect(checksumsOk4(outPacket(t))).toBe(true);
    const zero = createTranslator({ prefix: '64:ff9b::/96', identification6to4: 'zero' });
    zero.v6ToV4(p, out);
    zero.v6ToV4(p, out);
    expect(r16(out, 4)).toBe(0);
  });

  it('translates ICMPv6 echo to ICMPv4 echo without pseudo-header', () => {
    const t = wkp();
    for (const [type6, type4] of [
      [128, 8],
      [129, 0],
    ]) {
      const p = ipv6({
        src: '64:ff9b::8.8.4.4',
        dst: '64:ff9b::1.1.1.1',
        nextHeader: 58,
        payload: icmp(type6, 0, 0x00420001, 40),
      });
      expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
      const o = outPacket(t);
      expect(o[9]).toBe(1);
      expect(o[20]).toBe(type4);
      expect(r32(o, 24)).toBe(0x00420001);
      expect(checksumsOk4(o)).toBe(true);
    }
  });

  it('maps EAM and prefix addresses and drops what neither covers', () => {
    const t = createTranslator({ prefix: '64:ff9b::/96', eam: [{ ipv4: '192.0.2.1', ipv6: '2001:db8::5' }] });
    const p = ipv6({ src: '2001:db8::5', dst: '64:ff9b::8.8.8.8', nextHeader: 17, payload: udp(1, 2) });
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    expect(r32(out, 12)).toBe(0xc0000201);
    expect(checksumsOk4(outPacket(t))).toBe(true);
    const q = ipv6({ src: '2001:db8::6', dst: '64:ff9b::8.8.8.8', nextHeader: 17, payload: udp(1, 2) });
    expect(t.v6ToV4(q, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('srcaddr64');
    const r = ipv6({ src: '2001:db8::5', dst: '2001:db8::7', nextHeader: 17, payload: udp(1, 2) });
    expect(t.v6ToV4(r, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('dstaddr64');
  });

  it('skips hop-by-hop and destination options headers', () => {
    const t = wkp();
    const ext = new Uint8Array([0x3c, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0]);
    const p = ipv6({
      src: '64:ff9b::8.8.4.4',
      dst: '64:ff9b::1.1.1.1',
      nextHeader: 0,
      extensions: ext,
      protocol: 17,
      payload: udp(1, 2, 10),
    });
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    const o = outPacket(t);
    expect(o.length).toBe(20 + 18);
    expect(o[9]).toBe(17);
    expect(checksumsOk4(o)).toBe(true);
  });

  it('drops ICMPv4 carried in IPv6', () => {
    const t = wkp();
    const p = ipv6({
      src: '64:ff9b::8.8.4.4',
      dst: '64:ff9b::1.1.1.1',
      nextHeader: 1,
      payload: icmp(8, 0, 0),
    });
    expect(t.v6ToV4(p, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('protocol64');
  });
});
