// Operating errors of the CLAT's control plane (PREF64 discovery, probes), with stable codes
// (CONVENTIONS.md 10). Configuration refusals keep using the ingress config error.
export type ClatErrorCode = 'XLAT64_ERR_RAW_SOCKET' | 'XLAT64_ERR_ICMPV6_SEND' | 'XLAT64_ERR_DNS64_DISCOVERY';

export class ClatError extends Error {
  readonly code: ClatErrorCode;

  constructor(code: ClatErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClatError';
    this.code = code;
  }
}
