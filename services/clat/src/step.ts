// The CLAT's treatment of one packet from its TUN (RFC 6877 sec. 6.3): IPv4 from the host's
// applications is translated statelessly to IPv6 (RFC 7915, 192.0.0.1 <-> the dedicated IPv6
// address by RFC 7757 EAM, destinations by RFC 6052); IPv6 addressed to the dedicated address is
// translated back; router solicitations and anything else the kernel routes into the TUN are
// dropped and counted. The PREF64 can be swapped while running (setPrefixes): IPv4 leaves through
// the new prefix at once, and replies from the previous prefix are still translated while it drains.
import type { CounterLayout, PacketStep } from '../../../libs/dataplane/src/index.js';
import { roleCounterLayout, translatorDropBase } from '../../../libs/dataplane/src/index.js';
import {
  copyBytes,
  ICMP_ERRORS_BURST_DEFAULT,
  ICMP_ERRORS_PER_SECOND_DEFAULT,
  IcmpErrorBucket,
} from '../../../libs/packet/src/index.js';
import {
  createTranslator,
  formatIpv6Address,
  parseIpv6Address,
  parseRfc6052Prefix,
  type Rfc6052Prefix,
  type TranslationResult,
  type Translator,
  type TranslatorConfigInput,
  Verdict,
} from '../../../libs/xlat/src/index.js';

export const clatDropNames = ['version', 'routersolicitation', 'notforus64'] as const;
/**
 * Counters of the CLAT's own besides drops: prefix swaps seen by this worker, replies drained, ICMP
 * errors the rate limit suppressed.
 */
export const clatCounterNames = ['prefix.swaps', 'prefix.drained64', 'icmp.errors.suppressed'] as const;

/** The counter layout of the CLAT's queues (the same in every worker and in the main thread). */
export function clatCounterLayout(): CounterLayout {
  return roleCounterLayout(clatDropNames, clatCounterNames);
}

export interface ClatStepOptions {
  translator: TranslatorConfigInput;
  ipv6Address: string;
  /** This queue's counter block (for prefix.drained64); optional for tools that only translate. */
  counters?: Float64Array;
  /** RFC 4443 sec. 2.4 (f) / RFC 1812 sec. 4.3.2.8 token bucket for the ICMP errors the CLAT sends. */
  icmpErrorsPerSecond?: number;
  icmpErrorsBurst?: number;
}

export class ClatStep implements PacketStep {
  private readonly options: TranslatorConfigInput;
  private translator: Translator;
  /** Same configuration without MTU limits, for GSO super-packets (the kernel segments them later). */
  private superTranslator: Translator;
  private activePrefix: Rfc6052Prefix;
  /** The prefix before the last swap and its translators, while replies from it drain. */
  private previousPrefix: Rfc6052Prefix | null = null;
  private previousTranslator: Translator | null = null;
  private previousSuperTranslator: Translator | null = null;
  private readonly counters: Float64Array | undefined;
  private readonly drainedCounter: number;
  private readonly swapsCounter: number;
  private readonly ownAddress: Uint8Array;
  private current: Translator;
  private lastDrop = 0;
  private readonly dropVersion: number;
  private readonly dropRouterSolicitation: number;
  private readonly dropNotForUs: number;
  private readonly icmpBucket: IcmpErrorBucket;
  /** Where the translator writes while the bucket is empty (see translate). */
  private readonly scratch = new Uint8Array(65535 + 2048 + 64);
  private nowMs = 0;

  constructor(options: ClatStepOptions, layout: CounterLayout) {
    this.options = options.translator;
    [this.translator, this.superTranslator] = this.translatorsFor(
      options.translator.prefix ?? '64:ff9b::/96',
    );
    this.activePrefix = parseRfc6052Prefix(options.translator.prefix ?? '64:ff9b::/96');
    this.current = this.translator;
    this.counters = options.counters;
    this.drainedCounter = layout.names.includes('prefix.drained64') ? layout.index('prefix.drained64') : -1;
    this.swapsCounter = layout.names.includes('prefix.swaps') ? layout.index('prefix.swaps') : -1;
    const parsed = parseIpv6Address(options.ipv6Address);
    if (parsed === null) throw new Error(`ipv6Address '${options.ipv6Address}' is not an IPv6 address`);
    this.ownAddress = parsed;
    this.dropVersion = layout.index('drop.version');
    this.dropRouterSolicitation = layout.index('drop.routersolicitation');
    this.dropNotForUs = layout.index('drop.notforus64');
    this.icmpBucket = new IcmpErrorBucket(
      options.icmpErrorsPerSecond ?? ICMP_ERRORS_PER_SECOND_DEFAULT,
      options.icmpErrorsBurst ?? ICMP_ERRORS_BURST_DEFAULT,
      0,
    );
  }

  /** The time of the packets of the next batch (the ICMP error bucket refills with it). */
  setNow(nowMs: number): void {
    this.nowMs = nowMs;
  }

  /** ICMP errors the rate limit suppressed (the packets are counted by their reasons). */
  get icmpErrorsSuppressed(): number {
    return this.icmpBucket.suppressed;
  }

  /**
   * The translator's call under the ICMP error bucket (as the PLAT's): with a token it writes into
   * the output and an error takes the token; without one it writes into a scratch buffer, so a
   * suppressed error never reaches the output.
   */
  private translate(
    translator: Translator,
    v4ToV6: boolean,
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
  ): Verdict {
    const bucket = this.icmpBucket;
    if (bucket.hasToken(this.nowMs)) {
      const verdict = v4ToV6
        ? translator.v4ToV6(input, output, start, length, outStart)
        : translator.v6ToV4(input, output, start, length, outStart);
      if (verdict === Verdict.ReplyIcmp) bucket.take(this.nowMs);
      return verdict;
    }
    const scratch = this.scratch;
    const verdict = v4ToV6
      ? translator.v4ToV6(input, scratch, start, length, 0)
      : translator.v6ToV4(input, scratch, start, length, 0);
    if (verdict === Verdict.ReplyIcmp) {
      bucket.take(this.nowMs);
      return Verdict.Drop;
    }
    if (verdict === Verdict.Translate) copyBytes(scratch, 0, output, outStart, translator.result.length);
    return verdict;
  }

  /**
   * Control plane (allocates): translate with `active` from now on; translate replies whose source
   * is in `previous` (and not in `active`) with the previous prefix until the next call says null.
   */
  setPrefixes(active: string, previous: string | null): void {
    if (active !== this.activePrefixText()) {
      [this.translator, this.superTranslator] = this.translatorsFor(active);
      this.activePrefix = parseRfc6052Prefix(active);
    }
    if (previous === null || previous === active) {
      this.previousPrefix = null;
      this.previousTranslator = null;
      this.previousSuperTranslator = null;
    } else if (this.previousPrefix === null || previous !== prefixText(this.previousPrefix)) {
      [this.previousTranslator, this.previousSuperTranslator] = this.translatorsFor(previous);
      this.previousPrefix = parseRfc6052Prefix(previous);
    }
    this.current = this.translator;
    if (this.counters !== undefined && this.swapsCounter >= 0) this.counters[this.swapsCounter]++;
  }

  activePrefixText(): string {
    return prefixText(this.activePrefix);
  }

  private translatorsFor(prefix: string): [Translator, Translator] {
    const config = { ...this.options, prefix };
    return [
      createTranslator(config),
      createTranslator({ ...config, mtu4: 65535, mtu6: 65535, lowestIpv6Mtu: 65535 }),
    ];
  }

  get result(): TranslationResult {
    return this.current.result;
  }

  process(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    let translator = superPacket ? this.superTranslator : this.translator;
    this.current = translator;
    const version = length > 0 ? input[start] >> 4 : 0;
    if (version === 4)
      return this.translated(this.translate(translator, true, input, start, length, output, outStart));
    if (version !== 6 || length < 40) return this.dropped(this.dropVersion);
    // ICMPv6 router solicitation (type 133) straight after the fixed header: the kernel sends
    // these into every new interface; a translator must not answer or translate them.
    if (input[start + 6] === 58 && length > 40 && input[start + 40] === 133)
      return this.dropped(this.dropRouterSolicitation);
    const own = this.ownAddress;
    for (let i = 0; i < 16; i++) {
      if (input[start + 24 + i] !== own[i]) return this.dropped(this.dropNotForUs);
    }
    // A reply from the previous PREF64 (source inside it, not inside the active one) is a flow that
    // started before the swap: translate it with the prefix it was sent to, so it ends naturally.
    const previous = this.previousPrefix;
    if (
      previous !== null &&
      !this.activePrefix.matches(input, start + 8) &&
      previous.matches(input, start + 8)
    ) {
      translator = (superPacket ? this.previousSuperTranslator : this.previousTranslator) as Translator;
      this.current = translator;
      if (this.counters !== undefined && this.drainedCounter >= 0) this.counters[this.drainedCounter]++;
    }
    return this.translated(this.translate(translator, false, input, start, length, output, outStart));
  }

  private translated(verdict: Verdict): Verdict {
    if (verdict !== Verdict.Translate) this.lastDrop = translatorDropBase + this.current.result.reason;
    return verdict;
  }

  private dropped(counter: number): Verdict {
    this.lastDrop = counter;
    return Verdict.Drop;
  }

  reasonCounter(): number {
    return this.lastDrop;
  }
}

function prefixText(prefix: Rfc6052Prefix): string {
  return `${formatIpv6Address(prefix.prefix)}/${prefix.length}`;
}
