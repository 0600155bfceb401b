// Proves the engine holds each share (tenant) to its session limits (session-shares.ts, RFC 6888 REQ-4
// per ISP): a share's own per-subscriber bound applies when it is set and tighter than the node's,
// the share's node-wide quota refuses new sessions both ways once the share holds that many (outbound
// answered "administratively prohibited", RFC 4443 sec. 3.1 code 1, a policy rather than a bound), and
// the engine reports every session it adds or removes to the subscriber's share, recounting from its
// state when the shares are replaced.
import { describe, expect, it } from 'vitest';
import {
  EngineDropReason,
  EngineVerdict,
  type NatEvent,
  NatEventType,
  type SessionShares,
} from '../src/internal.js';
import { harness, mappingOf, tick, v4, v6 } from './helpers.js';

/** Shares of 2001:db8::/32 keyed by the second prefix word (2001:db8:0:<w1>00::/56), counts kept here. */
class TestShares implements SessionShares {
  readonly subscriberSessionsMax: Int32Array;
  readonly sessionsMax: Int32Array;
  readonly counts: number[];
  /** Sessions the share holds on other shards of the node. */
  readonly elsewhere: number[];
  resets = 0;
  constructor(
    private readonly byW1: Map<number, number>,
    subscriberSessionsMax: number[],
    sessionsMax: number[],
  ) {
    this.subscriberSessionsMax = Int32Array.from(subscriberSessionsMax);
    this.sessionsMax = Int32Array.from(sessionsMax);
    this.counts = subscriberSessionsMax.map(() => 0);
    this.elsewhere = subscriberSessionsMax.map(() => 0);
  }
  shareOf(w0: number, w1: number): number {
    // Only 2001:db8::/32 has shares.
    return w0 === 0x20010db8 ? (this.byW1.get(w1) ?? -1) : -1;
  }
  sessionsOf(share: number): number {
    return this.counts[share] + this.elsewhere[share];
  }
  onSessions(share: number, delta: number): void {
    this.counts[share] += delta;
  }
  resetSessions(): void {
    this.resets++;
    this.counts.fill(0);
  }
}

const T1 = '2001:db8:0:100::1'; // share 0
const T1B = '2001:db8:0:101::1'; // share 0, another subscriber
const T2 = '2001:db8:0:200::1'; // share 1
const NONE = '2001:db8:0:300::1'; // no share

const flow = (src: string, port: number) => v6('udp', src, port, '198.51.100.1', 53);
const limits = (events: readonly NatEvent[]) =>
  events
    .filter((e) => e.type === NatEventType.LimitReached)
    .map((e) => (e.type === NatEventType.LimitReached ? e.limit : ''));

describe("a share's per-subscriber session bound", () => {
  it("applies a share's bound tighter than the node's, and the node's to subscribers of no share or of a share without one", () => {
    const shares = new TestShares(
      new Map([
        [0x100, 0],
        [0x200, 1],
      ]),
      [2, 0],
      [0, 0],
    );
    const { engine, sink } = harness({ subscriberSessionsMax: 4 }, 1, 0, { sessionShares: shares });
    for (let p = 1; p <= 2; p++) expect(engine.outbound6(flow(T1, p), 0)).toBe(EngineVerdict.Translate);
    expect(engine.outbound6(flow(T1, 3), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.subscribersessions64);
    // A bound reached is address unreachable (RFC 6146 sec. 3.5.1.1), not a policy refusal.
    expect([engine.result.icmpType, engine.result.icmpCode]).toEqual([1, 3]);
    expect(limits(sink.events)).toEqual(['subscriber-sessions']);
    // Share 1 sets no bound (0): the node's 4 applies; so for a subscriber of no share.
    for (const src of [T2, NONE]) {
      for (let p = 1; p <= 4; p++) expect(engine.outbound6(flow(src, p), 0)).toBe(EngineVerdict.Translate);
      expect(engine.outbound6(flow(src, 5), 0)).toBe(EngineVerdict.ReplyIcmp);
      expect(engine.result.reason).toBe(EngineDropReason.subscribersessions64);
    }
    expect(shares.counts).toEqual([2, 4]);
  });

  it("keeps the node's bound when a share's own is looser", () => {
    const shares = new TestShares(new Map([[0x100, 0]]), [10], [0]);
    const { engine } = harness({ subscriberSessionsMax: 3 }, 1, 0, { sessionShares: shares });
    for (let p = 1; p <= 3; p++) expect(engine.outbound6(flow(T1, p), 0)).toBe(EngineVerdict.Translate);
    expect(engine.outbound6(flow(T1, 4), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.subscribersessions64);
  });

  it("refuses the share's subscriber an inbound session past its bound as subscribersessions46", () => {
    const shares = new TestShares(new Map([[0x100, 0]]), [2], [0]);
    const { engine } = harness({}, 1, 0, { sessionShares: shares });
    // A subscriber of no share takes the table's first row.
    engine.outbound6(flow(NONE, 1), 0);
    const out = flow(T1, 7);
    engine.outbound6(out, 0);
    const m = mappingOf(engine, out)!;
    expect(engine.inbound4(v4('udp', '198.51.100.2', 53, m.address, m.port), 1)).toBe(
      EngineVerdict.Translate,
    );
    expect(engine.inbound4(v4('udp', '198.51.100.3', 53, m.address, m.port), 2)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.subscribersessions46);
    expect(engine.dropCounters[EngineDropReason.subscribersessions46]).toBe(1);
  });
});

describe("a share's node-wide session quota", () => {
  it('refuses the next outbound session of any of its subscribers once the share holds the quota, administratively prohibited', () => {
    const shares = new TestShares(
      new Map([
        [0x100, 0],
        [0x101, 0],
      ]),
      [0],
      [3],
    );
    const { engine, sink } = harness({}, 1, 0, { sessionShares: shares });
    expect(engine.outbound6(flow(T1, 1), 0)).toBe(EngineVerdict.Translate);
    expect(engine.outbound6(flow(T1, 2), 0)).toBe(EngineVerdict.Translate);
    expect(engine.outbound6(flow(T1B, 1), 0)).toBe(EngineVerdict.Translate);
    expect(shares.sessionsOf(0)).toBe(3);
    expect(engine.outbound6(flow(T1B, 2), 0)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.tenantsessions64);
    expect([engine.result.icmpType, engine.result.icmpCode]).toEqual([1, 1]);
    expect(limits(sink.events)).toEqual(['tenant-sessions']);
    // Another share and no share are not held by it.
    expect(engine.outbound6(flow(T2, 1), 0)).toBe(EngineVerdict.Translate);
    expect(engine.outbound6(flow(NONE, 1), 0)).toBe(EngineVerdict.Translate);
  });

  it("counts the share's sessions on other shards, and refuses an inbound session at the quota as tenantsessions46", () => {
    const shares = new TestShares(new Map([[0x100, 0]]), [0], [3]);
    const { engine } = harness({}, 1, 0, { sessionShares: shares });
    const out = flow(T1, 1);
    engine.outbound6(out, 0);
    shares.elsewhere[0] = 1;
    const m = mappingOf(engine, out)!;
    expect(engine.inbound4(v4('udp', '198.51.100.2', 53, m.address, m.port), 1)).toBe(
      EngineVerdict.Translate,
    );
    // 2 here + 1 elsewhere = the quota.
    expect(engine.inbound4(v4('udp', '198.51.100.3', 53, m.address, m.port), 2)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.tenantsessions46);
    shares.elsewhere[0] = 0;
    expect(engine.inbound4(v4('udp', '198.51.100.3', 53, m.address, m.port), 3)).toBe(
      EngineVerdict.Translate,
    );
  });

  it('a quota of 0 is no quota', () => {
    const shares = new TestShares(new Map([[0x100, 0]]), [0], [0]);
    const { engine } = harness({}, 1, 0, { sessionShares: shares });
    for (let p = 1; p <= 6; p++) expect(engine.outbound6(flow(T1, p), 0)).toBe(EngineVerdict.Translate);
    expect(shares.counts[0]).toBe(6);
  });
});

describe('session counts per share', () => {
  it('follows sessions added and expired, and recounts from the state when the shares are replaced', () => {
    const { engine } = harness();
    engine.outbound6(flow(T1, 1), 0);
    engine.outbound6(flow(T1, 2), 0);
    engine.outbound6(flow(T1B, 1), 0);
    engine.outbound6(flow(T2, 1), 0);
    engine.outbound6(flow(NONE, 1), 0);
    const shares = new TestShares(
      new Map([
        [0x100, 0],
        [0x101, 0],
        [0x200, 1],
      ]),
      [0, 0],
      [0, 0],
    );
    shares.counts[0] = 99; // stale: the engine resets before recounting
    engine.setSessionShares(shares);
    expect(shares.resets).toBe(1);
    expect(shares.counts).toEqual([3, 1]);
    engine.outbound6(flow(T2, 2), 60_000);
    expect(shares.counts).toEqual([3, 2]);
    // UDP sessions go after 5 minutes (RFC 6146 sec. 3.5.1); the counts follow.
    tick(engine, 301_000);
    expect(engine.state.sessionCount).toBe(1);
    expect(shares.counts).toEqual([0, 1]);
    // Without shares the engine stops reporting, and the node's bound is the only one.
    engine.setSessionShares(null);
    engine.outbound6(flow(T2, 3), 302_000);
    expect(shares.counts).toEqual([0, 1]);
  });

  it('counts a subscriber at its share bound in the once-a-second gauge', () => {
    const shares = new TestShares(new Map([[0x100, 0]]), [1], [0]);
    const { engine } = harness({ subscriberSessionsMax: 5 }, 1, 0, { sessionShares: shares });
    // The subscriber of no share first, so the share's subscriber is not the table's first row.
    engine.outbound6(flow(T2, 1), 0);
    engine.outbound6(flow(T1, 1), 0);
    const out = new Int32Array(2);
    engine.subscribersAtLimit(out);
    expect(out[0]).toBe(1);
  });
});
