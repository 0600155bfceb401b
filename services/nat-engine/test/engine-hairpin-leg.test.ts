// Proves the IPv4 leg of a hairpin (RFC 6146 sec. 3.8) on a pool of one address (address index 0):
// every path of an outbound packet towards a pool address goes through the IPv4 side's filtering -- a
// new session, a session already made, and a TCP segment other than SYN that makes no state -- and a
// refusal on that leg is a silent drop (a reply would go to an IPv4 host that does not exist): a
// filtered UDP datagram gets no ICMP error and a filtered SYN is not held.
import { describe, expect, it } from 'vitest';
import { EngineDropReason, EngineVerdict, formatIpv6, TcpFlag } from '../src/internal.js';
import { harness, mappingOf, v6 } from './helpers.js';

const A = '2001:db8:0:100::1';
const B = '2001:db8:0:200::2';
const ONE_ADDRESS = { pool: ['203.0.113.1'] };

describe('hairpin leg on a pool address of index 0', () => {
  it('hairpins a new UDP session, then its established path, both ways', () => {
    const { engine } = harness(ONE_ADDRESS);
    const b = v6('udp', B, 6000, '198.51.100.1', 3478);
    engine.outbound6(b, 0);
    const mb = mappingOf(engine, b)!;
    expect(mb.address).toBe('203.0.113.1');
    const a = v6('udp', A, 5000, mb.address, mb.port);
    for (const t of [1, 2]) {
      expect(engine.outbound6(a, t)).toBe(EngineVerdict.Translate);
      expect(engine.result.hairpin).toBe(true);
      expect([formatIpv6(engine.result.v6), engine.result.v6Port]).toEqual(['2001:db8:0:200:0:0:0:2', 6000]);
    }
    const ma = mappingOf(engine, a)!;
    expect(engine.outbound6(v6('udp', B, 6000, ma.address, ma.port), 3)).toBe(EngineVerdict.Translate);
    expect(engine.result.hairpin).toBe(true);
    expect(engine.result.v6Port).toBe(5000);
  });

  it('hairpins a TCP segment other than SYN of a known mapping without making state', () => {
    const { engine } = harness(ONE_ADDRESS);
    const b = v6('tcp', B, 6000, '198.51.100.1', 80, TcpFlag.Syn);
    engine.outbound6(b, 0);
    const mb = mappingOf(engine, b)!;
    engine.outbound6(v6('tcp', A, 5000, '198.51.100.1', 80, TcpFlag.Syn), 0);
    const sessions = engine.state.sessionCount;
    expect(engine.outbound6(v6('tcp', A, 5000, mb.address, mb.port, TcpFlag.Ack), 1)).toBe(
      EngineVerdict.Translate,
    );
    expect(engine.result.hairpin).toBe(true);
    expect(engine.result.v6Port).toBe(6000);
    expect(engine.state.sessionCount).toBe(sessions);
  });

  it('drops a hairpinned UDP datagram that address-dependent filtering refuses, without an ICMP error', () => {
    const { engine } = harness({ ...ONE_ADDRESS, filtering: 'address-dependent' });
    const b = v6('udp', B, 6000, '198.51.100.1', 3478);
    engine.outbound6(b, 0);
    const mb = mappingOf(engine, b)!;
    expect(engine.outbound6(v6('udp', A, 5000, mb.address, mb.port), 1)).toBe(EngineVerdict.Drop);
    expect(engine.result.verdict).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.filtered46);
  });

  it('drops a hairpinned SYN that filtering refuses instead of holding it', () => {
    const { engine } = harness({ ...ONE_ADDRESS, filtering: 'address-dependent' });
    const b = v6('tcp', B, 6000, '198.51.100.1', 80, TcpFlag.Syn);
    engine.outbound6(b, 0);
    const mb = mappingOf(engine, b)!;
    expect(engine.outbound6(v6('tcp', A, 5000, mb.address, mb.port, TcpFlag.Syn), 1)).toBe(
      EngineVerdict.Drop,
    );
    expect(engine.result.reason).toBe(EngineDropReason.filtered46);
    expect(engine.heldSynCount).toBe(0);
  });

  it("runs the IPv4 leg here when the target mapping is this engine's, even with hairpinToOtherShards", () => {
    const { engine } = harness(ONE_ADDRESS, 1, 0, { hairpinToOtherShards: true });
    const b = v6('udp', B, 6000, '198.51.100.1', 3478);
    engine.outbound6(b, 0);
    const mb = mappingOf(engine, b)!;
    expect(engine.outbound6(v6('udp', A, 5000, mb.address, mb.port), 1)).toBe(EngineVerdict.Translate);
    expect(engine.result.hairpin).toBe(true);
    expect(engine.result.v6Port).toBe(6000);
    // A pool port mapped nowhere here may be another shard's: out as IPv4, not dropped.
    expect(engine.outbound6(v6('udp', A, 5000, mb.address, mb.port ^ 1), 2)).toBe(EngineVerdict.Translate);
    expect(engine.result.hairpin).toBe(false);
  });
});
