// The `xlat64` command: one binary, one subcommand per role or operator tool (DESIGN.md).
// Each subcommand module exports a `Command`; this file only dispatches and formats errors.
import { commands } from './commands.js';
import { CliUsageError } from './errors.js';

export async function run(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(
      `xlat64: unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(', ')}\n`,
    );
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof CliUsageError || (error instanceof Error && 'code' in error)) {
      process.stderr.write(`xlat64 ${name}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

function usage(): string {
  const lines = commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`);
  return `usage: xlat64 <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nxlat64 <command> --help shows a command's options.\n`;
}
