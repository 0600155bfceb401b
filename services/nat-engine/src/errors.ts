// Errors of the NAT engine (CONVENTIONS.md 10): operating errors are typed, with a stable `code`,
// the offending `field` and a message that names the field, what is wrong and the fix.

/** Invalid engine configuration, refused at start. `field` is a path such as `pool[1]` or `timeouts.udpMs`. */
export class NatConfigError extends Error {
  readonly code = 'XLAT64_ERR_CONFIG';
  readonly field: string;
  constructor(field: string, problem: string, fix: string) {
    super(`${field}: ${problem}; ${fix}`);
    this.name = 'NatConfigError';
    this.field = field;
  }
}

/** A static BIB entry (port forward) that cannot be added to the running engine. */
export class NatStaticMappingError extends Error {
  readonly code = 'XLAT64_ERR_STATIC_BIB';
  readonly field: string;
  constructor(field: string, problem: string, fix: string) {
    super(`${field}: ${problem}; ${fix}`);
    this.name = 'NatStaticMappingError';
    this.field = field;
  }
}

/** Assertion for programmer errors; stays on in production (CONVENTIONS.md 11). */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
