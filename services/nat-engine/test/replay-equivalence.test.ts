// Replay equivalence: the engine's state is a pure fold over its events. A seeded random workload of
// thousands of flows over many subscribers runs with expiries; a fresh state fed only the event log must
// reach exactly the same BIB, sessions and block table, entry by entry; the pool invariants hold throughout.
// Lifetime refreshes are published only when the logged lifetime would end within refreshLeadMs, so a
// replica's session lifetimes may be shorter than live's, but never end before now + refreshLeadMs (less
// one wheel tick) unless they equal live's: a replica taking over never expires a session live still has.
import { describe, expect, it } from 'vitest';
import {
  ArrayEventSink,
  applyEvents,
  checkInvariants,
  createFlowKey4,
  createFlowKey6,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  dumpState,
  EngineDropReason,
  EngineVerdict,
  type NatEngine,
  Protocol,
  TcpFlag,
} from '../src/internal.js';
import { harness } from './helpers.js';

interface Flow {
  protocol: number;
  src6: Uint32Array;
  srcPort: number;
  dst4: number;
  dstPort: number;
  pool4: number;
  poolPort: number;
}

function runWorkload(
  engine: NatEngine,
  seed: number,
  flowsWanted: number,
  onCheckpoint: (nowMs: number) => void,
) {
  const rnd = createSeededRandom(seed);
  const pick = (n: number) => rnd.nextUint32() % n;
  const flows: Flow[] = [];
  const key6 = createFlowKey6();
  const key4 = createFlowKey4();
  let now = 0;
  let created = 0;
  let refused = 0;
  let step = 0;
  const protocols = [Protocol.Tcp, Protocol.Udp, Protocol.Icmp6];
  while (created < flowsWanted) {
    step++;
    now += pick(400);
    if (pick(600) === 0) now += 60_000 * (1 + pick(6)); // idle stretches make mappings, sessions and blocks expire
    const action = pick(10);
    if (action < 4 || flows.length === 0) {
      // A new flow from one of 300 subscribers (/56 each, a few hosts each); eight busy ones hit their limits.
      const sub = pick(2) === 0 ? pick(4) : pick(300);
      key6.protocol = protocols[pick(3)];
      key6.src6[0] = 0x20010db8;
      key6.src6[1] = sub << 8;
      key6.src6[2] = 0;
      key6.src6[3] = 1 + pick(3);
      key6.srcPort = 1024 + pick(2000);
      key6.dst4 = (0xc6336400 + pick(64)) >>> 0; // 198.51.100.0/26
      key6.dstPort = key6.protocol === Protocol.Icmp6 ? key6.srcPort : 1 + pick(1000);
      key6.tcpFlags = TcpFlag.Syn;
      key6.icmpError = false;
      const v = engine.outbound6(key6, now);
      if (v === EngineVerdict.Translate) {
        created++;
        flows.push({
          protocol: key6.protocol,
          src6: key6.src6.slice(),
          srcPort: key6.srcPort,
          dst4: key6.dst4,
          dstPort: key6.dstPort,
          pool4: engine.result.v4Src,
          poolPort: engine.result.v4SrcPort,
        });
      } else refused++;
    } else {
      const f = flows[pick(flows.length)];
      const flags = [
        TcpFlag.Ack,
        TcpFlag.Ack,
        TcpFlag.Syn | TcpFlag.Ack,
        TcpFlag.Fin | TcpFlag.Ack,
        TcpFlag.Rst,
      ][pick(5)];
      if (action < 7) {
        key6.protocol = f.protocol;
        key6.src6.set(f.src6);
        key6.srcPort = f.srcPort;
        key6.dst4 = f.dst4;
        key6.dstPort = f.dstPort;
        key6.tcpFlags = flags;
        key6.icmpError = pick(20) === 0;
        engine.outbound6(key6, now);
      } else {
        key4.protocol = f.protocol === Protocol.Icmp6 ? Protocol.Icmp4 : f.protocol;
        key4.src4 = pick(8) === 0 ? (0xc6336400 + pick(64)) >>> 0 : f.dst4; // sometimes a stranger
        key4.srcPort = f.protocol === Protocol.Icmp6 ? f.poolPort : f.dstPort;
        key4.dst4 = f.pool4;
        key4.dstPort = f.poolPort;
        key4.tcpFlags = flags;
        key4.icmpError = pick(20) === 0;
        engine.inbound4(key4, now);
      }
    }
    if (step % 50 === 0) {
      engine.advance(now);
      engine.flush(now);
    }
    if (step % 2000 === 0) onCheckpoint(now);
  }
  engine.advance(now);
  engine.flush(now);
  onCheckpoint(now);
  return { created, refused, now, step };
}

const WHEEL_TICK_MS = 1000;

function expectReplayEqual(engine: NatEngine, events: Parameters<typeof applyEvents>[1], nowMs: number) {
  const replay = createReplayState(engine.config, 0);
  applyEvents(replay, events);
  const live = dumpState(engine.state, { expiry: 'logged' });
  const folded = dumpState(replay);
  // Each live session's lifetime on the replica: at most live's, and either live's or far enough ahead.
  const state = engine.state;
  for (let s = 0; s < state.config.sessionsMax; s++) {
    if (!state.isSessionUsed(s)) continue;
    const m = state.sessionMappingOf(s);
    const r = replay.findSession4(
      state.mappingProtocolOf(m),
      state.mappingV4Of(m),
      state.mappingV4PortOf(m),
      state.sessionRemoteOf(s),
      state.sessionRemotePortOf(s),
    );
    expect(r).not.toBe(-1);
    const replicaMs = replay.sessionExpiresAtOf(r);
    const liveMs = state.sessionExpiresAtOf(s);
    expect(replicaMs).toBeLessThanOrEqual(liveMs);
    if (replicaMs !== liveMs) {
      expect(replicaMs).toBeGreaterThanOrEqual(nowMs + engine.config.refreshLeadMs - WHEEL_TICK_MS);
    }
  }
  expect(folded.blocks).toEqual(live.blocks);
  expect(folded.mappings).toEqual(live.mappings);
  expect(folded.sessions).toEqual(live.sessions);
  expect(folded.subscribers).toEqual(live.subscribers);
  expect(checkInvariants(replay)).toEqual([]);
  return live;
}

describe('replay equivalence (RFC 6146 state as a fold over events)', () => {
  for (const [seed, filtering] of [
    [7, 'endpoint-independent'],
    [8, 'address-dependent'],
  ] as const) {
    it(`proves a fresh state fed only the event log equals the live engine entry by entry (seed ${seed}, ${filtering})`, () => {
      // A small pool and tight per-subscriber limits so quota exhaustion, block churn and the 120 s
      // hold-down are all exercised.
      const { engine, sink } = harness(
        {
          pool: ['203.0.113.0/29', '192.0.2.16-192.0.2.19'],
          blockSizePorts: 64,
          ports: { tcp: [1024, 2047], udp: [1024, 2047], icmp: [1024, 2047] },
          subscriberBlocksMax: 2,
          subscriberSessionsMax: 40,
          filtering,
          sessionsMax: 20_000,
          subscribersMax: 512,
        },
        seed,
      );
      let checkpoints = 0;
      let peakSessions = 0;
      const { created, refused, now } = runWorkload(engine, seed * 101, 6000, (nowMs) => {
        engine.advance(nowMs);
        engine.flush(nowMs);
        peakSessions = Math.max(peakSessions, engine.state.sessionCount);
        expect(checkInvariants(engine.state)).toEqual([]);
        expectReplayEqual(engine, sink.events, nowMs);
        checkpoints++;
      });
      expect(created).toBe(6000);
      expect(refused).toBeGreaterThan(0);
      expect(engine.dropCounters[EngineDropReason.subscribersessions64]).toBeGreaterThan(0);
      expect(engine.dropCounters[EngineDropReason.poolexhausted64]).toBeGreaterThan(0);
      expect(checkpoints).toBeGreaterThan(3);
      expect(peakSessions).toBeGreaterThan(100);
      // Then everything expires: sessions, mappings and finally blocks; replay agrees on the empty state.
      engine.advance(now + 3 * 3_600_000);
      engine.flush(now + 3 * 3_600_000);
      engine.advance(now + 4 * 3_600_000);
      engine.flush(now + 4 * 3_600_000);
      // Blocks go back to the pool only after their last port's 120 s hold-down (blockIdleTimeoutMs).
      expect(engine.state.leasedBlockCount).toBeGreaterThan(0);
      engine.advance(now + 4 * 3_600_000 + 121_000);
      const live = expectReplayEqual(engine, sink.events, now + 4 * 3_600_000 + 121_000);
      expect(live.sessions).toEqual([]);
      expect(live.mappings).toEqual([]);
      expect(live.blocks).toEqual([]);
      expect(engine.state.subscriberCount).toBe(0);
    });
  }
});

describe('takeover from the event log', () => {
  it('proves a standby that folded the log serves established flows on the same IPv4 address and port, and its own events continue the log', () => {
    // DESIGN.md failure model: "engine node killed: established TCP and UDP flows keep their IPv4
    // address and port and continue".
    const first = harness({ filtering: 'address-dependent' }, 3);
    const udp = createFlowKey6();
    udp.protocol = Protocol.Udp;
    udp.src6.set([0x20010db8, 0x100, 0, 1]);
    udp.srcPort = 5000;
    udp.dst4 = 0xc6336401;
    udp.dstPort = 53;
    const tcp = createFlowKey6();
    tcp.protocol = Protocol.Tcp;
    tcp.src6.set([0x20010db8, 0x200, 0, 1]);
    tcp.srcPort = 40000;
    tcp.dst4 = 0xc6336402;
    tcp.dstPort = 443;
    tcp.tcpFlags = TcpFlag.Syn;
    first.engine.outbound6(udp, 0);
    const udpTuple = [first.engine.result.v4Src, first.engine.result.v4SrcPort];
    first.engine.outbound6(tcp, 0);
    const tcpTuple = [first.engine.result.v4Src, first.engine.result.v4SrcPort];
    const synAck = createFlowKey4();
    Object.assign(synAck, {
      protocol: Protocol.Tcp,
      src4: 0xc6336402,
      srcPort: 443,
      dst4: tcpTuple[0],
      dstPort: tcpTuple[1],
      tcpFlags: TcpFlag.Syn | TcpFlag.Ack,
    });
    first.engine.inbound4(synAck, 10);
    first.engine.outbound6(udp, 60_000);
    first.engine.flush(60_000);
    // The refresh at 60 s is not published yet (the logged 5 min are far off); 20 s before they end
    // the wheel publishes the live lifetime (6 min).
    first.engine.advance(279_000);
    first.engine.flush(279_000);
    expect(first.sink.events.at(-1)).not.toMatchObject({ type: 6, timeMs: 279_000 });
    first.engine.advance(281_000);
    first.engine.flush(281_000);
    expect(first.sink.events.at(-1)).toMatchObject({ type: 6, timeMs: 281_000, remainingMs: 79_000 });

    // The standby folds the log and takes over (the first engine is gone).
    const state = createReplayState(first.engine.config, 0);
    applyEvents(state, first.sink.events);
    const sink = new ArrayEventSink();
    const standby = createNatEngine(
      { pool: [] },
      { sink, random: createSeededRandom(99), startMs: 282_000, state },
    );
    udp.tcpFlags = 0;
    expect(standby.outbound6(udp, 282_000)).toBe(EngineVerdict.Translate);
    expect([standby.result.v4Src, standby.result.v4SrcPort]).toEqual(udpTuple);
    tcp.tcpFlags = TcpFlag.Ack;
    expect(standby.outbound6(tcp, 282_000)).toBe(EngineVerdict.Translate);
    expect([standby.result.v4Src, standby.result.v4SrcPort]).toEqual(tcpTuple);
    synAck.tcpFlags = TcpFlag.Ack;
    expect(standby.inbound4(synAck, 282_000)).toBe(EngineVerdict.Translate);
    expect(standby.result.v6Port).toBe(40000);
    // The UDP session's expiry carried over (refreshed at 60 s, so it lives until 6 min).
    standby.advance(359_000);
    expect(standby.outbound6(udp, 359_000)).toBe(EngineVerdict.Translate);
    standby.advance(359_000);
    standby.flush(359_000);
    // One log, two writers in turn: the fold of both equals the standby's state.
    const again = createReplayState(first.engine.config, 0);
    applyEvents(again, [...first.sink.events, ...sink.events]);
    expect(dumpState(again)).toEqual(dumpState(standby.state, { expiry: 'logged' }));
  });
});

describe('robustness on arbitrary flow keys', () => {
  it('proves random flow keys (any protocol, flags, ports, ICMP error bit) never throw, keep the invariants and replay exactly', () => {
    // DESIGN.md failure model: "malformed packet: dropped with a named reason counter; never a crash".
    const { engine, sink } = harness(
      { pool: ['203.0.113.0/30'], blockSizePorts: 64, subscriberSessionsMax: 30 },
      21,
    );
    const rnd = createSeededRandom(2024);
    const key6 = createFlowKey6();
    const key4 = createFlowKey4();
    const protocols = [0, 1, 6, 17, 58, 132, 255];
    let now = 0;
    for (let i = 0; i < 30_000; i++) {
      now += rnd.nextUint32() % 200;
      if (rnd.nextUint32() % 2 === 0) {
        key6.protocol = protocols[rnd.nextUint32() % protocols.length];
        key6.src6.set([0x20010db8, (rnd.nextUint32() % 16) << 8, rnd.nextUint32(), rnd.nextUint32() % 4]);
        key6.srcPort = rnd.nextUint32() & 0xffff;
        key6.dst4 =
          rnd.nextUint32() % 3 === 0 ? (0xcb007100 + (rnd.nextUint32() & 3)) >>> 0 : rnd.nextUint32();
        key6.dstPort = rnd.nextUint32() & 0xffff;
        key6.tcpFlags = rnd.nextUint32() & 0xff;
        key6.icmpError = rnd.nextUint32() % 8 === 0;
        expect(engine.outbound6(key6, now)).toBeLessThanOrEqual(3);
      } else {
        key4.protocol = protocols[rnd.nextUint32() % protocols.length];
        key4.src4 = rnd.nextUint32();
        key4.srcPort = rnd.nextUint32() & 0xffff;
        key4.dst4 = (0xcb007100 + (rnd.nextUint32() & 3)) >>> 0;
        key4.dstPort = 1024 + (rnd.nextUint32() % 1024);
        key4.tcpFlags = rnd.nextUint32() & 0xff;
        key4.icmpError = rnd.nextUint32() % 8 === 0;
        expect(engine.inbound4(key4, now)).toBeLessThanOrEqual(3);
      }
      if (i % 500 === 0) {
        engine.advance(now);
        engine.flush(now);
      }
    }
    engine.advance(now);
    engine.flush(now);
    expect(engine.dropCounters[EngineDropReason.protocol64]).toBeGreaterThan(0);
    expect(checkInvariants(engine.state)).toEqual([]);
    expectReplayEqual(engine, sink.events, now);
  });
});
