// The list of subcommands, in the order `xlat64 --help` shows them.
import { clatCommand } from './clat.js';
import type { Command } from './command.js';
import { platCommand } from './plat.js';
import { statusCommand } from './status.js';
import { topCommand } from './top.js';
import { translateCommand } from './translate.js';
import { versionCommand } from './version.js';

export const commands: readonly Command[] = [
  platCommand,
  clatCommand,
  translateCommand,
  statusCommand,
  topCommand,
  versionCommand,
];
