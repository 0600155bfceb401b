// Compliance records derived from the NAT engine's events (RFC 6888 §4 logging; RFC 6302 asks servers
// to log the source port and exact time so that an (address, port, time) names one subscriber).
// With port blocks one record per block lease and release is enough: log volume follows blocks, not
// sessions. A per-session mode adds one record per mapping (and per session with its destination only
// when configured: RFC 6888 REQ-12). Record ids are derived from (shard, epoch, sequence, index), so a
// re-derivation of the same log produces the same ids and the outbox can de-duplicate by id.
// With tenants (ISPs), a record names its subscriber's tenant and the prefix at that tenant's length,
// as the node's tenant table says when the record of the lease is derived (`tenantOf`).
import assert from 'node:assert/strict';
import {
  formatIpv4,
  type Ipv6Words,
  type NatEvent,
  NatEventType,
  PROTOCOL_SLOTS,
} from '../../../nat-engine/src/index.js';

export const COMPLIANCE_RECORD_VERSION = 1;

export type ComplianceRecordKind =
  | 'block-lease'
  | 'block-release'
  /** Emitted per still-leased block at each `heldIntervalMs` boundary, so lookups scan a bounded window. */
  | 'block-held'
  /**
   * A still-leased block whose shard's events now come with a newer owner epoch (the cluster moved the
   * shard to another node): the new owner's first record of the lease, id `t:<leaseId>:<epoch>`.
   */
  | 'block-takeover'
  | 'mapping-create'
  | 'mapping-remove'
  | 'session-create'
  | 'session-remove'
  /** RFC 7422: a configuration taking effect (in the `<topic>-config` topic; evidence of deterministic answers). */
  | 'config';

export type ProtocolName = (typeof PROTOCOL_SLOTS)[number];

export interface ComplianceRecord {
  v: number;
  /** Deterministic: `[idPrefix]shard:epoch:sequence:index` of the event, `h:<leaseId>:<boundaryMs>` for block-held. */
  id: string;
  kind: ComplianceRecordKind;
  /** Id of the record that opened the interval (the block-lease or mapping-create record). */
  leaseId: string;
  /** Subscriber prefix, e.g. `2001:db8:1::/56` (at its tenant's subscriberPrefixLength). */
  subscriber: string;
  /**
   * The tenant (ISP) of the subscriber when the interval opened, as the node's tenant table named it;
   * absent on nodes without tenants and in records written by builds before tenants were recorded.
   */
  tenant?: string;
  /** The CLAT's /64 where known: the /64 of the flow whose mapping caused the lease, or of the mapping. */
  clatPrefix64: string | null;
  /** External IPv4 address (the Kafka key). */
  address: string;
  protocol: ProtocolName;
  portFirst: number;
  portLast: number;
  /** UTC ms when the interval started (lease or mapping creation). */
  startMs: number;
  /** UTC ms when it ended (release/remove records), else null. */
  endMs: number | null;
  /** The time this record speaks for (Kafka timestamp): start, end, or the held boundary. */
  atMs: number;
  shard: number;
  epoch: number;
  sequence: number;
  index: number;
  /** Per-session mode: the subscriber's own IPv6 source address and port. */
  ipv6Source?: string;
  ipv6Port?: number;
  /** Only with `logDestinations` (RFC 6888 REQ-12 forbids it by default). */
  destination?: string;
  destinationPort?: number;
}

export type ComplianceMode = 'block' | 'session';

export interface DeriverOptions {
  mode: ComplianceMode;
  /** Log session destinations (RFC 6888 REQ-12: off unless the operator's law requires it). */
  logDestinations: boolean;
  /** Ports per block, as the engine's `blockSizePorts`. */
  blockSizePorts: number;
  /** Subscriber prefix length, as the engine's `subscriberPrefixLength`. */
  subscriberPrefixLength: number;
  /** Boundary interval of block-held records (the lookup's scan window); 0 turns them off. */
  heldIntervalMs: number;
  /**
   * RFC 7422: subscribers inside this prefix get their block by formula, so their leases are not
   * logged (the configuration history is). Words and length as the engine's `deterministic`.
   */
  deterministic?: { readonly prefix: ArrayLike<number>; readonly prefixLength: number } | null;
  /**
   * Put before every id, so logs whose (shard, epoch, sequence) restart from 1 (another node, another
   * worker layout of the same node) never produce the same id: `<node>/` or `<node>/w<workers>/`.
   */
  idPrefix?: string;
  /**
   * The tenant of a subscriber (by its prefix words) and that tenant's subscriber prefix length, or
   * null for none; absent on a node without tenants. Asked once per interval, when it opens.
   */
  tenantOf?: TenantOf;
}

/** A subscriber's tenant: its name and the subscriber prefix length it delegates. */
export type TenantOf = (
  subscriber: ArrayLike<number>,
) => { readonly name: string; readonly subscriberPrefixLength: number } | null;

export const defaultDeriverOptions: DeriverOptions = {
  mode: 'block',
  logDestinations: false,
  blockSizePorts: 512,
  subscriberPrefixLength: 56,
  heldIntervalMs: 3_600_000,
};

interface OpenInterval {
  /** A deterministic subscriber's lease: tracked, never logged. */
  silent?: boolean;
  leaseId: string;
  subscriber: string;
  /** The subscriber's tenant when the interval opened (null: none). */
  tenant: string | null;
  clatPrefix64: string | null;
  startMs: number;
  shard: number;
  epoch: number;
  ipv6Source?: string;
  ipv6Port?: number;
  /** Block leases: the block (kept here so restatements need not parse the map key). */
  protocol?: number;
  address?: number;
  firstPort?: number;
}

interface ShardState {
  /** Open block leases by `protocol/address/firstPort`, in lease order (Map keeps insertion order). */
  readonly blocks: Map<string, OpenInterval>;
  /** Open mappings (per-session mode) by `protocol/address/port`. */
  readonly mappings: Map<string, OpenInterval>;
  /** Open sessions with destination (logDestinations) by `protocol/address/port/remote/remotePort`. */
  readonly sessions: Map<string, OpenInterval>;
  /** Next block-held boundary (ms), or -1 before the first event. */
  nextHeldMs: number;
  /** Owner epoch of the shard's latest event, or -1 before the first event. */
  epoch: number;
}

/** Turns one shard's event batches into compliance records; keeps the open intervals it needs. */
export class ComplianceDeriver {
  private readonly shards = new Map<number, ShardState>();

  constructor(readonly options: DeriverOptions) {
    assert.ok(options.blockSizePorts > 0 && Number.isInteger(options.blockSizePorts));
    assert.ok(options.subscriberPrefixLength >= 0 && options.subscriberPrefixLength <= 128);
    assert.ok(options.heldIntervalMs >= 0);
  }

  private shardState(shard: number): ShardState {
    let state = this.shards.get(shard);
    if (state === undefined) {
      state = { blocks: new Map(), mappings: new Map(), sessions: new Map(), nextHeldMs: -1, epoch: -1 };
      this.shards.set(shard, state);
    }
    return state;
  }

  /** Leases currently open (for status and tests). */
  openBlocks(shard: number): number {
    return this.shards.get(shard)?.blocks.size ?? 0;
  }

  /**
   * Derives the records of one batch (in event order) and pushes them to `out`. Must be called for
   * every batch of a shard in sequence order, also when its records were produced before (a restart
   * replays to rebuild the open intervals and drops what it derives).
   */
  derive(shard: number, sequence: number, events: readonly NatEvent[], out: ComplianceRecord[]): void {
    assert.ok(Number.isInteger(sequence) && sequence > 0, 'batch sequences start at 1');
    const state = this.shardState(shard);
    const { options } = this;
    for (let index = 0; index < events.length; index++) {
      const event = events[index];
      if (options.heldIntervalMs > 0) this.emitHeld(state, event.timeMs, out);
      if (event.epoch !== state.epoch) {
        if (state.epoch !== -1 && event.epoch > state.epoch)
          this.emitTakeover(state, event.epoch, event.timeMs, sequence, index, out);
        state.epoch = event.epoch;
      }
      const id = `${options.idPrefix ?? ''}${shard}:${event.epoch}:${sequence}:${index}`;
      switch (event.type) {
        case NatEventType.BlockLeased: {
          const key = `${event.protocol}/${event.address}/${event.firstPort}`;
          const tenant = options.tenantOf?.(event.subscriber) ?? null;
          const open: OpenInterval = {
            leaseId: id,
            subscriber: formatPrefix(
              event.subscriber,
              tenant?.subscriberPrefixLength ?? options.subscriberPrefixLength,
            ),
            tenant: tenant?.name ?? null,
            clatPrefix64: clatPrefixOf(
              events,
              index,
              event.protocol,
              event.address,
              event.firstPort,
              options,
            ),
            startMs: event.timeMs,
            shard,
            epoch: event.epoch,
            protocol: event.protocol,
            address: event.address,
            firstPort: event.firstPort,
          };
          state.blocks.set(key, open);
          if (isInside(event.subscriber, options.deterministic)) {
            open.silent = true;
            break;
          }
          out.push(
            blockRecord(id, 'block-lease', open, event.protocol, event.address, event.firstPort, options, {
              endMs: null,
              atMs: event.timeMs,
              sequence,
              index,
            }),
          );
          break;
        }
        case NatEventType.BlockReleased: {
          const key = `${event.protocol}/${event.address}/${event.firstPort}`;
          const open = state.blocks.get(key);
          // Unknown only when its lease lay in batches the log compacted before they were forwarded
          // (counted as lostBatches by the outbox): the holder cannot be named, so no record.
          if (open === undefined) break;
          state.blocks.delete(key);
          if (open.silent === true) break;
          out.push(
            blockRecord(id, 'block-release', open, event.protocol, event.address, event.firstPort, options, {
              endMs: event.timeMs,
              atMs: event.timeMs,
              sequence,
              index,
            }),
          );
          break;
        }
        case NatEventType.MappingCreated: {
          if (options.mode !== 'session') break;
          const key = `${event.protocol}/${event.ipv4}/${event.ipv4Port}`;
          const tenant = options.tenantOf?.(event.ipv6) ?? null;
          const open: OpenInterval = {
            leaseId: id,
            subscriber: formatPrefix(
              event.ipv6,
              tenant?.subscriberPrefixLength ?? options.subscriberPrefixLength,
            ),
            tenant: tenant?.name ?? null,
            clatPrefix64: formatPrefix(event.ipv6, 64),
            startMs: event.timeMs,
            shard,
            epoch: event.epoch,
            ipv6Source: formatPrefix(event.ipv6, 128).slice(0, -4),
            ipv6Port: event.ipv6Port,
          };
          state.mappings.set(key, open);
          out.push(
            mappingRecord(
              id,
              'mapping-create',
              open,
              event.protocol,
              event.ipv4,
              event.ipv4Port,
              null,
              event.timeMs,
              sequence,
              index,
            ),
          );
          break;
        }
        case NatEventType.MappingRemoved: {
          if (options.mode !== 'session') break;
          const key = `${event.protocol}/${event.ipv4}/${event.ipv4Port}`;
          const open = state.mappings.get(key);
          if (open === undefined) break; // created before per-session mode was turned on
          state.mappings.delete(key);
          out.push(
            mappingRecord(
              id,
              'mapping-remove',
              open,
              event.protocol,
              event.ipv4,
              event.ipv4Port,
              event.timeMs,
              event.timeMs,
              sequence,
              index,
            ),
          );
          break;
        }
        case NatEventType.SessionCreated: {
          if (options.mode !== 'session' || !options.logDestinations) break;
          const mapping = state.mappings.get(`${event.protocol}/${event.ipv4}/${event.ipv4Port}`);
          if (mapping === undefined) break;
          const open: OpenInterval = { ...mapping, leaseId: id, startMs: event.timeMs };
          state.sessions.set(
            `${event.protocol}/${event.ipv4}/${event.ipv4Port}/${event.remote}/${event.remotePort}`,
            open,
          );
          const record = mappingRecord(
            id,
            'session-create',
            open,
            event.protocol,
            event.ipv4,
            event.ipv4Port,
            null,
            event.timeMs,
            sequence,
            index,
          );
          record.destination = formatIpv4(event.remote);
          record.destinationPort = event.remotePort;
          out.push(record);
          break;
        }
        case NatEventType.SessionRemoved: {
          if (options.mode !== 'session' || !options.logDestinations) break;
          const key = `${event.protocol}/${event.ipv4}/${event.ipv4Port}/${event.remote}/${event.remotePort}`;
          const open = state.sessions.get(key);
          if (open === undefined) break;
          state.sessions.delete(key);
          const record = mappingRecord(
            id,
            'session-remove',
            open,
            event.protocol,
            event.ipv4,
            event.ipv4Port,
            event.timeMs,
            event.timeMs,
            sequence,
            index,
          );
          record.destination = formatIpv4(event.remote);
          record.destinationPort = event.remotePort;
          out.push(record);
          break;
        }
        default:
          break;
      }
    }
  }

  /**
   * The shard's events now carry a newer owner epoch: the new owner holds every block still leased
   * (a takeover keeps the subscribers' blocks). One block-takeover record per open lease, stamped with
   * the new epoch and the first event's time; the lease's later records carry the new epoch too.
   */
  private emitTakeover(
    state: ShardState,
    epoch: number,
    timeMs: number,
    sequence: number,
    index: number,
    out: ComplianceRecord[],
  ): void {
    for (const open of state.blocks.values()) open.epoch = epoch;
    this.emitOpenBlocks(
      state,
      'block-takeover',
      (open) => `t:${open.leaseId}:${epoch}`,
      timeMs,
      sequence,
      index,
      out,
    );
  }

  /**
   * At the first event at or past the shard's next boundary, one block-held record per open lease,
   * stamped with the latest boundary crossed. Driven by event time only, so a replay emits the same.
   */
  private emitHeld(state: ShardState, timeMs: number, out: ComplianceRecord[]): void {
    const interval = this.options.heldIntervalMs;
    if (state.nextHeldMs === -1) {
      state.nextHeldMs = (Math.floor(timeMs / interval) + 1) * interval;
      return;
    }
    if (timeMs < state.nextHeldMs) return;
    const boundaryMs = Math.floor(timeMs / interval) * interval;
    state.nextHeldMs = boundaryMs + interval;
    this.emitOpenBlocks(
      state,
      'block-held',
      (open) => `h:${open.leaseId}:${boundaryMs}`,
      boundaryMs,
      0,
      0,
      out,
    );
  }

  /** One `kind` record per open, non-silent lease of the shard, still open (endMs null) at `atMs`. */
  private emitOpenBlocks(
    state: ShardState,
    kind: 'block-takeover' | 'block-held',
    idOf: (open: OpenInterval) => string,
    atMs: number,
    sequence: number,
    index: number,
    out: ComplianceRecord[],
  ): void {
    for (const open of state.blocks.values()) {
      if (open.silent === true) continue;
      const { protocol, address, firstPort } = open as Required<OpenInterval>;
      out.push(
        blockRecord(idOf(open), kind, open, protocol, address, firstPort, this.options, {
          endMs: null,
          atMs,
          sequence,
          index,
        }),
      );
    }
  }
}

function blockRecord(
  id: string,
  kind: ComplianceRecordKind,
  open: OpenInterval,
  protocol: number,
  address: number,
  firstPort: number,
  options: DeriverOptions,
  at: { endMs: number | null; atMs: number; sequence: number; index: number },
): ComplianceRecord {
  const record: ComplianceRecord = {
    v: COMPLIANCE_RECORD_VERSION,
    id,
    kind,
    leaseId: open.leaseId,
    subscriber: open.subscriber,
    clatPrefix64: open.clatPrefix64,
    address: formatIpv4(address),
    protocol: PROTOCOL_SLOTS[protocol],
    portFirst: firstPort,
    portLast: firstPort + options.blockSizePorts - 1,
    startMs: open.startMs,
    endMs: at.endMs,
    atMs: at.atMs,
    shard: open.shard,
    epoch: open.epoch,
    sequence: at.sequence,
    index: at.index,
  };
  // Only when named: records of nodes without tenants stay as they were (same ids, same bytes).
  if (open.tenant !== null) record.tenant = open.tenant;
  return record;
}

function mappingRecord(
  id: string,
  kind: ComplianceRecordKind,
  open: OpenInterval,
  protocol: number,
  address: number,
  port: number,
  endMs: number | null,
  atMs: number,
  sequence: number,
  index: number,
): ComplianceRecord {
  const record: ComplianceRecord = {
    v: COMPLIANCE_RECORD_VERSION,
    id,
    kind,
    leaseId: open.leaseId,
    subscriber: open.subscriber,
    clatPrefix64: open.clatPrefix64,
    address: formatIpv4(address),
    protocol: PROTOCOL_SLOTS[protocol],
    portFirst: port,
    portLast: port,
    startMs: open.startMs,
    endMs,
    atMs,
    shard: open.shard,
    epoch: open.epoch,
    sequence,
    index,
    ipv6Source: open.ipv6Source,
    ipv6Port: open.ipv6Port,
  };
  if (open.tenant !== null) record.tenant = open.tenant;
  return record;
}

function isInside(words: ArrayLike<number>, det: DeriverOptions['deterministic']): boolean {
  if (det === undefined || det === null) return false;
  for (let bit = 0; bit < det.prefixLength; bit++) {
    const mask = 1 << (31 - (bit & 31));
    if ((words[bit >>> 5] & mask) !== (det.prefix[bit >>> 5] & mask)) return false;
  }
  return true;
}

/** The /64 of the first mapping in the rest of the batch that falls in the block just leased. */
function clatPrefixOf(
  events: readonly NatEvent[],
  from: number,
  protocol: number,
  address: number,
  firstPort: number,
  options: DeriverOptions,
): string | null {
  const last = firstPort + options.blockSizePorts - 1;
  // The engine emits the mapping that needed the block right after the lease; look a few events ahead.
  for (let i = from + 1; i < events.length && i <= from + 4; i++) {
    const e = events[i];
    if (
      e.type === NatEventType.MappingCreated &&
      e.protocol === protocol &&
      e.ipv4 === address &&
      e.ipv4Port >= firstPort &&
      e.ipv4Port <= last
    )
      return formatPrefix(e.ipv6, 64);
  }
  return null;
}

/** RFC 5952 text of the first `length` bits of an address, with `/length` (zero-run compressed). */
export function formatPrefix(words: Ipv6Words | ArrayLike<number>, length: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) {
    const word = words[i >> 1] >>> 0;
    let group = i % 2 === 0 ? word >>> 16 : word & 0xffff;
    const bitsBefore = i * 16;
    if (bitsBefore >= length) group = 0;
    else if (bitsBefore + 16 > length) group &= (0xffff << (16 - (length - bitsBefore))) & 0xffff;
    groups.push(group);
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  const text =
    bestStart === -1
      ? hex.join(':')
      : `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
  return `${text}/${length}`;
}

/** Parses a record from its JSON value; null when it is not a compliance record of a known version. */
export function decodeRecord(text: string): ComplianceRecord | null {
  let value: ComplianceRecord;
  try {
    value = JSON.parse(text) as ComplianceRecord;
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || value.v !== COMPLIANCE_RECORD_VERSION) return null;
  if (typeof value.id !== 'string' || typeof value.address !== 'string') return null;
  return value;
}
