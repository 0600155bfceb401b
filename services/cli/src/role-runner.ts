// Shared by the long-running roles (`xlat64 clat`, `xlat64 plat`): merge a config file with
// flags, start the role, stay in the foreground until SIGINT/SIGTERM, then stop cleanly so that
// everything the role added to the system is removed.
import { readConfigFile } from './config-file.js';

export function loadRoleConfig(
  configPath: string | undefined,
  knownKeys: readonly string[],
  fromFlags: Record<string, unknown>,
): Record<string, unknown> {
  const file = configPath === undefined ? {} : readConfigFile(configPath, knownKeys);
  const merged: Record<string, unknown> = { ...file };
  for (const [key, value] of Object.entries(fromFlags)) if (value !== undefined) merged[key] = value;
  return merged;
}

export function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

/** Resolves with the signal's name on the first SIGINT or SIGTERM. */
export function waitForStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
