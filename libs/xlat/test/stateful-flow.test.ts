// Proves the NAT64 lower layer rewrites headers, ports and identifiers to a tuple the NAT engine
// decided (RFC 6146 sec. 3.7), quoting the reversed tuple inside ICMP errors, and that flow-key
// extraction reports protocol, addresses, ports/identifier, TCP flags, fragments and inner keys.
import { describe, expect, it } from 'vitest';
import {
  createStatefulTranslator,
  createTranslator,
  dropReasonName,
  extractFlowKey4,
  extractFlowKey6,
  FlowKey,
  parseIpv4Address,
  Verdict,
  XlatTuple,
} from '../src/index.js';
import {
  checksumsOk4,
  checksumsOk6,
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
const H6 = '2001:db8:1::5';
const REMOTE = '203.0.113.7';
const POOL = '198.51.100.1';
const nat = createStatefulTranslator({ prefix: '64:ff9b::/96' });

function tuple4(src: string, srcPort: number, dst: string, dstPort: number): XlatTuple {
  const t = new XlatTuple();
  t.src4 = parseIpv4Address(src)!;
  t.dst4 = parseIpv4Address(dst)!;
  t.srcPort = srcPort;
  t.dstPort = dstPort;
  return t;
}

function tuple6(src: string, srcPort: number, dst: string, dstPort: number): XlatTuple {
  const t = new XlatTuple();
  t.src6.set(v6(src));
  t.dst6.set(v6(dst));
  t.srcPort = srcPort;
  t.dstPort = dstPort;
  return t;
}

describe('stateful lower layer', () => {
  it('6->4: TCP source rewritten to the pool address and port, checksum valid', () => {
    const p = ipv6({ src: H6, dst: `64:ff9b::${REMOTE}`, nextHeader: 6, payload: tcp(40000, 80, 0x02) });
    expect(nat.v6ToV4(p, out, tuple4(POOL, 6000, REMOTE, 80))).toBe(Verdict.Translate);
    const o = out.slice(0, nat.result.length);
    expect(r32(o, 12)).toBe(parseIpv4Address(POOL));
    expect(r32(o, 16)).toBe(parseIpv4Address(REMOTE));
    expect([r16(o, 20), r16(o, 22)]).toEqual([6000, 80]);
    expect(checksumsOk4(o)).toBe(true);
  });

  it('4->6: reply rewritten back to the subscriber, checksum valid', () => {
    const p = ipv4({ src: REMOTE, dst: POOL, protocol: 17, payload: udp(53, 6001, 30) });
    expect(nat.v4ToV6(p, out, tuple6(`64:ff9b::${REMOTE}`, 53, H6, 40001))).toBe(Verdict.Translate);
    const o = out.slice(0, nat.result.length);
    expect(o.slice(8, 24)).toEqual(v6(`64:ff9b::${REMOTE}`));
    expect(o.slice(24, 40)).toEqual(v6(H6));
    expect([r16(o, 40), r16(o, 42)]).toEqual([53, 40001]);
    expect(checksumsOk6(o)).toBe(true);
  });

  it('rewrites the ICMP echo identifier: srcPort going out, dstPort coming back', () => {
    const req = ipv6({
      src: H6,
      dst: `64:ff9b::${REMOTE}`,
      nextHeader: 58,
      payload: icmp(128, 0, 0x11110001, 16),
    });
    expect(nat.v6ToV4(req, out, tuple4(POOL, 0x2222, REMOTE, 0x2222))).toBe(Verdict.Translate);
    expect(r16(out, 24)).toBe(0x2222);
    expect(checksumsOk4(out.slice(0, nat.result.length))).toBe(true);
    const reply = ipv4({ src: REMOTE, dst: POOL, protocol: 1, payload: icmp(0, 0, 0x22220001, 16) });
    expect(nat.v4ToV6(reply, out, tuple6(`64:ff9b::${REMOTE}`, 0x1111, H6, 0x1111))).toBe(Verdict.Translate);
    expect(r16(out, 44)).toBe(0x1111);
    expect(checksumsOk6(out.slice(0, nat.result.length))).toBe(true);
  });

  it('4->6 ICMP error: quoted packet takes the reversed tuple, outer source is the router in the prefix', () => {
    const quoted = ipv4({ src: POOL, dst: REMOTE, protocol: 6, payload: tcp(6000, 80, 0x02) });
    const err = ipv4({ src: '192.0.2.99', dst: POOL, protocol: 1, payload: icmp(11, 0, 0, quoted) });
    expect(nat.v4ToV6(err, out, tuple6(`64:ff9b::${REMOTE}`, 80, H6, 40000))).toBe(Verdict.Translate);
    const o = out.slice(0, nat.result.length);
    expect(o.slice(8, 24)).toEqual(v6('64:ff9b::192.0.2.99'));
    expect(o.slice(24, 40)).toEqual(v6(H6));
    expect(o.slice(48 + 8, 48 + 24)).toEqual(v6(H6));
    expect(o.slice(48 + 24, 48 + 40)).toEqual(v6(`64:ff9b::${REMOTE}`));
    expect([r16(o, 88), r16(o, 90)]).toEqual([40000, 80]);
    const q = o.slice(48);
    let pseudo = 0;
    for (let i = 8; i < 40; i += 2) pseudo += (q[i] << 8) | q[i + 1];
    expect(internetChecksum(q, 40, q.length, pseudo + q.length - 40 + 6)).toBe(0);
  });

  it('6->4 ICMP error: outer from the tuple, quoted packet reversed', () => {
    const quoted = ipv6({ src: `64:ff9b::${REMOTE}`, dst: H6, nextHeader: 17, payload: udp(53, 40001, 12) });
    const err = ipv6({ src: H6, dst: `64:ff9b::${REMOTE}`, nextHeader: 58, payload: icmp(1, 4, 0, quoted) });
    expect(nat.v6ToV4(err, out, tuple4(POOL, 6001, REMOTE, 53))).toBe(Verdict.Translate);
    const o = out.slice(0, nat.result.length);
    expect(checksumsOk4(o)).toBe(true);
    expect([r32(o, 12), r32(o, 16)]).toEqual([parseIpv4Address(POOL), parseIpv4Address(REMOTE)]);
    expect([r32(o, 28 + 12), r32(o, 28 + 16)]).toEqual([parseIpv4Address(REMOTE), parseIpv4Address(POOL)]);
    expect([r16(o, 48), r16(o, 50)]).toEqual([53, 6001]);
  });

  it('with the stateless mapping as its tuple it writes the same bytes as the stateless translator', () => {
    const config = { prefix: '2001:db8:64::/96' };
    const stateless = createTranslator(config);
    const session = createStatefulTranslator(config);
    const p6 = ipv6({
      src: '2001:db8:64::192.0.2.9',
      dst: `2001:db8:64::${REMOTE}`,
      nextHeader: 6,
      payload: tcp(40000, 80, 0x18, 33),
    });
    const p4 = ipv4({ src: REMOTE, dst: '192.0.2.9', protocol: 17, payload: udp(53, 4000, 21) });
    const mine = new Uint8Array(4096);
    expect(stateless.v6ToV4(p6, out)).toBe(Verdict.Translate);
    expect(session.v6ToV4(p6, mine, tuple4('192.0.2.9', 40000, REMOTE, 80))).toBe(Verdict.Translate);
    expect(mine.slice(0, session.result.length)).toEqual(out.slice(0, stateless.result.length));
    expect(stateless.v4ToV6(p4, out)).toBe(Verdict.Translate);
    const back = tuple6(`2001:db8:64::${REMOTE}`, 53, '2001:db8:64::192.0.2.9', 4000);
    expect(session.v4ToV6(p4, mine, back)).toBe(Verdict.Translate);
    expect(mine.slice(0, session.result.length)).toEqual(out.slice(0, stateless.result.length));
  });

  it('still applies every RFC 7915 rule, e.g. hop limit 1', () => {
    const p = ipv6({ src: H6, dst: `64:ff9b::${REMOTE}`, nextHeader: 17, payload: udp(1, 2), hopLimit: 1 });
    expect(nat.v6ToV4(p, out, tuple4(POOL, 1, REMOTE, 2))).toBe(Verdict.ReplyIcmp);
    expect(dropReasonName(nat.result.reason)).toBe('hoplimit64');
  });
});

describe('flow-key extraction', () => {
  const key = new FlowKey();

  it('reads an IPv6 TCP SYN', () => {
    const p = ipv6({ src: H6, dst: `64:ff9b::${REMOTE}`, nextHeader: 6, payload: tcp(40000, 443, 0x02) });
    expect(extractFlowKey6(p, key)).toBe(0);
    expect(key.family).toBe(6);
    expect(key.protocol).toBe(6);
    expect(key.src).toEqual(v6(H6));
    expect(key.dst).toEqual(v6(`64:ff9b::${REMOTE}`));
    expect([key.srcPort, key.dstPort, key.hasPorts, key.tcpFlags]).toEqual([40000, 443, true, 0x02]);
    expect(key.isFragment).toBe(false);
    expect(key.icmpError).toBe(false);
  });

  it('reads an IPv4 echo identifier into both ports', () => {
    const p = ipv4({ src: REMOTE, dst: POOL, protocol: 1, payload: icmp(0, 0, 0x0abc0001) });
    expect(extractFlowKey4(p, key)).toBe(0);
    expect([key.family, key.protocol, key.icmpType, key.srcPort, key.dstPort]).toEqual([
      4, 1, 0, 0x0abc, 0x0abc,
    ]);
    expect(key.src4 >>> 0).toBe(parseIpv4Address(REMOTE));
    expect(key.dst4 >>> 0).toBe(parseIpv4Address(POOL));
  });

  it('reports fragments, with ports only in the first', () => {
    const later = ipv6({
      src: H6,
      dst: `64:ff9b::${REMOTE}`,
      nextHeader: 44,
      extensions: fragmentHeader(17, 10, true, 0xfeed),
      payload: new Uint8Array(24),
      rawL4: true,
    });
    expect(extractFlowKey6(later, key)).toBe(0);
    expect([key.isFragment, key.fragmentOffset, key.moreFragments, key.fragmentId, key.hasPorts]).toEqual([
      true,
      10,
      true,
      0xfeed,
      false,
    ]);
  });

  it('reads the quoted packet of an ICMP error', () => {
    const quoted = ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: udp(6000, 53) });
    const err = ipv4({ src: '192.0.2.99', dst: POOL, protocol: 1, payload: icmp(3, 3, 0, quoted) });
    expect(extractFlowKey4(err, key)).toBe(0);
    expect(key.icmpError).toBe(true);
    expect([
      key.inner.protocol,
      key.inner.src4 >>> 0,
      key.inner.dst4 >>> 0,
      key.inner.srcPort,
      key.inner.dstPort,
    ]).toEqual([17, parseIpv4Address(POOL), parseIpv4Address(REMOTE), 6000, 53]);
    const quoted6 = ipv6({
      src: `64:ff9b::${REMOTE}`,
      dst: H6,
      nextHeader: 58,
      payload: icmp(129, 0, 0x00050001),
    });
    const err6 = ipv6({
      src: '2001:db8::ff',
      dst: `64:ff9b::${REMOTE}`,
      nextHeader: 58,
      payload: icmp(3, 0, 0, quoted6),
    });
    expect(extractFlowKey6(err6, key)).toBe(0);
    expect([key.icmpType, key.icmpError, key.inner.protocol, key.inner.srcPort, key.inner.hasPorts]).toEqual([
      3,
      true,
      58,
      5,
      true,
    ]);
    expect(key.inner.dst).toEqual(v6(H6));
  });

  it('returns drop reasons instead of throwing on garbage', () => {
    expect(dropReasonName(extractFlowKey4(new Uint8Array(3), key))).toBe('truncated46');
    expect(dropReasonName(extractFlowKey6(new Uint8Array(30), key))).toBe('truncated64');
    const p = ipv4({ src: REMOTE, dst: POOL, protocol: 6, payload: new Uint8Array(8), rawL4: true });
    expect(dropReasonName(extractFlowKey4(p, key))).toBe('truncated46');
  });
});
