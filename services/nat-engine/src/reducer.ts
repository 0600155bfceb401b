// The fold: `applyEvent(state, event)` is the only way replicated state changes. It takes time from the
// event, never from a clock, and draws no randomness, so a fresh NatState fed a log reaches the same
// BIB, sessions and block table as the engine that wrote it (the engine applies its own events too).

import { subscriberPrefixOf } from './config.js';
import { assert } from './errors.js';
import {
  type MappingCreatedEvent,
  type MappingRemovedEvent,
  NAT_EVENT_SCHEMA_VERSION,
  type NatEvent,
  NatEventType,
  type SessionChangedEvent,
  type SessionCreatedEvent,
} from './events.js';
import type { NatState } from './tables/nat-state.js';

const prefixWords = new Uint32Array(4);

function maskedSubscriberRow(state: NatState, v6: ArrayLike<number>, create: boolean): number {
  subscriberPrefixOf(state.config, v6, prefixWords);
  const s = state.findSubscriber(prefixWords[0], prefixWords[1], prefixWords[2], prefixWords[3]);
  if (s !== -1 || !create) return s;
  return state.addSubscriber(prefixWords[0], prefixWords[1], prefixWords[2], prefixWords[3]);
}

/** The mapping a session event names (it must exist). */
function mappingOf(state: NatState, protocol: number, ipv4: number, ipv4Port: number): number {
  const m = state.findMapping4(protocol, ipv4, ipv4Port);
  assert(m !== -1, 'a session event names an existing mapping');
  return m;
}

/** What `applyEvent` did with an event. */
export const EventApplied = { Applied: 0, RefusedVersion: 1 } as const;
export type EventApplied = (typeof EventApplied)[keyof typeof EventApplied];

/**
 * Folds one event into `state`. An event of another schema version is refused (returned, counted in
 * `state.refusedEventVersions`), never guessed at: a node that meets a newer writer's log stops folding
 * it instead of misreading it. Inconsistencies inside a known version are programmer errors (asserts).
 */
export function applyEvent(state: NatState, event: NatEvent): EventApplied {
  if (event.version !== NAT_EVENT_SCHEMA_VERSION) {
    state.refusedEventVersions++;
    return EventApplied.RefusedVersion;
  }
  applyKnownEvent(state, event);
  return EventApplied.Applied;
}

function applyKnownEvent(state: NatState, event: NatEvent): void {
  switch (event.type) {
    case NatEventType.BlockLeased: {
      const addressIndex = state.addressIndexOf(event.address);
      assert(addressIndex >= 0, 'a leased block is on a pool address');
      const block = state.blockOfPort(event.protocol, addressIndex, event.firstPort);
      assert(
        block >= 0 && state.blockFirstPortOf(block) === event.firstPort,
        'a leased block starts at a block boundary',
      );
      const s = maskedSubscriberRow(state, event.subscriber, true);
      if (state.subscriberAddress[s] === -1) state.subscriberAddress[s] = addressIndex;
      assert(
        state.subscriberAddress[s] === addressIndex,
        'all blocks of a subscriber are on one address (paired pooling)',
      );
      state.leaseBlock(block, s, event.timeMs);
      return;
    }
    case NatEventType.BlockReleased: {
      const addressIndex = state.addressIndexOf(event.address);
      const block = state.blockOfPort(event.protocol, addressIndex, event.firstPort);
      assert(block >= 0, 'a released block exists');
      state.releaseBlock(block);
      return;
    }
    case NatEventType.MappingCreated: {
      const addressIndex = state.addressIndexOf(event.ipv4);
      assert(addressIndex >= 0, 'a mapping is on a pool address');
      const s = maskedSubscriberRow(state, event.ipv6, event.isStatic);
      assert(s !== -1, 'a dynamic mapping belongs to a subscriber holding a block');
      const block = event.isStatic ? -1 : state.blockOfPort(event.protocol, addressIndex, event.ipv4Port);
      assert(event.isStatic || block >= 0, 'a dynamic mapping is inside the dynamic port range');
      applyMappingCreatedAt(state, event, s, addressIndex, block);
      return;
    }
    case NatEventType.MappingRemoved: {
      const m = state.findMapping4(event.protocol, event.ipv4, event.ipv4Port);
      assert(m !== -1, 'a removed mapping exists');
      applyMappingRemovedAt(state, event, m);
      return;
    }
    case NatEventType.SessionCreated: {
      const m = mappingOf(state, event.protocol, event.ipv4, event.ipv4Port);
      assert(state.findSession(m, event.remote, event.remotePort) === -1, 'a created session is new');
      applySessionCreatedAt(state, event, m);
      return;
    }
    case NatEventType.SessionChanged: {
      const s = state.findSession(
        mappingOf(state, event.protocol, event.ipv4, event.ipv4Port),
        event.remote,
        event.remotePort,
      );
      assert(s !== -1, 'a changed session exists');
      applySessionChangedAt(state, event, s);
      return;
    }
    case NatEventType.SessionRemoved: {
      const s = state.findSession(
        mappingOf(state, event.protocol, event.ipv4, event.ipv4Port),
        event.remote,
        event.remotePort,
      );
      assert(s !== -1, 'a removed session exists');
      applySessionRemovedAt(state, s);
      return;
    }
    case NatEventType.LimitReached:
      return;
    default:
      assert(false, `unknown event type ${(event as { type: number }).type}`);
  }
}

// ---- Folding at known rows ----
// The engine folds its own mapping and session events here rather than through applyEvent: it has
// just found (or made room for) the rows they name, so finding them again from the event's natural
// keys would only repeat lookups on the new-session path. applyEvent resolves those rows from the
// event, checks them, and calls the same functions, so a replica's fold makes the same changes as the
// live engine's (test/replay-equivalence.test.ts compares the two entry by entry).

/**
 * MappingCreated at subscriber row `subscriber`, pool address `addressIndex` and `block` (-1: static);
 * returns the new BIB row.
 */
export function applyMappingCreatedAt(
  state: NatState,
  event: MappingCreatedEvent,
  subscriber: number,
  addressIndex: number,
  block: number,
): number {
  if (state.subscriberAddress[subscriber] === -1) state.subscriberAddress[subscriber] = addressIndex;
  assert(
    state.subscriberAddress[subscriber] === addressIndex,
    "a mapping is on its subscriber's address (paired pooling)",
  );
  return state.addMapping(
    event.protocol,
    event.ipv6,
    event.ipv6Port,
    event.ipv4,
    event.ipv4Port,
    subscriber,
    block,
    event.timeMs,
  );
}

/** MappingRemoved of BIB row `mapping`. */
export function applyMappingRemovedAt(state: NatState, event: MappingRemovedEvent, mapping: number): void {
  state.removeMapping(mapping, event.timeMs);
}

/** SessionCreated on BIB row `mapping` (which has no session with the event's remote yet); returns the new session row. */
export function applySessionCreatedAt(state: NatState, event: SessionCreatedEvent, mapping: number): number {
  return state.addSession(
    mapping,
    event.remote,
    event.remotePort,
    event.state,
    event.timeMs + event.remainingMs,
    event.timeMs,
  );
}

/** SessionChanged of session row `session`. */
export function applySessionChangedAt(state: NatState, event: SessionChangedEvent, session: number): void {
  state.changeSession(session, event.state, event.timeMs + event.remainingMs, event.timeMs);
}

/** SessionRemoved of session row `session`. */
export function applySessionRemovedAt(state: NatState, session: number): void {
  state.removeSession(session);
}

/** Folds a whole log into `state`; stops at the first refused event and returns how many were applied. */
export function applyEvents(state: NatState, events: Iterable<NatEvent>): number {
  let applied = 0;
  for (const event of events) {
    if (applyEvent(state, event) !== EventApplied.Applied) break;
    applied++;
  }
  return applied;
}
