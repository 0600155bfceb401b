// Scenario tests for RFC 6146 sec. 3.5.1 filtering (endpoint-independent / address-dependent), sec. 3.8
// hairpinning, sec. 3.5.4 ICMP errors, and static BIB entries (port forwards).
import { describe, expect, it } from 'vitest';
import {
  EngineDropReason,
  EngineVerdict,
  formatIpv4,
  formatIpv6,
  IcmpReply,
  NatStaticMappingError,
  TcpFlag,
  TcpState,
} from '../src/internal.js';
import { harness, mappingOf, sessionOf, v4, v6 } from './helpers.js';

describe('filtering', () => {
  it('proves endpoint-independent filtering lets any IPv4 host reach an existing UDP mapping', () => {
    // RFC 4787 REQ-8 / RFC 6146 sec. 3.5.1: with EIF, a packet to a mapping from any source creates a session.
    const { engine } = harness();
    const out = v6('udp', '2001:db8:0:100::1', 4000, '198.51.100.1', 3478);
    engine.outbound6(out, 0);
    const { address, port } = mappingOf(engine, out)!;
    expect(engine.inbound4(v4('udp', '198.51.100.200', 9999, address, port), 1)).toBe(
      EngineVerdict.Translate,
    );
    expect(formatIpv6(engine.result.v6)).toBe('2001:db8:0:100:0:0:0:1');
    expect(formatIpv4(engine.result.v4Src)).toBe('198.51.100.200');
  });

  it('proves address-dependent filtering refuses a stranger with ICMP admin prohibited but admits another port of a known host', () => {
    // RFC 6146 sec. 3.5.1: with address-dependent filtering, the packet is accepted only if the mapping has
    // a session with that IPv4 address; otherwise "the NAT64 SHOULD send an ICMP Destination Unreachable
    // error message with Code 13 (Communication Administratively Prohibited)".
    const { engine } = harness({ filtering: 'address-dependent' });
    const out = v6('udp', '2001:db8:0:100::1', 4000, '198.51.100.1', 3478);
    engine.outbound6(out, 0);
    const { address, port } = mappingOf(engine, out)!;
    expect(engine.inbound4(v4('udp', '198.51.100.200', 9999, address, port), 1)).toBe(
      EngineVerdict.ReplyIcmp,
    );
    expect(engine.result.icmpType).toBe(IcmpReply.V4DestinationUnreachable);
    expect(engine.result.icmpCode).toBe(IcmpReply.V4AdminProhibited);
    expect(engine.result.reason).toBe(EngineDropReason.filtered46);
    expect(engine.inbound4(v4('udp', '198.51.100.1', 3479, address, port), 2)).toBe(EngineVerdict.Translate);
  });

  it('proves a UDP packet to an unmapped pool port is answered with ICMP port unreachable and creates nothing', () => {
    // RFC 6146 sec. 3.5.1: "If the NAT64 ... does not find a BIB entry, the packet is discarded and the
    // NAT64 SHOULD send an ICMP Destination Unreachable with code 3 (Port Unreachable)."
    const { engine } = harness();
    expect(engine.inbound4(v4('udp', '198.51.100.1', 53, '203.0.113.1', 40000), 0)).toBe(
      EngineVerdict.ReplyIcmp,
    );
    expect(engine.result.icmpCode).toBe(IcmpReply.V4PortUnreachable);
    expect(engine.state.sessionCount).toBe(0);
  });

  it('proves an ICMP error is translated on an existing session and dropped without one', () => {
    // RFC 6146 sec. 3.5.4: ICMP error messages are matched to the session of the packet they carry.
    const { engine } = harness();
    const out = v6('udp', '2001:db8:0:100::1', 4000, '198.51.100.1', 3478);
    engine.outbound6(out, 0);
    const { address, port } = mappingOf(engine, out)!;
    const err = v4('udp', '198.51.100.1', 3478, address, port);
    err.icmpError = true;
    expect(engine.inbound4(err, 1)).toBe(EngineVerdict.Translate);
    expect(engine.result.v6Port).toBe(4000);
    err.srcPort = 1;
    expect(engine.inbound4(err, 1)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.nosession46);
    expect(engine.state.sessionCount).toBe(1);
  });
});

describe('hairpinning (RFC 6146 sec. 3.8)', () => {
  it("proves a subscriber reaches another subscriber through the other one's pool address and port", () => {
    // RFC 6146 sec. 3.8: "If the destination IPv4 address of the IPv6 packet is an IPv4 address assigned
    // to the NAT64 ... the packet is a hairpin packet" and is translated back to IPv6 towards the owner
    // of that mapping, with the sender's mapping as source (RFC 4787 REQ-9).
    const { engine } = harness();
    // B listens (it has a mapping).
    const b = v6('udp', '2001:db8:0:200::2', 6000, '198.51.100.1', 3478);
    engine.outbound6(b, 0);
    const bMapping = mappingOf(engine, b)!;
    // A sends to B's public transport address.
    const a = v6('udp', '2001:db8:0:100::1', 5000, bMapping.address, bMapping.port);
    expect(engine.outbound6(a, 1)).toBe(EngineVerdict.Translate);
    expect(engine.result.hairpin).toBe(true);
    expect(formatIpv6(engine.result.v6)).toBe('2001:db8:0:200:0:0:0:2');
    expect(engine.result.v6Port).toBe(6000);
    const aMapping = mappingOf(engine, a)!;
    expect(formatIpv4(engine.result.v4Src)).toBe(aMapping.address);
    expect(engine.result.v4SrcPort).toBe(aMapping.port);
    // B's answer to A's public address hairpins back to A, on the sessions made by the first packet.
    const reply = v6('udp', '2001:db8:0:200::2', 6000, aMapping.address, aMapping.port);
    expect(engine.outbound6(reply, 2)).toBe(EngineVerdict.Translate);
    expect(engine.result.hairpin).toBe(true);
    expect(formatIpv6(engine.result.v6)).toBe('2001:db8:0:100:0:0:0:1');
    expect(engine.result.v6Port).toBe(5000);
  });

  it('proves a hairpin towards an unmapped pool port is dropped, not answered towards the pool', () => {
    // RFC 6146 sec. 3.8 runs the IPv4 side's filtering on the hairpin leg; a refusal there is a drop.
    const { engine } = harness();
    const a = v6('udp', '2001:db8:0:100::1', 5000, '203.0.113.2', 60000);
    expect(engine.outbound6(a, 1)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.nomapping46);
  });
});

describe('static BIB entries', () => {
  it('proves a static BIB entry admits inbound connections before the subscriber sent anything, and outlives its sessions', () => {
    // RFC 6146 sec. 3.1: BIB entries are created dynamically or "through manual configuration" (static);
    // a static entry admits incoming connections and stays when its sessions go.
    const { engine } = harness({
      staticBib: [
        { protocol: 'tcp', ipv6: '2001:db8:0:100::80', ipv6Port: 80, ipv4: '203.0.113.1', ipv4Port: 80 },
      ],
    });
    expect(engine.inbound4(v4('tcp', '198.51.100.50', 33333, '203.0.113.1', 80, TcpFlag.Syn), 0)).toBe(
      EngineVerdict.Translate,
    );
    expect(formatIpv6(engine.result.v6)).toBe('2001:db8:0:100:0:0:0:80');
    expect(engine.result.v6Port).toBe(80);
    const back = v6('tcp', '2001:db8:0:100::80', 80, '198.51.100.50', 33333, TcpFlag.Syn | TcpFlag.Ack);
    expect(engine.outbound6(back, 1)).toBe(EngineVerdict.Translate);
    expect(sessionOf(engine, back)?.state).toBe(TcpState.Established);
    expect(engine.result.v4SrcPort).toBe(80);
    engine.advance(10 * 3_600_000);
    engine.advance(11 * 3_600_000);
    expect(engine.state.sessionCount).toBe(0);
    expect(mappingOf(engine, back)).toEqual({ address: '203.0.113.1', port: 80 });
  });

  it('proves a static entry inside the dynamic port range is refused with the field named', () => {
    // Dynamic ports belong to port blocks; a static port there could collide with a block's mapping.
    expect(() =>
      harness({
        staticBib: [
          { protocol: 'udp', ipv6: '2001:db8::1', ipv6Port: 1, ipv4: '203.0.113.1', ipv4Port: 5000 },
        ],
      }),
    ).toThrow(/staticBib\[0\]\.ipv4Port/);
  });

  it("proves a static entry on another address than the subscriber's current one is refused (paired pooling)", () => {
    // RFC 6888 REQ-2: one external address per subscriber.
    const { engine } = harness();
    engine.outbound6(v6('udp', '2001:db8:0:100::1', 4000, '198.51.100.1', 53), 0);
    const used = mappingOf(engine, v6('udp', '2001:db8:0:100::1', 4000, '198.51.100.1', 53))!.address;
    const other = used === '203.0.113.1' ? '203.0.113.2' : '203.0.113.1';
    expect(() =>
      engine.addStaticMapping(
        { protocol: 'tcp', ipv6: '2001:db8:0:100::1', ipv6Port: 22, ipv4: other, ipv4Port: 22 },
        1,
      ),
    ).toThrow(NatStaticMappingError);
    engine.addStaticMapping(
      { protocol: 'tcp', ipv6: '2001:db8:0:100::1', ipv6Port: 22, ipv4: used, ipv4Port: 22 },
      1,
    );
    expect(engine.state.mappingCount).toBe(2);
  });
});
