// The stateful NAT64 engine of one shard: RFC 6146 sec. 3.5 filtering and updating (UDP 3.5.1, TCP
// 3.5.2, ICMP queries 3.5.3, ICMP errors 3.5.4), sec. 3.6/3.7 outgoing tuple, sec. 3.8 hairpinning, with
// RFC 6888 port blocks and RFC 7857 updates. Works on flow keys, fills one reused result, never throws
// on packet content and allocates nothing on the established path.
//
// Replay equals live: every change of replicated state is an event, applied to the engine's own tables
// by the same reducer a standby uses. The one exception is the established path's lifetime refresh: it
// moves the session's expiry forward in place and marks the session dirty. A refresh is published (one
// SessionChanged, same state, remaining lifetime) only when the expiry the log holds would end within
// `refreshLeadMs` (README "Refresh volume"), so event volume follows new and ended flows, not packets. So
// after every flush the fold of the log equals the engine's state entry by entry, except that a session's
// lifetime in the log may be shorter than live's, never shorter than now + (refreshLeadMs - flush delay).
// Expiry is decided by the live engine from its timer wheel and published as events too; a replaying
// node never expires anything on its own.

import {
  type NatEngineConfig,
  type NatEngineConfigInput,
  resolveStaticBibEntry,
  type StaticBibEntryInput,
  subscriberPrefixOf,
  validateConfig,
} from './config.js';
import { assert, NatStaticMappingError } from './errors.js';
import {
  type EventSink,
  type LimitName,
  type MappingCreatedEvent,
  type MappingRemovedEvent,
  NAT_EVENT_SCHEMA_VERSION,
  type NatEvent,
  NatEventType,
  type SessionChangedEvent,
  type SessionCreatedEvent,
  SessionRemovedCause,
  type SessionRemovedEvent,
} from './events.js';
import {
  createFlowKey4,
  type FlowKey4,
  type FlowKey6,
  PROTOCOL_SLOT_COUNT,
  ProtocolSlot,
  protocolSlotOf,
  TcpFlag,
} from './flow-key.js';
import { InProcessPoolAllocator, POOL_PENDING, POOL_REFUSED, type PoolAllocator } from './pool4/allocator.js';
import { findFreePort } from './pool4/rfc6056.js';
import { DeterministicPoolAllocator } from './pool4/rfc7422.js';
import type { RandomSource } from './random.js';
import {
  applyEvent,
  applyMappingCreatedAt,
  applyMappingRemovedAt,
  applySessionChangedAt,
  applySessionCreatedAt,
  applySessionRemovedAt,
} from './reducer.js';
import type { SessionShares } from './session-shares.js';
import { hairpinKey } from './steps/hairpinning.js';
import { fillOutgoing4to6, fillOutgoing6to4 } from './steps/outgoing-tuple.js';
import { HeldSynTable } from './tables/held-syn-table.js';
import { NatState, SESSION_DIRTY, SESSION_WORDS } from './tables/nat-state.js';
import { preTouched } from './tables/pre-touch.js';
import { Lifetime, TcpState, tcpTransition } from './tcp-state-machine.js';
import {
  createEngineResult,
  EngineDropReason,
  type EngineResult,
  EngineVerdict,
  engineDropReasonNames,
  IcmpReply,
} from './verdict.js';

export interface NatEngineOptions {
  sink: EventSink;
  random: RandomSource;
  /** Time the engine starts at (its timer wheels start here). */
  startMs: number;
  /** Defaults to the in-process allocator (or the RFC 7422 one when `deterministic` is configured). */
  allocator?: (state: NatState, random: RandomSource) => PoolAllocator;
  /**
   * Take over a state folded from another engine's log (a standby's `createReplayState` + `applyEvents`)
   * instead of starting empty; it must have been built with the same configuration.
   */
  state?: NatState;
  /**
   * Several shards on one node (each its own engine): a hairpin whose target mapping is not this
   * engine's leaves as a plain IPv4 packet to the pool address, which the node routes back in (the pool
   * is routed into its TUN) to the shard holding that block (RFC 6146 sec. 3.8 across shards). Without
   * it such a hairpin is dropped, as the target cannot exist.
   */
  hairpinToOtherShards?: boolean;
  /** Per-share session limits (tenants); absent: the node's subscriberSessionsMax for everyone. */
  sessionShares?: SessionShares | null;
  /** Reserved for the cluster; stamped on every event. */
  shard?: number;
  epoch?: number;
  /**
   * Operator log for table bounds reached: one line per bound per `limitLogIntervalMs` naming the
   * bound, its value and the setting to raise, with the refusals since the last line.
   */
  log?: (line: string) => void;
  /** Default 10,000 ms. */
  limitLogIntervalMs?: number;
}

/** Per drop reason that is a bound: the setting that bounds it and what is refused at the bound. */
const boundOfReason: readonly (readonly [setting: string, refused: string] | undefined)[] = (() => {
  const table: (readonly [string, string] | undefined)[] = new Array(engineDropReasonNames.length);
  const R = EngineDropReason;
  table[R.poolexhausted64] = [
    'pool',
    'new mappings of subscribers whose pool address has no free block (paired pooling); add addresses to pool or lower blockSizePorts',
  ];
  table[R.subscriberblocks64] = [
    'subscriberBlocksMax',
    'new mappings of subscribers holding that many full blocks',
  ];
  table[R.subscribersessions64] = [
    'subscriberSessionsMax',
    'new outbound sessions of subscribers at the bound',
  ];
  table[R.subscribersessions46] = [
    'subscriberSessionsMax',
    'new inbound sessions of subscribers at the bound',
  ];
  table[R.mappingsfull64] = ['mappingsMax', 'new mappings (the BIB is full)'];
  table[R.sessionsfull64] = ['sessionsMax', 'new outbound sessions (the session table is full)'];
  table[R.sessionsfull46] = ['sessionsMax', 'new inbound sessions (the session table is full)'];
  table[R.subscribersfull64] = ['subscribersMax', 'new subscribers (the subscriber table is full)'];
  table[R.leasedblocksfull64] = ['leasedBlocksMax', 'new blocks, so new subscribers and full subscribers'];
  return table;
})();

export class NatEngine {
  readonly config: NatEngineConfig;
  readonly state: NatState;
  /** Filled by every outbound6 / inbound4 call. */
  readonly result: EngineResult = createEngineResult();
  /** Packets per drop reason (index = EngineDropReason); ReplyIcmp verdicts count here too. */
  readonly dropCounters = new Float64Array(engineDropReasonNames.length);
  /** SessionChanged events published for lifetime refreshes (README "Refresh volume"). */
  refreshesPublished = 0;
  /**
   * Output of advance(): the hold ids (result.holdId of a Hold verdict) whose 6 s ran out in that call,
   * in `expiredHoldIds[0, count)` where count is advance()'s return value; valid until the next advance().
   * The owner answers each held packet with ICMP port unreachable (RFC 6146 sec. 3.5.2.2). The engine
   * never calls up into its owner: it returns the work (CONVENTIONS.md 21). Bounded by heldSynsMax.
   */
  readonly expiredHoldIds: Int32Array;
  private expiredHoldCount = 0;
  /** While true no new mapping is made (refuseNewMappings). */
  private newMappingsRefused = false;

  private readonly sink: EventSink;
  private readonly random: RandomSource;
  private readonly allocator: PoolAllocator;
  private readonly heldSyns: HeldSynTable;
  private readonly shard: number;
  private readonly epoch: number;
  /** Live-only refresh bookkeeping (see the file comment). */
  private readonly dirtyList: Int32Array;
  private dirtyCount = 0;
  /** LimitReached is published at most once per subscriber per flush interval. */
  private readonly limitReportedGeneration: Uint32Array;
  private flushGeneration = 1;
  private unknownSubscriberLimitReported = false;
  private readonly prefix = new Uint32Array(4);
  /** subscriberOf's own scratch: it runs while `prefix` may hold the current flow's subscriber. */
  private readonly subscriberScratch = new Uint32Array(4);
  private readonly hairpinKey4: FlowKey4 = createFlowKey4();
  private readonly hairpinToOtherShards: boolean;
  private sessionShares: SessionShares | null = null;
  private allocatedBlock = -1;
  /** Sink of `touchNewSessionSlots` (keeps its loads alive). */
  touched = 0;
  private nowMs = 0;
  private readonly log: ((line: string) => void) | null;
  private readonly limitLogIntervalMs: number;
  /** Per drop reason: when its bound was last logged, and refusals since then. */
  private readonly limitLoggedAtMs = new Float64Array(engineDropReasonNames.length).fill(-Infinity);
  private readonly limitRefusedSinceLog = new Float64Array(engineDropReasonNames.length);

  constructor(config: NatEngineConfig, options: NatEngineOptions) {
    this.config = config;
    this.sink = options.sink;
    this.random = options.random;
    this.state = options.state ?? new NatState(config, options.random.nextUint32(), options.startMs);
    assert(this.state.config === config, 'a taken-over state was built with the same configuration object');
    this.state.sessionVisitLeadMs = config.refreshLeadMs;
    const allocatorFactory =
      options.allocator ??
      (config.deterministic !== null
        ? (state: NatState) => new DeterministicPoolAllocator(state)
        : (state: NatState, random: RandomSource) => new InProcessPoolAllocator(state, random));
    this.allocator = allocatorFactory(this.state, options.random);
    this.heldSyns = new HeldSynTable(config.heldSynsMax, options.startMs);
    this.expiredHoldIds = new Int32Array(config.heldSynsMax);
    this.shard = options.shard ?? 0;
    this.hairpinToOtherShards = options.hairpinToOtherShards ?? false;
    this.epoch = options.epoch ?? 0;
    this.dirtyList = preTouched(new Int32Array(config.sessionsMax));
    this.limitReportedGeneration = preTouched(new Uint32Array(config.subscribersMax));
    this.nowMs = options.startMs;
    this.log = options.log ?? null;
    this.limitLogIntervalMs = options.limitLogIntervalMs ?? 10_000;
    assert(this.limitLogIntervalMs >= 0, 'limitLogIntervalMs is not negative');
    this.setSessionShares(options.sessionShares ?? null);
  }

  /**
   * Per-share session limits from the next session on (a live tenant change): this shard's count per
   * share is recounted from its state under the new shares, then follows every session added or removed.
   */
  setSessionShares(shares: SessionShares | null): void {
    const state = this.state;
    this.sessionShares = shares;
    if (shares === null) {
      state.onSubscriberSessions = null;
      return;
    }
    shares.resetSessions();
    const p = state.subscriberPrefix;
    for (let s = 0; s < this.config.subscribersMax; s++) {
      if (state.subscriberUsed[s] === 0 || state.subscriberSessionCount[s] === 0) continue;
      const share = shares.shareOf(p[s * 4] | 0, p[s * 4 + 1] | 0);
      if (share >= 0) shares.onSessions(share, state.subscriberSessionCount[s]);
    }
    state.onSubscriberSessions = (s, delta) => {
      const share = shares.shareOf(p[s * 4] | 0, p[s * 4 + 1] | 0);
      if (share >= 0) shares.onSessions(share, delta);
    };
  }

  /**
   * Subscribers that cannot get one more session right now (at their own session bound: the node's
   * subscriberSessionsMax or their tenant's) into out[0], and those holding subscriberBlocksMax blocks of
   * some protocol into out[1]. A scan of the subscriber table: for a once-a-second gauge, not per packet.
   */
  subscribersAtLimit(out: Int32Array): void {
    const state = this.state;
    const p = state.subscriberPrefix;
    let sessions = 0;
    let blocks = 0;
    for (let s = 0; s < this.config.subscribersMax; s++) {
      if (state.subscriberUsed[s] === 0) continue;
      if (this.sessionBound(s, p[s * 4] | 0, p[s * 4 + 1] | 0, 1, 0) === 1) sessions++;
      for (let slot = 0; slot < PROTOCOL_SLOT_COUNT; slot++) {
        if (state.subscriberBlockCount[s * PROTOCOL_SLOT_COUNT + slot] >= this.config.subscriberBlocksMax) {
          blocks++;
          break;
        }
      }
    }
    out[0] = sessions;
    out[1] = blocks;
  }

  /**
   * 0 when the subscriber (prefix words w0, w1; row `sub`, -1 when new) may get one more session, else
   * the reason: its own bound (the share's or the node's) or its share's quota.
   */
  private sessionBound(sub: number, w0: number, w1: number, subscriberReason: number, shareReason: number) {
    const state = this.state;
    const shares = this.sessionShares;
    let subscriberMax = this.config.subscriberSessionsMax;
    if (shares !== null) {
      const share = shares.shareOf(w0, w1);
      if (share >= 0) {
        const own = shares.subscriberSessionsMax[share];
        if (own > 0 && own < subscriberMax) subscriberMax = own;
        const quota = shares.sessionsMax[share];
        if (sub !== -1 && state.subscriberSessionCount[sub] >= subscriberMax) return subscriberReason;
        if (quota > 0 && shares.sessionsOf(share) >= quota) return shareReason;
        return 0;
      }
    }
    if (sub !== -1 && state.subscriberSessionCount[sub] >= subscriberMax) return subscriberReason;
    return 0;
  }

  /**
   * A table bound refused a flow: at most one log line per bound per limitLogIntervalMs, naming the
   * bound and the setting to raise (the drop counter has every refusal).
   */
  private logLimit(reason: number, nowMs: number): void {
    if (this.log === null) return;
    const bound = boundOfReason[reason];
    if (bound === undefined) return;
    this.limitRefusedSinceLog[reason]++;
    if (nowMs - this.limitLoggedAtMs[reason] < this.limitLogIntervalMs) return;
    const [setting, refused] = bound;
    const value =
      setting === 'pool' ? '' : ` (${(this.config as unknown as Record<string, number>)[setting]})`;
    const fix = setting === 'pool' ? '' : `; raise ${setting} in the nat configuration`;
    this.log(
      `nat: drop.nat.${engineDropReasonNames[reason]}: ${setting}${value} reached, refusing ${refused}${fix} ` +
        `(${this.limitRefusedSinceLog[reason]} refused since the last line)`,
    );
    this.limitLoggedAtMs[reason] = nowMs;
    this.limitRefusedSinceLog[reason] = 0;
  }

  /** Adds the configured static BIB entries that are not in the state yet (idempotent after replay). */
  start(nowMs: number): void {
    for (const entry of this.config.staticBib) {
      if (this.state.findMapping4(entry.protocolSlot, entry.ipv4, entry.ipv4Port) === -1) {
        this.addResolvedStatic(
          entry.protocolSlot,
          entry.ipv6,
          entry.ipv6Port,
          entry.ipv4,
          entry.ipv4Port,
          nowMs,
          'staticBib',
        );
      }
    }
  }

  /** Adds a static BIB entry (port forward); throws NatStaticMappingError when it conflicts. */
  addStaticMapping(entry: StaticBibEntryInput, nowMs: number): void {
    const c = this.config;
    const r = resolveStaticBibEntry(
      'staticMapping',
      entry,
      c.protocols,
      c.rangeFirst,
      c.rangeLast,
      c.rangeBase,
    );
    this.addResolvedStatic(r.protocolSlot, r.ipv6, r.ipv6Port, r.ipv4, r.ipv4Port, nowMs, 'staticMapping');
  }

  /** Removes a static BIB entry and its sessions. Returns false when there is no such static entry. */
  removeStaticMapping(protocolSlot: number, ipv4: number, ipv4Port: number, nowMs: number): boolean {
    const state = this.state;
    const m = state.findMapping4(protocolSlot, ipv4, ipv4Port);
    if (m === -1 || state.mappingStaticOf(m) !== 1) return false;
    while (state.mappingFirstSession[m] !== -1) {
      this.emitSessionRemoved(state.mappingFirstSession[m], SessionRemovedCause.Administrative, nowMs);
    }
    this.emitMappingRemoved(m, nowMs);
    return true;
  }

  private addResolvedStatic(
    slot: number,
    ipv6: Uint32Array,
    ipv6Port: number,
    ipv4: number,
    ipv4Port: number,
    nowMs: number,
    field: string,
  ): void {
    const state = this.state;
    if (state.findMapping4(slot, ipv4, ipv4Port) !== -1) {
      throw new NatStaticMappingError(
        `${field}.ipv4Port`,
        'that IPv4 transport address is mapped already',
        'pick another port',
      );
    }
    if (state.findMapping6(slot, ipv6, 0, ipv6Port) !== -1) {
      throw new NatStaticMappingError(
        `${field}.ipv6Port`,
        'that IPv6 transport address is mapped already',
        'pick another port',
      );
    }
    if (!state.hasMappingRoom()) {
      throw new NatStaticMappingError(field, 'the BIB is full (mappingsMax)', 'raise mappingsMax');
    }
    const sub = this.subscriberOf(ipv6);
    const addressIndex = state.addressIndexOf(ipv4);
    if (sub !== -1 && state.subscriberAddress[sub] !== -1 && state.subscriberAddress[sub] !== addressIndex) {
      throw new NatStaticMappingError(
        `${field}.ipv4`,
        "the subscriber's mappings are on another pool address (paired pooling, RFC 6888 REQ-2)",
        "use the subscriber's current address",
      );
    }
    if (sub === -1 && !state.hasSubscriberRoom()) {
      throw new NatStaticMappingError(
        field,
        'the subscriber table is full (subscribersMax)',
        'raise subscribersMax',
      );
    }
    this.emit({
      type: NatEventType.MappingCreated,
      version: NAT_EVENT_SCHEMA_VERSION,
      shard: this.shard,
      epoch: this.epoch,
      timeMs: nowMs,
      protocol: slot,
      ipv6: [ipv6[0], ipv6[1], ipv6[2], ipv6[3]],
      ipv6Port,
      ipv4,
      ipv4Port,
      isStatic: true,
    });
  }

  // ---- IPv6 -> IPv4 -----------------------------------------------------------------------------------

  /** Processes an IPv6-side flow key; the verdict and outgoing tuple are in `result`. */
  /**
   * While `refused`, an outbound packet that would need a new mapping (a new IPv6 transport address) is
   * dropped as `leaselapsed64`, with no ICMP error and no state; existing mappings and their sessions,
   * new sessions on them included, work as before. A cluster owner whose lease lapsed (it could not renew
   * its ownership record: cut off from NATS) keeps its flows this way and makes no mapping another node,
   * which may own the shard by then, could contradict.
   */
  refuseNewMappings(refused: boolean): void {
    this.newMappingsRefused = refused;
  }

  outbound6(key: FlowKey6, nowMs: number): EngineVerdict {
    const result = this.result;
    result.hairpin = false;
    result.releasedHoldId = -1;
    const slot = protocolSlotOf(key.protocol);
    if (slot < 0) return this.drop(EngineDropReason.protocol64);
    const state = this.state;
    const remotePort = slot === ProtocolSlot.Icmp ? 0 : key.dstPort;
    const dst4 = key.dst4 | 0; // int32 across calls (see inbound4Leg)
    const s = state.findSession6(slot, key.src6, 0, key.srcPort, dst4, remotePort);

    if (s !== -1) {
      // The established path: one session lookup, a lifetime refresh, no allocation. An ICMP error
      // travels on its session but does not refresh it (RFC 6146 sec. 3.5.4, RFC 7857 sec. 5.1).
      if (!key.icmpError) {
        if (slot === ProtocolSlot.Tcp) this.stepTcp(s, true, key.tcpFlags, nowMs);
        else
          this.touch(
            s,
            slot === ProtocolSlot.Udp ? this.config.udpTimeoutMs : this.config.icmpTimeoutMs,
            nowMs,
          );
      }
      fillOutgoing6to4(result, state, state.sessionMappingOf(s), dst4, key.dstPort);
      return this.finishOutbound(key, state.sessionHairpinOf(s) === 1, nowMs);
    }
    if (key.icmpError) return this.drop(EngineDropReason.nosession64);
    let m = state.findMapping6(slot, key.src6, 0, key.srcPort);

    // RFC 6146 sec. 3.5.2.2, CLOSED state: only a SYN creates TCP state. Other packets of a known
    // mapping are translated without state; with no mapping they are dropped.
    if (slot === ProtocolSlot.Tcp && (key.tcpFlags & TcpFlag.Syn) === 0) {
      if (m === -1) return this.drop(EngineDropReason.nosession64);
      fillOutgoing6to4(result, state, m, key.dst4, key.dstPort);
      return this.finishOutbound(key, state.addressIndexOf(key.dst4) >= 0, nowMs);
    }

    // A new session (and maybe a new mapping). Every bound is checked before the first event, so a
    // refused flow leaves no state behind and no live mapping is ever evicted.
    const prefix = this.prefix;
    subscriberPrefixOf(this.config, key.src6, prefix);
    let sub = state.findSubscriber(prefix[0], prefix[1], prefix[2], prefix[3]);
    const bound = this.sessionBound(
      sub,
      prefix[0] | 0,
      prefix[1] | 0,
      EngineDropReason.subscribersessions64,
      EngineDropReason.tenantsessions64,
    );
    if (bound !== 0) return this.refuse(bound, this.limitOfReason(bound), sub, slot, nowMs);
    if (!state.hasSessionRoom())
      return this.refuse(EngineDropReason.sessionsfull64, 'sessions-table', sub, slot, nowMs);
    if (m === -1) {
      // A cluster owner that cannot renew its lease makes no mapping: another node may own the shard
      // already, and its mappings are the ones that count (sessions on existing mappings stay safe).
      if (this.newMappingsRefused) return this.drop(EngineDropReason.leaselapsed64);
      if (!state.hasMappingRoom())
        return this.refuse(EngineDropReason.mappingsfull64, 'mappings-table', sub, slot, nowMs);
      // RFC 6146 sec. 3.5.1.1 / RFC 6888: a port from one of the subscriber's blocks, leasing a block
      // on the subscriber's address when all are full.
      const port = this.allocatePort(sub, slot, key.srcPort, nowMs);
      // A block on its way: dropped quietly, the retransmission gets it (no limit reached, no ICMP error).
      if (port === -EngineDropReason.poolpending64) return this.drop(EngineDropReason.poolpending64);
      if (port < 0) {
        sub = state.findSubscriber(prefix[0], prefix[1], prefix[2], prefix[3]);
        return this.refuse(-port, this.limitOfReason(-port), sub, slot, nowMs);
      }
      this.touched ^= state.touchNewSessionSlots(
        slot,
        state.blockAddressOf(this.allocatedBlock) | 0,
        port,
        dst4,
        remotePort,
      );
      // Folded at the rows in hand (the port's block, its owner, its address): see reducer.ts.
      const block = this.allocatedBlock;
      const event: MappingCreatedEvent = {
        type: NatEventType.MappingCreated,
        version: NAT_EVENT_SCHEMA_VERSION,
        shard: this.shard,
        epoch: this.epoch,
        timeMs: nowMs,
        protocol: slot,
        ipv6: [key.src6[0], key.src6[1], key.src6[2], key.src6[3]],
        ipv6Port: key.srcPort,
        ipv4: state.blockAddressOf(block),
        ipv4Port: port,
        isStatic: false,
      };
      m = applyMappingCreatedAt(
        state,
        event,
        state.blockOwner[block],
        state.blockAddressIndexOf(block),
        block,
      );
      this.sink.push(event);
    }

    let tcpState = 0;
    let lifetimeMs = slot === ProtocolSlot.Udp ? this.config.udpTimeoutMs : this.config.icmpTimeoutMs;
    if (slot === ProtocolSlot.Tcp) {
      tcpState = TcpState.V6Init;
      lifetimeMs = this.config.tcpTransitoryTimeoutMs;
      // Simultaneous open (RFC 6146 sec. 3.5.2.2, RFC 5382 REQ-4): an inbound SYN held for this very
      // connection is discarded silently and the connection is established.
      const held = this.heldSyns.find(state.mappingV4Of(m), state.mappingV4PortOf(m), key.dst4, key.dstPort);
      if (held !== -1) {
        this.heldSyns.remove(held);
        // Output for the owner: forget the held packet silently (no ICMP error).
        this.result.releasedHoldId = held;
        tcpState = TcpState.Established;
        lifetimeMs = this.config.tcpEstablishedTimeoutMs;
      }
    }
    this.emitSessionCreated(m, key.dst4, remotePort, tcpState, lifetimeMs, nowMs);
    fillOutgoing6to4(result, state, m, key.dst4, key.dstPort);
    return this.finishOutbound(key, state.addressIndexOf(key.dst4) >= 0, nowMs);
  }

  private finishOutbound(key: FlowKey6, hairpin: boolean, nowMs: number): EngineVerdict {
    if (!hairpin) {
      return EngineVerdict.Translate;
    }
    // RFC 6146 sec. 3.8: the outgoing tuple goes through the IPv4 side as an incoming packet.
    const key4 = hairpinKey(key, this.result, this.hairpinKey4);
    if (
      this.hairpinToOtherShards &&
      this.state.findMapping4(protocolSlotOf(key4.protocol), key4.dst4 | 0, key4.dstPort) === -1
    ) {
      return EngineVerdict.Translate; // another shard's mapping, maybe: out to the pool address
    }
    const verdict = this.inbound4Leg(key4, nowMs, true);
    if (verdict === EngineVerdict.Translate) {
      this.result.hairpin = true;
      return verdict;
    }
    // The reply of the IPv4 leg would go to an IPv4 host that does not exist: drop instead.
    this.result.verdict = EngineVerdict.Drop;
    return EngineVerdict.Drop;
  }

  /**
   * A port for a new mapping of subscriber `sub` (-1: none yet), or minus the drop reason. Sets
   * `allocatedBlock`. May emit BlockLeased (a new subscriber row is created by it).
   */
  private allocatePort(sub: number, slot: number, srcPort: number, nowMs: number): number {
    const state = this.state;
    const parity = srcPort & 1;
    let preferred = -1;
    if (sub !== -1) {
      for (
        let b = state.subscriberBlockHead[sub * PROTOCOL_SLOT_COUNT + slot];
        b !== -1;
        b = state.blockNext[b]
      ) {
        const port = findFreePort(state, b, parity, nowMs, this.random);
        if (port >= 0) {
          this.allocatedBlock = b;
          return port;
        }
      }
      if (state.subscriberBlockCount[sub * PROTOCOL_SLOT_COUNT + slot] >= this.config.subscriberBlocksMax) {
        return -EngineDropReason.subscriberblocks64;
      }
      preferred = state.subscriberAddress[sub];
    } else if (!state.hasSubscriberRoom()) {
      return -EngineDropReason.subscribersfull64;
    }
    // The engine's own bound first, so reaching it is not reported as an empty pool.
    if (!state.hasSlabRoom()) return -EngineDropReason.leasedblocksfull64;
    const block = this.allocator.tryLease(this.prefix, slot, preferred, nowMs);
    if (block === POOL_REFUSED) return -EngineDropReason.tenantquota64;
    if (block === POOL_PENDING) return -EngineDropReason.poolpending64;
    if (block < 0) return -EngineDropReason.poolexhausted64;
    this.emit({
      type: NatEventType.BlockLeased,
      version: NAT_EVENT_SCHEMA_VERSION,
      shard: this.shard,
      epoch: this.epoch,
      timeMs: nowMs,
      protocol: slot,
      address: state.blockAddressOf(block),
      firstPort: state.blockFirstPortOf(block),
      subscriber: [this.prefix[0], this.prefix[1], this.prefix[2], this.prefix[3]],
    });
    const port = findFreePort(state, block, parity, nowMs, this.random);
    assert(port >= 0, 'a freshly leased block has a free port');
    this.allocatedBlock = block;
    return port;
  }

  private limitOfReason(reason: number): LimitName {
    if (reason === EngineDropReason.subscriberblocks64) return 'subscriber-blocks';
    if (reason === EngineDropReason.subscribersfull64) return 'subscribers-table';
    if (reason === EngineDropReason.leasedblocksfull64) return 'leased-blocks';
    if (reason === EngineDropReason.tenantquota64) return 'tenant-quota';
    if (reason === EngineDropReason.subscribersessions64) return 'subscriber-sessions';
    if (reason === EngineDropReason.tenantsessions64) return 'tenant-sessions';
    return 'pool';
  }

  /** RFC 6146 sec. 3.5.1.1: no mapping can be made: drop, ICMPv6 address unreachable, a counter, an event. */
  private refuse(reason: number, limit: LimitName, sub: number, slot: number, nowMs: number): EngineVerdict {
    const result = this.result;
    this.dropCounters[reason]++;
    this.logLimit(reason, nowMs);
    result.verdict = EngineVerdict.ReplyIcmp;
    result.reason = reason;
    result.icmpType = IcmpReply.V6DestinationUnreachable;
    // A policy refusal is administratively prohibited (RFC 4443 sec. 3.1 code 1), a bound reached is not.
    result.icmpCode =
      reason === EngineDropReason.tenantquota64 || reason === EngineDropReason.tenantsessions64
        ? IcmpReply.V6AdminProhibited
        : IcmpReply.V6AddressUnreachable;
    let report: boolean;
    if (sub === -1) {
      report = !this.unknownSubscriberLimitReported;
      this.unknownSubscriberLimitReported = true;
    } else {
      report = this.limitReportedGeneration[sub] !== this.flushGeneration;
      this.limitReportedGeneration[sub] = this.flushGeneration;
    }
    if (report) {
      this.emit({
        type: NatEventType.LimitReached,
        version: NAT_EVENT_SCHEMA_VERSION,
        shard: this.shard,
        epoch: this.epoch,
        timeMs: nowMs,
        subscriber: [this.prefix[0], this.prefix[1], this.prefix[2], this.prefix[3]],
        protocol: slot,
        limit,
      });
    }
    return EngineVerdict.ReplyIcmp;
  }

  // ---- IPv4 -> IPv6 -----------------------------------------------------------------------------------

  /** Processes an IPv4-side flow key; the verdict and outgoing tuple are in `result`. */
  inbound4(key: FlowKey4, nowMs: number): EngineVerdict {
    this.result.hairpin = false;
    return this.inbound4Leg(key, nowMs, false);
  }

  private inbound4Leg(key: FlowKey4, nowMs: number, hairpinLeg: boolean): EngineVerdict {
    const result = this.result;
    const slot = protocolSlotOf(key.protocol);
    if (slot < 0) return this.drop(EngineDropReason.protocol46);
    const state = this.state;
    const remotePort = slot === ProtocolSlot.Icmp ? 0 : key.srcPort;
    // Addresses cross calls as int32: a uint32 above 2^31 is a heap number, boxed (allocated) at every
    // call the optimiser does not inline.
    const src4 = key.src4 | 0;
    const dst4 = key.dst4 | 0;
    const s = state.findSession4(slot, dst4, key.dstPort, src4, remotePort);

    if (s !== -1) {
      // As outbound: refresh, except for an ICMP error, which travels on the session unrefreshed.
      if (!key.icmpError) {
        if (slot === ProtocolSlot.Tcp) this.stepTcp(s, false, key.tcpFlags, nowMs);
        else
          this.touch(
            s,
            slot === ProtocolSlot.Udp ? this.config.udpTimeoutMs : this.config.icmpTimeoutMs,
            nowMs,
          );
      }
      fillOutgoing4to6(result, state, state.sessionMappingOf(s), src4, key.srcPort, dst4, key.dstPort);
      return EngineVerdict.Translate;
    }
    if (key.icmpError) return this.drop(EngineDropReason.nosession46);
    const m = state.findMapping4(slot, dst4, key.dstPort);

    // RFC 6146 sec. 3.5.1 / 3.5.2.2 / 3.5.3 filtering: endpoint-independent accepts any source once a
    // mapping exists; address-dependent only sources the mapping has a session with.
    const allowed =
      m !== -1 && (!this.config.addressDependentFiltering || state.mappingHasRemote(m, key.src4));

    if (slot === ProtocolSlot.Tcp) {
      const syn = (key.tcpFlags & TcpFlag.Syn) !== 0;
      if (!syn) {
        if (!allowed) return this.drop(EngineDropReason.nosession46);
        fillOutgoing4to6(result, state, m, key.src4, key.srcPort, key.dst4, key.dstPort);
        return EngineVerdict.Translate;
      }
      if (this.config.dropExternallyInitiatedTcp) return this.drop(EngineDropReason.externaltcp46);
      if (!allowed) {
        // Unsolicited SYN: held 6 s, no ICMP error now (RFC 6146 sec. 3.5.2.2).
        if (hairpinLeg) return this.drop(EngineDropReason.filtered46);
        if (this.heldSyns.find(key.dst4, key.dstPort, key.src4, key.srcPort) !== -1) {
          return this.drop(EngineDropReason.synalreadyheld46);
        }
        const h = this.heldSyns.add(
          key.dst4,
          key.dstPort,
          key.src4,
          key.srcPort,
          nowMs + this.config.tcpIncomingSynHoldMs,
        );
        if (h === -1) return this.drop(EngineDropReason.heldfull46);
        result.verdict = EngineVerdict.Hold;
        result.reason = 0;
        result.holdId = h;
        return EngineVerdict.Hold;
      }
      const full = this.inboundSessionBound(m);
      if (full !== 0) {
        this.logLimit(full, nowMs);
        return this.drop(full);
      }
      this.emitSessionCreated(
        m,
        key.src4,
        remotePort,
        TcpState.V4Init,
        this.config.tcpTransitoryTimeoutMs,
        nowMs,
      );
    } else {
      if (m === -1) {
        if (slot === ProtocolSlot.Udp && !hairpinLeg)
          return this.replyIcmp4(EngineDropReason.nomapping46, IcmpReply.V4PortUnreachable);
        return this.drop(EngineDropReason.nomapping46);
      }
      if (!allowed) {
        if (slot === ProtocolSlot.Udp && !hairpinLeg)
          return this.replyIcmp4(EngineDropReason.filtered46, IcmpReply.V4AdminProhibited);
        return this.drop(EngineDropReason.filtered46);
      }
      const full = this.inboundSessionBound(m);
      if (full !== 0) {
        this.logLimit(full, nowMs);
        return this.drop(full);
      }
      const lifetimeMs = slot === ProtocolSlot.Udp ? this.config.udpTimeoutMs : this.config.icmpTimeoutMs;
      this.emitSessionCreated(m, key.src4, remotePort, 0, lifetimeMs, nowMs);
    }
    fillOutgoing4to6(result, state, m, key.src4, key.srcPort, key.dst4, key.dstPort);
    return EngineVerdict.Translate;
  }

  /** 0 when mapping `m` may get a new inbound session, else the bound that refuses it. */
  private inboundSessionBound(m: number): number {
    const state = this.state;
    if (!state.hasSessionRoom()) return EngineDropReason.sessionsfull46;
    const sub = state.mappingSubscriberOf(m);
    const p = state.subscriberPrefix;
    return this.sessionBound(
      sub,
      p[sub * 4] | 0,
      p[sub * 4 + 1] | 0,
      EngineDropReason.subscribersessions46,
      EngineDropReason.tenantsessions46,
    );
  }

  // ---- shared steps -----------------------------------------------------------------------------------

  /** RFC 6146 sec. 3.5.2.2 for a packet of an existing TCP session. */
  private stepTcp(s: number, fromV6: boolean, flags: number, nowMs: number): void {
    const state = this.state;
    const current = state.sessionStateOf(s);
    const next = tcpTransition(current, fromV6, flags);
    const nextState = next & 15;
    const lifetime = next >>> 4;
    const lifetimeMs =
      lifetime === Lifetime.Established
        ? this.config.tcpEstablishedTimeoutMs
        : this.config.tcpTransitoryTimeoutMs;
    if (nextState !== current) {
      const remaining = lifetime === Lifetime.Keep ? state.sessionExpiresAtOf(s) - nowMs : lifetimeMs;
      this.emitSessionChanged(s, nextState, remaining, nowMs);
    } else if (lifetime !== Lifetime.Keep) {
      this.touch(s, lifetimeMs, nowMs);
    }
  }

  /** Lifetime refresh on the established path: in place, published at the next flush. */
  private touch(s: number, lifetimeMs: number, nowMs: number): void {
    const expiresAtMs = nowMs + lifetimeMs;
    const state = this.state;
    if (expiresAtMs <= state.sessionExpiresAtOf(s)) return;
    state.setSessionExpiresAt(s, expiresAtMs);
    // The dirty bit lives in the session record (same cache line as the lookup just read).
    const rec = state.sessionRecord;
    const word = rec[s * SESSION_WORDS + 2];
    if ((word & SESSION_DIRTY) === 0) {
      rec[s * SESSION_WORDS + 2] = word | SESSION_DIRTY;
      this.dirtyList[this.dirtyCount++] = s;
    }
  }

  private drop(reason: number): EngineVerdict {
    this.dropCounters[reason]++;
    this.result.verdict = EngineVerdict.Drop;
    this.result.reason = reason;
    return EngineVerdict.Drop;
  }

  private replyIcmp4(reason: number, code: number): EngineVerdict {
    this.dropCounters[reason]++;
    const result = this.result;
    result.verdict = EngineVerdict.ReplyIcmp;
    result.reason = reason;
    result.icmpType = IcmpReply.V4DestinationUnreachable;
    result.icmpCode = code;
    return EngineVerdict.ReplyIcmp;
  }

  // ---- events -----------------------------------------------------------------------------------------

  // Block, limit and static-mapping events (rare) are folded by applyEvent, which finds the rows they
  // name; mapping and session events (every new flow) are folded at the rows the engine has in hand
  // (reducer.ts, "Folding at known rows"). Either way the event is built before the state changes and
  // pushed to the sink after.
  // Every event is one object literal with its header fields written out (type, version, shard, epoch,
  // timeMs), never `{ ...header, ... }`: on Node 20.20 an object spread costs 0.7-7 µs (measured in
  // `npm run bench -- nat-engine`, same machine and hour: new sessions through extract + engine + rewrite
  // went from 47k/s with the spread to 469k/s without it).
  private emit(event: NatEvent): void {
    // The engine writes NAT_EVENT_SCHEMA_VERSION, which the reducer always applies.
    applyEvent(this.state, event);
    this.sink.push(event);
  }

  /** SessionCreated on mapping `m` (no session with this remote yet), folded at `m`; returns the session row. */
  private emitSessionCreated(
    m: number,
    remote: number,
    remotePort: number,
    tcpState: number,
    remainingMs: number,
    nowMs: number,
  ): number {
    const state = this.state;
    const event: SessionCreatedEvent = {
      type: NatEventType.SessionCreated,
      version: NAT_EVENT_SCHEMA_VERSION,
      shard: this.shard,
      epoch: this.epoch,
      timeMs: nowMs,
      protocol: state.mappingProtocolOf(m),
      ipv4: state.mappingV4Of(m),
      ipv4Port: state.mappingV4PortOf(m),
      remote,
      remotePort,
      state: tcpState,
      remainingMs,
    };
    const s = applySessionCreatedAt(state, event, m);
    this.sink.push(event);
    return s;
  }

  /** SessionChanged of session `s` (a new TCP state, or the same one with a new lifetime), folded at `s`. */
  private emitSessionChanged(s: number, tcpState: number, remainingMs: number, nowMs: number): void {
    const state = this.state;
    const m = state.sessionMappingOf(s);
    const event: SessionChangedEvent = {
      type: NatEventType.SessionChanged,
      version: NAT_EVENT_SCHEMA_VERSION,
      shard: this.shard,
      epoch: this.epoch,
      timeMs: nowMs,
      protocol: state.mappingProtocolOf(m),
      ipv4: state.mappingV4Of(m),
      ipv4Port: state.mappingV4PortOf(m),
      remote: state.sessionRemoteOf(s),
      remotePort: state.sessionRemotePortOf(s),
      state: tcpState,
      remainingMs,
    };
    applySessionChangedAt(state, event, s);
    this.sink.push(event);
  }

  /** One SessionChanged carrying the session's live lifetime: the log catches up with the in-place refreshes. */
  private publishRefresh(s: number, nowMs: number): void {
    const state = this.state;
    this.emitSessionChanged(s, state.sessionStateOf(s), state.sessionExpiresAtOf(s) - nowMs, nowMs);
  }

  private emitSessionRemoved(s: number, cause: number, nowMs: number): void {
    const state = this.state;
    const m = state.sessionMappingOf(s);
    const event: SessionRemovedEvent = {
      type: NatEventType.SessionRemoved,
      version: NAT_EVENT_SCHEMA_VERSION,
      shard: this.shard,
      epoch: this.epoch,
      timeMs: nowMs,
      protocol: state.mappingProtocolOf(m),
      ipv4: state.mappingV4Of(m),
      ipv4Port: state.mappingV4PortOf(m),
      remote: state.sessionRemoteOf(s),
      remotePort: state.sessionRemotePortOf(s),
      cause,
    };
    applySessionRemovedAt(state, s);
    this.sink.push(event);
  }

  private emitMappingRemoved(m: number, nowMs: number): void {
    const state = this.state;
    const event: MappingRemovedEvent = {
      type: NatEventType.MappingRemoved,
      version: NAT_EVENT_SCHEMA_VERSION,
      shard: this.shard,
      epoch: this.epoch,
      timeMs: nowMs,
      protocol: state.mappingProtocolOf(m),
      ipv4: state.mappingV4Of(m),
      ipv4Port: state.mappingV4PortOf(m),
    };
    applyMappingRemovedAt(state, event, m);
    this.sink.push(event);
  }

  /**
   * Publishes the lifetime refreshes that are due: of the sessions touched since the last flush, those
   * whose logged expiry ends within refreshLeadMs (the others are published by the session wheel, which
   * visits each session refreshLeadMs before its logged expiry). Opens a new LimitReached interval. Call
   * every flush interval (a few ms to a second).
   */
  flush(nowMs: number): void {
    const state = this.state;
    const leadMs = this.config.refreshLeadMs;
    for (let i = 0; i < this.dirtyCount; i++) {
      const s = this.dirtyList[i];
      state.sessionRecord[s * SESSION_WORDS + 2] &= ~SESSION_DIRTY;
      if (!state.isSessionUsed(s)) continue;
      const loggedMs = state.sessionLoggedExpiresAtOf(s);
      if (loggedMs - nowMs > leadMs || state.sessionExpiresAtOf(s) <= loggedMs) continue;
      this.publishRefresh(s, nowMs);
      this.refreshesPublished++;
    }
    this.dirtyCount = 0;
    this.flushGeneration = (this.flushGeneration + 1) >>> 0 || 1;
    this.unknownSubscriberLimitReported = false;
  }

  // ---- expiry -----------------------------------------------------------------------------------------

  /**
   * Runs the timer wheels up to `nowMs`: session expiry, idle block release, held SYN timeout. Returns
   * how many held SYNs expired; their ids are in `expiredHoldIds[0, count)` until the next call.
   */
  advance(nowMs: number): number {
    this.nowMs = nowMs;
    this.expiredHoldCount = 0;
    this.state.sessionWheel.advance(nowMs, this.visitSession);
    this.state.blockWheel.advance(nowMs, this.visitBlock);
    this.heldSyns.wheel.advance(nowMs, this.visitHeldSyn);
    return this.expiredHoldCount;
  }

  private readonly visitSession = (s: number): void => {
    const state = this.state;
    if (!state.isSessionUsed(s)) return;
    const nowMs = this.nowMs;
    const expiresAtMs = state.sessionExpiresAtOf(s);
    if (expiresAtMs > nowMs) {
      const loggedMs = state.sessionLoggedExpiresAtOf(s);
      const leadMs = this.config.refreshLeadMs;
      if (expiresAtMs > loggedMs && loggedMs - nowMs <= leadMs) {
        // The log's lifetime ends soon but the session lives on: publish (the reducer re-adds it).
        this.publishRefresh(s, nowMs);
        this.refreshesPublished++;
        return;
      }
      // Not before nowMs: a past due time would put it back into the slot being visited (a whole turn).
      state.sessionWheel.add(s, loggedMs - leadMs > nowMs ? loggedMs - leadMs : expiresAtMs);
      return;
    }
    const m = state.sessionMappingOf(s);
    const tcpState = state.sessionStateOf(s);
    if (
      state.mappingProtocolOf(m) === ProtocolSlot.Tcp &&
      (tcpState === TcpState.Established || tcpState === TcpState.V4FinRcv || tcpState === TcpState.V6FinRcv)
    ) {
      // RFC 6146 sec. 3.5.2.2: an idle established connection is not cut at once; without probes it
      // moves to TRANS and goes 4 minutes later unless a packet revives it.
      this.emitSessionChanged(s, TcpState.Trans, this.config.tcpTransitoryTimeoutMs, nowMs);
      return;
    }
    this.emitSessionRemoved(s, SessionRemovedCause.Expired, nowMs);
    // RFC 6146 sec. 3.5.1: a dynamic BIB entry goes with its last session; its port is then held 120 s.
    if (state.mappingSessionCount[m] === 0 && state.mappingStaticOf(m) === 0)
      this.emitMappingRemoved(m, nowMs);
  };

  private readonly visitBlock = (block: number): void => {
    const state = this.state;
    if (state.blockOwner[block] === -1 || state.blockInUse[block] !== 0) return;
    const dueMs = state.blockIdleSinceMs[block] + this.config.blockIdleTimeoutMs;
    if (dueMs > this.nowMs) {
      state.blockWheel.add(block, dueMs);
      return;
    }
    this.emit({
      type: NatEventType.BlockReleased,
      version: NAT_EVENT_SCHEMA_VERSION,
      shard: this.shard,
      epoch: this.epoch,
      timeMs: this.nowMs,
      protocol: state.blockSlotOf(block),
      address: state.blockAddressOf(block),
      firstPort: state.blockFirstPortOf(block),
    });
    this.allocator.released(block, this.nowMs);
  };

  private readonly visitHeldSyn = (h: number): void => {
    if (!this.heldSyns.isUsed(h)) return;
    if (this.heldSyns.expiresAtMs[h] > this.nowMs) {
      this.heldSyns.wheel.add(h, this.heldSyns.expiresAtMs[h]);
      return;
    }
    this.heldSyns.remove(h);
    this.expiredHoldIds[this.expiredHoldCount++] = h;
  };

  /** Number of SYNs currently held. */
  get heldSynCount(): number {
    return this.heldSyns.count;
  }

  private subscriberOf(v6: ArrayLike<number>): number {
    const prefix = this.subscriberScratch;
    subscriberPrefixOf(this.config, v6, prefix);
    return this.state.findSubscriber(prefix[0], prefix[1], prefix[2], prefix[3]);
  }
}

/**
 * Validates `input` and builds an engine. Throws NatConfigError naming the first bad field. With
 * `options.state` (a takeover), the configuration that state was built with is used.
 */
export function createNatEngine(input: NatEngineConfigInput, options: NatEngineOptions): NatEngine {
  return new NatEngine(options.state?.config ?? validateConfig(input), options);
}

/** A state for replay: the same tables, folded from events only (see reducer.ts). */
export function createReplayState(config: NatEngineConfig, startMs: number, hashSeed = 0x9e3779b9): NatState {
  return new NatState(config, hashSeed, startMs);
}
