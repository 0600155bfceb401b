// Public surface of libs/xlat: pure RFC 7915 translation (stateless SIIT and the NAT64 lower
// layer), RFC 6052 / RFC 7757 / RFC 6791 address mapping and address text helpers. No state, no
// I/O, no clock (CONVENTIONS.md 2). Each export below says what it is for.

/** Address and prefix text for the CLI and configuration (control plane; these allocate). */
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
/** validateConfig(input): TranslatorConfig — validated, preprocessed configuration (e.g. for `xlat64 check`). */
export { type TranslatorConfig, validateConfig } from './config.js';
/** The stateless translator contract: configuration input, reused result, v4ToV6 / v6ToV4. */
export type { TranslationResult, Translator, TranslatorConfigInput } from './contract.js';
/** Thrown by createTranslator / createStatefulTranslator / parseRfc6052Prefix: code, field, message with the fix. */
export { XlatConfigError } from './errors.js';
/**
 * Flow keys for the NAT64 engine (RFC 6146 sec. 3.4): extractFlowKey4/6(packet, key, start?, length?)
 * fill a preallocated FlowKey (inner key for ICMP errors) from `packet[start, start + length)` and
 * return 0 or a drop reason; never allocate.
 */
export { extractFlowKey4, extractFlowKey6, FlowKey, InnerFlowKey } from './flow.js';
/** Rfc6052Prefix: embed(ipv4, out, offset), matches(buf, offset), extract(buf, offset) -> signed 32-bit IPv4; isGlobalIpv4 is the sec. 3.1 test. */
export { isGlobalIpv4, Rfc6052Prefix, rfc6052PrefixLengths, wellKnownPrefix } from './rfc6052.js';
/** Text forms: parseRfc6052Prefix('64:ff9b::/96'), embedIpv4(prefix, '192.0.2.1'), extractIpv4(prefix, ipv6). */
export { embedIpv4, extractIpv4, parseRfc6052Prefix } from './rfc6052-text.js';
/** RFC 6791 pool (ICMPv6 error sources), for tools that inspect a configuration. */
export { Pool6791 } from './rfc6791.js';
/** RFC 7757 EAM table (longest-prefix match both ways), for tools that inspect a configuration. */
export { type EamEntry, EamTable } from './rfc7757.js';
/** XlatTuple: the decided addresses/ports for the NAT64 lower layer; preallocate one and reuse it. */
export { XlatTuple } from './rfc7915/common.js';
/** createStatefulTranslator(config): the NAT64 lower layer (RFC 6146 sec. 3.7), v6ToV4/v4ToV6(input, output, tuple, inStart?, inLength?, outStart?). */
export { createStatefulTranslator, type StatefulTranslator } from './stateful.js';
/** createTranslator(config): Translator — validates config (throws XlatConfigError) and returns the stateless SIIT. */
export { createTranslator } from './translator.js';
/** Verdicts and the enumerated, per-direction drop reasons (CONVENTIONS.md 7). */
export { DropReason, type DropReasonName, dropReasonName, dropReasonNames, Verdict } from './verdict.js';
