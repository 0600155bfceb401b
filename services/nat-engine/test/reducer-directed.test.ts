// Proves the fold (reducer.ts) event by event on hand-written events: each of the seven state-changing
// types does exactly its change (expiry = timeMs + remainingMs, subscribers keyed by the masked prefix,
// paired pooling held), LimitReached changes nothing, and every inconsistency inside the known schema
// version is a programmer error that stops the fold with an assertion naming it (README "Replay equals
// live": a replica never guesses at a log it cannot explain).
import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  applyEvents,
  createReplayState,
  EventApplied,
  NAT_EVENT_SCHEMA_VERSION,
  type NatEvent,
  NatEventType,
  type NatState,
  parseIpv4,
  parseIpv6,
  SessionRemovedCause,
  TcpState,
  validateConfig,
} from '../src/internal.js';

const UDP = 1; // protocol slot (events.ts)
const TCP = 0;
const A1 = parseIpv4('203.0.113.1');
const A2 = parseIpv4('203.0.113.2');
const OUTSIDE = parseIpv4('192.0.2.1'); // not in the pool
const REMOTE = parseIpv4('198.51.100.7');

function words(text: string): [number, number, number, number] {
  const w = new Uint32Array(4);
  if (!parseIpv6(text, w)) throw new Error(text);
  return [w[0], w[1], w[2], w[3]];
}

// Subscriber prefixes are /56 by default: these two hosts are one subscriber, the third another.
const HOST = words('2001:db8:0:100::1');
const SAME_SUBSCRIBER = words('2001:db8:0:1ff::99');
const OTHER = words('2001:db8:0:200::1');

const header = (timeMs: number) => ({ version: NAT_EVENT_SCHEMA_VERSION, shard: 0, epoch: 0, timeMs });

function newState(): NatState {
  // 512-port blocks over the default 1024-65535: UDP blocks start at 1024, 1536, ...
  return createReplayState(validateConfig({ pool: ['203.0.113.0/30'], blockSizePorts: 512 }), 0);
}

const leased = (address: number, firstPort: number, subscriber = HOST, timeMs = 0): NatEvent => ({
  ...header(timeMs),
  type: NatEventType.BlockLeased,
  protocol: UDP,
  address,
  firstPort,
  subscriber,
});
const mapping = (ipv4Port: number, ipv6 = HOST, ipv4 = A1, isStatic = false, protocol = UDP): NatEvent => ({
  ...header(0),
  type: NatEventType.MappingCreated,
  protocol,
  ipv6,
  ipv6Port: 5000,
  ipv4,
  ipv4Port,
  isStatic,
});
const session = (
  type: typeof NatEventType.SessionCreated | typeof NatEventType.SessionChanged,
  ipv4Port: number,
  timeMs: number,
  remainingMs: number,
  state = 0,
): NatEvent => ({
  ...header(timeMs),
  type,
  protocol: UDP,
  ipv4: A1,
  ipv4Port,
  remote: REMOTE,
  remotePort: 53,
  state,
  remainingMs,
});
const sessionRemoved = (ipv4Port: number, timeMs: number): NatEvent => ({
  ...header(timeMs),
  type: NatEventType.SessionRemoved,
  protocol: UDP,
  ipv4: A1,
  ipv4Port,
  remote: REMOTE,
  remotePort: 53,
  cause: SessionRemovedCause.Expired,
});

function fold(state: NatState, events: NatEvent[]): void {
  expect(applyEvents(state, events)).toBe(events.length);
}

describe('reducer: each event does its change', () => {
  it('leases a block to the subscriber of the masked prefix, on its pool address', () => {
    const state = newState();
    expect(applyEvent(state, leased(A1, 1536))).toBe(EventApplied.Applied);
    expect(state.leasedBlockCount).toBe(1);
    expect(state.subscriberCount).toBe(1);
    const s = state.findSubscriber(0x20010db8, 0x100, 0, 0);
    expect(s).not.toBe(-1);
    expect(state.subscriberAddress[s]).toBe(state.addressIndexOf(A1));
    const block = state.blockOfPort(UDP, state.addressIndexOf(A1), 1536);
    expect(state.blockOwner[block]).toBe(s);
    // A second block of another host in the same /56 goes to the same row, not a new subscriber.
    fold(state, [leased(A1, 2048, SAME_SUBSCRIBER)]);
    expect(state.subscriberCount).toBe(1);
    expect(state.leasedBlockCount).toBe(2);
    expect(state.blockOwner[state.blockOfPort(UDP, state.addressIndexOf(A1), 2048)]).toBe(s);
  });

  it('creates a dynamic mapping inside its block and a session whose expiry is timeMs + remainingMs', () => {
    const state = newState();
    fold(state, [leased(A1, 1536), mapping(1600), session(NatEventType.SessionCreated, 1600, 1000, 300_000)]);
    const m = state.findMapping4(UDP, A1, 1600);
    expect(m).not.toBe(-1);
    expect(state.mappingBlockOf(m)).toBe(state.blockOfPort(UDP, state.addressIndexOf(A1), 1536));
    expect(state.mappingStaticOf(m)).toBe(0);
    expect(state.mappingV6PortOf(m)).toBe(5000);
    expect(state.findMapping6(UDP, new Uint32Array(HOST), 0, 5000)).toBe(m);
    const s = state.findSession(m, REMOTE, 53);
    expect(s).not.toBe(-1);
    expect(state.sessionExpiresAtOf(s)).toBe(301_000);
    expect(state.sessionLoggedExpiresAtOf(s)).toBe(301_000);
    expect(state.sessionCount).toBe(1);
  });

  it('changes a session to the state and lifetime the event names, measured from the event time', () => {
    const state = newState();
    fold(state, [
      { ...leased(A1, 1536), protocol: TCP } as NatEvent,
      mapping(1600, HOST, A1, false, TCP),
      {
        ...session(NatEventType.SessionCreated, 1600, 0, 240_000, TcpState.V6Init),
        protocol: TCP,
      } as NatEvent,
      {
        ...session(NatEventType.SessionChanged, 1600, 5000, 7_200_000, TcpState.Established),
        protocol: TCP,
      } as NatEvent,
    ]);
    const s = state.findSession(state.findMapping4(TCP, A1, 1600), REMOTE, 53);
    expect(state.sessionStateOf(s)).toBe(TcpState.Established);
    expect(state.sessionExpiresAtOf(s)).toBe(7_205_000);
    expect(state.sessionLoggedExpiresAtOf(s)).toBe(7_205_000);
  });

  it('removes the session, then the mapping, then releases the block, back to an empty state', () => {
    const state = newState();
    fold(state, [
      leased(A1, 1536),
      mapping(1600),
      session(NatEventType.SessionCreated, 1600, 0, 300_000),
      sessionRemoved(1600, 300_000),
    ]);
    expect(state.sessionCount).toBe(0);
    expect(state.mappingCount).toBe(1);
    fold(state, [
      { ...header(300_000), type: NatEventType.MappingRemoved, protocol: UDP, ipv4: A1, ipv4Port: 1600 },
    ]);
    expect(state.mappingCount).toBe(0);
    expect(state.findMapping4(UDP, A1, 1600)).toBe(-1);
    expect(state.leasedBlockCount).toBe(1);
    fold(state, [
      { ...header(500_000), type: NatEventType.BlockReleased, protocol: UDP, address: A1, firstPort: 1536 },
    ]);
    expect(state.leasedBlockCount).toBe(0);
    expect(state.blockOwner[state.blockOfPort(UDP, state.addressIndexOf(A1), 1536)]).toBe(-1);
  });

  it('creates the subscriber of a static mapping (no block needed) and puts it on that address', () => {
    const state = newState();
    // Static ports lie outside the dynamic range (a port forward, README staticBib).
    fold(state, [mapping(80, HOST, A2, true)]);
    const m = state.findMapping4(UDP, A2, 80);
    expect(m).not.toBe(-1);
    expect(state.mappingStaticOf(m)).toBe(1);
    expect(state.mappingBlockOf(m)).toBe(-1);
    const s = state.findSubscriber(0x20010db8, 0x100, 0, 0);
    expect(state.mappingSubscriberOf(m)).toBe(s);
    expect(state.subscriberAddress[s]).toBe(state.addressIndexOf(A2));
    // Paired pooling now binds the subscriber's blocks to A2.
    expect(() => applyEvent(state, leased(A1, 1536))).toThrow(/paired pooling/);
    fold(state, [leased(A2, 1536)]);
    expect(state.subscriberCount).toBe(1);
  });

  it('changes nothing for LimitReached, which is informational', () => {
    const state = newState();
    fold(state, [leased(A1, 1536)]);
    const event: NatEvent = {
      ...header(10),
      type: NatEventType.LimitReached,
      subscriber: OTHER,
      protocol: UDP,
      limit: 'pool',
    };
    expect(applyEvent(state, event)).toBe(EventApplied.Applied);
    expect([state.subscriberCount, state.leasedBlockCount, state.mappingCount, state.sessionCount]).toEqual([
      1, 1, 0, 0,
    ]);
    expect(state.findSubscriber(0x20010db8, 0x200, 0, 0)).toBe(-1);
  });

  it('counts every event of a whole log it folds', () => {
    const state = newState();
    const log = [leased(A1, 1536), mapping(1600), session(NatEventType.SessionCreated, 1600, 0, 1000)];
    expect(applyEvents(state, log)).toBe(3);
    expect(applyEvents(state, [])).toBe(0);
    expect(state.refusedEventVersions).toBe(0);
  });
});

describe('reducer: an inconsistent log is a programmer error', () => {
  it('refuses a block on an address outside the pool', () => {
    expect(() => applyEvent(newState(), leased(OUTSIDE, 1536))).toThrow(
      /assertion failed: a leased block is on a pool address/,
    );
  });

  it('refuses a block that does not start at a block boundary or lies outside the dynamic range', () => {
    expect(() => applyEvent(newState(), leased(A1, 1537))).toThrow(
      /a leased block starts at a block boundary/,
    );
    expect(() => applyEvent(newState(), leased(A1, 80))).toThrow(/a leased block starts at a block boundary/);
  });

  it('refuses a second block of a subscriber on another address (RFC 6888 REQ-2, paired pooling)', () => {
    const state = newState();
    fold(state, [leased(A1, 1536)]);
    expect(() => applyEvent(state, leased(A2, 1536, SAME_SUBSCRIBER))).toThrow(
      /all blocks of a subscriber are on one address \(paired pooling\)/,
    );
    // Another subscriber may lease on the other address.
    fold(state, [leased(A2, 1536, OTHER)]);
    expect(state.subscriberCount).toBe(2);
  });

  it('refuses releasing a block outside the dynamic range', () => {
    expect(() =>
      applyEvent(newState(), {
        ...header(0),
        type: NatEventType.BlockReleased,
        protocol: UDP,
        address: A1,
        firstPort: 80,
      }),
    ).toThrow(/a released block exists/);
  });

  it('refuses a mapping off the pool, a dynamic mapping of a subscriber with no block, off its address, or outside the dynamic range', () => {
    expect(() => applyEvent(newState(), mapping(1600, HOST, OUTSIDE))).toThrow(
      /a mapping is on a pool address/,
    );
    expect(() => applyEvent(newState(), mapping(1600))).toThrow(
      /a dynamic mapping belongs to a subscriber holding a block/,
    );
    const state = newState();
    fold(state, [leased(A1, 1536)]);
    expect(() => applyEvent(state, mapping(1600, HOST, A2))).toThrow(
      /a mapping is on its subscriber's address \(paired pooling\)/,
    );
    expect(() => applyEvent(state, mapping(80))).toThrow(
      /a dynamic mapping is inside the dynamic port range/,
    );
    expect(state.mappingCount).toBe(0);
  });

  it('refuses removing a mapping that does not exist', () => {
    expect(() =>
      applyEvent(newState(), {
        ...header(0),
        type: NatEventType.MappingRemoved,
        protocol: UDP,
        ipv4: A1,
        ipv4Port: 1600,
      }),
    ).toThrow(/a removed mapping exists/);
  });

  it('refuses a session of a missing mapping, a duplicate session, and changing or removing a missing one', () => {
    expect(() => applyEvent(newState(), session(NatEventType.SessionCreated, 1600, 0, 1000))).toThrow(
      /a session event names an existing mapping/,
    );
    const state = newState();
    fold(state, [leased(A1, 1536), mapping(1600)]);
    expect(() => applyEvent(state, session(NatEventType.SessionChanged, 1600, 0, 1000))).toThrow(
      /a changed session exists/,
    );
    expect(() => applyEvent(state, sessionRemoved(1600, 0))).toThrow(/a removed session exists/);
    fold(state, [session(NatEventType.SessionCreated, 1600, 0, 1000)]);
    expect(() => applyEvent(state, session(NatEventType.SessionCreated, 1600, 0, 1000))).toThrow(
      /a created session is new/,
    );
    expect(() => applyEvent(state, sessionRemoved(1602, 0))).toThrow(
      /a session event names an existing mapping/,
    );
  });

  it('refuses an event type it does not know, naming it', () => {
    expect(() => applyEvent(newState(), { ...header(0), type: 99 } as unknown as NatEvent)).toThrow(
      /assertion failed: unknown event type 99/,
    );
  });
});
