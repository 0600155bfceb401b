// The single-file CLAT bundle (`npm run bundle:clat`) runs on its own: copied with its two addons into
// a directory outside the checkout (no node_modules, no dist/ reachable from it), it starts as a CLAT in
// a three-namespace lab and passes ping and an HTTP download through an xlat64 PLAT to an IPv4-only
// server; it loads its addons from its own directory and no file of the checkout; its `status`
// subcommand reads the running CLAT's counters.
//
//   client (bundled CLAT, clat46) ── c0/p0 ── plat (xlat64 plat, 64:ff9b::/96) ── p1/s0 ── server 198.51.100.2
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordNamespaceOwner } from '../../infra/lab/global-teardown.js';
import { namespaceProcesses, sleep } from './helpers/namespace-processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/xlat64.mjs');
const SERVER = '198.51.100.2';
const NS = {
  client: `x64t-cb-c-${process.pid}`,
  plat: `x64t-cb-p-${process.pid}`,
  server: `x64t-cb-s-${process.pid}`,
};
type Node = keyof typeof NS;
const dir = mkdtempSync(join(tmpdir(), 'x64t-cb-'));
const edge = join(dir, 'edge');
const bundle = join(edge, 'xlat64-clat.mjs');

const { run, sh, background, stopAll } = namespaceProcesses(NS, dir, 60_000);
async function waitFor(what: string, probe: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) {
      const logs = ['clat', 'plat'].map((n) => `${n}:\n${readFileSync(join(dir, `${n}.log`), 'utf8')}`);
      throw new Error(`timed out waiting for ${what}\n${logs.join('\n')}`);
    }
    await sleep(100);
  }
}

/** The bundled CLAT's status document, asked with the bundle's own `status` subcommand. */
function clatStatus(): { pid: number; counters: Record<string, number> } | undefined {
  const result = run(
    'client',
    process.execPath,
    bundle,
    'status',
    '--socket',
    join(dir, 'clat.sock'),
    '--json',
  );
  return result.status === 0 ? JSON.parse(result.stdout) : undefined;
}

function link(a: Node, aName: string, b: Node, bName: string): void {
  sh(a, 'ip', 'link', 'add', aName, 'type', 'veth', 'peer', 'name', bName, 'netns', NS[b]);
  sh(a, 'ip', 'link', 'set', aName, 'up');
  sh(b, 'ip', 'link', 'set', bName, 'up');
}
const addr = (node: Node, dev: string, address: string) =>
  sh(node, 'ip', 'addr', 'add', address, 'dev', dev, ...(address.includes(':') ? ['nodad'] : []));

beforeAll(async () => {
  // Built from the sources into a directory of its own, as an edge device would receive it.
  execFileSync(process.execPath, [join(ROOT, 'infra/bundle/bundle-clat.mjs'), edge], { stdio: 'ignore' });
  for (const ns of Object.values(NS)) {
    recordNamespaceOwner(ns);
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  }
  link('client', 'c0', 'plat', 'p0');
  link('plat', 'p1', 'server', 's0');
  addr('client', 'c0', '2001:db8:1::2/64');
  addr('plat', 'p0', '2001:db8:1::1/64');
  addr('plat', 'p1', '192.0.2.1/26');
  addr('server', 's0', '192.0.2.2/26');
  addr('server', 'lo', `${SERVER}/32`);
  sh('client', 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:1::1');
  sh('plat', 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
  sh('plat', 'ip', 'route', 'add', 'default', 'via', '192.0.2.2');
  sh('plat', 'ip', '-6', 'route', 'add', '2001:db8:1:464::/64', 'via', '2001:db8:1::2');
  sh('server', 'ip', 'route', 'add', '203.0.113.0/25', 'via', '192.0.2.1');
  writeFileSync(join(dir, 'hello.txt'), 'hello through the bundled CLAT\n'.repeat(2000));
  background('server', 'http', [
    'python3',
    '-m',
    'http.server',
    '8000',
    '--bind',
    SERVER,
    '--directory',
    dir,
  ]);
  writeFileSync(
    join(dir, 'plat.yaml'),
    [
      'device: plat64',
      'prefix: 64:ff9b::/96',
      'allowNonGlobalIpv4: true',
      'pool4: [203.0.113.0/25]',
      `statusSocket: ${join(dir, 'plat.sock')}`,
      `stateDir: ${join(dir, 'plat-state')}`,
      '',
    ].join('\n'),
  );
  background('plat', 'plat', [process.execPath, BIN, 'plat', '--config', join(dir, 'plat.yaml')]);
  await waitFor('the PLAT', () => readFileSync(join(dir, 'plat.log'), 'utf8').includes(' up, '));
  // The CLAT runs with its working directory in the edge directory: nothing of the checkout around.
  background(
    'client',
    'clat',
    [
      ...[process.execPath, bundle, '--device', 'clat46', '--ipv6-address', '2001:db8:1:464::1'],
      ...['--prefix', '64:ff9b::/96', '--allow-non-global', '--ipv6-mtu', '1500', '--no-dns64-discovery'],
      ...['--status-socket', join(dir, 'clat.sock')],
    ],
    edge,
  );
  await waitFor('the bundled CLAT', () => clatStatus() !== undefined);
}, 180_000);

afterAll(async () => {
  await stopAll();
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
  if (process.env.X64T_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`clat-bundle files kept in ${dir}\n`);
}, 60_000);

describe('the single-file CLAT bundle', () => {
  it('is one .mjs and the two addons', () => {
    expect(readdirSync(edge).sort()).toEqual(['xlat64-clat.mjs', 'xlat64_icmpv6.node', 'xlat64_tun.node']);
  });

  it('passes ping and an HTTP download through the PLAT, counted by the bundled CLAT', async () => {
    const before = clatStatus()!.counters['tx.packets46'] ?? 0;
    await waitFor(
      'a ping through the bundled CLAT',
      () => run('client', 'ping', '-c', '1', '-W', '2', SERVER).status === 0,
    );
    const body = sh('client', 'curl', '-sS', '--max-time', '20', `http://${SERVER}:8000/hello.txt`);
    expect(body).toBe('hello through the bundled CLAT\n'.repeat(2000));
    const counters = clatStatus()!.counters;
    expect(counters['tx.packets46']).toBeGreaterThan(before);
    expect(counters['tx.packets64']).toBeGreaterThan(0);
  });

  it('loads its addons from its own directory and no file of the checkout', () => {
    const maps = readFileSync(`/proc/${clatStatus()!.pid}/maps`, 'utf8');
    expect(maps).toContain(join(edge, 'xlat64_tun.node'));
    expect(maps).toContain(join(edge, 'xlat64_icmpv6.node'));
    expect(maps).not.toContain(ROOT);
  });
});
