// Proves the engine's per-packet decisions (RFC 6146 sec. 3.5) with timeouts chosen apart so each
// lifetime shows which one was applied: a new or refreshed session lives the timeout of its protocol
// and TCP state (UDP sec. 3.5.1, ICMP query sec. 3.5.3, TCP transitory/established sec. 3.5.2.2); an
// ICMP error (sec. 3.5.4) travels on its session without refreshing it; TCP packets other than SYN
// create no state; unsolicited SYNs are held once each; packets of other protocols are dropped under
// their direction's reason; and the result's per-call outputs (hairpin, releasedHoldId) never leak into
// the next call.
import { describe, expect, it } from 'vitest';
import { EngineDropReason, EngineVerdict, NatEventType, TcpFlag, TcpState } from '../src/internal.js';
import { harness, mappingOf, sessionOf, tick, v4, v6 } from './helpers.js';

const UDP_MS = 200_000;
const ICMP_MS = 70_000;
const TRANS_MS = 250_000;
const EST_MS = 7_500_000;
const timeouts = { udpMs: UDP_MS, icmpMs: ICMP_MS, tcpTransitoryMs: TRANS_MS, tcpEstablishedMs: EST_MS };
const SUB = '2001:db8:0:100::1';
const { Syn, Ack, Fin } = TcpFlag;

function engineWith(config = {}) {
  return harness({ timeouts, ...config });
}

describe('lifetimes of new and refreshed sessions', () => {
  it('gives an outbound UDP, ICMP query and TCP SYN session its own protocol timeout from the packet time', () => {
    const { engine } = engineWith();
    const udp = v6('udp', SUB, 5000, '198.51.100.1', 53);
    const icmp = v6('icmp', SUB, 77, '198.51.100.1', 77);
    const syn = v6('tcp', SUB, 40000, '198.51.100.1', 80, Syn);
    engine.outbound6(udp, 1000);
    engine.outbound6(icmp, 2000);
    engine.outbound6(syn, 3000);
    expect(sessionOf(engine, udp)?.expiresAtMs).toBe(1000 + UDP_MS);
    expect(sessionOf(engine, icmp)?.expiresAtMs).toBe(2000 + ICMP_MS);
    expect(sessionOf(engine, syn)).toEqual({
      state: TcpState.V6Init,
      expiresAtMs: 3000 + TRANS_MS,
      loggedExpiresAtMs: 3000 + TRANS_MS,
    });
    // Refreshed by later packets both ways, each by its own timeout.
    engine.outbound6(udp, 11_000);
    engine.outbound6(icmp, 12_000);
    expect(sessionOf(engine, udp)?.expiresAtMs).toBe(11_000 + UDP_MS);
    expect(sessionOf(engine, icmp)?.expiresAtMs).toBe(12_000 + ICMP_MS);
    const mu = mappingOf(engine, udp)!;
    const mi = mappingOf(engine, icmp)!;
    expect(engine.inbound4(v4('udp', '198.51.100.1', 53, mu.address, mu.port), 21_000)).toBe(0);
    expect(engine.inbound4(v4('icmp', '198.51.100.1', mi.port, mi.address, mi.port), 22_000)).toBe(0);
    expect(sessionOf(engine, udp)?.expiresAtMs).toBe(21_000 + UDP_MS);
    expect(sessionOf(engine, icmp)?.expiresAtMs).toBe(22_000 + ICMP_MS);
  });

  it('gives an inbound UDP, ICMP query and TCP SYN session (endpoint-independent) its own timeout', () => {
    const { engine, sink } = engineWith();
    const udp = v6('udp', SUB, 5000, '198.51.100.1', 53);
    const icmp = v6('icmp', SUB, 77, '198.51.100.1', 77);
    const tcp = v6('tcp', SUB, 40000, '198.51.100.1', 80, Syn);
    for (const k of [udp, icmp, tcp]) engine.outbound6(k, 0);
    const [mu, mi, mt] = [udp, icmp, tcp].map((k) => mappingOf(engine, k)!);
    sink.events.length = 0;
    expect(engine.inbound4(v4('udp', '198.51.100.9', 53, mu.address, mu.port), 1000)).toBe(0);
    expect(engine.inbound4(v4('icmp', '198.51.100.9', mi.port, mi.address, mi.port), 2000)).toBe(0);
    expect(engine.inbound4(v4('tcp', '198.51.100.9', 443, mt.address, mt.port, Syn), 3000)).toBe(0);
    const created = sink.events.flatMap((e) => (e.type === NatEventType.SessionCreated ? [e] : []));
    expect(created.map((e) => [e.protocol, e.state, e.remainingMs, e.timeMs])).toEqual([
      [1, 0, UDP_MS, 1000],
      [2, 0, ICMP_MS, 2000],
      [0, TcpState.V4Init, TRANS_MS, 3000],
    ]);
    expect(created.map((e) => e.remotePort)).toEqual([53, 0, 443]);
  });

  it('moves V6 INIT to ESTABLISHED on the remote SYN with the established lifetime, and refreshes a retransmitted SYN in place', () => {
    const { engine, sink } = engineWith();
    const syn = v6('tcp', SUB, 40000, '198.51.100.1', 80, Syn);
    engine.outbound6(syn, 0);
    const m = mappingOf(engine, syn)!;
    sink.events.length = 0;
    // Same state, transitory lifetime: refreshed in place, no event.
    engine.outbound6(syn, 1000);
    expect(sessionOf(engine, syn)).toEqual({
      state: TcpState.V6Init,
      expiresAtMs: 1000 + TRANS_MS,
      loggedExpiresAtMs: TRANS_MS,
    });
    // An ACK from IPv6 in V6 INIT keeps state and lifetime.
    engine.outbound6(v6('tcp', SUB, 40000, '198.51.100.1', 80, Ack), 2000);
    expect(sessionOf(engine, syn)?.expiresAtMs).toBe(1000 + TRANS_MS);
    expect(sink.events).toEqual([]);
    engine.inbound4(v4('tcp', '198.51.100.1', 80, m.address, m.port, Syn | Ack), 3000);
    expect(sessionOf(engine, syn)).toEqual({
      state: TcpState.Established,
      expiresAtMs: 3000 + EST_MS,
      loggedExpiresAtMs: 3000 + EST_MS,
    });
    expect(sink.events.map((e) => e.type)).toEqual([NatEventType.SessionChanged]);
    // An established packet refreshes by the established timeout; a FIN changes state, keeping it.
    engine.outbound6(v6('tcp', SUB, 40000, '198.51.100.1', 80, Ack), 4000);
    expect(sessionOf(engine, syn)?.expiresAtMs).toBe(4000 + EST_MS);
    engine.outbound6(v6('tcp', SUB, 40000, '198.51.100.1', 80, Fin | Ack), 5000);
    expect(sessionOf(engine, syn)).toEqual({
      state: TcpState.V6FinRcv,
      expiresAtMs: 5000 + EST_MS,
      loggedExpiresAtMs: 5000 + EST_MS,
    });
  });

  it('does not move a lifetime back for a packet stamped earlier than the last one', () => {
    const { engine, sink } = engineWith();
    const udp = v6('udp', SUB, 5000, '198.51.100.1', 53);
    engine.outbound6(udp, 100_000);
    engine.outbound6(udp, 50_000);
    expect(sessionOf(engine, udp)?.expiresAtMs).toBe(100_000 + UDP_MS);
    // Nothing to publish: the session was not touched.
    const before = sink.events.length;
    engine.flush(100_000 + UDP_MS - 1000);
    expect(sink.events.length).toBe(before);
  });

  it('carries an inbound ICMP error on its session without refreshing it, and drops one with no session', () => {
    const { engine } = engineWith();
    const udp = v6('udp', SUB, 5000, '198.51.100.1', 53);
    engine.outbound6(udp, 0);
    const m = mappingOf(engine, udp)!;
    const error = v4('udp', '198.51.100.1', 53, m.address, m.port);
    error.icmpError = true;
    expect(engine.inbound4(error, 60_000)).toBe(EngineVerdict.Translate);
    expect(sessionOf(engine, udp)?.expiresAtMs).toBe(UDP_MS);
    expect(engine.result.v6Port).toBe(5000);
    error.srcPort = 54;
    expect(engine.inbound4(error, 60_000)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.nosession46);
  });
});

describe('packets that create no state', () => {
  it('translates an outbound TCP non-SYN of a known mapping towards a new remote with the mapping, creating nothing', () => {
    const { engine, sink } = engineWith();
    engine.outbound6(v6('tcp', SUB, 40000, '198.51.100.1', 80, Syn), 0);
    const m = mappingOf(engine, v6('tcp', SUB, 40000, '198.51.100.1', 80))!;
    const events = sink.events.length;
    const ack = v6('tcp', SUB, 40000, '198.51.100.2', 81, Ack);
    expect(engine.outbound6(ack, 10)).toBe(EngineVerdict.Translate);
    expect([engine.result.v4SrcPort, engine.result.v4DstPort, engine.result.hairpin]).toEqual([
      m.port,
      81,
      false,
    ]);
    expect(sessionOf(engine, ack)).toBeNull();
    expect(sink.events.length).toBe(events);
    expect(engine.state.sessionCount).toBe(1);
  });

  it('translates an inbound TCP non-SYN to a mapping only where filtering admits its source, creating nothing', () => {
    for (const filtering of ['endpoint-independent', 'address-dependent'] as const) {
      const { engine } = engineWith({ filtering });
      const syn = v6('tcp', SUB, 40000, '198.51.100.1', 80, Syn);
      engine.outbound6(syn, 0);
      const m = mappingOf(engine, syn)!;
      const verdict = engine.inbound4(v4('tcp', '198.51.100.7', 443, m.address, m.port, Ack), 10);
      if (filtering === 'endpoint-independent') {
        expect(verdict).toBe(EngineVerdict.Translate);
        expect([engine.result.v6Port, engine.result.v4SrcPort]).toEqual([40000, 443]);
      } else {
        expect(verdict).toBe(EngineVerdict.Drop);
        expect(engine.result.reason).toBe(EngineDropReason.nosession46);
      }
      expect(engine.state.sessionCount).toBe(1);
    }
  });

  it('drops an outbound ICMP error that belongs to no session, creating nothing', () => {
    const { engine, sink } = engineWith();
    const error = v6('udp', SUB, 5000, '198.51.100.1', 53);
    error.icmpError = true;
    expect(engine.outbound6(error, 0)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.nosession64);
    expect(sink.events).toEqual([]);
  });

  it('drops packets of other protocols under protocol64 and protocol46, counted', () => {
    const { engine, sink } = engineWith();
    const out = v6('udp', SUB, 5000, '198.51.100.1', 53);
    out.protocol = 50; // ESP
    expect(engine.outbound6(out, 0)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.protocol64);
    const inn = v4('udp', '198.51.100.1', 53, '203.0.113.1', 5000);
    inn.protocol = 47; // GRE
    expect(engine.inbound4(inn, 0)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.protocol46);
    expect([
      engine.dropCounters[EngineDropReason.protocol64],
      engine.dropCounters[EngineDropReason.protocol46],
    ]).toEqual([1, 1]);
    expect(sink.events).toEqual([]);
  });

  it('drops an ICMP query to an unmapped identifier or from a filtered source without an ICMP error; a filtered UDP source gets admin prohibited', () => {
    const { engine } = engineWith({ filtering: 'address-dependent' });
    expect(engine.inbound4(v4('icmp', '198.51.100.1', 4000, '203.0.113.1', 4000), 0)).toBe(
      EngineVerdict.Drop,
    );
    expect(engine.result.reason).toBe(EngineDropReason.nomapping46);
    const icmp = v6('icmp', SUB, 77, '198.51.100.1', 77);
    engine.outbound6(icmp, 0);
    const mi = mappingOf(engine, icmp)!;
    expect(engine.inbound4(v4('icmp', '198.51.100.2', mi.port, mi.address, mi.port), 0)).toBe(
      EngineVerdict.Drop,
    );
    expect(engine.result.reason).toBe(EngineDropReason.filtered46);
    const udp = v6('udp', SUB, 5000, '198.51.100.1', 53);
    engine.outbound6(udp, 0);
    const mu = mappingOf(engine, udp)!;
    expect(engine.inbound4(v4('udp', '198.51.100.2', 53, mu.address, mu.port), 0)).toBe(
      EngineVerdict.ReplyIcmp,
    );
    expect([engine.result.reason, engine.result.icmpType, engine.result.icmpCode]).toEqual([
      EngineDropReason.filtered46,
      3,
      13,
    ]);
    expect(engine.dropCounters[EngineDropReason.filtered46]).toBe(2);
  });
});

describe('unsolicited SYNs', () => {
  it('holds each unsolicited SYN once: a retransmission is dropped as synalreadyheld46, another source port is held apart', () => {
    const { engine } = engineWith({ filtering: 'address-dependent' });
    const syn = v4('tcp', '198.51.100.1', 6000, '203.0.113.1', 40000, Syn);
    expect(engine.inbound4(syn, 0)).toBe(EngineVerdict.Hold);
    expect(engine.result.reason).toBe(0);
    const first = engine.result.holdId;
    expect(engine.inbound4(syn, 100)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.synalreadyheld46);
    expect(engine.dropCounters[EngineDropReason.synalreadyheld46]).toBe(1);
    expect(engine.inbound4(v4('tcp', '198.51.100.1', 6001, '203.0.113.1', 40000, Syn), 200)).toBe(
      EngineVerdict.Hold,
    );
    expect(engine.result.holdId).not.toBe(first);
    expect(engine.heldSynCount).toBe(2);
    expect(engine.state.sessionCount).toBe(0);
    // Each is given back after its own 6 s (at the wheel tick after it).
    expect(tick(engine, 5_000)).toEqual([]);
    expect(tick(engine, 8_000).sort()).toEqual([first, engine.result.holdId].sort());
    expect(engine.heldSynCount).toBe(0);
  });

  it("releases a held SYN to the subscriber's own SYN (simultaneous open) as ESTABLISHED, and reports the release only in that call", () => {
    const { engine } = engineWith({ filtering: 'address-dependent' });
    const first = v6('tcp', SUB, 40000, '198.51.100.1', 80, Syn);
    engine.outbound6(first, 0);
    expect(engine.result.releasedHoldId).toBe(-1);
    const m = mappingOf(engine, first)!;
    engine.inbound4(v4('tcp', '198.51.100.9', 5555, m.address, m.port, Syn), 1000);
    const hold = engine.result.holdId;
    const mine = v6('tcp', SUB, 40000, '198.51.100.9', 5555, Syn);
    expect(engine.outbound6(mine, 2000)).toBe(EngineVerdict.Translate);
    expect(engine.result.releasedHoldId).toBe(hold);
    expect(sessionOf(engine, mine)).toEqual({
      state: TcpState.Established,
      expiresAtMs: 2000 + EST_MS,
      loggedExpiresAtMs: 2000 + EST_MS,
    });
    expect(engine.heldSynCount).toBe(0);
    engine.outbound6(mine, 3000);
    expect(engine.result.releasedHoldId).toBe(-1);
    // A SYN towards a remote with nothing held is V6 INIT.
    const other = v6('tcp', SUB, 40000, '198.51.100.10', 5555, Syn);
    engine.outbound6(other, 3000);
    expect(engine.result.releasedHoldId).toBe(-1);
    expect(sessionOf(engine, other)?.state).toBe(TcpState.V6Init);
  });

  it('drops an externally initiated SYN under the security policy even where filtering admits it', () => {
    const { engine } = engineWith({ dropExternallyInitiatedTcp: true });
    const syn = v6('tcp', SUB, 40000, '198.51.100.1', 80, Syn);
    engine.outbound6(syn, 0);
    const m = mappingOf(engine, syn)!;
    expect(engine.inbound4(v4('tcp', '198.51.100.2', 443, m.address, m.port, Syn), 1)).toBe(
      EngineVerdict.Drop,
    );
    expect(engine.result.reason).toBe(EngineDropReason.externaltcp46);
    expect(engine.heldSynCount).toBe(0);
    // The connection the subscriber opened still completes.
    expect(engine.inbound4(v4('tcp', '198.51.100.1', 80, m.address, m.port, Syn | Ack), 2)).toBe(
      EngineVerdict.Translate,
    );
  });

  it('drops an inbound SYN that would need a session past sessionsMax as sessionsfull46', () => {
    const lines: string[] = [];
    const { engine } = harness({ timeouts, sessionsMax: 1 }, 1, 0, { log: (l) => lines.push(l) });
    const syn = v6('tcp', SUB, 40000, '198.51.100.1', 80, Syn);
    engine.outbound6(syn, 0);
    const m = mappingOf(engine, syn)!;
    expect(engine.inbound4(v4('tcp', '198.51.100.2', 443, m.address, m.port, Syn), 1)).toBe(
      EngineVerdict.Drop,
    );
    expect(engine.result.reason).toBe(EngineDropReason.sessionsfull46);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/sessionsMax \(1\) reached/);
  });
});

describe('per-call outputs', () => {
  it('clears the hairpin flag on the next inbound call', () => {
    const { engine } = engineWith();
    const b = v6('udp', '2001:db8:0:200::1', 7000, '198.51.100.1', 53);
    engine.outbound6(b, 0);
    const mb = mappingOf(engine, b)!;
    expect(engine.outbound6(v6('udp', SUB, 5000, mb.address, mb.port), 1)).toBe(EngineVerdict.Translate);
    expect(engine.result.hairpin).toBe(true);
    expect(engine.inbound4(v4('udp', '198.51.100.1', 53, mb.address, mb.port), 2)).toBe(
      EngineVerdict.Translate,
    );
    expect(engine.result.hairpin).toBe(false);
  });
});
