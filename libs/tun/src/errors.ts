// Typed errors of libs/tun. Each has a stable `code`; the kernel's errno name (EPERM, EBUSY, ...)
// stays on `cause.code`, and the message names the device, what failed and the fix.
// Hot-path functions never throw for a bad packet; these are for opening, configuring and closing.

export const TunErrorCode = {
  /** The compiled addon (libs/tun/build/Release/xlat64_tun.node) is missing or failed to load. */
  addonMissing: 'XLAT64_ERR_TUN_ADDON',
  /** Opening /dev/net/tun or attaching a queue (TUNSETIFF) failed. */
  open: 'XLAT64_ERR_TUN_OPEN',
  /** TUNSETVNETHDRSZ or TUNSETOFFLOAD failed where no fallback exists. */
  configure: 'XLAT64_ERR_TUN_CONFIGURE',
  /** A read or write on a queue failed for a reason other than an empty queue. */
  io: 'XLAT64_ERR_TUN_IO',
  /** A queue worker failed to start (handler module import or createQueueHandler threw). */
  workerStart: 'XLAT64_ERR_TUN_WORKER_START',
  /** A queue worker died while running. */
  workerFailed: 'XLAT64_ERR_TUN_WORKER_FAILED',
  /** Invalid options passed by the caller. */
  invalidOptions: 'XLAT64_ERR_TUN_OPTIONS',
} as const;

export type TunErrorCode = (typeof TunErrorCode)[keyof typeof TunErrorCode];

export class TunError extends Error {
  readonly code: TunErrorCode;
  /** errno name from the kernel (EPERM, EBUSY, ...) when the cause is a system call. */
  readonly errnoName: string | undefined;

  constructor(code: TunErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TunError';
    this.code = code;
    const cause = options?.cause as { code?: unknown } | undefined;
    this.errnoName = typeof cause?.code === 'string' && cause.code.startsWith('E') ? cause.code : undefined;
  }
}

/** Wraps an error thrown by the addon (code = errno name, message already has the fix). */
export function wrapNativeError(code: TunErrorCode, context: string, error: unknown): TunError {
  const detail = error instanceof Error ? error.message : String(error);
  return new TunError(code, `${context}: ${detail}`, { cause: error });
}
