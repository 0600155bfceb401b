// The stateless translator (SIIT, RFC 7915) behind `createTranslator`: the address decision step
// (RFC 7757 EAM first, then the RFC 6052 prefix with the sec. 3.1 rule, RFC 6791 for untranslatable
// ICMPv6 error sources) in front of the shared RFC 7915 rewrite in rfc7915/.
import { type TranslatorConfig, validateConfig } from './config.js';
import type { Translator, TranslatorConfigInput } from './contract.js';
import { isGlobalIpv4 } from './rfc6052.js';
import { translate4to6 } from './rfc7915/4to6.js';
import { translate6to4 } from './rfc7915/6to4.js';
import { type AddressPlanner, assertRanges, XlatState } from './rfc7915/common.js';
import { DropReason, type Verdict } from './verdict.js';

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

class StatelessTranslator implements Translator {
  readonly result;
  readonly warnings: readonly string[];
  private readonly state: XlatState;

  constructor(cfg: TranslatorConfig) {
    this.state = new XlatState(cfg);
    this.result = this.state.result;
    this.warnings = cfg.warnings;
  }

  v4ToV6(
    input: Uint8Array,
    output: Uint8Array,
    inStart = 0,
    inLength = input.length - inStart,
    outStart = 0,
  ): Verdict {
    assertRanges(input, output, inStart, inLength, outStart);
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
