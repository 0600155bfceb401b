// Operating errors of the telemetry library, with stable codes (CONVENTIONS.md 10).
export type TelemetryErrorCode = 'XLAT64_ERR_METRICS_LISTEN';

export class TelemetryError extends Error {
  readonly code: TelemetryErrorCode;

  constructor(code: TelemetryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TelemetryError';
    this.code = code;
  }
}
