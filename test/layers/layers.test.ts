// The layering check (`npm run lint:layers`, .dependency-cruiser.cjs) fails on each broken rule: it
// runs the repository's own rules over small trees written here, one clean and one per violation
// (a lib importing a service, a service reaching into another service's internals, a cycle, an
// import that does not resolve), and expects success only for the clean tree.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const config = join(root, '.dependency-cruiser.cjs');
const trees: string[] = [];

/** A tree every rule accepts: a lib, and two services that meet through an index.ts. */
const clean: Record<string, string> = {
  'libs/wire/src/index.ts': "export { read } from './read.js';\n",
  'libs/wire/src/read.ts': 'export const read = (n: number): number => n;\n',
  'services/engine/src/index.ts': "export { step } from './step.js';\n",
  'services/engine/src/step.ts':
    "import { read } from '../../../libs/wire/src/index.js';\nexport const step = read;\n",
  'services/edge/src/index.ts':
    "import { step } from '../../engine/src/index.js';\nexport const run = step;\n",
  'services/edge/test/edge.test.ts': "import { run } from '../src/index.js';\nexport const t = run;\n",
};

function check(files: Record<string, string>): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'x64-layers-'));
  trees.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const result = spawnSync(
    process.execPath,
    [depcruise, '--config', config, '--output-type', 'err', 'libs', 'services'],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
  );
  // The report wraps long chains over lines and may highlight with escape codes; compare it flat.
  const flat = stripVTControlCharacters(`${result.stdout}${result.stderr}`).replace(/\s+/g, ' ');
  return { status: result.status, output: flat };
}

afterAll(() => {
  for (const dir of trees) rmSync(dir, { recursive: true, force: true });
});

describe('layering check', () => {
  it('accepts libs below services and services meeting through index.ts', () => {
    const { status, output } = check(clean);
    expect(output).toContain('no dependency violations found');
    expect(status).toBe(0);
  });

  it('refuses a lib importing a service', () => {
    const { status, output } = check({
      ...clean,
      'libs/wire/src/read.ts':
        "import { run } from '../../../services/edge/src/index.js';\nexport const read = run;\n",
    });
    expect(status).not.toBe(0);
    expect(output).toContain('lib-imports-service: libs/wire/src/read.ts → services/edge/src/index.ts');
  });

  it("refuses a service importing another service's file other than its index.ts", () => {
    const { status, output } = check({
      ...clean,
      'services/edge/src/index.ts':
        "import { step } from '../../engine/src/step.js';\nexport const run = step;\n",
    });
    expect(status).not.toBe(0);
    expect(output).toContain(
      'service-imports-service-internals: services/edge/src/index.ts → services/engine/src/step.ts',
    );
  });

  it("refuses a service's test reaching into another service's internals", () => {
    const { status, output } = check({
      ...clean,
      'services/edge/test/edge.test.ts':
        "import { step } from '../../engine/src/step.js';\nexport const t = step;\n",
    });
    expect(status).not.toBe(0);
    expect(output).toContain('service-imports-service-internals: services/edge/test/edge.test.ts');
  });

  it('refuses an import cycle', () => {
    const { status, output } = check({
      ...clean,
      'libs/wire/src/read.ts': "import { write } from './write.js';\nexport const read = write;\n",
      'libs/wire/src/write.ts':
        "import { read } from './read.js';\nexport const write = (n: number) => read(n);\n",
    });
    expect(status).not.toBe(0);
    expect(output).toContain(
      'no-cycle: libs/wire/src/read.ts → libs/wire/src/write.ts → libs/wire/src/read.ts',
    );
  });

  it('refuses an import it cannot resolve, so no dependency escapes the rules', () => {
    const { status, output } = check({
      ...clean,
      'services/edge/src/index.ts':
        "import { step } from '../../engine/src/gone.js';\nexport const run = step;\n",
    });
    expect(status).not.toBe(0);
    expect(output).toContain('unresolvable-import: services/edge/src/index.ts → ../../engine/src/gone.js');
  });
});
