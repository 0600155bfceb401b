// The replicated state of one shard: subscribers, port blocks (RFC 6888 paired pooling), the BIB and the
// session table of RFC 6146 sec. 3.1, all in typed arrays sized at start-up, open addressing, no
// JavaScript object per entry. BIB and session entries are packed records (one cache line per entry, see
// `mappingRecord`); cold fields stay struct of arrays. Only the reducer (reducer.ts) changes this state,
// except the hot path's lifetime refresh, which the engine publishes at flush (see engine.ts).

import { addressAt, addressIndexIn, type NatEngineConfig } from '../config.js';
import { assert } from '../errors.js';
import { PROTOCOL_SLOT_COUNT } from '../flow-key.js';
import { TimerWheel } from '../timer-wheel.js';
import {
  deriveSecret,
  finish,
  INDEX_ENTITY,
  INDEX_TAG,
  indexInsert,
  indexRemove,
  indexSizeFor,
  pairIndexInsert,
  pairIndexRemove,
  scramble,
} from './hash.js';
import { preTouched } from './pre-touch.js';

const FREE = 255;
/** Bit of a session record's third word: refreshed since the last flush (engine-only, not replicated). */
export const SESSION_DIRTY = 1 << 25;
/** slabFreedAtS value of a port held by a mapping. */
export const PORT_IN_USE = 0xffffffff;
/** Int32 words per session record. */
export const SESSION_WORDS = 6;

export class NatState {
  readonly config: NatEngineConfig;
  readonly hashSeed: number;
  /** Per-word hash secrets (see `scramble`): IPv6 words 0-3 / IPv4 address, ports, remote address. */
  private readonly secret0: number;
  private readonly secret1: number;
  private readonly secret2: number;
  private readonly secret3: number;
  private readonly secret4: number;
  private readonly secret5: number;

  // Subscribers: key = IPv6 source masked to subscriberPrefixLength.
  readonly subscriberPrefix: Uint32Array;
  /** Pool address index of all the subscriber's blocks and mappings (paired pooling), -1 when none. */
  readonly subscriberAddress: Int32Array;
  /** Head of the subscriber's block list per protocol slot (index sub * PROTOCOL_SLOT_COUNT + slot), -1 when none. */
  readonly subscriberBlockHead: Int32Array;
  readonly subscriberBlockCount: Int32Array;
  readonly subscriberSessionCount: Int32Array;
  /** Told of every session added or removed (its subscriber row, +1 or -1): per-share counts (engine). */
  onSubscriberSessions: ((subscriber: number, delta: number) => void) | null = null;
  readonly subscriberMappingCount: Int32Array;
  readonly subscriberUsed: Uint8Array;
  private readonly subscriberFreeNext: Int32Array;
  private subscriberFreeHead = 0;
  private readonly subscriberIndex: Int32Array;
  subscriberCount = 0;

  // Blocks: one row per (protocol, pool address, block number) of the whole pool.
  private readonly blockBase: Int32Array;
  readonly blockOwner: Int32Array;
  readonly blockInUse: Int32Array;
  /** When the block's last mapping went (a leased block with no mapping is idle); -1 while in use. */
  readonly blockIdleSinceMs: Float64Array;
  readonly blockNext: Int32Array;
  readonly blockSlab: Int32Array;
  /** Free blocks per (pool address index * PROTOCOL_SLOT_COUNT + protocol slot). */
  readonly freeBlocksPerAddress: Int32Array;
  /**
   * Per port of a leased block: PORT_IN_USE, or (second the port was freed) + 1 for the RFC 6888
   * hold-down, or 0 = never used. Scanned contiguously by the port picker (no hash probe per candidate).
   */
  readonly slabFreedAtS: Uint32Array;
  private readonly slabFree: Int32Array;
  private slabFreeTop: number;
  leasedBlockCount = 0;
  readonly blockWheel: TimerWheel;

  // BIB (RFC 6146 sec. 3.1): (protocol, IPv6 address, IPv6 port) <-> (protocol, IPv4 address, IPv4 port).
  /**
   * BIB records, 8 words each, so the established path reads one entry from one cache line: IPv6 address
   * (4 words), IPv6 port | protocol slot << 16 | static << 24, IPv4 address, IPv4 port, subscriber row
   * (also the free-list link of a free row; read with `mappingSubscriberOf`). Measured: separate arrays
   * per field cost ~13 cache misses per lookup at 1M sessions (2 M lookups/s). A dynamic mapping's block
   * follows from its IPv4 address and port (`mappingBlockOf`), so it has no field.
   */
  readonly mappingRecord: Uint32Array;
  /** The same words as int32, for comparisons with int32 keys (no heap number on the lookup path). */
  readonly mappingWords: Int32Array;
  readonly mappingSessionCount: Int32Array;
  readonly mappingFirstSession: Int32Array;
  private mappingFreeHead = 0;
  readonly mappingIndex6: Int32Array;
  readonly mappingIndex4: Int32Array;
  mappingCount = 0;

  // Sessions (RFC 6146 sec. 3.1): (mapping, remote IPv4 address, remote port); ICMP uses remote port 0.
  /**
   * Session records, 6 words (24 bytes) each: mapping; remote IPv4 address (int32); remote port | state
   * << 16 | hairpin << 24 | dirty << 25; next session of the same mapping (also the free-list link); the
   * expiry time in ms as a float64 (words 4-5, read through `sessionExpiry`). State is the TcpState for
   * TCP, 0 otherwise, FREE (255) for a free row; hairpin = the remote is a pool address (RFC 6146 sec.
   * 3.8); dirty is the engine's live-only "refreshed since the last flush" bit. One record, one cache
   * line (three in four records): the established path touches only it, its index slot and its mapping.
   */
  readonly sessionRecord: Int32Array;
  /** Float64 view of sessionRecord: the expiry of session s is at index s * 3 + 2. */
  readonly sessionExpiry: Float64Array;
  /**
   * The expiry the log holds for each session: set by every session event, never by the established
   * path's in-place refresh. A replica's record expiry equals it; the live engine publishes a refresh
   * only when it would end within refreshLeadMs (engine.ts), so this is what replay equivalence compares.
   */
  readonly sessionLoggedExpiry: Float64Array;
  /**
   * The session wheel visits a session this long before the expiry the log holds for it, so the live
   * engine can publish a refresh in time (engine.ts sets config.refreshLeadMs; a replica leaves 0).
   */
  sessionVisitLeadMs = 0;
  /** Events refused by the reducer because their schema version is not this build's (reducer.ts). */
  refusedEventVersions = 0;
  private sessionFreeHead = 0;
  /**
   * Sessions by (protocol, IPv6 address, IPv6 port, remote, remote port): the IPv6 side's one-probe lookup.
   * A paired index (tables/hash.ts): each slot also holds the session's mapping, so a lookup fetches the
   * session record and the BIB record together instead of one after the other. Measured at 1M sessions
   * (bench/nat-engine.bench.ts): 329 -> 276 ns per lookup in random order, 295 -> 198 ns with 10k active
   * flows, and 400 -> 337 ns on the IPv4 side. The second word costs 8.4 bytes per session per index; the
   * BIB's subscriber and block fields went into its record (and its address and port) to pay for it.
   */
  readonly sessionIndex6: Int32Array;
  /** Sessions by (protocol, IPv4 pool address, pool port, remote, remote port): the IPv4 side's, paired too. */
  readonly sessionIndex4: Int32Array;
  sessionCount = 0;
  readonly sessionWheel: TimerWheel;

  constructor(config: NatEngineConfig, hashSeed: number, startMs: number) {
    this.config = config;
    this.hashSeed = hashSeed | 0;
    this.secret0 = deriveSecret(this.hashSeed, 0);
    this.secret1 = deriveSecret(this.hashSeed, 1);
    this.secret2 = deriveSecret(this.hashSeed, 2);
    this.secret3 = deriveSecret(this.hashSeed, 3);
    this.secret4 = deriveSecret(this.hashSeed, 4);
    this.secret5 = deriveSecret(this.hashSeed, 5);
    const subs = config.subscribersMax;
    this.subscriberPrefix = preTouched(new Uint32Array(subs * 4));
    this.subscriberAddress = new Int32Array(subs).fill(-1);
    this.subscriberBlockHead = new Int32Array(subs * PROTOCOL_SLOT_COUNT).fill(-1);
    this.subscriberBlockCount = preTouched(new Int32Array(subs * PROTOCOL_SLOT_COUNT));
    this.subscriberSessionCount = preTouched(new Int32Array(subs));
    this.subscriberMappingCount = preTouched(new Int32Array(subs));
    this.subscriberUsed = preTouched(new Uint8Array(subs));
    this.subscriberFreeNext = new Int32Array(subs);
    for (let i = 0; i < subs; i++) this.subscriberFreeNext[i] = i + 1 < subs ? i + 1 : -1;
    this.subscriberIndex = preTouched(new Int32Array(indexSizeFor(subs)));

    const blocks = config.totalBlocks;
    this.blockBase = new Int32Array(3);
    let base = 0;
    for (let slot = 0; slot < PROTOCOL_SLOT_COUNT; slot++) {
      this.blockBase[slot] = base;
      base += config.protocols[slot].blocksPerAddress * config.poolAddressCount;
    }
    this.blockOwner = new Int32Array(blocks).fill(-1);
    this.blockInUse = preTouched(new Int32Array(blocks));
    this.blockIdleSinceMs = new Float64Array(blocks).fill(-1);
    this.blockNext = new Int32Array(blocks).fill(-1);
    this.blockSlab = new Int32Array(blocks).fill(-1);
    this.freeBlocksPerAddress = new Int32Array(config.poolAddressCount * PROTOCOL_SLOT_COUNT);
    for (let a = 0; a < config.poolAddressCount; a++) {
      for (let slot = 0; slot < PROTOCOL_SLOT_COUNT; slot++)
        this.freeBlocksPerAddress[a * PROTOCOL_SLOT_COUNT + slot] = config.protocols[slot].blocksPerAddress;
    }
    const slabs = Math.min(config.leasedBlocksMax, blocks);
    this.slabFreedAtS = preTouched(new Uint32Array(slabs * config.blockSizePorts));
    this.slabFree = new Int32Array(slabs);
    for (let i = 0; i < slabs; i++) this.slabFree[i] = slabs - 1 - i;
    this.slabFreeTop = slabs;
    this.blockWheel = new TimerWheel(blocks, 512, 1000, startMs);

    const maps = config.mappingsMax;
    this.mappingRecord = new Uint32Array(maps * 8);
    this.mappingWords = new Int32Array(this.mappingRecord.buffer);
    for (let i = 0; i < maps; i++) {
      this.mappingRecord[i * 8 + 4] = FREE << 16;
      this.mappingRecord[i * 8 + 7] = i + 1 < maps ? i + 1 : -1;
    }
    this.mappingSessionCount = preTouched(new Int32Array(maps));
    this.mappingFirstSession = new Int32Array(maps).fill(-1);
    this.mappingIndex6 = preTouched(new Int32Array(indexSizeFor(maps)));
    this.mappingIndex4 = preTouched(new Int32Array(indexSizeFor(maps)));

    const sessions = config.sessionsMax;
    const buffer = new ArrayBuffer(sessions * SESSION_WORDS * 4);
    this.sessionRecord = new Int32Array(buffer);
    this.sessionExpiry = new Float64Array(buffer);
    for (let i = 0; i < sessions; i++) {
      this.sessionRecord[i * SESSION_WORDS + 2] = FREE << 16;
      this.sessionRecord[i * SESSION_WORDS + 3] = i + 1 < sessions ? i + 1 : -1;
    }
    this.sessionLoggedExpiry = preTouched(new Float64Array(sessions));
    this.sessionIndex6 = preTouched(new Int32Array(2 * indexSizeFor(sessions)));
    this.sessionIndex4 = preTouched(new Int32Array(2 * indexSizeFor(sessions)));
    this.sessionWheel = new TimerWheel(sessions, 4096, 1000, startMs);
  }

  // ---- hashing -------------------------------------------------------------------------------------

  // A key hashes as finish(xor of its words' scrambles ^ protocol slot); see `scramble` in hash.ts. The
  // ports share one word (port | remote port << 16).

  /** The four words of an IPv6 address (or prefix), scrambled and combined. */
  private scramble6(a: number, b: number, c: number, d: number): number {
    return (
      scramble(a, this.secret0) ^
      scramble(b, this.secret1) ^
      (scramble(c, this.secret2) ^ scramble(d, this.secret3))
    );
  }

  hashSubscriber(a: number, b: number, c: number, d: number): number {
    return finish(this.scramble6(a, b, c, d));
  }

  hashMapping6(slot: number, a: number, b: number, c: number, d: number, port: number): number {
    return finish(this.scramble6(a, b, c, d) ^ scramble(port, this.secret4) ^ slot);
  }

  hashMapping4(slot: number, address: number, port: number): number {
    return finish(scramble(address, this.secret0) ^ scramble(port, this.secret4) ^ slot);
  }

  hashSession6(
    slot: number,
    a: number,
    b: number,
    c: number,
    d: number,
    port: number,
    remote: number,
    remotePort: number,
  ): number {
    const ports = scramble(port | (remotePort << 16), this.secret4) ^ scramble(remote, this.secret5);
    return finish(this.scramble6(a, b, c, d) ^ ports ^ slot);
  }

  hashSession4(slot: number, address: number, port: number, remote: number, remotePort: number): number {
    const ports = scramble(port | (remotePort << 16), this.secret4) ^ scramble(remote, this.secret5);
    return finish(scramble(address, this.secret0) ^ ports ^ slot);
  }

  private readonly subscriberHashOf = (s: number): number =>
    this.hashSubscriber(
      this.subscriberPrefix[s * 4],
      this.subscriberPrefix[s * 4 + 1],
      this.subscriberPrefix[s * 4 + 2],
      this.subscriberPrefix[s * 4 + 3],
    );
  private readonly mapping6HashOf = (m: number): number =>
    this.hashMapping6(
      this.mappingProtocolOf(m),
      this.mappingRecord[m * 8],
      this.mappingRecord[m * 8 + 1],
      this.mappingRecord[m * 8 + 2],
      this.mappingRecord[m * 8 + 3],
      this.mappingV6PortOf(m),
    );
  private readonly mapping4HashOf = (m: number): number =>
    this.hashMapping4(this.mappingProtocolOf(m), this.mappingV4Of(m), this.mappingV4PortOf(m));
  private readonly session6HashOf = (s: number): number => {
    const m = this.sessionMappingOf(s);
    const r = this.mappingRecord;
    return this.hashSession6(
      this.mappingProtocolOf(m),
      r[m * 8],
      r[m * 8 + 1],
      r[m * 8 + 2],
      r[m * 8 + 3],
      this.mappingV6PortOf(m),
      this.sessionRemoteOf(s),
      this.sessionRemotePortOf(s),
    );
  };
  private readonly session4HashOf = (s: number): number => {
    const m = this.sessionMappingOf(s);
    return this.hashSession4(
      this.mappingProtocolOf(m),
      this.mappingV4Of(m),
      this.mappingV4PortOf(m),
      this.sessionRemoteOf(s),
      this.sessionRemotePortOf(s),
    );
  };

  // ---- record fields ---------------------------------------------------------------------------------

  mappingProtocolOf(m: number): number {
    return (this.mappingRecord[m * 8 + 4] >>> 16) & 255;
  }

  mappingV6PortOf(m: number): number {
    return this.mappingRecord[m * 8 + 4] & 0xffff;
  }

  /** 1 for a static BIB entry. */
  mappingStaticOf(m: number): number {
    return (this.mappingRecord[m * 8 + 4] >>> 24) & 1;
  }

  mappingV4Of(m: number): number {
    return this.mappingRecord[m * 8 + 5];
  }

  mappingV4PortOf(m: number): number {
    return this.mappingRecord[m * 8 + 6];
  }

  /** Subscriber row of a mapping. */
  mappingSubscriberOf(m: number): number {
    return this.mappingRecord[m * 8 + 7] | 0;
  }

  /** Block of a dynamic mapping; -1 for a static one. */
  mappingBlockOf(m: number): number {
    if (this.mappingStaticOf(m) === 1) return -1;
    return this.blockOfPort(
      this.mappingProtocolOf(m),
      this.addressIndexOf(this.mappingV4Of(m)),
      this.mappingV4PortOf(m),
    );
  }

  sessionMappingOf(s: number): number {
    return this.sessionRecord[s * SESSION_WORDS];
  }

  sessionRemoteOf(s: number): number {
    return this.sessionRecord[s * SESSION_WORDS + 1] >>> 0;
  }

  sessionRemotePortOf(s: number): number {
    return this.sessionRecord[s * SESSION_WORDS + 2] & 0xffff;
  }

  sessionStateOf(s: number): number {
    return (this.sessionRecord[s * SESSION_WORDS + 2] >>> 16) & 255;
  }

  sessionHairpinOf(s: number): number {
    return (this.sessionRecord[s * SESSION_WORDS + 2] >>> 24) & 1;
  }

  sessionExpiresAtOf(s: number): number {
    return this.sessionExpiry[s * 3 + 2];
  }

  /** The expiry the log holds for the session (the last session event's time + remaining lifetime). */
  sessionLoggedExpiresAtOf(s: number): number {
    return this.sessionLoggedExpiry[s];
  }

  /** The established path's in-place refresh (see engine.ts); everything else goes through events. */
  setSessionExpiresAt(s: number, expiresAtMs: number): void {
    this.sessionExpiry[s * 3 + 2] = expiresAtMs;
  }

  sessionNextOf(s: number): number {
    return this.sessionRecord[s * SESSION_WORDS + 3];
  }

  // ---- find (hot path) -------------------------------------------------------------------------------

  /** Subscriber row of an already masked prefix, or -1. */
  findSubscriber(a: number, b: number, c: number, d: number): number {
    const index = this.subscriberIndex;
    const mask = index.length - 1;
    const p = this.subscriberPrefix;
    const hash = this.hashSubscriber(a, b, c, d);
    const tag = hash & INDEX_TAG;
    let i = hash & mask;
    for (;;) {
      const word = index[i];
      if (word === 0) return -1;
      if ((word & INDEX_TAG) !== tag) {
        i = (i + 1) & mask;
        continue;
      }
      const s = (word & INDEX_ENTITY) - 1;
      const o = s * 4;
      if (p[o] === a && p[o + 1] === b && p[o + 2] === c && p[o + 3] === d) return s;
      i = (i + 1) & mask;
    }
  }

  /** BIB entry by its IPv6 transport address, or -1. `v6` holds the address at `offset`. */
  findMapping6(slot: number, v6: Uint32Array, offset: number, port: number): number {
    const a = v6[offset];
    const b = v6[offset + 1];
    const c = v6[offset + 2];
    const d = v6[offset + 3];
    const index = this.mappingIndex6;
    const mask = index.length - 1;
    const rec = this.mappingRecord;
    const word4 = port | (slot << 16);
    const hash = this.hashMapping6(slot, a, b, c, d, port);
    const tag = hash & INDEX_TAG;
    let i = hash & mask;
    for (;;) {
      const word = index[i];
      if (word === 0) return -1;
      if ((word & INDEX_TAG) !== tag) {
        i = (i + 1) & mask;
        continue;
      }
      const m = (word & INDEX_ENTITY) - 1;
      const o = m * 8;
      if (
        (rec[o + 4] & 0xffffff) === word4 &&
        rec[o + 3] === d &&
        rec[o] === a &&
        rec[o + 1] === b &&
        rec[o + 2] === c
      ) {
        return m;
      }
      i = (i + 1) & mask;
    }
  }

  /** BIB entry by its IPv4 transport address, or -1. */
  findMapping4(slot: number, address: number, port: number): number {
    const index = this.mappingIndex4;
    const mask = index.length - 1;
    const rec = this.mappingWords;
    const hash = this.hashMapping4(slot, address, port);
    const tag = hash & INDEX_TAG;
    let i = hash & mask;
    for (;;) {
      const word = index[i];
      if (word === 0) return -1;
      if ((word & INDEX_TAG) !== tag) {
        i = (i + 1) & mask;
        continue;
      }
      const m = (word & INDEX_ENTITY) - 1;
      const o = m * 8;
      if (rec[o + 6] === port && rec[o + 5] === (address | 0) && ((rec[o + 4] >>> 16) & 255) === slot)
        return m;
      i = (i + 1) & mask;
    }
  }

  /**
   * Session by the IPv6 side's 5-tuple, or -1: one probe of the paired index, then the session record and
   * the mapping record, fetched together (the slot names both).
   */
  findSession6(
    slot: number,
    v6: Uint32Array,
    offset: number,
    port: number,
    remote: number,
    remotePort: number,
  ): number {
    const a = v6[offset] | 0;
    const b = v6[offset + 1] | 0;
    const c = v6[offset + 2] | 0;
    const d = v6[offset + 3] | 0;
    const index = this.sessionIndex6;
    const mask = (index.length >> 1) - 1;
    const rec = this.sessionRecord;
    const mrec = this.mappingWords;
    const remoteWord = remote | 0;
    const word4 = port | (slot << 16);
    const hash = this.hashSession6(slot, a, b, c, d, port, remote, remotePort);
    const tag = hash & INDEX_TAG;
    let i = hash & mask;
    for (;;) {
      const j = i << 1;
      const word = index[j];
      if (word === 0) return -1;
      if ((word & INDEX_TAG) === tag) {
        const s = (word & INDEX_ENTITY) - 1;
        const o = s * SESSION_WORDS;
        const mo = index[j + 1] * 8;
        if (
          rec[o + 1] === remoteWord &&
          (rec[o + 2] & 0xffff) === remotePort &&
          (mrec[mo + 4] & 0xffffff) === word4 &&
          mrec[mo + 3] === d &&
          mrec[mo] === a &&
          mrec[mo + 1] === b &&
          mrec[mo + 2] === c
        ) {
          return s;
        }
      }
      i = (i + 1) & mask;
    }
  }

  /** Session by the IPv4 side's 5-tuple (pool address and port, remote address and port), or -1. */
  findSession4(slot: number, address: number, port: number, remote: number, remotePort: number): number {
    const index = this.sessionIndex4;
    const mask = (index.length >> 1) - 1;
    const rec = this.sessionRecord;
    const mrec = this.mappingWords;
    const remoteWord = remote | 0;
    const hash = this.hashSession4(slot, address, port, remote, remotePort);
    const tag = hash & INDEX_TAG;
    let i = hash & mask;
    for (;;) {
      const j = i << 1;
      const word = index[j];
      if (word === 0) return -1;
      if ((word & INDEX_TAG) === tag) {
        const s = (word & INDEX_ENTITY) - 1;
        const o = s * SESSION_WORDS;
        const mo = index[j + 1] * 8;
        if (
          rec[o + 1] === remoteWord &&
          (rec[o + 2] & 0xffff) === remotePort &&
          mrec[mo + 6] === port &&
          mrec[mo + 5] === (address | 0) &&
          ((mrec[mo + 4] >>> 16) & 255) === slot
        ) {
          return s;
        }
      }
      i = (i + 1) & mask;
    }
  }

  /**
   * Reads the mapping-index and session-index slots where a new mapping (slot, address, port) and its first
   * session with (remote, remotePort) will be inserted, in one expression: the two loads are independent,
   * so the CPU waits for both cache misses at once instead of one after the other (once in the reducer's
   * MappingCreated, once in its SessionCreated). The value means nothing; the caller keeps it so the loads
   * are not optimised away.
   */
  touchNewSessionSlots(
    slot: number,
    address: number,
    port: number,
    remote: number,
    remotePort: number,
  ): number {
    const mappingSlot = this.hashMapping4(slot, address, port) & (this.mappingIndex4.length - 1);
    const sessionSlot =
      (this.hashSession4(slot, address, port, remote, remotePort) & ((this.sessionIndex4.length >> 1) - 1)) <<
      1;
    return this.mappingIndex4[mappingSlot] ^ this.sessionIndex4[sessionSlot];
  }

  /** Session of `mapping` with the remote (address, port), or -1. */
  findSession(mapping: number, remote: number, remotePort: number): number {
    return this.findSession4(
      this.mappingProtocolOf(mapping),
      this.mappingV4Of(mapping),
      this.mappingV4PortOf(mapping),
      remote,
      remotePort,
    );
  }

  /** RFC 6146 sec. 3.5.1 address-dependent filtering: does the mapping have a session with this remote address? */
  mappingHasRemote(mapping: number, remote: number): boolean {
    const remoteWord = remote | 0;
    for (let s = this.mappingFirstSession[mapping]; s !== -1; s = this.sessionRecord[s * SESSION_WORDS + 3]) {
      if (this.sessionRecord[s * SESSION_WORDS + 1] === remoteWord) return true;
    }
    return false;
  }

  isSessionUsed(s: number): boolean {
    return this.sessionStateOf(s) !== FREE;
  }

  isMappingUsed(m: number): boolean {
    return this.mappingProtocolOf(m) !== FREE;
  }

  // ---- pool geometry -------------------------------------------------------------------------------

  addressIndexOf(address: number): number {
    const c = this.config;
    return addressIndexIn(c.rangeFirst, c.rangeLast, c.rangeBase, address);
  }

  blockIndexOf(slot: number, addressIndex: number, blockNumber: number): number {
    return this.blockBase[slot] + addressIndex * this.config.protocols[slot].blocksPerAddress + blockNumber;
  }

  blockSlotOf(block: number): number {
    return block >= this.blockBase[2] ? 2 : block >= this.blockBase[1] ? 1 : 0;
  }

  blockAddressIndexOf(block: number): number {
    const slot = this.blockSlotOf(block);
    return Math.floor((block - this.blockBase[slot]) / this.config.protocols[slot].blocksPerAddress);
  }

  /** IPv4 address (uint32) of a block. */
  blockAddressOf(block: number): number {
    return addressAt(this.config, this.blockAddressIndexOf(block));
  }

  blockFirstPortOf(block: number): number {
    const slot = this.blockSlotOf(block);
    const p = this.config.protocols[slot];
    return p.portFirst + ((block - this.blockBase[slot]) % p.blocksPerAddress) * this.config.blockSizePorts;
  }

  /** Block holding a dynamic (address, port), or -1 when the port is outside the dynamic range. */
  blockOfPort(slot: number, addressIndex: number, port: number): number {
    const p = this.config.protocols[slot];
    if (port < p.portFirst || port > p.portLast) return -1;
    return this.blockIndexOf(
      slot,
      addressIndex,
      Math.floor((port - p.portFirst) / this.config.blockSizePorts),
    );
  }

  // ---- add / remove (reducer only) -------------------------------------------------------------------

  addSubscriber(a: number, b: number, c: number, d: number): number {
    const s = this.subscriberFreeHead;
    assert(s !== -1, 'subscriber table has room (the engine checks subscribersMax before emitting)');
    this.subscriberFreeHead = this.subscriberFreeNext[s];
    const o = s * 4;
    this.subscriberPrefix[o] = a;
    this.subscriberPrefix[o + 1] = b;
    this.subscriberPrefix[o + 2] = c;
    this.subscriberPrefix[o + 3] = d;
    this.subscriberAddress[s] = -1;
    this.subscriberSessionCount[s] = 0;
    this.subscriberMappingCount[s] = 0;
    for (let slot = 0; slot < PROTOCOL_SLOT_COUNT; slot++) {
      this.subscriberBlockHead[s * PROTOCOL_SLOT_COUNT + slot] = -1;
      this.subscriberBlockCount[s * PROTOCOL_SLOT_COUNT + slot] = 0;
    }
    this.subscriberUsed[s] = 1;
    indexInsert(this.subscriberIndex, this.hashSubscriber(a, b, c, d), s);
    this.subscriberCount++;
    return s;
  }

  /** Removes the subscriber when it holds no block and no mapping. */
  removeSubscriberIfUnused(s: number): void {
    if (this.subscriberMappingCount[s] !== 0) return;
    for (let slot = 0; slot < PROTOCOL_SLOT_COUNT; slot++)
      if (this.subscriberBlockCount[s * PROTOCOL_SLOT_COUNT + slot] !== 0) return;
    assert(this.subscriberSessionCount[s] === 0, 'a subscriber without mappings has no sessions');
    indexRemove(this.subscriberIndex, this.subscriberHashOf(s), s, this.subscriberHashOf);
    this.subscriberUsed[s] = 0;
    this.subscriberAddress[s] = -1;
    this.subscriberFreeNext[s] = this.subscriberFreeHead;
    this.subscriberFreeHead = s;
    this.subscriberCount--;
  }

  hasSubscriberRoom(): boolean {
    return this.subscriberFreeHead !== -1;
  }

  hasSlabRoom(): boolean {
    return this.slabFreeTop > 0;
  }

  leaseBlock(block: number, subscriber: number, timeMs: number): void {
    assert(this.blockOwner[block] === -1, 'a leased block is free');
    assert(this.slabFreeTop > 0, 'a slab is free for the block (the allocator checks leasedBlocksMax)');
    const slot = this.blockSlotOf(block);
    const addressIndex = this.blockAddressIndexOf(block);
    const slab = this.slabFree[--this.slabFreeTop];
    const size = this.config.blockSizePorts;
    this.slabFreedAtS.fill(0, slab * size, slab * size + size);
    this.blockOwner[block] = subscriber;
    this.blockInUse[block] = 0;
    this.blockSlab[block] = slab;
    const listAt = subscriber * PROTOCOL_SLOT_COUNT + slot;
    this.blockNext[block] = this.subscriberBlockHead[listAt];
    this.subscriberBlockHead[listAt] = block;
    this.subscriberBlockCount[listAt]++;
    this.freeBlocksPerAddress[addressIndex * PROTOCOL_SLOT_COUNT + slot]--;
    this.leasedBlockCount++;
    this.markBlockIdle(block, timeMs);
  }

  releaseBlock(block: number): void {
    const subscriber = this.blockOwner[block];
    assert(subscriber !== -1, 'a released block is leased');
    assert(this.blockInUse[block] === 0, 'a released block has no mapping');
    const slot = this.blockSlotOf(block);
    const listAt = subscriber * PROTOCOL_SLOT_COUNT + slot;
    let prev = -1;
    let b = this.subscriberBlockHead[listAt];
    while (b !== block) {
      assert(b !== -1, "a leased block is on its subscriber's list");
      prev = b;
      b = this.blockNext[b];
    }
    if (prev === -1) this.subscriberBlockHead[listAt] = this.blockNext[block];
    else this.blockNext[prev] = this.blockNext[block];
    this.blockNext[block] = -1;
    this.subscriberBlockCount[listAt]--;
    this.slabFree[this.slabFreeTop++] = this.blockSlab[block];
    this.blockSlab[block] = -1;
    this.blockOwner[block] = -1;
    this.blockIdleSinceMs[block] = -1;
    this.blockWheel.remove(block);
    this.freeBlocksPerAddress[this.blockAddressIndexOf(block) * PROTOCOL_SLOT_COUNT + slot]++;
    this.leasedBlockCount--;
    this.removeSubscriberIfUnused(subscriber);
  }

  private markBlockIdle(block: number, timeMs: number): void {
    this.blockIdleSinceMs[block] = timeMs;
    this.blockWheel.add(block, timeMs + this.config.blockIdleTimeoutMs);
  }

  hasMappingRoom(): boolean {
    return this.mappingFreeHead !== -1;
  }

  addMapping(
    slot: number,
    v6: ArrayLike<number>,
    v6Port: number,
    v4: number,
    v4Port: number,
    subscriber: number,
    block: number,
    timeMs: number,
  ): number {
    const m = this.mappingFreeHead;
    assert(m !== -1, 'BIB has room (the engine checks mappingsMax before emitting)');
    this.mappingFreeHead = this.mappingSubscriberOf(m);
    const o = m * 8;
    const rec = this.mappingRecord;
    for (let i = 0; i < 4; i++) rec[o + i] = v6[i];
    rec[o + 4] = v6Port | (slot << 16) | ((block === -1 ? 1 : 0) << 24);
    rec[o + 5] = v4;
    rec[o + 6] = v4Port;
    rec[o + 7] = subscriber;
    this.mappingSessionCount[m] = 0;
    this.mappingFirstSession[m] = -1;
    indexInsert(this.mappingIndex6, this.mapping6HashOf(m), m);
    indexInsert(this.mappingIndex4, this.mapping4HashOf(m), m);
    this.mappingCount++;
    this.subscriberMappingCount[subscriber]++;
    if (block !== -1) {
      assert(
        this.blockOwner[block] === subscriber,
        "a dynamic mapping's port is in a block of its subscriber",
      );
      const at = this.blockSlab[block] * this.config.blockSizePorts + (v4Port - this.blockFirstPortOf(block));
      assert(this.slabFreedAtS[at] !== PORT_IN_USE, 'a new mapping takes a free port');
      this.slabFreedAtS[at] = PORT_IN_USE;
      if (this.blockInUse[block]++ === 0) {
        this.blockIdleSinceMs[block] = -1;
        this.blockWheel.remove(block);
      }
    }
    void timeMs;
    return m;
  }

  removeMapping(m: number, timeMs: number): void {
    assert(this.mappingSessionCount[m] === 0, 'a removed mapping has no session');
    indexRemove(this.mappingIndex6, this.mapping6HashOf(m), m, this.mapping6HashOf);
    indexRemove(this.mappingIndex4, this.mapping4HashOf(m), m, this.mapping4HashOf);
    const subscriber = this.mappingSubscriberOf(m);
    const block = this.mappingBlockOf(m);
    if (block !== -1) {
      const offset = this.mappingV4PortOf(m) - this.blockFirstPortOf(block);
      this.slabFreedAtS[this.blockSlab[block] * this.config.blockSizePorts + offset] =
        Math.floor(timeMs / 1000) + 1;
      if (--this.blockInUse[block] === 0) this.markBlockIdle(block, timeMs);
    }
    this.mappingRecord[m * 8 + 4] = FREE << 16;
    this.mappingRecord[m * 8 + 7] = this.mappingFreeHead;
    this.mappingFreeHead = m;
    this.mappingCount--;
    this.subscriberMappingCount[subscriber]--;
    this.removeSubscriberIfUnused(subscriber);
  }

  /** True when `port` of the leased `block` is mapped, or was freed less than portReuseHoldMs before `nowMs`. */
  isPortTaken(block: number, port: number, nowMs: number): boolean {
    const size = this.config.blockSizePorts;
    const freedAtS = this.slabFreedAtS[this.blockSlab[block] * size + (port - this.blockFirstPortOf(block))];
    return (
      freedAtS === PORT_IN_USE || (freedAtS !== 0 && nowMs < freedAtS * 1000 + this.config.portReuseHoldMs)
    );
  }

  hasSessionRoom(): boolean {
    return this.sessionFreeHead !== -1;
  }

  addSession(
    mapping: number,
    remote: number,
    remotePort: number,
    state: number,
    expiresAtMs: number,
    timeMs: number,
  ): number {
    const s = this.sessionFreeHead;
    assert(s !== -1, 'session table has room (the engine checks sessionsMax before emitting)');
    const rec = this.sessionRecord;
    const o = s * SESSION_WORDS;
    this.sessionFreeHead = rec[o + 3];
    const hairpin = this.addressIndexOf(remote) >= 0 ? 1 : 0;
    rec[o] = mapping;
    rec[o + 1] = remote | 0;
    // The dirty bit belongs to the engine's refresh list and survives reuse of the row.
    rec[o + 2] = remotePort | (state << 16) | (hairpin << 24) | (rec[o + 2] & SESSION_DIRTY);
    this.sessionExpiry[s * 3 + 2] = expiresAtMs;
    this.sessionLoggedExpiry[s] = expiresAtMs;
    rec[o + 3] = this.mappingFirstSession[mapping];
    this.mappingFirstSession[mapping] = s;
    this.mappingSessionCount[mapping]++;
    const subscriber = this.mappingSubscriberOf(mapping);
    this.subscriberSessionCount[subscriber]++;
    if (this.onSubscriberSessions !== null) this.onSubscriberSessions(subscriber, 1);
    pairIndexInsert(this.sessionIndex6, this.session6HashOf(s), s, mapping);
    pairIndexInsert(this.sessionIndex4, this.session4HashOf(s), s, mapping);
    this.scheduleSessionVisit(s, expiresAtMs, timeMs);
    this.sessionCount++;
    return s;
  }

  /**
   * Due refreshLeadMs before the logged expiry, never before the event's time: an entity re-added during
   * the wheel's advance with a past due time would land in the slot being visited and wait a whole turn.
   */
  private scheduleSessionVisit(s: number, expiresAtMs: number, timeMs: number): void {
    const dueMs = expiresAtMs - this.sessionVisitLeadMs;
    this.sessionWheel.add(s, Math.max(dueMs, timeMs));
  }

  changeSession(s: number, state: number, expiresAtMs: number, timeMs: number): void {
    const o = s * SESSION_WORDS + 2;
    this.sessionRecord[o] = (this.sessionRecord[o] & ~(255 << 16)) | (state << 16);
    this.sessionExpiry[s * 3 + 2] = expiresAtMs;
    this.sessionLoggedExpiry[s] = expiresAtMs;
    this.scheduleSessionVisit(s, expiresAtMs, timeMs);
  }

  removeSession(s: number): void {
    const rec = this.sessionRecord;
    const mapping = rec[s * SESSION_WORDS];
    pairIndexRemove(this.sessionIndex6, this.session6HashOf(s), s, this.session6HashOf);
    pairIndexRemove(this.sessionIndex4, this.session4HashOf(s), s, this.session4HashOf);
    let prev = -1;
    let x = this.mappingFirstSession[mapping];
    while (x !== s) {
      assert(x !== -1, "a session is on its mapping's list");
      prev = x;
      x = rec[x * SESSION_WORDS + 3];
    }
    if (prev === -1) this.mappingFirstSession[mapping] = rec[s * SESSION_WORDS + 3];
    else rec[prev * SESSION_WORDS + 3] = rec[s * SESSION_WORDS + 3];
    this.mappingSessionCount[mapping]--;
    const subscriber = this.mappingSubscriberOf(mapping);
    this.subscriberSessionCount[subscriber]--;
    if (this.onSubscriberSessions !== null) this.onSubscriberSessions(subscriber, -1);
    this.sessionWheel.remove(s);
    rec[s * SESSION_WORDS + 2] = (rec[s * SESSION_WORDS + 2] & SESSION_DIRTY) | (FREE << 16);
    rec[s * SESSION_WORDS + 3] = this.sessionFreeHead;
    this.sessionFreeHead = s;
    this.sessionCount--;
  }
}
