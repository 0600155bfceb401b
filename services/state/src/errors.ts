// Operating errors of the state layer, with stable codes (CONVENTIONS.md 10).
export type StateErrorCode =
  | 'XLAT64_ERR_EVENT_LOG'
  | 'XLAT64_ERR_EVENT_BUFFER_FULL'
  /** A write by a node that no longer owns the shard (stale epoch or stale revision): it must stop serving it. */
  | 'XLAT64_ERR_FENCED'
  /** Two nodes tried to take the same shard at once and this one lost the compare-and-set. */
  | 'XLAT64_ERR_OWNERSHIP_CONFLICT'
  /** The cluster log (NATS) cannot be reached; batches wait in the bounded buffer. */
  | 'XLAT64_ERR_LOG_UNAVAILABLE'
  /** The pool lease store (Redis) cannot be reached; new blocks come only from the node's reserve. */
  | 'XLAT64_ERR_POOL_UNAVAILABLE'
  /** The pool has no free block for the subscriber, or the subscriber is at its block limit. */
  | 'XLAT64_ERR_POOL_EXHAUSTED'
  /** A state URL, credential or option is wrong; the message names it and the fix. */
  | 'XLAT64_ERR_STATE_CONFIG';

export class StateError extends Error {
  readonly code: StateErrorCode;

  constructor(code: StateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StateError';
    this.code = code;
  }
}
