// Scenario tests for RFC 6146 sec. 3.5.2 (TCP) and RFC 7857 sec. 2.2 (RST), driven by a fake clock.
import { describe, expect, it } from 'vitest';
import { EngineDropReason, EngineVerdict, formatIpv6, TcpFlag, TcpState } from '../src/internal.js';
import { harness, mappingOf, sessionOf, tick, v4, v6 } from './helpers.js';

const SUB = '2001:db8:0:100::1';
const SYN = TcpFlag.Syn;
const SYNACK = TcpFlag.Syn | TcpFlag.Ack;
const ACK = TcpFlag.Ack;
const FIN = TcpFlag.Fin | TcpFlag.Ack;
const RST = TcpFlag.Rst;

describe('TCP state machine (RFC 6146 sec. 3.5.2.2)', () => {
  it('proves a three-way handshake from IPv6 goes V6 INIT -> ESTABLISHED and FINs from both sides reach V4+V6 FIN RCV', () => {
    // "V6 INIT ... V4 SYN received: the state is moved to ESTABLISHED"; both FINs: "V4+V6 FIN RCV".
    const { engine } = harness();
    const out = v6('tcp', SUB, 40001, '198.51.100.7', 443, SYN);
    expect(engine.outbound6(out, 0)).toBe(EngineVerdict.Translate);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.V6Init);
    const { address, port } = mappingOf(engine, out)!;
    expect(engine.inbound4(v4('tcp', '198.51.100.7', 443, address, port, SYNACK), 10)).toBe(
      EngineVerdict.Translate,
    );
    expect(sessionOf(engine, out)?.state).toBe(TcpState.Established);
    expect(sessionOf(engine, out)?.expiresAtMs).toBe(10 + 124 * 60_000);
    engine.outbound6(v6('tcp', SUB, 40001, '198.51.100.7', 443, FIN), 20);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.V6FinRcv);
    engine.inbound4(v4('tcp', '198.51.100.7', 443, address, port, FIN), 30);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.V4V6FinRcv);
    expect(sessionOf(engine, out)?.expiresAtMs).toBe(30 + 4 * 60_000);
    tick(engine, 30 + 4 * 60_000 + 1000);
    expect(sessionOf(engine, out)).toBeNull();
    expect(mappingOf(engine, out)).toBeNull();
  });

  it('proves TCP simultaneous open: an inbound SYN held for a connection is discarded when the subscriber SYNs it', () => {
    // RFC 6146 sec. 3.5.2.2: "If the NAT64 receives and translates an outbound SYN for the connection
    // during this interval [6 s], the stored packet is silently discarded" (RFC 5382 REQ-4).
    const { engine } = harness({ filtering: 'address-dependent' });
    // The subscriber has a mapping (it talks to 198.51.100.1) ...
    const first = v6('tcp', SUB, 40002, '198.51.100.1', 80, SYN);
    engine.outbound6(first, 0);
    const { address, port } = mappingOf(engine, first)!;
    // ... and a peer it has not talked to SYNs that mapping: held, no ICMP yet.
    expect(engine.inbound4(v4('tcp', '198.51.100.9', 5555, address, port, SYN), 1000)).toBe(
      EngineVerdict.Hold,
    );
    const holdId = engine.result.holdId;
    expect(engine.heldSynCount).toBe(1);
    // The subscriber's own SYN to that peer arrives 2 s later: simultaneous open.
    const second = v6('tcp', SUB, 40002, '198.51.100.9', 5555, SYN);
    expect(engine.outbound6(second, 3000)).toBe(EngineVerdict.Translate);
    expect(sessionOf(engine, second)?.state).toBe(TcpState.Established);
    expect(engine.result.releasedHoldId).toBe(holdId);
    expect(tick(engine, 10_000)).toEqual([]);
  });

  it('proves an unsolicited IPv4 SYN under address-dependent filtering is held 6 s and then answered with ICMP port unreachable', () => {
    // RFC 6146 sec. 3.5.2.2: "the NAT64 MUST NOT send an ICMP error ... If the timer expires, the
    // NAT64 SHOULD send back an ICMP Port Unreachable error."
    const { engine } = harness({ filtering: 'address-dependent' });
    const first = v6('tcp', SUB, 40003, '198.51.100.1', 80, SYN);
    engine.outbound6(first, 0);
    const { address, port } = mappingOf(engine, first)!;
    expect(engine.inbound4(v4('tcp', '198.51.100.66', 6000, address, port, SYN), 1000)).toBe(
      EngineVerdict.Hold,
    );
    const holdId = engine.result.holdId;
    // A retransmission while held is dropped, not held twice.
    expect(engine.inbound4(v4('tcp', '198.51.100.66', 6000, address, port, SYN), 2000)).toBe(
      EngineVerdict.Drop,
    );
    expect(engine.result.reason).toBe(EngineDropReason.synalreadyheld46);
    expect(tick(engine, 6999)).toEqual([]);
    expect(tick(engine, 8000)).toEqual([holdId]);
    expect(engine.heldSynCount).toBe(0);
    // A SYN from a peer the mapping already talks to is accepted (V4 INIT) even under ADF.
    expect(engine.inbound4(v4('tcp', '198.51.100.1', 8080, address, port, SYN), 9000)).toBe(
      EngineVerdict.Translate,
    );
    expect(formatIpv6(engine.result.v6)).toBe('2001:db8:0:100:0:0:0:1');
    expect(engine.result.v6Port).toBe(40003);
  });

  it('proves an IPv4 SYN to an address with no BIB entry is held and then answered, and never creates state', () => {
    // RFC 6146 sec. 3.5.2.2: "If the destination transport address contained in the incoming V4 SYN
    // is not in use in the TCP BIB ... the packet is stored ... [then] ICMP Port Unreachable."
    const { engine, sink } = harness();
    const before = sink.events.length;
    expect(engine.inbound4(v4('tcp', '198.51.100.66', 6000, '203.0.113.1', 30000, SYN), 0)).toBe(
      EngineVerdict.Hold,
    );
    expect(tick(engine, 7000)).toHaveLength(1);
    expect(sink.events.length).toBe(before);
  });

  it('proves externally initiated TCP is dropped when the security policy says so', () => {
    // RFC 6146 sec. 3.5.2.2: "If the security policy requires silently dropping externally initiated
    // TCP connections, then the packet is silently discarded."
    const { engine } = harness({ dropExternallyInitiatedTcp: true });
    const first = v6('tcp', SUB, 40004, '198.51.100.1', 80, SYN);
    engine.outbound6(first, 0);
    const { address, port } = mappingOf(engine, first)!;
    expect(engine.inbound4(v4('tcp', '198.51.100.2', 1, address, port, SYN), 1)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.externaltcp46);
    expect(engine.heldSynCount).toBe(0);
  });

  it('proves an RST during FIN moves the session to TRANS for 4 minutes instead of deleting it, and a later RST does not refresh it', () => {
    // RFC 7857 sec. 2.2: "the NAT SHOULD wait for 4 minutes before deleting the session ... if no
    // packets are received during that 4-minute timeout."
    const { engine } = harness();
    const out = v6('tcp', SUB, 40005, '198.51.100.7', 22, SYN);
    engine.outbound6(out, 0);
    const { address, port } = mappingOf(engine, out)!;
    engine.inbound4(v4('tcp', '198.51.100.7', 22, address, port, SYNACK), 5);
    engine.inbound4(v4('tcp', '198.51.100.7', 22, address, port, FIN), 1000);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.V4FinRcv);
    expect(engine.outbound6(v6('tcp', SUB, 40005, '198.51.100.7', 22, RST), 2000)).toBe(
      EngineVerdict.Translate,
    );
    expect(sessionOf(engine, out)?.state).toBe(TcpState.Trans);
    expect(sessionOf(engine, out)?.expiresAtMs).toBe(2000 + 240_000);
    // An outbound RST does not refresh (RFC 7857 sec. 5.1).
    engine.outbound6(v6('tcp', SUB, 40005, '198.51.100.7', 22, RST), 100_000);
    expect(sessionOf(engine, out)?.expiresAtMs).toBe(2000 + 240_000);
    tick(engine, 241_000);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.Trans);
    tick(engine, 243_000);
    expect(sessionOf(engine, out)).toBeNull();
  });

  it('proves a non-RST packet in TRANS revives the connection to ESTABLISHED', () => {
    // RFC 6146 sec. 3.5.2.2, TRANS state: "If a packet other than a RST packet is received, the
    // lifetime of the session is set to TCP_EST and the state is moved to ESTABLISHED."
    const { engine } = harness();
    const out = v6('tcp', SUB, 40006, '198.51.100.7', 22, SYN);
    engine.outbound6(out, 0);
    const { address, port } = mappingOf(engine, out)!;
    engine.inbound4(v4('tcp', '198.51.100.7', 22, address, port, SYNACK), 5);
    engine.inbound4(v4('tcp', '198.51.100.7', 22, address, port, RST), 10);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.Trans);
    engine.outbound6(v6('tcp', SUB, 40006, '198.51.100.7', 22, ACK), 60_000);
    expect(sessionOf(engine, out)?.state).toBe(TcpState.Established);
    expect(sessionOf(engine, out)?.expiresAtMs).toBe(60_000 + 124 * 60_000);
  });

  it('proves a non-SYN from IPv6 with no state is dropped and creates nothing', () => {
    // RFC 6146 sec. 3.5.2.2, CLOSED state: only a SYN creates state; "If there is no corresponding
    // entry in the TCP BIB, the packet is silently discarded."
    const { engine } = harness();
    expect(engine.outbound6(v6('tcp', SUB, 40007, '198.51.100.7', 22, ACK), 0)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.nosession64);
    expect(engine.state.mappingCount).toBe(0);
  });
});
