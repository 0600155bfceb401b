// Public surface of libs/xlat: pure RFC 7915 translation and RFC 6052 / RFC 7757 address mapping.
export type { TranslationResult, Translator, TranslatorConfigInput } from './contract.js';
export { DropReason, type DropReasonName, dropReasonName, dropReasonNames, Verdict } from './verdict.js';
