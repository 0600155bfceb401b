// The xlat64 binary dispatches subcommands and refuses unknown ones with the list of valid ones.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commandLoaders, commands } from '../../services/cli/src/commands.js';

const bin = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));

function xlat64(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

describe('xlat64 command', () => {
  it('prints its version from package.json', () => {
    const r = xlat64('version');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^xlat64 \d+\.\d+\.\d+ \(node 20\./);
  });

  it('refuses an unknown command, naming it and listing the valid ones', () => {
    const r = xlat64('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
    expect(r.stderr).toContain('version');
  });

  it('lists each command under the name and summary its own module gives (modules load lazily)', async () => {
    expect(commands.map((c) => c.name)).toEqual(Object.keys(commandLoaders));
    for (const listed of commands) {
      const own = await commandLoaders[listed.name]();
      expect({ name: own.name, summary: own.summary }).toEqual({
        name: listed.name,
        summary: listed.summary,
      });
    }
  });
});
