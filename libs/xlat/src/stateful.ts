// The NAT64 lower layer (RFC 6146 sec. 3.7, "translating the packet"): the same RFC 7915 rewrite as
// the stateless translator, with addresses and ports already decided by the NAT engine's session
// instead of RFC 6052/7757 mapping. For an ICMP error the quoted packet takes the reversed tuple.
import { validateConfig } from './config.js';
import type { TranslationResult, TranslatorConfigInput } from './contract.js';
import { translate4to6 } from './rfc7915/4to6.js';
import { translate6to4 } from './rfc7915/6to4.js';
import { type AddressPlanner, assertRanges, XlatState, type XlatTuple } from './rfc7915/common.js';
import type { Verdict } from './verdict.js';

export interface StatefulTranslator {
  readonly result: TranslationResult;
  /**
   * IPv6 -> IPv4 with the outgoing IPv4 tuple decided: `tuple.src4:srcPort -> dst4:dstPort` (for an
   * ICMP query `srcPort` is the new identifier). For an ICMPv6 error the outer packet goes
   * src4 -> dst4 and the quoted packet dst4:dstPort -> src4:srcPort. Offsets as in the stateless
   * Translator (contract.ts): the packet is `input[inStart, inStart + inLength)`, the output is
   * written from `output[outStart]`.
   */
  v6ToV4(
    input: Uint8Array,
    output: Uint8Array,
    tuple: XlatTuple,
    inStart?: number,
    inLength?: number,
    outStart?: number,
  ): Verdict;
  /**
   * IPv4 -> IPv6 with the outgoing IPv6 tuple decided: `tuple.src6:srcPort -> dst6:dstPort` (for an
   * ICMP query `dstPort` is the identifier). For an ICMPv4 error the quoted packet goes
   * dst6:dstPort -> src6:srcPort, and the outer source is the erring IPv4 router embedded in the
   * configured RFC 6052 prefix, so traceroute through the NAT64 shows real hops. Offsets as v6ToV4.
   */
  v4ToV6(
    input: Uint8Array,
    output: Uint8Array,
    tuple: XlatTuple,
    inStart?: number,
    inLength?: number,
    outStart?: number,
  ): Verdict;
}

class SessionPlanner implements AddressPlanner {
  tuple: XlatTuple | null = null;

  plan46(state: XlatState, _input: Uint8Array, _inStart: number, icmpError: boolean): number {
    const t = this.tuple!;
    const outer = state.outer;
    if (!icmpError) {
      outer.src6.set(t.src6);
      outer.dst6.set(t.dst6);
      outer.srcPort = t.srcPort;
      outer.dstPort = t.dstPort;
      return 0;
    }
    state.cfg.prefix.embed(state.outer4.src, outer.src6, 0);
    outer.dst6.set(t.dst6);
    const inner = state.inner;
    inner.src6.set(t.dst6);
    inner.srcPort = t.dstPort;
    inner.dst6.set(t.src6);
    inner.dstPort = t.srcPort;
    return 0;
  }

  plan64(state: XlatState, _input: Uint8Array, _inStart: number, icmpError: boolean): number {
    const t = this.tuple!;
    const outer = state.outer;
    outer.src4 = t.src4 | 0;
    outer.dst4 = t.dst4 | 0;
    if (!icmpError) {
      outer.srcPort = t.srcPort;
      outer.dstPort = t.dstPort;
      return 0;
    }
    const inner = state.inner;
    inner.src4 = t.dst4 | 0;
    inner.srcPort = t.dstPort;
    inner.dst4 = t.src4 | 0;
    inner.dstPort = t.srcPort;
    return 0;
  }
}

class SessionTranslator implements StatefulTranslator {
  readonly result: TranslationResult;
  private readonly state: XlatState;
  private readonly planner = new SessionPlanner();

  constructor(state: XlatState) {
    this.state = state;
    this.result = state.result;
  }

  v6ToV4(
    input: Uint8Array,
    output: Uint8Array,
    tuple: XlatTuple,
    inStart = 0,
    inLength = input.length - inStart,
    outStart = 0,
  ): Verdict {
    assertRanges(input, output, inStart, inLength, outStart);
    this.planner.tuple = tuple;
    return translate6to4(this.state, input, inStart, inLength, output, outStart, this.planner);
  }

  v4ToV6(
    input: Uint8Array,
    output: Uint8Array,
    tuple: XlatTuple,
    inStart = 0,
    inLength = input.length - inStart,
    outStart = 0,
  ): Verdict {
    assertRanges(input, output, inStart, inLength, outStart);
    this.planner.tuple = tuple;
    return translate4to6(this.state, input, inStart, inLength, output, outStart, this.planner);
  }
}

/**
 * Validates `config` like createTranslator (the prefix is the NAT64's pool6; EAM and pool6791 are
 * not used) and returns the session-driven lower layer.
 */
export function createStatefulTranslator(config: TranslatorConfigInput): StatefulTranslator {
  return new SessionTranslator(new XlatState(validateConfig(config)));
}
