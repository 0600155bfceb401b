// The shard pipeline takes an engine key plus the packet from any ingress and writes the RFC 7915
// rewrite; a held SYN's expiry comes back as the engine's output (advance() returns the expired hold
// ids, the pipeline drains them into ICMP port unreachable), and a simultaneous open releases the hold
// through the engine's result — the engine never calls up into the pipeline.
import { describe, expect, it } from 'vitest';
import { roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { parseRfc6052Prefix, Verdict } from '../../../libs/xlat/src/index.js';
import {
  formatIpv4 as bytesToIpv4,
  formatIpv6 as bytesToIpv6,
  ipv4,
  ipv6,
  tcp,
  udp,
} from '../../../test/support/build.js';
import { checkPacket } from '../../../test/support/wellformed.js';
import { ShardPipeline, shardPipelineDropNames } from '../src/index.js';
import { harness, mappingOf, tick, v4, v6 } from './helpers.js';

const SUB = '2001:db8:1::2';
const SYN = 0x02;
const ICMP_SOURCE4 = 0xcb007100; // 203.0.113.0

function newPipeline() {
  const { engine, sink } = harness({ filtering: 'address-dependent' });
  const layout = roleCounterLayout(shardPipelineDropNames);
  const pipeline = new ShardPipeline(
    engine,
    { translator: { prefix: '64:ff9b::/96', allowNonGlobalIpv4: true }, icmpSource4: ICMP_SOURCE4 },
    layout,
    parseRfc6052Prefix('64:ff9b::/96'),
  );
  const out = Buffer.alloc(4096);
  const written = () => Buffer.from(out.subarray(0, pipeline.result.length));
  const dropped = () => layout.names[pipeline.reasonCounter()];
  return { engine, sink, pipeline, out, written, dropped };
}

describe('shard pipeline', () => {
  it('translates a flow whose packets come keyed from different ingresses with one mapping, both ways', () => {
    const { engine, pipeline, out, written } = newPipeline();
    pipeline.setNow(1000);
    // Ingress A read the subscriber's datagram and keyed it; the pipeline needs only key and packet.
    const keyA = v6('udp', SUB, 5000, '198.51.100.2', 53);
    const request = ipv6({
      src: SUB,
      dst: '64:ff9b::198.51.100.2',
      payload: udp({ srcPort: 5000, dstPort: 53, payload: Buffer.from('query') }),
    });
    expect(pipeline.outbound(keyA, request, 0, request.length, out, 0, false)).toBe(Verdict.Translate);
    const p4 = written();
    expect(checkPacket(p4)).toEqual([]);
    const mapping = mappingOf(engine, keyA)!;
    expect(bytesToIpv4(p4, 12)).toBe(mapping.address);
    expect(p4.readUInt16BE(20)).toBe(mapping.port);
    // Ingress B (another worker, its own key object) read the reply.
    const keyB = v4('udp', '198.51.100.2', 53, mapping.address, mapping.port);
    const reply = ipv4({
      src: '198.51.100.2',
      dst: mapping.address,
      payload: udp({ srcPort: 53, dstPort: mapping.port, payload: Buffer.from('answer') }),
    });
    expect(pipeline.inbound(keyB, reply, 0, reply.length, out, 0, false)).toBe(Verdict.Translate);
    const p6 = written();
    expect(checkPacket(p6)).toEqual([]);
    expect(bytesToIpv6(p6, 24)).toBe(bytesToIpv6(request, 8));
    expect(p6.readUInt16BE(42)).toBe(5000);
  });

  it('answers a held SYN with ICMP port unreachable when advance() reports its hold expired, not before', () => {
    const { engine, pipeline, out, dropped } = newPipeline();
    pipeline.setNow(0);
    const first = v6('tcp', SUB, 40000, '198.51.100.1', 80, SYN);
    const synOut = ipv6({
      src: SUB,
      dst: '64:ff9b::198.51.100.1',
      payload: tcp({ srcPort: 40000, dstPort: 80, flags: SYN }),
    });
    expect(pipeline.outbound(first, synOut, 0, synOut.length, out, 0, false)).toBe(Verdict.Translate);
    const { address, port } = mappingOf(engine, first)!;
    const synIn = ipv4({
      src: '198.51.100.66',
      dst: address,
      payload: tcp({ srcPort: 6000, dstPort: port, flags: SYN }),
    });
    pipeline.setNow(1000);
    const key = v4('tcp', '198.51.100.66', 6000, address, port, SYN);
    expect(pipeline.inbound(key, synIn, 0, synIn.length, out, 0, false)).toBe(Verdict.Drop);
    expect(dropped()).toBe('drop.heldsyn');
    expect(pipeline.heldCount).toBe(1);
    pipeline.advance(6_900);
    expect(pipeline.pendingReplies).toHaveLength(0);
    pipeline.advance(8_000);
    expect(pipeline.heldCount).toBe(0);
    expect(pipeline.pendingReplies).toHaveLength(1);
    const icmp = Buffer.from(pipeline.pendingReplies[0]);
    expect(checkPacket(icmp)).toEqual([]);
    expect([icmp[20], icmp[21]]).toEqual([3, 3]);
    expect(bytesToIpv4(icmp, 12)).toBe('203.0.113.0');
    expect(bytesToIpv4(icmp, 16)).toBe('198.51.100.66');
  });

  it("forgets a held SYN silently when the subscriber's own SYN releases it (simultaneous open)", () => {
    const { engine, pipeline, out } = newPipeline();
    pipeline.setNow(0);
    const first = v6('tcp', SUB, 40002, '198.51.100.1', 80, SYN);
    const synOut = ipv6({
      src: SUB,
      dst: '64:ff9b::198.51.100.1',
      payload: tcp({ srcPort: 40002, dstPort: 80, flags: SYN }),
    });
    pipeline.outbound(first, synOut, 0, synOut.length, out, 0, false);
    const { address, port } = mappingOf(engine, first)!;
    const synIn = ipv4({
      src: '198.51.100.9',
      dst: address,
      payload: tcp({ srcPort: 5555, dstPort: port, flags: SYN }),
    });
    pipeline.setNow(1000);
    pipeline.inbound(
      v4('tcp', '198.51.100.9', 5555, address, port, SYN),
      synIn,
      0,
      synIn.length,
      out,
      0,
      false,
    );
    const holdId = engine.result.holdId;
    expect(pipeline.heldCount).toBe(1);
    const second = v6('tcp', SUB, 40002, '198.51.100.9', 5555, SYN);
    const synOut2 = ipv6({
      src: SUB,
      dst: '64:ff9b::198.51.100.9',
      payload: tcp({ srcPort: 40002, dstPort: 5555, flags: SYN }),
    });
    pipeline.setNow(3000);
    expect(pipeline.outbound(second, synOut2, 0, synOut2.length, out, 0, false)).toBe(Verdict.Translate);
    expect(engine.result.releasedHoldId).toBe(holdId);
    expect(pipeline.heldCount).toBe(0);
    expect(tick(engine, 10_000)).toEqual([]);
    pipeline.advance(20_000);
    expect(pipeline.pendingReplies).toHaveLength(0);
  });
});
