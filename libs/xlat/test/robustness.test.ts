// Proves arbitrary damage to valid packets (bit flips, truncation, random bytes) never makes the
// translator throw or write a packet whose own length fields disagree with what it reported; every
// non-translation is a named drop reason of the right direction.
import { describe, expect, it } from 'vitest';
import {
  createStatefulTranslator,
  createTranslator,
  dropReasonNames,
  extractFlowKey4,
  extractFlowKey6,
  FlowKey,
  Verdict,
  XlatTuple,
} from '../src/index.js';
import { fragmentHeader, icmp, ipv4, ipv6, r16, tcp, udp } from './packets.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

const seeds4 = [
  ipv4({ src: '192.0.2.1', dst: '198.51.100.2', protocol: 17, payload: udp(1, 2, 30) }),
  ipv4({ src: '192.0.2.1', dst: '198.51.100.2', protocol: 6, payload: tcp(1, 2, 0x10, 1400) }),
  ipv4({ src: '192.0.2.1', dst: '198.51.100.2', protocol: 1, payload: icmp(8, 0, 1, 20) }),
  ipv4({
    src: '203.0.113.9',
    dst: '198.51.100.2',
    protocol: 1,
    payload: icmp(
      3,
      4,
      1000,
      ipv4({ src: '198.51.100.2', dst: '192.0.2.1', protocol: 6, payload: tcp(1, 2, 2, 200) }),
    ),
  }),
  ipv4({
    src: '192.0.2.1',
    dst: '198.51.100.2',
    protocol: 17,
    payload: udp(1, 2, 40),
    options: [131, 7, 4, 1, 2, 3, 4, 0],
  }),
];
const seeds6 = [
  ipv6({
    src: '2001:db8:64::c633:6402',
    dst: '2001:db8:64::c000:201',
    nextHeader: 17,
    payload: udp(1, 2, 30),
  }),
  ipv6({
    src: '2001:db8:64::c633:6402',
    dst: '2001:db8:64::c000:201',
    nextHeader: 44,
    extensions: fragmentHeader(6, 0, true, 5),
    payload: tcp(1, 2, 0x10, 2000),
    protocol: 6,
  }),
  ipv6({
    src: '2001:db8:64::c633:64fe',
    dst: '2001:db8:64::c000:201',
    nextHeader: 58,
    payload: icmp(
      1,
      4,
      0,
      ipv6({
        src: '2001:db8:64::c000:201',
        dst: '2001:db8:64::c633:6402',
        nextHeader: 58,
        payload: icmp(128, 0, 7, 40),
      }),
    ),
  }),
];

function damage(next: () => number, packet: Uint8Array): Uint8Array {
  const roll = next();
  if (roll < 0.15) return packet.slice(0, Math.floor(next() * packet.length));
  const copy = packet.slice();
  if (roll < 0.25) {
    for (let i = 0; i < copy.length; i++) copy[i] = Math.floor(next() * 256);
    return copy;
  }
  const flips = 1 + Math.floor(next() * 4);
  for (let i = 0; i < flips; i++) {
    // Mostly the headers, where the parsing decisions are.
    const at =
      next() < 0.8 ? Math.floor(next() * Math.min(copy.length, 100)) : Math.floor(next() * copy.length);
    copy[at] ^= 1 << Math.floor(next() * 8);
  }
  return copy;
}

function checkOutput(
  verdict: number,
  result: { reason: number; count: number; length: number; lengths: Int32Array; hairpinned?: boolean },
  out: Uint8Array,
  direction: '46' | '64',
) {
  expect([Verdict.Translate, Verdict.Drop, Verdict.ReplyIcmp]).toContain(verdict);
  if (verdict === Verdict.Drop) {
    expect(dropReasonNames[result.reason].endsWith(direction)).toBe(true);
    return;
  }
  let at = 0;
  for (let i = 0; i < result.count; i++) {
    const length = result.lengths[i];
    const version = out[at] >> 4;
    // A reply is in the input's family; a translation in the other one, unless it was hairpinned
    // (RFC 7757 sec. 4: IPv6 back to IPv6).
    const v6 = (direction === '46') === (verdict === Verdict.Translate) || result.hairpinned === true;
    expect(version).toBe(v6 ? 6 : 4);
    expect(v6 ? 40 + r16(out, at + 4) : r16(out, at + 2)).toBe(length);
    at += length;
  }
  expect(at).toBe(result.length);
}

describe('damaged packets', () => {
  it('stateless translator: 20000 damaged packets each way, no throw, consistent output', () => {
    const next = rng(0x5eed);
    const configs = [
      createTranslator({ prefix: '2001:db8:64::/96' }),
      createTranslator({ prefix: '2001:db8:64::/96', mtu4: 576, lowestIpv6Mtu: 1280, mtu6: 1400 }),
      createTranslator({
        prefix: '2001:db8:64::/96',
        eam: [{ ipv4: '192.0.2.0/24', ipv6: '2001:db8:aa::/120' }],
      }),
    ];
    const out = new Uint8Array(70000);
    for (let i = 0; i < 20000; i++) {
      const t = configs[i % configs.length];
      const p4 = damage(next, seeds4[i % seeds4.length]);
      checkOutput(t.v4ToV6(p4, out), t.result, out, '46');
      const p6 = damage(next, seeds6[i % seeds6.length]);
      checkOutput(t.v6ToV4(p6, out), t.result, out, '64');
    }
  });

  it('stateful layer and flow keys: damaged packets, no throw', () => {
    const next = rng(0xbeef);
    const nat = createStatefulTranslator({ prefix: '2001:db8:64::/96' });
    const tuple = new XlatTuple();
    tuple.src4 = 0xc6336401;
    tuple.dst4 = 0xc0000201;
    tuple.srcPort = 7000;
    tuple.dstPort = 53;
    const key = new FlowKey();
    const out = new Uint8Array(70000);
    for (let i = 0; i < 10000; i++) {
      const p6 = damage(next, seeds6[i % seeds6.length]);
      const r6 = extractFlowKey6(p6, key);
      expect(r6 === 0 || dropReasonNames[r6].endsWith('64')).toBe(true);
      checkOutput(nat.v6ToV4(p6, out, tuple), nat.result, out, '64');
      const p4 = damage(next, seeds4[i % seeds4.length]);
      const r4 = extractFlowKey4(p4, key);
      expect(r4 === 0 || dropReasonNames[r4].endsWith('46')).toBe(true);
      checkOutput(nat.v4ToV6(p4, out, tuple), nat.result, out, '46');
    }
  });
});
