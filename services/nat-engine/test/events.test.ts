// The event set: every replicated change is one versioned event stamped with shard, epoch and time, and
// the events of a flow's life come in the order a reducer needs (block, mapping, session ... removals).
import { describe, expect, it } from 'vitest';
import {
  ArrayEventSink,
  applyEvent,
  applyEvents,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  EngineDropReason,
  EngineVerdict,
  EventApplied,
  NAT_EVENT_SCHEMA_VERSION,
  type NatEvent,
  NatEventType,
  TcpFlag,
  TcpState,
} from '../src/internal.js';
import { harness, mappingOf, sessionOf, tick, v4, v6 } from './helpers.js';

describe('events', () => {
  it('proves a UDP flow emits block leased, mapping created, session created, then on expiry session removed, mapping removed, block released, all stamped', () => {
    const sink = new ArrayEventSink();
    const engine = createNatEngine(
      { pool: ['203.0.113.0/30'], sessionsMax: 64, subscribersMax: 8 },
      { sink, random: createSeededRandom(5), startMs: 0, shard: 17, epoch: 3 },
    );
    engine.outbound6(v6('udp', '2001:db8:0:100::1', 5000, '198.51.100.1', 53), 0);
    tick(engine, 301_000);
    tick(engine, 500_000);
    expect(sink.events.map((e) => e.type)).toEqual([
      NatEventType.BlockLeased,
      NatEventType.MappingCreated,
      NatEventType.SessionCreated,
      NatEventType.SessionRemoved,
      NatEventType.MappingRemoved,
      NatEventType.BlockReleased,
    ]);
    for (const e of sink.events) {
      expect(e).toMatchObject({ version: NAT_EVENT_SCHEMA_VERSION, shard: 17, epoch: 3 });
    }
    expect(sink.events.map((e) => e.timeMs)).toEqual([0, 0, 0, 301_000, 301_000, 500_000]);
  });
});

describe('IPv4-initiated TCP', () => {
  it("proves under endpoint-independent filtering an IPv4 SYN to an existing mapping opens V4 INIT and the subscriber's SYN+ACK establishes it", () => {
    // RFC 6146 sec. 3.5.2.2: a V4 SYN whose destination is in the TCP BIB creates a session in V4 INIT
    // and is translated; "V4 INIT ... V6 SYN received: the state is moved to ESTABLISHED".
    const { engine } = harness();
    const out = v6('tcp', '2001:db8:0:100::1', 40100, '198.51.100.1', 80, TcpFlag.Syn);
    engine.outbound6(out, 0);
    const { address, port } = mappingOf(engine, out)!;
    expect(engine.inbound4(v4('tcp', '198.51.100.77', 5000, address, port, TcpFlag.Syn), 1)).toBe(
      EngineVerdict.Translate,
    );
    const back = v6('tcp', '2001:db8:0:100::1', 40100, '198.51.100.77', 5000, TcpFlag.Syn | TcpFlag.Ack);
    expect(sessionOf(engine, back)?.state).toBe(TcpState.V4Init);
    engine.outbound6(back, 2);
    expect(sessionOf(engine, back)?.state).toBe(TcpState.Established);
  });

  it('proves held SYNs are bounded: past heldSynsMax a new unsolicited SYN is dropped and counted', () => {
    // CONVENTIONS.md 8: every table has a named maximum and says what happens at the bound.
    const { engine } = harness({ heldSynsMax: 2 });
    for (let i = 0; i < 2; i++) {
      expect(engine.inbound4(v4('tcp', '198.51.100.1', 1000 + i, '203.0.113.1', 2000, TcpFlag.Syn), 0)).toBe(
        EngineVerdict.Hold,
      );
    }
    expect(engine.inbound4(v4('tcp', '198.51.100.1', 1002, '203.0.113.1', 2000, TcpFlag.Syn), 0)).toBe(
      EngineVerdict.Drop,
    );
    expect(engine.result.reason).toBe(EngineDropReason.heldfull46);
    expect(engine.dropCounters[EngineDropReason.heldfull46]).toBe(1);
  });
});

describe('schema versions in the reducer', () => {
  it('proves an event of a newer schema version is refused as a value and counted, and leaves the state untouched', () => {
    // DESIGN.md: a newer version is refused with a counter, never misread and never thrown.
    const { engine, sink } = harness();
    engine.outbound6(v6('udp', '2001:db8:0:100::1', 5000, '198.51.100.1', 53), 0);
    const state = createReplayState(engine.config, 0);
    const newer = { ...sink.events[0], version: NAT_EVENT_SCHEMA_VERSION + 1 } as NatEvent;
    expect(applyEvent(state, newer)).toBe(EventApplied.RefusedVersion);
    expect(state.refusedEventVersions).toBe(1);
    expect(state.leasedBlockCount).toBe(0);
    // applyEvents stops at the refused event: what follows it depends on it.
    expect(applyEvents(state, [sink.events[0], newer, sink.events[1]])).toBe(1);
    expect(state.leasedBlockCount).toBe(1);
    expect(state.mappingCount).toBe(0);
    expect(state.refusedEventVersions).toBe(2);
  });
});
