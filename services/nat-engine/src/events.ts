// The engine's events: one versioned set. Every change of replicated state (blocks, BIB, sessions) is one
// of these; `applyEvent` (reducer.ts) folds them into state using only the event's own time. Entities are
// named by natural keys (protocol, IPv4 address, port ...), never by table slot, so a log means the same
// to any node and to the compliance export. `protocol` is the protocol slot everywhere (0 tcp, 1 udp,
// 2 icmp); addresses are uint32 (IPv4) or four big-endian uint32 words (IPv6). Append types and fields;
// never renumber.

export const NAT_EVENT_SCHEMA_VERSION = 1;

export const NatEventType = {
  BlockLeased: 1,
  BlockReleased: 2,
  MappingCreated: 3,
  MappingRemoved: 4,
  SessionCreated: 5,
  /** State change, or a coalesced lifetime refresh (same state, new remainingMs). */
  SessionChanged: 6,
  SessionRemoved: 7,
  /** Informational (no state): a new mapping or session could not be made. At most one per subscriber per flush. */
  LimitReached: 8,
} as const;
export type NatEventType = (typeof NatEventType)[keyof typeof NatEventType];

/** Four big-endian uint32 words of an IPv6 address or a subscriber prefix. */
export type Ipv6Words = readonly [number, number, number, number];

interface NatEventHeader {
  /** NAT_EVENT_SCHEMA_VERSION. */
  readonly version: number;
  /** Reserved for the cluster: virtual shard of the subscriber, and the owner's fencing epoch. */
  readonly shard: number;
  readonly epoch: number;
  /** When it happened (the engine's clock); the reducer's only source of time. */
  readonly timeMs: number;
}

export interface BlockLeasedEvent extends NatEventHeader {
  readonly type: typeof NatEventType.BlockLeased;
  /** Protocol slot: 0 tcp, 1 udp, 2 icmp. */
  readonly protocol: number;
  readonly address: number;
  readonly firstPort: number;
  readonly subscriber: Ipv6Words;
}

export interface BlockReleasedEvent extends NatEventHeader {
  readonly type: typeof NatEventType.BlockReleased;
  readonly protocol: number;
  readonly address: number;
  readonly firstPort: number;
}

export interface MappingCreatedEvent extends NatEventHeader {
  readonly type: typeof NatEventType.MappingCreated;
  readonly protocol: number;
  readonly ipv6: Ipv6Words;
  readonly ipv6Port: number;
  readonly ipv4: number;
  readonly ipv4Port: number;
  readonly isStatic: boolean;
}

export interface MappingRemovedEvent extends NatEventHeader {
  readonly type: typeof NatEventType.MappingRemoved;
  readonly protocol: number;
  readonly ipv4: number;
  readonly ipv4Port: number;
}

/** A session is (mapping, remote IPv4 address, remote port); ICMP sessions have remotePort 0. */
export interface SessionCreatedEvent extends NatEventHeader {
  readonly type: typeof NatEventType.SessionCreated;
  readonly protocol: number;
  readonly ipv4: number;
  readonly ipv4Port: number;
  readonly remote: number;
  readonly remotePort: number;
  /** TcpState (tcp-state-machine.ts); 0 for UDP and ICMP. */
  readonly state: number;
  /** Lifetime left at timeMs: expiry = timeMs + remainingMs, so clocks need not agree (as joold). */
  readonly remainingMs: number;
}

export interface SessionChangedEvent extends NatEventHeader {
  readonly type: typeof NatEventType.SessionChanged;
  readonly protocol: number;
  readonly ipv4: number;
  readonly ipv4Port: number;
  readonly remote: number;
  readonly remotePort: number;
  readonly state: number;
  readonly remainingMs: number;
}

export const SessionRemovedCause = { Expired: 0, Administrative: 1 } as const;

export interface SessionRemovedEvent extends NatEventHeader {
  readonly type: typeof NatEventType.SessionRemoved;
  readonly protocol: number;
  readonly ipv4: number;
  readonly ipv4Port: number;
  readonly remote: number;
  readonly remotePort: number;
  readonly cause: number;
}

export type LimitName =
  | 'pool'
  | 'subscriber-blocks'
  | 'subscriber-sessions'
  | 'mappings-table'
  | 'sessions-table'
  | 'subscribers-table'
  | 'leased-blocks'
  | 'tenant-quota'
  | 'tenant-sessions';

export interface LimitReachedEvent extends NatEventHeader {
  readonly type: typeof NatEventType.LimitReached;
  readonly subscriber: Ipv6Words;
  readonly protocol: number;
  readonly limit: LimitName;
}

export type NatEvent =
  | BlockLeasedEvent
  | BlockReleasedEvent
  | MappingCreatedEvent
  | MappingRemovedEvent
  | SessionCreatedEvent
  | SessionChangedEvent
  | SessionRemovedEvent
  | LimitReachedEvent;

/** Where the engine sends its events; the caller batches them (per shard, per flush interval). Must not throw. */
export interface EventSink {
  push(event: NatEvent): void;
}

/** Keeps every event in memory (tests, embedded single-node log before it is written out). */
export class ArrayEventSink implements EventSink {
  readonly events: NatEvent[] = [];
  push(event: NatEvent): void {
    this.events.push(event);
  }
}

/** Counts and forgets (benchmarks). */
export class CountingEventSink implements EventSink {
  count = 0;
  push(_event: NatEvent): void {
    this.count++;
  }
}
