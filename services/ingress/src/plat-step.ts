// The PLAT's treatment of one packet from its TUN (RFC 6146): extract the flow key (sec. 3.4),
// let the NAT engine filter, update and pick the outgoing tuple (sec. 3.5, 3.6), then rewrite the
// headers with the tuple (sec. 3.7, RFC 7915). Hairpinned flows (sec. 3.8) are rewritten IPv6 to
// IPv6. Unsolicited IPv4 SYNs are held as the engine says, and engine-requested ICMP errors built.
import {
  checksumAdjust,
  copyBytes,
  ICMP_ERRORS_BURST_DEFAULT,
  ICMP_ERRORS_PER_SECOND_DEFAULT,
  IcmpErrorBucket,
  read16,
  sumWords,
  write16,
} from '../../../libs/packet/src/index.js';
import {
  createStatefulTranslator,
  DropReason,
  extractFlowKey4,
  extractFlowKey6,
  FlowKey,
  isGlobalIpv4,
  type Rfc6052Prefix,
  type StatefulTranslator,
  type TranslationResult,
  type TranslatorConfigInput,
  Verdict,
  XlatTuple,
} from '../../../libs/xlat/src/index.js';
import {
  createFlowKey4,
  createFlowKey6,
  EngineVerdict,
  engineDropReasonNames,
  type FlowKey4,
  type FlowKey6,
  type HeldSynListener,
  type NatEngine,
} from '../../nat-engine/src/index.js';
import type { PacketStep } from './batch-translator.js';
import type { CounterLayout } from './counters.js';
import { FragmentTable } from './fragment-table.js';
import { writeIcmp4Error, writeIcmp6Error } from './icmp-errors.js';
import { translatorDropBase } from './role-counters.js';

export const platDropNames = [
  'version',
  'routersolicitation',
  'notforus64',
  'fragment64',
  'fragment46',
  'hairpinprotocol',
  'heldsyn',
  ...engineDropReasonNames.filter((n) => n !== 'none').map((n) => `nat.${n}`),
] as const;

export interface PlatStepOptions {
  translator: TranslatorConfigInput;
  /** IPv4 source of ICMPv4 errors the PLAT originates (a pool address). */
  icmpSource4: number;
  /** RFC 4443 sec. 2.4 (f) / RFC 1812 sec. 4.3.2.8 token bucket for every ICMP error the PLAT sends. */
  icmpErrorsPerSecond?: number;
  icmpErrorsBurst?: number;
}

const NO_REASON = 0;
/** Fragments of one datagram arrive within milliseconds; RFC 8200 sec. 4.5 reassembly allows 60 s. */
const FRAGMENT_LIFETIME_MS = 5000;

export class PlatStep implements PacketStep, HeldSynListener {
  private readonly stateful: StatefulTranslator;
  /** Same, without MTU limits, for GSO super-packets. */
  private readonly superStateful: StatefulTranslator;
  private readonly prefix: Rfc6052Prefix;
  private readonly enforceGlobal: boolean;
  private readonly flow = new FlowKey();
  private readonly key6: FlowKey6 = createFlowKey6();
  private readonly key4: FlowKey4 = createFlowKey4();
  private readonly tuple = new XlatTuple();
  private readonly own: TranslationResult = { reason: 0, count: 0, lengths: new Int32Array(1), length: 0 };
  private current: TranslationResult;
  private lastDrop = 0;
  private nowMs = 0;
  private readonly counterOf: (name: string) => number;
  private readonly natDropBase: number;
  private readonly c: {
    version: number;
    routerSolicitation: number;
    notForUs: number;
    fragment64: number;
    fragment46: number;
    hairpinProtocol: number;
    heldSyn: number;
    protocol64: number;
    protocol46: number;
  };
  /** Tuples of fragmented datagrams, from their first fragment (RFC 6146 sec. 3.4). */
  private readonly fragments = new FragmentTable(4096, FRAGMENT_LIFETIME_MS);
  private readonly fragmentValue = new Uint32Array(8);
  private readonly fragmentWords = new Uint32Array(4);
  /** Held unsolicited SYNs by hold id (bounded by the engine's heldSynsMax). */
  private readonly held = new Map<number, Uint8Array>();
  /** ICMP errors for expired held SYNs, waiting for the next batch write. */
  readonly pendingReplies: Uint8Array[] = [];
  /** Every ICMP error this step would send takes a token; without one it is suppressed and counted. */
  private readonly icmpBucket: IcmpErrorBucket;
  /** Where the translator writes while the bucket is empty (see translate). */
  private readonly scratch = new Uint8Array(65535 + 2048 + 64);

  constructor(
    private readonly engine: NatEngine,
    private readonly options: PlatStepOptions,
    layout: CounterLayout,
    prefix: Rfc6052Prefix,
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
    this.prefix = prefix;
    this.enforceGlobal = prefix.isWellKnown && options.translator.allowNonGlobalIpv4 !== true;
    this.counterOf = (name) => layout.index(`drop.${name}`);
    this.natDropBase = layout.index('drop.nat.protocol64') - 1;
    this.c = {
      version: this.counterOf('version'),
      routerSolicitation: this.counterOf('routersolicitation'),
      notForUs: this.counterOf('notforus64'),
      fragment64: this.counterOf('fragment64'),
      fragment46: this.counterOf('fragment46'),
      hairpinProtocol: this.counterOf('hairpinprotocol'),
      heldSyn: this.counterOf('heldsyn'),
      protocol64: this.counterOf('nat.protocol64'),
      protocol46: this.counterOf('nat.protocol46'),
    };
  }

  get result(): TranslationResult {
    return this.current;
  }

  /** The engine's time for the packets of the next batch. */
  setNow(nowMs: number): void {
    this.nowMs = nowMs;
  }

  reasonCounter(): number {
    return this.lastDrop;
  }

  /** ICMP errors the rate limit suppressed (the packets themselves are counted by their reasons). */
  get icmpErrorsSuppressed(): number {
    return this.icmpBucket.suppressed;
  }

  /**
   * The translator's call, under the ICMP error bucket: with a token it writes straight into the
   * output and an error it answers with takes the token; without one it translates into a scratch
   * buffer (a copy more, only while errors are being suppressed), so an error it would answer with
   * never reaches the output (a Drop writes nothing) and is counted as suppressed.
   */
  private translate(
    translator: StatefulTranslator,
    v4ToV6: boolean,
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
  ): Verdict {
    const bucket = this.icmpBucket;
    const tuple = this.tuple;
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

  process(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    const version = length > 0 ? input[start] >> 4 : 0;
    if (version === 6) return this.outbound(input, start, length, output, outStart, superPacket);
    if (version === 4) return this.inbound(input, start, length, output, outStart, superPacket);
    return this.dropTo(this.c.version);
  }

  private outbound(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    if (length < 40) return this.dropTo(translatorDropBase + DropReason.truncated64);
    if (input[start + 6] === 58 && length > 40 && input[start + 40] === 133)
      return this.dropTo(this.c.routerSolicitation);
    if (!this.prefix.matches(input, start + 24)) return this.dropTo(this.c.notForUs);
    const flow = this.flow;
    const reason = extractFlowKey6(input, flow, start, length);
    if (reason !== NO_REASON) return this.dropTo(translatorDropBase + reason);
    const key = this.key6;
    if (flow.icmpError) {
      const inner = flow.inner;
      if (!inner.hasPorts || !this.prefix.matches(inner.src, 0)) return this.dropTo(this.c.fragment64);
      wordsFromBytes(inner.dst, key.src6);
      key.protocol = inner.protocol;
      key.srcPort = inner.dstPort;
      key.dst4 = this.prefix.extract(inner.src, 0) >>> 0;
      key.dstPort = inner.srcPort;
      key.tcpFlags = 0;
      key.icmpError = true;
    } else {
      if (flow.isFragment && flow.fragmentOffset !== 0)
        return this.laterFragment64(input, start, length, output, outStart);
      // No ports and not a later fragment: a protocol NAT64 does not carry (RFC 6146 sec. 3.5:
      // TCP, UDP and ICMP queries/errors only), e.g. an unknown ICMPv6 type or ICMPv4 inside IPv6.
      if (!flow.hasPorts) return this.dropTo(flow.isFragment ? this.c.fragment64 : this.c.protocol64);
      wordsFromBytes(flow.src, key.src6);
      key.protocol = flow.protocol;
      key.srcPort = flow.srcPort;
      key.dst4 = this.prefix.extract(flow.dst, 0) >>> 0;
      key.dstPort = flow.dstPort;
      key.tcpFlags = flow.tcpFlags;
      key.icmpError = false;
    }
    // Addresses cross calls as int32 (a uint32 above 2^31 is a heap number, allocated at every call V8
    // does not inline): `| 0` here and at each embed().
    if (this.enforceGlobal && !isGlobalIpv4(key.dst4 | 0))
      return this.dropTo(translatorDropBase + DropReason.dstaddr64);
    const engine = this.engine;
    const verdict = engine.outbound6(key, this.nowMs);
    const r = engine.result;
    if (verdict === EngineVerdict.Translate) {
      if (r.hairpin) return this.hairpin(input, start, length, output, outStart);
      const tuple = this.tuple;
      tuple.src4 = r.v4Src;
      tuple.srcPort = r.v4SrcPort;
      tuple.dst4 = r.v4Dst;
      tuple.dstPort = r.v4DstPort;
      if (flow.isFragment && !flow.icmpError) {
        const v = this.fragmentValue;
        v[0] = tuple.src4;
        v[1] = tuple.srcPort;
        v[2] = tuple.dst4;
        v[3] = tuple.dstPort;
        this.fragments.add(flow, v, this.nowMs);
      }
      const translator = superPacket ? this.superStateful : this.stateful;
      this.current = translator.result;
      const xlat = this.translate(translator, false, input, start, length, output, outStart);
      if (xlat !== Verdict.Translate) this.lastDrop = translatorDropBase + translator.result.reason;
      return xlat;
    }
    if (verdict === EngineVerdict.ReplyIcmp) {
      this.lastDrop = this.natDropBase + r.reason;
      if (!this.icmpBucket.take(this.nowMs)) return Verdict.Drop;
      return this.reply(writeIcmp6Error(input, start, length, output, outStart, r.icmpType, r.icmpCode));
    }
    return this.dropTo(this.natDropBase + r.reason);
  }

  private inbound(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    const flow = this.flow;
    const reason = extractFlowKey4(input, flow, start, length);
    if (reason !== NO_REASON) return this.dropTo(translatorDropBase + reason);
    const key = this.key4;
    if (flow.icmpError) {
      const inner = flow.inner;
      if (!inner.hasPorts) return this.dropTo(this.c.fragment46);
      key.protocol = inner.protocol;
      key.src4 = inner.dst4 >>> 0;
      key.srcPort = inner.dstPort;
      key.dst4 = inner.src4 >>> 0;
      key.dstPort = inner.srcPort;
      key.tcpFlags = 0;
      key.icmpError = true;
    } else {
      if (flow.isFragment && flow.fragmentOffset !== 0)
        return this.laterFragment46(input, start, length, output, outStart);
      if (!flow.hasPorts) return this.dropTo(flow.isFragment ? this.c.fragment46 : this.c.protocol46);
      key.protocol = flow.protocol;
      key.src4 = flow.src4 >>> 0;
      key.srcPort = flow.srcPort;
      key.dst4 = flow.dst4 >>> 0;
      key.dstPort = flow.dstPort;
      key.tcpFlags = flow.tcpFlags;
      key.icmpError = false;
    }
    const engine = this.engine;
    const verdict = engine.inbound4(key, this.nowMs);
    const r = engine.result;
    if (verdict === EngineVerdict.Translate) {
      const tuple = this.tuple;
      this.prefix.embed(r.v4Src | 0, tuple.src6, 0);
      tuple.srcPort = r.v4SrcPort;
      bytesFromWords(r.v6, tuple.dst6);
      tuple.dstPort = r.v6Port;
      if (flow.isFragment && !flow.icmpError) {
        const v = this.fragmentValue;
        v[0] = r.v4Src;
        v[1] = r.v4SrcPort;
        v[2] = r.v6[0];
        v[3] = r.v6[1];
        v[4] = r.v6[2];
        v[5] = r.v6[3];
        v[6] = r.v6Port;
        this.fragments.add(flow, v, this.nowMs);
      }
      const translator = superPacket ? this.superStateful : this.stateful;
      this.current = translator.result;
      const xlat = this.translate(translator, true, input, start, length, output, outStart);
      if (xlat !== Verdict.Translate) this.lastDrop = translatorDropBase + translator.result.reason;
      return xlat;
    }
    if (verdict === EngineVerdict.Hold) {
      // RFC 6146 sec. 3.5.2.2: keep the SYN (at least 6 s); the engine reports its fate. A copy: the
      // batch buffer is reused (a rare path, so the allocation is fine). Not `slice`: on a Buffer (the
      // TUN reader's batch buffer is one) it returns a view, not a copy.
      const copy = new Uint8Array(length);
      copyBytes(input, start, copy, 0, length);
      this.held.set(r.holdId, copy);
      return this.dropTo(this.c.heldSyn);
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

  /** A non-first IPv6 fragment: the tuple its first fragment got, or a drop when it is unknown. */
  private laterFragment64(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
  ): Verdict {
    if (!this.fragments.find(this.flow, this.nowMs)) return this.dropTo(this.c.fragment64);
    const v = this.fragmentValue;
    this.fragments.copyValue(v);
    const tuple = this.tuple;
    tuple.src4 = v[0];
    tuple.srcPort = v[1];
    tuple.dst4 = v[2];
    tuple.dstPort = v[3];
    return this.rewrite(this.translate(this.stateful, false, input, start, length, output, outStart));
  }

  /** A non-first IPv4 fragment, likewise. */
  private laterFragment46(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
  ): Verdict {
    if (!this.fragments.find(this.flow, this.nowMs)) return this.dropTo(this.c.fragment46);
    const v = this.fragmentValue;
    this.fragments.copyValue(v);
    const tuple = this.tuple;
    this.prefix.embed(v[0] | 0, tuple.src6, 0);
    tuple.srcPort = v[1];
    const words = this.fragmentWords;
    words[0] = v[2];
    words[1] = v[3];
    words[2] = v[4];
    words[3] = v[5];
    bytesFromWords(words, tuple.dst6);
    tuple.dstPort = v[6];
    return this.rewrite(this.translate(this.stateful, true, input, start, length, output, outStart));
  }

  private rewrite(verdict: Verdict): Verdict {
    this.current = this.stateful.result;
    if (verdict !== Verdict.Translate) this.lastDrop = translatorDropBase + this.stateful.result.reason;
    return verdict;
  }

  /**
   * RFC 6146 sec. 3.8: both ends are subscribers. The engine gave the sender's mapping (the source
   * the receiver sees, embedded in the PREF64) and the receiver's IPv6 transport address. The packet
   * is `input[start, start + length)`; it is rewritten into `output` from `o` on.
   */
  private hairpin(input: Uint8Array, start: number, length: number, output: Uint8Array, o: number): Verdict {
    const protocol = input[start + 6];
    if ((protocol !== 6 && protocol !== 17) || length < 48) return this.dropTo(this.c.hairpinProtocol);
    if (input[start + 7] <= 1) return this.dropTo(translatorDropBase + DropReason.hoplimit64);
    const r = this.engine.result;
    copyBytes(input, start, output, o, length);
    output[o + 7] = input[start + 7] - 1;
    const checkAt = protocol === 6 ? 56 : 46;
    const oldSum = sumWords(output, o + 8, o + 44, 0);
    this.prefix.embed(r.v4Src | 0, output, o + 8);
    bytesFromWords(r.v6, this.tuple.dst6);
    output.set(this.tuple.dst6, o + 24);
    write16(output, o + 40, r.v4SrcPort);
    write16(output, o + 42, r.v6Port);
    const newSum = sumWords(output, o + 8, o + 44, 0);
    if (checkAt + 2 <= length) {
      const check = read16(output, o + checkAt);
      if (!(protocol === 17 && check === 0)) {
        let updated = checksumAdjust(check, oldSum, newSum);
        if (protocol === 17 && updated === 0) updated = 0xffff;
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

  // HeldSynListener: the engine's verdict on a held SYN.
  expired(holdId: number): void {
    const packet = this.held.get(holdId);
    this.held.delete(holdId);
    if (packet === undefined || !this.icmpBucket.take(this.nowMs)) return;
    const reply = new Uint8Array(576);
    const length = writeIcmp4Error(packet, 0, packet.length, reply, 0, 3, 3, this.options.icmpSource4);
    this.pendingReplies.push(reply.subarray(0, length));
  }

  discarded(holdId: number): void {
    this.held.delete(holdId);
  }

  get heldCount(): number {
    return this.held.size;
  }
}

function wordsFromBytes(bytes: Uint8Array, words: Uint32Array): void {
  for (let i = 0; i < 4; i++) {
    const o = i * 4;
    words[i] = ((bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]) >>> 0;
  }
}

function bytesFromWords(words: Uint32Array, bytes: Uint8Array): void {
  for (let i = 0; i < 4; i++) {
    const w = words[i];
    const o = i * 4;
    bytes[o] = w >>> 24;
    bytes[o + 1] = w >>> 16;
    bytes[o + 2] = w >>> 8;
    bytes[o + 3] = w;
  }
}
