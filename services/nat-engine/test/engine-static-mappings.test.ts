// Proves static BIB entries (port forwards, RFC 6146 sec. 3.5.2.2 "a static entry in the BIB") on a
// running engine: an added entry is one MappingCreated event marked static; one that would take an IPv4
// or IPv6 transport address already mapped, exceed mappingsMax or subscribersMax, or put a subscriber on
// a second pool address (RFC 6888 REQ-2) is refused with a NatStaticMappingError naming the field;
// removing one removes its sessions first (administratively) and then the entry, and refuses anything
// that is not a static entry; start() adds only the configured entries a taken-over state lacks.
import { describe, expect, it } from 'vitest';
import {
  ArrayEventSink,
  applyEvents,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  EngineVerdict,
  NatEngine,
  type NatEvent,
  NatEventType,
  NatStaticMappingError,
  parseIpv4,
  SessionRemovedCause,
  type StaticBibEntryInput,
  validateConfig,
} from '../src/internal.js';
import { harness, v4, v6 } from './helpers.js';

const SSH: StaticBibEntryInput = {
  protocol: 'tcp',
  ipv6: '2001:db8:0:100::1',
  ipv6Port: 22,
  ipv4: '203.0.113.1',
  ipv4Port: 2222,
};
// 2222 is inside the default dynamic range 1024-65535; static ports must lie outside it.
const ports = { tcp: [4096, 65535], udp: [4096, 65535], icmp: [4096, 65535] } as const;

function refusal(run: () => void): NatStaticMappingError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(NatStaticMappingError);
    return e as NatStaticMappingError;
  }
  throw new Error('not refused');
}

describe('adding static BIB entries at run time', () => {
  it('adds one as a single static MappingCreated event stamped with the time given', () => {
    const { engine, sink } = harness({ ports }, 1, 0, { shard: 3, epoch: 9 });
    engine.addStaticMapping(SSH, 1234);
    expect(sink.events).toEqual([
      {
        type: NatEventType.MappingCreated,
        version: 1,
        shard: 3,
        epoch: 9,
        timeMs: 1234,
        protocol: 0,
        ipv6: [0x20010db8, 0x100, 0, 1],
        ipv6Port: 22,
        ipv4: parseIpv4('203.0.113.1'),
        ipv4Port: 2222,
        isStatic: true,
      },
    ]);
    // It admits an inbound connection at once.
    expect(engine.inbound4(v4('tcp', '198.51.100.5', 5555, '203.0.113.1', 2222, 0x02), 2000)).toBe(
      EngineVerdict.Translate,
    );
  });

  it('stamps shard 0 and epoch 0 when the engine is given none (a single node)', () => {
    const { engine, sink } = harness({ ports });
    engine.addStaticMapping(SSH, 7);
    expect(sink.events).toHaveLength(1);
    expect(sink.events[0]).toMatchObject({ shard: 0, epoch: 0, timeMs: 7, version: 1 });
  });

  it('refuses an IPv4 or IPv6 transport address that is mapped already, naming which', () => {
    const { engine } = harness({ ports });
    engine.addStaticMapping(SSH, 0);
    const v4Taken = refusal(() => engine.addStaticMapping({ ...SSH, ipv6: '2001:db8:0:100::2' }, 0));
    expect(v4Taken.field).toBe('staticMapping.ipv4Port');
    // CONVENTIONS.md 10: the message names the field, what is wrong and the fix.
    expect(v4Taken.message).toMatch(
      /^staticMapping\.ipv4Port: .*IPv4 transport address is mapped already; pick another port$/,
    );
    const v6Taken = refusal(() => engine.addStaticMapping({ ...SSH, ipv4Port: 2223 }, 0));
    expect(v6Taken.field).toBe('staticMapping.ipv6Port');
    expect(v6Taken.message).toMatch(
      /^staticMapping\.ipv6Port: .*IPv6 transport address is mapped already; pick another port$/,
    );
    // Another protocol is another BIB.
    engine.addStaticMapping({ ...SSH, protocol: 'udp' }, 0);
    expect(engine.state.mappingCount).toBe(2);
  });

  it('refuses an entry past mappingsMax and one for a new subscriber past subscribersMax', () => {
    const full = harness({ ports, mappingsMax: 1 });
    full.engine.addStaticMapping(SSH, 0);
    const bib = refusal(() => full.engine.addStaticMapping({ ...SSH, ipv4Port: 2223, ipv6Port: 23 }, 0));
    expect(bib.field).toBe('staticMapping');
    expect(bib.message).toMatch(/^staticMapping: the BIB is full \(mappingsMax\); raise mappingsMax$/);

    const subs = harness({ ports, subscribersMax: 1 });
    subs.engine.addStaticMapping(SSH, 0);
    // The same subscriber (same /56) may add more.
    subs.engine.addStaticMapping({ ...SSH, ipv6: '2001:db8:0:100::9', ipv4Port: 2223 }, 0);
    const sub = refusal(() =>
      subs.engine.addStaticMapping({ ...SSH, ipv6: '2001:db8:0:200::1', ipv4Port: 2224 }, 0),
    );
    expect(sub.field).toBe('staticMapping');
    expect(sub.message).toMatch(
      /^staticMapping: the subscriber table is full \(subscribersMax\); raise subscribersMax$/,
    );
    expect(subs.engine.state.mappingCount).toBe(2);
  });

  it("refuses an entry on another address than the subscriber's (paired pooling), naming ipv4", () => {
    const { engine } = harness({ ports });
    engine.addStaticMapping(SSH, 0);
    const e = refusal(() =>
      engine.addStaticMapping({ ...SSH, ipv4: '203.0.113.2', ipv4Port: 80, ipv6Port: 80 }, 0),
    );
    expect(e.field).toBe('staticMapping.ipv4');
    expect(e.message).toMatch(
      /^staticMapping\.ipv4: .*paired pooling.*; use the subscriber's current address$/,
    );
  });
});

describe('static entries that cannot be resolved or added', () => {
  it('names staticMapping in the refusal of a malformed entry', () => {
    const { engine } = harness({ ports });
    const e = (() => {
      try {
        engine.addStaticMapping({ ...SSH, ipv4Port: 5000 }, 0);
      } catch (error) {
        return error as { field: string };
      }
      throw new Error('not refused');
    })();
    expect(e.field).toMatch(/^staticMapping\./);
  });

  it("names staticBib when a configured entry's IPv6 transport address is mapped dynamically before start", () => {
    const { engine } = harness({
      ports,
      staticBib: [
        { protocol: 'udp', ipv6: '2001:db8:0:100::1', ipv6Port: 53, ipv4: '203.0.113.1', ipv4Port: 53 },
      ],
    });
    // harness() started the engine already; a second start finds the entry and adds nothing.
    expect(() => engine.start(1)).not.toThrow();
    const fresh = createNatEngine(
      {
        pool: ['203.0.113.0/30'],
        ports,
        staticBib: [
          { protocol: 'udp', ipv6: '2001:db8:0:100::1', ipv6Port: 53, ipv4: '203.0.113.1', ipv4Port: 53 },
        ],
      },
      { sink: new ArrayEventSink(), random: createSeededRandom(1), startMs: 0 },
    );
    fresh.outbound6(v6('udp', '2001:db8:0:100::1', 53, '198.51.100.1', 53), 0);
    const e = refusal(() => fresh.start(1));
    expect(e.field).toBe('staticBib.ipv6Port');
  });
});

describe('removing static BIB entries', () => {
  it('removes the sessions of the entry (administratively), then the entry, at the time given', () => {
    const { engine, sink } = harness({ ports });
    engine.addStaticMapping(SSH, 0);
    engine.inbound4(v4('tcp', '198.51.100.5', 5555, '203.0.113.1', 2222, 0x02), 10);
    engine.inbound4(v4('tcp', '198.51.100.6', 5556, '203.0.113.1', 2222, 0x02), 20);
    expect(engine.state.sessionCount).toBe(2);
    sink.events.length = 0;
    expect(engine.removeStaticMapping(0, parseIpv4('203.0.113.1'), 2222, 500)).toBe(true);
    expect(sink.events.map((e) => e.type)).toEqual([
      NatEventType.SessionRemoved,
      NatEventType.SessionRemoved,
      NatEventType.MappingRemoved,
    ]);
    for (const e of sink.events) expect(e.timeMs).toBe(500);
    expect(
      sink.events
        .filter((e) => e.type === NatEventType.SessionRemoved)
        .map((e) => (e as { cause: number }).cause),
    ).toEqual([SessionRemovedCause.Administrative, SessionRemovedCause.Administrative]);
    expect(engine.state.sessionCount).toBe(0);
    expect(engine.state.mappingCount).toBe(0);
    expect(engine.inbound4(v4('tcp', '198.51.100.5', 5557, '203.0.113.1', 2222, 0x10), 600)).toBe(
      EngineVerdict.Drop,
    );
  });

  it('answers false, changing nothing, for an absent entry, another protocol and a dynamic mapping', () => {
    const { engine, sink } = harness({ ports });
    engine.addStaticMapping(SSH, 0);
    const out = v6('udp', '2001:db8:0:300::1', 5000, '198.51.100.1', 53);
    engine.outbound6(out, 0);
    const m = engine.state.findMapping6(1, out.src6, 0, 5000);
    const before = sink.events.length;
    expect(engine.removeStaticMapping(0, parseIpv4('203.0.113.1'), 2223, 1)).toBe(false);
    expect(engine.removeStaticMapping(1, parseIpv4('203.0.113.1'), 2222, 1)).toBe(false);
    expect(
      engine.removeStaticMapping(1, engine.state.mappingV4Of(m), engine.state.mappingV4PortOf(m), 1),
    ).toBe(false);
    expect(sink.events.length).toBe(before);
    expect(engine.state.mappingCount).toBe(2);
  });
});

describe('configured static entries at start', () => {
  it('adds them at start, and a takeover engine on the folded log adds none again', () => {
    const config = { pool: ['203.0.113.0/30'], ports, staticBib: [SSH] };
    const sink = new ArrayEventSink();
    const live = createNatEngine(config, { sink, random: createSeededRandom(1), startMs: 0 });
    expect(live.state.mappingCount).toBe(0);
    live.start(5);
    expect(sink.events.map((e: NatEvent) => [e.type, e.timeMs])).toEqual([[NatEventType.MappingCreated, 5]]);
    const state = createReplayState(live.config, 0);
    applyEvents(state, sink.events);
    const standbySink = new ArrayEventSink();
    const standby = createNatEngine(config, {
      sink: standbySink,
      random: createSeededRandom(2),
      startMs: 10,
      state,
    });
    standby.start(10);
    expect(standbySink.events).toEqual([]);
    expect(standby.state.mappingCount).toBe(1);
  });

  it('refuses a taken-over state built with another configuration object', () => {
    const config = validateConfig({ pool: ['203.0.113.0/30'] });
    const options = () => ({
      sink: new ArrayEventSink(),
      random: createSeededRandom(1),
      startMs: 0,
      state: createReplayState(config, 0),
    });
    expect(() => new NatEngine(validateConfig({ pool: ['203.0.113.0/30'] }), options())).toThrow(
      /assertion failed: a taken-over state was built with the same configuration object/,
    );
    expect(new NatEngine(config, options()).config).toBe(config);
  });
});
