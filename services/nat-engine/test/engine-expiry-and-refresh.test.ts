// Proves the engine's timers and refresh publication (RFC 6146 sec. 3.5.1, 3.5.2.2; README "Refresh
// volume"): flush() publishes a touched session's live lifetime exactly when the logged one would end
// within refreshLeadMs (the bound included) and not again until touched again; an idle connection in
// ESTABLISHED or one-sided FIN moves to TRANS for the transitory lifetime instead of being cut, one in
// V4+V6 FIN RCV goes at once; a dynamic BIB entry goes with its last session only; and a leased block
// goes back to the pool blockIdleTimeoutMs after its last mapping, not before.
import { describe, expect, it } from 'vitest';
import { NatEventType, TcpFlag, TcpState } from '../src/internal.js';
import { harness, mappingOf, sessionOf, tick, v4, v6 } from './helpers.js';

const SUB = '2001:db8:0:100::1';
const UDP_MS = 300_000; // RFC 6146 sec. 4 default
const EST_MS = 7_440_000;
const TRANS_MS = 240_000;
const LEAD_MS = 20_000; // README: refreshLeadMs default

describe('flush publishes a refresh exactly when the logged lifetime ends within refreshLeadMs', () => {
  it('publishes at logged - now = refreshLeadMs, not 1 ms earlier, with the live remaining lifetime, once', () => {
    const { engine, sink } = harness();
    const udp = v6('udp', SUB, 5000, '198.51.100.1', 53);
    engine.outbound6(udp, 0);
    engine.outbound6(udp, 100_000); // live 400_000, logged 300_000
    const refreshes = () => sink.events.filter((e) => e.type === NatEventType.SessionChanged);
    engine.flush(UDP_MS - LEAD_MS - 1);
    expect(refreshes()).toEqual([]);
    expect(engine.refreshesPublished).toBe(0);
    // The flush consumed the dirty mark: touch again, then flush at the bound.
    engine.outbound6(udp, 200_000); // live 500_000
    engine.flush(UDP_MS - LEAD_MS);
    expect(refreshes()).toHaveLength(1);
    expect(refreshes()[0]).toMatchObject({
      timeMs: UDP_MS - LEAD_MS,
      state: 0,
      remainingMs: 500_000 - (UDP_MS - LEAD_MS),
      remotePort: 53,
    });
    expect(engine.refreshesPublished).toBe(1);
    expect(sessionOf(engine, udp)?.loggedExpiresAtMs).toBe(500_000);
    // Not touched since: the next flush publishes nothing.
    engine.flush(490_000);
    expect(refreshes()).toHaveLength(1);
  });

  it('publishes nothing for a touched session whose live lifetime is not beyond the logged one', () => {
    const { engine, sink } = harness();
    const udp = v6('udp', SUB, 5000, '198.51.100.1', 53);
    engine.outbound6(udp, 0);
    // An ICMP error on the session touches nothing; a packet stamped earlier does not extend it.
    engine.outbound6(udp, 0);
    engine.flush(UDP_MS - 1000);
    expect(sink.events.filter((e) => e.type === NatEventType.SessionChanged)).toEqual([]);
  });

  it('publishes only the sessions touched since the last flush, not those an earlier flush looked at', () => {
    const { engine, sink } = harness();
    const a = v6('udp', SUB, 5000, '198.51.100.1', 53);
    const b = v6('udp', SUB, 5001, '198.51.100.1', 53);
    engine.outbound6(a, 0);
    engine.outbound6(b, 0);
    engine.outbound6(a, 100_000);
    engine.outbound6(b, 100_000);
    engine.flush(200_000); // both touched, neither due
    engine.outbound6(a, 270_000);
    engine.flush(285_000); // a is due; b is due too but untouched since: the wheel's, not this flush's
    const refreshes = sink.events.filter((e) => e.type === NatEventType.SessionChanged);
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]).toMatchObject({ remainingMs: 270_000 + UDP_MS - 285_000 });
    expect(sessionOf(engine, b)?.loggedExpiresAtMs).toBe(UDP_MS);
  });

  it('publishes nothing for a session touched and then changed by an event before the flush', () => {
    const { engine, sink } = harness();
    const syn = v6('tcp', SUB, 40000, '198.51.100.1', 80, TcpFlag.Syn);
    engine.outbound6(syn, 0);
    engine.outbound6(syn, 1000); // retransmission: touched in place
    const m = mappingOf(engine, syn)!;
    engine.inbound4(v4('tcp', '198.51.100.1', 80, m.address, m.port, TcpFlag.Syn | TcpFlag.Ack), 1000);
    expect(sessionOf(engine, syn)).toMatchObject({
      expiresAtMs: 1000 + EST_MS,
      loggedExpiresAtMs: 1000 + EST_MS,
    });
    const before = sink.events.length;
    engine.flush(1000 + EST_MS - 10_000);
    expect(sink.events.length).toBe(before);
  });

  it('skips a touched session that is gone by the flush', () => {
    const { engine, sink } = harness({
      ports: { udp: [4096, 65535], tcp: [4096, 65535], icmp: [4096, 65535] },
    });
    engine.addStaticMapping(
      { protocol: 'udp', ipv6: SUB, ipv6Port: 53, ipv4: '203.0.113.1', ipv4Port: 53 },
      0,
    );
    const key = v4('udp', '198.51.100.1', 5000, '203.0.113.1', 53);
    engine.inbound4(key, 0);
    engine.inbound4(key, 290_000);
    engine.removeStaticMapping(1, key.dst4, 53, 290_001);
    const before = sink.events.length;
    engine.flush(290_002);
    expect(sink.events.length).toBe(before);
    expect(engine.refreshesPublished).toBe(0);
  });
});

describe('the session wheel publishes what flush did not', () => {
  it('publishes no refresh for a session nobody touched, and removes it at its expiry', () => {
    const { engine, sink } = harness();
    engine.outbound6(v6('udp', SUB, 5000, '198.51.100.1', 53), 0);
    for (let t = 1000; t <= UDP_MS + 2000; t += 1000) tick(engine, t);
    expect(sink.events.map((e) => e.type)).toEqual([
      NatEventType.BlockLeased,
      NatEventType.MappingCreated,
      NatEventType.SessionCreated,
      NatEventType.SessionRemoved,
      NatEventType.MappingRemoved,
    ]);
    expect(engine.refreshesPublished).toBe(0);
  });

  it('publishes an idle-since-touched session once, refreshLeadMs before its logged lifetime ends', () => {
    const { engine, sink } = harness();
    const udp = v6('udp', SUB, 5000, '198.51.100.1', 53);
    engine.outbound6(udp, 0);
    engine.outbound6(udp, 100_000);
    engine.flush(100_000); // not due: left to the wheel
    for (let t = 1000; t <= UDP_MS; t += 1000) engine.advance(t);
    const refreshes = sink.events.filter((e) => e.type === NatEventType.SessionChanged);
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0].timeMs).toBeGreaterThanOrEqual(UDP_MS - LEAD_MS);
    expect(refreshes[0].timeMs).toBeLessThanOrEqual(UDP_MS - LEAD_MS + 1000);
    expect(engine.refreshesPublished).toBe(1);
    expect(sessionOf(engine, udp)?.loggedExpiresAtMs).toBe(100_000 + UDP_MS);
  });

  it('does not publish a touched established connection when the wheel visits it a turn early (a lifetime over 4096 s)', () => {
    const { engine, sink } = harness();
    const syn = v6('tcp', SUB, 40000, '198.51.100.1', 80, TcpFlag.Syn);
    engine.outbound6(syn, 0);
    const m = mappingOf(engine, syn)!;
    engine.inbound4(v4('tcp', '198.51.100.1', 80, m.address, m.port, TcpFlag.Syn | TcpFlag.Ack), 0);
    engine.outbound6(v6('tcp', SUB, 40000, '198.51.100.1', 80, TcpFlag.Ack), 1_000_000);
    engine.flush(1_000_000);
    const changes = () => sink.events.filter((e) => e.type === NatEventType.SessionChanged);
    const atStart = changes().length;
    for (let t = 1_000_000; t <= EST_MS - LEAD_MS - 10_000; t += 10_000) engine.advance(t);
    expect(changes().length).toBe(atStart);
    for (let t = EST_MS - LEAD_MS - 10_000; t <= EST_MS; t += 1000) engine.advance(t);
    expect(changes().length).toBe(atStart + 1);
    expect(sessionOf(engine, syn)?.loggedExpiresAtMs).toBe(1_000_000 + EST_MS);
  });
});

describe('idle TCP connections (RFC 6146 sec. 3.5.2.2)', () => {
  function established(fin: 'none' | 'v6' | 'v4' | 'both') {
    const h = harness();
    const { engine } = h;
    const syn = v6('tcp', SUB, 40000, '198.51.100.1', 80, TcpFlag.Syn);
    engine.outbound6(syn, 0);
    const m = mappingOf(engine, syn)!;
    const back = (flags: number) => v4('tcp', '198.51.100.1', 80, m.address, m.port, flags);
    engine.inbound4(back(TcpFlag.Syn | TcpFlag.Ack), 0);
    if (fin === 'v6' || fin === 'both')
      engine.outbound6(v6('tcp', SUB, 40000, '198.51.100.1', 80, TcpFlag.Fin), 0);
    if (fin === 'v4' || fin === 'both') engine.inbound4(back(TcpFlag.Fin), 0);
    return { ...h, syn };
  }

  for (const [fin, state] of [
    ['none', TcpState.Established],
    ['v6', TcpState.V6FinRcv],
    ['v4', TcpState.V4FinRcv],
  ] as const) {
    it(`moves an idle connection in state ${state} to TRANS for the transitory lifetime instead of removing it`, () => {
      const { engine, sink, syn } = established(fin);
      expect(sessionOf(engine, syn)?.state).toBe(state);
      sink.events.length = 0;
      tick(engine, EST_MS + 1000);
      expect(sink.events.map((e) => e.type)).toEqual([NatEventType.SessionChanged]);
      expect(sink.events[0]).toMatchObject({
        state: TcpState.Trans,
        remainingMs: TRANS_MS,
        timeMs: EST_MS + 1000,
      });
      expect(sessionOf(engine, syn)?.state).toBe(TcpState.Trans);
      tick(engine, EST_MS + 1000 + TRANS_MS + 1000);
      expect(sessionOf(engine, syn)).toBeNull();
      expect(engine.state.mappingCount).toBe(0);
    });
  }

  it('removes a connection closed from both sides when its transitory lifetime ends, without TRANS', () => {
    const { engine, sink, syn } = established('both');
    expect(sessionOf(engine, syn)?.state).toBe(TcpState.V4V6FinRcv);
    sink.events.length = 0;
    tick(engine, TRANS_MS + 1000);
    expect(sink.events.map((e) => e.type)).toEqual([
      NatEventType.SessionRemoved,
      NatEventType.MappingRemoved,
    ]);
  });
});

describe('BIB entries and blocks go when their last user goes', () => {
  it('keeps a dynamic mapping while another of its sessions lives, and removes it with the last', () => {
    const { engine } = harness();
    const a = v6('udp', SUB, 5000, '198.51.100.1', 53);
    const b = v6('udp', SUB, 5000, '198.51.100.2', 53);
    engine.outbound6(a, 0);
    engine.outbound6(b, 100_000);
    tick(engine, UDP_MS + 1000);
    expect(sessionOf(engine, a)).toBeNull();
    expect(mappingOf(engine, a)).not.toBeNull();
    tick(engine, 100_000 + UDP_MS + 1000);
    expect(mappingOf(engine, a)).toBeNull();
  });

  it('releases an idle block blockIdleTimeoutMs after its last mapping went, with its address and first port', () => {
    const { engine, sink } = harness({ blockIdleTimeoutMs: 200_000 });
    engine.outbound6(v6('udp', SUB, 5000, '198.51.100.1', 53), 0);
    const leased = sink.events.find((e) => e.type === NatEventType.BlockLeased)!;
    tick(engine, UDP_MS + 1000); // session and mapping go at 301_000
    expect(engine.state.leasedBlockCount).toBe(1);
    tick(engine, UDP_MS + 1000 + 199_000);
    expect(engine.state.leasedBlockCount).toBe(1);
    tick(engine, UDP_MS + 1000 + 201_000);
    expect(engine.state.leasedBlockCount).toBe(0);
    const released = sink.events.find((e) => e.type === NatEventType.BlockReleased)!;
    expect(released).toMatchObject({
      protocol: 1,
      address: (leased as { address: number }).address,
      firstPort: (leased as { firstPort: number }).firstPort,
    });
    expect(released.timeMs).toBeGreaterThanOrEqual(UDP_MS + 1000 + 200_000);
    expect(released.timeMs).toBeLessThanOrEqual(UDP_MS + 1000 + 201_000);
  });

  it('keeps an idle block whose idle time is longer than a turn of the block wheel (512 s) until it is due', () => {
    const { engine } = harness({ blockIdleTimeoutMs: 1_000_000 });
    engine.outbound6(v6('udp', SUB, 5000, '198.51.100.1', 53), 0);
    for (let t = UDP_MS + 1000; t <= UDP_MS + 1000 + 999_000; t += 50_000) tick(engine, t);
    tick(engine, UDP_MS + 1000 + 999_000);
    expect(engine.state.leasedBlockCount).toBe(1);
    tick(engine, UDP_MS + 1000 + 1_001_000);
    expect(engine.state.leasedBlockCount).toBe(0);
  });

  it('keeps a block whose subscriber maps a port in it again before it is due', () => {
    const { engine } = harness({ blockIdleTimeoutMs: 200_000 });
    engine.outbound6(v6('udp', SUB, 5000, '198.51.100.1', 53), 0);
    tick(engine, UDP_MS + 1000);
    engine.outbound6(v6('udp', SUB, 5001, '198.51.100.1', 53), UDP_MS + 100_000);
    tick(engine, UDP_MS + 1000 + 250_000);
    expect(engine.state.leasedBlockCount).toBe(1);
  });
});
