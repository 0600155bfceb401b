// compile-bpf.mjs - compiles one BPF C program to an object file with clang (-O2 -g, target bpf), for the
// build scripts of libs/tun (queue steering) and libs/xdp (the XDP program). clang -target bpf needs the
// multiarch include dir for <asm/types.h>, found through gcc. Returns false when clang failed (its own
// messages are on stderr); the caller says what to install.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export function compileBpf(source, output) {
  let multiarch = '';
  try {
    multiarch = execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
  } catch {}
  mkdirSync(dirname(output), { recursive: true });
  const clang = spawnSync(
    'clang',
    [
      '-O2',
      '-g',
      '-Wall',
      '-target',
      'bpf',
      ...(multiarch ? [`-I/usr/include/${multiarch}`] : []),
      '-c',
      source,
      '-o',
      output,
    ],
    { stdio: 'inherit' },
  );
  return !clang.error && clang.status === 0;
}
