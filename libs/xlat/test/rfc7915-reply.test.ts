// Proves the ICMP errors the translator originates itself (RFC 7915 sec. 4.4/5.4, reply.ts) and the
// shared state they use (common.ts): no error about a non-initial fragment (RFC 1812 sec. 4.3.2.7),
// an error's exact bytes (RFC 792/4443 layout, checksums from test/packets.ts), the one per-translator
// identification counter (libs/xlat README), result capacity for the largest packet cut into the
// smallest fragments, and the caller-offset checks that throw a RangeError naming the sizes.
import { describe, expect, it } from 'vitest';
import { parseIpv4, parseIpv6 } from '../../packet/src/index.js';
import { validateConfig } from '../src/config.js';
import {
  createStatefulTranslator,
  createTranslator,
  dropReasonName,
  Verdict,
  XlatTuple,
} from '../src/index.js';
import { XlatState } from '../src/internal.js';
import { replyIcmp4, replyIcmp6 } from '../src/rfc7915/reply.js';
import { fragmentHeader, hex, icmp, ipv4, ipv6, r16, udp, v6 } from './packets.js';

const PREFIX = '2001:db8:64::/96';
const H6 = '2001:db8:64::198.51.100.2';
const S6 = '2001:db8:64::192.0.2.1';
const out = new Uint8Array(100000);

describe('ICMP errors originated by the translator', () => {
  it('hop limit 1: Time Exceeded from the destination, quoting the packet; none about a non-first fragment', () => {
    const t = createTranslator({ prefix: PREFIX });
    const p = ipv6({ src: H6, dst: S6, nextHeader: 17, payload: udp(1000, 53, 8), hopLimit: 1 });
    // The packet at offset 8, after bytes that look like a multicast address.
    const input = new Uint8Array(8 + p.length).fill(0xff);
    input.set(p, 8);
    expect(t.v6ToV4(input, out, 8, p.length)).toBe(Verdict.ReplyIcmp);
    expect(hex(out.subarray(0, t.result.length))).toBe(
      hex(ipv6({ src: S6, dst: H6, nextHeader: 58, payload: icmp(3, 0, 0, p) })),
    );

    const fragment = ipv6({
      src: H6,
      dst: S6,
      nextHeader: 44,
      extensions: fragmentHeader(17, 5, false, 1),
      protocol: 17,
      rawL4: true,
      payload: udp(1000, 53, 8),
      hopLimit: 1,
    });
    expect(t.v6ToV4(fragment, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('hoplimit64');
  });

  it('Time Exceeded to a source with no zero byte (mapped by EAM) is sent, not taken for unspecified', () => {
    const src = '2001:db8:1111:1111:1111:1111:1111:1111';
    expect(v6(src).includes(0)).toBe(false);
    const t = createTranslator({ prefix: PREFIX, eam: [{ ipv4: '192.0.2.77/32', ipv6: `${src}/128` }] });
    const p = ipv6({ src, dst: S6, nextHeader: 17, payload: udp(1000, 53, 8), hopLimit: 1 });
    expect(t.v6ToV4(p, out)).toBe(Verdict.ReplyIcmp);
    expect(hex(out.subarray(0, t.result.length))).toBe(
      hex(ipv6({ src: S6, dst: src, nextHeader: 58, payload: icmp(3, 0, 0, p) })),
    );
  });

  it('TTL 1 in IPv4: Time Exceeded from 192.0.0.8 (RFC 7600) for a first fragment, nothing for a later one', () => {
    const t = createTranslator({ prefix: PREFIX });
    const first = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(53, 1000, 8),
      ttl: 1,
    });
    expect(t.v4ToV6(first, out)).toBe(Verdict.ReplyIcmp);
    const id = r16(out, 4);
    expect(hex(out.subarray(0, t.result.length))).toBe(
      hex(ipv4({ src: '192.0.0.8', dst: '192.0.2.1', protocol: 1, id, payload: icmp(11, 0, 0, first) })),
    );
    const later = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(53, 1000, 8),
      ttl: 1,
      fragmentOffset: 10,
    });
    expect(t.v4ToV6(later, out)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('ttl46');
  });

  it('one identification counter counts up by one across translated packets, ICMPv4 errors it writes and translated errors', () => {
    const t = createTranslator({ prefix: PREFIX });
    const small = ipv6({ src: H6, dst: S6, nextHeader: 17, payload: udp(1000, 53, 8) });
    const ttl1 = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(53, 1000, 8),
      ttl: 1,
    });
    const error = ipv6({ src: S6, dst: H6, nextHeader: 58, payload: icmp(1, 4, 0, small) });
    const ids: number[] = [];
    for (const step of [0, 1, 2, 0, 1]) {
      const verdict = step === 1 ? t.v4ToV6(ttl1, out) : t.v6ToV4(step === 0 ? small : error, out);
      expect(verdict, `step ${ids.length}`).not.toBe(Verdict.Drop);
      ids.push(r16(out, 4));
    }
    expect(ids.map((id) => (id - ids[0]) & 0xffff)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('replyIcmp4 / replyIcmp6 on their own (every caller checks sources first; the writers refuse too)', () => {
  const reason = 99;

  it('replyIcmp4: no error to 0/8, 127/8 or 224/3 and above (RFC 1812 sec. 4.3.2.7); 223.255.255.255 gets one', () => {
    const state = new XlatState(validateConfig({ prefix: PREFIX }));
    for (const [src, answered] of [
      ['0.1.2.3', false],
      ['127.0.0.1', false],
      ['224.0.0.1', false],
      ['240.0.0.1', false],
      ['223.255.255.255', true],
      ['1.0.0.1', true],
    ] as const) {
      const p = ipv4({ src, dst: '198.51.100.2', protocol: 17, payload: udp(53, 1000, 8), ttl: 1 });
      expect(parseIpv4(p, 0, p.length, state.outer4, true), src).toBe(0);
      const verdict = replyIcmp4(state, p, out, 0, 11, 0, 0, reason);
      expect([verdict, state.result.reason], src).toEqual([
        answered ? Verdict.ReplyIcmp : Verdict.Drop,
        reason,
      ]);
      if (answered) expect([out[20], r16(out, 2)], src).toEqual([11, 28 + p.length]);
    }
  });

  it('replyIcmp6: no error to a multicast or the unspecified source; ::1 and ::100 get one', () => {
    const state = new XlatState(validateConfig({ prefix: PREFIX }));
    for (const [src, answered] of [
      ['ff02::1', false],
      ['::', false],
      ['::1', true],
      ['::100', true],
      ['100::', true],
    ] as const) {
      const p = ipv6({ src, dst: S6, nextHeader: 17, payload: udp(1000, 53, 8), hopLimit: 1 });
      expect(parseIpv6(p, 0, p.length, state.outer6, true), src).toBe(0);
      const verdict = replyIcmp6(state, p, out, 0, 3, 0, 0, reason);
      expect([verdict, state.result.reason], src).toEqual([
        answered ? Verdict.ReplyIcmp : Verdict.Drop,
        reason,
      ]);
      if (answered)
        expect(hex(out.subarray(0, state.result.length)), src).toBe(
          hex(ipv6({ src: S6, dst: src, nextHeader: 58, payload: icmp(3, 0, 0, p) })),
        );
    }
  });
});

describe('translator state', () => {
  it('a new translator reports no packet, no drop and no hairpin', () => {
    const t = createTranslator({ prefix: PREFIX });
    expect([t.result.count, t.result.length, t.result.reason, t.result.hairpinned]).toEqual([0, 0, 0, false]);
  });

  it('XlatTuple.copyFrom copies every field, the IPv6 addresses by value', () => {
    const a = new XlatTuple();
    a.src4 = 0xc0000201 | 0;
    a.dst4 = 0xc6336402 | 0;
    a.src6.set(v6(H6));
    a.dst6.set(v6(S6));
    a.srcPort = 1234;
    a.dstPort = 53;
    const b = new XlatTuple();
    b.copyFrom(a);
    expect([b.src4, b.dst4, b.srcPort, b.dstPort]).toEqual([a.src4, a.dst4, 1234, 53]);
    expect([hex(b.src6), hex(b.dst6)]).toEqual([hex(v6(H6)), hex(v6(S6))]);
    a.src6[0] = 0;
    expect(b.src6[0]).toBe(0x20);
  });

  it('holds 1366 fragments: the largest IPv6 payload cut for mtu4 68 (48-byte pieces)', () => {
    const t = createTranslator({ prefix: PREFIX, mtu4: 68 });
    const data = new Uint8Array(65535 - 8);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 255;
    const p = ipv6({
      src: H6,
      dst: S6,
      nextHeader: 44,
      extensions: fragmentHeader(17, 0, false, 0x4242),
      protocol: 17,
      rawL4: true,
      payload: data,
    });
    expect(t.v6ToV4(p, out)).toBe(Verdict.Translate);
    expect(t.result.count).toBe(1366);
    const lengths: number[] = [];
    const flags: number[] = [];
    let at = 0;
    for (let k = 0; k < 1366; k++) {
      lengths.push(t.result.lengths[k]);
      flags.push(r16(out, at + 6));
      at += t.result.lengths[k];
    }
    const last = 20 + 65527 - 1365 * 48;
    expect(lengths).toEqual(lengths.map((_, k) => (k < 1365 ? 68 : last)));
    expect(flags).toEqual(flags.map((_, k) => (k < 1365 ? 0x2000 : 0) | (k * 6)));
    expect(t.result.length).toBe(at);
  });

  it('holds 54 fragments: a 65535-byte IPv4 packet cut for lowest-ipv6-mtu 1280 (1232-byte pieces)', () => {
    const t = createTranslator({ prefix: PREFIX });
    const p = ipv4({
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: 17,
      payload: udp(53, 1000, 65535 - 28),
    });
    expect(t.v4ToV6(p, out)).toBe(Verdict.Translate);
    expect(t.result.count).toBe(54);
    const lengths = Array.from(t.result.lengths.subarray(0, 54));
    expect(lengths.slice(0, 53).every((l) => l === 1280)).toBe(true);
    expect(lengths[53]).toBe(48 + 65515 - 53 * 1232);
  });
});

describe('caller offsets (programmer errors throw, RangeError naming the sizes)', () => {
  const p = ipv6({ src: H6, dst: S6, nextHeader: 17, payload: udp(1000, 53, 8) });
  const input = new Uint8Array(100);
  input.set(p, 10);
  const small = new Uint8Array(200);

  it('refuses a packet range outside the input or an output start outside the output', () => {
    const t = createTranslator({ prefix: PREFIX });
    const nat = createStatefulTranslator({ prefix: PREFIX });
    const tuple = new XlatTuple();
    const bad: [number, number, number, RegExp][] = [
      [-1, 56, 0, /packet \[-1, -1 \+ 56\)/],
      [10, -1, 0, /packet \[10, 10 \+ -1\)/],
      [50, 60, 0, /must lie inside the input \(100 bytes\)/],
      [10, 56, -1, /outStart -1 inside the output \(200 bytes\)/],
      [10, 56, 201, /outStart 201 inside the output \(200 bytes\)/],
    ];
    for (const [inStart, inLength, outStart, message] of bad) {
      expect(() => t.v6ToV4(input, small, inStart, inLength, outStart)).toThrow(RangeError);
      expect(() => t.v6ToV4(input, small, inStart, inLength, outStart)).toThrow(message);
      expect(() => t.v4ToV6(input, small, inStart, inLength, outStart)).toThrow(RangeError);
      expect(() => nat.v6ToV4(input, small, tuple, inStart, inLength, outStart)).toThrow(message);
    }
  });

  it('accepts the edges: an empty packet (dropped as truncated), a packet ending at the input end, outStart at the output end', () => {
    const t = createTranslator({ prefix: PREFIX });
    expect(t.v6ToV4(input, small, 10, 0, 0)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('truncated64');
    const atEnd = new Uint8Array(p.length + 7);
    atEnd.set(p, 7);
    expect(t.v6ToV4(atEnd, small, 7, p.length, 0)).toBe(Verdict.Translate);
    expect(t.v6ToV4(input, small, 10, p.length, 200)).toBe(Verdict.Drop);
    expect(dropReasonName(t.result.reason)).toBe('buffer64');
  });
});
