// `xlat64 status`: prints the counters and details of running xlat64 roles (plat, clat) by
// asking their status sockets; `--json` prints the raw documents for scripts and tests.
import { parseArgs } from 'node:util';
import {
  defaultStatusDirectory,
  findStatusSockets,
  readStatus,
  type StatusDocument,
} from '../../../libs/dataplane/src/index.js';
import type { Command } from './command.js';
import { CliUsageError } from './errors.js';

const help = `usage: xlat64 status [--socket PATH] [--json]

Asks running xlat64 roles for their counters. Without --socket, every socket in
${defaultStatusDirectory} is asked (inside a network namespace lab: run it in the role's namespace
or pass the socket path the role printed at start).
`;

export const statusCommand: Command = {
  name: 'status',
  summary: 'show counters (traffic, drops by reason) of running xlat64 roles',
  async run(argv) {
    let values: { socket?: string[]; json?: boolean; help?: boolean };
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: {
          socket: { type: 'string', multiple: true },
          json: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      }));
    } catch (error) {
      throw new CliUsageError(`${(error as Error).message}; see 'xlat64 status --help'`);
    }
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    const sockets = values.socket ?? findStatusSockets();
    if (sockets.length === 0) {
      process.stderr.write(`xlat64 status: no running role found (no *.sock in ${defaultStatusDirectory})\n`);
      return 1;
    }
    const documents: StatusDocument[] = [];
    for (const socket of sockets) documents.push(await readStatus(socket));
    if (values.json)
      process.stdout.write(`${JSON.stringify(documents.length === 1 ? documents[0] : documents)}\n`);
    else for (const doc of documents) process.stdout.write(formatStatus(doc));
    return 0;
  },
};

export function formatStatus(doc: StatusDocument): string {
  const lines = [`${doc.role} (pid ${doc.pid}, started ${doc.startedAt})`];
  for (const [key, value] of Object.entries(doc)) {
    if (['role', 'pid', 'startedAt', 'counters'].includes(key)) continue;
    lines.push(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  const counters = Object.entries(doc.counters);
  lines.push(counters.length === 0 ? '  counters: all zero' : '  counters:');
  for (const [name, value] of counters) lines.push(`    ${name.padEnd(28)} ${value}`);
  return `${lines.join('\n')}\n`;
}
