// `npm run bench`: runs every `*.bench.ts` under libs/*/bench, services/*/bench and test/bench in
// one process, one after another, so each benchmark's baseline runs in the same process as it.
// A bench module's default export is an async function that prints its own table.
// `npm run bench -- translate` runs only the files whose path contains "translate".
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function benchFiles(): string[] {
  const dirs: string[] = [join(root, 'test/bench')];
  for (const group of ['libs', 'services']) {
    for (const pkg of readdirSync(join(root, group))) dirs.push(join(root, group, pkg, 'bench'));
  }
  const files: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      if (!statSync(dir).isDirectory()) continue;
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) if (name.endsWith('.bench.ts')) files.push(join(dir, name));
  }
  return files.sort();
}

const filters = process.argv.slice(2);
// Matched against the path inside the repository: a checkout whose own path holds a filter word would
// otherwise select every file.
const selected = benchFiles().filter(
  (f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)),
);
if (selected.length === 0) {
  process.stderr.write(`no benchmark matches ${filters.join(' ')}\n`);
  process.exit(2);
}
for (const file of selected) {
  process.stdout.write(`\n## ${relative(root, file)}\n`);
  const mod = (await import(pathToFileURL(file).href)) as { default: () => Promise<void> };
  await mod.default();
}
