// Snapshot and restore of one shard's NatState (DESIGN.md "Snapshots per shard ... with a configuration
// fingerprint"): a logical, slot-independent binary image, grouped the way the state is owned — per
// subscriber its prefix, pool address and blocks (in list order, each port's RFC 6888 hold-down), then its
// BIB entries (the IPv6 address after the subscriber prefix, the ports: paired pooling puts every mapping
// on the subscriber's address), each followed by its sessions (remote, state, expiry relative to the
// snapshot time and logged expiry relative to that) — so a restore rebuilds the tables through the same
// add functions the reducer uses (any hash seed), and replay = restore(snapshot) + the log after it. A snapshot of another pool or block
// geometry (the fingerprint), a newer format, too many entries for the configured bounds, or damage is
// refused as a value naming the cause and the fix; restoring never guesses.
import { createHash } from 'node:crypto';
import { addressAt, type NatEngineConfig } from '../config.js';
import { NatState, PORT_IN_USE } from '../tables/nat-state.js';
import {
  Reader,
  unzigzag,
  writeFloat64,
  writeTrimmedWords,
  writeUint16,
  writeUint32,
  writeVarint,
  zigzag,
} from './bytes.js';

const MAGIC = 0x5836344e; // "X64N"
export const NAT_SNAPSHOT_FORMAT_VERSION = 1;
const FINGERPRINT_BYTES = 32;
const HEADER_BYTES = 4 + 1 + FINGERPRINT_BYTES + 8 + 4 * 4;

/**
 * SHA-256 over what gives table rows and events their meaning: the pool ranges, each protocol's dynamic
 * port range, the block size, the subscriber prefix length and deterministic mode. Timeouts and table
 * bounds may change across a restart (bounds are checked against the snapshot's counts instead).
 */
export function natConfigFingerprint(config: NatEngineConfig): Uint8Array {
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify({
      pool: [...config.rangeFirst].map((first, i) => [first, config.rangeLast[i]]),
      ports: config.protocols.map((p) => [p.portFirst, p.portLast]),
      blockSizePorts: config.blockSizePorts,
      subscriberPrefixLength: config.subscriberPrefixLength,
      deterministic:
        config.deterministic === null
          ? null
          : [[...config.deterministic.prefix], config.deterministic.prefixLength],
    }),
  );
  return new Uint8Array(hash.digest());
}

/** Upper bound of the snapshot's bytes for `state` (every varint at its widest, every port held). */
export function natStateSnapshotBytesMax(state: NatState): number {
  const ports = state.config.blockSizePorts;
  return (
    HEADER_BYTES +
    state.subscriberCount * (17 + 5 + 3 * 5 + 5) +
    state.leasedBlockCount * (5 + 8 + 5 + ports * 9) +
    state.mappingCount * (1 + 16 + 2 + 2 + 5) +
    state.sessionCount * (4 + 2 + 1 + 10 + 10)
  );
}

/** Bytes of a mapping's IPv6 address written after its subscriber's prefix (the prefix's whole bytes are implied). */
function suffixStart(config: NatEngineConfig): number {
  return Math.floor(config.subscriberPrefixLength / 8);
}

/** Writes the snapshot of `state` taken at `timeMs` into `out` at `offset`; returns the end offset. */
export function writeNatStateSnapshot(
  state: NatState,
  timeMs: number,
  out: Uint8Array,
  offset: number,
): number {
  const config = state.config;
  let at = writeUint32(out, offset, MAGIC);
  out[at++] = NAT_SNAPSHOT_FORMAT_VERSION;
  out.set(natConfigFingerprint(config), at);
  at += FINGERPRINT_BYTES;
  at = writeFloat64(out, at, timeMs);
  at = writeUint32(out, at, state.subscriberCount);
  at = writeUint32(out, at, state.leasedBlockCount);
  at = writeUint32(out, at, state.mappingCount);
  at = writeUint32(out, at, state.sessionCount);

  // Mappings by subscriber (one pass: counting sort into `order`).
  const subs = config.subscribersMax;
  const firstOf = new Int32Array(subs + 1);
  for (let m = 0; m < config.mappingsMax; m++)
    if (state.isMappingUsed(m)) firstOf[state.mappingSubscriberOf(m) + 1]++;
  for (let s = 0; s < subs; s++) firstOf[s + 1] += firstOf[s];
  const order = new Int32Array(state.mappingCount);
  const fill = firstOf.slice(0, subs);
  for (let m = 0; m < config.mappingsMax; m++)
    if (state.isMappingUsed(m)) order[fill[state.mappingSubscriberOf(m)]++] = m;

  const size = config.blockSizePorts;
  const from = suffixStart(config);
  const rec = state.mappingRecord;
  const list: number[] = [];
  for (let s = 0; s < subs; s++) {
    if (state.subscriberUsed[s] === 0) continue;
    at = writeTrimmedWords(out, at, state.subscriberPrefix.subarray(s * 4, s * 4 + 4));
    at = writeVarint(out, at, zigzag(state.subscriberAddress[s]));
    // Blocks per protocol from the list's tail to its head: leasing them in that order rebuilds the
    // same lists, which the port picker walks in order.
    for (let slot = 0; slot < 3; slot++) {
      list.length = 0;
      for (let b = state.subscriberBlockHead[s * 3 + slot]; b !== -1; b = state.blockNext[b]) list.push(b);
      at = writeVarint(out, at, list.length);
      for (let i = list.length - 1; i >= 0; i--) {
        const b = list[i];
        at = writeVarint(out, at, b);
        at = writeFloat64(out, at, state.blockIdleSinceMs[b]);
        const slab = state.blockSlab[b] * size;
        let held = 0;
        for (let p = 0; p < size; p++) {
          const v = state.slabFreedAtS[slab + p];
          if (v !== 0 && v !== PORT_IN_USE) held++;
        }
        at = writeVarint(out, at, held);
        for (let p = 0; p < size; p++) {
          const v = state.slabFreedAtS[slab + p];
          if (v === 0 || v === PORT_IN_USE) continue;
          at = writeVarint(out, at, p);
          at = writeUint32(out, at, v);
        }
      }
    }
    at = writeVarint(out, at, firstOf[s + 1] - firstOf[s]);
    for (let i = firstOf[s]; i < firstOf[s + 1]; i++) {
      const m = order[i];
      out[at++] = state.mappingProtocolOf(m) | (state.mappingStaticOf(m) << 4);
      for (let byte = from; byte < 16; byte++)
        out[at++] = (rec[m * 8 + (byte >> 2)] >>> (8 * (3 - (byte & 3)))) & 255;
      at = writeUint16(out, at, state.mappingV6PortOf(m));
      at = writeUint16(out, at, state.mappingV4PortOf(m));
      // Sessions from the list's tail, so restoring (each added at the head) keeps their order.
      list.length = 0;
      for (let x = state.mappingFirstSession[m]; x !== -1; x = state.sessionNextOf(x)) list.push(x);
      at = writeVarint(out, at, list.length);
      const tcp = state.mappingProtocolOf(m) === 0;
      for (let j = list.length - 1; j >= 0; j--) {
        const x = list[j];
        at = writeUint32(out, at, state.sessionRemoteOf(x));
        at = writeUint16(out, at, state.sessionRemotePortOf(x));
        if (tcp) out[at++] = state.sessionStateOf(x);
        const liveMs = state.sessionExpiresAtOf(x);
        at = writeVarint(out, at, zigzag(liveMs - timeMs));
        at = writeVarint(out, at, zigzag(liveMs - state.sessionLoggedExpiresAtOf(x)));
      }
    }
  }
  return at;
}

/** The snapshot of `state` at `timeMs` in a buffer of its own size. */
export function snapshotNatState(state: NatState, timeMs: number): Uint8Array {
  const scratch = new Uint8Array(natStateSnapshotBytesMax(state));
  return scratch.slice(0, writeNatStateSnapshot(state, timeMs, scratch, 0));
}

export type NatSnapshotRefusal =
  | 'not-a-snapshot'
  | 'newer-format'
  | 'config-mismatch'
  | 'too-large'
  | 'malformed';

export type RestoredNatState =
  | { readonly ok: true; readonly state: NatState; readonly timeMs: number }
  | { readonly ok: false; readonly refusal: NatSnapshotRefusal; readonly message: string };

export interface RestoreOptions {
  /** Hash seed of the new tables (a restore may use a new one: the snapshot holds no slots). */
  hashSeed: number;
  /** Time the new state's timer wheels start at (now, for a restart). */
  startMs: number;
}

/**
 * Rebuilds a NatState for `config` from snapshot bytes[offset, offset + length). Refuses (a value) a
 * snapshot of another fingerprint, a newer format, more entries than the configured bounds, or damage.
 */
export function restoreNatState(
  config: NatEngineConfig,
  bytes: Uint8Array,
  offset: number,
  length: number,
  options: RestoreOptions,
): RestoredNatState {
  const r = new Reader(bytes, offset, offset + length);
  if (r.u32() !== MAGIC || r.failed) return refuse('not-a-snapshot', 'not a NAT state snapshot');
  const format = r.u8();
  if (format !== NAT_SNAPSHOT_FORMAT_VERSION) {
    return refuse(
      format > NAT_SNAPSHOT_FORMAT_VERSION ? 'newer-format' : 'malformed',
      `snapshot format ${format} is not this build's ${NAT_SNAPSHOT_FORMAT_VERSION}`,
    );
  }
  const fingerprint = r.bytesOf(FINGERPRINT_BYTES);
  const expected = natConfigFingerprint(config);
  if (r.failed) return refuse('malformed', 'the header is cut short');
  if (!expected.every((b, i) => b === fingerprint[i])) {
    return refuse(
      'config-mismatch',
      `the snapshot was taken with another pool, port range, block size, subscriber prefix length or deterministic prefix (fingerprint ${hex(fingerprint)}, this configuration ${hex(expected)}) — restore that configuration, or move the state directory away to start empty`,
    );
  }
  const timeMs = r.f64();
  const counts = [r.u32(), r.u32(), r.u32(), r.u32()];
  if (r.failed) return refuse('malformed', 'the header is cut short');
  const bounds: [number, number, string][] = [
    [counts[0], config.subscribersMax, 'subscribersMax'],
    [counts[1], config.leasedBlocksMax, 'leasedBlocksMax'],
    [counts[2], config.mappingsMax, 'mappingsMax'],
    [counts[3], config.sessionsMax, 'sessionsMax'],
  ];
  for (const [count, max, field] of bounds) {
    if (count > max)
      return refuse(
        'too-large',
        `the snapshot holds ${count} entries, more than ${field} ${max} — raise ${field}`,
      );
  }
  const state = new NatState(config, options.hashSeed, options.startMs);
  state.sessionVisitLeadMs = config.refreshLeadMs;
  try {
    // The checksum of the file guards the bytes; fill's checks guard the meaning (no entry twice, every
    // mapping in its subscriber's blocks, counts as announced).
    const problem = fill(state, r, counts, timeMs);
    if (problem !== null) return refuse('malformed', problem);
  } catch (error) {
    // An assertion of the tables: the bytes passed their checksum but do not describe a valid state.
    return refuse('malformed', `inconsistent snapshot: ${(error as Error).message}`);
  }
  return { ok: true, state, timeMs };
}

function fill(state: NatState, r: Reader, counts: number[], timeMs: number): string | null {
  const config = state.config;
  const size = config.blockSizePorts;
  const from = suffixStart(config);
  const idle: number[] = [];
  const v6 = new Uint32Array(4);
  let blocks = 0;
  let mappings = 0;
  let sessions = 0;
  for (let i = 0; i < counts[0]; i++) {
    const prefix = r.trimmedWords();
    const address = unzigzag(r.varint());
    if (r.failed) return `subscriber ${i} is cut short`;
    if (address < -1 || address >= config.poolAddressCount)
      return `subscriber ${i} has address index ${address}`;
    if (state.findSubscriber(prefix[0], prefix[1], prefix[2], prefix[3]) !== -1)
      return `subscriber ${i} twice`;
    if (!state.hasSubscriberRoom()) return 'more subscribers than the header says';
    const s = state.addSubscriber(prefix[0], prefix[1], prefix[2], prefix[3]);
    state.subscriberAddress[s] = address;
    for (let slot = 0; slot < 3; slot++) {
      const n = r.varint();
      for (let k = 0; k < n; k++) {
        const block = r.varint();
        const idleSinceMs = r.f64();
        const held = r.varint();
        if (r.failed || block >= config.totalBlocks || state.blockSlotOf(block) !== slot || held > size)
          return `a block of subscriber ${i} is damaged`;
        if (state.blockAddressIndexOf(block) !== address || state.blockOwner[block] !== -1)
          return `block ${block} of subscriber ${i} is on another address or leased twice`;
        if (++blocks > counts[1]) return 'more blocks than the header says';
        state.leaseBlock(block, s, idleSinceMs >= 0 ? idleSinceMs : timeMs);
        if (idleSinceMs >= 0) idle.push(block);
        const slab = state.blockSlab[block] * size;
        for (let h = 0; h < held; h++) {
          const port = r.varint();
          const freedAtS = r.u32();
          if (r.failed || port >= size) return `a port hold of block ${block} is damaged`;
          state.slabFreedAtS[slab + port] = freedAtS;
        }
      }
    }
    const mappingCount = r.varint();
    if (r.failed || mappings + mappingCount > counts[2]) return `the mappings of subscriber ${i} are damaged`;
    if (mappingCount > 0 && address === -1) return `subscriber ${i} has mappings but no address`;
    const v4 = address === -1 ? 0 : addressAt(config, address);
    for (let k = 0; k < mappingCount; k++) {
      const kind = r.u8();
      for (let w = 0; w < 4; w++) v6[w] = prefix[w];
      for (let byte = from; byte < 16; byte++) {
        const w = byte >> 2;
        const shift = 8 * (3 - (byte & 3));
        v6[w] = ((v6[w] & ~(255 << shift)) | (r.u8() << shift)) >>> 0;
      }
      const v6Port = r.u16();
      const v4Port = r.u16();
      const sessionCount = r.varint();
      const slot = kind & 15;
      const isStatic = (kind & 16) !== 0;
      if (r.failed || slot > 2 || kind > 31) return `mapping ${mappings} is damaged`;
      if (state.findMapping4(slot, v4, v4Port) !== -1 || state.findMapping6(slot, v6, 0, v6Port) !== -1)
        return `mapping ${mappings} twice`;
      const block = isStatic ? -1 : state.blockOfPort(slot, address, v4Port);
      if (!isStatic && (block < 0 || state.blockOwner[block] !== s))
        return `mapping ${mappings} is outside its blocks`;
      if (!isStatic && sessionCount === 0) return `dynamic mapping ${mappings} has no session`;
      if (!isStatic && state.isPortTaken(block, v4Port, Number.NEGATIVE_INFINITY))
        return `mapping ${mappings} takes a port in use`;
      if (++mappings > counts[2]) return 'more mappings than the header says';
      const m = state.addMapping(slot, v6, v6Port, v4, v4Port, s, block, timeMs);
      for (let j = 0; j < sessionCount; j++) {
        const remote = r.u32();
        const remotePort = r.u16();
        const tcpState = slot === 0 ? r.u8() : 0;
        const liveMs = timeMs + unzigzag(r.varint());
        const loggedMs = liveMs - unzigzag(r.varint());
        if (r.failed) return `session ${sessions} is cut short`;
        if (state.findSession(m, remote, remotePort) !== -1) return `session ${sessions} twice`;
        if (++sessions > counts[3]) return 'more sessions than the header says';
        const x = state.addSession(m, remote, remotePort, tcpState, loggedMs, timeMs);
        state.setSessionExpiresAt(x, liveMs);
      }
    }
  }
  if (blocks !== counts[1] || mappings !== counts[2] || sessions !== counts[3])
    return 'fewer entries than the header says';
  // Blocks idle at the snapshot keep their idle time (leasing marked them idle; a mapping would have taken that back).
  for (const block of idle) {
    if (state.blockInUse[block] !== 0) return `block ${block} is idle and in use`;
  }
  if (!r.atEnd()) return `${r.remaining()} bytes after the last subscriber`;
  return null;
}

function refuse(refusal: NatSnapshotRefusal, message: string): RestoredNatState {
  return { ok: false, refusal, message };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 6)).toString('hex');
}
