// Scenario tests for the session timeouts (RFC 6146 sec. 4, RFC 4787 REQ-5, RFC 5382 REQ-5, RFC 5508
// REQ-1, RFC 7857 sec. 5.1), each with a fake clock: the session lives until its deadline and not past it.
import { describe, expect, it } from 'vitest';
import { EngineVerdict, TcpFlag, TcpState } from '../src/internal.js';
import { harness, mappingOf, sessionOf, tick, v4, v6 } from './helpers.js';

const SUB = '2001:db8:0:200::5';
const MIN = 60_000;

describe('timeouts', () => {
  it('proves a UDP session lives 5 minutes after its last packet by default and then goes with its mapping', () => {
    // RFC 4787 REQ-5: "A NAT UDP mapping timer MUST NOT expire in less than two minutes ... The value
    // of the NAT UDP mapping timer MAY be configurable. A default value of five minutes or more is RECOMMENDED."
    const { engine } = harness();
    const out = v6('udp', SUB, 5353, '198.51.100.53', 53);
    engine.outbound6(out, 0);
    engine.outbound6(out, 60_000); // refresh: 6 min from start
    tick(engine, 60_000 + 5 * MIN - 1);
    expect(sessionOf(engine, out)).not.toBeNull();
    tick(engine, 60_000 + 5 * MIN + 1000);
    expect(sessionOf(engine, out)).toBeNull();
    expect(mappingOf(engine, out)).toBeNull();
  });

  it('proves the UDP timeout is configurable down to, and not below, 2 minutes', () => {
    // RFC 4787 REQ-5 (see above): 2 minutes is the floor.
    const { engine } = harness({ timeouts: { udpMs: 2 * MIN } });
    const out = v6('udp', SUB, 5353, '198.51.100.53', 53);
    engine.outbound6(out, 0);
    tick(engine, 2 * MIN - 1);
    expect(sessionOf(engine, out)).not.toBeNull();
    tick(engine, 2 * MIN + 1000);
    expect(sessionOf(engine, out)).toBeNull();
    expect(() => harness({ timeouts: { udpMs: 2 * MIN - 1 } })).toThrow(/timeouts\.udpMs/);
  });

  it('proves an ICMP query session lives 60 seconds', () => {
    // RFC 5508 REQ-1: "An ICMP Query session timer MUST NOT expire in less than 60 seconds."
    const { engine } = harness();
    const out = v6('icmp', SUB, 777, '198.51.100.1', 777);
    expect(engine.outbound6(out, 0)).toBe(EngineVerdict.Translate);
    const { address, port } = mappingOf(engine, out)!;
    // The echo reply comes back on the mapped identifier and is restored to the subscriber's.
    expect(engine.inbound4(v4('icmp', '198.51.100.1', port, address, port), 500)).toBe(
      EngineVerdict.Translate,
    );
    expect(engine.result.v6Port).toBe(777);
    tick(engine, 500 + MIN - 1);
    expect(sessionOf(engine, out)).not.toBeNull();
    tick(engine, 500 + MIN + 1000);
    expect(sessionOf(engine, out)).toBeNull();
  });

  it('proves an established TCP connection lives 2 h 4 min idle, then 4 more minutes in TRANS', () => {
    // RFC 5382 REQ-5: "the established connection idle-timeout MUST NOT be less than 2 hours 4 minutes";
    // RFC 6146 sec. 3.5.2.2: on expiry without probes the session moves to TRANS.
    const { engine } = harness();
    const out = v6('tcp', SUB, 41000, '198.51.100.8', 443, TcpFlag.Syn);
    engine.outbound6(out, 0);
    const { address, port } = mappingOf(engine, out)!;
    engine.inbound4(v4('tcp', '198.51.100.8', 443, address, port, TcpFlag.Syn | TcpFlag.Ack), 0);
    tick(engine, 124 * MIN - 1);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.Established);
    tick(engine, 124 * MIN + 1000);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.Trans);
    tick(engine, 128 * MIN + 2000);
    expect(sessionOf(engine, out)).toBeNull();
  });

  it('proves a half-open connection (V6 INIT, no answer) lives the 4-minute transitory timeout', () => {
    // RFC 5382 REQ-5: "The value of the 'transitory connection idle-timeout' MUST NOT be less than 4 minutes."
    const { engine } = harness();
    const out = v6('tcp', SUB, 41001, '198.51.100.8', 443, TcpFlag.Syn);
    engine.outbound6(out, 0);
    tick(engine, 4 * MIN - 1);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.V6Init);
    tick(engine, 4 * MIN + 1000);
    expect(sessionOf(engine, out)).toBeNull();
  });

  it('proves an outbound ICMP error does not refresh the session it belongs to', () => {
    // RFC 7857 sec. 5.1: "ICMP Errors or TCP RST outbound packets sent as response to inbound packets
    // SHOULD NOT refresh the mapping."
    const { engine } = harness();
    const out = v6('udp', SUB, 5000, '198.51.100.53', 53);
    engine.outbound6(out, 0);
    const err = v6('udp', SUB, 5000, '198.51.100.53', 53);
    err.icmpError = true;
    expect(engine.outbound6(err, 4 * MIN)).toBe(EngineVerdict.Translate);
    expect(sessionOf(engine, out)?.expiresAtMs).toBe(5 * MIN);
    tick(engine, 5 * MIN + 1000);
    expect(sessionOf(engine, out)).toBeNull();
  });

  it('proves a busy flow publishes a refresh only when its logged lifetime would end within refreshLeadMs, not per flush', () => {
    // DESIGN.md: refreshes are sent only when a replica would otherwise expire the session, so event
    // volume follows new and ended flows, not packets. One packet and one flush per second for 20 min.
    const { engine, sink } = harness();
    const out = v6('udp', SUB, 5001, '198.51.100.53', 53);
    engine.outbound6(out, 0);
    const before = sink.events.length;
    const leadMs = engine.config.refreshLeadMs;
    for (let t = 1000; t <= 20 * MIN; t += 1000) {
      engine.outbound6(out, t);
      tick(engine, t);
      // What the log holds never ends sooner than the lead ahead: a replica would not expire it.
      const session = sessionOf(engine, out);
      expect(session?.loggedExpiresAtMs).toBeGreaterThanOrEqual(t + leadMs);
      expect(session?.expiresAtMs).toBe(t + 5 * MIN);
    }
    const refreshes = sink.events.slice(before);
    // Logged expiry 5 min, refreshed when 20 s remain: at 4:40, 9:20, 14:00, 18:40 — 4 events, not 1200.
    expect(refreshes.map((e) => [e.type, e.timeMs])).toEqual([
      [6, 280_000],
      [6, 560_000],
      [6, 840_000],
      [6, 1_120_000],
    ]);
    expect(refreshes.every((e) => e.type === 6 && e.remainingMs === 5 * MIN)).toBe(true);
    expect(engine.refreshesPublished).toBe(4);
  });

  it('proves a flow that went idle after a refresh is published by the session wheel before its logged lifetime ends', () => {
    // The dirty-list path publishes only touched sessions; an untouched one with a longer live lifetime
    // is found by the wheel, which visits refreshLeadMs before the logged expiry.
    const { engine, sink } = harness();
    const out = v6('udp', SUB, 5002, '198.51.100.53', 53);
    engine.outbound6(out, 0);
    engine.outbound6(out, 100_000); // live expiry 6:40, logged 5:00
    tick(engine, 100_000);
    const before = sink.events.length;
    tick(engine, 279_000);
    expect(sink.events.length).toBe(before);
    tick(engine, 281_000);
    expect(sink.events.slice(before)).toMatchObject([{ type: 6, timeMs: 281_000, remainingMs: 119_000 }]);
    expect(sessionOf(engine, out)?.loggedExpiresAtMs).toBe(400_000);
    tick(engine, 399_000);
    expect(sessionOf(engine, out)).not.toBeNull();
    tick(engine, 401_000);
    expect(sessionOf(engine, out)).toBeNull();
  });
});
