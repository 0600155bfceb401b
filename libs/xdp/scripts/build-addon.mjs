// build-addon.mjs - builds libs/xdp during `npm install` (no prebuilt binaries, no network): compiles
// the XDP program native/xlat64_xdp.bpf.c to BPF bytecode with clang (build/xlat64_xdp.bpf.o), then the
// N-API addon with the node-gyp that npm bundles, pointed at the running Node's own headers
// (--nodedir), linked against Debian's libxdp and libbpf.
// Usage: node libs/xdp/scripts/build-addon.mjs   (also `npm run build:xdp`)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBpf } from '../../tun/scripts/compile-bpf.mjs';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fail = (message) => {
  process.stderr.write(`xlat64 libs/xdp: ${message}\n`);
  process.exit(1);
};
const depsHint =
  'run `sudo bash infra/scripts/ensure-system-deps.sh build` (libxdp-dev libbpf-dev clang llvm)';

if (process.platform !== 'linux') fail(`AF_XDP needs Linux; this is ${process.platform}`);
for (const header of ['/usr/include/xdp/xsk.h', '/usr/include/bpf/libbpf.h']) {
  if (!existsSync(header)) fail(`${header} is missing: ${depsHint}`);
}

// 1. The XDP program (libs/tun's clang invocation for BPF objects).
const program = join(packageDir, 'build', 'xlat64_xdp.bpf.o');
if (!compileBpf(join(packageDir, 'native', 'xlat64_xdp.bpf.c'), program))
  fail(`clang failed to compile the XDP program: ${depsHint}`);

// 2. The addon (same node-gyp and header discovery as libs/tun/scripts/build-addon.mjs).
const nodedirCandidates = [
  process.env.XLAT64_NODEDIR,
  resolve(dirname(process.execPath), '..'),
  '/usr',
  '/usr/local',
].filter(Boolean);
const nodedir = nodedirCandidates.find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')));
if (!nodedir) {
  fail(
    `no Node headers found (looked for include/node/node_api.h under ${nodedirCandidates.join(', ')}); ` +
      'install the headers of this Node version or set XLAT64_NODEDIR',
  );
}
const gypCandidates = [
  process.env.npm_config_node_gyp,
  join(
    dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  ),
];
try {
  const npmRequire = createRequire(
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'package.json'),
  );
  gypCandidates.push(npmRequire.resolve('node-gyp/bin/node-gyp.js'));
} catch {}
const nodeGyp = gypCandidates.find((file) => file && existsSync(file));
if (!nodeGyp)
  fail('node-gyp not found; it ships with npm — run this through `npm install` or `npm run build:xdp`');

// `rebuild` would wipe build/ (and the program compiled above): configure + build instead.
for (const step of ['configure', 'build']) {
  const args = [nodeGyp, step, `--nodedir=${nodedir}`, '--jobs=2', '--loglevel=warn'];
  const result = spawnSync(process.execPath, args, { cwd: packageDir, stdio: 'inherit' });
  if (result.status !== 0)
    fail(`node-gyp ${step} failed (exit ${result.status ?? result.signal}): ${depsHint}`);
}
const addon = join(packageDir, 'build', 'Release', 'xlat64_xdp.node');
if (!existsSync(addon)) fail(`node-gyp succeeded but ${addon} is missing`);
if (!existsSync(program)) fail(`${program} is missing after the build`);
process.stdout.write(`xlat64 libs/xdp: built ${addon} and ${program}\n`);
