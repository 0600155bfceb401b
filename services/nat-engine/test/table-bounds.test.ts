// Proves each table bound refuses a flow under its own drop reason (not `poolexhausted64` while the
// pool still has blocks), logs one rate-limited line naming the bound and the setting to raise, and
// that the default bounds follow the pool; and pins the inbound per-subscriber session limit at
// exactly subscriberSessionsMax (an off-by-one was caught only by chance before).
import { describe, expect, it } from 'vitest';
import {
  EngineDropReason,
  EngineVerdict,
  type NatEngineConfigInput,
  NatEventType,
  validateConfig,
} from '../src/internal.js';
import { harness, mappingOf, v4, v6 } from './helpers.js';

describe('table bounds: a reason and a log line each', () => {
  it('proves leasedBlocksMax reached is leasedblocksfull64 (not poolexhausted64) while the pool has free blocks, with a LimitReached leased-blocks event', () => {
    const { engine, sink } = harness({
      pool: ['203.0.113.0/30'],
      blockSizePorts: 512,
      leasedBlocksMax: 2,
    });
    expect(engine.outbound6(v6('udp', '2001:db8:0:100::1', 1, '198.51.100.1', 53), 0)).toBe(0);
    expect(engine.outbound6(v6('udp', '2001:db8:0:200::1', 1, '198.51.100.1', 53), 0)).toBe(0);
    // Two blocks leased; the /30 has 4 x 126 UDP blocks. The third subscriber is refused by the bound.
    expect(engine.outbound6(v6('udp', '2001:db8:0:300::1', 1, '198.51.100.1', 53), 0)).toBe(
      EngineVerdict.ReplyIcmp,
    );
    expect(engine.result.reason).toBe(EngineDropReason.leasedblocksfull64);
    expect(engine.dropCounters[EngineDropReason.poolexhausted64]).toBe(0);
    const limits = sink.events.filter((e) => e.type === NatEventType.LimitReached);
    expect(limits.map((e) => (e as { limit: string }).limit)).toEqual(['leased-blocks']);
  });

  it('proves the bound is logged at most once per interval, naming the setting, its value and the refusals in between', () => {
    const lines: string[] = [];
    const { engine } = harness({ pool: ['203.0.113.0/30'], blockSizePorts: 512, leasedBlocksMax: 1 }, 1, 0, {
      log: (line) => lines.push(line),
      limitLogIntervalMs: 10_000,
    });
    expect(engine.outbound6(v6('udp', '2001:db8:0:100::1', 1, '198.51.100.1', 53), 0)).toBe(0);
    for (let i = 0; i < 5; i++)
      engine.outbound6(v6('udp', `2001:db8:0:${i + 2}00::1`, 1, '198.51.100.1', 53), 1000);
    expect(lines).toEqual([
      'nat: drop.nat.leasedblocksfull64: leasedBlocksMax (1) reached, refusing new blocks, so new subscribers and full subscribers; raise leasedBlocksMax in the nat configuration (1 refused since the last line)',
    ]);
    engine.outbound6(v6('udp', '2001:db8:0:900::1', 1, '198.51.100.1', 53), 11_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/leasedBlocksMax \(1\) reached.*\(5 refused since the last line\)$/);
    expect(engine.dropCounters[EngineDropReason.leasedblocksfull64]).toBe(6);
  });

  it('proves subscribersMax reached is subscribersfull64 and sessionsMax reached inbound is sessionsfull46, each logged under its own setting', () => {
    const lines: string[] = [];
    const { engine } = harness({ pool: ['203.0.113.0/30'], subscribersMax: 1, sessionsMax: 1 }, 1, 0, {
      log: (line) => lines.push(line),
    });
    const first = v6('udp', '2001:db8:0:100::1', 1, '198.51.100.1', 53);
    expect(engine.outbound6(first, 0)).toBe(0);
    const { address, port } = mappingOf(engine, first)!;
    expect(engine.outbound6(v6('udp', '2001:db8:0:200::1', 1, '198.51.100.1', 53), 0)).toBe(
      EngineVerdict.ReplyIcmp,
    );
    // The session table (1) is full before the subscriber table is looked at.
    expect(engine.result.reason).toBe(EngineDropReason.sessionsfull64);
    expect(engine.inbound4(v4('udp', '198.51.100.9', 53, address, port), 0)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.sessionsfull46);
    expect(lines.map((l) => l.split(':')[1].trim())).toEqual([
      'drop.nat.sessionsfull64',
      'drop.nat.sessionsfull46',
    ]);
    expect(lines.every((l) => l.includes('raise sessionsMax'))).toBe(true);

    const two = harness({ pool: ['203.0.113.0/30'], subscribersMax: 1 }, 1, 0, { log: (l) => lines.push(l) });
    expect(two.engine.outbound6(v6('udp', '2001:db8:0:100::1', 1, '198.51.100.1', 53), 0)).toBe(0);
    expect(two.engine.outbound6(v6('udp', '2001:db8:0:200::1', 1, '198.51.100.1', 53), 0)).toBe(
      EngineVerdict.ReplyIcmp,
    );
    expect(two.engine.result.reason).toBe(EngineDropReason.subscribersfull64);
    expect(lines.at(-1)).toMatch(/subscribersMax \(1\) reached.*raise subscribersMax/);
  });
});

describe('inbound per-subscriber session limit (RFC 6888 REQ-4)', () => {
  it('proves a subscriber with subscriberSessionsMax = 3 gets exactly 3 sessions: the 3rd inbound session is accepted, the 4th refused as subscribersessions46', () => {
    const { engine } = harness({ pool: ['203.0.113.0/30'], subscriberSessionsMax: 3 });
    const out = v6('udp', '2001:db8:0:100::1', 4000, '198.51.100.1', 53);
    expect(engine.outbound6(out, 0)).toBe(EngineVerdict.Translate); // session 1
    const { address, port } = mappingOf(engine, out)!;
    // Endpoint-independent filtering: new remotes reach the mapping, each making a session.
    expect(engine.inbound4(v4('udp', '198.51.100.2', 53, address, port), 1)).toBe(EngineVerdict.Translate); // 2
    expect(engine.inbound4(v4('udp', '198.51.100.3', 53, address, port), 2)).toBe(EngineVerdict.Translate); // 3
    expect(engine.state.subscriberSessionCount.reduce((a, b) => a + b, 0)).toBe(3);
    expect(engine.inbound4(v4('udp', '198.51.100.4', 53, address, port), 3)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.subscribersessions46);
    expect(engine.state.sessionCount).toBe(3);
    // Existing sessions still pass.
    expect(engine.inbound4(v4('udp', '198.51.100.3', 53, address, port), 4)).toBe(EngineVerdict.Translate);
  });
});

describe('default bounds follow the pool', () => {
  const sized = (input: Partial<NatEngineConfigInput>) =>
    validateConfig({ pool: ['203.0.113.0/24'], ...input });
  it('proves a /24 with 512-port blocks defaults to one subscriber per UDP block (32,256) and leases up to the 64 MiB slab budget (32,768 blocks)', () => {
    const c = sized({ blockSizePorts: 512 });
    expect(c.subscribersMax).toBe(256 * 126);
    expect(c.leasedBlocksMax).toBe((1 << 24) / 512);
  });
  it('proves a small pool can lease every block by default, and configured bounds win', () => {
    const c = sized({ pool: ['203.0.113.0/30'], blockSizePorts: 512 });
    expect(c.leasedBlocksMax).toBe(c.totalBlocks);
    expect(c.subscribersMax).toBe(4 * 126);
    const d = sized({ subscribersMax: 100, leasedBlocksMax: 200 });
    expect([d.subscribersMax, d.leasedBlocksMax]).toEqual([100, 200]);
  });
});

describe('subscribers at a limit (the once-a-second gauge)', () => {
  it('counts subscribers at their session bound and at their block bound, and follows them down again', () => {
    const { engine } = harness({
      pool: ['203.0.113.0/28'],
      blockSizePorts: 512,
      subscriberSessionsMax: 3,
      subscriberBlocksMax: 1,
    });
    const out = new Int32Array(2);
    engine.subscribersAtLimit(out);
    expect(Array.from(out)).toEqual([0, 0]);
    // Subscriber A: 2 sessions (under 3), one UDP block (its bound: 1 block per protocol).
    for (let port = 1; port <= 2; port++)
      expect(engine.outbound6(v6('udp', '2001:db8:0:100::1', port, '198.51.100.1', 53), 0)).toBe(0);
    engine.subscribersAtLimit(out);
    expect(Array.from(out)).toEqual([0, 1]);
    // The third session puts A at its session bound; B has one session and one block.
    expect(engine.outbound6(v6('udp', '2001:db8:0:100::1', 3, '198.51.100.1', 53), 0)).toBe(0);
    expect(engine.outbound6(v6('udp', '2001:db8:0:200::1', 1, '198.51.100.1', 53), 0)).toBe(0);
    engine.subscribersAtLimit(out);
    expect(Array.from(out)).toEqual([1, 2]);
    // A fourth session of A is refused: it is at the bound, the count says so.
    expect(engine.outbound6(v6('udp', '2001:db8:0:100::1', 4, '198.51.100.1', 53), 0)).not.toBe(0);
    // After the UDP timeout the sessions are gone (the blocks stay until their idle timeout).
    engine.advance(6 * 60_000);
    engine.subscribersAtLimit(out);
    expect(out[0]).toBe(0);
    for (let t = 7; t <= 30; t++) engine.advance(t * 60_000);
    engine.subscribersAtLimit(out);
    expect(Array.from(out)).toEqual([0, 0]);
  });
});
