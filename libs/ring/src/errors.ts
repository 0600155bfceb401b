// Typed errors of libs/ring. Each has a stable `code`; the message names the input and the fix. The
// packet path never throws: a full ring or an oversize packet is a counted drop, not an error.

export const RingErrorCode = {
  /** Invalid options passed by the caller (capacity, batch size). */
  invalidOptions: 'XLAT64_ERR_RING_OPTIONS',
} as const;

export type RingErrorCode = (typeof RingErrorCode)[keyof typeof RingErrorCode];

export class RingError extends Error {
  readonly code: RingErrorCode;

  constructor(code: RingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RingError';
    this.code = code;
  }
}

/** Programmer errors: assertions that stay on in production (control plane only). */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
