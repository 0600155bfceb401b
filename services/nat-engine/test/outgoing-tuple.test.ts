// Proves the RFC 6146 sec. 3.6 outgoing tuple field by field, both ways: a UDP or TCP packet keeps its
// remote port and gets the mapping's IPv4 transport address as source (IPv6 -> IPv4) or the mapping's
// IPv6 transport address as destination (IPv4 -> IPv6); an ICMP query (sec. 3.5.3) carries the mapped
// identifier in both port fields outbound and the subscriber's identifier in both inbound.
import { describe, expect, it } from 'vitest';
import { EngineVerdict, formatIpv4, formatIpv6, parseIpv4 } from '../src/internal.js';
import { harness, mappingOf, v4, v6 } from './helpers.js';

const SUB = '2001:db8:0:300::7';

describe('outgoing tuple (RFC 6146 sec. 3.6)', () => {
  it('gives an outbound UDP packet the mapping as source and keeps its destination', () => {
    const { engine } = harness();
    const key = v6('udp', SUB, 5353, '198.51.100.9', 4242);
    expect(engine.outbound6(key, 0)).toBe(EngineVerdict.Translate);
    const m = mappingOf(engine, key)!;
    const r = engine.result;
    expect([formatIpv4(r.v4Src), r.v4SrcPort]).toEqual([m.address, m.port]);
    expect([formatIpv4(r.v4Dst), r.v4DstPort]).toEqual(['198.51.100.9', 4242]);
    expect(r.hairpin).toBe(false);
    expect(r.reason).toBe(0);
  });

  it('gives an inbound UDP packet the subscriber as destination and keeps its source', () => {
    const { engine } = harness();
    const key = v6('udp', SUB, 5353, '198.51.100.9', 4242);
    engine.outbound6(key, 0);
    const m = mappingOf(engine, key)!;
    expect(engine.inbound4(v4('udp', '198.51.100.9', 4242, m.address, m.port), 1)).toBe(
      EngineVerdict.Translate,
    );
    const r = engine.result;
    expect([formatIpv6(r.v6), r.v6Port]).toEqual(['2001:db8:0:300:0:0:0:7', 5353]);
    expect([r.v4Src, r.v4SrcPort]).toEqual([parseIpv4('198.51.100.9'), 4242]);
    expect([formatIpv4(r.v4Dst), r.v4DstPort]).toEqual([m.address, m.port]);
    expect(r.reason).toBe(0);
  });

  it('puts the mapped identifier in both ports of an outbound ICMP query and the subscriber identifier in both inbound', () => {
    const { engine } = harness();
    const key = v6('icmp', SUB, 777, '198.51.100.9', 777);
    expect(engine.outbound6(key, 0)).toBe(EngineVerdict.Translate);
    const m = mappingOf(engine, key)!;
    expect(m.port).not.toBe(777); // dynamic identifiers are 1024-65535
    expect([engine.result.v4SrcPort, engine.result.v4DstPort]).toEqual([m.port, m.port]);
    expect(engine.inbound4(v4('icmp', '198.51.100.9', m.port, m.address, m.port), 1)).toBe(
      EngineVerdict.Translate,
    );
    expect([engine.result.v6Port, engine.result.v4SrcPort]).toEqual([777, 777]);
    expect(formatIpv6(engine.result.v6)).toBe('2001:db8:0:300:0:0:0:7');
  });
});
