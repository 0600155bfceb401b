// Operating errors of the ingress layer, with stable codes (CONVENTIONS.md 10).
export type IngressErrorCode = 'XLAT64_ERR_SYSTEM_SETUP' | 'XLAT64_ERR_CONFIG' | 'XLAT64_ERR_STATUS';

export class IngressError extends Error {
  readonly code: IngressErrorCode;
  /** For configuration errors: the field that was wrong. */
  readonly field: string | undefined;

  constructor(code: IngressErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IngressError';
    this.code = code;
    this.field = options?.field;
  }
}
