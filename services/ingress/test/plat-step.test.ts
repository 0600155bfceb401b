// The PLAT's packet step, driven with real packets (built independently of libs/packet) through the
// real NAT engine and stateful translator: outbound and return traffic, fragments of one datagram
// sharing the first fragment's mapping, hairpinning, router solicitations and held SYNs. Every
// packet lies inside a larger buffer and is written among other bytes, as in a batch.
import { describe, expect, it } from 'vitest';
import { roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { parseRfc6052Prefix, Verdict } from '../../../libs/xlat/src/index.js';
import {
  formatIpv4,
  formatIpv6,
  fragment6,
  icmp,
  ipv4,
  ipv6,
  parseIpv6,
  tcp,
  udp,
} from '../../../test/support/build.js';
import { checkPacket } from '../../../test/support/wellformed.js';
import {
  ArrayEventSink,
  createNatEngine,
  createSeededRandom,
  type NatEngineConfigInput,
} from '../../nat-engine/src/index.js';
import { createPlatStep, platDropNames } from '../src/plat-step.js';

const v6 = (text: string) => formatIpv6(parseIpv6(text));

function newPlat(
  engineConfig: Partial<NatEngineConfigInput> = {},
  icmp: { icmpErrorsPerSecond?: number; icmpErrorsBurst?: number } = {},
) {
  const sink = new ArrayEventSink();
  const engine = createNatEngine(
    {
      pool: ['203.0.113.0/28'],
      blockSizePorts: 64,
      ports: { udp: [1024, 65535], tcp: [1024, 65535] },
      ...engineConfig,
    },
    {
      sink,
      random: createSeededRandom(7),
      startMs: 0,
    },
  );
  engine.start(0);
  const layout = roleCounterLayout(platDropNames);
  const step = createPlatStep(
    engine,
    { translator: { prefix: '64:ff9b::/96', allowNonGlobalIpv4: true }, icmpSource4: 0xcb007100, ...icmp },
    layout,
    parseRfc6052Prefix('64:ff9b::/96'),
  );
  // Each packet is handled where a batch would hold it: at an offset inside a larger buffer with
  // other bytes around it, written into the output at an offset among canary bytes, which must stay.
  let calls = 0;
  const run = (packet: Uint8Array, nowMs = 1000) => {
    step.setNow(nowMs);
    calls++;
    const inStart = 1 + ((calls * 7) % 61);
    const input = Buffer.alloc(inStart + packet.length + 23, 0xee);
    input.set(packet, inStart);
    const outStart = 3 + ((calls * 13) % 101);
    const out = Buffer.alloc(outStart + 70_000, 0xa5);
    const verdict = step.process(input, inStart, packet.length, out, outStart, false);
    const packets: Buffer[] = [];
    let offset = outStart;
    if (verdict !== Verdict.Drop) {
      for (let i = 0; i < step.result.count; i++) {
        packets.push(Buffer.from(out.subarray(offset, offset + step.result.lengths[i])));
        offset += step.result.lengths[i];
      }
    }
    const written = verdict === Verdict.Drop ? 0 : step.result.length;
    expect(offset - outStart, 'result.length is the sum of lengths').toBe(written);
    expect(
      out.subarray(0, outStart).every((b) => b === 0xa5),
      'nothing written before outStart',
    ).toBe(true);
    expect(
      out.subarray(outStart + written).every((b) => b === 0xa5),
      'nothing written after the result',
    ).toBe(true);
    return {
      verdict,
      packets,
      dropped: verdict === Verdict.Drop ? layout.names[step.reasonCounter()] : null,
    };
  };
  return { engine, step, run, sink };
}

const payload = Buffer.from('through the PLAT');

describe('PLAT packet step', () => {
  it('maps an outbound UDP flow onto a pool address and port, and translates the reply back to the subscriber', () => {
    const { run } = newPlat();
    const out = run(
      ipv6({
        src: '2001:db8:1::2',
        dst: '64:ff9b::198.51.100.2',
        payload: udp({ srcPort: 5000, dstPort: 53, payload }),
      }),
    );
    expect(out.verdict).toBe(Verdict.Translate);
    const [p4] = out.packets;
    expect(checkPacket(p4)).toEqual([]);
    expect(formatIpv4(p4, 12)).toMatch(/^203\.0\.113\.([0-9]|1[0-5])$/);
    expect(formatIpv4(p4, 16)).toBe('198.51.100.2');
    const poolAddress = formatIpv4(p4, 12);
    const poolPort = p4.readUInt16BE(20);
    expect(p4.subarray(28)).toEqual(payload);

    const back = run(
      ipv4({
        src: '198.51.100.2',
        dst: poolAddress,
        payload: udp({ srcPort: 53, dstPort: poolPort, payload }),
      }),
    );
    expect(back.verdict).toBe(Verdict.Translate);
    const [p6] = back.packets;
    expect(checkPacket(p6)).toEqual([]);
    expect(formatIpv6(p6, 8)).toBe(v6('64:ff9b::c633:6402'));
    expect(formatIpv6(p6, 24)).toBe(v6('2001:db8:1::2'));
    expect(p6.readUInt16BE(42)).toBe(5000);
  });

  it('gives every fragment of one IPv6 datagram the mapping its first fragment got', () => {
    const { run } = newPlat();
    const big = ipv6({
      src: '2001:db8:1::2',
      dst: '64:ff9b::198.51.100.2',
      payload: udp({ srcPort: 6000, dstPort: 9, payload: Buffer.alloc(3000, 7) }),
    });
    const fragments = fragment6(big, [1232, 1232], 0xabcd);
    expect(fragments).toHaveLength(3);
    const translated = fragments.map((f) => run(f));
    expect(translated.map((t) => t.verdict)).toEqual([
      Verdict.Translate,
      Verdict.Translate,
      Verdict.Translate,
    ]);
    const packets = translated.map((t) => t.packets[0]);
    const sources = new Set(packets.map((p) => formatIpv4(p, 12)));
    const ids = new Set(packets.map((p) => p.readUInt16BE(4)));
    expect(sources.size).toBe(1);
    expect(ids.size).toBe(1);
    // Reassemble the IPv4 fragments and check the UDP payload arrived whole.
    const parts = packets.map((p) => ({ offset: (p.readUInt16BE(6) & 0x1fff) * 8, data: p.subarray(20) }));
    const datagram = Buffer.alloc(8 + 3000);
    for (const part of parts) part.data.copy(datagram, part.offset);
    expect(datagram.subarray(8)).toEqual(Buffer.alloc(3000, 7));
    for (const p of packets) expect(checkPacket(p)).toEqual([]);
  });

  it('drops a non-first fragment whose first fragment was never seen, counting it', () => {
    const { run } = newPlat();
    const big = ipv6({
      src: '2001:db8:1::2',
      dst: '64:ff9b::198.51.100.2',
      payload: udp({ srcPort: 6001, dstPort: 9, payload: Buffer.alloc(2000) }),
    });
    const [, second] = fragment6(big, [1232], 0x1234);
    expect(run(second).dropped).toBe('drop.fragment64');
  });

  it('hairpins a subscriber to another subscriber mapping as IPv6 to IPv6, every rewritten field exact (RFC 6146 sec. 3.8)', () => {
    // Proves the hairpinned packet is byte for byte the packet an independent builder makes: source =
    // the sender's own mapping (address in the PREF64 and the mapped port, not 5005), destination =
    // the receiver's IPv6 transport address, hop limit decremented, traffic class and flow label kept,
    // UDP checksum for the new addresses and ports; and the same for the answer the other way.
    const { run } = newPlat();
    // Subscriber B (another /56) first creates a mapping by talking to the Internet.
    const b = run(
      ipv6({
        src: '2001:db8:2::2',
        dst: '64:ff9b::198.51.100.2',
        payload: udp({ srcPort: 7000, dstPort: 53, payload }),
      }),
    ).packets[0];
    const bAddress = formatIpv4(b, 12);
    const bPort = b.readUInt16BE(20);
    const toB = run(
      ipv6({
        src: '2001:db8:1::2',
        dst: `64:ff9b::${bAddress}`,
        hopLimit: 30,
        trafficClass: 0x2e,
        flowLabel: 0x12345,
        payload: udp({ srcPort: 5005, dstPort: bPort, payload }),
      }),
    );
    expect(toB.verdict).toBe(Verdict.Translate);
    expect(toB.packets).toHaveLength(1);
    // A's mapping, seen independently: A's next packet from the same port to an Internet host leaves
    // from it (endpoint-independent mapping, RFC 4787 REQ-1).
    const a = run(
      ipv6({
        src: '2001:db8:1::2',
        dst: '64:ff9b::198.51.100.9',
        payload: udp({ srcPort: 5005, dstPort: 53, payload }),
      }),
    ).packets[0];
    const aAddress = formatIpv4(a, 12);
    const aPort = a.readUInt16BE(20);
    expect(aPort).not.toBe(5005);
    const want = ipv6({
      src: `64:ff9b::${aAddress}`,
      dst: '2001:db8:2::2',
      hopLimit: 29,
      trafficClass: 0x2e,
      flowLabel: 0x12345,
      payload: udp({ srcPort: aPort, dstPort: 7000, payload }),
    });
    expect(toB.packets[0].toString('hex')).toBe(want.toString('hex'));
    // B answers A's mapping: hairpinned back with B's mapping as the source.
    const toA = run(
      ipv6({
        src: '2001:db8:2::2',
        dst: `64:ff9b::${aAddress}`,
        payload: udp({ srcPort: 7000, dstPort: aPort, payload }),
      }),
    );
    expect(toA.verdict).toBe(Verdict.Translate);
    const back = ipv6({
      src: `64:ff9b::${bAddress}`,
      dst: '2001:db8:1::2',
      hopLimit: 63,
      payload: udp({ srcPort: bPort, dstPort: 5005, payload }),
    });
    expect(toA.packets[0].toString('hex')).toBe(back.toString('hex'));
  });

  it('drops router solicitations and traffic outside the PREF64, each under its own counter', () => {
    const { run } = newPlat();
    const rs = ipv6({
      src: 'fe80::1',
      dst: 'ff02::2',
      hopLimit: 255,
      payload: icmp({ type: 133, code: 0, body: Buffer.alloc(4) }),
    });
    expect(run(rs).dropped).toBe('drop.routersolicitation');
    const elsewhere = ipv6({ src: '2001:db8:1::2', dst: '2001:db8:9::1', payload: udp({ payload }) });
    expect(run(elsewhere).dropped).toBe('drop.notforus64');
  });

  it('holds an unsolicited IPv4 SYN and answers it with ICMP port unreachable after 6 s (RFC 6146 sec. 3.5.2.2)', () => {
    const { run, step } = newPlat();
    const syn = ipv4({
      src: '198.51.100.2',
      dst: '203.0.113.1',
      payload: tcp({ srcPort: 40000, dstPort: 2222, flags: 0x02 }),
    });
    expect(run(syn, 1000).dropped).toBe('drop.heldsyn');
    expect(step.pipeline.heldCount).toBe(1);
    step.pipeline.advance(6_900);
    expect(step.pipeline.heldCount).toBe(1);
    expect(step.pipeline.pendingReplies).toHaveLength(0);
    step.pipeline.advance(8_000);
    expect(step.pipeline.heldCount).toBe(0);
    expect(step.pipeline.pendingReplies).toHaveLength(1);
    const reply = Buffer.from(step.pipeline.pendingReplies[0]);
    expect(checkPacket(reply)).toEqual([]);
    expect([reply[20], reply[21]]).toEqual([3, 3]);
    expect(formatIpv4(reply, 16)).toBe('198.51.100.2');
  });

  it('keeps its own copy of a held SYN: the batch buffer it arrived in is reused before the ICMP error quotes it', () => {
    const { step } = newPlat();
    const syn = ipv4({
      src: '198.51.100.2',
      dst: '203.0.113.1',
      payload: tcp({ srcPort: 40001, dstPort: 2223, flags: 0x02 }),
    });
    const batch = Buffer.alloc(4096, 0xee); // a Buffer, as the TUN reader's batch buffer is
    syn.copy(batch, 100);
    step.setNow(1000);
    expect(step.process(batch, 100, syn.length, Buffer.alloc(4096), 0, false)).toBe(Verdict.Drop);
    expect(step.pipeline.heldCount).toBe(1);
    batch.fill(0x11); // the next batch lands in the same buffer
    step.pipeline.advance(8_000);
    expect(step.pipeline.pendingReplies).toHaveLength(1);
    const reply = Buffer.from(step.pipeline.pendingReplies[0]);
    expect(checkPacket(reply)).toEqual([]);
    // RFC 792: the ICMP error quotes the SYN's IP header and at least 8 bytes of its payload.
    expect(reply.subarray(28, 28 + 28).equals(syn.subarray(0, 28))).toBe(true);
  });

  it('answers an IPv4 datagram to an unmapped pool port with ICMPv4 port unreachable from icmpSource4, quoting the datagram (RFC 6146 sec. 3.5.1)', () => {
    const { run } = newPlat();
    const datagram = ipv4({
      src: '198.51.100.2',
      dst: '203.0.113.1',
      payload: udp({ srcPort: 53, dstPort: 3333, payload }),
    });
    const out = run(datagram);
    expect(out.verdict).toBe(Verdict.ReplyIcmp);
    const [reply] = out.packets;
    expect(checkPacket(reply)).toEqual([]);
    expect([reply[20], reply[21]]).toEqual([3, 3]);
    expect(formatIpv4(reply, 12)).toBe('203.0.113.0');
    expect(formatIpv4(reply, 16)).toBe('198.51.100.2');
    expect(reply.subarray(28).equals(datagram)).toBe(true);
  });

  it('sends at most burst + rate x seconds of ICMP errors (RFC 4443 sec. 2.4 (f)): the rest are dropped under their own reason and counted as suppressed', () => {
    const { run, step } = newPlat({}, { icmpErrorsPerSecond: 2, icmpErrorsBurst: 3 });
    const datagram = ipv4({
      src: '198.51.100.2',
      dst: '203.0.113.1',
      payload: udp({ srcPort: 53, dstPort: 3333, payload }),
    });
    // Ten at one instant: the burst of 3 answered, 7 dropped as nomapping46.
    const first = Array.from({ length: 10 }, () => run(datagram, 5000));
    expect(first.filter((o) => o.verdict === Verdict.ReplyIcmp)).toHaveLength(3);
    const dropped = first.filter((o) => o.verdict === Verdict.Drop);
    expect(dropped).toHaveLength(7);
    expect(new Set(dropped.map((o) => o.dropped))).toEqual(new Set(['drop.nat.nomapping46']));
    expect(step.pipeline.icmpErrorsSuppressed).toBe(7);
    // Half a second later one token has come back (2 per second), and only one.
    const later = Array.from({ length: 4 }, () => run(datagram, 5500));
    expect(later.map((o) => o.verdict)).toEqual([
      Verdict.ReplyIcmp,
      Verdict.Drop,
      Verdict.Drop,
      Verdict.Drop,
    ]);
    // A translator-generated error (TTL 1 towards the IPv6 side... here an IPv6 hop limit 1) takes from the same bucket.
    const hop1 = ipv6({
      src: '2001:db8:1::2',
      dst: '64:ff9b::198.51.100.2',
      hopLimit: 1,
      payload: udp({ srcPort: 5000, dstPort: 53, payload }),
    });
    expect(run(hop1, 5500).verdict).toBe(Verdict.Drop);
    expect(run(hop1, 6000).verdict).toBe(Verdict.ReplyIcmp);
    expect(step.pipeline.icmpErrorsSuppressed).toBe(11);
  });

  it('answers an IPv6 packet no mapping can be made for with ICMPv6 address unreachable from its destination, quoting it (RFC 6146 sec. 3.5.1.1)', () => {
    // One address with one 64-port UDP block: the first subscriber takes it, the second is refused.
    const { run } = newPlat({ pool: ['203.0.113.0/32'], ports: { udp: [1024, 1087], tcp: [1024, 65535] } });
    const first = ipv6({
      src: '2001:db8:1::2',
      dst: '64:ff9b::198.51.100.2',
      payload: udp({ srcPort: 5000, dstPort: 53, payload }),
    });
    expect(run(first).verdict).toBe(Verdict.Translate);
    const refused = ipv6({
      src: '2001:db8:2::2',
      dst: '64:ff9b::198.51.100.2',
      payload: udp({ srcPort: 5000, dstPort: 53, payload }),
    });
    const out = run(refused);
    expect(out.verdict).toBe(Verdict.ReplyIcmp);
    const [reply] = out.packets;
    expect(checkPacket(reply)).toEqual([]);
    expect([reply[40], reply[41]]).toEqual([1, 3]);
    expect(formatIpv6(reply, 8)).toBe(v6('64:ff9b::198.51.100.2'));
    expect(formatIpv6(reply, 24)).toBe(v6('2001:db8:2::2'));
    expect(reply.subarray(48).equals(refused)).toBe(true);
  });
});
