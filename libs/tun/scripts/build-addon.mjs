// build-addon.mjs - compiles the libs/tun N-API addon with node-gyp during `npm install` (no prebuilt
// binaries, no network): uses the node-gyp that npm bundles and points it at the running Node's own
// headers (--nodedir), so node-gyp never tries to download them. For libs/tun itself it then compiles
// the queue steering program (native/xlat64_steer.bpf.c -> build/xlat64_steer.bpf.o) with clang; the
// addon links Debian's libbpf to load it.
// Usage: node libs/tun/scripts/build-addon.mjs   (also `npm run build:tun`)
//        node libs/tun/scripts/build-addon.mjs DIR FILE   builds another node-gyp package (DIR, e.g.
//        services/clat, the CLAT's ICMPv6 socket addon) and checks that FILE appeared.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBpf } from './compile-bpf.mjs';

const [otherDir, otherProduct] = process.argv.slice(2);
const packageDir = otherDir ? resolve(otherDir) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
const product = otherProduct ?? join('build', 'Release', 'xlat64_tun.node');
const fail = (message) => {
  process.stderr.write(`xlat64 build-addon (${packageDir}): ${message}\n`);
  process.exit(1);
};

if (process.platform !== 'linux') fail(`TUN devices need Linux; this is ${process.platform}`);

// Node's headers: <prefix>/include/node/node_api.h next to the running binary (official tarballs,
// nodesource and Debian packages all install them there). --nodedir wants <prefix>.
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
      'install the headers of this Node version (Debian: apt-get install libnode-dev; official ' +
      'tarballs ship them) or set XLAT64_NODEDIR to the prefix that holds include/node',
  );
}

// node-gyp: the one npm passes to install scripts, else the one inside npm's own installation.
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
if (!nodeGyp) {
  fail(
    `node-gyp not found (looked at ${gypCandidates.filter(Boolean).join(', ')}); ` +
      'it ships with npm — run this through `npm install` or `npm run build:tun`',
  );
}

const depsHint = 'run `sudo bash infra/scripts/ensure-system-deps.sh build` (libbpf-dev clang llvm)';
if (!otherDir && !existsSync('/usr/include/bpf/libbpf.h'))
  fail(`/usr/include/bpf/libbpf.h is missing (the addon links libbpf): ${depsHint}`);

const args = [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=2', '--loglevel=warn'];
const result = spawnSync(process.execPath, args, { cwd: packageDir, stdio: 'inherit' });
if (result.status !== 0) {
  fail(
    `node-gyp rebuild failed (exit ${result.status ?? result.signal}); it needs gcc, make and python3: ` +
      'run `sudo bash infra/scripts/ensure-system-deps.sh build`',
  );
}
const addon = join(packageDir, product);
if (!existsSync(addon)) fail(`node-gyp succeeded but ${addon} is missing`);
// After node-gyp (`rebuild` empties build/).
if (
  !otherDir &&
  !compileBpf(
    join(packageDir, 'native', 'xlat64_steer.bpf.c'),
    join(packageDir, 'build', 'xlat64_steer.bpf.o'),
  )
)
  fail(`clang failed to compile the steering program: ${depsHint}`);

process.stdout.write(`xlat64 build-addon: built ${addon} (headers from ${nodedir})\n`);
