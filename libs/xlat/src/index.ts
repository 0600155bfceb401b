// Public surface of libs/xlat: pure RFC 7915 translation and RFC 6052 / RFC 7757 address mapping.
// No state, no I/O, no clock (CONVENTIONS.md 2).

// Address and prefix text (control plane; these allocate).
export {
  formatIpv4Address,
  formatIpv6Address,
  type Ipv4Prefix,
  type Ipv6Prefix,
  ipv4Mask,
  isPrefixParseFailure,
  maskIpv6,
  type PrefixParseFailure,
  parseIpv4Address,
  parseIpv4Prefix,
  parseIpv6Address,
  parseIpv6Prefix,
} from './address.js';
/** validateConfig(input): TranslatorConfig — the validated, preprocessed configuration (for `xlat64 check`). */
export { type TranslatorConfig, validateConfig } from './config.js';
// The stateless translator contract (contract.ts) and its verdicts / enumerated drop reasons.
export type { TranslationResult, Translator, TranslatorConfigInput } from './contract.js';
/** Thrown by createTranslator / createStatefulTranslator / parseRfc6052Prefix: code, field, fixable message. */
export { XlatConfigError } from './errors.js';
/** extractFlowKey4/6(packet, key): 0 or a drop reason; fills a preallocated FlowKey (inner key for ICMP errors). */
export { extractFlowKey4, extractFlowKey6, FlowKey, InnerFlowKey } from './flow.js';
// RFC 6052 helpers.
/** Rfc6052Prefix: embed(ipv4, out, offset), matches(buf, offset), extract(buf, offset) -> signed 32-bit IPv4. */
export { isGlobalIpv4, Rfc6052Prefix, rfc6052PrefixLengths, wellKnownPrefix } from './rfc6052.js';
/** parseRfc6052Prefix('64:ff9b::/96'), embedIpv4('64:ff9b::/96' | prefix, '192.0.2.1'), extractIpv4(...). */
export { embedIpv4, extractIpv4, parseRfc6052Prefix } from './rfc6052-text.js';
export { Pool6791 } from './rfc6791.js';
/** RFC 7757 EAM table and RFC 6791 pool, for tools that inspect a configuration. */
export { type EamEntry, EamTable } from './rfc7757.js';
/** XlatTuple: preallocate one; src4/dst4 (32-bit, signed or unsigned), src6/dst6 (16 bytes), srcPort/dstPort. */
export { XlatTuple } from './rfc7915/common.js';
// NAT64 lower layer (RFC 6146 sec. 3.7): the same rewrite, with a tuple decided by the NAT engine.
/** createStatefulTranslator(config): StatefulTranslator — v6ToV4/v4ToV6(input, output, tuple). */
export { createStatefulTranslator, type StatefulTranslator } from './stateful.js';
/** createTranslator(config): Translator — validates config (throws XlatConfigError) and returns the SIIT. */
export { createTranslator } from './translator.js';
export { DropReason, type DropReasonName, dropReasonName, dropReasonNames, Verdict } from './verdict.js';
