// Operating errors of the data-plane library, with stable codes (CONVENTIONS.md 10).
export type DataplaneErrorCode = 'XLAT64_ERR_SYSTEM_SETUP' | 'XLAT64_ERR_CONFIG' | 'XLAT64_ERR_STATUS';

export class DataplaneError extends Error {
  readonly code: DataplaneErrorCode;
  /** For configuration errors: the field that was wrong. */
  readonly field: string | undefined;

  constructor(code: DataplaneErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DataplaneError';
    this.code = code;
    this.field = options?.field;
  }
}
