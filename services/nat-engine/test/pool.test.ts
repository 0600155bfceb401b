// Scenario tests for the carrier-grade pool (RFC 6888, RFC 7857, RFC 6056, RFC 7422): paired pooling,
// per-subscriber limits with the ICMPv6 reply, parity, the 120 s hold-down, idle block release,
// deterministic mode.
import { describe, expect, it } from 'vitest';
import {
  checkInvariants,
  deterministicMapping,
  EngineDropReason,
  EngineVerdict,
  IcmpReply,
  NatEventType,
  parseIpv6,
} from '../src/internal.js';
import { harness, mappingOf, tick, v6 } from './helpers.js';

describe('carrier-grade pool', () => {
  it('proves paired pooling: every mapping of a subscriber, over many flows and protocols, is on one IPv4 address', () => {
    // RFC 6888 REQ-2: "A CGN MUST use the same external IP address mapping for all sessions associated
    // with the same internal IP address, be they TCP, UDP, ICMP, something else, or a mix of different protocols."
    const { engine } = harness({ pool: ['203.0.113.0/28'], blockSizePorts: 64, subscriberBlocksMax: 8 });
    const addresses = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const protocol = (['udp', 'tcp', 'icmp'] as const)[i % 3];
      const host = `2001:db8:0:300::${1 + (i % 5)}`;
      const key = v6(protocol, host, 2000 + i, '198.51.100.1', protocol === 'icmp' ? 2000 + i : 80, 2);
      expect(engine.outbound6(key, i)).toBe(EngineVerdict.Translate);
      addresses.add(mappingOf(engine, key)!.address);
    }
    expect(addresses.size).toBe(1);
    // 400 flows over 3 protocols needed several 64-port blocks per protocol, all on that one address.
    expect(engine.state.leasedBlockCount).toBeGreaterThan(3);
    expect(checkInvariants(engine.state)).toEqual([]);
  });

  it('proves quota exhaustion drops with ICMPv6 address unreachable, a counter and an event, and evicts nothing', () => {
    // RFC 6888 REQ-4: "A CGN MUST support limiting the number of external ports ... assigned per
    // subscriber"; RFC 6146 sec. 3.5.1.1: if no mapping can be made, "the NAT64 SHOULD send an
    // ICMPv6 Destination Unreachable error message with Code 3 (Address Unreachable)".
    const { engine, sink } = harness({ subscriberSessionsMax: 3 });
    const sub = '2001:db8:0:400::1';
    for (let i = 0; i < 3; i++)
      expect(engine.outbound6(v6('udp', sub, 1000 + i, '198.51.100.1', 53), i)).toBe(0);
    const mappingsBefore = engine.state.mappingCount;
    expect(engine.outbound6(v6('udp', sub, 2000, '198.51.100.1', 53), 10)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.icmpType).toBe(IcmpReply.V6DestinationUnreachable);
    expect(engine.result.icmpCode).toBe(IcmpReply.V6AddressUnreachable);
    expect(engine.result.reason).toBe(EngineDropReason.subscribersessions64);
    expect(engine.dropCounters[EngineDropReason.subscribersessions64]).toBe(1);
    expect(sink.events.at(-1)).toMatchObject({
      type: NatEventType.LimitReached,
      limit: 'subscriber-sessions',
    });
    expect(engine.state.mappingCount).toBe(mappingsBefore);
    // A second refusal in the same flush interval is counted but not published again.
    const events = sink.events.length;
    engine.outbound6(v6('udp', sub, 2001, '198.51.100.1', 53), 11);
    expect(engine.dropCounters[EngineDropReason.subscribersessions64]).toBe(2);
    expect(sink.events.length).toBe(events);
    // The existing flows still pass.
    expect(engine.outbound6(v6('udp', sub, 1000, '198.51.100.1', 53), 12)).toBe(EngineVerdict.Translate);
  });

  it('proves pool exhaustion refuses a new subscriber with an ICMPv6 reply and never takes a block from another', () => {
    // RFC 6888 REQ-2 / DESIGN.md: when no mapping can be made, drop and reply; never evict a live mapping.
    const { engine } = harness({
      pool: ['203.0.113.1'],
      ports: { udp: [1024, 1151], tcp: [1024, 1151], icmp: [1024, 1151] },
      blockSizePorts: 64,
    });
    expect(engine.outbound6(v6('udp', '2001:db8:0:500::1', 1, '198.51.100.1', 53), 0)).toBe(0);
    expect(engine.outbound6(v6('udp', '2001:db8:0:600::1', 1, '198.51.100.1', 53), 0)).toBe(0);
    expect(engine.outbound6(v6('udp', '2001:db8:0:700::1', 1, '198.51.100.1', 53), 0)).toBe(
      EngineVerdict.ReplyIcmp,
    );
    expect(engine.result.reason).toBe(EngineDropReason.poolexhausted64);
    expect(engine.state.mappingCount).toBe(2);
  });

  it('proves the per-subscriber block limit: a subscriber whose blocks are full gets no further block', () => {
    // RFC 6888 REQ-4 (above), per protocol and subscriber.
    const { engine } = harness({ blockSizePorts: 64, subscriberBlocksMax: 1 });
    const sub = '2001:db8:0:800::1';
    for (let i = 0; i < 64; i++)
      expect(engine.outbound6(v6('udp', sub, 3000 + i, '198.51.100.1', 53), 0)).toBe(0);
    expect(engine.outbound6(v6('udp', sub, 4000, '198.51.100.1', 53), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.subscriberblocks64);
  });

  it('proves the mapped port keeps the parity of the source port while the block has such ports', () => {
    // RFC 4787 REQ-3 / RFC 7857 sec. 6: port parity preservation is kept where possible.
    const { engine } = harness({ blockSizePorts: 512 });
    for (let i = 0; i < 200; i++) {
      const key = v6('udp', '2001:db8:0:900::1', 10_000 + i, '198.51.100.1', 53);
      engine.outbound6(key, 0);
      expect(mappingOf(engine, key)!.port % 2).toBe(i % 2);
    }
  });

  it('proves a freed port is not handed out again for 120 seconds', () => {
    // RFC 6888 / DESIGN.md "Pool and ports": "A freed port is not reused for 120 s."
    const { engine } = harness({
      pool: ['203.0.113.1'],
      ports: { udp: [1024, 1025], tcp: [1024, 1025], icmp: [1024, 1025] },
      blockSizePorts: 2,
      subscriberBlocksMax: 1,
    });
    const sub = '2001:db8:0:a00::1';
    const a = v6('udp', sub, 7000, '198.51.100.1', 53);
    const b = v6('udp', sub, 7001, '198.51.100.1', 53);
    engine.outbound6(a, 0);
    const portA = mappingOf(engine, a)!.port;
    engine.outbound6(b, 200_000); // keeps the block busy
    tick(engine, 301_000); // a expires at 300 s: its port is freed and held
    expect(mappingOf(engine, a)).toBeNull();
    const c = v6('udp', sub, 7002, '198.51.100.1', 53);
    expect(engine.outbound6(c, 302_000)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.outbound6(c, 300_000 + 110_000)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.outbound6(c, 300_000 + 122_000)).toBe(EngineVerdict.Translate);
    expect(mappingOf(engine, c)!.port).toBe(portA);
  });

  it('proves a block goes back to the pool once idle (after the hold-down), and the subscriber with it', () => {
    // RFC 6888 REQ-4 port blocks are leased, not owned: an idle block returns (blockIdleTimeoutMs >= 120 s).
    const { engine, sink } = harness({ blockIdleTimeoutMs: 180_000 });
    const key = v6('udp', '2001:db8:0:b00::1', 9000, '198.51.100.1', 53);
    engine.outbound6(key, 0);
    expect(engine.state.leasedBlockCount).toBe(1);
    tick(engine, 301_000); // the mapping goes at this tick: the block is idle from 301 s
    expect(engine.state.mappingCount).toBe(0);
    tick(engine, 301_000 + 179_000);
    expect(engine.state.leasedBlockCount).toBe(1);
    tick(engine, 301_000 + 181_000);
    expect(engine.state.leasedBlockCount).toBe(0);
    expect(engine.state.subscriberCount).toBe(0);
    expect(sink.events.at(-1)).toMatchObject({ type: NatEventType.BlockReleased });
  });

  it('proves deterministic mode (RFC 7422) gives each subscriber the address and port range of the formula', () => {
    // RFC 7422 sec. 2: "the CGN ... deterministically maps internal addresses to ... an external
    // address and a port range", so no per-allocation log is needed.
    const { engine } = harness({
      pool: ['203.0.113.0/30'],
      blockSizePorts: 2016,
      subscriberBlocksMax: 1,
      deterministic: { ipv6Prefix: '2001:db8:100::/48' },
    });
    // 64512 / 2016 = 32 blocks per address: subscriber 70 gets address index 2, block 6.
    const host = '2001:db8:100:4600::1'; // the /56 at offset 0x46 = 70
    const key = v6('tcp', host, 5555, '198.51.100.1', 80, 2);
    expect(engine.outbound6(key, 0)).toBe(EngineVerdict.Translate);
    const { address, port } = mappingOf(engine, key)!;
    expect(address).toBe('203.0.113.2');
    expect(port).toBeGreaterThanOrEqual(1024 + 6 * 2016);
    expect(port).toBeLessThan(1024 + 7 * 2016);
    const prefix = new Uint32Array(4);
    parseIpv6('2001:db8:100:4600::', prefix);
    expect(deterministicMapping(engine.config, prefix, 0)).toEqual({
      address: 0xcb007102,
      portFirst: 1024 + 6 * 2016,
      portLast: 1024 + 7 * 2016 - 1,
    });
    // A subscriber outside the deterministic prefix gets nothing.
    expect(engine.outbound6(v6('tcp', '2001:db8:200::1', 1, '198.51.100.1', 80, 2), 0)).toBe(
      EngineVerdict.ReplyIcmp,
    );
    expect(engine.result.reason).toBe(EngineDropReason.poolexhausted64);
  });
});
