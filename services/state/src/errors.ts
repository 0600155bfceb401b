// Operating errors of the state layer, with stable codes (CONVENTIONS.md 10).
export type StateErrorCode = 'XLAT64_ERR_EVENT_LOG' | 'XLAT64_ERR_EVENT_BUFFER_FULL';

export class StateError extends Error {
  readonly code: StateErrorCode;

  constructor(code: StateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StateError';
    this.code = code;
  }
}
