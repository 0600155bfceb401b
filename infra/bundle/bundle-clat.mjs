// bundle-clat.mjs - `npm run bundle:clat [-- OUTDIR]`: the CLAT as one ES module for small edge
// devices that have Node.js 20 but no checkout: esbuild bundles infra/bundle/clat-entry.ts with every
// JavaScript dependency into OUTDIR/xlat64-clat.mjs (default dist-clat/), and the two N-API addons
// `npm install` built (TUN, ICMPv6 sockets) are copied next to it. Run it as
// `node OUTDIR/xlat64-clat.mjs --ipv6-address ... ` (root); `xlat64-clat.mjs status` asks a running one.
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = resolve(process.argv[2] ?? join(root, 'dist-clat'));
mkdirSync(outDir, { recursive: true });
const outfile = join(outDir, 'xlat64-clat.mjs');

const result = await build({
  entryPoints: [join(root, 'infra/bundle/clat-entry.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __xlat64Require } from 'node:module'; const require = __xlat64Require(import.meta.url);",
  },
});

const addons = [
  ['libs/tun/build/Release/xlat64_tun.node', 'xlat64_tun.node'],
  ['services/clat/build/Release/xlat64_icmpv6.node', 'xlat64_icmpv6.node'],
];
for (const [from, to] of addons) copyFileSync(join(root, from), join(outDir, to));

const kib = (file) => (statSync(file).size / 1024).toFixed(0);
process.stdout.write(
  `bundle:clat: ${outfile} (${kib(outfile)} KiB, ${Object.keys(result.metafile.inputs).length} modules) + ` +
    `${addons.map(([, to]) => `${to} (${kib(join(outDir, to))} KiB)`).join(', ')}\n`,
);
