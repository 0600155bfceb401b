// The CLAT's treatment of one packet from its TUN (RFC 6877 sec. 6.3): IPv4 from the host's
// applications is translated statelessly to IPv6 (RFC 7915, 192.0.0.1 <-> the dedicated IPv6
// address by RFC 7757 EAM, destinations by RFC 6052); IPv6 addressed to the dedicated address is
// translated back; router solicitations and anything else the kernel routes into the TUN are
// dropped and counted.

import type { CounterLayout, PacketStep } from '../../../libs/dataplane/src/index.js';
import { translatorDropBase } from '../../../libs/dataplane/src/index.js';
import {
  createTranslator,
  parseIpv6Address,
  type TranslationResult,
  type Translator,
  type TranslatorConfigInput,
  Verdict,
} from '../../../libs/xlat/src/index.js';

export const clatDropNames = ['version', 'routersolicitation', 'notforus64'] as const;

export interface ClatStepOptions {
  translator: TranslatorConfigInput;
  ipv6Address: string;
}

export class ClatStep implements PacketStep {
  private readonly translator: Translator;
  /** Same configuration without MTU limits, for GSO super-packets (the kernel segments them later). */
  private readonly superTranslator: Translator;
  private readonly ownAddress: Uint8Array;
  private current: Translator;
  private lastDrop = 0;
  private readonly dropVersion: number;
  private readonly dropRouterSolicitation: number;
  private readonly dropNotForUs: number;

  constructor(options: ClatStepOptions, layout: CounterLayout) {
    this.translator = createTranslator(options.translator);
    this.superTranslator = createTranslator({
      ...options.translator,
      mtu4: 65535,
      mtu6: 65535,
      lowestIpv6Mtu: 65535,
    });
    this.current = this.translator;
    const parsed = parseIpv6Address(options.ipv6Address);
    if (parsed === null) throw new Error(`ipv6Address '${options.ipv6Address}' is not an IPv6 address`);
    this.ownAddress = parsed;
    this.dropVersion = layout.index('drop.version');
    this.dropRouterSolicitation = layout.index('drop.routersolicitation');
    this.dropNotForUs = layout.index('drop.notforus64');
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
    const translator = superPacket ? this.superTranslator : this.translator;
    this.current = translator;
    const version = length > 0 ? input[start] >> 4 : 0;
    if (version === 4) return this.translated(translator.v4ToV6(input, output, start, length, outStart));
    if (version !== 6 || length < 40) return this.dropped(this.dropVersion);
    // ICMPv6 router solicitation (type 133) straight after the fixed header: the kernel sends
    // these into every new interface; a translator must not answer or translate them.
    if (input[start + 6] === 58 && length > 40 && input[start + 40] === 133)
      return this.dropped(this.dropRouterSolicitation);
    const own = this.ownAddress;
    for (let i = 0; i < 16; i++) {
      if (input[start + 24 + i] !== own[i]) return this.dropped(this.dropNotForUs);
    }
    return this.translated(translator.v6ToV4(input, output, start, length, outStart));
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
