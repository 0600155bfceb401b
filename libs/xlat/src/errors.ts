// Errors of libs/xlat (CONVENTIONS.md 10). Only configuration can fail with an exception; packet
// content never does (it yields a verdict, verdict.ts).

/** Refused configuration: `field` names the offending setting; the message says what and the fix. */
export class XlatConfigError extends Error {
  readonly code = 'XLAT64_ERR_CONFIG';
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(`${field}: ${message}`, options);
    this.name = 'XlatConfigError';
    this.field = field;
  }
}
