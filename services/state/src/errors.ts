// Operating errors of the state layer, with stable codes (CONVENTIONS.md 10).
export type StateErrorCode =
  | 'XLAT64_ERR_EVENT_LOG'
  | 'XLAT64_ERR_EVENT_BUFFER_FULL'
  /** Compliance outbox or lookup configuration refused (the message names the field and the fix). */
  | 'XLAT64_ERR_COMPLIANCE_CONFIG'
  /** The outbox's checkpoint file cannot be read or written. */
  | 'XLAT64_ERR_COMPLIANCE_CHECKPOINT';

export class StateError extends Error {
  readonly code: StateErrorCode;

  constructor(code: StateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StateError';
    this.code = code;
  }
}
