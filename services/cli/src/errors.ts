// Errors of the command-line layer: a usage error names the flag and the fix.
export class CliUsageError extends Error {
  readonly code = 'XLAT64_ERR_USAGE';
}
