// Reads an operator's configuration file (YAML or JSON; JSON is YAML) into a plain object and
// refuses keys the command does not know, naming the key, the file and the valid keys.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { CliUsageError } from './errors.js';

export function readConfigFile(
  path: string,
  knownKeys: readonly string[],
  flag = '--config',
): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliUsageError(
      `${flag} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new CliUsageError(`${flag} ${path}: not valid YAML/JSON: ${doc.errors[0].message}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new CliUsageError(`${flag} ${path}: the top level must be a mapping of option names to values`);
  }
  const config = value as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (!knownKeys.includes(key)) {
      throw new CliUsageError(`${flag} ${path}: unknown key '${key}'; valid keys: ${knownKeys.join(', ')}`);
    }
  }
  return config;
}
