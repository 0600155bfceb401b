// Golden vector generator: renders the case table (rfc7915/cases.ts) into committed raw bytes,
// rfc7915/<id>.in (one packet) and rfc7915/<id>.expected (the expected output packets back to back),
// plus rfc7915/index.json with each case's verdict, reason and output lengths. The bytes come from
// the independent builder only; the translator is never run here.
// Run: npx tsx test/vectors/generate.ts
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cases } from './rfc7915/cases.js';

export const vectorDir = fileURLToPath(new URL('./rfc7915/', import.meta.url));

export interface RenderedCase {
  id: string;
  input: Buffer;
  expected: Buffer;
  lengths: number[];
}

export function render(): RenderedCase[] {
  return cases.map((c) => {
    const { input, expected } = c.build();
    return { id: c.id, input, expected: Buffer.concat(expected), lengths: expected.map((e) => e.length) };
  });
}

function main(): void {
  const rendered = render();
  const keep = new Set<string>();
  for (const r of rendered) {
    writeFileSync(join(vectorDir, `${r.id}.in`), r.input);
    writeFileSync(join(vectorDir, `${r.id}.expected`), r.expected);
    keep.add(`${r.id}.in`).add(`${r.id}.expected`);
  }
  for (const name of readdirSync(vectorDir)) {
    if ((name.endsWith('.in') || name.endsWith('.expected')) && !keep.has(name))
      rmSync(join(vectorDir, name));
  }
  const index = cases.map((c, i) => ({
    id: c.id,
    section: c.section,
    direction: c.direction,
    verdict: c.verdict,
    reason: c.reason,
    lengths: rendered[i].lengths,
  }));
  writeFileSync(join(vectorDir, 'index.json'), `${JSON.stringify(index, null, 1)}\n`);
  process.stdout.write(`wrote ${rendered.length} cases to ${vectorDir}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
