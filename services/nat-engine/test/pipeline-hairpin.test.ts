// Proves the shard pipeline's RFC 6146 sec. 3.8 hairpin output byte for byte against packets built
// independently (test/support/build.ts): source = the sender's own mapping embedded in the PREF64 with
// the mapped port (not the sender's port), destination = the receiver's IPv6 transport address, hop
// limit decremented, traffic class and flow label kept, the TCP or UDP checksum recomputed for the new
// header (a zero UDP checksum stays zero). A hop limit of 1 and a hairpinned ICMP query are dropped,
// each under its own counter.
import { describe, expect, it } from 'vitest';
import { roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { parseRfc6052Prefix, Verdict } from '../../../libs/xlat/src/index.js';
import { formatIpv4 as bytesToIpv4, icmpEcho, ipv6, tcp, udp } from '../../../test/support/build.js';
import { ShardPipeline, shardPipelineDropNames } from '../src/index.js';
import { harness, mappingOf, v6 } from './helpers.js';

const A = '2001:db8:1::2';
const B = '2001:db8:2::2';
const payload = Buffer.from('hairpin');

function newPipeline() {
  const { engine } = harness();
  const layout = roleCounterLayout(shardPipelineDropNames);
  const pipeline = new ShardPipeline(
    engine,
    { translator: { prefix: '64:ff9b::/96', allowNonGlobalIpv4: true }, icmpSource4: 0xcb007100 },
    layout,
    parseRfc6052Prefix('64:ff9b::/96'),
  );
  pipeline.setNow(1000);
  const out = Buffer.alloc(4096);
  const send = (key: ReturnType<typeof v6>, packet: Buffer) => {
    const verdict = pipeline.outbound(key, packet, 0, packet.length, out, 0, false);
    return {
      verdict,
      packet: Buffer.from(out.subarray(0, pipeline.result.length)),
      dropped: layout.names[pipeline.reasonCounter()],
    };
  };
  return { engine, send };
}

describe('shard pipeline hairpin (RFC 6146 sec. 3.8)', () => {
  it('rewrites a UDP hairpin exactly, and keeps a zero UDP checksum zero', () => {
    const { engine, send } = newPipeline();
    const keyB = v6('udp', B, 7000, '198.51.100.2', 53);
    send(
      keyB,
      ipv6({ src: B, dst: '64:ff9b::198.51.100.2', payload: udp({ srcPort: 7000, dstPort: 53, payload }) }),
    );
    const b = mappingOf(engine, keyB)!;
    for (const checksum of [undefined, 0]) {
      const keyA = v6('udp', A, 5005, b.address, b.port);
      const sent = send(
        keyA,
        ipv6({
          src: A,
          dst: `64:ff9b::${b.address}`,
          hopLimit: 30,
          trafficClass: 0x2e,
          flowLabel: 0x12345,
          payload: udp({ srcPort: 5005, dstPort: b.port, payload, checksum }),
        }),
      );
      expect(sent.verdict).toBe(Verdict.Translate);
      const a = mappingOf(engine, keyA)!;
      const want = ipv6({
        src: `64:ff9b::${a.address}`,
        dst: B,
        hopLimit: 29,
        trafficClass: 0x2e,
        flowLabel: 0x12345,
        payload: udp({ srcPort: a.port, dstPort: 7000, payload, checksum }),
      });
      expect(sent.packet.toString('hex')).toBe(want.toString('hex'));
    }
  });

  it('rewrites a TCP hairpin exactly, its checksum included', () => {
    const { engine, send } = newPipeline();
    const keyB = v6('tcp', B, 8080, '198.51.100.2', 443, 0x02);
    send(
      keyB,
      ipv6({
        src: B,
        dst: '64:ff9b::198.51.100.2',
        payload: tcp({ srcPort: 8080, dstPort: 443, flags: 0x02 }),
      }),
    );
    const b = mappingOf(engine, keyB)!;
    const keyA = v6('tcp', A, 6006, b.address, b.port, 0x02);
    const sent = send(
      keyA,
      ipv6({
        src: A,
        dst: `64:ff9b::${b.address}`,
        hopLimit: 2,
        payload: tcp({ srcPort: 6006, dstPort: b.port, flags: 0x02, payload }),
      }),
    );
    expect(sent.verdict, sent.dropped).toBe(Verdict.Translate);
    const a = mappingOf(engine, keyA)!;
    const want = ipv6({
      src: `64:ff9b::${a.address}`,
      dst: B,
      hopLimit: 1,
      payload: tcp({ srcPort: a.port, dstPort: 8080, flags: 0x02, payload }),
    });
    expect(sent.packet.toString('hex')).toBe(want.toString('hex'));
    expect(bytesToIpv4(sent.packet, 20)).toBe(a.address);
  });

  it('drops a hairpin whose hop limit is 1, and a hairpinned ICMP query, under their own counters', () => {
    const { engine, send } = newPipeline();
    const keyB = v6('udp', B, 7000, '198.51.100.2', 53);
    send(
      keyB,
      ipv6({ src: B, dst: '64:ff9b::198.51.100.2', payload: udp({ srcPort: 7000, dstPort: 53, payload }) }),
    );
    const b = mappingOf(engine, keyB)!;
    const last = send(
      v6('udp', A, 5005, b.address, b.port),
      ipv6({
        src: A,
        dst: `64:ff9b::${b.address}`,
        hopLimit: 1,
        payload: udp({ srcPort: 5005, dstPort: b.port, payload }),
      }),
    );
    expect(last.verdict).toBe(Verdict.Drop);
    expect(last.dropped).toBe('drop.hoplimit64');
    // An echo request from A to its own pool address: the outbound leg maps identifier 42 to A's mapped
    // identifier on that address (paired pooling), the IPv4 leg finds that very mapping, so the engine
    // hairpins it; the pipeline rewrites only TCP and UDP hairpins.
    const a = mappingOf(engine, v6('udp', A, 5005, b.address, b.port))!;
    const echo = send(
      v6('icmp', A, 42, a.address, 42),
      ipv6({ src: A, dst: `64:ff9b::${a.address}`, payload: icmpEcho(128, 42, 1, payload) }),
    );
    expect(echo.verdict).toBe(Verdict.Drop);
    expect(echo.dropped).toBe('drop.hairpinprotocol');
  });
});
