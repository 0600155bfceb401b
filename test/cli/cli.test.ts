// The xlat64 binary dispatches subcommands and refuses unknown ones with the list of valid ones.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

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
});
