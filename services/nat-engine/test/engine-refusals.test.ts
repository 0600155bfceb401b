// Proves how the engine refuses a new flow at a bound or by policy (RFC 6146 sec. 3.5.1.1, RFC 6888,
// README "Bounds"): each bound under its own reason and LimitReached name, answered with ICMPv6
// destination unreachable, code 3 (address unreachable) for a bound and code 1 (administratively
// prohibited, RFC 4443 sec. 3.1) for a tenant's policy; at most one LimitReached per subscriber per flush
// interval (and one for all not-yet-known subscribers); and at most one operator log line per bound per
// limitLogIntervalMs, naming the setting and its value (the pool has none) with the refusals since.
import { describe, expect, it } from 'vitest';
import {
  ArrayEventSink,
  createNatEngine,
  createSeededRandom,
  EngineDropReason,
  EngineVerdict,
  InProcessPoolAllocator,
  type NatEngineConfigInput,
  type NatEvent,
  NatEventType,
  POOL_REFUSED,
  type PoolAllocator,
} from '../src/internal.js';
import { harness, mappingOf, v4, v6 } from './helpers.js';

const limitsOf = (events: readonly NatEvent[]) =>
  events.flatMap((e) => (e.type === NatEventType.LimitReached ? [e] : []));
const flow = (sub: number, port: number) => v6('udp', `2001:db8:0:${sub}00::1`, port, '198.51.100.1', 53);

function logged(config: Partial<NatEngineConfigInput>, limitLogIntervalMs?: number) {
  const lines: string[] = [];
  const h = harness(config, 1, 0, {
    log: (line) => lines.push(line),
    limitLogIntervalMs,
    shard: 2,
    epoch: 7,
  });
  return { ...h, lines };
}

// One pool address, one 2-port UDP block on it.
const ONE_BLOCK: Partial<NatEngineConfigInput> = {
  pool: ['203.0.113.1'],
  ports: { udp: [1024, 1025] },
  blockSizePorts: 2,
};

describe('each bound: its reason, its ICMPv6 code, its LimitReached and its log line', () => {
  it('refuses a subscriber whose address has no free block as poolexhausted64, logged without a value or a setting to raise', () => {
    const { engine, sink, lines } = logged(ONE_BLOCK);
    expect(engine.outbound6(flow(1, 1), 0)).toBe(EngineVerdict.Translate);
    expect(engine.outbound6(flow(2, 1), 100)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.poolexhausted64);
    expect([engine.result.icmpType, engine.result.icmpCode]).toEqual([1, 3]);
    expect(engine.dropCounters[EngineDropReason.poolexhausted64]).toBe(1);
    expect(limitsOf(sink.events)).toEqual([
      {
        type: NatEventType.LimitReached,
        version: 1,
        shard: 2,
        epoch: 7,
        timeMs: 100,
        subscriber: [0x20010db8, 0x200, 0, 0],
        protocol: 1,
        limit: 'pool',
      },
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^nat: drop\.nat\.poolexhausted64: pool reached, refusing new mappings /);
    expect(lines[0]).toMatch(
      /add addresses to pool or lower blockSizePorts \(1 refused since the last line\)$/,
    );
    expect(lines[0]).not.toMatch(/raise/);
  });

  it('refuses a subscriber whose blocks are all full at subscriberBlocksMax as subscriberblocks64', () => {
    const { engine, sink, lines } = logged({
      pool: ['203.0.113.1'],
      ports: { udp: [1024, 1027] },
      blockSizePorts: 2,
      subscriberBlocksMax: 1,
    });
    // Another subscriber takes the first row and the other block, with a port to spare.
    expect(engine.outbound6(flow(2, 1), 0)).toBe(EngineVerdict.Translate);
    expect(engine.outbound6(flow(1, 1), 0)).toBe(EngineVerdict.Translate);
    expect(engine.outbound6(flow(1, 2), 0)).toBe(EngineVerdict.Translate);
    expect(engine.outbound6(flow(1, 3), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.subscriberblocks64);
    expect(engine.result.icmpCode).toBe(3);
    expect(limitsOf(sink.events).map((e) => e.limit)).toEqual(['subscriber-blocks']);
    expect(lines).toEqual([
      'nat: drop.nat.subscriberblocks64: subscriberBlocksMax (1) reached, refusing new mappings of subscribers holding that many full blocks; raise subscriberBlocksMax in the nat configuration (1 refused since the last line)',
    ]);
    // The other subscriber still gets the spare port of its block.
    expect(engine.outbound6(flow(2, 2), 0)).toBe(EngineVerdict.Translate);
  });

  it('refuses a new mapping past mappingsMax as mappingsfull64, and a new subscriber past subscribersMax as subscribersfull64', () => {
    const bib = logged({ mappingsMax: 1 });
    expect(bib.engine.outbound6(flow(1, 1), 0)).toBe(EngineVerdict.Translate);
    expect(bib.engine.outbound6(flow(1, 2), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(bib.engine.result.reason).toBe(EngineDropReason.mappingsfull64);
    expect(bib.engine.result.icmpCode).toBe(3);
    expect(limitsOf(bib.sink.events).map((e) => e.limit)).toEqual(['mappings-table']);
    expect(bib.lines[0]).toMatch(
      /^nat: drop\.nat\.mappingsfull64: mappingsMax \(1\) reached, refusing new mappings/,
    );
    // A second session of the existing mapping needs no new mapping.
    expect(bib.engine.outbound6(v6('udp', '2001:db8:0:100::1', 1, '198.51.100.2', 53), 0)).toBe(
      EngineVerdict.Translate,
    );

    const subs = logged({ subscribersMax: 1 });
    expect(subs.engine.outbound6(flow(1, 1), 0)).toBe(EngineVerdict.Translate);
    expect(subs.engine.outbound6(flow(2, 1), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(subs.engine.result.reason).toBe(EngineDropReason.subscribersfull64);
    expect(limitsOf(subs.sink.events).map((e) => e.limit)).toEqual(['subscribers-table']);
  });

  it('names outbound and inbound subscriber session refusals apart in the log', () => {
    const { engine, lines } = logged({ subscriberSessionsMax: 1 });
    const out = flow(1, 1);
    engine.outbound6(out, 0);
    expect(engine.outbound6(flow(1, 2), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.subscribersessions64);
    const m = mappingOf(engine, out)!;
    expect(engine.inbound4(v4('udp', '198.51.100.9', 53, m.address, m.port), 0)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.subscribersessions46);
    expect(lines).toEqual([
      'nat: drop.nat.subscribersessions64: subscriberSessionsMax (1) reached, refusing new outbound sessions of subscribers at the bound; raise subscriberSessionsMax in the nat configuration (1 refused since the last line)',
      'nat: drop.nat.subscribersessions46: subscriberSessionsMax (1) reached, refusing new inbound sessions of subscribers at the bound; raise subscriberSessionsMax in the nat configuration (1 refused since the last line)',
    ]);
  });
});

describe('the session table and the first block', () => {
  it('refuses a new session past sessionsMax as sessionsfull64 with a LimitReached sessions-table', () => {
    const { engine, sink } = harness({ sessionsMax: 1 });
    engine.outbound6(flow(1, 1), 0);
    expect(engine.outbound6(flow(1, 2), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.sessionsfull64);
    expect(engine.result.icmpCode).toBe(3);
    expect(limitsOf(sink.events).map((e) => e.limit)).toEqual(['sessions-table']);
  });

  it("leases the block table's first block (index 0: TCP, first address, first port) like any other", () => {
    const { engine } = harness({ pool: ['203.0.113.1'], ports: { tcp: [1024, 1025] }, blockSizePorts: 2 });
    expect(engine.outbound6(v6('tcp', '2001:db8:0:100::1', 2, '198.51.100.1', 80, 0x02), 0)).toBe(
      EngineVerdict.Translate,
    );
    expect(engine.state.blockOwner[0]).not.toBe(-1);
    expect(engine.result.v4SrcPort).toBe(1024);
  });
});

describe("a tenant's block quota (POOL_REFUSED)", () => {
  it('is refused administratively prohibited as tenantquota64, reported, and not logged as a bound', () => {
    const sink = new ArrayEventSink();
    const lines: string[] = [];
    let refuse = true;
    const engine = createNatEngine(
      { pool: ['203.0.113.0/30'] },
      {
        sink,
        random: createSeededRandom(1),
        startMs: 0,
        log: (line) => lines.push(line),
        allocator: (state, random): PoolAllocator => {
          const inner = new InProcessPoolAllocator(state, random);
          return {
            tryLease: (s, slot, preferred, now) =>
              refuse ? POOL_REFUSED : inner.tryLease(s, slot, preferred, now),
            released: (block, now) => inner.released(block, now),
          };
        },
      },
    );
    expect(engine.outbound6(flow(1, 1), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.tenantquota64);
    expect([engine.result.icmpType, engine.result.icmpCode]).toEqual([1, 1]);
    expect(limitsOf(sink.events).map((e) => e.limit)).toEqual(['tenant-quota']);
    expect(lines).toEqual([]);
    expect(engine.state.subscriberCount).toBe(0);
    refuse = false;
    expect(engine.outbound6(flow(1, 1), 0)).toBe(EngineVerdict.Translate);
  });
});

describe('LimitReached: at most one per subscriber per flush interval', () => {
  it('reports a known subscriber once per interval, each subscriber apart, and again after a flush', () => {
    const { engine, sink } = harness({ subscriberSessionsMax: 1 });
    engine.outbound6(flow(1, 1), 0);
    engine.outbound6(flow(2, 1), 0);
    for (let p = 2; p < 5; p++) engine.outbound6(flow(1, p), 0);
    engine.outbound6(flow(2, 2), 0);
    const subscribers = () => limitsOf(sink.events).map((e) => e.subscriber[1]);
    expect(subscribers()).toEqual([0x100, 0x200]);
    expect(engine.dropCounters[EngineDropReason.subscribersessions64]).toBe(4);
    engine.flush(10);
    engine.outbound6(flow(1, 5), 10);
    engine.outbound6(flow(1, 6), 10);
    expect(subscribers()).toEqual([0x100, 0x200, 0x100]);
  });

  it('reports a known subscriber refused for the first time after a flush', () => {
    const { engine, sink } = harness({ subscriberSessionsMax: 1 });
    engine.outbound6(flow(1, 1), 0);
    engine.flush(1);
    engine.outbound6(flow(1, 2), 2);
    expect(limitsOf(sink.events).map((e) => [e.subscriber[1], e.timeMs])).toEqual([[0x100, 2]]);
  });

  it('reports refusals of subscribers the engine does not hold once per interval in all', () => {
    const { engine, sink } = harness({ subscribersMax: 1 });
    engine.outbound6(flow(1, 1), 0);
    engine.outbound6(flow(2, 1), 0);
    engine.outbound6(flow(2, 2), 0);
    engine.outbound6(flow(3, 1), 0);
    expect(limitsOf(sink.events).map((e) => e.subscriber[1])).toEqual([0x200]);
    engine.flush(1);
    engine.outbound6(flow(3, 2), 1);
    expect(limitsOf(sink.events).map((e) => e.subscriber[1])).toEqual([0x200, 0x300]);
  });
});

describe('the operator log interval', () => {
  it('logs a bound again only once limitLogIntervalMs has passed since its last line, counting the refusals in between', () => {
    const { engine, lines } = logged(ONE_BLOCK, 10_000);
    engine.outbound6(flow(1, 1), 0);
    engine.outbound6(flow(2, 1), 5_000);
    engine.outbound6(flow(2, 2), 14_999);
    expect(lines).toHaveLength(1);
    engine.outbound6(flow(2, 3), 15_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/\(2 refused since the last line\)$/);
  });

  it('logs every refusal with an interval of 0, defaults to 10 s, and refuses a negative interval', () => {
    const every = logged(ONE_BLOCK, 0);
    every.engine.outbound6(flow(1, 1), 0);
    for (let i = 0; i < 3; i++) every.engine.outbound6(flow(2, 1 + i), 0);
    expect(every.lines.map((l) => l.endsWith('(1 refused since the last line)'))).toEqual([true, true, true]);

    const byDefault = logged(ONE_BLOCK);
    byDefault.engine.outbound6(flow(1, 1), 0);
    byDefault.engine.outbound6(flow(2, 1), 0);
    byDefault.engine.outbound6(flow(2, 2), 9_999);
    expect(byDefault.lines).toHaveLength(1);
    byDefault.engine.outbound6(flow(2, 3), 10_000);
    expect(byDefault.lines).toHaveLength(2);

    expect(() => harness({}, 1, 0, { log: () => {}, limitLogIntervalMs: -1 })).toThrow(
      /limitLogIntervalMs is not negative/,
    );
  });

  it('logs nothing without a log function, the drop counters still counting', () => {
    const { engine } = harness(ONE_BLOCK);
    engine.outbound6(flow(1, 1), 0);
    engine.outbound6(flow(2, 1), 0);
    expect(engine.dropCounters[EngineDropReason.poolexhausted64]).toBe(1);
  });
});

describe('the subscribers-at-limit gauge', () => {
  it('does not count a subscriber holding no block (a static entry only), whatever the next row holds', () => {
    const ports = { tcp: [4096, 65535], udp: [4096, 65535], icmp: [4096, 65535] } as const;
    const { engine } = harness({ ports, subscriberBlocksMax: 1 });
    engine.addStaticMapping(
      { protocol: 'tcp', ipv6: '2001:db8:0:100::1', ipv6Port: 22, ipv4: '203.0.113.1', ipv4Port: 22 },
      0,
    );
    engine.outbound6(v6('tcp', '2001:db8:0:200::1', 1, '198.51.100.1', 80, 0x02), 0);
    const out = new Int32Array(2);
    engine.subscribersAtLimit(out);
    expect(Array.from(out)).toEqual([0, 1]);
  });

  it('counts a subscriber at its block bound once, however many protocols are at it', () => {
    const { engine } = harness({ subscriberBlocksMax: 1 });
    engine.outbound6(flow(1, 1), 0);
    engine.outbound6(v6('tcp', '2001:db8:0:100::1', 1, '198.51.100.1', 80, 0x02), 0);
    engine.outbound6(v6('icmp', '2001:db8:0:100::1', 1, '198.51.100.1', 1), 0);
    const out = new Int32Array(2);
    engine.subscribersAtLimit(out);
    expect(Array.from(out)).toEqual([0, 1]);
  });
});

describe('refuseNewMappings: a cluster owner whose lease lapsed', () => {
  it('drops a flow that needs a new mapping as leaselapsed64, with no ICMP error and no state; existing mappings go on, new sessions on them too', () => {
    const { engine, sink } = harness();
    const kept = v6('udp', '2001:db8:0:100::1', 4000, '198.51.100.1', 53);
    expect(engine.outbound6(kept, 0)).toBe(EngineVerdict.Translate);
    const mapping = mappingOf(engine, kept);
    const events = sink.events.length;
    engine.refuseNewMappings(true);
    // A new source port of a known subscriber, and a new subscriber: both would need a mapping.
    for (const fresh of [
      v6('udp', '2001:db8:0:100::1', 4001, '198.51.100.1', 53),
      v6('tcp', '2001:db8:0:200::1', 5000, '198.51.100.1', 80, 0x02),
    ]) {
      expect(engine.outbound6(fresh, 10)).toBe(EngineVerdict.Drop);
      expect(engine.result.reason).toBe(EngineDropReason.leaselapsed64);
      expect(mappingOf(engine, fresh)).toBeNull();
    }
    expect(engine.dropCounters[EngineDropReason.leaselapsed64]).toBe(2);
    expect(sink.events.length, 'no event: nothing was created').toBe(events);
    // The existing mapping translates, and takes a session to a new destination (same mapping).
    expect(engine.outbound6(kept, 20)).toBe(EngineVerdict.Translate);
    const elsewhere = v6('udp', '2001:db8:0:100::1', 4000, '198.51.100.7', 53);
    expect(engine.outbound6(elsewhere, 30)).toBe(EngineVerdict.Translate);
    expect(mappingOf(engine, elsewhere)).toEqual(mapping);
    // Renewed: new mappings again.
    engine.refuseNewMappings(false);
    const later = v6('udp', '2001:db8:0:100::1', 4001, '198.51.100.1', 53);
    expect(engine.outbound6(later, 40)).toBe(EngineVerdict.Translate);
    expect(mappingOf(engine, later)).not.toBeNull();
  });
});
