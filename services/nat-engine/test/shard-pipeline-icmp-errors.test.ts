// Proves the ICMP errors the shard pipeline sends for the engine (RFC 6146 sec. 3.5) byte by byte: a
// refused outbound flow is answered with ICMPv6 destination unreachable (RFC 4443 sec. 3.1) from the
// packet's own destination back to its source, quoting as much of it as fits in 1280 bytes (sec. 2.4
// (c)); an unmapped UDP port inbound and an expired held SYN with ICMPv4 port unreachable from the
// configured pool address, quoting at most 576 bytes in all (RFC 1812 sec. 4.3.2.3); an ingress refusal
// with "administratively prohibited" but never an error about an ICMPv6 error (RFC 4443 sec. 2.4 (e)).
// Every error takes a token of one bucket (sec. 2.4 (f)); without one the packet is only dropped, still
// counted under its reason, and a translation that needs no error still goes through.
import { describe, expect, it } from 'vitest';
import { roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { parseRfc6052Prefix, Verdict } from '../../../libs/xlat/src/index.js';
import {
  formatIpv4 as bytesToIpv4,
  formatIpv6 as bytesToIpv6,
  icmp,
  icmpEcho,
  ipv4,
  ipv6,
  tcp,
  udp,
} from '../../../test/support/build.js';
import { checkPacket } from '../../../test/support/wellformed.js';
import {
  bytesFromWords,
  type NatEngineConfigInput,
  ShardPipeline,
  shardPipelineDropNames,
} from '../src/index.js';
import { harness, mappingOf, v4, v6 } from './helpers.js';

const SUB = '2001:db8:1::2';
const REMOTE = '198.51.100.2';
const ICMP_SOURCE4 = 0xcb007100; // 203.0.113.0

function newPipeline(
  config: Partial<NatEngineConfigInput> = {},
  bucket: { rate?: number; burst?: number } = {},
) {
  const { engine } = harness(config);
  const layout = roleCounterLayout(shardPipelineDropNames);
  const pipeline = new ShardPipeline(
    engine,
    {
      translator: { prefix: '64:ff9b::/96', allowNonGlobalIpv4: true },
      icmpSource4: ICMP_SOURCE4,
      icmpErrorsPerSecond: bucket.rate,
      icmpErrorsBurst: bucket.burst,
    },
    layout,
    parseRfc6052Prefix('64:ff9b::/96'),
  );
  const out = Buffer.alloc(70_000);
  const written = (at = 0) => Buffer.from(out.subarray(at, at + pipeline.result.length));
  const dropped = () => layout.names[pipeline.reasonCounter()];
  return { engine, pipeline, out, written, dropped, layout };
}

const udp6 = (srcPort: number, bytes = 8) =>
  ipv6({
    src: SUB,
    dst: `64:ff9b::${REMOTE}`,
    payload: udp({ srcPort, dstPort: 53, payload: Buffer.alloc(bytes, 0x5a) }),
  });

describe('ICMPv6 errors for refused outbound flows', () => {
  it('answers a flow past the subscriber session bound with address unreachable from the destination, quoting it whole', () => {
    const { pipeline, out, written, dropped } = newPipeline({ subscriberSessionsMax: 1 });
    pipeline.setNow(1000);
    const first = udp6(5000);
    expect(pipeline.outbound(v6('udp', SUB, 5000, REMOTE, 53), first, 0, first.length, out, 0, false)).toBe(
      Verdict.Translate,
    );
    const second = udp6(5001, 100);
    expect(pipeline.outbound(v6('udp', SUB, 5001, REMOTE, 53), second, 0, second.length, out, 0, false)).toBe(
      Verdict.ReplyIcmp,
    );
    expect(dropped()).toBe('drop.nat.subscribersessions64');
    const reply = written();
    expect(checkPacket(reply)).toEqual([]);
    expect(reply.length).toBe(40 + 8 + second.length);
    expect(pipeline.result.count).toBe(1);
    expect(pipeline.result.lengths[0]).toBe(reply.length);
    expect(reply[6]).toBe(58);
    expect(bytesToIpv6(reply, 8)).toBe(bytesToIpv6(second, 24));
    expect(bytesToIpv6(reply, 24)).toBe(bytesToIpv6(second, 8));
    expect([reply[40], reply[41]]).toEqual([1, 3]);
    expect(reply.subarray(48).equals(second)).toBe(true);
  });

  it('quotes at most 1280 bytes in all, and writes at the output offset from a packet at an input offset', () => {
    const { pipeline, out, written } = newPipeline({ subscriberSessionsMax: 1 });
    pipeline.setNow(0);
    const first = udp6(5000);
    pipeline.outbound(v6('udp', SUB, 5000, REMOTE, 53), first, 0, first.length, out, 0, false);
    const big = udp6(5001, 1400);
    const input = Buffer.concat([Buffer.alloc(13, 0xee), big]);
    expect(pipeline.outbound(v6('udp', SUB, 5001, REMOTE, 53), input, 13, big.length, out, 7, false)).toBe(
      Verdict.ReplyIcmp,
    );
    expect(pipeline.result.length).toBe(1280);
    const reply = written(7);
    expect(checkPacket(reply)).toEqual([]);
    expect(bytesToIpv6(reply, 8)).toBe(bytesToIpv6(big, 24));
    expect(bytesToIpv6(reply, 24)).toBe(bytesToIpv6(big, 8));
    expect(reply.subarray(48).equals(big.subarray(0, 1280 - 48))).toBe(true);
  });

  it('drops the refused flow without an error once the bucket is empty, still counting it, and counts the suppression', () => {
    const { pipeline, out, dropped } = newPipeline({ subscriberSessionsMax: 1 }, { rate: 1, burst: 1 });
    pipeline.setNow(0);
    const first = udp6(5000);
    pipeline.outbound(v6('udp', SUB, 5000, REMOTE, 53), first, 0, first.length, out, 0, false);
    const p = udp6(5001);
    expect(pipeline.outbound(v6('udp', SUB, 5001, REMOTE, 53), p, 0, p.length, out, 0, false)).toBe(
      Verdict.ReplyIcmp,
    );
    expect(pipeline.icmpErrorsSuppressed).toBe(0);
    expect(pipeline.outbound(v6('udp', SUB, 5002, REMOTE, 53), p, 0, p.length, out, 0, false)).toBe(
      Verdict.Drop,
    );
    expect(dropped()).toBe('drop.nat.subscribersessions64');
    expect(pipeline.icmpErrorsSuppressed).toBe(1);
    // One token per second: a second later the next refusal is answered again.
    pipeline.setNow(1000);
    expect(pipeline.outbound(v6('udp', SUB, 5003, REMOTE, 53), p, 0, p.length, out, 0, false)).toBe(
      Verdict.ReplyIcmp,
    );
  });

  it('drops without an error what the engine drops quietly, under the nat reason', () => {
    const { pipeline, out, dropped } = newPipeline();
    const ack = ipv6({
      src: SUB,
      dst: `64:ff9b::${REMOTE}`,
      payload: tcp({ srcPort: 40000, dstPort: 80, flags: 0x10 }),
    });
    expect(
      pipeline.outbound(v6('tcp', SUB, 40000, REMOTE, 80, 0x10), ack, 0, ack.length, out, 0, false),
    ).toBe(Verdict.Drop);
    expect(dropped()).toBe('drop.nat.nosession64');
  });
});

describe('ICMPv4 errors for inbound packets and expired held SYNs', () => {
  it('answers UDP to an unmapped pool port with port unreachable from the pool address, quoting at most 576 bytes in all', () => {
    const { pipeline, out, written, dropped } = newPipeline();
    for (const bytes of [10, 1400]) {
      const p = ipv4({
        src: REMOTE,
        dst: '203.0.113.1',
        payload: udp({ srcPort: 53, dstPort: 40000, payload: Buffer.alloc(bytes, 0x33) }),
      });
      const input = Buffer.concat([Buffer.alloc(5), p]);
      expect(
        pipeline.inbound(v4('udp', REMOTE, 53, '203.0.113.1', 40000), input, 5, p.length, out, 3, false),
      ).toBe(Verdict.ReplyIcmp);
      expect(dropped()).toBe('drop.nat.nomapping46');
      const reply = written(3);
      expect(checkPacket(reply)).toEqual([]);
      expect(reply.length).toBe(Math.min(576, 28 + p.length));
      expect([reply[9], reply[20], reply[21]]).toEqual([1, 3, 3]);
      expect(bytesToIpv4(reply, 12)).toBe('203.0.113.0');
      expect(bytesToIpv4(reply, 16)).toBe(REMOTE);
      expect(reply.subarray(28).equals(p.subarray(0, reply.length - 28))).toBe(true);
    }
  });

  it('drops an inbound TCP segment with no state under the nat reason, without an error', () => {
    const { pipeline, out, dropped } = newPipeline();
    const p = ipv4({
      src: REMOTE,
      dst: '203.0.113.1',
      payload: tcp({ srcPort: 80, dstPort: 40000, flags: 0x10 }),
    });
    expect(
      pipeline.inbound(v4('tcp', REMOTE, 80, '203.0.113.1', 40000, 0x10), p, 0, p.length, out, 0, false),
    ).toBe(Verdict.Drop);
    expect(dropped()).toBe('drop.nat.nosession46');
  });

  it('keeps a copy of a held SYN, so its error quotes the SYN as received though the batch buffer was reused, capped at 576 bytes', () => {
    const { pipeline, out } = newPipeline({ filtering: 'address-dependent' });
    pipeline.setNow(0);
    const syn = ipv4({
      src: REMOTE,
      dst: '203.0.113.1',
      payload: tcp({ srcPort: 6000, dstPort: 40000, flags: 0x02, payload: Buffer.alloc(1000, 0x77) }),
    });
    const batch = Buffer.concat([Buffer.alloc(9), syn]);
    expect(
      pipeline.inbound(
        v4('tcp', REMOTE, 6000, '203.0.113.1', 40000, 0x02),
        batch,
        9,
        syn.length,
        out,
        0,
        false,
      ),
    ).toBe(Verdict.Drop);
    batch.fill(0);
    pipeline.advance(10_000);
    expect(pipeline.pendingReplies).toHaveLength(1);
    const reply = Buffer.from(pipeline.pendingReplies[0]);
    expect(checkPacket(reply)).toEqual([]);
    expect(reply.length).toBe(576);
    expect([reply[20], reply[21]]).toEqual([3, 3]);
    expect(bytesToIpv4(reply, 12)).toBe('203.0.113.0');
    expect(bytesToIpv4(reply, 16)).toBe(REMOTE);
    expect(reply.subarray(28).equals(syn.subarray(0, 548))).toBe(true);
  });

  it('forgets an expired held SYN without an error when the bucket is empty', () => {
    const { pipeline, out } = newPipeline({ filtering: 'address-dependent' }, { rate: 1, burst: 1 });
    pipeline.setNow(0);
    for (const port of [6000, 6001]) {
      const syn = ipv4({
        src: REMOTE,
        dst: '203.0.113.1',
        payload: tcp({ srcPort: port, dstPort: 40000, flags: 2 }),
      });
      pipeline.inbound(v4('tcp', REMOTE, port, '203.0.113.1', 40000, 2), syn, 0, syn.length, out, 0, false);
    }
    expect(pipeline.heldCount).toBe(2);
    // Both holds end in the same advance at the same time: one token, one error.
    pipeline.advance(8000);
    expect(pipeline.heldCount).toBe(0);
    expect(pipeline.pendingReplies).toHaveLength(1);
    expect(pipeline.icmpErrorsSuppressed).toBe(1);
  });
});

describe('the error bucket by default, and holds the pipeline did not keep', () => {
  it('sends 50 errors at one instant by default and suppresses the 51st', () => {
    const { pipeline, out } = newPipeline();
    pipeline.setNow(0);
    const p = ipv4({ src: REMOTE, dst: '203.0.113.1', payload: udp({ srcPort: 53, dstPort: 40000 }) });
    const key = v4('udp', REMOTE, 53, '203.0.113.1', 40000);
    for (let i = 0; i < 50; i++)
      expect(pipeline.inbound(key, p, 0, p.length, out, 0, false)).toBe(Verdict.ReplyIcmp);
    expect(pipeline.inbound(key, p, 0, p.length, out, 0, false)).toBe(Verdict.Drop);
    expect(pipeline.icmpErrorsSuppressed).toBe(1);
  });

  it('answers nothing for an expired hold whose packet it never kept', () => {
    const { engine, pipeline } = newPipeline({ filtering: 'address-dependent' });
    // Held through the engine directly: the pipeline has no packet for it.
    expect(engine.inbound4(v4('tcp', REMOTE, 6000, '203.0.113.1', 40000, 0x02), 0)).toBe(2);
    pipeline.advance(10_000);
    expect(engine.heldSynCount).toBe(0);
    expect(pipeline.pendingReplies).toEqual([]);
  });
});

describe('refusals by an ingress policy (refuse6)', () => {
  it('answers administratively prohibited under the given counter, from the destination back to the source', () => {
    const { pipeline, out, written, layout } = newPipeline();
    const counter = layout.index('drop.hairpinprotocol');
    const p = udp6(5000, 20);
    expect(pipeline.refuse6(counter, p, 0, p.length, out, 0)).toBe(Verdict.ReplyIcmp);
    expect(pipeline.reasonCounter()).toBe(counter);
    const reply = written();
    expect(checkPacket(reply)).toEqual([]);
    expect([reply[40], reply[41]]).toEqual([1, 1]);
    expect(bytesToIpv6(reply, 8)).toBe(bytesToIpv6(p, 24));
    expect(reply.subarray(48).equals(p)).toBe(true);
  });

  it('answers an echo request but never an ICMPv6 error or a header too short to tell, and nothing without a token', () => {
    const { pipeline, out } = newPipeline({}, { rate: 1, burst: 2 });
    const echo = ipv6({ src: SUB, dst: `64:ff9b::${REMOTE}`, payload: icmpEcho(128, 1, 1, Buffer.alloc(4)) });
    const error = ipv6({
      src: SUB,
      dst: `64:ff9b::${REMOTE}`,
      payload: icmp({ type: 1, code: 4, body: echo }),
    });
    const informational = ipv6({ src: SUB, dst: `64:ff9b::${REMOTE}`, payload: icmp({ type: 127 }) });
    expect(pipeline.refuse6(1, error, 0, error.length, out, 0)).toBe(Verdict.Drop);
    expect(pipeline.refuse6(1, informational, 0, informational.length, out, 0)).toBe(Verdict.Drop);
    expect(pipeline.refuse6(1, echo, 0, 40, out, 0)).toBe(Verdict.Drop);
    expect(pipeline.icmpErrorsSuppressed).toBe(0);
    expect(pipeline.refuse6(1, echo, 0, 41, out, 0)).toBe(Verdict.ReplyIcmp);
    const p = udp6(5000);
    expect(pipeline.refuse6(2, p, 0, p.length, out, 0)).toBe(Verdict.ReplyIcmp);
    expect(pipeline.refuse6(3, p, 0, p.length, out, 0)).toBe(Verdict.Drop);
    expect(pipeline.reasonCounter()).toBe(3);
    expect(pipeline.icmpErrorsSuppressed).toBe(1);
  });
});

describe('translator errors under the bucket', () => {
  it('answers a packet over the link MTU with the translator error while tokens last, then drops it writing nothing', () => {
    const { pipeline, out, written, dropped } = newPipeline({}, { rate: 1, burst: 1 });
    pipeline.setNow(0);
    pipeline.setLinkMtus(1280, 1500);
    const big = udp6(5000, 1400);
    const key = v6('udp', SUB, 5000, REMOTE, 53);
    // RFC 7915 sec. 5.1: an IPv6 packet the IPv4 link cannot carry gets a Packet Too Big.
    expect(pipeline.outbound(key, big, 0, big.length, out, 0, false)).toBe(Verdict.ReplyIcmp);
    const reply = written();
    expect(checkPacket(reply)).toEqual([]);
    expect(reply[40]).toBe(2);
    expect(dropped()).toBe('drop.toobig64');
    out.fill(0xaa);
    expect(pipeline.outbound(key, big, 0, big.length, out, 0, false)).toBe(Verdict.Drop);
    expect(pipeline.icmpErrorsSuppressed).toBe(1);
    expect(dropped()).toBe('drop.toobig64');
    expect(out.subarray(0, 2000).every((b) => b === 0xaa)).toBe(true);
    // A GSO super-packet is not held to the link MTU.
    expect(pipeline.outbound(key, big, 0, big.length, out, 0, true)).toBe(Verdict.Translate);
    expect(pipeline.result.length).toBe(big.length - 20);
  });

  it('still translates with the bucket empty, into the output at its offset', () => {
    const { engine, pipeline, out, written } = newPipeline(
      { subscriberSessionsMax: 1 },
      { rate: 1, burst: 1 },
    );
    pipeline.setNow(0);
    const first = udp6(5000);
    const key = v6('udp', SUB, 5000, REMOTE, 53);
    pipeline.outbound(key, first, 0, first.length, out, 0, false);
    // A refusal takes the only token.
    pipeline.outbound(v6('udp', SUB, 5001, REMOTE, 53), first, 0, first.length, out, 0, false);
    out.fill(0);
    expect(pipeline.outbound(key, first, 0, first.length, out, 11, false)).toBe(Verdict.Translate);
    const p4 = written(11);
    expect(checkPacket(p4)).toEqual([]);
    const m = mappingOf(engine, key)!;
    expect(bytesToIpv4(p4, 12)).toBe(m.address);
    expect(bytesToIpv4(p4, 16)).toBe(REMOTE);
    expect(p4.readUInt16BE(20)).toBe(m.port);
    expect(p4.readUInt16BE(22)).toBe(53);
    expect(out.subarray(0, 11).every((b) => b === 0)).toBe(true);
    // And inbound likewise.
    const back = ipv4({ src: REMOTE, dst: m.address, payload: udp({ srcPort: 53, dstPort: m.port }) });
    expect(
      pipeline.inbound(v4('udp', REMOTE, 53, m.address, m.port), back, 0, back.length, out, 5, false),
    ).toBe(Verdict.Translate);
    const p6 = written(5);
    expect(checkPacket(p6)).toEqual([]);
    // RFC 6146 sec. 3.7: the remote's address embedded in the PREF64, its port kept; the subscriber's own.
    expect(bytesToIpv6(p6, 8)).toBe(bytesToIpv6(udp6(1), 24));
    expect(p6.readUInt16BE(40)).toBe(53);
    expect(bytesToIpv6(p6, 24)).toBe(bytesToIpv6(udp6(1), 8));
    expect(p6.readUInt16BE(42)).toBe(5000);
  });

  it('fragments a translated IPv4 packet without DF to at most 1280 bytes (RFC 7915 sec. 4) whatever the IPv6 link MTU', () => {
    const { engine, pipeline, out } = newPipeline();
    const key6 = v6('udp', SUB, 5000, REMOTE, 53);
    const first = udp6(5000);
    pipeline.outbound(key6, first, 0, first.length, out, 0, false);
    const m = mappingOf(engine, key6)!;
    pipeline.setLinkMtus(1500, 1500);
    const big = ipv4({
      src: REMOTE,
      dst: m.address,
      df: false,
      payload: udp({ srcPort: 53, dstPort: m.port, payload: Buffer.alloc(1400, 1) }),
    });
    const key4 = v4('udp', REMOTE, 53, m.address, m.port);
    expect(pipeline.inbound(key4, big, 0, big.length, out, 0, false)).toBe(Verdict.Translate);
    const lengths = Array.from(pipeline.result.lengths.subarray(0, pipeline.result.count));
    expect(lengths.length).toBeGreaterThan(1);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(1280);
  });

  it('answers an IPv4 packet with DF over the IPv6 link MTU with fragmentation needed, but not a GSO super-packet', () => {
    const { engine, pipeline, out, written, dropped } = newPipeline();
    const key6 = v6('udp', SUB, 5000, REMOTE, 53);
    const first = udp6(5000);
    pipeline.outbound(key6, first, 0, first.length, out, 0, false);
    const m = mappingOf(engine, key6)!;
    pipeline.setLinkMtus(1500, 1280);
    const big = ipv4({
      src: REMOTE,
      dst: m.address,
      df: true,
      payload: udp({ srcPort: 53, dstPort: m.port, payload: Buffer.alloc(1400, 1) }),
    });
    const key4 = v4('udp', REMOTE, 53, m.address, m.port);
    // RFC 7915 sec. 4: DF set and too big for the IPv6 side: ICMPv4 fragmentation needed.
    expect(pipeline.inbound(key4, big, 0, big.length, out, 0, false)).toBe(Verdict.ReplyIcmp);
    expect(dropped()).toBe('drop.fragneeded46');
    expect([written()[20], written()[21]]).toEqual([3, 4]);
    expect(pipeline.inbound(key4, big, 0, big.length, out, 0, true)).toBe(Verdict.Translate);
    expect(pipeline.result.count).toBe(1);
    expect(pipeline.result.length).toBe(big.length + 20);
  });

  it('refuses link MTUs outside IPv4 68..65535 and IPv6 1280..65535', () => {
    const { pipeline } = newPipeline();
    for (const [m4, m6] of [
      [67, 1500],
      [65536, 1500],
      [1500.5, 1500],
      [1500, 1279],
      [1500, 65536],
      [1500, 1400.5],
    ])
      expect(() => pipeline.setLinkMtus(m4, m6), `${m4} ${m6}`).toThrow();
    expect(() => pipeline.setLinkMtus(67, 1500)).toThrow('mtu4 67');
    expect(() => pipeline.setLinkMtus(1500, 1279)).toThrow('mtu6 1279');
    expect(() => pipeline.setLinkMtus(68, 1280)).not.toThrow();
    expect(() => pipeline.setLinkMtus(65535, 65535)).not.toThrow();
  });
});

describe('engine words to bytes', () => {
  it('writes four big-endian words as sixteen bytes', () => {
    const bytes = new Uint8Array(16);
    bytesFromWords(Uint32Array.of(0x20010db8, 0x00010203, 0xfffefdfc, 0x80000001), bytes);
    expect(Buffer.from(bytes).toString('hex')).toBe('20010db800010203fffefdfc80000001');
  });

  it('names the pipeline counters: its own two, then drop.nat.<reason> for each engine reason but none', () => {
    expect(shardPipelineDropNames.slice(0, 3)).toEqual(['hairpinprotocol', 'heldsyn', 'nat.protocol64']);
    expect(shardPipelineDropNames).not.toContain('nat.none');
  });
});

describe('a hairpinned datagram with no payload', () => {
  it('is rewritten with a valid UDP checksum at the minimum length of 48 bytes (RFC 6146 sec. 3.8)', () => {
    const { engine, pipeline, out, written } = newPipeline();
    const keyB = v6('udp', '2001:db8:2::2', 7000, REMOTE, 53);
    const pb = ipv6({
      src: '2001:db8:2::2',
      dst: `64:ff9b::${REMOTE}`,
      payload: udp({ srcPort: 7000, dstPort: 53 }),
    });
    pipeline.outbound(keyB, pb, 0, pb.length, out, 0, false);
    const b = mappingOf(engine, keyB)!;
    const empty = ipv6({
      src: SUB,
      dst: `64:ff9b::${b.address}`,
      payload: udp({ srcPort: 5005, dstPort: b.port }),
    });
    expect(empty.length).toBe(48);
    expect(pipeline.outbound(v6('udp', SUB, 5005, b.address, b.port), empty, 0, 48, out, 0, false)).toBe(
      Verdict.Translate,
    );
    const p = written();
    expect(p.length).toBe(48);
    expect(checkPacket(p)).toEqual([]);
    expect(bytesToIpv6(p, 24)).toBe(bytesToIpv6(pb, 8));
    expect(p.readUInt16BE(42)).toBe(7000);
  });
});
