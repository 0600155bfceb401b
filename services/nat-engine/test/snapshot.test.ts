// NatState snapshots: a snapshot restores to the same subscribers, blocks (with port hold-downs), BIB and
// sessions (live and logged lifetimes) entry by entry, through the shared round-trip helper; restore of
// a snapshot plus the events after it equals the live engine entry by entry; a restored engine serves
// established flows on the same IPv4 address and port; a snapshot of another pool or block geometry,
// too large for the bounds, of a newer format, cut short or damaged is refused as a value, never thrown.
import { describe, expect, it } from 'vitest';
import { type Codec, expectRoundTrip } from '../../../test/support/codec-round-trip.js';
import {
  ArrayEventSink,
  applyEvents,
  checkInvariants,
  createFlowKey4,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  dumpState,
  EngineVerdict,
  NAT_SNAPSHOT_FORMAT_VERSION,
  type NatEngine,
  type NatState,
  natStateSnapshotBytesMax,
  Protocol,
  restoreNatState,
  snapshotNatState,
  TcpFlag,
  writeNatStateSnapshot,
} from '../src/internal.js';
import { harness } from './helpers.js';

const CONFIG = {
  pool: ['203.0.113.0/29'],
  blockSizePorts: 64,
  ports: { tcp: [1024, 2047], udp: [1024, 2047], icmp: [1024, 2047] },
  subscriberBlocksMax: 3,
  sessionsMax: 8192,
  subscribersMax: 512,
  staticBib: [
    { protocol: 'tcp', ipv6: '2001:db8:0:ff00::80', ipv6Port: 80, ipv4: '203.0.113.1', ipv4Port: 80 },
  ],
} as const;

/** Seeded churn: new flows of many subscribers, packets both ways, idle stretches that expire things. */
function churn(engine: NatEngine, seed: number, steps: number, startMs: number): number {
  const rnd = createSeededRandom(seed);
  const pick = (n: number) => rnd.nextUint32() % n;
  const key6 = createFlowKey6();
  const key4 = createFlowKey4();
  const flows: { p: number; a: number; sp: number; d: number; dp: number; v4: number; v4p: number }[] = [];
  let now = startMs;
  for (let i = 0; i < steps; i++) {
    now += pick(500);
    if (pick(400) === 0) now += 60_000 * (1 + pick(5));
    if (pick(3) === 0 || flows.length === 0) {
      key6.protocol = [Protocol.Tcp, Protocol.Udp, Protocol.Icmp6][pick(3)];
      key6.src6.set([0x20010db8, pick(200) << 8, 0, 1 + pick(2)]);
      key6.srcPort = 1024 + pick(3000);
      key6.dst4 = (0xc6336400 + pick(32)) >>> 0;
      key6.dstPort = key6.protocol === Protocol.Icmp6 ? key6.srcPort : 1 + pick(500);
      key6.tcpFlags = TcpFlag.Syn;
      key6.icmpError = false;
      if (engine.outbound6(key6, now) === EngineVerdict.Translate) {
        flows.push({
          p: key6.protocol,
          a: key6.src6[1],
          sp: key6.srcPort,
          d: key6.dst4,
          dp: key6.dstPort,
          v4: engine.result.v4Src,
          v4p: engine.result.v4SrcPort,
        });
      }
    } else {
      const f = flows[pick(flows.length)];
      key4.protocol = f.p === Protocol.Icmp6 ? Protocol.Icmp4 : f.p;
      key4.src4 = f.d;
      key4.srcPort = f.p === Protocol.Icmp6 ? f.v4p : f.dp;
      key4.dst4 = f.v4;
      key4.dstPort = f.v4p;
      key4.tcpFlags = [TcpFlag.Ack, TcpFlag.Syn | TcpFlag.Ack, TcpFlag.Fin | TcpFlag.Ack][pick(3)];
      key4.icmpError = false;
      engine.inbound4(key4, now);
    }
    if (i % 40 === 0) {
      engine.advance(now);
      engine.flush(now);
    }
  }
  engine.advance(now);
  engine.flush(now);
  return now;
}

function dumps(state: NatState) {
  return { live: dumpState(state), logged: dumpState(state, { expiry: 'logged' }) };
}

function codecFor(engine: NatEngine, timeMs: number): Codec<NatState> {
  return {
    encode: (state, out, offset) => writeNatStateSnapshot(state, timeMs, out, offset),
    decode: (bytes, offset, length) => {
      const restored = restoreNatState(engine.config, bytes, offset, length, {
        hashSeed: 12345,
        startMs: timeMs,
      });
      if (!restored.ok) throw new Error(restored.message);
      expect(restored.timeMs).toBe(timeMs);
      expect(checkInvariants(restored.state)).toEqual([]);
      return dumps(restored.state) as never;
    },
    bytesMax: (state) => natStateSnapshotBytesMax(state),
  };
}

describe('NatState snapshots', () => {
  it('proves a snapshot restores every subscriber, block with its port holds, BIB entry and session, entry by entry', () => {
    const { engine } = harness(CONFIG, 31);
    const now = churn(engine, 5, 6000, 1_000_000);
    expect(engine.state.sessionCount).toBeGreaterThan(200);
    expect(dumpState(engine.state).blocks.some((b) => !b.endsWith('freed []'))).toBe(true); // holds exist
    expect(dumpState(engine.state).mappings.some((m) => m.includes('static'))).toBe(true);
    expectRoundTrip(codecFor(engine, now), engine.state, dumps(engine.state));
    // The empty state too.
    const empty = harness(CONFIG, 32).engine;
    expectRoundTrip(codecFor(empty, 0), empty.state, dumps(empty.state));
  });

  it('proves restore(snapshot) + the events after it equals the live engine, entry by entry', () => {
    const sink = new ArrayEventSink();
    const engine = createNatEngine(CONFIG as never, { sink, random: createSeededRandom(8), startMs: 0 });
    engine.start(0);
    let now = churn(engine, 6, 4000, 0);
    const cut = sink.events.length;
    const snapshot = snapshotNatState(engine.state, now);
    now = churn(engine, 7, 4000, now);
    const restored = restoreNatState(engine.config, snapshot, 0, snapshot.length, {
      hashSeed: 777,
      startMs: now,
    });
    expect(restored.ok).toBe(true);
    if (!restored.ok) return;
    expect(applyEvents(restored.state, sink.events.slice(cut))).toBe(sink.events.length - cut);
    expect(sink.events.length - cut).toBeGreaterThan(1000);
    expect(dumpState(restored.state, { expiry: 'logged' })).toEqual(
      dumpState(engine.state, { expiry: 'logged' }),
    );
    expect(checkInvariants(restored.state)).toEqual([]);
  });

  it('proves an engine on a restored state serves an established flow on the same IPv4 address and port', () => {
    const { engine } = harness(CONFIG, 9);
    const udp = createFlowKey6();
    Object.assign(udp, { protocol: Protocol.Udp, srcPort: 5000, dst4: 0xc6336401, dstPort: 53 });
    udp.src6.set([0x20010db8, 0x100, 0, 1]);
    expect(engine.outbound6(udp, 1000)).toBe(EngineVerdict.Translate);
    const tuple = [engine.result.v4Src, engine.result.v4SrcPort];
    const snapshot = snapshotNatState(engine.state, 2000);
    const restored = restoreNatState(engine.config, snapshot, 0, snapshot.length, {
      hashSeed: 1,
      startMs: 60_000,
    });
    if (!restored.ok) throw new Error(restored.message);
    const again = createNatEngine(
      { pool: [] },
      { sink: new ArrayEventSink(), random: createSeededRandom(2), startMs: 60_000, state: restored.state },
    );
    const back = createFlowKey4();
    Object.assign(back, {
      protocol: Protocol.Udp,
      src4: 0xc6336401,
      srcPort: 53,
      dst4: tuple[0],
      dstPort: tuple[1],
    });
    expect(again.inbound4(back, 60_000)).toBe(EngineVerdict.Translate);
    expect(again.result.v6Port).toBe(5000);
    expect(again.outbound6(udp, 60_000)).toBe(EngineVerdict.Translate);
    expect([again.result.v4Src, again.result.v4SrcPort]).toEqual(tuple);
  });

  it('proves a snapshot of another pool or block size, or too large for the bounds, is refused naming the cause and the fix', () => {
    const { engine } = harness(CONFIG, 10);
    churn(engine, 3, 500, 0);
    const snapshot = snapshotNatState(engine.state, 1);
    const restoreWith = (config: object) =>
      restoreNatState(harness({ ...CONFIG, ...config }, 1).engine.config, snapshot, 0, snapshot.length, {
        hashSeed: 1,
        startMs: 0,
      });
    expect(restoreWith({ pool: ['203.0.113.0/28'] })).toMatchObject({
      ok: false,
      refusal: 'config-mismatch',
      message: expect.stringMatching(
        /another pool, port range, block size.*restore that configuration, or move the state directory away/,
      ),
    });
    expect(restoreWith({ blockSizePorts: 128 })).toMatchObject({ ok: false, refusal: 'config-mismatch' });
    expect(restoreWith({ sessionsMax: 2, mappingsMax: 8192 })).toMatchObject({
      ok: false,
      refusal: 'too-large',
      message: expect.stringMatching(/more than sessionsMax 2 — raise sessionsMax/),
    });
    // Timeouts are not part of the fingerprint: a restart may change them.
    expect(restoreWith({ timeouts: { udpMs: 600_000 } }).ok).toBe(true);
  });

  it('proves a newer format, every truncation and flipped bytes are refused or restore a state that keeps the invariants, never thrown', () => {
    const { engine } = harness(CONFIG, 11);
    churn(engine, 4, 800, 0);
    const snapshot = snapshotNatState(engine.state, 1);
    const newer = snapshot.slice();
    newer[4] = NAT_SNAPSHOT_FORMAT_VERSION + 1;
    expect(restoreNatState(engine.config, newer, 0, newer.length, { hashSeed: 1, startMs: 0 })).toMatchObject(
      { ok: false, refusal: 'newer-format' },
    );
    for (let length = 0; length < snapshot.length; length += 13) {
      expect(restoreNatState(engine.config, snapshot, 0, length, { hashSeed: 1, startMs: 0 }).ok).toBe(false);
    }
    const rnd = createSeededRandom(3);
    for (let n = 0; n < 150; n++) {
      const damaged = snapshot.slice();
      damaged[69 + (rnd.nextUint32() % (damaged.length - 69))] ^= 1 << (rnd.nextUint32() % 8);
      const result = restoreNatState(engine.config, damaged, 0, damaged.length, { hashSeed: 1, startMs: 0 });
      if (result.ok) expect(checkInvariants(result.state)).toEqual([]);
    }
  });
});
