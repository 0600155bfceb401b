// Operating errors of the state layer, with stable codes (CONVENTIONS.md 10). A log method rejects with
// a StateError; the batcher turns them into counters and a shard status, never into a packet-path throw.
export type StateErrorCode =
  /** Opening or configuring a log failed (path, permissions). */
  | 'XLAT64_ERR_EVENT_LOG'
  /** A stale writer: older epoch, or a sequence that is not last + 1. Stop serving the shard. */
  | 'XLAT64_ERR_FENCED'
  /** The log cannot take or serve batches now (outage, disk full); retry with the same identity. */
  | 'XLAT64_ERR_LOG_UNAVAILABLE'
  /** Stored data failed its checksum or framing and cannot be read back. */
  | 'XLAT64_ERR_LOG_CORRUPT'
  /** A read started before the compaction point: restore the shard's snapshot first. */
  | 'XLAT64_ERR_LOG_COMPACTED'
  /** The log was stopped. */
  | 'XLAT64_ERR_LOG_STOPPED'
  /** A snapshot was taken with another configuration (pool, block size, table bounds): refused. */
  | 'XLAT64_ERR_SNAPSHOT_MISMATCH'
  /** Two nodes tried to take the same shard at once (or from an outdated view) and this one lost the compare-and-set. */
  | 'XLAT64_ERR_OWNERSHIP_CONFLICT'
  /** The pool lease store (Redis) cannot be reached; new blocks come only from the node's reserve. */
  | 'XLAT64_ERR_POOL_UNAVAILABLE'
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

export function isStateError(error: unknown, code?: StateErrorCode): error is StateError {
  return error instanceof StateError && (code === undefined || error.code === code);
}
