// The binary event codec: every event type round-trips exactly (alone and at an offset in a larger
// buffer), a real engine log of thousands of events decodes to the same events and folds to the same
// state, and a payload of a newer version, cut short, over-long or damaged is refused as a whole (a value
// and a counter), never partly decoded and never thrown.
import { describe, expect, it } from 'vitest';
import { type Codec, expectRoundTrip } from '../../../test/support/codec-round-trip.js';
import {
  applyEvents,
  createReplayState,
  createSeededRandom,
  decodeNatEvents,
  dumpState,
  encodeNatEventBatch,
  encodeNatEvents,
  NAT_EVENT_SCHEMA_VERSION,
  type NatEvent,
  NatEventDecoder,
  natEventsBytesMax,
  TcpFlag,
} from '../src/internal.js';
import { harness, tick, v6 } from './helpers.js';

const SHARD = 3;
const EPOCH = 9;

const codec: Codec<NatEvent[]> = {
  encode: (events, out, offset) => encodeNatEvents(events, out, offset),
  decode: (bytes, offset, length) => {
    const decoded = decodeNatEvents(bytes, offset, length, SHARD, EPOCH);
    if (!decoded.ok) throw new Error(decoded.message);
    return decoded.events;
  },
  bytesMax: (events) => natEventsBytesMax(events.length),
};

const head = { version: NAT_EVENT_SCHEMA_VERSION, shard: SHARD, epoch: EPOCH };

/** One of each type and flag, with edge values (full prefix, zero prefix, negative lifetime, big times). */
const everyKind: NatEvent[] = [
  {
    type: 1,
    ...head,
    timeMs: 1_764_500_000_123,
    protocol: 1,
    address: 0xcb007101,
    firstPort: 1024,
    subscriber: [0x20010db8, 0x100, 0, 0],
  },
  {
    type: 1,
    ...head,
    timeMs: 1_764_500_000_123,
    protocol: 0,
    address: 0xffffffff,
    firstPort: 65024,
    subscriber: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
  },
  {
    type: 1,
    ...head,
    timeMs: 1_764_500_000_124,
    protocol: 2,
    address: 0,
    firstPort: 0,
    subscriber: [0, 0, 0, 0],
  },
  {
    type: 3,
    ...head,
    timeMs: 1_764_500_000_124,
    protocol: 1,
    ipv6: [0x20010db8, 0x100, 0x12345678, 0x9abcdef0],
    ipv6Port: 5000,
    ipv4: 0xcb007101,
    ipv4Port: 1025,
    isStatic: false,
  },
  {
    type: 5,
    ...head,
    timeMs: 1_764_500_000_124,
    protocol: 1,
    ipv4: 0xcb007101,
    ipv4Port: 1025,
    remote: 0xc6336401,
    remotePort: 53,
    state: 0,
    remainingMs: 300_000,
  },
  {
    type: 3,
    ...head,
    timeMs: 1_764_500_000_100,
    protocol: 0,
    ipv6: [0x20010db8, 0x200, 0, 1],
    ipv6Port: 22,
    ipv4: 0xcb007102,
    ipv4Port: 22,
    isStatic: true,
  },
  {
    type: 5,
    ...head,
    timeMs: 1_764_500_000_200,
    protocol: 0,
    ipv4: 0xcb007102,
    ipv4Port: 22,
    remote: 0xc6336402,
    remotePort: 40000,
    state: 2,
    remainingMs: 240_000,
  },
  {
    type: 6,
    ...head,
    timeMs: 1_764_500_000_201,
    protocol: 0,
    ipv4: 0xcb007102,
    ipv4Port: 22,
    remote: 0xc6336402,
    remotePort: 40000,
    state: 3,
    remainingMs: -5,
  },
  {
    type: 6,
    ...head,
    timeMs: 1_764_500_000_300,
    protocol: 2,
    ipv4: 0xcb007101,
    ipv4Port: 1025,
    remote: 0xc6336401,
    remotePort: 0,
    state: 0,
    remainingMs: 7_440_000,
  },
  {
    type: 7,
    ...head,
    timeMs: 1_764_500_000_300,
    protocol: 2,
    ipv4: 0xcb007101,
    ipv4Port: 1025,
    remote: 0xc6336401,
    remotePort: 0,
    cause: 0,
  },
  {
    type: 7,
    ...head,
    timeMs: 1_764_500_000_300,
    protocol: 0,
    ipv4: 0xcb007102,
    ipv4Port: 22,
    remote: 0xc6336402,
    remotePort: 40000,
    cause: 1,
  },
  { type: 4, ...head, timeMs: 1_764_500_000_300, protocol: 0, ipv4: 0xcb007102, ipv4Port: 22 },
  { type: 2, ...head, timeMs: 1_764_500_999_999, protocol: 1, address: 0xcb007101, firstPort: 1024 },
  ...(
    [
      'pool',
      'subscriber-blocks',
      'subscriber-sessions',
      'mappings-table',
      'sessions-table',
      'subscribers-table',
    ] as const
  ).map(
    (limit, i): NatEvent => ({
      type: 8,
      ...head,
      timeMs: 1_764_500_000_000 + i,
      protocol: i % 3,
      subscriber: [0x20010db8, i << 8, 0, 0],
      limit,
    }),
  ),
];

/** A realistic log: UDP, TCP and ICMP flows of many subscribers with refreshes and expiries. */
function engineLog(): NatEvent[] {
  const { engine, sink } = harness({ pool: ['203.0.113.0/28'], blockSizePorts: 128 }, 4, 1_764_500_000_000);
  const rnd = createSeededRandom(11);
  let now = 1_764_500_000_000;
  for (let i = 0; i < 3000; i++) {
    now += rnd.nextUint32() % 300;
    const sub = `2001:db8:0:${(rnd.nextUint32() % 200).toString(16)}00::1`;
    const kind = rnd.nextUint32() % 3;
    const port = 1024 + (rnd.nextUint32() % 400);
    if (kind === 0) engine.outbound6(v6('udp', sub, port, '198.51.100.7', 53), now);
    else if (kind === 1) engine.outbound6(v6('tcp', sub, port, '198.51.100.8', 443, TcpFlag.Syn), now);
    else engine.outbound6(v6('icmp', sub, port, '198.51.100.9', port), now);
    if (i % 100 === 0) tick(engine, now);
  }
  tick(engine, now + 400_000);
  tick(engine, now + 9_000_000);
  return sink.events.map((e) => ({ ...e, shard: SHARD, epoch: EPOCH }));
}

describe('NatEvent codec', () => {
  it('proves every event type and flag round-trips exactly, alone and at an offset in a larger buffer', () => {
    expectRoundTrip(codec, everyKind);
    for (const event of everyKind) expectRoundTrip(codec, [event]);
  });

  it('proves a real engine log decodes to the same events and folds to the same state, at under 20 bytes per event', () => {
    const events = engineLog();
    expect(events.length).toBeGreaterThan(5000);
    const bytes = expectRoundTrip(codec, events);
    const perEvent = bytes.length / events.length;
    // Jool's joold: 52 bytes per session; VPP NAT HA: 44 bytes per event.
    expect(perEvent).toBeLessThan(20);
    const { engine } = harness({ pool: ['203.0.113.0/28'], blockSizePorts: 128 }, 4, 0);
    const live = createReplayState(engine.config, 0);
    const folded = createReplayState(engine.config, 0);
    applyEvents(live, events);
    applyEvents(folded, codec.decode(bytes, 0, bytes.length));
    expect(dumpState(folded)).toEqual(dumpState(live));
  });

  it('proves a newer version is refused as a value and counted, with a message naming both versions', () => {
    const bytes = encodeNatEventBatch(everyKind);
    bytes[0] = NAT_EVENT_SCHEMA_VERSION + 1;
    const decoder = new NatEventDecoder();
    const result = decoder.decode(bytes, SHARD, EPOCH);
    expect(result).toEqual({
      ok: false,
      refusal: 'newer-version',
      message: `event payload version ${NAT_EVENT_SCHEMA_VERSION + 1} is newer than this build's ${NAT_EVENT_SCHEMA_VERSION}: upgrade this node before it reads the log`,
    });
    expect(decoder.counters).toEqual({
      decodedPayloads: 0,
      decodedEvents: 0,
      refusedNewerVersion: 1,
      refusedMalformed: 0,
    });
    bytes[0] = 0;
    expect(decoder.decode(bytes, SHARD, EPOCH)).toMatchObject({ ok: false, refusal: 'unknown-version' });
    expect(decoder.counters.refusedMalformed).toBe(1);
  });

  it('proves every truncation and an over-long payload are refused whole, never partly decoded', () => {
    const bytes = encodeNatEventBatch(everyKind);
    for (let length = 0; length < bytes.length; length++) {
      const result = decodeNatEvents(bytes, 0, length, SHARD, EPOCH);
      expect(result.ok).toBe(false);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(decodeNatEvents(longer, 0, longer.length, SHARD, EPOCH)).toEqual({
      ok: false,
      refusal: 'malformed',
      message: 'malformed event payload: 1 bytes after the last event',
    });
  });

  it('proves damaged payloads (every byte flipped in turn, and random bytes) never throw', () => {
    const bytes = encodeNatEventBatch(everyKind);
    let refused = 0;
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const damaged = bytes.slice();
        damaged[i] ^= mask;
        const result = decodeNatEvents(damaged, 0, damaged.length, SHARD, EPOCH);
        if (!result.ok) refused++;
      }
    }
    // Flipping a field's value (an address bit) still decodes; flipping framing is refused.
    expect(refused).toBeGreaterThan(bytes.length / 4);
    const rnd = createSeededRandom(5);
    for (let n = 0; n < 2000; n++) {
      const random = new Uint8Array(1 + (rnd.nextUint32() % 64)).map(() => rnd.nextUint32() & 255);
      random[0] = NAT_EVENT_SCHEMA_VERSION;
      expect(() => decodeNatEvents(random, 0, random.length, SHARD, EPOCH)).not.toThrow();
    }
    // An unknown type is named.
    const tagAt = 1 + 1 + 6; // version, count, first time (6 bytes for a 2025 time)
    const typed = encodeNatEventBatch([everyKind[12]]);
    typed[tagAt] = (typed[tagAt] & 0xf0) | 15;
    expect(decodeNatEvents(typed, 0, typed.length, SHARD, EPOCH)).toMatchObject({
      ok: false,
      message: 'malformed event payload: event 0 has unknown type 15',
    });
  });
});
