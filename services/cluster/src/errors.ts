// Operating errors of the cluster plane, with stable codes (CONVENTIONS.md 10). Control-plane calls
// reject with a ClusterError; the fabric's packet path never throws: it drops and counts by reason.
export type ClusterErrorCode =
  /** A cluster option is wrong (node id, detection time, fabric key, address); the message names it and the fix. */
  | 'XLAT64_ERR_CLUSTER_CONFIG'
  /** NATS cannot be reached or refused a membership or table operation; retry. */
  | 'XLAT64_ERR_CLUSTER_UNAVAILABLE'
  /** The ownership table in NATS KV holds a value this build cannot read (newer format, corrupt). */
  | 'XLAT64_ERR_TABLE_UNREADABLE'
  /** The fabric socket could not be bound or was closed. */
  | 'XLAT64_ERR_FABRIC_SOCKET';

export class ClusterError extends Error {
  readonly code: ClusterErrorCode;
  /** The configuration field at fault, for XLAT64_ERR_CLUSTER_CONFIG. */
  readonly field: string | undefined;

  constructor(code: ClusterErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClusterError';
    this.code = code;
    this.field = options?.field;
  }
}

export function isClusterError(error: unknown, code?: ClusterErrorCode): error is ClusterError {
  return error instanceof ClusterError && (code === undefined || error.code === code);
}

/** A refused option: names the field, what was wrong and the fix. */
export function configError(field: string, problem: string, fix: string): ClusterError {
  return new ClusterError('XLAT64_ERR_CLUSTER_CONFIG', `cluster ${field}: ${problem} — ${fix}`, { field });
}
