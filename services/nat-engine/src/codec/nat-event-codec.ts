// The compact binary codec of NatEvent batches: what the event log stores and replicas read. Lives next
// to events.ts because the schema and its wire form change together (append a type or field here when
// it is appended there, and bump NAT_EVENT_SCHEMA_VERSION). A payload is
//   [version u8][event count varint][first event time varint] then per event
//   [tag u8: type 0-3 | protocol slot << 4 | flag << 6 | same-IPv4-as-previous << 7][time delta zigzag varint][body]
// with IPv4 addresses and ports fixed-width big-endian, lifetimes as zigzag varints, a block's subscriber
// prefix without its trailing zero bytes, and the IPv4 transport address left out when it repeats the
// previous event's (mapping created -> session created, session removed -> mapping removed). Shard and
// epoch are the batch's (the log's identity), not repeated per event. About 13-17 bytes per event
// (README "Event codec"); Jool's joold sends 52 bytes per session, VPP's NAT HA 44 bytes per event.
// Decoding checks everything and refuses a whole payload (a value, and a counter in NatEventDecoder)
// rather than return part of it: a newer version, an unknown type, a truncated or over-long payload.
import { assert } from '../errors.js';
import {
  type Ipv6Words,
  type LimitName,
  NAT_EVENT_SCHEMA_VERSION,
  type NatEvent,
  NatEventType,
} from '../events.js';
import {
  Reader,
  unzigzag,
  writeTrimmedWords,
  writeUint16,
  writeUint32,
  writeVarint,
  zigzag,
} from './bytes.js';

/** Bytes of the largest encoded event (a MappingCreated with a fresh IPv4 transport address). */
export const NAT_EVENT_BYTES_MAX = 1 + 10 + 16 + 2 + 4 + 2;
/** Payload header bytes at most: version, count varint, first time varint. */
export const NAT_EVENT_HEADER_BYTES_MAX = 1 + 5 + 8;

const LIMIT_NAMES: readonly LimitName[] = [
  'pool',
  'subscriber-blocks',
  'subscriber-sessions',
  'mappings-table',
  'sessions-table',
  'subscribers-table',
  // Appended (never renumber):
  'leased-blocks',
  'tenant-quota',
  'tenant-sessions',
];
const FLAG = 1 << 6;
const SAME_V4 = 1 << 7;

/** Upper bound of the payload bytes for `count` events. */
export function natEventsBytesMax(count: number): number {
  return NAT_EVENT_HEADER_BYTES_MAX + count * NAT_EVENT_BYTES_MAX;
}

/**
 * Writes `events` as one payload into `out` at `offset`; returns the offset after it. `out` must have
 * natEventsBytesMax(events.length) bytes from offset. Events must carry this build's schema version and
 * integer times (the engine's clock is integer milliseconds).
 */
export function encodeNatEvents(events: readonly NatEvent[], out: Uint8Array, offset: number): number {
  assert(events.length > 0, 'a payload holds at least one event');
  assert(out.length - offset >= natEventsBytesMax(events.length), 'the output has room for the payload');
  let at = offset;
  out[at++] = NAT_EVENT_SCHEMA_VERSION;
  at = writeVarint(out, at, events.length);
  let previousTimeMs = events[0].timeMs;
  assert(Number.isSafeInteger(previousTimeMs) && previousTimeMs >= 0, 'event times are integer ms');
  at = writeVarint(out, at, previousTimeMs);
  const v4 = { address: -1, port: -1, protocol: -1 };
  /** Writes the mapping's IPv4 transport address unless it repeats the previous one; returns the tag bit. */
  const writeV4 = (address: number, port: number, protocol: number): number => {
    if (address === v4.address && port === v4.port && protocol === v4.protocol) return SAME_V4;
    at = writeUint32(out, at, address);
    at = writeUint16(out, at, port);
    v4.address = address;
    v4.port = port;
    v4.protocol = protocol;
    return 0;
  };
  for (const e of events) {
    assert(e.version === NAT_EVENT_SCHEMA_VERSION, 'an encoded event has the schema version of this build');
    assert(Number.isSafeInteger(e.timeMs), 'event times are integer ms');
    assert(e.protocol >= 0 && e.protocol <= 2, 'protocol is a slot 0-2');
    const tagAt = at++;
    let tag = e.type | (e.protocol << 4);
    at = writeVarint(out, at, zigzag(e.timeMs - previousTimeMs));
    previousTimeMs = e.timeMs;
    switch (e.type) {
      case NatEventType.BlockLeased:
        at = writeUint32(out, at, e.address);
        at = writeUint16(out, at, e.firstPort);
        at = writeTrimmedWords(out, at, e.subscriber);
        break;
      case NatEventType.BlockReleased:
        at = writeUint32(out, at, e.address);
        at = writeUint16(out, at, e.firstPort);
        break;
      case NatEventType.MappingCreated:
        if (e.isStatic) tag |= FLAG;
        for (let i = 0; i < 4; i++) at = writeUint32(out, at, e.ipv6[i]);
        at = writeUint16(out, at, e.ipv6Port);
        tag |= writeV4(e.ipv4, e.ipv4Port, e.protocol);
        break;
      case NatEventType.MappingRemoved:
        tag |= writeV4(e.ipv4, e.ipv4Port, e.protocol);
        break;
      case NatEventType.SessionCreated:
      case NatEventType.SessionChanged:
        tag |= writeV4(e.ipv4, e.ipv4Port, e.protocol);
        at = writeUint32(out, at, e.remote);
        at = writeUint16(out, at, e.remotePort);
        if (e.protocol === 0) out[at++] = e.state;
        else assert(e.state === 0, 'only TCP sessions have a state');
        assert(Number.isSafeInteger(e.remainingMs), 'lifetimes are integer ms');
        at = writeVarint(out, at, zigzag(e.remainingMs));
        break;
      case NatEventType.SessionRemoved:
        assert(e.cause === 0 || e.cause === 1, 'a known removal cause');
        if (e.cause === 1) tag |= FLAG;
        tag |= writeV4(e.ipv4, e.ipv4Port, e.protocol);
        at = writeUint32(out, at, e.remote);
        at = writeUint16(out, at, e.remotePort);
        break;
      case NatEventType.LimitReached: {
        const limit = LIMIT_NAMES.indexOf(e.limit);
        assert(limit >= 0, 'a known limit name');
        out[at++] = limit;
        at = writeTrimmedWords(out, at, e.subscriber);
        break;
      }
      default:
        assert(false, 'a known event type');
    }
    out[tagAt] = tag;
  }
  return at;
}

/** One payload in a buffer of its own size. */
export function encodeNatEventBatch(events: readonly NatEvent[]): Uint8Array {
  const scratch = new Uint8Array(natEventsBytesMax(events.length));
  const end = encodeNatEvents(events, scratch, 0);
  return scratch.slice(0, end);
}

/** Why a payload was refused. */
export type NatEventsRefusal = 'newer-version' | 'unknown-version' | 'malformed';

export type DecodedNatEvents =
  | { readonly ok: true; readonly events: NatEvent[] }
  | { readonly ok: false; readonly refusal: NatEventsRefusal; readonly message: string };

/**
 * Reads one payload (bytes[offset, offset + length)) into events stamped with the batch's shard and epoch.
 * Refuses the whole payload, never part of it, and never throws on its content.
 */
export function decodeNatEvents(
  bytes: Uint8Array,
  offset: number,
  length: number,
  shard: number,
  epoch: number,
): DecodedNatEvents {
  const reader = new Reader(bytes, offset, offset + length);
  const version = reader.u8();
  if (reader.failed) return malformed('empty payload');
  if (version > NAT_EVENT_SCHEMA_VERSION) {
    return {
      ok: false,
      refusal: 'newer-version',
      message: `event payload version ${version} is newer than this build's ${NAT_EVENT_SCHEMA_VERSION}: upgrade this node before it reads the log`,
    };
  }
  if (version !== NAT_EVENT_SCHEMA_VERSION) {
    return { ok: false, refusal: 'unknown-version', message: `event payload version ${version} is unknown` };
  }
  const count = reader.varint();
  let timeMs = reader.varint();
  // Every event takes at least 2 bytes: a count beyond that is damage, not a reason to allocate.
  if (reader.failed || count === 0 || count > length / 2) return malformed('bad header');
  const events: NatEvent[] = [];
  let v4 = 0;
  let v4Port = 0;
  let v4Protocol = -1;
  for (let i = 0; i < count; i++) {
    const tag = reader.u8();
    const type = tag & 15;
    const protocol = (tag >>> 4) & 3;
    const flag = (tag & FLAG) !== 0;
    timeMs += unzigzag(reader.varint());
    if (reader.failed) return malformed(`event ${i} is cut short`);
    if (protocol > 2) return malformed(`event ${i} has protocol slot ${protocol}`);
    // Object literals spelled out (no spread): one shape per type, built in one step.
    let event: NatEvent;
    switch (type) {
      case NatEventType.BlockLeased:
        event = {
          type,
          version,
          shard,
          epoch,
          timeMs,
          protocol,
          address: reader.u32(),
          firstPort: reader.u16(),
          subscriber: reader.trimmedWords(),
        };
        break;
      case NatEventType.BlockReleased:
        event = {
          type,
          version,
          shard,
          epoch,
          timeMs,
          protocol,
          address: reader.u32(),
          firstPort: reader.u16(),
        };
        break;
      case NatEventType.MappingCreated: {
        const ipv6: Ipv6Words = [reader.u32(), reader.u32(), reader.u32(), reader.u32()];
        const ipv6Port = reader.u16();
        event = {
          type,
          version,
          shard,
          epoch,
          timeMs,
          protocol,
          ipv6,
          ipv6Port,
          ipv4: 0,
          ipv4Port: 0,
          isStatic: flag,
        };
        break;
      }
      case NatEventType.MappingRemoved:
        event = { type, version, shard, epoch, timeMs, protocol, ipv4: 0, ipv4Port: 0 };
        break;
      case NatEventType.SessionCreated:
      case NatEventType.SessionChanged:
        event = {
          type,
          version,
          shard,
          epoch,
          timeMs,
          protocol,
          ipv4: 0,
          ipv4Port: 0,
          remote: 0,
          remotePort: 0,
          state: 0,
          remainingMs: 0,
        };
        break;
      case NatEventType.SessionRemoved:
        event = {
          type,
          version,
          shard,
          epoch,
          timeMs,
          protocol,
          ipv4: 0,
          ipv4Port: 0,
          remote: 0,
          remotePort: 0,
          cause: flag ? 1 : 0,
        };
        break;
      case NatEventType.LimitReached: {
        const limit = LIMIT_NAMES[reader.u8()];
        if (limit === undefined) return malformed(`event ${i} names an unknown limit`);
        event = { type, version, shard, epoch, timeMs, protocol, limit, subscriber: reader.trimmedWords() };
        break;
      }
      default:
        return malformed(`event ${i} has unknown type ${type}`);
    }
    if (type >= NatEventType.MappingCreated && type <= NatEventType.SessionRemoved) {
      if ((tag & SAME_V4) !== 0) {
        if (v4Protocol !== protocol) return malformed(`event ${i} repeats an IPv4 address nothing gave`);
      } else {
        v4 = reader.u32();
        v4Port = reader.u16();
        v4Protocol = protocol;
      }
      const withV4 = event as { ipv4: number; ipv4Port: number };
      withV4.ipv4 = v4;
      withV4.ipv4Port = v4Port;
    } else if ((tag & SAME_V4) !== 0) {
      return malformed(`event ${i} of type ${type} has the same-address bit`);
    }
    if (
      type === NatEventType.SessionCreated ||
      type === NatEventType.SessionChanged ||
      type === NatEventType.SessionRemoved
    ) {
      const session = event as { remote: number; remotePort: number; state: number; remainingMs: number };
      session.remote = reader.u32();
      session.remotePort = reader.u16();
      if (type !== NatEventType.SessionRemoved) {
        if (protocol === 0) session.state = reader.u8();
        session.remainingMs = unzigzag(reader.varint());
      }
    }
    if (reader.failed) return malformed(`event ${i} is cut short`);
    events.push(event);
  }
  if (!reader.atEnd()) return malformed(`${reader.remaining()} bytes after the last event`);
  return { ok: true, events };
}

function malformed(what: string): DecodedNatEvents {
  return { ok: false, refusal: 'malformed', message: `malformed event payload: ${what}` };
}

/** Decodes payloads and counts what it refused, for status (a replica's or a restart's). */
export class NatEventDecoder {
  readonly counters = { decodedPayloads: 0, decodedEvents: 0, refusedNewerVersion: 0, refusedMalformed: 0 };

  decode(bytes: Uint8Array, shard: number, epoch: number): DecodedNatEvents {
    const result = decodeNatEvents(bytes, 0, bytes.length, shard, epoch);
    if (result.ok) {
      this.counters.decodedPayloads++;
      this.counters.decodedEvents += result.events.length;
    } else if (result.refusal === 'newer-version') this.counters.refusedNewerVersion++;
    else this.counters.refusedMalformed++;
    return result;
  }
}
