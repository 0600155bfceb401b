// The stateless translator (SIIT, RFC 7915) behind `createTranslator`: the address decision step
// (RFC 7757 EAM first, then the RFC 6052 prefix with the sec. 3.1 rule, RFC 6791 for untranslatable
// ICMPv6 error sources) in front of the shared RFC 7915 rewrite in rfc7915/, and RFC 7757 sec. 4
// hairpinning (6->4->6 for destinations the EAM table maps back).
import {
  checksumAdjust,
  copyBytes,
  ipv4HeaderChecksum,
  read16,
  sumWords,
  write16,
} from '../../packet/src/index.js';
import { type TranslatorConfig, validateConfig } from './config.js';
import type { Translator, TranslatorConfigInput } from './contract.js';
import { isGlobalIpv4 } from './rfc6052.js';
import { translate4to6 } from './rfc7915/4to6.js';
import { translate6to4 } from './rfc7915/6to4.js';
import { type AddressPlanner, assertRanges, drop, XlatState } from './rfc7915/common.js';
import { replyIcmp6 } from './rfc7915/reply.js';
import { DropReason, Verdict } from './verdict.js';

const R = DropReason;

/**
 * IPv4 -> IPv6 address (RFC 7757 sec. 3.3 then RFC 6052 sec. 2.2). `enforceGlobal` applies the
 * RFC 6052 sec. 3.1 rule; it is off for ICMP errors (their sources are routers, often with
 * non-global addresses, and refusing them would break traceroute, as Jool also decides).
 */
export function mapAddress4to6(
  cfg: TranslatorConfig,
  ipv4: number,
  out: Uint8Array,
  offset: number,
  enforceGlobal: boolean,
): boolean {
  if (cfg.eam.size > 0 && cfg.eam.map4to6(ipv4, out, offset)) return true;
  if (enforceGlobal && cfg.prefix.isWellKnown && !cfg.allowNonGlobalIpv4 && !isGlobalIpv4(ipv4)) return false;
  cfg.prefix.embed(ipv4, out, offset);
  return true;
}

/** Result of the last successful mapAddress6to4 (signed 32-bit; module scope, single-threaded). */
let mapped = 0;

/** IPv6 -> IPv4 address into `mapped`; false when the address is untranslatable. */
function mapAddress6to4(
  cfg: TranslatorConfig,
  buf: Uint8Array,
  offset: number,
  enforceGlobal: boolean,
): boolean {
  if (cfg.eam.size > 0 && cfg.eam.map6to4(buf, offset)) {
    mapped = cfg.eam.mapped;
    return true;
  }
  if (!cfg.prefix.matches(buf, offset)) return false;
  const ipv4 = cfg.prefix.extract(buf, offset);
  if (enforceGlobal && cfg.prefix.isWellKnown && !cfg.allowNonGlobalIpv4 && !isGlobalIpv4(ipv4)) return false;
  mapped = ipv4;
  return true;
}

/** The stateless address decision. Ports and identifiers stay as the parse left them. */
export const statelessPlanner: AddressPlanner = {
  plan46(state, _input, _inStart, icmpError) {
    const cfg = state.cfg;
    const v4 = state.outer4;
    if (!mapAddress4to6(cfg, v4.src, state.outer.src6, 0, !icmpError)) return R.srcaddr46;
    if (!mapAddress4to6(cfg, v4.dst, state.outer.dst6, 0, !icmpError)) return R.dstaddr46;
    if (icmpError) {
      const inner = state.inner4;
      if (!mapAddress4to6(cfg, inner.src, state.inner.src6, 0, false)) return R.icmpinner46;
      if (!mapAddress4to6(cfg, inner.dst, state.inner.dst6, 0, false)) return R.icmpinner46;
    }
    return 0;
  },
  plan64(state, input, inStart, icmpError) {
    const cfg = state.cfg;
    if (mapAddress6to4(cfg, input, inStart + 8, !icmpError)) {
      state.outer.src4 = mapped;
    } else {
      // RFC 7915 sec. 5.1 / RFC 6791: an ICMPv6 error from an untranslatable source (a router inside
      // the IPv6 network) gets a pool address; without a pool, the translator's own IPv4 address.
      if (!icmpError) return R.srcaddr64;
      state.outer.src4 = cfg.pool6791.size > 0 ? cfg.pool6791.pick(input, inStart + 8) : cfg.ipv4Address;
      state.usedPool6791 = true;
    }
    if (!mapAddress6to4(cfg, input, inStart + 24, !icmpError)) return R.dstaddr64;
    state.outer.dst4 = mapped;
    if (icmpError) {
      const at = state.inner6.start;
      if (!mapAddress6to4(cfg, input, at + 8, false)) return R.icmpinner64;
      state.inner.src4 = mapped;
      if (!mapAddress6to4(cfg, input, at + 24, false)) return R.icmpinner64;
      state.inner.dst4 = mapped;
    }
    return 0;
  },
};

/** Largest IPv4 packet a 6->4 leg can write (a 65535-byte payload plus its new header). */
const HAIRPIN_SCRATCH_BYTES = 65535 + 40 + 2048;

class StatelessTranslator implements Translator {
  readonly result;
  readonly warnings: readonly string[];
  private readonly state: XlatState;
  private readonly hairpinning: boolean;
  /** The IPv4 leg of a hairpinned packet (allocated only when EAM hairpinning can happen). */
  private readonly scratch: Uint8Array;

  constructor(cfg: TranslatorConfig) {
    this.state = new XlatState(cfg);
    this.result = this.state.result;
    this.warnings = cfg.warnings;
    this.hairpinning = cfg.eamHairpinning && cfg.eam.size > 0;
    this.scratch = new Uint8Array(this.hairpinning ? HAIRPIN_SCRATCH_BYTES : 0);
  }

  /**
   * RFC 7757 sec. 4: the destination of the IPv6 packet at `input[inStart]` is the IPv4-converted
   * address (RFC 6052 prefix) of an IPv4 address this translator maps back to IPv6 by an EAM entry.
   * A destination that is itself an EAM IPv6 address is the IPv6 end of a mapping (the CLAT's own
   * address, say) and is translated to IPv4 as usual.
   */
  private isHairpin(input: Uint8Array, inStart: number, inLength: number): boolean {
    if (inLength < 40 || input[inStart] >> 4 !== 6) return false;
    const cfg = this.state.cfg;
    const at = inStart + 24;
    if (cfg.eam.map6to4(input, at) || !cfg.prefix.matches(input, at)) return false;
    return cfg.eam.has4(cfg.prefix.extract(input, at));
  }

  /**
   * Hairpinning (RFC 7757 sec. 4): the packet is translated to IPv4 into a scratch buffer, then
   * straight back to IPv6 into `output`, as if it had left and re-entered; one router hop in all
   * (the IPv4 leg's TTL decrement is undone), so a packet that cannot pass is answered by the IPv6
   * leg, in IPv6. An ICMPv6 error whose source went through the RFC 6791 pool takes its IPv6 source
   * from pool6791v6 when one is configured.
   */
  private hairpin(
    input: Uint8Array,
    inStart: number,
    inLength: number,
    output: Uint8Array,
    outStart: number,
  ): Verdict {
    const state = this.state;
    const cfg = state.cfg;
    const result = state.result;
    const scratch = this.scratch;
    const leg = translate6to4(state, input, inStart, inLength, scratch, 0, statelessPlanner);
    if (leg === Verdict.Drop) return leg;
    if (leg === Verdict.ReplyIcmp) {
      // An ICMPv6 error for the sender, already in the right family.
      if (result.length > output.length - outStart) return drop(result, R.buffer64);
      copyBytes(scratch, 0, output, outStart, result.length);
      return leg;
    }
    // Fragmenting for the IPv4 MTU means nothing for a packet that never reaches IPv4.
    if (result.count !== 1) return drop(result, R.hairpin64);
    const length = result.length;
    // A DF packet too big for the IPv6 side: Packet Too Big to the sender (sec. 5.4), not the
    // ICMPv4 Fragmentation Needed the IPv4 leg would write.
    if ((scratch[6] & 0x40) !== 0 && length + 20 > cfg.mtu6) {
      return replyIcmp6(state, input, output, outStart, 2, 0, cfg.mtu6, R.toobig64);
    }
    scratch[8]++;
    write16(scratch, 10, 0);
    write16(scratch, 10, ipv4HeaderChecksum(scratch, 0, 20));
    const usedPool = state.usedPool6791;
    const verdict = translate4to6(state, scratch, 0, length, output, outStart, statelessPlanner);
    // Cannot happen after the checks above (TTL restored, no options, DF fits, addresses map).
    if (verdict !== Verdict.Translate) return drop(result, R.hairpin64);
    result.hairpinned = true;
    if (usedPool && cfg.pool6791v6.size > 0) {
      const oldSum = sumWords(output, outStart + 8, outStart + 24, 0);
      cfg.pool6791v6.pick(input, inStart + 8, output, outStart + 8);
      const newSum = sumWords(output, outStart + 8, outStart + 24, 0);
      // The ICMPv6 checksum covers the pseudo-header's source address (RFC 4443 sec. 2.3).
      write16(output, outStart + 42, checksumAdjust(read16(output, outStart + 42), oldSum, newSum));
    }
    return verdict;
  }

  v4ToV6(
    input: Uint8Array,
    output: Uint8Array,
    inStart = 0,
    inLength = input.length - inStart,
    outStart = 0,
  ): Verdict {
    assertRanges(input, output, inStart, inLength, outStart);
    this.result.hairpinned = false;
    return translate4to6(this.state, input, inStart, inLength, output, outStart, statelessPlanner);
  }

  v6ToV4(
    input: Uint8Array,
    output: Uint8Array,
    inStart = 0,
    inLength = input.length - inStart,
    outStart = 0,
  ): Verdict {
    assertRanges(input, output, inStart, inLength, outStart);
    this.state.usedPool6791 = false;
    this.result.hairpinned = false;
    if (this.hairpinning && this.isHairpin(input, inStart, inLength))
      return this.hairpin(input, inStart, inLength, output, outStart);
    return translate6to4(this.state, input, inStart, inLength, output, outStart, statelessPlanner);
  }
}

/**
 * Validates `config` (throws XlatConfigError naming the field) and returns a stateless RFC 7915
 * translator whose calls never throw on packet content and allocate nothing.
 */
export function createTranslator(config: TranslatorConfigInput): Translator {
  return new StatelessTranslator(validateConfig(config));
}
