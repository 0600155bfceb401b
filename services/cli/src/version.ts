// `xlat64 version`: prints the package version, so operators can say what they run.
import { readFileSync } from 'node:fs';
import type { Command } from './command.js';

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the xlat64 version',
  async run() {
    const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    process.stdout.write(`xlat64 ${pkg.version} (node ${process.versions.node})\n`);
    return 0;
  },
};
