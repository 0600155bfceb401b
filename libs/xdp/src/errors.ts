// Typed errors of libs/xdp. Each has a stable `code`; the kernel's errno name (EPERM, EBUSY, ...) stays
// on `errnoName` and `cause.code`, and the message names the interface, what failed and the fix.
// The packet path (receive/send/write) never throws for a bad packet; these are for set-up and stop.

export const XdpErrorCode = {
  /** The compiled addon or XDP program (libs/xdp/build/) is missing or failed to load. */
  addonMissing: 'XLAT64_ERR_XDP_ADDON',
  /** Attaching the program or opening an AF_XDP socket failed. */
  open: 'XLAT64_ERR_XDP_OPEN',
  /** Detaching or closing failed. */
  close: 'XLAT64_ERR_XDP_CLOSE',
  /** Invalid options (the message names the field and the fix). */
  invalidOptions: 'XLAT64_ERR_XDP_OPTIONS',
  /** Reading the kernel's neighbour or route table failed. */
  neighbours: 'XLAT64_ERR_XDP_NEIGHBOURS',
} as const;

export type XdpErrorCode = (typeof XdpErrorCode)[keyof typeof XdpErrorCode];

export class XdpError extends Error {
  readonly code: XdpErrorCode;
  /** errno name from the kernel (EPERM, EBUSY, ...) when the cause is a system call. */
  readonly errnoName: string | undefined;

  constructor(code: XdpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XdpError';
    this.code = code;
    const cause = options?.cause as { code?: unknown } | undefined;
    this.errnoName = typeof cause?.code === 'string' && cause.code.startsWith('E') ? cause.code : undefined;
  }
}

/** Wraps an error thrown by the addon (code = errno name, message already has the fix). */
export function wrapNativeError(code: XdpErrorCode, context: string, error: unknown): XdpError {
  const detail = error instanceof Error ? error.message : String(error);
  return new XdpError(code, `${context}: ${detail}`, { cause: error });
}
