#!/usr/bin/env node
// Entry point of the `xlat64` command: runs the compiled CLI (npm install builds it into dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/services/cli/src/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write(
    'xlat64: dist/ is missing; run `npm install` (or `npm run build`) in the checkout first\n',
  );
  process.exit(2);
}
const { run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
