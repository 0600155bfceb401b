// Errors of the command-line layer: a usage error names the flag and the fix.
export class CliUsageError extends Error {
  readonly code = 'XLAT64_ERR_USAGE';
}

/** A drill target file that cannot be used: the message names the file, the field and the fix. */
export class DrillTargetError extends Error {
  readonly code = 'XLAT64_ERR_DRILL_TARGET';
}

/** A drill step that could not be carried out (a fault not injected, a node not restarted). */
export class DrillError extends Error {
  readonly code = 'XLAT64_ERR_DRILL';
}
