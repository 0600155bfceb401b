// The event codec's wire form byte by byte, built by hand from the layout in codec/nat-event-codec.ts
// ([version][count varint][first time varint], then per event [tag: type | slot << 4 | flag << 6 |
// same-IPv4 << 7][zigzag time delta][body]), and every refusal of the decoder named by its message:
// a payload is refused whole, as a value, with the reason and the event it stopped at.
import { describe, expect, it } from 'vitest';
import {
  decodeNatEvents,
  encodeNatEventBatch,
  encodeNatEvents,
  NAT_EVENT_BYTES_MAX,
  NAT_EVENT_SCHEMA_VERSION,
  type NatEvent,
  NatEventDecoder,
  NatEventType,
  natEventsBytesMax,
} from '../src/index.js';

const SHARD = 5;
const EPOCH = 2;
const head = { version: NAT_EVENT_SCHEMA_VERSION, shard: SHARD, epoch: EPOCH };

const POOL_1 = 0xcb007101; // 203.0.113.1
const POOL_2 = 0xcb007102;
const POOL_3 = 0xcb007103;
const REMOTE = 0xc6336401; // 198.51.100.1
const DNS = 0x08080808;

/** One of each type, slot and flag, with the IPv4 transport address repeated where the layout elides it. */
const events: NatEvent[] = [
  {
    type: NatEventType.BlockLeased,
    ...head,
    timeMs: 1000,
    protocol: 1,
    address: POOL_1,
    firstPort: 1024,
    subscriber: [0x20010db8, 0x01000000, 0, 0],
  },
  {
    type: NatEventType.MappingCreated,
    ...head,
    timeMs: 1003,
    protocol: 1,
    ipv6: [0x20010db8, 0x01000000, 0, 5],
    ipv6Port: 5000,
    ipv4: POOL_1,
    ipv4Port: 1030,
    isStatic: false,
  },
  {
    type: NatEventType.SessionCreated,
    ...head,
    timeMs: 1003,
    protocol: 1,
    ipv4: POOL_1,
    ipv4Port: 1030,
    remote: REMOTE,
    remotePort: 53,
    state: 0,
    remainingMs: 300_000,
  },
  {
    type: NatEventType.SessionChanged,
    ...head,
    timeMs: 1001,
    protocol: 0,
    ipv4: POOL_2,
    ipv4Port: 2000,
    remote: DNS,
    remotePort: 443,
    state: 4,
    remainingMs: -5,
  },
  {
    type: NatEventType.SessionRemoved,
    ...head,
    timeMs: 1001,
    protocol: 0,
    ipv4: POOL_2,
    ipv4Port: 2000,
    remote: DNS,
    remotePort: 443,
    cause: 1,
  },
  { type: NatEventType.MappingRemoved, ...head, timeMs: 1001, protocol: 0, ipv4: POOL_2, ipv4Port: 2000 },
  {
    type: NatEventType.BlockReleased,
    ...head,
    timeMs: 1201,
    protocol: 2,
    address: POOL_3,
    firstPort: 1024,
  },
  {
    type: NatEventType.LimitReached,
    ...head,
    timeMs: 1201,
    protocol: 2,
    limit: 'sessions-table',
    subscriber: [0x20010db8, 0, 0, 0],
  },
  {
    type: NatEventType.MappingCreated,
    ...head,
    timeMs: 1201,
    protocol: 2,
    ipv6: [0x20010db8, 0, 0, 1],
    ipv6Port: 7,
    ipv4: POOL_3,
    ipv4Port: 7,
    isStatic: true,
  },
];

// The same events, by hand from the documented layout.
const wire = [
  // version 1, 9 events, first time 1000 = LEB128 e8 07
  [0x01, 0x09, 0xe8, 0x07],
  // BlockLeased, udp: tag 1 | 1 << 4; delta 0; 203.0.113.1; port 1024; prefix 2001:db8:100::/40 in 5 bytes
  [0x11, 0x00, 0xcb, 0x00, 0x71, 0x01, 0x04, 0x00, 0x05, 0x20, 0x01, 0x0d, 0xb8, 0x01],
  // MappingCreated, udp, dynamic: tag 3 | 1 << 4; delta +3 = zigzag 6; IPv6 address; port 5000; new IPv4 203.0.113.1:1030
  [0x13, 0x06, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05, 0x13, 0x88],
  [0xcb, 0x00, 0x71, 0x01, 0x04, 0x06],
  // SessionCreated, udp, same IPv4 as before: tag 5 | 1 << 4 | 1 << 7; delta 0; remote; port 53; no state
  // (not TCP); lifetime 300000 = zigzag 600000 = LEB128 c0 cf 24
  [0x95, 0x00, 0xc6, 0x33, 0x64, 0x01, 0x00, 0x35, 0xc0, 0xcf, 0x24],
  // SessionChanged, tcp: tag 6; delta -2 = zigzag 3; new IPv4 203.0.113.2:2000; remote 8.8.8.8:443; state 4;
  // lifetime -5 = zigzag 9
  [0x06, 0x03, 0xcb, 0x00, 0x71, 0x02, 0x07, 0xd0, 0x08, 0x08, 0x08, 0x08, 0x01, 0xbb, 0x04, 0x09],
  // SessionRemoved, tcp, administrative (flag), same IPv4: tag 7 | 1 << 6 | 1 << 7; delta 0; remote
  [0xc7, 0x00, 0x08, 0x08, 0x08, 0x08, 0x01, 0xbb],
  // MappingRemoved, tcp, same IPv4: tag 4 | 1 << 7; delta 0; nothing else
  [0x84, 0x00],
  // BlockReleased, icmp: tag 2 | 2 << 4; delta +200 = zigzag 400 = LEB128 90 03; 203.0.113.3; port 1024
  [0x22, 0x90, 0x03, 0xcb, 0x00, 0x71, 0x03, 0x04, 0x00],
  // LimitReached, icmp: tag 8 | 2 << 4; delta 0; limit 'sessions-table' = 4; prefix 2001:db8::/32 in 4 bytes
  [0x28, 0x00, 0x04, 0x04, 0x20, 0x01, 0x0d, 0xb8],
  // MappingCreated, icmp, static (flag): tag 3 | 2 << 4 | 1 << 6; delta 0; IPv6; id 7; new IPv4 203.0.113.3:7
  [0x63, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x07],
  [0xcb, 0x00, 0x71, 0x03, 0x00, 0x07],
].flat();

function decode(bytes: number[]) {
  return decodeNatEvents(Uint8Array.from(bytes), 0, bytes.length, SHARD, EPOCH);
}

function refusal(bytes: number[]): string {
  const result = decode(bytes);
  expect(result.ok).toBe(false);
  return result.ok ? '' : `${result.refusal}: ${result.message}`;
}

describe('event codec wire form', () => {
  it('proves a batch is encoded exactly as the documented layout', () => {
    expect(Array.from(encodeNatEventBatch(events))).toEqual(wire);
  });

  it('proves the documented layout decodes to the events, stamped with the batch shard and epoch', () => {
    const result = decode(wire);
    expect(result).toEqual({ ok: true, events });
  });

  it('proves the IPv4 transport address is repeated, not elided, when only the protocol differs', () => {
    // A UDP session then a TCP mapping on the same address and port: two BIB entries, so two addresses.
    const pair: NatEvent[] = [
      { type: NatEventType.MappingRemoved, ...head, timeMs: 0, protocol: 1, ipv4: POOL_1, ipv4Port: 1030 },
      { type: NatEventType.MappingRemoved, ...head, timeMs: 0, protocol: 0, ipv4: POOL_1, ipv4Port: 1030 },
      { type: NatEventType.MappingRemoved, ...head, timeMs: 0, protocol: 0, ipv4: POOL_1, ipv4Port: 1031 },
      { type: NatEventType.MappingRemoved, ...head, timeMs: 0, protocol: 0, ipv4: POOL_2, ipv4Port: 1031 },
    ];
    const bytes = Array.from(encodeNatEventBatch(pair));
    expect(bytes).toEqual(
      [
        [0x01, 0x04, 0x00],
        [0x14, 0x00, 0xcb, 0x00, 0x71, 0x01, 0x04, 0x06],
        [0x04, 0x00, 0xcb, 0x00, 0x71, 0x01, 0x04, 0x06],
        [0x04, 0x00, 0xcb, 0x00, 0x71, 0x01, 0x04, 0x07],
        [0x04, 0x00, 0xcb, 0x00, 0x71, 0x02, 0x04, 0x07],
      ].flat(),
    );
    expect(decode(bytes)).toEqual({ ok: true, events: pair });
  });

  it('proves every limit name has its own appended number (never renumbered)', () => {
    const names = [
      'pool',
      'subscriber-blocks',
      'subscriber-sessions',
      'mappings-table',
      'sessions-table',
      'subscribers-table',
      'leased-blocks',
      'tenant-quota',
      'tenant-sessions',
    ] as const;
    names.forEach((limit, number) => {
      const event: NatEvent = {
        type: NatEventType.LimitReached,
        ...head,
        timeMs: 7,
        protocol: 0,
        limit,
        subscriber: [0, 0, 0, 0],
      };
      expect(Array.from(encodeNatEventBatch([event]))).toEqual([0x01, 0x01, 0x07, 0x08, 0x00, number, 0x00]);
      expect(decode([0x01, 0x01, 0x07, 0x08, 0x00, number, 0x00])).toEqual({ ok: true, events: [event] });
    });
    expect(refusal([0x01, 0x01, 0x07, 0x08, 0x00, names.length, 0x00])).toBe(
      'malformed: malformed event payload: event 0 names an unknown limit',
    );
  });

  it('proves the byte bound covers the documented widest event and header, and encoding checks the room', () => {
    // Widest event: tag, a 10-byte varint delta, IPv6 address and port, IPv4 address and port.
    expect(NAT_EVENT_BYTES_MAX).toBe(1 + 10 + 16 + 2 + 4 + 2);
    // Header: version, a 5-byte count, an 8-byte time.
    expect(natEventsBytesMax(0)).toBe(1 + 5 + 8);
    expect(natEventsBytesMax(3)).toBe(1 + 5 + 8 + 3 * NAT_EVENT_BYTES_MAX);
    const one = [events[1]];
    expect(() => encodeNatEvents(one, new Uint8Array(natEventsBytesMax(1) - 1), 0)).toThrow(
      'the output has room for the payload',
    );
    expect(() => encodeNatEvents(one, new Uint8Array(natEventsBytesMax(1) + 4), 5)).toThrow(
      'the output has room for the payload',
    );
    const out = new Uint8Array(natEventsBytesMax(1) + 4);
    // Version, count, time 1003 (2 bytes), tag, delta, IPv6 address and port, IPv4 address and port.
    expect(encodeNatEvents(one, out, 4)).toBe(4 + 1 + 1 + 2 + 2 + 16 + 2 + 6);
  });
});

describe('event codec refusals', () => {
  it('proves an empty payload, version 0 and a newer version are refused with their reason', () => {
    expect(refusal([])).toBe('malformed: malformed event payload: empty payload');
    expect(refusal([0x00, 0x01, 0x00, 0x84, 0x00])).toBe(
      'unknown-version: event payload version 0 is unknown',
    );
    expect(refusal([NAT_EVENT_SCHEMA_VERSION + 1, 0x01, 0x00])).toBe(
      `newer-version: event payload version ${NAT_EVENT_SCHEMA_VERSION + 1} is newer than this build's ${NAT_EVENT_SCHEMA_VERSION}: upgrade this node before it reads the log`,
    );
  });

  it('proves a header without events, cut short, or counting more events than 2 bytes each could hold is refused', () => {
    expect(refusal([0x01, 0x00, 0x00])).toBe('malformed: malformed event payload: bad header');
    expect(refusal([0x01, 0x01])).toBe('malformed: malformed event payload: bad header');
    expect(refusal([0x01, 0x80])).toBe('malformed: malformed event payload: bad header');
    // 6 bytes hold at most 3 events of 2 bytes: a count of 4 is damage.
    expect(refusal([0x01, 0x04, 0x00, 0x84, 0x00, 0x84])).toBe(
      'malformed: malformed event payload: bad header',
    );
    // Exactly length / 2 events is not refused by the header check; here the events themselves are cut.
    expect(refusal([0x01, 0x02, 0x00, 0x00])).toBe(
      'malformed: malformed event payload: event 0 is cut short',
    );
  });

  it('proves a cut tag or time delta, a cut body and trailing bytes are refused naming the event', () => {
    const leased = [0x01, 0x01, 0x00, 0x11, 0x00, 0xcb, 0x00, 0x71, 0x01, 0x04, 0x00, 0x00];
    expect(decode(leased).ok).toBe(true);
    for (let cut = 3; cut < leased.length; cut++) {
      expect(refusal(leased.slice(0, cut))).toBe('malformed: malformed event payload: event 0 is cut short');
    }
    expect(refusal([...leased, 0xaa, 0xbb])).toBe(
      'malformed: malformed event payload: 2 bytes after the last event',
    );
    // The second event's delta is cut: the message names event 1.
    expect(refusal([0x01, 0x02, 0x00, 0x22, 0x00, 0xcb, 0x00, 0x71, 0x01, 0x04, 0x00, 0x22, 0x80])).toBe(
      'malformed: malformed event payload: event 1 is cut short',
    );
    // A session's remote port and lifetime are part of the event: cutting them is refused too.
    const created = [
      0x01, 0x01, 0x00, 0x15, 0x00, 0xcb, 0, 0x71, 1, 4, 6, 0xc6, 0x33, 0x64, 1, 0, 0x35, 0x02,
    ];
    expect(decode(created)).toEqual({
      ok: true,
      events: [
        {
          type: NatEventType.SessionCreated,
          ...head,
          timeMs: 0,
          protocol: 1,
          ipv4: POOL_1,
          ipv4Port: 1030,
          remote: REMOTE,
          remotePort: 53,
          state: 0,
          remainingMs: 1,
        },
      ],
    });
    expect(refusal(created.slice(0, -1))).toBe('malformed: malformed event payload: event 0 is cut short');
  });

  it('proves protocol slot 3, an unknown type and misplaced same-address bits are refused naming the event', () => {
    expect(refusal([0x01, 0x01, 0x00, 0x34, 0x00])).toBe(
      'malformed: malformed event payload: event 0 has protocol slot 3',
    );
    expect(refusal([0x01, 0x01, 0x00, 0x00, 0x00])).toBe(
      'malformed: malformed event payload: event 0 has unknown type 0',
    );
    expect(refusal([0x01, 0x01, 0x00, 0x09, 0x00])).toBe(
      'malformed: malformed event payload: event 0 has unknown type 9',
    );
    // Same address as the previous event, with no previous event.
    expect(refusal([0x01, 0x01, 0x00, 0x84, 0x00])).toBe(
      'malformed: malformed event payload: event 0 repeats an IPv4 address nothing gave',
    );
    // Whatever the protocol slot of the first event (udp and icmp here).
    expect(refusal([0x01, 0x01, 0x00, 0x94, 0x00])).toBe(
      'malformed: malformed event payload: event 0 repeats an IPv4 address nothing gave',
    );
    expect(refusal([0x01, 0x01, 0x00, 0xa4, 0x00])).toBe(
      'malformed: malformed event payload: event 0 repeats an IPv4 address nothing gave',
    );
    // The previous address was a UDP one: a TCP event cannot repeat it.
    expect(refusal([0x01, 0x02, 0x00, 0x14, 0x00, 0xcb, 0, 0x71, 1, 4, 6, 0x84, 0x00])).toBe(
      'malformed: malformed event payload: event 1 repeats an IPv4 address nothing gave',
    );
    // A block event carries its own address: the bit is damage there.
    expect(refusal([0x01, 0x01, 0x00, 0x92, 0x00, 0xcb, 0, 0x71, 1, 4, 0])).toBe(
      'malformed: malformed event payload: event 0 of type 2 has the same-address bit',
    );
    expect(refusal([0x01, 0x01, 0x00, 0x88, 0x00, 0x00, 0x00])).toBe(
      'malformed: malformed event payload: event 0 of type 8 has the same-address bit',
    );
  });

  it('proves the decoder counts decoded payloads and events, newer versions and the rest as malformed', () => {
    const decoder = new NatEventDecoder();
    expect(decoder.decode(Uint8Array.from(wire), SHARD, EPOCH).ok).toBe(true);
    expect(decoder.decode(Uint8Array.from([0x01, 0x01, 0x00, 0x84, 0x00, 0x01]), SHARD, EPOCH).ok).toBe(
      false,
    );
    expect(decoder.decode(Uint8Array.from([0x02]), SHARD, EPOCH).ok).toBe(false);
    expect(decoder.decode(Uint8Array.from([0x00]), SHARD, EPOCH).ok).toBe(false);
    expect(decoder.decode(Uint8Array.from(wire.slice(0, 25)), SHARD, EPOCH).ok).toBe(false);
    expect(decoder.counters).toEqual({
      decodedPayloads: 1,
      decodedEvents: 9,
      refusedNewerVersion: 1,
      refusedMalformed: 3,
    });
  });
});

describe('event codec encoder assertions', () => {
  const base: NatEvent = {
    type: NatEventType.SessionCreated,
    ...head,
    timeMs: 10,
    protocol: 1,
    ipv4: POOL_1,
    ipv4Port: 1030,
    remote: REMOTE,
    remotePort: 53,
    state: 0,
    remainingMs: 1,
  };
  const refusedBecause = (bad: readonly NatEvent[], why: string) =>
    expect(() => encodeNatEventBatch(bad)).toThrow(`assertion failed: ${why}`);

  it('proves the encoder refuses what the wire form cannot carry, naming the rule', () => {
    refusedBecause([], 'a payload holds at least one event');
    refusedBecause([{ ...base, timeMs: -1 }], 'event times are integer ms');
    refusedBecause([{ ...base, timeMs: 1.5 }], 'event times are integer ms');
    refusedBecause([base, { ...base, timeMs: 10.5 }], 'event times are integer ms');
    refusedBecause(
      [{ ...base, version: NAT_EVENT_SCHEMA_VERSION + 1 }],
      'an encoded event has the schema version',
    );
    refusedBecause([{ ...base, protocol: 3 }], 'protocol is a slot 0-2');
    refusedBecause([{ ...base, protocol: -1 }], 'protocol is a slot 0-2');
    refusedBecause([{ ...base, state: 4 }], 'only TCP sessions have a state');
    refusedBecause([{ ...base, remainingMs: 0.25 }], 'lifetimes are integer ms');
    refusedBecause(
      [
        {
          type: NatEventType.SessionRemoved,
          ...head,
          timeMs: 0,
          protocol: 0,
          ipv4: 1,
          ipv4Port: 1,
          remote: 1,
          remotePort: 1,
          cause: 2,
        },
      ],
      'a known removal cause',
    );
    refusedBecause(
      [
        {
          ...head,
          type: NatEventType.LimitReached,
          timeMs: 0,
          protocol: 0,
          limit: 'nope' as never,
          subscriber: [0, 0, 0, 0],
        },
      ],
      'a known limit name',
    );
    refusedBecause([{ ...base, type: 9 as never }], 'a known event type');
    // The boundaries themselves are accepted: time 0, slots 0 and 2, a TCP state, cause 0.
    expect(() =>
      encodeNatEventBatch([
        { ...base, timeMs: 0, protocol: 0, state: 3 },
        { ...base, timeMs: 0, protocol: 2 },
        {
          type: NatEventType.SessionRemoved,
          ...head,
          timeMs: 0,
          protocol: 0,
          ipv4: 1,
          ipv4Port: 1,
          remote: 1,
          remotePort: 1,
          cause: 0,
        },
      ]),
    ).not.toThrow();
  });
});
