// The scapy (PyPI) interpreter for tests that need RFC 8781 bytes made independently of xlat64:
// infra/scripts/ensure-scapy.sh builds its virtualenv once in a cache outside the repository.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENSURE = fileURLToPath(new URL('../../infra/scripts/ensure-scapy.sh', import.meta.url));
let python: string | undefined;

/** Path of a python that can `from scapy.layers.inet6 import ICMPv6NDOptPREF64`. */
export function scapyPython(): string {
  python ??= execFileSync('bash', [ENSURE], { encoding: 'utf8', timeout: 300_000 }).trim();
  return python;
}

/** Runs a python script with scapy's interpreter and returns its stdout (warnings go to stderr). */
export function runScapy(script: string, args: readonly string[], timeoutMs = 60_000): string {
  return execFileSync(scapyPython(), [script, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}
