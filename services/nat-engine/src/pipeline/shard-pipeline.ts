// The shard pipeline: what one shard does with a packet an ingress has classified and keyed (RFC 6146
// sec. 3.5 filtering and updating and sec. 3.6 the outgoing tuple, by the engine; sec. 3.7 the RFC 7915
// rewrite with that tuple; sec. 3.8 hairpinning; sec. 3.5.2.2 held unsolicited SYNs and the ICMP
// errors the engine asks for), every ICMP error under one token bucket (RFC 4443 sec. 2.4 (f), RFC 1812
// sec. 4.3.2.8). It accepts a packet from any ingress: the engine key plus the packet.
import assert from 'node:assert';
import { type CounterLayout, translatorDropBase } from '../../../../libs/dataplane/src/index.js';
import {
  checksumAdjust,
  copyBytes,
  ICMP_ERRORS_BURST_DEFAULT,
  ICMP_ERRORS_PER_SECOND_DEFAULT,
  IcmpErrorBucket,
  Protocol,
  read16,
  sumWords,
  write16,
} from '../../../../libs/packet/src/index.js';
import {
  createStatefulTranslator,
  DropReason,
  type Rfc6052Prefix,
  type StatefulTranslator,
  type TranslationResult,
  type TranslatorConfigInput,
  Verdict,
  XlatTuple,
} from '../../../../libs/xlat/src/index.js';
import type { NatEngine } from '../engine.js';
import type { FlowKey4, FlowKey6 } from '../flow-key.js';
import { EngineVerdict, engineDropReasonNames, IcmpReply } from '../verdict.js';
import { writeIcmp4Error, writeIcmp6Error } from './icmp-errors.js';

/** The pipeline's own drop counters (after the ingress's in a role's layout): `drop.<name>`. */
export const shardPipelineDropNames = [
  'hairpinprotocol',
  'heldsyn',
  ...engineDropReasonNames.filter((n) => n !== 'none').map((n) => `nat.${n}`),
] as const;

export interface ShardPipelineOptions {
  /** The stateful translator's configuration (PREF64, MTUs, the ICMP source of translator errors). */
  translator: TranslatorConfigInput;
  /** IPv4 source of the ICMPv4 errors the engine asks for (a pool address). */
  icmpSource4: number;
  /** Token bucket for every ICMP error the pipeline sends (default 1000 per second, burst 50). */
  icmpErrorsPerSecond?: number;
  icmpErrorsBurst?: number;
}

export class ShardPipeline {
  private stateful: StatefulTranslator;
  /** Same, without MTU limits, for GSO super-packets. */
  private readonly superStateful: StatefulTranslator;
  private readonly tuple = new XlatTuple();
  private readonly own: TranslationResult = { reason: 0, count: 0, lengths: new Int32Array(1), length: 0 };
  private current: TranslationResult;
  private lastDrop = 0;
  private nowMs = 0;
  private readonly natDropBase: number;
  private readonly hairpinProtocolDrop: number;
  private readonly heldSynDrop: number;
  /** Held unsolicited SYNs by hold id (bounded by the engine's heldSynsMax). */
  private readonly held = new Map<number, Uint8Array>();
  /** ICMP errors for expired held SYNs, waiting for the owner's next batch write. */
  readonly pendingReplies: Uint8Array[] = [];
  /** Every ICMP error takes a token; without one it is suppressed and counted. */
  private readonly icmpBucket: IcmpErrorBucket;
  /** Where the translator writes while the bucket is empty (see translate). */
  private readonly scratch = new Uint8Array(65535 + 2048 + 64);

  constructor(
    readonly engine: NatEngine,
    private readonly options: ShardPipelineOptions,
    layout: CounterLayout,
    private readonly prefix: Rfc6052Prefix,
  ) {
    this.stateful = createStatefulTranslator(options.translator);
    this.superStateful = createStatefulTranslator({
      ...options.translator,
      mtu4: 65535,
      mtu6: 65535,
      lowestIpv6Mtu: 65535,
    });
    this.current = this.stateful.result;
    this.icmpBucket = new IcmpErrorBucket(
      options.icmpErrorsPerSecond ?? ICMP_ERRORS_PER_SECOND_DEFAULT,
      options.icmpErrorsBurst ?? ICMP_ERRORS_BURST_DEFAULT,
      0,
    );
    this.natDropBase = layout.index('drop.nat.protocol64') - 1;
    this.hairpinProtocolDrop = layout.index('drop.hairpinprotocol');
    this.heldSynDrop = layout.index('drop.heldsyn');
  }

  /**
   * The outgoing links' MTUs, when the I/O sends on the wire itself (AF_XDP: no kernel forwarding
   * after the PLAT, so the PLAT answers what does not fit, RFC 7915 sec. 4 and 5, and fragments
   * what may be): later packets are checked against these. Control plane: builds a new translator
   * (the translator's configuration is fixed once validated).
   */
  setLinkMtus(mtu4: number, mtu6: number): void {
    assert(Number.isInteger(mtu4) && mtu4 >= 68 && mtu4 <= 65535, `mtu4 ${mtu4}`);
    assert(Number.isInteger(mtu6) && mtu6 >= 1280 && mtu6 <= 65535, `mtu6 ${mtu6}`);
    const translator = this.options.translator;
    this.stateful = createStatefulTranslator({
      ...translator,
      mtu4,
      mtu6,
      lowestIpv6Mtu: Math.min(translator.lowestIpv6Mtu ?? 1280, mtu6),
    });
    this.current = this.stateful.result;
  }

  /** What the last call wrote (packets and their lengths), like the xlat Translator's result. */
  get result(): TranslationResult {
    return this.current;
  }

  /** The counter of the last Drop or ReplyIcmp (see PacketStep.reasonCounter in libs/dataplane). */
  reasonCounter(): number {
    return this.lastDrop;
  }

  /** The engine's time for the packets of the next batch. */
  setNow(nowMs: number): void {
    this.nowMs = nowMs;
  }

  /** ICMP errors the rate limit suppressed (the packets themselves are counted by their reasons). */
  get icmpErrorsSuppressed(): number {
    return this.icmpBucket.suppressed;
  }

  /**
   * An IPv6 packet `input[start, start + length)` with its engine key (destination already extracted
   * from the PREF64): engine, then the RFC 7915 rewrite into `output` from `outStart` on (the
   * PacketStep contract). After a Translate, `engine.result` holds the tuple (for a fragment table).
   */
  outbound(
    key: FlowKey6,
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    const engine = this.engine;
    const verdict = engine.outbound6(key, this.nowMs);
    const r = engine.result;
    if (r.releasedHoldId !== -1) this.held.delete(r.releasedHoldId);
    if (verdict === EngineVerdict.Translate) {
      if (r.hairpin) return this.hairpin(input, start, length, output, outStart);
      const tuple = this.tuple;
      tuple.src4 = r.v4Src;
      tuple.srcPort = r.v4SrcPort;
      tuple.dst4 = r.v4Dst;
      tuple.dstPort = r.v4DstPort;
      return this.rewrite6(tuple, input, start, length, output, outStart, superPacket);
    }
    if (verdict === EngineVerdict.ReplyIcmp) {
      this.lastDrop = this.natDropBase + r.reason;
      if (!this.icmpBucket.take(this.nowMs)) return Verdict.Drop;
      return this.reply(writeIcmp6Error(input, start, length, output, outStart, r.icmpType, r.icmpCode));
    }
    return this.dropTo(this.natDropBase + r.reason);
  }

  /** An IPv4 packet with its engine key, likewise; a held SYN is kept (copied) under its hold id. */
  inbound(
    key: FlowKey4,
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    const engine = this.engine;
    const verdict = engine.inbound4(key, this.nowMs);
    const r = engine.result;
    if (verdict === EngineVerdict.Translate) {
      const tuple = this.tuple;
      this.prefix.embed(r.v4Src | 0, tuple.src6, 0);
      tuple.srcPort = r.v4SrcPort;
      bytesFromWords(r.v6, tuple.dst6);
      tuple.dstPort = r.v6Port;
      return this.rewrite4(tuple, input, start, length, output, outStart, superPacket);
    }
    if (verdict === EngineVerdict.Hold) {
      // RFC 6146 sec. 3.5.2.2: keep the SYN (at least 6 s); the engine reports its fate. A copy: the
      // batch buffer is reused (a rare path, so the allocation is fine). Not `slice`: on a Buffer (the
      // TUN reader's batch buffer is one) it returns a view, not a copy.
      const copy = new Uint8Array(length);
      copyBytes(input, start, copy, 0, length);
      this.held.set(r.holdId, copy);
      return this.dropTo(this.heldSynDrop);
    }
    if (verdict === EngineVerdict.ReplyIcmp) {
      this.lastDrop = this.natDropBase + r.reason;
      if (!this.icmpBucket.take(this.nowMs)) return Verdict.Drop;
      return this.reply(
        writeIcmp4Error(
          input,
          start,
          length,
          output,
          outStart,
          r.icmpType,
          r.icmpCode,
          this.options.icmpSource4,
        ),
      );
    }
    return this.dropTo(this.natDropBase + r.reason);
  }

  /** RFC 7915 IPv6 -> IPv4 with a tuple the flow already has (the engine's, or a fragment table's). */
  rewrite6(
    tuple: XlatTuple,
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    const translator = superPacket ? this.superStateful : this.stateful;
    return this.translated(
      translator,
      this.translate(translator, false, tuple, input, start, length, output, outStart),
    );
  }

  /** RFC 7915 IPv4 -> IPv6 with a tuple the flow already has. */
  rewrite4(
    tuple: XlatTuple,
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    const translator = superPacket ? this.superStateful : this.stateful;
    return this.translated(
      translator,
      this.translate(translator, true, tuple, input, start, length, output, outStart),
    );
  }

  /**
   * Runs the engine's timers to `nowMs` and drains its output: every held SYN whose 6 s ran out is
   * answered with ICMP port unreachable into `pendingReplies` (RFC 6146 sec. 3.5.2.2).
   */
  advance(nowMs: number): void {
    const engine = this.engine;
    const expired = engine.advance(nowMs);
    for (let i = 0; i < expired; i++) {
      const holdId = engine.expiredHoldIds[i];
      const packet = this.held.get(holdId);
      this.held.delete(holdId);
      if (packet === undefined || !this.icmpBucket.take(nowMs)) continue;
      const reply = new Uint8Array(576);
      const length = writeIcmp4Error(
        packet,
        0,
        packet.length,
        reply,
        0,
        IcmpReply.V4DestinationUnreachable,
        IcmpReply.V4PortUnreachable,
        this.options.icmpSource4,
      );
      this.pendingReplies.push(reply.subarray(0, length));
    }
  }

  /** Held SYN packets kept for the engine's holds. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * The translator's call under the ICMP error bucket: with a token it writes straight into the output
   * and an error it answers with takes the token; without one it translates into a scratch buffer (a
   * copy more, only while errors are being suppressed), so an error it would answer with never reaches
   * the output (a Drop writes nothing) and is counted as suppressed.
   */
  private translate(
    translator: StatefulTranslator,
    v4ToV6: boolean,
    tuple: XlatTuple,
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
  ): Verdict {
    const bucket = this.icmpBucket;
    if (bucket.hasToken(this.nowMs)) {
      const verdict = v4ToV6
        ? translator.v4ToV6(input, output, tuple, start, length, outStart)
        : translator.v6ToV4(input, output, tuple, start, length, outStart);
      if (verdict === Verdict.ReplyIcmp) bucket.take(this.nowMs);
      return verdict;
    }
    const scratch = this.scratch;
    const verdict = v4ToV6
      ? translator.v4ToV6(input, scratch, tuple, start, length, 0)
      : translator.v6ToV4(input, scratch, tuple, start, length, 0);
    if (verdict === Verdict.ReplyIcmp) {
      bucket.take(this.nowMs);
      return Verdict.Drop;
    }
    if (verdict === Verdict.Translate) copyBytes(scratch, 0, output, outStart, translator.result.length);
    return verdict;
  }

  private translated(translator: StatefulTranslator, verdict: Verdict): Verdict {
    this.current = translator.result;
    if (verdict !== Verdict.Translate) this.lastDrop = translatorDropBase + translator.result.reason;
    return verdict;
  }

  /**
   * RFC 6146 sec. 3.8: both ends are subscribers. The engine gave the sender's mapping (the source
   * the receiver sees, embedded in the PREF64) and the receiver's IPv6 transport address. The packet
   * is `input[start, start + length)`; it is rewritten into `output` from `o` on.
   */
  private hairpin(input: Uint8Array, start: number, length: number, output: Uint8Array, o: number): Verdict {
    const protocol = input[start + 6];
    if ((protocol !== Protocol.Tcp && protocol !== Protocol.Udp) || length < 48)
      return this.dropTo(this.hairpinProtocolDrop);
    if (input[start + 7] <= 1) return this.dropTo(translatorDropBase + DropReason.hoplimit64);
    const r = this.engine.result;
    copyBytes(input, start, output, o, length);
    output[o + 7] = input[start + 7] - 1;
    const checkAt = protocol === Protocol.Tcp ? 56 : 46;
    const oldSum = sumWords(output, o + 8, o + 44, 0);
    this.prefix.embed(r.v4Src | 0, output, o + 8);
    bytesFromWords(r.v6, this.tuple.dst6);
    output.set(this.tuple.dst6, o + 24);
    write16(output, o + 40, r.v4SrcPort);
    write16(output, o + 42, r.v6Port);
    const newSum = sumWords(output, o + 8, o + 44, 0);
    if (checkAt + 2 <= length) {
      const check = read16(output, o + checkAt);
      if (!(protocol === Protocol.Udp && check === 0)) {
        let updated = checksumAdjust(check, oldSum, newSum);
        if (protocol === Protocol.Udp && updated === 0) updated = 0xffff;
        write16(output, o + checkAt, updated);
      }
    }
    return this.single(length, Verdict.Translate);
  }

  private reply(length: number): Verdict {
    return this.single(length, Verdict.ReplyIcmp);
  }

  private single(length: number, verdict: Verdict): Verdict {
    const own = this.own;
    own.reason = 0;
    own.count = 1;
    own.lengths[0] = length;
    own.length = length;
    this.current = own;
    return verdict;
  }

  private dropTo(counter: number): Verdict {
    this.lastDrop = counter;
    return Verdict.Drop;
  }
}

/** Four big-endian uint32 words (the engine's IPv6 form) into 16 bytes (the translator's). */
export function bytesFromWords(words: Uint32Array, bytes: Uint8Array): void {
  for (let i = 0; i < 4; i++) {
    const w = words[i];
    const o = i * 4;
    bytes[o] = w >>> 24;
    bytes[o + 1] = w >>> 16;
    bytes[o + 2] = w >>> 8;
    bytes[o + 3] = w;
  }
}
